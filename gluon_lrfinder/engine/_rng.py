"""The global random number generators a range test reads: seeding them, and putting them back.

A data order comes from NumPy's global RNG (``gluon.data.RandomSampler`` draws its permutations
from it), random augmentation often from Python's (GluonCV's transforms); weight initialisation
and dropout from MXNet's. Every search puts NumPy's and Python's states back afterwards
(:func:`keeps_global_rngs`), so a seeded script trains the same with and without one. MXNet's
state cannot be read, so it can only be seeded, never restored.
"""
from __future__ import annotations

import contextlib
import functools
import random
from typing import Any, Callable, Iterator, TypeVar

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx
import numpy as np

__all__ = ["seed_global_rngs", "isolated_global_rngs", "preserved_global_rngs", "keeps_global_rngs"]

F = TypeVar("F", bound=Callable[..., Any])


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
    """A block of seeded runs: yields :func:`seed_global_rngs`; NumPy's and Python's global RNG
    states on entry are put back on exit, also after an exception (MXNet's is left seeded: it
    cannot be read).

    Examples
    --------
    >>> state = np.random.get_state()[1].copy()
    >>> with isolated_global_rngs() as seed:
    ...     seed(0)
    ...     _ = np.random.rand(3)
    >>> bool((np.random.get_state()[1] == state).all())
    True
    """
    with preserved_global_rngs():
        yield seed_global_rngs


@contextlib.contextmanager
def preserved_global_rngs() -> Iterator[None]:
    """NumPy's and Python's global RNG states on entry are put back on exit, also after an
    exception or a Ctrl-C. MXNet's cannot be read (``mx.random`` has only ``seed``), so it is not.

    Examples
    --------
    >>> import random
    >>> before = random.random(); _ = np.random.rand()
    >>> state, py_state = np.random.get_state()[1].copy(), random.getstate()
    >>> with preserved_global_rngs():
    ...     _ = np.random.permutation(10), random.random()
    >>> bool((np.random.get_state()[1] == state).all()), random.getstate() == py_state
    (True, True)
    """
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def keeps_global_rngs(method: F) -> F:
    """Decorator: the call runs inside :func:`preserved_global_rngs` (every kind of search).

    Examples
    --------
    >>> @keeps_global_rngs
    ... def search():
    ...     return np.random.rand()
    >>> search() == search()
    True
    """

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with preserved_global_rngs():
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
