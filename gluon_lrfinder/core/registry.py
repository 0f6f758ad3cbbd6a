"""The rule registry: what a rule reads (a curve), what a registered rule is, and how one is added.

A rule is a function of the curve, ``rule(curve, bandwidth=None) -> lr``, registered once by name
with a one-line description. :mod:`gluon_lrfinder.core.rules` registers the package's rules and
is the way in (``get_rule``); this module holds the machinery. No MXNet import.

Examples
--------
>>> from gluon_lrfinder.core.rules import get_rule
>>> get_rule("steepest").name
'steepest'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Protocol

from numpy.typing import ArrayLike

__all__ = ["CurveLike", "CurvePoints", "Rule", "RULES", "register_rule", "optimizer_of"]


class CurveLike(Protocol):
    """What a rule reads: a curve's points and its settings (``settings["optimizer"]``...)."""

    @property
    def lrs(self) -> ArrayLike: ...

    @property
    def losses(self) -> ArrayLike: ...

    @property
    def settings(self) -> Dict[str, Any]: ...


@dataclass
class CurvePoints:
    """A bare curve for the rules: points and settings, e.g. a validation signal or two arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder.core.rules import get_rule
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + 50 * np.maximum(lrs - 0.1, 0)
    >>> get_rule("steepest")(CurvePoints(lrs, losses))
    0.01
    """

    lrs: ArrayLike
    losses: ArrayLike
    settings: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """A suggestion rule: ``rule(curve, bandwidth=None) -> lr``, with its name and a one-line description.

    Examples
    --------
    >>> from gluon_lrfinder.core.rules import get_rule
    >>> get_rule("minimum").description
    'one tenth of the LR at the smoothed loss minimum'
    """

    name: str
    func: Callable[[CurveLike, Optional[float]], float]
    description: str

    def __call__(self, curve: CurveLike, bandwidth: Optional[float] = None) -> float:
        return float(self.func(curve, bandwidth))


#: Every registered rule by name: ``get_rule(name)``, ``suggest(method=name)``, the CLI's ``--method``.
RULES: Dict[str, Rule] = {}


def register_rule(name: str, description: str) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register ``func(curve, bandwidth) -> lr`` as the rule ``name`` (a decorator).

    ``description`` is the one line the CLI and reports print. Registering a name twice is an error.

    Examples
    --------
    >>> from gluon_lrfinder.core.rules import minimum
    >>> @register_rule("half_minimum_demo", "half the LR at the loss minimum")
    ... def half_minimum(curve, bandwidth=None):
    ...     return 5 * minimum(curve.lrs, curve.losses, bandwidth)
    >>> "half_minimum_demo" in RULES
    True
    >>> del RULES["half_minimum_demo"]
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")

    def register(func: Callable[..., float]) -> Callable[..., float]:
        if name in RULES:
            raise ValueError(f"name: a rule {name!r} is already registered; pick another name")
        RULES[name] = Rule(name, func, " ".join(description.split()))
        return func

    return register


def _on_points(func: Callable[..., float]) -> Callable[[CurveLike, Optional[float]], float]:
    """A rule of the curve from a rule of the arrays ``func(lrs, losses, bandwidth)``."""

    def rule(curve: CurveLike, bandwidth: Optional[float] = None) -> float:
        return float(func(curve.lrs, curve.losses, bandwidth))

    rule.__name__ = getattr(func, "__name__", type(func).__name__)
    return rule


def optimizer_of(curve: CurveLike) -> Optional[str]:
    """The optimizer's class name the curve recorded (``settings["optimizer"]``), or None."""
    settings = getattr(curve, "settings", None) or {}
    value = settings.get("optimizer")
    return None if value is None else str(value)


