"""Suggestion rules: pure functions from a range-test curve to a learning rate. No MXNet import.

Every rule has the signature ``rule(lrs, losses, bandwidth=None) -> float``. The rules read the
zero-phase smoothed curve (:func:`gluon_lrfinder.smoothing.zero_phase`), after dropping
non-finite losses, so they neither lag the curve nor react to one noisy batch (or one huge
loss). ``raw_steepest`` and ``ema_steepest`` reproduce what other finders do and exist for
comparison. The default, :func:`blend`, also reads the optimizer's kind when :func:`suggest` is
told it (:class:`~gluon_lrfinder.LRFinder` passes the optimizer the sweep recorded).

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
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import edge as _edge
from .smoothing import ema, zero_phase

__all__ = [
    "blend",
    "blend_fraction",
    "BLEND_FRACTION",
    "BLEND_FRACTION_BY_KIND",
    "EMA_NORMALISED",
    "steepest",
    "valley",
    "minimum",
    "raw_steepest",
    "ema_steepest",
    "lr_range",
    "diagnose",
    "suggest",
    "disagreement",
    "COMPARED",
    "DISAGREE_DECADES",
    "MIN_DECADES",
    "SUGGESTERS",
    "DEFAULT_METHOD",
    "MIN_POINTS",
    "SuggestionWarning",
    "SuggestionReport",
    "report",
    "resolve_rule",
    "Method",
    "enough_points",
    "finite_points",
    "TOO_FEW_POINTS",
    "warn_flags",
]

#: Fewest finite points a curve needs before any rule answers.
MIN_POINTS = 5
#: The flag of :func:`diagnose` for a curve with fewer than :data:`MIN_POINTS` finite points.
TOO_FEW_POINTS = "too few points"
#: A curve spanning fewer decades of LR than this is flagged as a short sweep.
MIN_DECADES = 1.5
#: How far :func:`blend` goes from the steepest descent towards the minimum (in log-LR) when the
#: optimizer is not known. Without the optimizer, no fraction above 0 did better on
#: ``benchmarks/suggestion_regret.py`` (leave-one-task-out picks 0 or 0.1, mean regret 0.21 at 0
#: against 0.28 at 0.2): the blend is then the steepest point.
BLEND_FRACTION = 0.0
#: Optimizers (lower-case class names) that divide each step by a moving average of squared
#: gradients. In a range test their loss falls off a cliff and the best rate sits at the steepest
#: point; with every other optimizer (SGD, NAG, AdaGrad's ever-growing sum, ...) the useful range
#: is broad and the best rate sits further towards the bottom of the curve.
EMA_NORMALISED = frozenset({"adam", "adamw", "adamax", "nadam", "rmsprop", "adadelta", "ftml", "lamb"})
#: :func:`blend`'s fraction when the optimizer is known: for :data:`EMA_NORMALISED` optimizers
#: and for the others (chosen by leave-one-task-out validation, see docs/suggestions.md).
BLEND_FRACTION_BY_KIND = {"ema_normalised": 0.0, "other": 0.3}
#: Rules whose suggestions lie further apart than this (decades) are flagged as disagreeing.
DISAGREE_DECADES = 1.0


class SuggestionWarning(UserWarning):
    """The curve is usable but suspicious (it never fell, or never diverged)."""


def finite_points(lrs: ArrayLike, losses: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """The points with a finite loss and a finite LR > 0, in the given order, as float64 arrays.

    Examples
    --------
    >>> [a.tolist() for a in finite_points([1e-3, 1e-2, 1e-1], [1.0, float("nan"), 2.0])]
    [[0.001, 0.1], [1.0, 2.0]]
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if lrs.ndim != 1 or lrs.shape != losses.shape:
        raise ValueError(
            f"lrs and losses must be 1-D and of the same length, got shapes {lrs.shape} and {losses.shape}"
        )
    keep = np.isfinite(losses) & np.isfinite(lrs) & (lrs > 0)
    return lrs[keep], losses[keep]


