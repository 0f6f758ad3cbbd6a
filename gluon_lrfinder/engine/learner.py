"""The Learner: one training iteration of a Gluon model at a given learning rate."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
from mxnet import autograd, gluon
from mxnet.base import MXNetError
from mxnet.contrib import amp

from ..core._validate import check_int
from ._arrays import as_legacy
from .sources import (
    DataSource,
    _fresh_iterator,
    _one_shot,
    _one_shot_message,
    restartable,
    split_batch,
)
from .state import amp_loss_scaler, trainer_kvstore_config
from .steps import QueuedLoss, _count_samples, _fit_batch_result, _loss_failure_message

__all__ = ["Learner", "as_context_list"]

logger = logging.getLogger(__name__)

ContextLike = Union[mx.Context, Sequence[mx.Context]]
BatchFn = Callable[[Any, List[mx.Context]], Tuple[List[Any], List[Any]]]
#: ``fit_batch(batch) -> (data_parts, label_parts, losses)`` or ``(..., losses, batch_size)``.
FitBatchFn = Callable[[Any], Tuple[Any, ...]]


def as_context_list(ctx: Optional[ContextLike], name: str = "ctx") -> List[mx.Context]:
    """Normalise ``ctx`` (a Context, a non-empty list of them, or None for ``mx.cpu()``)."""
    if ctx is None:
        return [mx.cpu()]
    if isinstance(ctx, mx.Context):
        return [ctx]
    if isinstance(ctx, (list, tuple)) and ctx and all(isinstance(c, mx.Context) for c in ctx):
        if len(set(ctx)) != len(ctx):
            raise ValueError(f"{name} must not repeat a context, got {list(ctx)}")
        return list(ctx)
    raise TypeError(
        f"{name} must be an mxnet.Context (e.g. mx.gpu(0)) or a non-empty list of Contexts, got {ctx!r}"
    )


def _param_is_uninitialized(param: gluon.Parameter) -> bool:
    try:
        param.list_ctx()
    except RuntimeError:  # "Parameter ... has not been initialized"
        return True
    return False


@contextlib.contextmanager
def lr_override(trainer: gluon.Trainer, lr: Optional[float]) -> Iterator[None]:
    """Train at ``lr`` inside the block even when the optimizer has an ``lr_scheduler``.

    ``Trainer.set_learning_rate`` refuses to run while a scheduler is attached (MXNet raises
    "LRScheduler of the optimizer has already been defined"), and the scheduler would override
    the rate during the update anyway. So the scheduler is detached for the block and the very
    same object is put back afterwards; it is not called in between, so its state is untouched.
    """
    if lr is None:
        yield
        return
    optimizer = trainer.optimizer
    scheduler = optimizer.lr_scheduler
    optimizer.lr_scheduler = None
    try:
        trainer.set_learning_rate(lr)
        yield
    finally:
        optimizer.lr_scheduler = scheduler


def _first_deferred(params: List[gluon.Parameter]) -> Optional[str]:
    """The name of the first parameter whose shape is still deferred (None: all are known)."""
    for param in params:
        try:
            param.list_data()
        except mx.gluon.parameter.DeferredInitializationError:
            return str(param.name)
        except RuntimeError:  # not initialized at all: the Learner initializes it (deferred)
            return str(param.name)
    return None


def _deferred_with_fit_batch_message(name: str) -> str:
    return (
        f"parameter {name!r} still has a deferred shape, and with fit_batch the Learner runs no forward of "
        "its own (it cannot know how your model is called, e.g. net(X, hidden), and a forward on the data "
        "alone would build a hybridized model's cached graph with the wrong inputs). Before the search, "
        "run one forward of your own in predict mode (e.g. `with autograd.predict_mode(): net(X, hidden)`), "
        "give the layers their input sizes (in_units=, in_channels=, input_size=), or pass "
        "predict_batch=... to Learner"
    )


def _zero_grads(params: List[gluon.Parameter]) -> None:
    """Zero the gradient buffers of ``params`` on every context (one operator per context)."""
    by_context: dict = {}
    for param in params:
        for grad in param.list_grad():
            by_context.setdefault(grad.ctx, []).append(as_legacy(grad))
    for grads in by_context.values():
        mx.nd.reset_arrays(*grads, num_arrays=len(grads))


class Learner:
    """Runs single training iterations of a Gluon network at a chosen learning rate.

    Parameters
    ----------
    net : gluon.Block
        The network. Parameters that are not initialized yet are initialized with
        ``initializer`` on ``ctx``; initialized (e.g. trained) parameters are left alone.
    data_loader : iterable of batches, an ``mx.io.DataIter``, a callable returning an iterator, or a
        :class:`~gluon_lrfinder.engine.sources.DataSource`
        Usually a ``gluon.data.DataLoader`` over a
        :class:`~gluon_lrfinder.ContinuousBatchSampler`; a finite loader is restarted when it
        runs out. A callable (``lambda: my_batches()``) is called for every new pass. A one-shot
        iterator (a generator) cannot restart: when it runs out, a ``ValueError`` says so and
        what to pass instead. Any ``mx.io.DataIter`` (``NDArrayIter``, ``ImageRecordIter``, ``CSVIter``,
        ``PrefetchingIter``, a subclass) works as it is: its ``DataBatch`` objects are split by
        :func:`split_data_batch` (padding samples dropped) and it is ``reset()`` whenever it
        runs out, so a search can span many passes.
    ctx : mx.Context or list of mx.Context, default ``mx.cpu()``
        Where to train. With several contexts each batch is split over them
        (``gluon.utils.split_and_load``) and the loss is averaged over all samples.
    loss_fn : callable, default ``gluon.loss.SoftmaxCrossEntropyLoss()``
        ``loss_fn(output, label)`` returning per-sample losses.
    optimizer : str or mx.optimizer.Optimizer, default ``"sgd"``
        Used only when ``trainer`` is not given.
    optimizer_params : dict, optional
        Used only when ``trainer`` is not given (default ``{"learning_rate": 0.001}``).
    trainer : gluon.Trainer, optional
        An existing trainer over ``net``'s parameters (its optimizer state, momentum included, is
        what the range test starts from and what :class:`~gluon_lrfinder.LRFinder` restores).
        A trainer that went through ``amp.init_trainer`` is driven as an AMP loop drives it:
        each iteration runs backward on ``amp.scale_loss(loss, trainer)``; the loss scaler's
        state is saved and restored with everything else.
    initializer : mx.init.Initializer, default ``mx.init.Xavier()``
        For uninitialized parameters only.
    batch_fn : callable, optional
        ``batch_fn(batch, ctx_list) -> (data_list, label_list)`` with one entry per context; an
        entry of ``data_list`` may be a tuple of several inputs. Default: split a
        ``(data, label)`` pair, or a ``DataBatch`` (:func:`split_batch`).
    kvstore : str, default ``"device"``
        Used only when ``trainer`` is not given.
    fit_batch : callable, optional
        ``fit_batch(batch) -> (data_parts, label_parts, losses, batch_size)``: your own training
        step without ``trainer.step``: forward, loss and backward of one batch (recording
        included; gradient clipping, mixup, a carried hidden state... all yours), one entry per
        context; the Learner then calls ``trainer.step(batch_size)``. ``batch_size`` is what
        your own loop passes to ``trainer.step``: the number of samples for per-sample losses,
        1 for a loss your step already normalised (GluonNLP's language-model loop). It may be
        left out (a 3-tuple) only when every context's losses are one per sample along the
        first axis of its input; anything else raises a ``ValueError`` rather than guess (a
        time-major batch's first axis is the sequence length). The curve records the mean of
        the returned losses. The Learner runs no forward of its own outside ``fit_batch``: a
        model with deferred shapes needs ``predict_batch`` or one forward of yours first. Its
        backward is used as it is (no AMP loss scaling added). Default: the Learner's own
        forward (``batch_fn``, ``loss_fn``, backward). ``batch_fn`` still splits a validation
        set's batches. See docs/your_training_code.md for worked examples.
    predict_batch : callable, optional
        ``predict_batch(batch)``: a forward of the model in predict mode, without recording,
        that the Learner runs once before a search when ``fit_batch`` is given and some
        parameter's shape is still deferred (an Estimator's ``batch_processor.evaluate_batch``).
    accumulation_steps : int, default 1
        Batches whose gradients make up one step, >= 1 (gradient accumulation: each learning
        rate of a sweep is then one step over ``accumulation_steps`` batches, and the loss is
        their mean). Values above 1 need ``grad_req='add'`` on every trainable parameter. With
        ``grad_req='add'`` every iteration starts from zeroed gradients; the gradients the
        user had accumulated are restored with the rest of the state by
        :class:`~gluon_lrfinder.LRFinder`.

    Attributes
    ----------
    iteration_loss : float or None
        The loss of the last :meth:`iteration`.

    Examples
    --------
    >>> import mxnet as mx, numpy as np
    >>> from mxnet import gluon
    >>> from gluon_lrfinder import Learner, ContinuousBatchSampler
    >>> ds = gluon.data.ArrayDataset(np.random.rand(64, 4).astype("float32"), np.arange(64) % 3)
    >>> loader = gluon.data.DataLoader(
    ...     ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(64), 16))
    >>> with Learner(gluon.nn.Dense(3), loader, ctx=mx.cpu()) as learner:
    ...     loss = learner.iteration(lr=0.01)
    >>> isinstance(loss, float)
    True
    """

    def __init__(
        self,
        net: gluon.Block,
        data_loader: Any,
        ctx: Optional[ContextLike] = None,
        loss_fn: Optional[Callable] = None,
        optimizer: Union[str, mx.optimizer.Optimizer] = "sgd",
        optimizer_params: Optional[dict] = None,
        trainer: Optional[gluon.Trainer] = None,
        initializer: Optional[mx.init.Initializer] = None,
        batch_fn: Optional[BatchFn] = None,
        kvstore: str = "device",
        accumulation_steps: int = 1,
        fit_batch: Optional[FitBatchFn] = None,
        predict_batch: Optional[Callable[[Any], Any]] = None,
    ) -> None:
        if not isinstance(net, gluon.Block):
            raise TypeError(f"net must be a gluon.Block (e.g. a HybridSequential), got {type(net).__name__}")
        if isinstance(data_loader, DataSource):  # the adapter of .npz, .rec and bundled data
            data_loader = data_loader.loader
        if not hasattr(data_loader, "__iter__") and not callable(data_loader):
            raise TypeError(
                "data_loader must be iterable (e.g. a gluon.data.DataLoader) or a callable returning a fresh "
                f"iterator of batches, got {type(data_loader).__name__}"
            )
        self.ctx = as_context_list(ctx)
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if batch_fn is not None and not callable(batch_fn):
            raise TypeError(f"batch_fn must be callable, got {type(batch_fn).__name__}")
        if fit_batch is not None and not callable(fit_batch):
            raise TypeError(f"fit_batch must be callable, got {type(fit_batch).__name__}")
        if predict_batch is not None and not callable(predict_batch):
            raise TypeError(f"predict_batch must be callable, got {type(predict_batch).__name__}")
        if trainer is not None and not isinstance(trainer, gluon.Trainer):
            raise TypeError(f"trainer must be a gluon.Trainer, got {type(trainer).__name__}")
        if optimizer_params is not None and not isinstance(optimizer_params, dict):
            raise TypeError(f"optimizer_params must be a dict, got {type(optimizer_params).__name__}")
        if initializer is not None and not isinstance(initializer, mx.init.Initializer):
            raise TypeError(f"initializer must be an mx.init.Initializer, got {type(initializer).__name__}")

        self.accumulation_steps = check_int("accumulation_steps", accumulation_steps, 1)
        params = net.collect_params()
        if self.accumulation_steps > 1:
            writing = [name for name, p in params.items() if p.grad_req == "write"]
            if writing:
                raise ValueError(
                    f"accumulation_steps={self.accumulation_steps} needs grad_req='add' on every trainable "
                    f"parameter (gradients that add up over the micro-batches), but {writing[0]!r} has "
                    "grad_req='write'; call net.collect_params().setattr('grad_req', 'add') first"
                )
        for name, param in params.items():
            if not _param_is_uninitialized(param):
                placed = param.list_ctx()
                if set(placed) != set(self.ctx):
                    raise ValueError(
                        f"ctx must match the contexts net's parameters live on: parameter {name!r} is on "
                        f"{placed}, ctx is {self.ctx}; move them first with "
                        "net.collect_params().reset_ctx(ctx)"
                    )
        if trainer is not None:
            config = trainer_kvstore_config(trainer)
            if len(self.ctx) > 1 and config["kvstore"] is None:
                raise ValueError(
                    f"trainer must reduce gradients over the {len(self.ctx)} contexts: it was created with "
                    "kvstore=None, so each replica would train on its own slice and drift apart; "
                    "create it with kvstore='device' (or 'local')"
                )

        self.net = net
        self.data_loader = data_loader
        self.loss_fn = loss_fn if loss_fn is not None else gluon.loss.SoftmaxCrossEntropyLoss()
        self.batch_fn = batch_fn if batch_fn is not None else split_batch
        self.fit_batch = fit_batch
        self.predict_batch = predict_batch
        init = initializer if initializer is not None else mx.init.Xavier()
        for param in params.values():
            if _param_is_uninitialized(param):
                param.initialize(init=None, ctx=self.ctx, default_init=init)
        if trainer is None:
            trainer = gluon.Trainer(
                params,
                optimizer,
                optimizer_params if optimizer_params is not None else {"learning_rate": 0.001},
                kvstore=kvstore,
            )
        self.trainer = trainer
        # collect_params() walks every block (about 6 ms for a ResNet-50): once, not per iteration
        self._params = list(params.values())
        self.iteration_loss: Optional[float] = None
        self._iter: Optional[Iterator] = None
        self._pending: Optional[Any] = None
        self._reset_before_read = False  # a DataIter to restart at its next read (after close())
        self._batches_read = 0  # from the data source so far (a one-shot iterator's error says it)

    # ------------------------------------------------------------------ data
    def _next_batch(self) -> Any:
        if self._pending is not None:
            batch, self._pending = self._pending, None
            return batch
        for _attempt in range(2):
            if self._iter is None:
                if self._reset_before_read:
                    self._reset_before_read = False
                    self.data_loader.reset()
                self._iter = _fresh_iterator(self.data_loader)
            try:
                batch = next(self._iter)
                self._batches_read += 1
                return batch
            except StopIteration:
                self._iter = None  # the loader ran out: start a new pass
                if restartable(self.data_loader):
                    self.data_loader.reset()  # a DataIter stays exhausted until reset()
                elif _one_shot(self.data_loader):
                    raise ValueError(_one_shot_message(self.data_loader, self._batches_read)) from None
        raise ValueError("data_loader yielded no batches: the data set is empty")

    def split(self, batch: Any) -> Tuple[List[Any], List[Any], int]:
        """Split one batch over the contexts with ``batch_fn``, checked.

        Returns ``(data_parts, label_parts, number_of_samples)``, one part per context; what the
        training iteration and :class:`~gluon_lrfinder.engine.validation.ValidationSignal` both read.

        Examples
        --------
        >>> import mxnet as mx
        >>> from mxnet import gluon
        >>> learner = Learner(gluon.nn.Dense(2, in_units=3), [], ctx=[mx.cpu(0), mx.cpu(1)])
        >>> data, label, size = learner.split((mx.nd.ones((5, 3)), mx.nd.zeros((5,))))
        >>> [d.shape[0] for d in data], size
        ([3, 2], 5)
        """
        data, label = self.batch_fn(batch, self.ctx)
        return data, label, _count_samples("batch_fn", data, label)

    def forward(self, x: Any) -> Any:
        """The network's output for one context's input (a tuple of several inputs is unpacked).

        Examples
        --------
        >>> import mxnet as mx
        >>> from mxnet import gluon
        >>> learner = Learner(gluon.nn.Dense(2, in_units=3), [])
        >>> learner.forward(mx.nd.ones((4, 3))).shape
        (4, 2)
        """
        return self.net(*x) if isinstance(x, (list, tuple)) else self.net(x)

    def prepare(self) -> None:
        """Make the model ready for a state snapshot, touching no trainable state.

        Fetches the first batch (kept for the next iteration), so an empty data set fails here,
        and runs one forward pass in predict mode if some parameter's shape is still deferred
        (``save_states`` cannot handle deferred parameters): its own through ``batch_fn``, or,
        with ``fit_batch``, ``predict_batch`` (no forward of its own: a ``ValueError`` says what
        to do when there is none). Predict-mode forwards change no parameter, BatchNorm running
        statistics included.
        """
        batch = self._next_batch()
        self._pending = batch
        deferred = _first_deferred(self._params)
        if deferred is None:
            return
        if self.fit_batch is None:
            data, _, _ = self.split(batch)
            with autograd.predict_mode():
                for x in data:
                    self.forward(x)
        elif self.predict_batch is not None:
            with autograd.predict_mode():
                self.predict_batch(batch)
            deferred = _first_deferred(self._params)
        if deferred is not None and self.fit_batch is not None:
            raise ValueError(_deferred_with_fit_batch_message(deferred))

    # ------------------------------------------------------------------ training
    def queue_iteration(self, lr: Optional[float] = None, take_step: bool = True) -> QueuedLoss:
        """Queue one iteration on MXNet's engine; return a handle that reads its loss later.

        The cheapest way to run an iteration and still learn its loss: no operator is queued
        beyond the training step itself, and :meth:`QueuedLoss.asscalar` averages the
        per-sample losses on the host, waiting only for the iteration it belongs to. Reading
        iteration k's loss after queuing iteration k+1 keeps the engine busy during the read
        (this is what :class:`~gluon_lrfinder.LRFinder` does); :meth:`QueuedLoss.mean` gives
        the mean as an unread NDArray instead (for a loss reducer). Parameters as in
        :meth:`iteration`, whose value :meth:`QueuedLoss.asscalar` returns bit for bit.

        Examples
        --------
        >>> import mxnet as mx, numpy as np
        >>> from mxnet import gluon
        >>> from gluon_lrfinder import Learner, ContinuousBatchSampler
        >>> ds = gluon.data.ArrayDataset(np.random.rand(32, 4).astype("float32"), np.arange(32) % 3)
        >>> loader = gluon.data.DataLoader(
        ...     ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(32), 8))
        >>> with Learner(gluon.nn.Dense(3), loader) as learner:
        ...     first = learner.queue_iteration(lr=0.01)
        ...     second = learner.queue_iteration(lr=0.02)  # queued before the first loss is read
        ...     losses = [first.asscalar(), second.asscalar()]
        >>> all(isinstance(x, float) for x in losses)
        True
        """
        scaled_by_amp = amp_loss_scaler(self.trainer) is not None  # went through amp.init_trainer
        with lr_override(self.trainer, lr):
            accumulated = [p for p in self._params if p.grad_req == "add"]
            if accumulated:  # grad_req='add': every iteration is one whole step from zeroed gradients
                _zero_grads(accumulated)
            losses: List[Any] = []
            batches: List[Any] = []
            size = 0
            for _micro_batch in range(self.accumulation_steps):
                part, count, batch = self._backward_one_batch(scaled_by_amp)
                losses.extend(part)
                batches.append(batch)
                size += count
            if take_step:
                self.trainer.step(size)
        return QueuedLoss(losses, size, batches, home=self.ctx[0])

    def _backward_one_batch(self, scaled_by_amp: bool) -> Tuple[List[Any], int, Any]:
        """Forward, loss and backward of one batch (gradients add up under grad_req='add')."""
        if self.fit_batch is not None:  # the caller's own batch logic (e.g. an Estimator's)
            data, label, losses, size = _fit_batch_result(self.fit_batch(self._next_batch()))
            return losses, size, (data, label)
        data, label, size = self.split(self._next_batch())
        with autograd.record():
            losses = [self._loss(self.forward(x), y) for x, y in zip(data, label)]
            if scaled_by_amp:  # as an AMP loop does: backward on the scaled loss, step unscales
                with amp.scale_loss(losses, self.trainer) as scaled:
                    autograd.backward(scaled)
        if not scaled_by_amp:
            autograd.backward(losses)
        return losses, size, (data, label)

    def _loss(self, output: Any, label: Any) -> Any:
        """``loss_fn(output, label)``, checked to be per-sample losses; a failure says why."""
        try:
            loss = self.loss_fn(output, label)
        except MXNetError as err:
            raise ValueError(_loss_failure_message(self.loss_fn, output, label, err)) from err
        if not isinstance(loss, mx.nd.NDArray):
            raise TypeError(
                f"loss_fn must return an MXNet array of per-sample losses (one per sample of the batch), "
                f"got {type(loss).__name__}: a Python number cannot be differentiated; return the "
                "loss array itself (e.g. gluon.loss.L2Loss()(output, label)), not loss.mean().asscalar()"
            )
        samples = label.shape[0] if getattr(label, "ndim", 0) else None
        if samples is not None and samples > 1 and loss.size == 1:  # one number for the whole batch
            raise ValueError(
                f"loss_fn must return one loss per sample (shape ({samples}, ...)), got shape {loss.shape} for a "
                f"batch of {samples}: a loss_fn that averages over the batch (e.g. ends in .mean()) would be "
                "divided by the batch size a second time by trainer.step, shifting the suggestion by that "
                "factor. Return the per-sample losses (gluon.loss.* losses do)"
            )
        return loss
    def iteration(self, lr: Optional[float] = None, take_step: bool = True) -> float:
        """Run one training iteration and return its loss.

        Parameters
        ----------
        lr : float, optional
            Learning rate for this iteration (set on the trainer, even if its optimizer has an
            ``lr_scheduler``); ``None`` keeps the current one.
        take_step : bool, default True
            Update the parameters; ``False`` runs forward and backward only.

        Returns
        -------
        float
            The mean per-sample loss of the batch, over all contexts; also kept in
            :attr:`iteration_loss`.
        """
        self.iteration_loss = self.queue_iteration(lr, take_step).asscalar()
        return self.iteration_loss

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the data iterator (and the prefetched batches of worker processes).

        A user's ``mx.io.DataIter`` is not closed: it is ``reset()`` right before its next read,
        so the next iteration starts a new pass.
        """
        self._pending = None
        it, self._iter = self._iter, None
        if it is None:
            return
        if it is self.data_loader:  # the user's DataIter: not ours to close; the next pass starts anew
            # reset() right before the next read, not now: MXNet 1.9.1's LibSVMIter crashes
            # (segfault) when it is freed just after a reset()
            self._reset_before_read = restartable(it)
            return
        shutdown = getattr(it, "shutdown", None) or getattr(it, "close", None)
        if callable(shutdown):
            shutdown()
        del it

    def __enter__(self) -> Learner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        optimizer = type(self.trainer.optimizer).__name__
        return f"Learner(net={type(self.net).__name__}, ctx={self.ctx}, optimizer={optimizer})"
