"""Tell bad data from a high learning rate: non-finite inputs, labels and parameters.

A range test ends in NaN losses when the learning rate gets too high, which is what it is
for; it also produces them at a harmless learning rate when a sample of the data holds NaN or
inf, and then its curve (and any suggestion read from it) means nothing. These checks run only
when something is already non-finite, or once after a sweep, so the sweep itself pays nothing.
"""
from __future__ import annotations

from typing import Any, Iterable, List, Optional

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
import numpy as np

from ._arrays import as_legacy

__all__ = ["nonfinite_parts", "params_are_finite", "bad_data_message"]


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, mx.nd.NDArray):
        yield value


def _all_finite(arrays: Iterable[Any]) -> bool:
    return all(np.isfinite(a.asnumpy()).all() for a in arrays if np.issubdtype(a.dtype, np.floating))


def nonfinite_parts(data: Any, label: Any) -> List[str]:
    """Which of a batch's ``"inputs"`` / ``"labels"`` hold NaN or inf (copies them to the host).

    Examples
    --------
    >>> import mxnet as mx
    >>> nonfinite_parts([mx.nd.array([[1.0, float("nan")]])], [mx.nd.array([0.0])])
    ['inputs']
    """
    return [name for name, part in (("inputs", data), ("labels", label)) if not _all_finite(_flatten(part))]


def params_are_finite(net: Any) -> bool:
    """Whether every parameter of ``net`` (every context) is finite; one reduction per parameter.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet import gluon
    >>> net = gluon.nn.Dense(2, in_units=2); net.initialize()
    >>> params_are_finite(net)
    True
    """
    sums = [as_legacy(d).abs().sum().as_in_context(mx.cpu()) for p in net.collect_params().values()
            for d in p.list_data()]
    if not sums:
        return True
    return bool(np.isfinite(mx.nd.add_n(*sums).asnumpy()).all()) if len(sums) > 1 else _all_finite(sums)


def bad_data_message(lr: float, iteration: int, parts: Optional[List[str]] = None) -> str:
    """The diagnosis text for a non-finite loss or parameter that bad data explains.

    Examples
    --------
    >>> bad_data_message(1e-5, 3, ["inputs"])[:52]
    'non-finite data: the batch of iteration 3 (lr=1e-05)'
    """
    if parts:
        where = f"the batch of iteration {iteration} (lr={lr:.3g}) holds NaN or inf in its {' and '.join(parts)}"
    else:
        where = (
            f"the parameters became NaN or inf by iteration {iteration} (lr={lr:.3g}) although the loss "
            "never diverged (a ReLU hides NaN inputs in the forward pass; the gradients carry them)"
        )
    return (
        f"non-finite data: {where}; check the data for NaN/inf values: this curve says nothing about "
        "the learning rate"
    )
