"""Legacy NDArray vs NumPy-mode ``mx.np.ndarray``: the two converters the package needs.

Under ``npx.set_np()`` Gluon parameters, DataLoader batches and losses are ``mx.np.ndarray``
objects (a subclass of ``mx.nd.NDArray``), which ``mx.nd.save``, ``mx.nd.add_n`` and
``.asscalar()`` refuse or lack; ``mx.io.DataIter`` batches stay legacy NDArrays even then.
MXNet's public ``as_nd_ndarray`` / ``as_np_ndarray`` convert either way without a copy.
"""
from __future__ import annotations

from typing import Any

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
from mxnet.util import is_np_array

__all__ = ["as_legacy", "like", "in_mode"]


def as_legacy(array: Any) -> Any:
    """``array`` as a legacy ``mx.nd.NDArray`` (a view, no copy); other objects unchanged.

    Examples
    --------
    >>> import mxnet as mx
    >>> type(as_legacy(mx.np.zeros(2))).__name__
    'NDArray'
    """
    return array.as_nd_ndarray() if isinstance(array, mx.np.ndarray) else array


def like(array: Any, reference: Any) -> Any:
    """``array`` converted (without a copy) to the array kind of ``reference``.

    Examples
    --------
    >>> import mxnet as mx
    >>> type(like(mx.nd.zeros(2), mx.np.zeros(2))).__name__
    'ndarray'
    """
    if isinstance(reference, mx.np.ndarray):
        return array if isinstance(array, mx.np.ndarray) else array.as_np_ndarray()
    return as_legacy(array)


def in_mode(array: Any) -> Any:
    """``array`` as the kind the current mode expects: ``mx.np.ndarray`` under ``npx.set_np()``.

    Only a legacy NDArray is converted (other objects, e.g. NumPy arrays, pass through).

    Examples
    --------
    >>> import mxnet as mx
    >>> type(in_mode(mx.nd.zeros(2))).__name__  # NDArray mode (the default)
    'NDArray'
    """
    if is_np_array() and isinstance(array, mx.nd.NDArray) and not isinstance(array, mx.np.ndarray):
        if array.stype != "default":
            raise TypeError(
                f"a {array.stype} (sparse) batch, e.g. from mx.io.LibSVMIter, cannot be used in NumPy mode: "
                "MXNet 1.9.1's mx.np has no sparse arrays; run this model in NDArray mode (npx.reset_np())"
            )
        return array.as_np_ndarray()
    return array
