"""Loss reducers for the range test over several processes (``dist_sync``, Horovod).

Under ``dist_sync`` every worker must run the same number of iterations: a worker that stops
early leaves the others blocked in their next gradient push. So the finder averages each
iteration's loss over the workers (a one-element pushpull on a reserved key of the trainer's
own kvstore) before its stopping rule sees it; every worker then records the same curve and
stops on the same iteration, and each restores its own state afterwards.

That needs a trainer that updates on the workers (``update_on_kvstore=False``): with the
optimizer on the servers (Gluon's default for a dist kvstore), ``save_states`` and
``set_learning_rate`` do not work and the servers would run the optimizer on the loss values
too (see docs/distributed.md). :func:`check_trainer` refuses such a trainer before anything
is touched, with the change to make.

Under Horovod (a ``hvd.DistributedTrainer``, or a trainer on a kvstore of type ``horovod``)
the same holds for its collectives: a rank that stops early leaves the others waiting in
their next gradient allreduce. The finder averages the loss with ``hvd.allreduce``
(:class:`HorovodMeanReducer`) instead. Horovod is never imported to find out: a
``DistributedTrainer`` can only exist once the program has imported ``horovod.mxnet``.

The launcher (``gluon-lrfinder launch -n 4 -- python train.py``) lives in
:mod:`gluon_lrfinder.integrations.launcher`; this module imports MXNet only when a function
needs it, so the launcher starts fast.

Examples
--------
In each worker (started by the launcher, or with the ``DMLC_*`` variables set by hand):

>>> import mxnet as mx                                                   # doctest: +SKIP
>>> kv = mx.kv.create("dist_sync")                                       # doctest: +SKIP
>>> trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1},
...                         kvstore=kv, update_on_kvstore=False)         # doctest: +SKIP
>>> finder = LRFinder(Learner(net, shard_loader, trainer=trainer))       # doctest: +SKIP
>>> finder.find(lr_start=1e-5, lr_end=10)   # same curve, same stop on every worker  # doctest: +SKIP
"""
from __future__ import annotations

import importlib
import logging
import sys
import weakref
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    import mxnet as mx
    from mxnet import gluon

logger = logging.getLogger(__name__)

__all__ = [
    "RESERVED_KEY",
    "KVStoreMeanReducer",
    "HorovodMeanReducer",
    "is_horovod",
    "kvstore_type",
    "is_distributed",
    "check_trainer",
    "loss_reducer_for",
]

#: The kvstore key the loss average uses. Gluon's Trainer uses the keys 0 .. n-1 for its n
#: parameters, so this key is free for any model with fewer parameters (arrays, not values).
#: It is kept below 2**31 / 9973 on purpose: ps-lite multiplies a key by 9973 in a C ``int``
#: to pick its server, and a larger key would overflow.
RESERVED_KEY = 199_999

#: kvstore types whose workers are not kept in step (or that are not ps-lite): refused.
_UNSUPPORTED = {
    "dist_async": "dist_async lets workers run at their own pace, so they cannot agree on where "
                  "the loss diverges; run the range test with kvstore='dist_sync'",
    "byteps": "the byteps kvstore is not supported; pass LRFinder(..., loss_reducer=f) with f "
              "averaging the loss NDArray over workers",
}


def _trainer_kvstore(trainer: gluon.Trainer) -> Any:
    """The KVStore object the trainer uses, once it has created it (None before).

    Gluon has no public accessor: a kvstore given by name (``kvstore="dist_sync"``) is created
    inside the Trainer at its first step or ``save_states``, and only the private ``_kvstore``
    holds it. A second ``mx.kv.create("dist_sync")`` is no way out: it hangs (docs/distributed.md).
    """
    return getattr(trainer, "_kvstore", None)


def kvstore_type(trainer: gluon.Trainer) -> Optional[str]:
    """The type of the trainer's kvstore (``"device"``, ``"dist_sync"``, ...) or None.

    Works before the kvstore exists: a name is returned as given.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> kvstore_type(gluon.Trainer(net.collect_params(), "sgd", kvstore="dist_sync"))
    'dist_sync'
    """
    from .state import kvstore_name, trainer_kvstore_config

    return kvstore_name(trainer_kvstore_config(trainer)["kvstore"])


def is_horovod(trainer: gluon.Trainer) -> bool:
    """Whether the trainer reduces its gradients with Horovod.

    True for a ``horovod.mxnet.DistributedTrainer`` and for a trainer on a kvstore of type
    ``"horovod"``. Horovod is not imported: when the program has not imported
    ``horovod.mxnet`` itself, no trainer can be a ``DistributedTrainer``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> is_horovod(gluon.Trainer(net.collect_params(), "sgd"))
    False
    """
    hvd = sys.modules.get("horovod.mxnet")
    cls = getattr(hvd, "DistributedTrainer", None) if hvd is not None else None
    if isinstance(cls, type) and isinstance(trainer, cls):
        return True
    return kvstore_type(trainer) == "horovod"


