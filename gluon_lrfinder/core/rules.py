"""Suggestion rules and their registry: from a range-test curve to a learning rate. No MXNet import.

A rule is a function of the curve, ``rule(curve, bandwidth=None) -> lr``, registered once by
name with a one-line description (:func:`register_rule`); :func:`get_rule` is the one way in,
used by ``LRCurve.suggest``, the report, every study, the Estimator handler and the CLI. The
curve carries its settings, so ``blend`` reads the optimizer the sweep recorded wherever it is
called. The array functions (:func:`steepest`, :func:`blend`...) read the zero-phase smoothed
curve after dropping non-finite losses; ``raw_steepest`` and ``ema_steepest`` are baselines.

Examples
--------
>>> import numpy as np
>>> lrs = np.logspace(-5, 0, 60)
>>> losses = 2.0 - np.tanh(2 * (np.log10(lrs) + 3)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
>>> round(float(np.log10(steepest(lrs, losses))), 1)
-3.0
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import edge as _edge
from .registry import RULES, CurveLike, Rule, _on_points, optimizer_of, register_rule
from .smoothing import ema, smoothed_curve, sorted_finite, zero_phase

__all__ = [
    "get_rule",
    "DEFAULT_METHOD",
    "Method",
    "SuggestionWarning",
    "steepest",
    "valley",
    "minimum",
    "blend",
    "blend_fraction",
    "raw_steepest",
    "ema_steepest",
    "lr_range",
    "in_range",
    "blend_in_range",
    "EMA_NORMALISED",
]

#: How far :func:`blend` goes from the steepest descent towards the minimum (in log-LR) when the
#: optimizer is not known: 0, the steepest point (docs/evidence.md has the measurements).
BLEND_FRACTION = 0.0
#: Optimizers (lower-case class names) that divide each step by a moving average of squared
#: gradients. In a range test their loss falls off a cliff and the best rate sits at the steepest
#: point; with every other optimizer (SGD, NAG, AdaGrad's ever-growing sum, ...) the useful range
#: is broad and the best rate sits further towards the bottom of the curve.
EMA_NORMALISED = frozenset({"adam", "adamw", "adamax", "nadam", "rmsprop", "adadelta", "ftml", "lamb"})
#: :func:`blend`'s fraction when the optimizer is known: for :data:`EMA_NORMALISED` optimizers
#: and for the others (chosen on held-out tasks, see docs/evidence.md).
BLEND_FRACTION_BY_KIND = {"ema_normalised": 0.0, "other": 0.3}


class SuggestionWarning(UserWarning):
    """The curve is usable but suspicious (it never fell, or never diverged)."""


def _descent_end(smooth: np.ndarray) -> int:
    """Index of the curve's minimum before its edge of stability (:func:`gluon_lrfinder.core.edge.descent_end`):
    the rules look only at the part before the first clear rise, never at a second dip after it."""
    return _edge.descent_end(smooth)


def steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """The LR where the smoothed loss falls fastest per decade, before the curve's minimum.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    bandwidth : float, optional
        Smoothing width in decades (see :func:`~gluon_lrfinder.core.smoothing.zero_phase`).

    Returns
    -------
    float
        The suggested learning rate.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2))     # falls fastest at 1e-2
    >>> float(steepest(lrs, losses))
    0.01
    """
    lrs, smooth = smoothed_curve(lrs, losses, bandwidth)
    return float(lrs[_steepest_index(lrs, smooth)])


def _steepest_index(lrs: np.ndarray, smooth: np.ndarray) -> int:
    end = _descent_end(smooth)
    if end < 1:
        return 0
    return int(np.argmin(np.gradient(smooth[: end + 1], np.log10(lrs[: end + 1]))))


def blend(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None, fraction: float = BLEND_FRACTION
) -> float:
    """The LR ``fraction`` of the way, in log-LR, from the steepest descent to the loss minimum.

    ``lr = steepest ** (1 - fraction) * lr_at_minimum ** fraction``. It adapts to the curve's
    shape: where the loss falls off a cliff (Adam, most MLPs), the steepest point and the
    minimum are close and so is the answer; where the descent is broad (SGD on a BatchNorm net
    or a linear model), the answer moves towards the bottom of the curve, where those recipes
    train best. ``fraction=0`` is :func:`steepest`, ``fraction=1`` the LR at the minimum.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    bandwidth : float, optional
        Smoothing width in decades (see :func:`~gluon_lrfinder.core.smoothing.zero_phase`).
    fraction : float, default :data:`BLEND_FRACTION`
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 2 - np.tanh(2 * (np.log10(lrs) + 3)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    >>> steepest(lrs, losses, bandwidth=0), 10 * minimum(lrs, losses, bandwidth=0)
    (0.001, 0.1)
    >>> round(float(blend(lrs, losses, bandwidth=0, fraction=0.5)), 6)
    0.01
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    lrs, smooth = smoothed_curve(lrs, losses, bandwidth)
    low, high = math.log10(lrs[_steepest_index(lrs, smooth)]), math.log10(lrs[_descent_end(smooth)])
    return float(10 ** (low + fraction * (high - low)))


def valley(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """The middle (in log-LR) of the longest descending stretch of the smoothed curve.

    The stretch is the longest strictly decreasing subsequence of the smoothed losses, counted
    as fastai's ``valley`` rule counts it (as many points as the subsequence has, ending where it
    ends); the suggestion sits halfway along it, well inside the region where the loss is still
    falling.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 21), np.linspace(0.6, 5, 10)])
    >>> round(float(np.log10(valley(lrs, losses, bandwidth=0))), 1)
    -2.1
    """
    lrs, smooth = smoothed_curve(lrs, losses, bandwidth)
    n = smooth.size
    # A step counts as "down" only if it drops by more than a sliver of the curve's range, so
    # that rounding noise on a flat plateau does not stretch the valley into it.
    tol = 1e-3 * float(np.nanmax(smooth) - np.nanmin(smooth))
    length = np.ones(n, dtype=np.int64)  # longest decreasing subsequence ending at i
    for i in range(1, n):
        higher = np.flatnonzero(smooth[:i] > smooth[i] + tol)
        if higher.size:
            length[i] = int(length[higher].max()) + 1
    end = int(np.argmax(length))
    # as fastai counts it: the valley is as many points as the subsequence has, ending at its end
    # (a subsequence that skips noisy points on a plateau does not stretch the valley into it)
    first = max(0, end - int(length[end]))
    return float(lrs[first + (end - first) // 2])


def blend_fraction(optimizer: Optional[str] = None) -> float:
    """:func:`blend`'s fraction for an optimizer (its class name, e.g. ``"Adam"``, ``"NAG"``).

    :data:`BLEND_FRACTION_BY_KIND` for known kinds, :data:`BLEND_FRACTION` when ``optimizer`` is
    None. :class:`~gluon_lrfinder.LRFinder` passes the trainer's optimizer.

    Examples
    --------
    >>> blend_fraction("Adam"), blend_fraction("SGD"), blend_fraction(None) == BLEND_FRACTION
    (0.0, 0.3, True)
    """
    if optimizer is None:
        return BLEND_FRACTION
    kind = "ema_normalised" if str(optimizer).lower() in EMA_NORMALISED else "other"
    return BLEND_FRACTION_BY_KIND[kind]


def minimum(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """One tenth of the LR at the smoothed curve's minimum ("minimum / 10").

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = (np.log10(lrs) + 1.0) ** 2                # minimum at 1e-1
    >>> round(float(minimum(lrs, losses, bandwidth=0)), 6)
    0.01
    """
    lrs, smooth = smoothed_curve(lrs, losses, bandwidth)
    return float(lrs[_descent_end(smooth)] / 10.0)


def raw_steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """Baseline: steepest descent of the raw (unsmoothed) curve over its whole length.

    What a plain plot of the tutorial's curve points to; ``bandwidth`` is ignored.
    """
    lrs, losses = sorted_finite(lrs, losses)
    return float(lrs[int(np.argmin(np.gradient(losses)))])


def ema_steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """Baseline: steepest gradient of the causal EMA curve (smoothing 0.98, as the PyTorch
    Lightning tuner records it), ignoring the first and last 10 points; ``bandwidth`` is ignored.
    """
    lrs, losses = sorted_finite(lrs, losses)
    # Lightning bias-corrects its zero-initialised EMA; ours starts at the first loss and needs none
    smooth = ema(losses, smoothing=0.98)
    lo, hi = (10, smooth.size - 10) if smooth.size > 25 else (0, smooth.size)
    return float(lrs[lo + int(np.argmin(np.gradient(smooth[lo:hi])))])


def lr_range(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None, optimizer: Optional[str] = None
) -> Tuple[float, float]:
    """A ``(min_lr, max_lr)`` range for one-cycle and cyclical schedules, below the edge of stability.

    ``max_lr`` goes a fraction of the way (in log-LR) from the steepest point ``s``
    (:func:`steepest`) to the LR at the loss minimum ``m``, both read on the curve below its edge
    of stability (:mod:`gluon_lrfinder.core.edge`): 0.1 for the optimizers of
    :data:`EMA_NORMALISED`, 0.75 for the others (SGD, NAG, AdaGrad, Signum, LARS...), 0.6 when
    ``optimizer`` is None, and 0.45 whatever the optimizer when the fall is broad (spread over 2
    decades or more, ``edge.fall_width``); at most ``m / 2`` and the edge / 1.25
    (``edge.EDGE_MARGIN``), at least ``s``; ``min_lr = max_lr / 3`` (what
    ``OneCycleSchedule.from_finder`` cycles over). A shallow, clear fall (under 30% of the
    starting loss, at least 10 noise SDs) is read at its bottom instead: the top is 1.5 times the
    faithful curve's lowest point, at most the edge (``edge.shallow_top``). The default
    suggestion (the rule ``"blend_in_range"``) is :func:`blend` clipped into the range, so it
    lies inside it. How the constants (``edge.RANGE_FRACTION_BY_KIND``...) were chosen is on the
    docs' evidence page.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    bandwidth : float, optional
        Smoothing width in decades.
    optimizer : str, optional
        The optimizer's class name (``LRCurve.suggest_range`` passes the one the sweep recorded).

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-5, 0, 51)
    >>> losses = 2.0 - np.tanh(2 * (np.log10(lrs) + 3.0)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    >>> low, high = lr_range(lrs, losses, optimizer="Adam")
    >>> bool(steepest(lrs, losses) <= high < 10 * minimum(lrs, losses)), round(high / low, 6)
    (True, 3.0)
    >>> lr_range(lrs, losses, optimizer="SGD")[1] > high       # further towards the minimum
    True
    """
    top, _ = _range_top(lrs, losses, bandwidth, optimizer)
    return float(top / _edge.RANGE_SPAN), float(top)


def _range_top(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float], optimizer: Optional[str]
) -> Tuple[float, bool]:
    """The range's top, and whether it was read at the bottom of a shallow fall (``edge.shallow_top``)."""
    x, y = sorted_finite(lrs, losses)
    smooth = zero_phase(x, y, bandwidth)
    steep = float(x[_steepest_index(x, smooth)])
    shallow = _edge.shallow_top(x, y, smooth, steep)
    if shallow is not None:
        return shallow, True
    edge = _edge.edge_index(smooth)
    end = _descent_end(smooth)
    top = _edge.range_top(
        steep,
        float(x[end]),
        math.inf if edge is None else float(x[edge]),
        _edge.range_fraction(optimizer, EMA_NORMALISED, _edge.fall_width(x, smooth, end)),
    )
    return float(top), False


def in_range(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None, optimizer: Optional[str] = None
) -> float:
    """The suggestion for a constant rate inside :func:`lr_range`: its top / ``edge.SUGGEST_DIVISOR`` (1.78).

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-5, 0, 51)
    >>> losses = 2.0 - np.tanh(2 * (np.log10(lrs) + 3.0)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    >>> low, high = lr_range(lrs, losses, optimizer="SGD")
    >>> bool(low < in_range(lrs, losses, optimizer="SGD") < high)
    True
    """
    return float(lr_range(lrs, losses, bandwidth, optimizer)[1] / _edge.SUGGEST_DIVISOR)


def blend_in_range(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None, optimizer: Optional[str] = None
) -> float:
    """:func:`blend` with the optimizer's fraction (:func:`blend_fraction`), clipped into :func:`lr_range`.

    Both read the curve only below its edge of stability, so the answer lies inside the range by
    construction: the blend where it already does, else the nearer end of the range. After a
    shallow fall, read at its bottom (``edge.shallow_top``), it is the range's top / 1.78.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-5, 0, 51)
    >>> losses = 2.0 - np.tanh(2 * (np.log10(lrs) + 3.0)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    >>> low, high = lr_range(lrs, losses, optimizer="SGD")
    >>> bool(low <= blend_in_range(lrs, losses, optimizer="SGD") <= high)
    True
    """
    high, shallow = _range_top(lrs, losses, bandwidth, optimizer)
    if shallow:  # read at the bottom: the rule "range"'s answer
        return float(high / _edge.SUGGEST_DIVISOR)
    lr = blend(lrs, losses, bandwidth, fraction=blend_fraction(optimizer))
    return float(min(max(lr, high / _edge.RANGE_SPAN), high))


@register_rule(
    "blend",
    "the LR a fraction of the way, in log-LR, from the steepest descent to the loss minimum "
    "(0.3 for SGD-like optimizers, 0 for Adam-like ones)",
)
def _blend_rule(curve: CurveLike, bandwidth: Optional[float] = None) -> float:
    return blend(curve.lrs, curve.losses, bandwidth, fraction=blend_fraction(optimizer_of(curve)))


@register_rule(
    "range",
    "inside suggest_range(): its top / 1.78 (the top goes from the steepest descent towards the minimum, "
    "by optimizer kind and fall width, below the edge)",
)
def _range_rule(curve: CurveLike, bandwidth: Optional[float] = None) -> float:
    return in_range(curve.lrs, curve.losses, bandwidth, optimizer_of(curve))


@register_rule(
    "blend_in_range",
    "blend (0.3 of the way from the steepest descent to the minimum for SGD-like optimizers, 0 for "
    "Adam-like ones) clipped into suggest_range()",
)
def _blend_in_range_rule(curve: CurveLike, bandwidth: Optional[float] = None) -> float:
    return blend_in_range(curve.lrs, curve.losses, bandwidth, optimizer_of(curve))


register_rule("steepest", "the LR where the smoothed loss falls fastest, before its minimum")(_on_points(steepest))
register_rule("valley", "the middle of the longest descending stretch of the smoothed loss")(_on_points(valley))
register_rule("minimum", "one tenth of the LR at the smoothed loss minimum")(_on_points(minimum))
register_rule("raw_steepest", "baseline: the steepest descent of the raw, unsmoothed curve")(_on_points(raw_steepest))
register_rule("ema_steepest", "baseline: the steepest descent of the causal moving average (Lightning's)")(
    _on_points(ema_steepest)
)

#: The rule ``suggest()`` uses by default (docs/evidence.md has how it was chosen).
DEFAULT_METHOD = "blend_in_range"

#: A rule: a registered name, a :class:`Rule`, or a callable ``rule(lrs, losses, bandwidth) -> lr``.
Method = Union[str, Rule, Callable[..., float]]


def get_rule(method: Method = DEFAULT_METHOD) -> Rule:
    """The :class:`Rule` for a registered name, a :class:`Rule`, or a callable of the arrays.

    The one place a ``method`` argument is checked. A callable is called as
    ``rule(lrs, losses, bandwidth)``; its name is its ``__name__``, its description the first
    line of its docstring.

    Raises
    ------
    ValueError
        For a name that is not registered (the message lists the names of :data:`RULES`).
    TypeError
        For anything else that is not callable.

    Examples
    --------
    >>> get_rule("minimum").name
    'minimum'
    >>> def half_minimum(lrs, losses, bandwidth=None):
    ...     '''Half the LR at the minimum.'''
    ...     return 5 * minimum(lrs, losses, bandwidth)
    >>> get_rule(half_minimum).description
    'Half the LR at the minimum.'
    """
    if isinstance(method, Rule):
        return method
    if isinstance(method, str):
        if method not in RULES:
            raise ValueError(
                f"method must be one of {', '.join(map(repr, RULES))} or a callable "
                f"rule(lrs, losses, bandwidth), got {method!r}"
            )
        return RULES[method]
    if callable(method):
        name = getattr(method, "__name__", type(method).__name__)
        doc = (getattr(method, "__doc__", None) or "").strip().splitlines()
        return Rule(name, _on_points(method), doc[0].strip() if doc else name)
    raise TypeError(
        f"method must be a rule name ({', '.join(map(repr, RULES))}) or a callable "
        f"rule(lrs, losses, bandwidth), got {type(method).__name__}"
    )
