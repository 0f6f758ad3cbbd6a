"""The pieces of one training step the Learner queues: its losses, unread (:class:`QueuedLoss`),
and what a ``fit_batch`` of the user's own returns, checked.

Examples
--------
>>> import mxnet as mx
>>> QueuedLoss([mx.nd.array([1.0, 2.0]), mx.nd.array([6.0])], 3).asscalar()
3.0
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
import numpy as np
from mxnet import gluon

from ._arrays import as_legacy

__all__ = ["QueuedLoss"]


def _shape_of(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_shape_of(v) for v in value]
    return getattr(value, "shape", type(value).__name__)


def _loss_failure_message(loss_fn: Any, output: Any, label: Any, err: Exception) -> str:
    """Why ``loss_fn(output, label)`` failed, in the user's terms: shapes, ``loss_fn``, the likely fix."""
    out_shape, label_shape = _shape_of(output), _shape_of(label)
    first = str(err).strip().splitlines()
    detail = next((line for line in first if "Error" in line or "inconsistent" in line), first[0] if first else "")
    message = (
        f"loss_fn ({type(loss_fn).__name__}) failed on the network's output and the batch's label: "
        f"output shape {out_shape}, label shape {label_shape}. "
    )
    if isinstance(loss_fn, gluon.loss.SoftmaxCrossEntropyLoss) and out_shape == label_shape:
        message += (
            "The label has the output's shape, as one-hot (or probability) labels do, but "
            "SoftmaxCrossEntropyLoss expects class indices by default; pass "
            "loss_fn=gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False), or give class indices "
            "(label.argmax(axis=1)). "
        )
    else:
        message += (
            "Check that loss_fn fits this output and label (class indices vs one-hot labels: "
            "sparse_label=False; regression targets shaped like the output). "
        )
    return message + f"MXNet said: {detail.strip()}"


def _count_samples(source: str, data: List[Any], label: List[Any]) -> int:
    """The number of samples in one batch's parts (checked to match and to be at least one)."""
    if len(data) != len(label):
        raise ValueError(f"{source} returned {len(data)} data parts but {len(label)} label parts")
    size = sum((d[0] if isinstance(d, (list, tuple)) else d).shape[0] for d in data)
    if size < 1:
        raise ValueError("a batch must hold at least one sample, got an empty batch")
    return size


def _first_input(part: Any) -> Any:
    return part[0] if isinstance(part, (list, tuple)) else part


def _fit_batch_result(result: Any) -> Tuple[List[Any], List[Any], List[Any], int]:
    """``(data, label, losses, batch_size)`` from what ``fit_batch`` returned, checked.

    A declared ``batch_size`` (the 4th element) is used as it is. Without one, the count is
    inferred only where it cannot be wrong: every context's losses are one per sample (1-D, as
    long as the first axis of that context's first input); anything else (a loss the step
    already normalised, time-major batches, per-token losses) is refused with what to return.
    """
    if not isinstance(result, (list, tuple)) or len(result) not in (3, 4):
        raise TypeError(
            "fit_batch must return (data_parts, label_parts, losses) or (data_parts, label_parts, losses, "
            f"batch_size), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (list, tuple)) else "")
        )
    data, label, losses = list(result[0]), list(result[1]), list(result[2])
    if len(result) == 4:
        return data, label, losses, _declared_batch_size(result[3])
    if len(losses) == len(data) and all(
        getattr(loss, "ndim", 0) == 1 and loss.shape[0] == getattr(_first_input(x), "shape", (None,))[0]
        for loss, x in zip(losses, data)
    ):
        return data, label, losses, _count_samples("fit_batch", data, label)
    loss_shapes = [getattr(loss, "shape", type(loss).__name__) for loss in losses]
    data_shapes = [getattr(_first_input(x), "shape", type(x).__name__) for x in data]
    raise ValueError(
        f"fit_batch returned losses of shape {loss_shapes} for inputs of shape {data_shapes}: the Learner "
        "cannot tell how many samples the step normalises by (inferring it from the inputs' first axis "
        "would take the sequence length of time-major batches). Return it as a 4th element, "
        "(data, label, losses, batch_size), with batch_size what your own loop passes to trainer.step: "
        "the number of samples for per-sample losses, 1 for a loss your step already normalised"
    )


def _declared_batch_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            "fit_batch's 4th element, batch_size, must be an int >= 1 (what your loop passes to "
            f"trainer.step: the number of samples, or 1 for a loss already normalised), got {value!r}"
        )
    return int(value)


class QueuedLoss:
    """The per-sample losses of one queued iteration, not read yet (see ``Learner.queue_iteration``).

    :meth:`mean` gives their mean as an NDArray on the device, unread. :meth:`asscalar` copies
    each device's losses to the host (waiting for that iteration only)
    and returns their mean over all samples, accumulated in float64 in a fixed order, so the
    same losses always give the same number.

    Examples
    --------
    >>> import mxnet as mx
    >>> QueuedLoss([mx.nd.array([1.0, 2.0]), mx.nd.array([6.0])], 3).asscalar()
    3.0
    """

    __slots__ = ("losses", "size", "batches", "home")

    def __init__(
        self, losses: List[mx.nd.NDArray], size: int, batches: Optional[List[Any]] = None,
        home: Optional[mx.Context] = None,
    ) -> None:
        self.losses = losses
        self.size = size
        self.batches = batches or []  # the (data, label) parts trained on, for a diagnosis of NaN losses
        self.home = home  # where mean() gathers the devices' losses (default: the first one's context)

    def asscalar(self) -> float:
        """The mean per-sample loss; blocks until the iteration has run."""
        if len(self.losses) == 1:
            return float(self.losses[0].asnumpy().mean(dtype=np.float64))
        total, count = 0.0, 0  # mean over every device's values: sum of (mean * count) / total count
        for loss in self.losses:
            values = loss.asnumpy()
            total += float(values.mean(dtype=np.float64)) * values.size
            count += values.size
        return total / count

    def mean(self) -> mx.nd.NDArray:
        """The mean per-sample loss as an unread 1-element NDArray, computed by MXNet.

        For code that needs the loss on the device, e.g. a loss reducer that averages it over
        the workers of a distributed job (:mod:`gluon_lrfinder.engine.reducers`). The mean is
        taken in float32, so it may differ from :meth:`asscalar` in the last bits.

        Examples
        --------
        >>> import mxnet as mx
        >>> float(QueuedLoss([mx.nd.array([1.0, 2.0]), mx.nd.array([6.0])], 3).mean().asscalar())
        3.0
        """
        losses = [as_legacy(loss) for loss in self.losses]  # NumPy mode: legacy views
        if len(losses) == 1:
            return losses[0].mean()  # one operator; nothing to gather
        home = self.home if self.home is not None else losses[0].context
        # mean over every device's values: sum of (mean * count) per device / total count
        parts = [(loss.mean() * loss.size).as_in_context(home) for loss in losses]
        return mx.nd.add_n(*parts) / sum(loss.size for loss in losses)
