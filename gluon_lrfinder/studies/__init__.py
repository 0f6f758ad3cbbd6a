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

from typing import Any, Optional, Protocol

__all__ = ["StudyResult", "Study"]


class StudyResult(Protocol):
    """What every study returns."""

    def suggest(self, method: Any = ...) -> float: ...

    def plot(self, path: Optional[str] = None, ax: Any = None) -> Any: ...

    def apply(self, trainer: Any) -> Any: ...


class Study(Protocol):
    """A study: ``run(learner, plan, stopping, **options) -> StudyResult``."""

    def run(self, learner: Any, plan: Any, stopping: Any, **options: Any) -> StudyResult: ...
