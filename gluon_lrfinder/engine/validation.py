"""The optional validation signal of a range test: a fixed held-out set, evaluated every k iterations.

The training loss of a range test is measured on the batch the step is about to learn from; a
held-out loss shows where the rising learning rate stops helping generalisation. The held-out
batches are fixed once (the same samples at every evaluation) and evaluated in predict mode
without recording gradients, so neither the parameters, nor BatchNorm's running statistics,
nor the optimizer are touched. The loss is left on the MXNet engine and read only at the end
of the sweep, so an evaluation does not stall the loop.
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Callable, List, Optional, Tuple

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
from mxnet import autograd, gluon
from mxnet.gluon.data.dataloader import default_batchify_fn

from ..core._validate import check_int
from ..core.curve import LRCurve
from ._arrays import as_legacy
from .sources import restartable

__all__ = ["ValidationSignal"]

logger = logging.getLogger(__name__)


def _own_copy(batch: Any) -> Any:
    """A DataBatch whose arrays are copies (not the iterator's reusable buffers)."""
    if not isinstance(batch, mx.io.DataBatch):
        return batch
    return mx.io.DataBatch(
        data=[d.copy() for d in batch.data or []], label=[y.copy() for y in batch.label or []], pad=batch.pad
    )


class ValidationSignal:
    """Evaluate a fixed held-out set every ``every`` iterations of a sweep.

    Parameters
    ----------
    learner : Learner
        Provides the network, the loss, ``batch_fn`` and the contexts.
    data : gluon.data.Dataset or iterable of batches
        A Dataset is evaluated whole, in batches of ``batch_size`` samples. Any other iterable
        (a list of ``(data, label)`` batches, a DataLoader, an ``mx.io.DataIter``, which is
        reset first) is read once, at most ``max_batches`` batches, so an endless loader is fine.
    every : int, default 10
        Evaluate after every ``every``-th iteration, >= 1.
    batch_size : int, default 256
        Batch size for a Dataset, >= 1.
    max_batches : int, default 20
        How many batches of a non-Dataset iterable to keep, >= 1.
    reduce : callable, optional
        Applied to each evaluation's 1-element loss NDArray, as the finder's loss reducer is
        to the training loss (the mean over the workers of a distributed job, so that every
        worker records the same held-out curve); none by default.

    Examples
    --------
    >>> import mxnet as mx, numpy as np
    >>> from mxnet import gluon
    >>> from gluon_lrfinder import Learner, ContinuousBatchSampler
    >>> X = np.random.rand(64, 4).astype("float32"); y = (np.arange(64) % 3).astype("float32")
    >>> ds = gluon.data.ArrayDataset(X, y)
    >>> loader = gluon.data.DataLoader(
    ...     ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(64), 16))
    >>> learner = Learner(gluon.nn.Dense(3), loader)
    >>> signal = ValidationSignal(learner, ds, every=2)
    >>> isinstance(signal.evaluate(), float)
    True
    """

    def __init__(
        self, learner: Any, data: Any, every: int = 10, batch_size: int = 256, max_batches: int = 20,
        reduce: Optional[Callable[[Any], Any]] = None,
    ) -> None:
        self.every = check_int("valid_every", every, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        max_batches = check_int("max_batches", max_batches, 1)
        if isinstance(data, gluon.data.Dataset):
            if len(data) == 0:
                raise ValueError("valid_data is an empty Dataset: it needs at least one sample")
            # batched by hand: building a DataLoader costs ~80 ms, more than a short sweep's evaluations
            batches = [
                default_batchify_fn([data[i] for i in range(start, min(start + batch_size, len(data)))])
                for start in range(0, len(data), batch_size)
            ]
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes)):
            if restartable(data):  # an mx.io.DataIter: read from its start
                data.reset()
            batches = list(itertools.islice(iter(data), max_batches))
            if isinstance(data, mx.io.DataIter):
                # a C++ DataIter (ImageRecordIter...) may hand out the same buffers every batch
                batches = [_own_copy(batch) for batch in batches]
            if not batches:
                raise ValueError("valid_data yielded no batches: it needs at least one (data, label) batch")
        else:
            raise TypeError(
                f"valid_data must be a gluon.data.Dataset or an iterable of (data, label) batches, "
                f"got {type(data).__name__}"
            )
        self.learner = learner
        self.reduce = reduce
        self._parts: List[Tuple[List[Any], List[Any]]] = []
        self.num_samples = 0
        for batch in batches:
            data_parts, label_parts, size = learner.split(batch)  # the learner's own batch_fn and checks
            self._parts.append((data_parts, label_parts))
            self.num_samples += size
        if self.num_samples < 1:
            raise ValueError("valid_data holds no samples: it needs at least one")
        self._count = 0
        self._pending: List[Tuple[float, mx.nd.NDArray]] = []

    def evaluate_async(self) -> mx.nd.NDArray:
        """Queue one evaluation and return the mean held-out loss as an unread 1-element NDArray."""
        learner, home = self.learner, self.learner.ctx[0]
        sums = []
        with autograd.predict_mode():  # outside autograd.record(): nothing is recorded
            for data_parts, label_parts in self._parts:
                for x, y in zip(data_parts, label_parts):
                    loss = as_legacy(learner.loss_fn(learner.forward(x), y))  # NumPy mode: a legacy view
                    sums.append(loss.sum().as_in_context(home))
        total = sums[0] if len(sums) == 1 else mx.nd.add_n(*sums)
        return total / self.num_samples

    def evaluate(self) -> float:
        """The mean loss over the held-out samples, now."""
        return float(self.evaluate_async().asscalar())

    def reset(self) -> None:
        """Forget the iteration count and any unread evaluation, ready for a new sweep."""
        self._count = 0
        self._pending = []

    def __call__(self, lr: float) -> None:
        """The sweep's per-iteration hook: after every ``every``-th iteration, queue an evaluation."""
        self._count += 1
        if self._count % self.every == 0:
            loss = self.evaluate_async()
            self._pending.append((float(lr), loss if self.reduce is None else self.reduce(loss)))

    def flush(self, curve: LRCurve, last_lr: Optional[float] = None) -> None:
        """Read the queued evaluations into ``curve`` (those after ``last_lr`` are dropped: they
        belong to the one iteration queued after the stop, which the curve does not hold)."""
        for lr, loss in self._pending:
            if last_lr is None or lr <= last_lr:
                curve.append_valid(lr, float(loss.asscalar()))
        self._pending = []
