"""gluon-lrfinder: the learning-rate range test for Apache MXNet Gluon models.

>>> from gluon_lrfinder import Learner, ContinuousBatchSampler, LRFinder, StoppingCriteria

The pure parts (sweeps, smoothing, stopping, suggestions, curves) import without MXNet; the
MXNet-backed names (``Learner``, ``ContinuousBatchSampler``, ``LRFinder``) are loaded on first
use, so ``import gluon_lrfinder`` stays cheap.
"""
from importlib import import_module
from typing import Any

from .curve import LRCurve
from .grid import GridResult, summarize_grid
from .repeats import RepeatedSweeps, summarize_sweeps
from .stopping import LRFinderStoppingCriteria, StoppingCriteria, StoppingRule
from .suggest import SuggestionReport, SuggestionWarning

__version__ = "0.1.0"

_LAZY = {
    "Learner": "learner",
    "QueuedLoss": "learner",
    "ContinuousBatchSampler": "sampler",
    "LRFinder": "finder",
    "StateSnapshot": "state",
    "plot_curve": "plotting",
    "KVStoreMeanReducer": "distributed",
    "TriangularSchedule": "schedules",
    "OneCycleSchedule": "schedules",
    "CosineAnnealingSchedule": "schedules",
    "WarmUp": "schedules",
    "CoolDown": "schedules",
    "OffsetSchedule": "schedules",
    "LRFinderHandler": "estimator",
    "find_lr_with_estimator": "estimator",
    "learner_from_estimator": "estimator",
    "plot_bands": "plotting",
    "plot_grid": "plotting",
    "ValidationSignal": "validation",
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
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
