"""Learning-rate sequences for the range test, as small pure generators.

Every sequence is bounded: it ends at ``lr_end`` or after ``num_iter`` values, whichever comes
first. No MXNet import.

Examples
--------
>>> [round(lr, 6) for lr in exponential(1e-3, lr_multiplier=10.0, num_iter=3)]
[0.001, 0.01, 0.1]
>>> list(linear(0.1, 0.4, num_iter=4))
[0.1, 0.2, 0.30000000000000004, 0.4]
>>> round(multiplier_for(1e-6, 1.0, num_iter=7), 12)
10.0
"""
from __future__ import annotations

import math
from typing import Iterator, Optional

from ._validate import check_greater, check_int, check_positive

__all__ = ["exponential", "linear", "multiplier_for", "resolve_exponential", "DEFAULT_MAX_ITER"]

#: The hard cap on the number of iterations of a sweep whose end is not given.
DEFAULT_MAX_ITER = 1000
#: The multiplier used when neither ``lr_multiplier`` nor ``lr_end`` with ``num_iter`` is given.
DEFAULT_MULTIPLIER = 1.1


def multiplier_for(lr_start: float, lr_end: float, num_iter: int) -> float:
    """The per-iteration factor that takes ``lr_start`` to ``lr_end`` in ``num_iter`` values.

    Parameters
    ----------
    lr_start : float
        First learning rate, > 0.
    lr_end : float
        Last learning rate, > ``lr_start``.
    num_iter : int
        Number of learning rates in the sweep, >= 2 (the first and the last included).

    Returns
    -------
    float
        ``(lr_end / lr_start) ** (1 / (num_iter - 1))``.
    """
    lr_start = check_positive("lr_start", lr_start)
    lr_end = check_greater("lr_end", lr_end, lr_start, "lr_start")
    num_iter = check_int("num_iter", num_iter, 2)
    return math.exp(math.log(lr_end / lr_start) / (num_iter - 1))


def resolve_exponential(
    lr_start: float,
    lr_multiplier: Optional[float] = None,
    lr_end: Optional[float] = None,
    num_iter: Optional[int] = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> tuple:
    """Validate an exponential sweep and fill in what was not given.

    Returns ``(lr_start, lr_multiplier, lr_end, num_iter)`` where ``lr_end`` may be ``None``
    (no LR bound) and ``num_iter`` is always an int (the iteration cap).
    Given ``lr_end`` and ``num_iter`` but no multiplier, the multiplier is derived from them;
    given all three, they must agree.
    """
    lr_start = check_positive("lr_start", lr_start)
    max_iter = check_int("max_iter", max_iter, 1)
    if lr_end is not None:
        lr_end = check_greater("lr_end", lr_end, lr_start, "lr_start")
    if num_iter is not None:
        num_iter = check_int("num_iter", num_iter, 2)
    if lr_multiplier is not None:
        lr_multiplier = check_greater("lr_multiplier", lr_multiplier, 1.0)
    if lr_end is not None and num_iter is not None:
        derived = multiplier_for(lr_start, lr_end, num_iter)
        if lr_multiplier is not None and not math.isclose(lr_multiplier, derived, rel_tol=1e-6):
            raise ValueError(
                f"lr_multiplier={lr_multiplier!r} contradicts lr_end={lr_end!r} and "
                f"num_iter={num_iter!r} (they imply lr_multiplier={derived!r}); give two of the three"
            )
        lr_multiplier = derived
    if lr_multiplier is None:
        lr_multiplier = DEFAULT_MULTIPLIER
    if num_iter is None:
        num_iter = max_iter
        if lr_end is not None:
            num_iter = min(max_iter, 1 + math.ceil(math.log(lr_end / lr_start) / math.log(lr_multiplier)))
    return lr_start, lr_multiplier, lr_end, num_iter


def exponential(
    lr_start: float,
    lr_multiplier: Optional[float] = None,
    lr_end: Optional[float] = None,
    num_iter: Optional[int] = None,
    max_iter: int = DEFAULT_MAX_ITER,
) -> Iterator[float]:
    """Yield ``lr_start * lr_multiplier ** i`` for ``i = 0, 1, ...``.

    Parameters
    ----------
    lr_start : float
        First learning rate, > 0.
    lr_multiplier : float, optional
        Factor between consecutive values, > 1. Default 1.1, or derived from ``lr_end`` and
        ``num_iter`` when both are given.
    lr_end : float, optional
        Upper bound, > ``lr_start``; no value above it is yielded (the last value is exactly
        ``lr_end`` when the multiplier was derived).
    num_iter : int, optional
        Number of values, >= 2. Default: as many as fit below ``lr_end``, at most ``max_iter``.
    max_iter : int, default 1000
        Hard cap when ``num_iter`` is not given, >= 1.

    Yields
    ------
    float
        The learning rates, strictly increasing.

    Examples
    --------
    >>> [round(x, 4) for x in exponential(0.01, lr_end=1.0, num_iter=3)]
    [0.01, 0.1, 1.0]
    """
    lr_start, mult, lr_end, n = resolve_exponential(lr_start, lr_multiplier, lr_end, num_iter, max_iter)
    log_start, log_mult = math.log(lr_start), math.log(mult)
    for i in range(n):
        # exp(log) form: no drift from repeated multiplication; the last value is exact below.
        lr = math.exp(log_start + i * log_mult) if i else lr_start
        if lr_end is not None:
            if i == n - 1 and num_iter is not None:
                lr = lr_end
            elif lr > lr_end * (1 + 1e-12):
                return
        yield lr


def linear(lr_start: float, lr_end: float, num_iter: int = 100) -> Iterator[float]:
    """Yield ``num_iter`` evenly spaced learning rates from ``lr_start`` to ``lr_end``.

    Parameters
    ----------
    lr_start : float
        First learning rate, > 0.
    lr_end : float
        Last learning rate, > ``lr_start``.
    num_iter : int, default 100
        Number of values, >= 2.

    Examples
    --------
    >>> list(linear(1.0, 2.0, num_iter=3))
    [1.0, 1.5, 2.0]
    """
    lr_start = check_positive("lr_start", lr_start)
    lr_end = check_greater("lr_end", lr_end, lr_start, "lr_start")
    num_iter = check_int("num_iter", num_iter, 2)
    step = (lr_end - lr_start) / (num_iter - 1)
    for i in range(num_iter - 1):
        yield lr_start + i * step
    yield lr_end
