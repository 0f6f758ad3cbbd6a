"""Snapshot and exact restore of a Gluon model's parameters and its trainer's state.

This is the one module that knows MXNet 1.9.1's save/load quirks (docs/mxnet_behaviours.md lists
them, each pinned by a test in tests/engine/test_mxnet_behaviours.py):

* ``net.save_parameters`` stores the *average* of the contexts' copies of a parameter, so
  per-device BatchNorm running statistics would not come back exactly. We save the first
  context's copy of every parameter, plus, per further context, the copies that differ from it.
* ``Parameter.set_data`` resets a kvstore that holds the weights (``update_on_kvstore=True``),
  dropping the kvstore-side optimizer state, so parameters are restored **before**
  ``trainer.load_states``.
* Re-creating the kvstore (in ``load_states`` after such a reset) broadcasts the first
  context's copy of every parameter to the other contexts, so the per-context copies that
  differ are written back last.
* ``trainer.load_states`` replaces ``trainer.optimizer`` by an unpickled copy (and with it the
  ``lr_scheduler``); we put the original scheduler object back, so a user's reference to it
  stays live.
* ``trainer.save_states`` works before the first ``step`` once no parameter is deferred (it
  initializes the kvstore itself), so no private ``_init_kvstore()`` call is needed.
* With ``grad_req='add'`` the gradient buffers hold what the user has accumulated so far
  (``trainer.step`` does not zero them): they are saved and restored too.
* With AMP (``amp.init_trainer``), the loss scaler and the trainer's gradient scale are not in
  ``save_states``; :func:`amp_state` saves and restores them.
* In NumPy mode (``npx.set_np()``) parameters are ``mx.np.ndarray``, which ``mx.nd.save``
  refuses: they are saved through ``as_nd_ndarray()`` views and loaded back as ``as_np_ndarray()``.
"""
from __future__ import annotations

import ctypes
import functools
import logging
import os
import pickle
import shutil
import tempfile
from typing import Any, Dict, List, Optional

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
import numpy as np
from mxnet import gluon

from .._signals import sigint_deferred
from ._arrays import as_legacy, like

__all__ = ["StateSnapshot", "trainer_kvstore_config", "check_restorable", "RestoreError", "amp_loss_scaler",
           "is_dist_kvstore",
           "amp_state"]

logger = logging.getLogger(__name__)


class RestoreError(RuntimeError):
    """Restoring the snapshot failed; the files are kept and their folder is in the message."""


def trainer_kvstore_config(trainer: gluon.Trainer) -> Dict[str, Any]:
    """The kvstore settings a Trainer was created with: ``{"kvstore", "update_on_kvstore"}``.

    Gluon has no public accessor for these before the kvstore is created (it is created lazily
    at the first step), so this is the one place that reads the private ``_kvstore_params``.
    ``kvstore`` is a string, a ``KVStore`` object or None.
    """
    params = getattr(trainer, "_kvstore_params", None) or {}
    return {"kvstore": params.get("kvstore"), "update_on_kvstore": params.get("update_on_kvstore")}


def amp_loss_scaler(trainer: gluon.Trainer) -> Any:
    """The AMP loss scaler ``amp.init_trainer(trainer)`` attached, or None without AMP.

    ``mxnet.contrib.amp`` keeps it in the private ``trainer._amp_loss_scaler`` (no public
    accessor exists); this is the one place that reads it.
    """
    return getattr(trainer, "_amp_loss_scaler", None)


def amp_state(trainer: gluon.Trainer, state: Optional[Dict[str, Any]] = None) -> Optional[Dict[str, Any]]:
    """Read (``state`` None) or put back the AMP state that ``save_states`` does not hold.

    That is the loss scaler's fields (``_loss_scale``, ``_next_loss_scale``, ``_unskipped``...:
    an overflow at a high learning rate halves the scale, every step counts towards doubling
    it) and the trainer's gradient scale ``_scale``, which ``amp.scale_loss`` sets to
    ``original / loss_scale``. All private attributes of MXNet 1.9.1's AMP, read and written only
    here. Returns None for a trainer without AMP.
    """
    scaler = amp_loss_scaler(trainer)
    if scaler is None:
        return None
    if state is None:
        return {"scaler": dict(vars(scaler)), "scale": trainer._scale}
    vars(scaler).clear()
    vars(scaler).update(state["scaler"])
    trainer._scale = state["scale"]
    return state