def is_distributed(trainer: gluon.Trainer) -> bool:
    """Whether the trainer reduces over several processes (``dist_*`` kvstore, Horovod, byteps).

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> is_distributed(gluon.Trainer(net.collect_params(), "sgd"))
    False
    """
    from .state import is_dist_kvstore, kvstore_name, trainer_kvstore_config

    kvstore = trainer_kvstore_config(trainer)["kvstore"]
    return is_horovod(trainer) or is_dist_kvstore(kvstore) or kvstore_name(kvstore) in _UNSUPPORTED


def check_trainer(trainer: gluon.Trainer) -> None:
    """Raise if the finder cannot drive ``trainer`` safely over several processes.

    A local trainer and a Horovod one (:func:`is_horovod`) always pass. A ``dist_*`` one must
    use a ``dist_sync`` kvstore (``dist_sync`` or ``dist_sync_device``) with
    ``update_on_kvstore=False``. Only the trainer's settings are read: nothing is created or
    changed.

    Raises
    ------
    ValueError
        ``update_on_kvstore`` is not False under a dist kvstore (Gluon's default is True), or
        the kvstore type is ``dist_async`` or ``byteps``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> check_trainer(gluon.Trainer(net.collect_params(), "sgd", kvstore="dist_sync"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: trainer: kvstore 'dist_sync' with update_on_kvstore=None ...
    """
    from .state import trainer_kvstore_config

    if not is_distributed(trainer) or is_horovod(trainer):
        return
    kind = kvstore_type(trainer)
    assert kind is not None
    for name, why in _UNSUPPORTED.items():
        if name in kind:
            raise ValueError(f"trainer: kvstore {kind!r} cannot be used for the range test: {why}")
    uok = trainer_kvstore_config(trainer)["update_on_kvstore"]
    if uok is not False:
        raise ValueError(
            f"trainer: kvstore {kind!r} with update_on_kvstore={uok!r} (Gluon then runs the "
            "optimizer on the servers) cannot be searched: the learning rate cannot be set "
            "from the workers, the optimizer state cannot be saved, and the servers would apply "
            "the optimizer to the averaged loss too. Create the trainer with "
            "gluon.Trainer(..., kvstore=kv, update_on_kvstore=False); training then runs the "
            "same updates on every worker"
        )


class KVStoreMeanReducer:
    """Average a 1-element loss NDArray over the workers of the trainer's ``dist_sync`` kvstore.

    Each call sends the value under :data:`RESERVED_KEY` with one ``pushpull`` and receives the
    sum over the workers into a new array (queued on MXNet's engine, not read), which it
    returns divided by the number of workers. Every worker must call it the same number of
    times, as the range test does. The key is initialized on the first call (a collective
    step: all workers make it at the same point) and only once per kvstore.

    Parameters
    ----------
    trainer : gluon.Trainer
        A trainer that passes :func:`check_trainer` with a distributed kvstore. A kvstore given
        by name is looked up at the first call (the trainer creates it lazily).
    key : int, default :data:`RESERVED_KEY`
        The kvstore key to use; it must not be one of the trainer's (0 .. n_params-1) or any
        other key the program uses.

    Examples
    --------
    >>> reduce = KVStoreMeanReducer(trainer)            # doctest: +SKIP
    >>> float(reduce(mx.nd.array([rank + 1.0])).asscalar())  # 2 workers: (1 + 2) / 2  # doctest: +SKIP
    1.5
    """

    _initialized: weakref.WeakKeyDictionary[Any, set] = weakref.WeakKeyDictionary()

    def __init__(self, trainer: gluon.Trainer, key: int = RESERVED_KEY) -> None:
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= RESERVED_KEY:
            raise ValueError(f"key must be an int in [0, {RESERVED_KEY}], got {key!r}")
        self.trainer = trainer
        self.key = key

    @property
    def kvstore(self) -> Any:
        """The trainer's kvstore object (the one given to it, or the one it created)."""
        from .state import trainer_kvstore_config

        kv = trainer_kvstore_config(self.trainer)["kvstore"]
        if kv is None or isinstance(kv, str):
            kv = _trainer_kvstore(self.trainer)
        if kv is None:
            raise RuntimeError(
                "the trainer has not created its kvstore yet; the loss reducer is used inside "
                "LRFinder.find(), after the state snapshot has set the trainer up"
            )
        return kv

    @property
    def num_workers(self) -> int:
        """Number of workers of the job."""
        return int(self.kvstore.num_workers)

    @property
    def rank(self) -> int:
        """This worker's rank (assigned by the scheduler)."""
        return int(self.kvstore.rank)

    def __call__(self, loss: mx.nd.NDArray) -> mx.nd.NDArray:
        import mxnet as mx

        kv = self.kvstore
        cpu = mx.cpu()
        done = self._initialized.setdefault(kv, set())
        if self.key not in done:
            # init is collective (rank 0 sends the value, every worker waits at a barrier):
            # let queued work, such as a step's gradient exchange, finish first.
            mx.nd.waitall()
            kv.init(self.key, mx.nd.zeros((1,), ctx=cpu))
            done.add(self.key)
        value = loss.reshape((1,)).as_in_context(cpu).astype("float32", copy=False)
        total = mx.nd.zeros((1,), ctx=cpu)  # a new array per call: earlier ones may be unread
        # One pushpull: the servers answer once every worker's value is summed (one message
        # each way, where a push then a pull is two round trips).
        kv.pushpull(self.key, value, out=total)
        return total / kv.num_workers


