"""The sweep plan (:class:`SweepPlan`) and its learning-rate sequences, as small pure generators.

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
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional

from ._validate import check_choice, check_greater, check_int, check_positive

__all__ = ["SweepPlan", "exponential", "linear", "multiplier_for", "resolve_exponential", "DEFAULT_MAX_ITER"]

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


@dataclass(frozen=True)
class SweepPlan:
    """Which learning rates a range test visits: where it starts, how it rises, where it ends.

    Parameters
    ----------
    lr_start : float, default 1e-6
        First learning rate, > 0.
    lr_end : float, optional
        Highest learning rate, > ``lr_start``. Required for ``mode="linear"``.
    num_iter : int, optional
        Number of iterations, >= 2. Exponential default: until ``lr_end`` or divergence, at
        most ``max_iter``; linear default 100.
    lr_multiplier : float, optional
        Exponential mode: factor between consecutive rates, > 1. Default 1.1, or derived from
        ``lr_end`` and ``num_iter`` when both are given.
    mode : {"exponential", "linear"}, default "exponential"
        How the rate rises.
    max_iter : int, default 1000
        Cap on the iterations of an exponential sweep without ``num_iter``, >= 1.

    Every value is checked when the plan is made (a ``ValueError`` names the parameter).

    Examples
    --------
    >>> plan = SweepPlan(lr_start=1e-3, lr_end=1.0, num_iter=4)
    >>> [round(lr, 6) for lr in plan.rates()], round(plan.multiplier, 6)
    ([0.001, 0.01, 0.1, 1.0], 10.0)
    >>> SweepPlan(mode="linear")
    Traceback (most recent call last):
    ...
    ValueError: lr_end must be given for mode='linear' (a finite number > lr_start)
    """

    lr_start: float = 1e-6
    lr_end: Optional[float] = None
    num_iter: Optional[int] = None
    lr_multiplier: Optional[float] = None
    mode: str = "exponential"
    max_iter: int = DEFAULT_MAX_ITER

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, ("exponential", "linear"))
        self.rates()  # every check, before anything runs

    def rates(self) -> List[float]:
        """The learning rates of the sweep, in order."""
        if self.mode == "exponential":
            return list(exponential(self.lr_start, self.lr_multiplier, self.lr_end, self.num_iter, self.max_iter))
        if self.lr_multiplier is not None:
            raise ValueError("lr_multiplier applies to mode='exponential' only; give lr_end and num_iter")
        if self.lr_end is None:
            raise ValueError("lr_end must be given for mode='linear' (a finite number > lr_start)")
        return list(linear(self.lr_start, self.lr_end, 100 if self.num_iter is None else self.num_iter))

    @property
    def multiplier(self) -> Optional[float]:
        """The factor used between consecutive rates (exponential mode; None for linear)."""
        if self.mode != "exponential":
            return None
        return resolve_exponential(self.lr_start, self.lr_multiplier, self.lr_end, self.num_iter, self.max_iter)[1]

    @property
    def bounded(self) -> bool:
        """Whether the number of iterations is known before the sweep (for a progress bar)."""
        return self.mode == "linear" or self.lr_end is not None or self.num_iter is not None

    def settings(self) -> Dict[str, Any]:
        """What a curve records about the plan (the multiplier and length actually used)."""
        num_iter = self.num_iter if self.mode == "exponential" or self.num_iter is not None else 100
        return {"lr_start": self.rates()[0], "lr_multiplier": self.multiplier, "lr_end": self.lr_end,
                "num_iter": num_iter, "mode": self.mode}
