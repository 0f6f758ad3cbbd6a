"""The global random number generators a range test reads: seeding them, and putting NumPy's back.

A data order comes from NumPy's global RNG (``gluon.data.RandomSampler`` draws its permutations
from it); weight initialisation and dropout from MXNet's. MXNet's state cannot be read, so it can
only be seeded, never restored.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import mxnet as mx
import numpy as np

__all__ = ["seed_global_rngs", "isolated_global_rngs"]


def seed_global_rngs(seed: int) -> None:
    """Seed NumPy's and MXNet's global RNGs with ``seed``.

    Examples
    --------
    >>> seed_global_rngs(3); a = np.random.rand()
    >>> seed_global_rngs(3); a == np.random.rand()
    True
    """
    np.random.seed(seed)
    mx.random.seed(seed)


@contextlib.contextmanager
def isolated_global_rngs() -> Iterator[Callable[[int], None]]:
    """A block of seeded runs: yields :func:`seed_global_rngs`; NumPy's global RNG state on entry
    is put back on exit, also after an exception (MXNet's is left seeded: it cannot be read).

    Examples
    --------
    >>> state = np.random.get_state()[1].copy()
    >>> with isolated_global_rngs() as seed:
    ...     seed(0)
    ...     _ = np.random.rand(3)
    >>> bool((np.random.get_state()[1] == state).all())
    True
    """
    state = np.random.get_state()
    try:
        yield seed_global_rngs
    finally:
        np.random.set_state(state)