def _horovod() -> Any:
    """``horovod.mxnet``: the module the program imported (it has, to make a Horovod trainer),
    else imported now."""
    module = sys.modules.get("horovod.mxnet")
    if module is None:
        module = importlib.import_module("horovod.mxnet")
    return module


class HorovodMeanReducer:
    """Average a 1-element loss NDArray over the Horovod ranks with ``hvd.allreduce``.

    The allreduce is queued on MXNet's engine like the iteration and read one iteration later.
    Horovod matches the ranks' tensors by name, so each call uses the next name of a cycle
    (``gluon_lrfinder.mean.0`` .. ``.{slots-1}``; the counter is shared by all instances of
    the process). Every rank must call it the same number of times, in the same order, as the
    range test does. Horovod refuses a name that is still in flight; a name comes back only
    after ``slots`` further calls, and the range test waits for each loss average one
    iteration after queuing it (its held-out averages are read at the end, but complete as
    soon as every rank has submitted them), so the earlier use has long finished.

    ``horovod.mxnet`` is imported at the first call (``hvd.init()`` must have been called).

    When the search fails on this rank (an exception, a Ctrl-C), the other ranks are left
    inside collectives this rank will never join, and nothing can put the ranks back in step.
    So after this rank has restored its state, the finder calls :meth:`abort`, which shuts
    Horovod down: the collectives the other ranks wait in then fail at once, they restore
    their own state and raise too, instead of waiting forever.

    Parameters
    ----------
    slots : int, default 64
        Length of the name cycle, >= 2.
    shutdown_on_error : bool, default True
        Whether :meth:`abort` shuts Horovod down. With False, a fault on one rank leaves the
        others waiting until this process exits (or until Horovod's own
        ``HOROVOD_STALL_SHUTDOWN_TIME_SECONDS``, if set, ends the job).

    Examples
    --------
    >>> reduce = HorovodMeanReducer()                          # doctest: +SKIP
    >>> float(reduce(mx.nd.array([hvd.rank() + 1.0])).asscalar())  # 2 ranks: (1 + 2) / 2  # doctest: +SKIP
    1.5
    """

    _calls = 0  # one counter per process, shared by every instance: names stay in step

    def __init__(self, slots: int = 64, shutdown_on_error: bool = True) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 2:
            raise ValueError(f"slots must be an int >= 2, got {slots!r}")
        if not isinstance(shutdown_on_error, bool):
            raise TypeError(f"shutdown_on_error must be a bool, got {type(shutdown_on_error).__name__}")
        self.slots = slots
        self.shutdown_on_error = shutdown_on_error

    @property
    def num_workers(self) -> int:
        """Number of Horovod ranks (``hvd.size()``)."""
        return int(_horovod().size())

    @property
    def rank(self) -> int:
        """This process's Horovod rank."""
        return int(_horovod().rank())

    def __call__(self, loss: mx.nd.NDArray) -> mx.nd.NDArray:
        import mxnet as mx

        hvd = _horovod()
        value = loss.reshape((1,)).as_in_context(mx.cpu()).astype("float32", copy=False)
        name = f"gluon_lrfinder.mean.{HorovodMeanReducer._calls % self.slots}"
        HorovodMeanReducer._calls += 1
        return hvd.allreduce(value, op=hvd.Average, name=name)

    def abort(self) -> None:
        """Called by the finder after a failed search (state restored): shut Horovod down, so
        that no other rank is left waiting for this one (see the class notes)."""
        if not self.shutdown_on_error:
            return
        hvd = _horovod()
        logger.error(
            "the range test failed on this Horovod rank; shutting Horovod down so that the other "
            "ranks, which wait for this one in a collective, fail too instead of hanging"
        )
        try:
            hvd.shutdown()
        except Exception as err:  # never hide the fault being raised
            logger.warning("hvd.shutdown() failed: %s", err)


def loss_reducer_for(trainer: gluon.Trainer) -> Any:
    """The loss reducer the finder needs for ``trainer``: None for a local trainer.

    :class:`HorovodMeanReducer` for a Horovod trainer (:func:`is_horovod`),
    :class:`KVStoreMeanReducer` for a ``dist_sync`` one.

    Checks the trainer first (:func:`check_trainer`), so a distributed trainer the finder
    cannot drive is refused here, before anything is touched.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> loss_reducer_for(gluon.Trainer(net.collect_params(), "sgd")) is None
    True
    """
    check_trainer(trainer)
    if is_horovod(trainer):
        return HorovodMeanReducer()
    if not is_distributed(trainer):
        return None
    return KVStoreMeanReducer(trainer)

