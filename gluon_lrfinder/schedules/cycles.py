"""Learning-rate schedules built from a range test's ``(min_lr, max_lr)``.

Every schedule is an ``mx.lr_scheduler.LRScheduler`` and a pure function of the update count
(``schedule(1)`` is the rate of the first ``trainer.step``). Give it to a trainer with its own
peak rate, ``gluon.Trainer(params, "adam", schedule.optimizer_params(wd=1e-4))``: MXNet's
optimizers would otherwise overwrite ``base_lr`` with their default ``learning_rate``, which a
schedule here refuses with a ``ValueError``. Setting ``schedule.base_lr = lr`` rescales the
whole schedule so that its peak is ``lr``. docs/schedules.md has the step convention and why.

Examples
--------
>>> s = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1, final_lr=0.001)
>>> [round(s(n), 6) for n in (0, 45, 90, 100, 500)]
[0.1, 1.0, 0.1, 0.001, 0.001]
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple, Union

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from mxnet.lr_scheduler import LRScheduler

from ..core._validate import check_choice, check_int, check_number, check_positive
from ._base import _check_update, _refuse_optimizer_overwrite, _repr, _TrainerParams

__all__ = [
    "TriangularSchedule",
    "OneCycleSchedule",
    "CosineAnnealingSchedule",
    "range_from",
]

RangeSource = Union[Any, Tuple[float, float], Sequence[float]]


def range_from(source: RangeSource) -> Tuple[float, float]:
    """``(min_lr, max_lr)`` from an :class:`~gluon_lrfinder.LRFinder` (after ``find``) or a pair.

    Parameters
    ----------
    source : LRFinder or (float, float)
        A finder: its :meth:`~gluon_lrfinder.LRFinder.suggest_range`; a pair: used as given.

    Raises
    ------
    TypeError
        ``source`` is neither.
    ValueError
        The pair is not ``0 < min_lr < max_lr < inf``.

    Examples
    --------
    >>> range_from((1e-3, 1e-1))
    (0.001, 0.1)
    """
    if hasattr(source, "suggest_range") and callable(source.suggest_range):
        low, high = source.suggest_range()
    elif isinstance(source, (tuple, list)) and len(source) == 2:
        low, high = source
    else:
        raise TypeError(
            "source must be an LRFinder (after find()) or a (min_lr, max_lr) pair, "
            f"got {type(source).__name__}"
        )
    low = check_positive("min_lr", low)
    high = check_positive("max_lr", high)
    if not low < high:
        raise ValueError(f"the range must have min_lr < max_lr, got ({low!r}, {high!r})")
    return low, high


def _interpolate(n: float, knots: Sequence[Tuple[float, float]], shape: str = "linear") -> float:
    """Piecewise interpolation through ``knots`` ``[(step, lr), ...]`` (steps increasing), held
    constant before the first and after the last knot. Knot values are returned exactly."""
    if n <= knots[0][0]:
        return knots[0][1]
    for (s0, v0), (s1, v1) in zip(knots, knots[1:]):
        if n < s1:
            t = (n - s0) / (s1 - s0)
            if shape == "cos":
                t = (1.0 - math.cos(math.pi * t)) / 2.0
            return v0 + (v1 - v0) * t
        if n == s1:
            return v1
    return knots[-1][1]

class _Schedule(_TrainerParams, LRScheduler):
    """Base of the schedules: a pure ``_value(n)`` scaled by ``base_lr / peak``."""

    def __init__(self, peak: float) -> None:
        self.peak = peak
        super().__init__(base_lr=peak)

    @property
    def base_lr(self) -> float:
        return self._base_lr

    @base_lr.setter
    def base_lr(self, value: float) -> None:
        if "_base_lr" in vars(self):
            _refuse_optimizer_overwrite(self, value)
        self._base_lr = value

    def _value(self, n: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, num_update: Any) -> float:
        value = self._value(_check_update(num_update))
        if self.base_lr != self.peak:  # base_lr was set (e.g. by LRFinder.apply): rescale
            value *= self.base_lr / self.peak
        return float(value)

    def __repr__(self) -> str:
        return _repr(self)


class TriangularSchedule(_Schedule):
    """Cyclical learning rate (Smith, 2017): up from ``min_lr`` to ``max_lr`` and back, repeated.

    ``schedule(n)`` is ``min_lr`` at ``n = 0, 2*step_size, 4*step_size, ...`` and the cycle's
    peak at ``n = step_size, 3*step_size, ...``, linear in between. The peak of cycle ``c``
    (counted from 0) is ``min_lr + (max_lr - min_lr) * decay**c``; ``decay=0.5`` is Smith's
    "triangular2". After ``num_cycles`` cycles (if given) the rate stays at ``min_lr``.

    Parameters
    ----------
    min_lr, max_lr : float
        ``0 < min_lr < max_lr``.
    step_size : int
        Updates of half a cycle, >= 1 (Smith: 2-10 epochs' worth).
    decay : float, default 1.0
        Amplitude factor per cycle, in (0, 1].
    num_cycles : int, optional
        Stop cycling after this many cycles, >= 1.

    Examples
    --------
    >>> s = TriangularSchedule(0.01, 0.1, step_size=10)
    >>> [round(s(n), 6) for n in (0, 5, 10, 20, 30)]
    [0.01, 0.055, 0.1, 0.01, 0.1]
    >>> import mxnet as mx
    >>> net = mx.gluon.nn.Dense(1); net.initialize()
    >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": s})
    """

    _fields = ('min_lr', 'max_lr', 'step_size', 'decay', 'num_cycles')

    def __init__(
        self,
        min_lr: float,
        max_lr: float,
        step_size: int,
        decay: float = 1.0,
        num_cycles: Optional[int] = None,
    ) -> None:
        min_lr, max_lr = range_from((min_lr, max_lr))
        self.min_lr, self.max_lr = min_lr, max_lr
        self.step_size = check_int("step_size", step_size, 1)
        decay = check_number("decay", decay)
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        self.decay = decay
        self.num_cycles = None if num_cycles is None else check_int("num_cycles", num_cycles, 1)
        super().__init__(max_lr)

    @classmethod
    def from_finder(cls, source: RangeSource, step_size: int, **kwargs: Any) -> TriangularSchedule:
        """Cycle over the finder's :meth:`~gluon_lrfinder.LRFinder.suggest_range` (or a pair).

        Examples
        --------
        >>> TriangularSchedule.from_finder((0.01, 0.1), step_size=50).max_lr
        0.1
        """
        low, high = range_from(source)
        return cls(low, high, step_size, **kwargs)

    def _value(self, n: float) -> float:
        period = 2 * self.step_size
        cycle = int(n // period)
        if self.num_cycles is not None and cycle >= self.num_cycles:
            return self.min_lr
        x = n - cycle * period
        frac = x / self.step_size if x <= self.step_size else 2.0 - x / self.step_size
        if cycle == 0 or self.decay == 1.0:
            top = self.max_lr
        else:
            top = self.min_lr + (self.max_lr - self.min_lr) * self.decay**cycle
        if frac == 1.0:
            return top  # exact at the peaks
        return self.min_lr + (top - self.min_lr) * frac


class OneCycleSchedule(_Schedule):
    """One cycle (Smith, 2018): warm up to ``max_lr``, come back down, then cool down further.

    Knots (in updates, see the module's step convention): ``min_lr`` at 0, ``max_lr`` at
    ``up_steps``, ``min_lr`` at ``up_steps + down_steps``, ``final_lr`` at ``total_steps`` and
    after. Linear between knots (``anneal="cos"``: half-cosine, flat at every knot).

    Parameters
    ----------
    max_lr : float
        The peak, > 0.
    total_steps : int
        Updates of the whole schedule, >= 3.
    min_lr : float, optional
        Start and end of the cycle, in (0, max_lr). Default ``max_lr / 10``.
    final_lr : float, optional
        Rate at the end of the cool-down, in (0, min_lr]. Default ``min_lr / 100``.
    up_fraction : float, default 0.45
        Share of ``total_steps`` spent rising.
    cooldown_fraction : float, default 0.1
        Share of ``total_steps`` spent cooling down from ``min_lr`` to ``final_lr`` (0: no
        cool-down; then the cycle ends at ``total_steps`` and ``final_lr`` is ignored). The fall
        takes what is left: ``down_steps = total_steps - up_steps - cooldown_steps``.
    anneal : {"linear", "cos"}, default "linear"
        Shape between knots.

    Attributes
    ----------
    up_steps, down_steps, cooldown_steps : int
        The phases in updates (rounded; each >= 1 except ``cooldown_steps`` which may be 0).

    Examples
    --------
    >>> s = OneCycleSchedule(max_lr=0.5, total_steps=20)
    >>> s.up_steps, s.down_steps, s.cooldown_steps
    (9, 9, 2)
    >>> s(0), s(9), s(18), s(20), s(10**6)
    (0.05, 0.5, 0.05, 0.0005, 0.0005)
    """

    _fields = ('max_lr', 'total_steps', 'min_lr', 'final_lr', 'up_steps', 'down_steps', 'cooldown_steps', 'anneal')

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        min_lr: Optional[float] = None,
        final_lr: Optional[float] = None,
        up_fraction: float = 0.45,
        cooldown_fraction: float = 0.1,
        anneal: str = "linear",
    ) -> None:
        max_lr = check_positive("max_lr", max_lr)
        total_steps = check_int("total_steps", total_steps, 3)
        min_lr = max_lr / 10.0 if min_lr is None else check_positive("min_lr", min_lr)
        if not min_lr < max_lr:
            raise ValueError(f"min_lr must be < max_lr ({max_lr!r}), got {min_lr!r}")
        final_lr = min_lr / 100.0 if final_lr is None else check_positive("final_lr", final_lr)
        if final_lr > min_lr:
            raise ValueError(f"final_lr must be <= min_lr ({min_lr!r}), got {final_lr!r}")
        up_fraction = check_number("up_fraction", up_fraction)
        cooldown_fraction = check_number("cooldown_fraction", cooldown_fraction)
        if not 0.0 < up_fraction < 1.0:
            raise ValueError(f"up_fraction must be in (0, 1), got {up_fraction!r}")
        if not 0.0 <= cooldown_fraction < 1.0 - up_fraction:
            raise ValueError(
                f"cooldown_fraction must be in [0, 1 - up_fraction) = [0, {1.0 - up_fraction!r}), "
                f"got {cooldown_fraction!r}"
            )
        self.anneal = check_choice("anneal", anneal, ("linear", "cos"))
        self.max_lr, self.min_lr, self.final_lr = max_lr, min_lr, final_lr
        self.total_steps = total_steps
        self.cooldown_steps = int(round(cooldown_fraction * total_steps))
        if cooldown_fraction > 0:
            self.cooldown_steps = max(1, self.cooldown_steps)
        self.up_steps = max(1, int(round(up_fraction * total_steps)))
        self.down_steps = total_steps - self.up_steps - self.cooldown_steps
        if self.down_steps < 1:
            raise ValueError(
                f"total_steps={total_steps} leaves no step to come down after {self.up_steps} up and "
                f"{self.cooldown_steps} cool-down steps: raise total_steps or lower the fractions"
            )
        super().__init__(max_lr)

    @classmethod
    def from_finder(cls, source: RangeSource, total_steps: int, **kwargs: Any) -> OneCycleSchedule:
        """One cycle from the finder's range: ``min_lr`` to ``max_lr`` of
        :meth:`~gluon_lrfinder.LRFinder.suggest_range` (or a ``(min_lr, max_lr)`` pair).

        Examples
        --------
        >>> s = OneCycleSchedule.from_finder((0.01, 0.3), total_steps=100)
        >>> s(0), s(45)
        (0.01, 0.3)
        """
        low, high = range_from(source)
        return cls(max_lr=high, total_steps=total_steps, min_lr=low, **kwargs)

    @property
    def knots(self) -> Tuple[Tuple[int, float], ...]:
        """``((update, lr), ...)`` at the phase boundaries."""
        top = self.up_steps + self.down_steps
        knots = [(0, self.min_lr), (self.up_steps, self.max_lr), (top, self.min_lr)]
        if self.cooldown_steps:
            knots.append((self.total_steps, self.final_lr))
        return tuple(knots)

    def _value(self, n: float) -> float:
        return _interpolate(n, self.knots, self.anneal)


class CosineAnnealingSchedule(_Schedule):
    """Half-cosine decay from ``max_lr`` to ``final_lr``, with an optional linear warm-up.

    ``schedule(n)``: ``warmup_begin_lr`` at 0 rising linearly to ``max_lr`` at
    ``warmup_steps``, then ``final_lr + (max_lr - final_lr) * (1 + cos(pi * t)) / 2`` with
    ``t = (n - warmup_steps) / (total_steps - warmup_steps)``, reaching ``final_lr`` at
    ``total_steps`` and keeping it.

    Parameters
    ----------
    max_lr : float
        The peak, > 0.
    total_steps : int
        Updates until ``final_lr``, > ``warmup_steps``.
    final_lr : float, default 0.0
        In [0, max_lr).
    warmup_steps : int, default 0
        Updates of linear warm-up, >= 0.
    warmup_begin_lr : float, default 0.0
        Rate at update 0 when ``warmup_steps > 0``, in [0, max_lr].

    Examples
    --------
    >>> s = CosineAnnealingSchedule(1.0, total_steps=110, warmup_steps=10, final_lr=0.0)
    >>> [round(s(n), 6) for n in (0, 5, 10, 60, 110, 200)]
    [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    """

    _fields = ('max_lr', 'total_steps', 'final_lr', 'warmup_steps', 'warmup_begin_lr')

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        final_lr: float = 0.0,
        warmup_steps: int = 0,
        warmup_begin_lr: float = 0.0,
    ) -> None:
        max_lr = check_positive("max_lr", max_lr)
        warmup_steps = check_int("warmup_steps", warmup_steps, 0)
        total_steps = check_int("total_steps", total_steps, warmup_steps + 1)
        final_lr = check_number("final_lr", final_lr)
        if not 0.0 <= final_lr < max_lr:
            raise ValueError(f"final_lr must be in [0, max_lr) = [0, {max_lr!r}), got {final_lr!r}")
        begin = check_number("warmup_begin_lr", warmup_begin_lr)
        if not 0.0 <= begin <= max_lr:
            raise ValueError(f"warmup_begin_lr must be in [0, max_lr] = [0, {max_lr!r}], got {begin!r}")
        super().__init__(max_lr)
        # the same attribute names as MXNet's own schedulers (the base class's warm-up code is
        # not used: the warm-up is computed here)
        self.max_lr, self.final_lr, self.total_steps = max_lr, final_lr, total_steps
        self.warmup_steps, self.warmup_begin_lr = warmup_steps, begin

    @classmethod
    def from_finder(
        cls, source: RangeSource, total_steps: int, warmup_steps: int = 0, **kwargs: Any
    ) -> CosineAnnealingSchedule:
        """Cosine from the range's ``max_lr``; a warm-up starts at the range's ``min_lr``.

        Examples
        --------
        >>> s = CosineAnnealingSchedule.from_finder((0.01, 0.3), total_steps=100, warmup_steps=10)
        >>> s(0), s(10), s(100)
        (0.01, 0.3, 0.0)
        """
        low, high = range_from(source)
        kwargs.setdefault("warmup_begin_lr", low if warmup_steps else 0.0)
        return cls(max_lr=high, total_steps=total_steps, warmup_steps=warmup_steps, **kwargs)

    def _value(self, n: float) -> float:
        w = self.warmup_steps
        if n < w:
            return self.warmup_begin_lr + (self.max_lr - self.warmup_begin_lr) * n / w
        if n >= self.total_steps:
            return self.final_lr
        if n == w:
            return self.max_lr
        t = (n - w) / (self.total_steps - w)
        return self.final_lr + (self.max_lr - self.final_lr) * (1.0 + math.cos(math.pi * t)) / 2.0
