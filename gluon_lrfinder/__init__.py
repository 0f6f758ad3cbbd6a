"""gluon-lrfinder: the learning-rate range test for Apache MXNet Gluon models.

>>> from gluon_lrfinder import Learner, ContinuousBatchSampler, LRFinder, StoppingCriteria

The package is layered: :mod:`gluon_lrfinder.core` (curves, sweep plans, smoothing, stopping,
suggestion rules, study summaries) imports NumPy only; :mod:`gluon_lrfinder.engine` runs sweeps
on MXNet; :mod:`gluon_lrfinder.studies` holds the studies (single, repeated, grid) and
:mod:`gluon_lrfinder.integrations` the Estimator handler, the CLI and the launcher. The
MXNet-backed names (``Learner``, ``LRFinder``...) are loaded on first use, so
``import gluon_lrfinder`` stays cheap. The flat module paths of earlier versions
(``gluon_lrfinder.learner``, ``gluon_lrfinder.suggest``...) still import (see :data:`MOVED`).
"""
from __future__ import annotations

import sys
from importlib import import_module
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple

from .core.curve import LRCurve
from .core.grid import GridResult, summarize_grid
from .core.plan import SweepPlan
from .core.repeated import RepeatedSweeps, summarize_sweeps
from .core.report import SuggestionReport
from .core.rules import SuggestionWarning
from .core.stopping import LRFinderStoppingCriteria, StoppingCriteria, StoppingRule, StopReason

if TYPE_CHECKING:  # editors and mypy see the real classes; at run time they load on first use
    from .engine.learner import Learner, QueuedLoss
    from .engine.reducers import KVStoreMeanReducer
    from .engine.sampler import ContinuousBatchSampler
    from .engine.sources import DataSource
    from .engine.state import StateSnapshot
    from .engine.validation import ValidationSignal
    from .finder import LRFinder
    from .integrations.estimator import LRFinderHandler, find_lr_with_estimator, learner_from_estimator
    from .plotting import plot_bands, plot_curve, plot_grid
    from .schedule_wrappers import CoolDown, OffsetSchedule, WarmUp
    from .schedules import CosineAnnealingSchedule, OneCycleSchedule, TriangularSchedule

__version__ = "0.1.0"

_LAZY = {
    "Learner": "engine.learner",
    "QueuedLoss": "engine.learner",
    "ContinuousBatchSampler": "engine.sampler",
    "DataSource": "engine.sources",
    "LRFinder": "finder",
    "StateSnapshot": "engine.state",
    "plot_curve": "plotting",
    "KVStoreMeanReducer": "engine.reducers",
    "TriangularSchedule": "schedules",
    "OneCycleSchedule": "schedules",
    "CosineAnnealingSchedule": "schedules",
    "WarmUp": "schedule_wrappers",
    "CoolDown": "schedule_wrappers",
    "OffsetSchedule": "schedule_wrappers",
    "LRFinderHandler": "integrations.estimator",
    "find_lr_with_estimator": "integrations.estimator",
    "learner_from_estimator": "integrations.estimator",
    "plot_bands": "plotting",
    "plot_grid": "plotting",
    "ValidationSignal": "engine.validation",
}

#: The flat module paths of earlier versions and the modules that now hold their names:
#: ``import gluon_lrfinder.learner`` gives :mod:`gluon_lrfinder.engine.learner` itself.
MOVED: Dict[str, Tuple[str, ...]] = {
    "sweep": ("core.plan",),
    "smoothing": ("core.smoothing",),
    "stopping": ("core.stopping",),
    "suggest": ("core.rules", "core.report"),
    "curve": ("core.curve",),
    "repeats": ("core.repeated",),
    "grid": ("core.grid",),
    "learner": ("engine.learner",),
    "sampler": ("engine.sampler",),
    "state": ("engine.state",),
    "validation": ("engine.validation",),
    "datacheck": ("engine.datacheck",),
    "datasets": ("engine.datasets",),
    "estimator": ("integrations.estimator",),
    "cli": ("integrations.cli",),
    "launcher": ("integrations.launcher",),
    "_validate": ("core._validate",),
    "_arrays": ("engine._arrays",),
    "_rng": ("engine._rng",),
}

__all__ = [
    "Learner",
    "QueuedLoss",
    "ContinuousBatchSampler",
    "LRFinder",
    "StoppingCriteria",
    "LRFinderStoppingCriteria",
    "StoppingRule",
    "LRCurve",
    "StateSnapshot",
    "SuggestionWarning",
    "plot_curve",
    "KVStoreMeanReducer",
    "TriangularSchedule",
    "OneCycleSchedule",
    "CosineAnnealingSchedule",
    "WarmUp",
    "CoolDown",
    "OffsetSchedule",
    "LRFinderHandler",
    "find_lr_with_estimator",
    "learner_from_estimator",
    "SuggestionReport",
    "RepeatedSweeps",
    "summarize_sweeps",
    "plot_bands",
    "ValidationSignal",
    "GridResult",
    "summarize_grid",
    "plot_grid",
    "SweepPlan",
    "StopReason",
    "DataSource",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in MOVED:  # ``gluon_lrfinder.suggest`` as an attribute, as before
        return import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


class _MovedLoader(Loader):
    """Loads an old module path as the module(s) that now hold its names."""

    def __init__(self, targets: Sequence[str]) -> None:
        self.targets = targets

    def create_module(self, spec: ModuleSpec) -> Optional[ModuleType]:
        return None

    def exec_module(self, module: ModuleType) -> None:
        found = [import_module(f"{__name__}.{target}") for target in self.targets]
        if len(found) == 1:  # the module itself: same object, so patches and isinstance agree
            sys.modules[module.__name__] = found[0]
            return
        for real in found:
            module.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
        module.__doc__ = f"Names now in {', '.join(real.__name__ for real in found)} (kept for old imports)."


class _MovedFinder(MetaPathFinder):
    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[ModuleSpec]:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in MOVED:
            return None
        return ModuleSpec(fullname, _MovedLoader(MOVED[name]))


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedFinder())