@functools.lru_cache(maxsize=None)
def _malloc_trim() -> Any:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (OSError, AttributeError):  # another C library: nothing to call
        return None


def _return_freed_memory() -> None:
    """Hand memory freed by (de)serialization back to the operating system (glibc only).

    ``save_states`` and ``load_states`` pickle the optimizer state through temporary byte
    strings as large as the state itself (for SGD with momentum: the size of the parameters),
    and glibc keeps such freed blocks in the heap, so the process would stay that much larger
    for the rest of the search and after it. ``malloc_trim(0)`` returns them; it takes
    milliseconds. Elsewhere this does nothing.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def check_restorable(trainer: gluon.Trainer) -> None:
    """Raise if the trainer's state could not be put back exactly after a range test.

    A trainer given a ``KVStore`` *object* that holds the weights (``update_on_kvstore`` True,
    or None, which Gluon resolves to True for a local kvstore) cannot be restored: putting the
    parameters back makes Gluon set the kvstore up again, and a KVStore object refuses to
    initialize its keys twice ("duplicate init of key"). Only settings are read.

    Raises
    ------
    ValueError
        For such a trainer, saying what to pass instead.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> check_restorable(gluon.Trainer(net.collect_params(), "sgd", kvstore="device"))
    """
    config = trainer_kvstore_config(trainer)
    kv = config["kvstore"]
    if kv is None or isinstance(kv, str) or is_dist_kvstore(kv):
        return  # a name is created anew on a reset; dist trainers are checked in distributed.py
    if config["update_on_kvstore"] is not False:
        raise ValueError(
            f"trainer: a KVStore object (type {getattr(kv, 'type', '?')!r}) with "
            f"update_on_kvstore={config['update_on_kvstore']!r} cannot be restored after the range "
            "test (MXNet would initialize the same kvstore twice). Give the kvstore by name "
            f"(gluon.Trainer(..., kvstore={getattr(kv, 'type', 'device')!r})) or create the trainer "
            "with update_on_kvstore=False"
        )


def kvstore_name(kvstore: Any) -> Optional[str]:
    """The type of a Trainer's ``kvstore`` argument: a name as given, a KVStore's ``type``, or None."""
    if kvstore is None:
        return None
    if isinstance(kvstore, str):
        return kvstore
    return str(getattr(kvstore, "type", type(kvstore).__name__))


def is_dist_kvstore(kvstore: Any) -> bool:
    """Whether a Trainer's ``kvstore`` argument (a name, a KVStore or None) is one of MXNet's
    parameter-server kvstores (``dist_sync``, ``dist_device_sync``, ``dist_async``...).

    The one definition of a dist kvstore: :func:`gluon_lrfinder.engine.reducers.is_distributed`
    adds Horovod and byteps to it. :func:`check_restorable` leaves these kvstores to
    ``distributed.check_trainer``, and a restore never undoes their set-up.

    Examples
    --------
    >>> is_dist_kvstore("dist_sync"), is_dist_kvstore("device"), is_dist_kvstore(None)
    (True, False, False)
    """
    return "dist" in (kvstore_name(kvstore) or "")


def _kvstore_is_set_up(trainer: gluon.Trainer) -> bool:
    """Whether the trainer has created its kvstore yet (it does so lazily, at the first step).

    No public accessor exists; this reads the private ``_kv_initialized``.
    """
    return bool(getattr(trainer, "_kv_initialized", True))


def _undo_kvstore_setup(trainer: gluon.Trainer) -> None:
    """Put a local trainer back to "kvstore not created yet", as before its first step.

    Gluon sets the kvstore up inside the first ``step()``, after the backward pass, and then
    copies the first context's value of every parameter to the others: BatchNorm running
    statistics that the other devices had just updated are overwritten once. A snapshot of a
    fresh trainer sets the kvstore up early (``save_states`` does), which would skip that copy;
    undoing the setup after the restore keeps training bitwise what it would have been.
    Uses the private ``_reset_kvstore``; never called for a distributed kvstore (which cannot
    be reset, and whose setup is the broadcast of rank 0's weights that must stay done).
    """
    trainer._reset_kvstore()


def _same_bits(x: np.ndarray, y: np.ndarray) -> bool:
    return x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


def _drop_engine_errors() -> None:
    """Wait for MXNet's queued work and drop the errors of operations that failed.

    After a fault the engine may still hold failed operations (e.g. Horovod collectives that
    fail once a rank has shut down). Each poisons the arrays it writes, so the restore's own
    writes would fail too; one ``waitall`` that raises clears every stored error (MXNet 1.9).
    The fault itself is already being raised, so these follow-on errors are only logged.
    """
    for _ in range(3):
        try:
            mx.nd.waitall()
            return
        except mx.base.MXNetError as err:
            logger.debug("dropped an engine error before the restore: %s", err)


class StateSnapshot:
    """Parameters (every context's copy), accumulated gradients (``grad_req='add'``), trainer
    state and AMP's loss scaler, saved to files and restored bitwise.

    The files live in a private temporary folder (``tempfile.mkdtemp`` under ``tmp_dir``), never
    under fixed names in the working directory; :meth:`cleanup` removes it. Used as a context
    manager, it saves on entry and restores then cleans up on exit, also when the block raises
    or is interrupted; a Ctrl-C during the restore itself is held until the restore is done.

    Parameters
    ----------
    net : gluon.Block
        Initialized network (no deferred shapes).
    trainer : gluon.Trainer
        The trainer over ``net``'s parameters.
    tmp_dir : str, optional
        Parent folder for the temporary folder; default: the system's temp folder.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=3); net.initialize()
    >>> trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    >>> before = net.weight.data().asnumpy()
    >>> with StateSnapshot(net, trainer):
    ...     net.weight.set_data(mx.nd.zeros((2, 3)))
    >>> bool((net.weight.data().asnumpy() == before).all())
    True
    """

    def __init__(self, net: gluon.Block, trainer: gluon.Trainer, tmp_dir: Optional[str] = None) -> None:
        if not isinstance(net, gluon.Block):
            raise TypeError(f"net must be a gluon.Block, got {type(net).__name__}")
        if not isinstance(trainer, gluon.Trainer):
            raise TypeError(f"trainer must be a gluon.Trainer, got {type(trainer).__name__}")
        self.net = net
        self.trainer = trainer
        self.tmp_dir = tmp_dir
        self.directory: Optional[str] = None
        self._other_contexts: List[int] = []
        self._scheduler = None
        self._was_fresh = False
        self._amp: Optional[Dict[str, Any]] = None
        self._has_grads = False

    # ------------------------------------------------------------------ paths
    def _path(self, name: str) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, name)

    @property
    def files(self) -> List[str]:
        """The files written by :meth:`save` (empty before it)."""
        if self.directory is None:
            return []
        return sorted(os.path.join(self.directory, f) for f in os.listdir(self.directory))

    # ------------------------------------------------------------------ save / restore
    def save(self) -> StateSnapshot:
        """Write parameters and trainer state; on any failure remove what was written and re-raise."""
        if self.directory is not None:
            raise RuntimeError("this snapshot is already saved; restore() or cleanup() it first")
        check_restorable(self.trainer)
        self.directory = tempfile.mkdtemp(prefix="gluon-lrfinder-", dir=self.tmp_dir)
        try:
            # Trainer state first: on a fresh trainer save_states sets up the kvstore, which
            # broadcasts the first context's weights (under dist_sync: rank 0's) to every copy,
            # as the first step would; the parameters saved next are then those the training
            # really continues from.
            self._was_fresh = not _kvstore_is_set_up(self.trainer)
            self._amp = amp_state(self.trainer)  # AMP's loss scaler is not in save_states
            self.trainer.save_states(self._path("trainer.states"))
            _return_freed_memory()
            params = self.net.collect_params()
            first: Dict[str, mx.nd.NDArray] = {}
            others: Dict[int, Dict[str, mx.nd.NDArray]] = {}
            for name, param in params.items():
                copies = param.list_data()
                first[name] = as_legacy(copies[0])  # NumPy mode: mx.nd.save takes legacy views
                if len(copies) == 1:
                    continue
                base = copies[0].asnumpy()  # one host copy per parameter
                for k, copy in enumerate(copies[1:], start=1):
                    if not _same_bits(copy.asnumpy(), base):
                        others.setdefault(k, {})[name] = as_legacy(copy)
            mx.nd.save(self._path("params-ctx0.nd"), first)
            for k, arrays in others.items():
                mx.nd.save(self._path(f"params-ctx{k}.nd"), arrays)
            self._other_contexts = sorted(others)
            # grad_req='add': the gradients accumulated so far are state too (every context)
            grads = {
                f"{name}@{k}": as_legacy(grad)
                for name, param in params.items() if param.grad_req == "add"
                for k, grad in enumerate(param.list_grad())
            }
            if grads:
                mx.nd.save(self._path("grads.nd"), grads)
            self._has_grads = bool(grads)
            self._scheduler = self.trainer.optimizer.lr_scheduler
        except BaseException:
            self.cleanup()
            raise
        logger.debug("saved model and trainer state to %s", self.directory)
        return self

    def restore(self) -> None:
        """Put back parameters (every context) then trainer state, exactly as saved.

        Raises
        ------
        RestoreError
            If the files cannot be read back; they are kept, and the message names their folder.
        """
        if self.directory is None:
            raise RuntimeError("nothing to restore: call save() first")
        try:
            with sigint_deferred():
                params = self.net.collect_params()
                for name, value in mx.nd.load(self._path("params-ctx0.nd")).items():
                    # before load_states: it may reset the kvstore
                    params[name].set_data(like(value, params[name].list_data()[0]))
                mx.nd.waitall()
                _return_freed_memory()  # the loaded copies are gone: lower the peak of load_states
                self.trainer.load_states(self._path("trainer.states"))
                # After load_states: re-creating the kvstore broadcasts the first context's copy
                # of every parameter to the others, so the copies that differ go back last.
                for k in self._other_contexts:
                    for name, value in mx.nd.load(self._path(f"params-ctx{k}.nd")).items():
                        target = params[name].list_data()[k]
                        like(value, target).copyto(target)
                if self._has_grads:
                    for key, value in mx.nd.load(self._path("grads.nd")).items():
                        name, k = key.rsplit("@", 1)
                        target = params[name].list_grad()[int(k)]
                        like(value, target).copyto(target)
                self.trainer.optimizer.lr_scheduler = self._scheduler
                if self._amp is not None:
                    amp_state(self.trainer, self._amp)
                mx.nd.waitall()
                kvstore = trainer_kvstore_config(self.trainer)["kvstore"]
                # only a kvstore given by name can be set up again (an object refuses a second
                # init of its keys), and a dist one must stay set up
                if self._was_fresh and (kvstore is None or isinstance(kvstore, str)) \
                        and not is_dist_kvstore(kvstore):
                    _undo_kvstore_setup(self.trainer)
                _return_freed_memory()
        except KeyboardInterrupt:
            raise
        except Exception as err:
            raise RestoreError(
                f"could not restore the model and trainer state ({err}); the saved files are kept in "
                f"{self.directory}: load them with mx.nd.load / trainer.load_states"
            ) from err

    def cleanup(self) -> None:
        """Remove the temporary folder and everything in it."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __enter__(self) -> StateSnapshot:
        return self.save()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is not None:
            _drop_engine_errors()
        self.restore()  # a RestoreError keeps the files on purpose
        self.cleanup()


def fresh_optimizer_state(trainer: gluon.Trainer, directory: str) -> None:
    """Give ``trainer`` the optimizer state of a new trainer, at the current weights.

    Momentum buffers and Adam's moments are dropped (the optimizer creates them as zeros at its
    next update) and the update counts start over (so Adam's bias correction starts at step 1
    again). Only for inside a :class:`StateSnapshot`, whose restore puts the real state back
    bitwise. Goes through ``trainer.load_states`` with a states file holding no buffers and the
    optimizer with its counts reset (the optimizer's private ``_all_index_update_counts``).

    Examples
    --------
    >>> import mxnet as mx, tempfile
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(1, in_units=2); net.initialize()
    >>> trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9})
    >>> with mx.autograd.record():
    ...     net(mx.nd.ones((1, 2))).backward()
    >>> trainer.step(1)
    >>> fresh_optimizer_state(trainer, tempfile.mkdtemp())
    >>> trainer.optimizer.num_update, len(trainer._updaters[0].states)
    (0, 0)
    """
    optimizer = pickle.loads(pickle.dumps(trainer.optimizer))
    optimizer.num_update = optimizer.begin_num_update
    optimizer._all_index_update_counts = {0: {}}
    optimizer._index_update_count = optimizer._all_index_update_counts[0]
    path = os.path.join(directory, "fresh-optimizer.states")
    with open(path, "wb") as f:
        pickle.dump(({}, optimizer), f)
    trainer.load_states(path)
