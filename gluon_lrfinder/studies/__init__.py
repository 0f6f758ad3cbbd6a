"""Studies: small runners over the one sweep engine, each returning a result with
``suggest()`` and ``plot()`` that :class:`~gluon_lrfinder.LRFinder` keeps and applies.

A study is a module (or any object) with ``run(learner, plan, stopping, **options)``:

* :mod:`~gluon_lrfinder.studies.single`: one range test -> :class:`~gluon_lrfinder.LRCurve`;
* :mod:`~gluon_lrfinder.studies.repeated`: several data orders -> :class:`~gluon_lrfinder.RepeatedSweeps`;
* :mod:`~gluon_lrfinder.studies.grid`: weight decay x momentum -> :class:`~gluon_lrfinder.GridResult`.

A new study (a batch-size sweep, say) is one new module of the same shape, with its own front
method on :class:`~gluon_lrfinder.LRFinder`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Protocol, Tuple

from ..core.plan import SweepPlan
from ..core.stopping import StoppingCriteria, StoppingRule, as_stopping_rule

__all__ = ["StudyResult", "Study", "sweep_args"]

_PLAN_KEYS = ("lr_start", "lr_multiplier", "lr_end", "num_iter", "mode", "max_iter")
_STOPPING_KEYS = ("smoothing", "min_iter", "threshold")


class StudyResult(Protocol):
    """What every study returns."""

    def suggest(self, method: Any = ...) -> float: ...

    def plot(self, path: Optional[str] = None, ax: Any = None) -> Any: ...


class Study(Protocol):
    """A study: ``run(learner, plan, stopping, **options) -> StudyResult``."""

    def run(self, learner: Any, plan: Any, stopping: Any, **options: Any) -> StudyResult: ...


def sweep_args(options: Dict[str, Any]) -> Tuple[SweepPlan, StoppingRule, Dict[str, Any]]:
    """``(plan, stopping, other options)`` of a study, from the keywords of :meth:`LRFinder.find
    <gluon_lrfinder.LRFinder.find>`.

    ``lr_start``, ``lr_end``, ``num_iter``, ``lr_multiplier``, ``mode``, ``max_iter`` make the
    sweep plan; ``smoothing``, ``min_iter``, ``threshold`` a :class:`StoppingCriteria`, unless
    ``stopping`` gives a rule of its own (both is a ``TypeError``). Keywords left as None take
    their defaults.

    Examples
    --------
    >>> plan, stop, rest = sweep_args({"lr_start": 1e-4, "threshold": 3.0, "progress": False})
    >>> plan.lr_start, stop.threshold, rest
    (0.0001, 3.0, {'progress': False})
    """
    options = {k: v for k, v in options.items() if not (k in _PLAN_KEYS + _STOPPING_KEYS and v is None)}
    plan = SweepPlan(**{k: options.pop(k) for k in _PLAN_KEYS if k in options})
    stop_keys = {k: options.pop(k) for k in _STOPPING_KEYS if k in options}
    stopping = options.pop("stopping", None)
    if stopping is None:
        stopping = StoppingCriteria(**stop_keys)
    elif stop_keys:
        raise TypeError(f"give stopping or {', '.join(stop_keys)}, not both "
                        "(e.g. stopping=StoppingCriteria(smoothing=...))")
    return plan, as_stopping_rule(stopping), options
