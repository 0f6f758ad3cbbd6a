"""Endless batch sampling for the range test."""
from __future__ import annotations

from typing import Iterator, List, Optional

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from mxnet import gluon

from ..core._validate import check_int
from ._rng import seed_global_rngs

__all__ = ["ContinuousBatchSampler", "make_loader"]


class ContinuousBatchSampler(gluon.data.Sampler):
    """Batches of indices that never run out: epoch after epoch of ``sampler``.

    Unlike ``gluon.data.BatchSampler``, a batch may span an epoch boundary (the last indices of
    one pass and the first of the next), so every batch has exactly ``batch_size`` indices and
    an LR sweep never sees a short batch. A fresh pass of ``sampler`` is started whenever the
    previous one ends, so a ``RandomSampler`` reshuffles each epoch.

    Parameters
    ----------
    sampler : gluon.data.Sampler or iterable of int
        Yields dataset indices for one epoch; iterated again for every epoch.
    batch_size : int
        Indices per batch, >= 1.

    Raises
    ------
    ValueError
        ``batch_size < 1``, or an empty ``sampler`` (when iterated, or at once if it has a length).

    Examples
    --------
    >>> import itertools
    >>> from mxnet import gluon
    >>> batches = ContinuousBatchSampler(gluon.data.SequentialSampler(5), batch_size=3)
    >>> list(itertools.islice(batches, 3))
    [[0, 1, 2], [3, 4, 0], [1, 2, 3]]

    With a DataLoader (``num_workers`` may be > 0):

    >>> import numpy as np
    >>> ds = gluon.data.ArrayDataset(np.arange(10, dtype="float32"))
    >>> loader = gluon.data.DataLoader(
    ...     ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(len(ds)), 4))
    >>> next(iter(loader)).shape
    (4,)
    """

    def __init__(self, sampler, batch_size: int) -> None:
        self._batch_size = check_int("batch_size", batch_size, 1)
        if not hasattr(sampler, "__iter__"):
            raise TypeError(
                f"sampler must be a gluon.data.Sampler or an iterable of indices, got {type(sampler).__name__}"
            )
        try:
            size = len(sampler)
        except TypeError:
            size = None
        if size == 0:
            raise ValueError("sampler is empty (length 0): the data set has no samples")
        self._sampler = sampler

    @property
    def batch_size(self) -> int:
        """Indices per batch."""
        return self._batch_size

    def __iter__(self) -> Iterator[List[int]]:
        batch: List[int] = []
        while True:
            seen = 0
            for index in self._sampler:
                seen += 1
                batch.append(index)
                if len(batch) == self._batch_size:
                    yield batch
                    batch = []
            if seen == 0:
                raise ValueError("sampler yielded no indices: the data set has no samples")

    def __len__(self) -> int:
        raise TypeError("ContinuousBatchSampler is endless and has no length")


def make_loader(
    dataset: gluon.data.Dataset, batch_size: int = 64, num_workers: int = 0, seed: Optional[int] = None
) -> gluon.data.DataLoader:
    """An endless shuffled DataLoader over ``dataset`` (a :class:`ContinuousBatchSampler`).

    ``seed`` seeds NumPy's global RNG, which ``RandomSampler`` draws its permutations from.
    """
    if seed is not None:
        seed_global_rngs(seed)
    sampler = ContinuousBatchSampler(gluon.data.RandomSampler(len(dataset)), batch_size)
    return gluon.data.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers)
