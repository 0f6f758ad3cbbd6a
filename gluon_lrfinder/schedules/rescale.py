"""Put a new learning rate on a trainer whose optimizer has an ``lr_scheduler``, whatever its build.

:meth:`gluon_lrfinder.LRFinder.apply` and the Estimator handler set the suggestion on a scheduler
by scaling every rate of the schedule by ``lr / reference``, where the reference is the rate the
schedule is built around:

* this package's schedules: their peak (``base_lr``; setting it rescales them by design);
* a composite with a ``schedulers`` list (GluonCV's ``LRSequential``, e.g. a linear warm-up then
  a cosine decay as GluonCV's ``train_imagenet.py`` builds it): every phase is rescaled, the
  reference is the highest of theirs;
* a phase with ``base_lr`` and ``target_lr`` (GluonCV's ``LRScheduler``): the higher of the two;
* MXNet's schedulers (``FactorScheduler``, ``MultiFactorScheduler``, ``PolyScheduler``,
  ``CosineScheduler``, with or without warm-up): the ``base_lr`` they were built with (kept in
  ``warmup_final_lr``); the warm-up's start, the current and the final rate scale with it.

Then the rates the schedule yields from the current update on are read (on copies: a scheduler
may keep state) before and after: if they did not all scale by the factor, the scheduler is
left as it was and a ``ValueError`` says what to do. A scheduler is never changed silently
wrong, as setting ``base_lr`` alone would (GluonCV's ``LRSequential`` and MXNet's
``CosineScheduler`` ignore it).
"""
from __future__ import annotations

import copy
import math
from typing import Any, List

from ._base import _TrainerParams

__all__ = ["rescale_schedule", "schedule_reference"]

#: Attributes that hold a learning rate in MXNet's and GluonCV's schedulers.
_RATE_ATTRIBUTES = (
    "base_lr", "base_lr_orig", "final_lr", "target_lr", "warmup_begin_lr", "warmup_final_lr",
    "stop_factor_lr", "learning_rate",
)
#: Steps ahead of the current update at which the rates are compared.
_PROBES = (0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _phases(scheduler: Any) -> Any:
    phases = getattr(scheduler, "schedulers", None)
    return phases if isinstance(phases, (list, tuple)) and phases else None


def schedule_reference(scheduler: Any) -> float:
    """The rate ``scheduler`` is built around (see the module's text).

    Examples
    --------
    >>> import mxnet as mx
    >>> schedule_reference(mx.lr_scheduler.CosineScheduler(1000, base_lr=0.4, warmup_steps=50))
    0.4
    """
    if isinstance(scheduler, _TrainerParams):
        return float(scheduler.base_lr)
    phases = _phases(scheduler)
    if phases is not None:
        return max(schedule_reference(phase) for phase in phases)
    if _number(getattr(scheduler, "target_lr", None)):
        return float(max(scheduler.base_lr, scheduler.target_lr))
    if _number(getattr(scheduler, "warmup_final_lr", None)):
        return float(scheduler.warmup_final_lr)
    return float(scheduler.base_lr)


def _scale_rates(scheduler: Any, factor: float) -> None:
    """Multiply every rate of ``scheduler`` (and of its phases) by ``factor``."""
    if isinstance(scheduler, _TrainerParams):
        scheduler.base_lr = scheduler.base_lr * factor
        return
    for phase in _phases(scheduler) or ():
        _scale_rates(phase, factor)
    for name in _RATE_ATTRIBUTES:
        value = getattr(scheduler, name, None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            setattr(scheduler, name, value * factor)


def _rates(scheduler: Any, num_update: int) -> List[float]:
    """The rates a copy of ``scheduler`` yields at the probe steps from ``num_update`` on."""
    probe = copy.deepcopy(scheduler)
    return [float(probe(num_update + k)) for k in _PROBES]


def rescale_schedule(scheduler: Any, lr: float, num_update: int = 0) -> float:
    """Scale ``scheduler``'s rates so that its reference rate becomes ``lr``; return the factor.

    Raises
    ------
    ValueError
        When the rates it yields from ``num_update`` on did not all scale by the factor (a
        scheduler of unknown build); ``scheduler`` is then left as it was.

    Examples
    --------
    >>> import mxnet as mx
    >>> s = mx.lr_scheduler.CosineScheduler(1000, base_lr=0.4, warmup_steps=100, warmup_begin_lr=0.04)
    >>> rescale_schedule(s, 0.1)
    0.25
    >>> round(s(0), 6), round(s(100), 6), round(s(1000), 6)
    (0.01, 0.1, 0.0)
    """
    reference = schedule_reference(scheduler)
    name = type(scheduler).__name__
    if not (math.isfinite(reference) and reference > 0):
        raise ValueError(
            f"the trainer's lr_scheduler ({name}) has no positive rate to scale (reference rate {reference!r}); "
            f"build it around lr={lr:.4g} yourself and set it with trainer.optimizer.lr_scheduler = ..."
        )
    factor = lr / reference
    before = _rates(scheduler, num_update)
    trial = copy.deepcopy(scheduler)
    _scale_rates(trial, factor)
    after = _rates(trial, num_update)
    scaled = [math.isclose(a, b * factor, rel_tol=1e-6, abs_tol=1e-12 * lr) for a, b in zip(after, before)]
    # this package's WarmUp keeps its begin_lr by design: its other rates must scale
    exact = all(scaled) if not isinstance(scheduler, _TrainerParams) else any(
        ok and b > 0 for ok, b in zip(scaled, before))
    if factor != 1 and (not exact or after == before):
        step = next((num_update + k for k, ok in zip(_PROBES, scaled) if not ok), num_update)
        got, was = after[_PROBES.index(step - num_update)], before[_PROBES.index(step - num_update)]
        raise ValueError(
            f"cannot set lr={lr:.4g} on the trainer's lr_scheduler ({name}): scaling its rates by {factor:.4g} "
            f"did not scale the schedule (at update {step} it would yield {got:.4g}, expected {was * factor:.4g}), "
            "so it was left unchanged. Build the schedule around the suggested rate yourself (every phase's "
            "rates) and set it with trainer.optimizer.lr_scheduler = ..., or pass lr=... to use another rate"
        )
    _scale_rates(scheduler, factor)
    return factor
