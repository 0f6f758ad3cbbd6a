"""gluon-lrfinder: the learning-rate range test for Apache MXNet Gluon models.

>>> from gluon_lrfinder import Learner, ContinuousBatchSampler, LRFinder, StoppingCriteria

The names here are the whole public surface. The package is layered in folders:
:mod:`gluon_lrfinder.core` (curves, smoothing, stopping, suggestion rules, reports, plots) imports
NumPy only, :mod:`gluon_lrfinder.schedules` holds the learning-rate schedules,
:mod:`gluon_lrfinder.engine` runs searches on MXNet, :mod:`gluon_lrfinder.studies` the repeated
and grid searches, :mod:`gluon_lrfinder.integrations` the Estimator handler, the command line and
the launcher; :mod:`gluon_lrfinder.demo` has the bundled data and nets. The MXNet-backed names
load on first use, so ``import gluon_lrfinder`` stays cheap.
"""
from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .core._version import __version__
from .core.curve import LRCurve
from .core.rules import SuggestionWarning
from .core.stopping import StoppingCriteria

if TYPE_CHECKING:  # editors and mypy see the real classes; at run time they load on first use
    from .engine.learner import Learner
    from .engine.reducers import KVStoreMeanReducer
    from .engine.sampler import ContinuousBatchSampler
    from .engine.sources import DataSource
    from .finder import LRFinder
    from .integrations.estimator import LRFinderHandler
    from .schedules.cycles import CosineAnnealingSchedule, OneCycleSchedule, TriangularSchedule
    from .schedules.wrappers import CoolDown, WarmUp


#: Where each MXNet-backed public name lives.
_LAZY = {
    "Learner": "engine.learner",
    "ContinuousBatchSampler": "engine.sampler",
    "DataSource": "engine.sources",
    "KVStoreMeanReducer": "engine.reducers",
    "LRFinder": "finder",
    "LRFinderHandler": "integrations.estimator",
    "TriangularSchedule": "schedules.cycles",
    "OneCycleSchedule": "schedules.cycles",
    "CosineAnnealingSchedule": "schedules.cycles",
    "WarmUp": "schedules.wrappers",
    "CoolDown": "schedules.wrappers",
}

__all__ = [
    "Learner",
    "ContinuousBatchSampler",
    "LRFinder",
    "StoppingCriteria",
    "LRCurve",
    "DataSource",
    "SuggestionWarning",
    "OneCycleSchedule",
    "TriangularSchedule",
    "CosineAnnealingSchedule",
    "WarmUp",
    "CoolDown",
    "LRFinderHandler",
    "KVStoreMeanReducer",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
