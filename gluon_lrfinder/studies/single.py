"""The single study: one range test.

Examples
--------
>>> from gluon_lrfinder.core.plan import SweepPlan
>>> from gluon_lrfinder.core.stopping import StoppingCriteria
>>> curve = run(learner, SweepPlan(1e-5, lr_end=10), StoppingCriteria(), progress=False)  # doctest: +SKIP
>>> curve.suggest(), curve.plot("lr.png"), curve.apply(trainer)                          # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from ..core.curve import LRCurve
from ..core.plan import SweepPlan
from ..core.stopping import StoppingRule
from ..engine.learner import Learner
from ..engine.sweep import run_sweep

__all__ = ["run"]


def run(learner: Learner, plan: SweepPlan, stopping: StoppingRule, **sweep: Any) -> LRCurve:
    """One sweep (:func:`gluon_lrfinder.engine.sweep.run_sweep`, whose keywords ``sweep`` takes);
    the curve is the result: ``suggest()``, ``plot()``, ``apply(trainer)``."""
    return run_sweep(learner, plan, stopping, **sweep)
