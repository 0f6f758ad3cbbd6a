"""gluon-lrfinder: the learning-rate range test for Apache MXNet Gluon models.

>>> from gluon_lrfinder import Learner, ContinuousBatchSampler, LRFinder, StoppingCriteria

The pure parts (sweeps, smoothing, stopping, suggestions, curves) import without MXNet; the
MXNet-backed names (``Learner``, ``ContinuousBatchSampler``, ``LRFinder``) are loaded on first
use, so ``import gluon_lrfinder`` stays cheap.
"""
from importlib import import_module
from typing import Any

from .curve import LRCurve
from .stopping import LRFinderStoppingCriteria, StoppingCriteria
from .suggest import SuggestionWarning

__version__ = "0.1.0"

_LAZY = {
    "Learner": "learner",
    "ContinuousBatchSampler": "sampler",
    "LRFinder": "finder",
    "StateSnapshot": "state",
    "plot_curve": "plotting",
    "KVStoreMeanReducer": "distributed",
}

__all__ = [
    "Learner",
    "ContinuousBatchSampler",
    "LRFinder",
    "StoppingCriteria",
    "LRFinderStoppingCriteria",
    "LRCurve",
    "StateSnapshot",
    "SuggestionWarning",
    "plot_curve",
    "KVStoreMeanReducer",
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
