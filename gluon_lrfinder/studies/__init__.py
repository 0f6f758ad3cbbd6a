"""Studies: small runners over the one sweep engine, each returning a result with
``suggest()``, ``plot()`` and ``apply(trainer)``.

A study is a module (or any object) with ``run(learner, plan, stopping, **options)``:

* :mod:`~gluon_lrfinder.studies.single`: one range test -> :class:`~gluon_lrfinder.LRCurve`;
* :mod:`~gluon_lrfinder.studies.repeated`: several data orders -> :class:`~gluon_lrfinder.RepeatedSweeps`;
* :mod:`~gluon_lrfinder.studies.grid`: weight decay x momentum -> :class:`~gluon_lrfinder.GridResult`.

A new study (a batch-size sweep, say) is one new module of the same shape, run with
``LRFinder(learner).run(my_study, plan, **options)``.
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

    def apply(self, trainer: Any) -> Any: ...


class Study(Protocol):
    """A study: ``run(learner, plan, stopping, **options) -> StudyResult``."""

    def run(self, learner: Any, plan: Any, stopping: Any, **options: Any) -> StudyResult: ...


def sweep_args(plan: Any, stopping: Any, options: Dict[str, Any]) -> Tuple[SweepPlan, StoppingRule, Dict[str, Any]]:
    """``(plan, stopping, other options)`` of a study, from a plan and a rule or the old keywords.

    ``lr_start``, ``lr_end``, ``num_iter``, ``lr_multiplier``, ``mode``, ``max_iter`` make a
    :class:`SweepPlan`; ``smoothing``, ``min_iter``, ``threshold`` a :class:`StoppingCriteria`;
    a number for ``plan`` is ``lr_start``. Giving both forms is a ``TypeError``.

    Examples
    --------
    >>> plan, stop, rest = sweep_args(None, None, {"lr_start": 1e-4, "threshold": 3.0, "progress": False})
    >>> plan.lr_start, stop.threshold, rest
    (0.0001, 3.0, {'progress': False})
    """
    options = dict(options)
    if isinstance(plan, (int, float)) and not isinstance(plan, bool):  # find(1e-5): the old lr_start
        options["lr_start"], plan = plan, None
    old_plan = {k: options.pop(k) for k in _PLAN_KEYS if k in options}
    old_stop = {k: options.pop(k) for k in _STOPPING_KEYS if k in options}
    if plan is None:
        plan = SweepPlan(**old_plan)
    elif not isinstance(plan, SweepPlan):
        raise TypeError(f"plan must be a SweepPlan, got {type(plan).__name__}")
    elif old_plan:
        raise TypeError(f"give the plan or {', '.join(old_plan)}, not both")
    if stopping is None:
        stopping = StoppingCriteria(**old_stop)
    elif old_stop:
        raise TypeError(f"give stopping or {', '.join(old_stop)}, not both "
                        "(e.g. stopping=StoppingCriteria(smoothing=...))")
    return plan, as_stopping_rule(stopping), options
