"""Argument checks shared by every module: each error names the parameter, the rule and the value.

Plain Python, no MXNet import.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Optional


def check_number(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise ``TypeError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    return value


def check_positive(name: str, value: Any) -> float:
    """``value`` must be a finite number > 0."""
    value = check_number(name, value)
    if not (0.0 < value < math.inf):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_nonnegative(name: str, value: Any) -> float:
    """``value`` must be a number >= 0."""
    value = check_number(name, value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


def check_greater(name: str, value: Any, bound: float, bound_name: Optional[str] = None) -> float:
    """``value`` must be a finite number > ``bound``."""
    value = check_number(name, value)
    if not (bound < value < math.inf):
        what = f"{bound_name} ({bound!r})" if bound_name else repr(bound)
        raise ValueError(f"{name} must be a finite number > {what}, got {value!r}")
    return value


def check_unit_interval(name: str, value: Any) -> float:
    """``value`` must lie in [0, 1)."""
    value = check_number(name, value)
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` must be an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices) -> Any:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value
