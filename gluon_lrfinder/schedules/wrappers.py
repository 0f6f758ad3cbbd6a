"""Wrappers that put a warm-up, a cool-down or an offset around any ``mx.lr_scheduler.LRScheduler``.

Each wrapper is itself an ``LRScheduler``; its ``base_lr`` reads and writes the wrapped
schedule's, so :meth:`gluon_lrfinder.LRFinder.apply` rescales what is inside.

Examples
--------
>>> from gluon_lrfinder import OneCycleSchedule
>>> s = WarmUp(OneCycleSchedule(1.0, total_steps=100), steps=10)
>>> s(0), s(10), s(55)
(0.0, 0.1, 1.0)
"""
from __future__ import annotations

from typing import Any

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from mxnet.lr_scheduler import LRScheduler

from ..core._validate import check_int, check_nonnegative
from ._base import _check_update, _refuse_optimizer_overwrite, _repr, _TrainerParams

__all__ = ["WarmUp", "CoolDown", "OffsetSchedule"]


class _Wrapper(_TrainerParams, LRScheduler):
    """Base of the wrappers: ``base_lr`` reads and writes the wrapped schedule's, so setting it
    (e.g. by :meth:`gluon_lrfinder.LRFinder.apply`) reaches the schedule that knows what it means."""

    def __init__(self, schedule: LRScheduler) -> None:
        if not isinstance(schedule, LRScheduler):
            raise TypeError(f"schedule must be an mx.lr_scheduler.LRScheduler, got {type(schedule).__name__}")
        self.schedule = schedule
        super().__init__(base_lr=schedule.base_lr)

    @property
    def base_lr(self) -> float:
        return self.schedule.base_lr

    @base_lr.setter
    def base_lr(self, value: float) -> None:
        if "schedule" in vars(self):
            _refuse_optimizer_overwrite(self, value)
            self.schedule.base_lr = value

    def __repr__(self) -> str:
        return _repr(self)


class WarmUp(_Wrapper):
    """Linear warm-up in front of any schedule.

    ``WarmUp(s, steps, begin_lr)(n)`` is ``begin_lr`` at 0 rising linearly to ``s(0)`` at
    ``steps``, then ``s(n - steps)``: the wrapped schedule starts, at its own step 0, when the
    warm-up ends.

    Parameters
    ----------
    schedule : mx.lr_scheduler.LRScheduler
    steps : int
        Warm-up updates, >= 1.
    begin_lr : float, default 0.0
        >= 0.

    Examples
    --------
    >>> from gluon_lrfinder import TriangularSchedule
    >>> s = WarmUp(TriangularSchedule(0.1, 1.0, step_size=10), steps=5, begin_lr=0.0)
    >>> [round(s(n), 6) for n in (0, 1, 5, 15, 25)]
    [0.0, 0.02, 0.1, 1.0, 0.1]
    """

    _fields = ('schedule', 'steps', 'begin_lr')

    def __init__(self, schedule: LRScheduler, steps: int, begin_lr: float = 0.0) -> None:
        self.steps = check_int("steps", steps, 1)
        self.begin_lr = check_nonnegative("begin_lr", begin_lr)
        super().__init__(schedule)

    def __call__(self, num_update: Any) -> float:
        n = _check_update(num_update)
        if n >= self.steps:
            return float(self.schedule(n - self.steps))
        target = float(self.schedule(0))
        return self.begin_lr + (target - self.begin_lr) * n / self.steps


class CoolDown(_Wrapper):
    """Linear cool-down after any schedule.

    ``CoolDown(s, start, steps, final_lr)(n)`` is ``s(n)`` up to ``start``, then falls
    linearly from ``s(start)`` to ``final_lr`` at ``start + steps`` and stays there.

    Parameters
    ----------
    schedule : mx.lr_scheduler.LRScheduler
    start : int
        Last update of the wrapped schedule, >= 0.
    steps : int
        Cool-down updates, >= 1.
    final_lr : float, default 0.0
        >= 0.

    Examples
    --------
    >>> from gluon_lrfinder import CosineAnnealingSchedule
    >>> s = CoolDown(CosineAnnealingSchedule(1.0, total_steps=100, final_lr=0.1), start=100,
    ...              steps=10, final_lr=0.0)
    >>> [round(s(n), 6) for n in (0, 100, 105, 110, 1000)]
    [1.0, 0.1, 0.05, 0.0, 0.0]
    """

    _fields = ('schedule', 'start', 'steps', 'final_lr')

    def __init__(self, schedule: LRScheduler, start: int, steps: int, final_lr: float = 0.0) -> None:
        self.start = check_int("start", start, 0)
        self.steps = check_int("steps", steps, 1)
        self.final_lr = check_nonnegative("final_lr", final_lr)
        super().__init__(schedule)

    def __call__(self, num_update: Any) -> float:
        n = _check_update(num_update)
        if n <= self.start:
            return float(self.schedule(n))
        if n >= self.start + self.steps:
            return self.final_lr
        last = float(self.schedule(self.start))
        return last + (self.final_lr - last) * (n - self.start) / self.steps


class OffsetSchedule(_Wrapper):
    """Start a schedule later: ``OffsetSchedule(s, offset)(n) = s(max(n - offset, 0))``.

    For a schedule attached mid-training, when the optimizer's ``num_update`` is already
    ``offset``: the next update then uses ``s(1)``, as the first update of a fresh trainer would.

    Examples
    --------
    >>> from gluon_lrfinder import OneCycleSchedule
    >>> s = OffsetSchedule(OneCycleSchedule(1.0, total_steps=100), offset=500)
    >>> s(0) == s(500) == 0.1, s(545)
    (True, 1.0)
    """

    _fields = ('schedule', 'offset')

    def __init__(self, schedule: LRScheduler, offset: int) -> None:
        self.offset = check_int("offset", offset, 0)
        super().__init__(schedule)

    def __call__(self, num_update: Any) -> float:
        n = _check_update(num_update)
        return float(self.schedule(max(n - self.offset, 0)))
