"""Data sources: one adapter from what users have to the batches a :class:`~gluon_lrfinder.Learner` reads.

A :class:`DataSource` wraps a Gluon ``DataLoader``, any ``mx.io.DataIter``, a ``.npz`` archive, a
RecordIO image file (or, through :func:`gluon_lrfinder.demo.source`, a bundled scikit-learn set),
with what is known about it (kind, input shape, number of classes). The Learner, the command
line and the Estimator handler all read batches through the helpers here (:func:`split_batch`, :func:`restartable`).

Examples
--------
>>> from gluon_lrfinder.demo import source
>>> src = source("iris", batch_size=16)
>>> src.kind, src.input_shape, src.classes
('classification', (4,), 3)
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
import numpy as np
from mxnet import gluon

from ._arrays import in_mode
from .sampler import make_loader

__all__ = [
    "DataSource", "SourceError", "load_npz", "record_iter", "split_batch", "split_data_batch", "restartable",
    "one_line",
]


class SourceError(ValueError):
    """A data source that cannot be read: ``param`` names the argument, the message says why."""

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(f"{param} {detail}")
        self.param, self.detail = param, detail


def one_line(err: BaseException) -> str:
    """The telling line of an exception message (MXNet's carry a C++ stack trace)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    for line in lines:
        if "Check failed" in line or "Error:" in line or "inconsistent" in line:
            line = line.split("MXNetError: ", 1)[-1]
            return line[:400]
    return lines[-1][:400]


def check_file(param: str, path: str) -> str:
    """``path`` if it is a file, else a :class:`SourceError` for ``param``."""
    if not os.path.isfile(path):
        what = "is a folder, not a file" if os.path.isdir(path) else "does not exist"
        raise SourceError(param, f"{path}: {what}")
    return path


# ---------------------------------------------------------------------- batches
def _split_array(array: Any, ctx: List[mx.Context], batch_axis: int = 0) -> List[Any]:
    # even_split=False: the last batch of a pass may not divide evenly over the contexts
    parts = gluon.utils.split_and_load(in_mode(array), ctx, batch_axis=batch_axis, even_split=False)
    return [in_mode(part) for part in parts]


def split_data_batch(batch: mx.io.DataBatch, ctx: List[mx.Context]) -> Tuple[List[Any], List[Any]]:
    """Default ``batch_fn`` for an ``mx.io.DataBatch`` (what every ``mx.io.DataIter`` yields).

    ``batch.data[0]`` is the input (several data arrays become a tuple of inputs, in order),
    ``batch.label[0]`` the label. The ``batch.pad`` samples that fill up the last batch of a
    pass (copies of other samples) are dropped, so they are not trained on twice.

    Examples
    --------
    >>> batch = mx.io.DataBatch([mx.nd.ones((4, 2))], [mx.nd.zeros((4,))], pad=1)
    >>> data, label = split_data_batch(batch, [mx.cpu()])
    >>> data[0].shape, label[0].shape
    ((3, 2), (3,))
    """
    if not batch.data:
        raise ValueError("a DataBatch must hold at least one data array, got batch.data=[]")
    if not batch.label:
        raise ValueError(
            "a DataBatch must hold a label (batch.label[0]) to compute the loss; create the DataIter "
            "with labels, or pass batch_fn=... to Learner"
        )
    pad = int(batch.pad or 0)

    def real(array: Any) -> Any:
        return array[: array.shape[0] - pad] if pad else array

    inputs = [_split_array(real(d), ctx) for d in batch.data]
    data = [parts[0] if len(parts) == 1 else tuple(parts) for parts in zip(*inputs)]
    return data, _split_array(real(batch.label[0]), ctx)


def split_batch(batch: Any, ctx: List[mx.Context], batch_axis: int = 0) -> Tuple[List[Any], List[Any]]:
    """Default ``batch_fn``: a ``(data, label)`` pair, or a ``DataBatch``, split over ``ctx``.

    A pair is split along ``batch_axis`` (``functools.partial(split_batch, batch_axis=1)`` for
    time-major data), a ``DataBatch`` along axis 0 (:func:`split_data_batch`).

    Examples
    --------
    >>> data, label = split_batch((mx.nd.ones((4, 2)), mx.nd.zeros((4,))), [mx.cpu(0), mx.cpu(1)])
    >>> [d.shape for d in data]
    [(2, 2), (2, 2)]
    """
    if isinstance(batch, mx.io.DataBatch):
        return split_data_batch(batch, ctx)
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise TypeError(
            "a batch must be a (data, label) pair or an mx.io.DataBatch; pass batch_fn=... to Learner for "
            f"other layouts, got {type(batch).__name__}"
            + (f" of length {len(batch)}" if hasattr(batch, "__len__") else "")
        )
    data, label = batch
    return _split_array(data, ctx, batch_axis), _split_array(label, ctx, batch_axis)


def restartable(source: Any) -> bool:
    """Whether ``source`` is its own iterator with a ``reset()`` that starts a new pass.

    True for every ``mx.io.DataIter`` (``iter(it)`` returns ``it`` itself, which raises
    ``StopIteration`` until ``it.reset()``); False for a DataLoader, which ``iter()`` restarts.

    Examples
    --------
    >>> restartable(mx.io.NDArrayIter(np.ones((4, 2)), np.zeros(4), batch_size=2)), restartable([1, 2])
    (True, False)
    """
    return isinstance(source, mx.io.DataIter) or (
        callable(getattr(source, "reset", None)) and callable(getattr(source, "__next__", None))
        and iter(source) is source
    )


def _fresh_iterator(source: Any) -> Iterator:
    """``iter(source)``, or ``iter(source())`` for a callable source (a factory of fresh iterators)."""
    if not hasattr(source, "__iter__") and callable(source):
        return iter(source())
    return iter(source)


def _one_shot(source: Any) -> bool:
    """A source that is its own iterator and cannot start a new pass (a generator, ``iter(list)``)."""
    return hasattr(source, "__next__") and iter(source) is source and not restartable(source)


def _one_shot_message(source: Any, read: int) -> str:
    return (
        f"data_loader is a one-shot iterator ({type(source).__name__}) and ran out after {read} batches: it "
        "cannot restart, and a range test needs as many batches as it runs iterations (a finite source is "
        "restarted when it runs out). Pass a gluon.data.DataLoader, a list of batches, or a callable that "
        "returns a fresh iterator each time (e.g. data_loader=lambda: my_batches() instead of my_batches())"
    )



# ---------------------------------------------------------------------- files
def load_npz(path: str) -> Tuple[Any, Any]:
    """Arrays ``X`` (float32, samples first) and ``y`` (float32) of a ``.npz`` file.

    Raises a :class:`SourceError` naming the file for a missing file, missing arrays,
    non-numeric or non-finite data, or a sample count that differs between ``X`` and ``y``.
    """
    check_file("npz", path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise SourceError("npz", f"{path}: not an .npz archive (np.savez(path, X=..., y=...) writes one)")
            missing = [k for k in ("X", "y") if k not in archive.files]
            if missing:
                raise SourceError("npz", f"{path}: needs arrays 'X' and 'y', it has {archive.files}")
            X, y = archive["X"], archive["y"]
    except SourceError:
        raise
    except (OSError, ValueError) as err:
        raise SourceError("npz", f"{path}: cannot read it as a NumPy archive ({one_line(err)})") from None
    for key, arr in (("X", X), ("y", y)):
        if arr.dtype.kind not in "biuf":
            raise SourceError("npz", f"{path}: array {key} must be numeric, got dtype {arr.dtype}")
    if X.ndim < 2 or len(X) < 1:
        raise SourceError("npz", f"{path}: X must have shape (samples, features...), got {X.shape}")
    if len(y) != len(X):
        raise SourceError("npz", f"{path}: X and y must have as many samples, got X {X.shape} and y {y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise SourceError("npz", f"{path}: X and y must be finite (found NaN or infinity)")
    return X.astype(np.float32), y.astype(np.float32)


def record_iter(path: str, data_shape: Tuple[int, ...], batch_size: int, seed: int = 0,
                mean: Optional[Tuple[float, ...]] = None, std: Optional[Tuple[float, ...]] = None) -> Any:
    """A shuffled ``mx.io.ImageRecordIter`` over ``path`` (with its ``.idx`` file when there is one).

    The :class:`~gluon_lrfinder.Learner` reads it as it is: ``DataBatch`` split, padding dropped,
    ``reset()`` at the end of each pass.
    """
    if len(data_shape) != 3 or data_shape[0] not in (1, 3, 4):
        raise SourceError("data_shape", f"must be channels,height,width with 1, 3 or 4 channels, got {data_shape}")
    kwargs: Dict[str, Any] = {"path_imgrec": path, "data_shape": data_shape, "batch_size": batch_size,
                              "shuffle": True, "seed": seed, "round_batch": True}
    idx = os.path.splitext(path)[0] + ".idx"
    if os.path.isfile(idx):
        kwargs["path_imgidx"] = idx
    for param, values, prefix in (("mean", mean, "mean_"), ("std", std, "std_")):
        if values is not None:
            if len(values) != 1 and len(values) != data_shape[0]:
                channels = data_shape[0]
                raise SourceError(param, f"needs 1 or {channels} values for {channels} channels, got {values}")
            full = values * 3 if len(values) == 1 else values
            kwargs.update({prefix + c: float(v) for c, v in zip("rgb", full)})
    try:
        return mx.io.ImageRecordIter(**kwargs)
    except mx.base.MXNetError as err:
        raise SourceError("rec", f"{path}: MXNet cannot read it as an image RecordIO file ({one_line(err)})") from None
    except StopIteration:  # the iterator reads its first batch when it is created
        raise SourceError("rec", f"{path}: holds no image records MXNet can read") from None


# ---------------------------------------------------------------------- the adapter
@dataclass
class DataSource:
    """Batches to sweep over, and what is known about them.

    Attributes
    ----------
    loader : iterable
        What the :class:`~gluon_lrfinder.Learner` reads (a DataLoader, a DataIter...).
    name : str
        For messages and plots.
    kind : {"classification", "regression", "unknown"}
    input_shape : tuple of int, optional
        One sample's shape, when known.
    classes : int, optional
        Outputs a net needs under softmax cross-entropy (None: unknown).
    target_size : int, optional
        Outputs a net needs under l2 / sigmoid-bce.
    default_loss : str
        ``"softmax-ce"`` or ``"l2"``.
    settings : dict
        What a curve records about the data.
    labels : array, optional
        The labels, when they are all known up front (``.npz``).
    """

    loader: Any
    name: str
    kind: str = "unknown"
    input_shape: Optional[Tuple[int, ...]] = None
    classes: Optional[int] = None
    target_size: Optional[int] = None
    default_loss: str = "softmax-ce"
    settings: Dict[str, Any] = field(default_factory=dict)
    labels: Any = None

    @classmethod
    def wrap(cls, data: Any, name: Optional[str] = None) -> DataSource:
        """A DataLoader, a DataIter or any iterable of batches, as it is (kind unknown).

        Examples
        --------
        >>> DataSource.wrap([(mx.nd.ones((2, 3)), mx.nd.zeros(2))]).kind
        'unknown'
        """
        if isinstance(data, DataSource):
            return data
        if not hasattr(data, "__iter__"):
            raise TypeError(f"data must be iterable (a DataLoader, a DataIter...), got {type(data).__name__}")
        return cls(data, name or type(data).__name__)

    @classmethod
    def npz(cls, path: str, batch_size: int = 64, seed: int = 0) -> DataSource:
        """A NumPy archive with arrays ``X`` (samples first) and ``y``; integer ``y`` >= 0 are classes."""
        X, y = load_npz(path)
        integer_labels = y.ndim == 1 and bool((y == y.round()).all()) and y.min() >= 0
        kind = "classification" if integer_labels else "regression"
        classes = int(y.max()) + 1 if kind == "classification" else None
        loader = make_loader(gluon.data.ArrayDataset(X, y), batch_size, seed=seed)
        default = "softmax-ce" if kind == "classification" else "l2"
        return cls(loader, os.path.basename(path), kind, tuple(X.shape[1:]), classes, int(y[0].size), default,
                   {"npz": os.path.abspath(path), "samples": int(len(X))}, labels=y)

    @classmethod
    def rec(cls, path: str, data_shape: Optional[Tuple[int, ...]], batch_size: int = 64, seed: int = 0,
            mean: Optional[Tuple[float, ...]] = None, std: Optional[Tuple[float, ...]] = None) -> DataSource:
        """A RecordIO image file (im2rec), decoded and resized to ``data_shape`` (channels, height, width)."""
        check_file("rec", path)
        if data_shape is None:
            raise SourceError("rec", "needs data_shape (channels,height,width the images are resized to)")
        it = record_iter(path, data_shape, batch_size, seed, mean, std)
        return cls(it, os.path.basename(path), "classification", tuple(data_shape), None, None, "softmax-ce",
                   {"rec": os.path.abspath(path), "data_shape": list(data_shape)})

    def num_outputs(self, loss: str) -> Optional[int]:
        """Outputs a bundled net needs for ``loss`` (None: not known from the data)."""
        return self.classes if loss == "softmax-ce" else self.target_size

    def check_labels(self, loss: str) -> None:
        """A :class:`SourceError` (param ``loss``) for labels ``loss`` cannot read, when they are known."""
        y = self.labels
        if y is None:
            return
        if loss == "softmax-ce":
            flat = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
            if not (flat and (y == y.round()).all() and y.min() >= 0):
                hint = "; one-hot rows? store y.argmax(axis=1)" if y.ndim == 2 else ""
                raise SourceError("loss", f"softmax-ce needs y of class indices 0, 1, 2, ... (one per sample), got y "
                                  f"of shape {y.shape} with values from {y.min():g} to {y.max():g}{hint}; "
                                  "l2 is for regression targets")
        elif loss == "sigmoid-bce" and (y.min() < 0 or y.max() > 1):
            raise SourceError("loss", f"sigmoid-bce needs y in [0, 1] (binary targets), got values from {y.min():g} "
                              f"to {y.max():g}; for class indices use softmax-ce")