def enough_points(lrs: ArrayLike, losses: ArrayLike) -> bool:
    """Whether the curve has the :data:`MIN_POINTS` finite points every rule needs.

    Examples
    --------
    >>> enough_points([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])
    False
    """
    return finite_points(lrs, losses)[0].size >= MIN_POINTS


def _finite_curve(lrs: ArrayLike, losses: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    lrs, losses = finite_points(lrs, losses)
    if lrs.size < MIN_POINTS:
        raise ValueError(
            f"too few points to suggest a learning rate: need at least {MIN_POINTS} finite "
            f"(lr, loss) points, got {lrs.size}; lower lr_start, raise lr_end or min_iter"
        )
    order = np.argsort(lrs, kind="stable")
    return lrs[order], losses[order]


def _smoothed(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float]) -> Tuple[np.ndarray, np.ndarray]:
    lrs, losses = _finite_curve(lrs, losses)
    return lrs, zero_phase(lrs, losses, bandwidth)


def _descent_end(smooth: np.ndarray) -> int:
    """Index of the curve's minimum before its edge of stability (:func:`gluon_lrfinder.edge.descent_end`):
    the rules look only at the part before the first clear rise, never at a second dip after it."""
    return _edge.descent_end(smooth)


def steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """The LR where the smoothed loss falls fastest per decade, before the curve's minimum.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    bandwidth : float, optional
        Smoothing width in decades (see :func:`~gluon_lrfinder.smoothing.zero_phase`).

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
    lrs, smooth = _smoothed(lrs, losses, bandwidth)
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
        Smoothing width in decades (see :func:`~gluon_lrfinder.smoothing.zero_phase`).
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
    lrs, smooth = _smoothed(lrs, losses, bandwidth)
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
    lrs, smooth = _smoothed(lrs, losses, bandwidth)
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


def _apply(
    method: Method, lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float], optimizer: Optional[str]
) -> float:
    """``method``'s answer; the default rule reads the optimizer's kind when it is known."""
    _, rule = resolve_rule(method)
    if rule is blend and optimizer is not None:
        return blend(lrs, losses, bandwidth, fraction=blend_fraction(optimizer))
    return float(rule(lrs, losses, bandwidth))


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
    lrs, smooth = _smoothed(lrs, losses, bandwidth)
    return float(lrs[_descent_end(smooth)] / 10.0)


def raw_steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """Baseline: steepest descent of the raw (unsmoothed) curve over its whole length.

    What a plain plot of the tutorial's curve points to; ``bandwidth`` is ignored.
    """
    lrs, losses = _finite_curve(lrs, losses)
    return float(lrs[int(np.argmin(np.gradient(losses)))])


def ema_steepest(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> float:
    """Baseline: steepest gradient of the causal EMA curve (smoothing 0.98, as the PyTorch
    Lightning tuner records it), ignoring the first and last 10 points; ``bandwidth`` is ignored.
    """
    lrs, losses = _finite_curve(lrs, losses)
    # Lightning bias-corrects its zero-initialised EMA; ours starts at the first loss and needs none
    smooth = ema(losses, smoothing=0.98)
    lo, hi = (10, smooth.size - 10) if smooth.size > 25 else (0, smooth.size)
    return float(lrs[lo + int(np.argmin(np.gradient(smooth[lo:hi])))])


def lr_range(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None
) -> Tuple[float, float]:
    """A ``(min_lr, max_lr)`` range for cyclical and one-cycle schedules, up from the steepest point.

    ``max_lr`` is three times the steepest-descent LR ``s`` (:func:`steepest`; the factor of
    Smith's cyclical-LR rule of thumb), but at most half the LR at the smoothed loss minimum;
    ``min_lr`` is ``s``, or ``max_lr / 3`` when that is lower (the range always spans a factor
    of 3). The default suggestion (:func:`blend`) is ``s`` itself for Adam-like optimizers, so it
    is the lower end; for SGD-like ones it lies 0.3 of the way from ``s`` to the minimum, inside
    the range unless the minimum lies about 40x or more above ``s``. ``benchmarks/range_vs_constant.py``
    measures the rule: on 8 tasks (the first suggestion benchmark's 6, two of them also
    mid-training) a one-cycle run over this range ends at a lower validation loss than a constant
    rate at ``s`` on 6, and at 0.81 times it in the geometric mean; a peak at the minimum itself
    diverged in mid-training runs (see docs/suggestions.md).

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-5, 0, 51)
    >>> losses = 2.0 - np.tanh(2 * (np.log10(lrs) + 3.0)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    >>> low, high = lr_range(lrs, losses)
    >>> bool(low == steepest(lrs, losses)), round(high / low, 6)   # minimum far above
    (True, 3.0)
    """
    low = steepest(lrs, losses, bandwidth)
    at_minimum = 10.0 * minimum(lrs, losses, bandwidth)
    high = min(3.0 * low, at_minimum / 2.0)
    low = min(low, high / 3.0)
    return float(low), float(high)


def diagnose(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None
) -> List[str]:
    """Plain-language flags about a curve: ``[]`` when it looks like a textbook range test.

    Possible flags (each starts with a fixed phrase, some go on with what to change):

    * ``"too few points"``: fewer than :data:`MIN_POINTS` finite losses.
    * ``"loss never fell: ..."``: the smoothed loss never went 5% below where it started.
    * ``"stopped before the loss fell: ..."``: it never fell *and* the sweep ended on a rise, after
      fewer than 3 decades: most likely a stop on noise (a lucky first batch) or a start above
      the useful range.
    * ``"short sweep: ..."``: the curve spans less than :data:`MIN_DECADES` decades of LR.
    * ``"never diverged: raise lr_end; ..."``: the curve never turned up again, so the
      suggestion leans low.

    Examples
    --------
    >>> import numpy as np
    >>> [flag.split(":")[0] for flag in diagnose(np.logspace(-3, 0, 20), np.linspace(1.0, 2.0, 20))]
    ['loss never fell']
    >>> [flag.split(":")[0] for flag in diagnose(np.logspace(-6, -5, 24), np.linspace(1.0, 2.0, 24))]
    ['loss never fell', 'stopped before the loss fell', 'short sweep']
    """
    if not enough_points(lrs, losses):
        return [TOO_FEW_POINTS]
    lrs, losses_sorted = _finite_curve(lrs, losses)
    smooth = zero_phase(lrs, losses_sorted, bandwidth)
    flags = []
    lowest = float(np.nanmin(smooth))
    first = float(smooth[0])
    spread = float(np.nanmax(smooth) - lowest)
    decades = float(math.log10(lrs[-1] / lrs[0]))
    never_fell = _descent_end(smooth) == 0 or first - lowest < 0.05 * max(abs(first), 1e-12)
    if never_fell:
        flags.append(
            "loss never fell: no rule's answer means much; lower lr_start, or check that the model "
            "learns at all"
        )
        if float(smooth[-1]) > first and decades < 3.0:
            flags.append(
                f"stopped before the loss fell: the sweep ended on a rise after {lrs.size} points "
                f"({decades:.1f} decades, at lr {lrs[-1]:.3g}); if the first batches are noisy (small "
                "batches), use the default StoppingCriteria (median reference, patience) rather than "
                "LRFinderStoppingCriteria, raise min_iter or the batch size; otherwise lower lr_start"
            )
    if decades < MIN_DECADES:
        flags.append(
            f"short sweep: the curve spans {decades:.2f} decades of lr (fewer than {MIN_DECADES:g}); "
            "lower lr_start or raise lr_end"
        )
    # Diverged: the curve ends clearly above its minimum (a third of the way back up at least).
    if spread > 0 and (float(smooth[-1]) - lowest) < max(0.33 * (first - lowest), 0.05 * abs(lowest)):
        flags.append(
            f"never diverged: raise lr_end; the sweep reached lr {lrs[-1]:.3g} without the loss turning "
            f"up (search again with lr_end={10 * lrs[-1]:.3g}, say); the minimum is not known, so the "
            "suggestion leans low, and so does the range (the best rate may be higher)"
        )
    dip = _edge.second_dip_flag(lrs, smooth)
    if dip:
        flags.append(dip)
    if not never_fell:
        bumpy = _edge.bumpy_flag(_edge.subsample_spread(lrs, losses_sorted, lambda a, b: lr_range(a, b, bandwidth)[1]))
        if bumpy:
            flags.append(bumpy)
    return flags


#: Every rule by name; ``suggest(method=...)`` and ``LRFinder.suggest(method=...)`` accept these.
SUGGESTERS: Dict[str, Callable[..., float]] = {
    "blend": blend,
    "steepest": steepest,
    "valley": valley,
    "minimum": minimum,
    "raw_steepest": raw_steepest,
    "ema_steepest": ema_steepest,
}

#: The rule ``suggest()`` uses by default, chosen by leave-one-task-out validation on the 14
#: training recipes of ``benchmarks/suggestion_regret.py`` (see docs/suggestions.md).
DEFAULT_METHOD = "blend"


#: A rule: the name of one of :data:`SUGGESTERS`, or a callable ``rule(lrs, losses, bandwidth) -> lr``.
Method = Union[str, Callable[..., float]]


def resolve_rule(method: Method) -> Tuple[str, Callable[..., float]]:
    """``(name, rule)`` for a rule name of :data:`SUGGESTERS` or a rule callable.

    The one place where a ``method`` argument is checked. A callable is taken as it is: it is
    called as ``rule(lrs, losses, bandwidth)`` and returns a learning rate; its name is its
    ``__name__``.

    Raises
    ------
    ValueError
        For a name that is not a key of :data:`SUGGESTERS`.
    TypeError
        For anything else that is not callable.

    Examples
    --------
    >>> resolve_rule("minimum")[0]
    'minimum'
    >>> def half_minimum(lrs, losses, bandwidth=None):
    ...     return 5 * minimum(lrs, losses, bandwidth)
    >>> resolve_rule(half_minimum)[0]
    'half_minimum'
    """
    if isinstance(method, str):
        if method not in SUGGESTERS:
            raise ValueError(
                f"method must be one of {', '.join(map(repr, SUGGESTERS))} or a callable "
                f"rule(lrs, losses, bandwidth), got {method!r}"
            )
        return method, SUGGESTERS[method]
    if callable(method):
        return getattr(method, "__name__", type(method).__name__), method
    raise TypeError(
        f"method must be a rule name ({', '.join(map(repr, SUGGESTERS))}) or a callable "
        f"rule(lrs, losses, bandwidth), got {type(method).__name__}"
    )


#: The rules whose disagreement :func:`disagreement` measures. ``valley`` is left out: in
#: ``benchmarks/suggestion_regret.py`` it lies more than a decade from the others on about half
#: of the searches without those searches being any worse, so it would flag noise; the two
#: baselines are noisy by design.
COMPARED = ("blend", "steepest", "minimum")


def disagreement(answers: Dict[str, float], method: str = DEFAULT_METHOD) -> Optional[str]:
    """A flag when the rules of :data:`COMPARED` disagree by more than :data:`DISAGREE_DECADES`.

    Parameters
    ----------
    answers : dict of str to float
        Rule name -> suggested LR (at least the rules of :data:`COMPARED`).
    method : str
        The rule the caller asked for; the flag leans towards :data:`DEFAULT_METHOD`'s answer
        when ``answers`` has it, else towards ``method``'s.

    Returns
    -------
    str or None
        ``"rules disagree by X decades (...): ..."`` with which way to lean, or None.

    Examples
    --------
    >>> print(disagreement({"blend": 0.005, "steepest": 0.001, "minimum": 0.05}))  # doctest: +ELLIPSIS
    rules disagree by 1.7 decades (steepest 0.001 .. minimum 0.05): ... lean towards blend (0.005)...
    """
    compared = {name: answers[name] for name in COMPARED if name in answers}
    if len(compared) < 2:
        return None
    low = min(compared, key=lambda name: compared[name])
    high = max(compared, key=lambda name: compared[name])
    spread = math.log10(compared[high] / compared[low])
    if spread <= DISAGREE_DECADES:
        return None
    lean = answers.get(DEFAULT_METHOD, answers.get(method))
    lean_name = DEFAULT_METHOD if DEFAULT_METHOD in answers else method
    return (
        f"rules disagree by {spread:.1f} decades ({low} {compared[low]:.3g} .. {high} {compared[high]:.3g}): "
        f"the descent is broad and the best rate is uncertain; lean towards {lean_name} ({lean:.3g}), "
        f"which had the lowest regret in the benchmark, and if you can, train a few dozen "
        f"iterations at a few rates from {compared[low]:.3g} to {compared[high]:.3g} and keep the best"
    )


def _rule_answers(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float], names: Iterable[str], optimizer: Optional[str] = None
) -> Dict[str, float]:
    return {name: _apply(name, lrs, losses, bandwidth, optimizer) for name in names}


def suggest(
    lrs: ArrayLike,
    losses: ArrayLike,
    method: Method = DEFAULT_METHOD,
    bandwidth: Optional[float] = None,
    warn: bool = True,
    optimizer: Optional[str] = None,
) -> float:
    """Apply the rule ``method`` to a curve, warning about suspicious curves.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve.
    method : str or callable, default ``DEFAULT_METHOD``
        A key of :data:`SUGGESTERS`, or a rule ``rule(lrs, losses, bandwidth) -> lr`` of your
        own (see :func:`resolve_rule`).
    bandwidth : float, optional
        Smoothing width in decades.
    warn : bool, default True
        Emit a :class:`SuggestionWarning` for each flag of :func:`diagnose`, and when the rules
        disagree by more than :data:`DISAGREE_DECADES` (:func:`disagreement`).
    optimizer : str, optional
        The optimizer's class name (``"Adam"``, ``"SGD"``...): with ``method="blend"``, picks the
        fraction by the optimizer's kind (:func:`blend_fraction`). ``LRFinder.suggest`` passes it.

    Raises
    ------
    ValueError
        Unknown ``method``, or fewer than :data:`MIN_POINTS` finite points.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    >>> float(suggest(lrs, losses, method="steepest"))
    0.01
    """
    name, _ = resolve_rule(method)
    lr = _apply(method, lrs, losses, bandwidth, optimizer)
    if warn:
        flags = diagnose(lrs, losses, bandwidth)
        answers = _rule_answers(lrs, losses, bandwidth, COMPARED, optimizer)
        answers[name] = lr
        disagree = disagreement(answers, name)
        warn_flags(flags + ([disagree] if disagree else []), stacklevel=2)
    return lr


def warn_flags(flags: Iterable[str], stacklevel: int = 2) -> None:
    """Emit each flag as a :class:`SuggestionWarning` (``"LR range test: <flag>"``)."""
    for flag in flags:
        warnings.warn(f"LR range test: {flag}", SuggestionWarning, stacklevel=stacklevel + 1)


@dataclass
class SuggestionReport:
    """Every rule's answer for one curve, how far they agree, and what to watch out for.

    Attributes
    ----------
    method : str
        The recommended rule.
    lr : float
        Its suggestion: the LR to use.
    lrs : dict of str to float
        Every rule of :data:`SUGGESTERS` and its suggestion.
    spread_decades : float
        ``log10(highest / lowest)`` over the rules: 0 when they all agree.
    lr_range : tuple of float
        ``(min_lr, max_lr)`` from :func:`lr_range`, for cyclical schedules.
    flags : list of str
        :func:`diagnose`'s flags (empty when the curve looks fine).
    valid_lr : float, optional
        The same rule applied to the validation signal, when there is one.
    """

    method: str
    lr: float
    lrs: Dict[str, float]
    spread_decades: float
    lr_range: Tuple[float, float]
    flags: List[str] = field(default_factory=list)
    valid_lr: Optional[float] = None

    def decades_from(self, method: str) -> float:
        """Signed distance in decades of ``method``'s LR from the recommended one."""
        return float(math.log10(self.lrs[method] / self.lr))

    def __str__(self) -> str:
        lines = [f"suggested lr: {self.lr:.3g} ({self.method})"]
        if not self.lrs:
            return "\n".join(lines + ["flags: " + "; ".join(self.flags)])
        for name, lr in self.lrs.items():
            lines.append(f"  {name:<14s} {lr:10.3g}  ({self.decades_from(name):+.2f} decades)")
        factor = 10**self.spread_decades
        lines.append(f"rules agree within {self.spread_decades:.2f} decades (a factor of {factor:.3g})")
        lines.append(f"range for cyclical schedules: {self.lr_range[0]:.3g} .. {self.lr_range[1]:.3g}")
        if self.valid_lr is not None:
            lines.append(f"validation signal suggests: {self.valid_lr:.3g}")
        lines.append("flags: " + ("; ".join(self.flags) if self.flags else "none"))
        return "\n".join(lines)


def report(
    lrs: ArrayLike,
    losses: ArrayLike,
    method: Method = DEFAULT_METHOD,
    bandwidth: Optional[float] = None,
    valid_lrs: Optional[ArrayLike] = None,
    valid_losses: Optional[ArrayLike] = None,
    optimizer: Optional[str] = None,
) -> SuggestionReport:
    """Apply every rule to a curve and summarise: recommendation, agreement, range, flags.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve.
    method : str or callable, default ``DEFAULT_METHOD``
        The recommended rule: a key of :data:`SUGGESTERS` or a rule callable (its answer is
        added to ``lrs`` under its name).
    bandwidth : float, optional
        Smoothing width in decades.
    valid_lrs, valid_losses : sequence of float, optional
        A validation signal; when it has enough points, ``valid_lr`` is ``method`` applied to it.
    optimizer : str, optional
        The optimizer's class name, as for :func:`suggest`.

    Returns
    -------
    SuggestionReport
        ``str(report)`` is a short readable summary.

        With fewer than :data:`MIN_POINTS` finite points, ``lr`` is NaN, ``lrs`` empty and
        ``flags`` is ``[TOO_FEW_POINTS]`` (``"too few points"``).

    Raises
    ------
    ValueError
        Unknown ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    >>> r = report(lrs, losses, method="steepest")
    >>> r.lr, r.flags
    (0.01, [])
    """
    name, rule = resolve_rule(method)
    flags = diagnose(lrs, losses, bandwidth)
    if not enough_points(lrs, losses):
        return SuggestionReport(name, math.nan, {}, math.nan, (math.nan, math.nan), flags)
    answers = _rule_answers(lrs, losses, bandwidth, SUGGESTERS, optimizer)
    if name not in answers:  # a rule of the caller's own
        answers[name] = float(rule(lrs, losses, bandwidth))
    disagree = disagreement(answers, name)
    if disagree:
        flags = flags + [disagree]
    logs = np.log10(list(answers.values()))
    valid_lr = None
    if valid_lrs is not None and valid_losses is not None:
        finite = np.isfinite(np.asarray(valid_losses, dtype=np.float64)).sum()
        if finite >= MIN_POINTS:
            valid_lr = _apply(method, valid_lrs, valid_losses, bandwidth, optimizer)
    return SuggestionReport(
        method=name,
        lr=answers[name],
        lrs=answers,
        spread_decades=float(logs.max() - logs.min()),
        lr_range=lr_range(lrs, losses, bandwidth),
        flags=flags,
        valid_lr=valid_lr,
    )
