"""What a curve says: diagnosis flags, the rules' agreement, a warned suggestion, the report. No MXNet.

Every answer goes through the rule registry (:func:`gluon_lrfinder.core.rules.get_rule`) with
the curve itself, so the optimizer the curve recorded reaches every rule.

Examples
--------
>>> import numpy as np
>>> from gluon_lrfinder.core.registry import CurvePoints
>>> lrs = np.logspace(-4, 0, 41)
>>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
>>> report_curve(CurvePoints(lrs, losses), method="steepest").lr
0.01
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from . import edge as _edge
from .placement import Placement, finite_rate, place_rate
from .rules import (
    DEFAULT_METHOD,
    RULES,
    CurveLike,
    Method,
    SuggestionWarning,
    get_rule,
    lr_range,
    optimizer_of,
)
from .smoothing import MIN_POINTS, enough_points, sorted_finite, zero_phase

__all__ = ["SuggestionReport", "diagnose", "suggest_curve", "report_curve", "warn_flags"]

#: The flag of :func:`diagnose` for a curve with fewer than :data:`MIN_POINTS` finite points.
TOO_FEW_POINTS = "too few points"
#: A curve spanning fewer decades of LR than this is flagged as a short sweep.
MIN_DECADES = 1.5
#: Rules whose suggestions lie further apart than this (decades) are flagged as disagreeing.
DISAGREE_DECADES = 1.0


#: A fall smaller than 5% of the first smoothed loss still counts when it is this many times the
#: noise of the raw losses around the smoothed curve (calibrated on held-out curves, docs/evidence.md).
NOISE_MULTIPLE = 3.0


def _never_fell(raw: np.ndarray, smooth: np.ndarray) -> bool:
    """Whether the smoothed curve never fell: its minimum is its first point, or it fell by less
    than 5% of where it started *and* by less than :data:`NOISE_MULTIPLE` times the noise of the
    raw losses (1.4826 x their median absolute deviation from the smoothed curve, up to its
    minimum). The noise scale makes the test independent of the loss's offset: a fall of a few
    percent of a large loss (a language model's) is a fall when it stands out of the noise.

    Examples
    --------
    >>> lrs = np.logspace(-5, 0, 60)
    >>> rise = np.where(lrs > 0.05, (lrs / 0.05) ** 2, 0.0)
    >>> lm = 10.0 - 0.25 * np.tanh(np.log10(lrs) + 3) + rise     # falls 4.6%, barely noisy
    >>> _never_fell(lm, lm - 0.01 * np.sin(np.arange(60)))
    False
    >>> flat = 10.0 + rise
    >>> _never_fell(flat, flat)
    True
    """
    share, sds = _edge.fall_size(raw, smooth)
    if share <= 1e-9:  # not even past rounding
        return True
    return share < 0.05 and sds < NOISE_MULTIPLE


def diagnose(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None
) -> List[str]:
    """Plain-language flags about a curve: ``[]`` when it looks like a textbook range test.

    Possible flags (each starts with a fixed phrase, some go on with what to change):

    * ``"too few points"``: fewer than :data:`MIN_POINTS` finite losses.
    * ``"loss never fell: ..."``: the smoothed loss never went 5% below where it started, nor
      clearly below the noise of the losses (:func:`_never_fell`): a language model whose loss
      falls 4.9% above a large entropy floor, then diverges, has fallen.
    * ``"stopped before the loss fell: ..."``: it never fell *and* the sweep ended on a rise, after
      fewer than 3 decades: most likely a stop on noise (a lucky first batch) or a start above
      the useful range.
    * ``"short sweep: ..."``: the curve spans less than :data:`MIN_DECADES` decades of LR.
    * ``"never diverged: raise lr_end; ..."``: the curve never turned up again, so the
      suggestion leans low.
    * ``"second dip after the edge of stability: ..."``: after its first clear rise the loss
      falls again (:func:`~gluon_lrfinder.core.edge.second_dip_flag`).
    * ``"shallow or noisy fall: ..."``: the loss fell by less than ``edge.SHALLOW_FALL`` (45%)
      of where it started, or by less than ``edge.NOISY_FALL_SDS`` (3) noise SDs, before its
      edge (soft labels, a large entropy floor, a noisy regression loss): the curve places the
      best rate only loosely, so train a bracket around the answer, each run at least half as
      long as the real training.
    * ``"bumpy curve: ..."``: the range's top moves by more than ``edge.BUMPY_FACTOR`` between
      the curve's interleaved halves.

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
    lrs, losses_sorted = sorted_finite(lrs, losses)
    raw = losses_sorted
    smooth = zero_phase(lrs, losses_sorted, bandwidth)
    flags = []
    lowest = float(np.nanmin(smooth))
    first = float(smooth[0])
    spread = float(np.nanmax(smooth) - lowest)
    decades = float(math.log10(lrs[-1] / lrs[0]))
    never_fell = _never_fell(raw, smooth)
    if never_fell:
        flags.append(
            "loss never fell: no rule's answer means much; lower lr_start if the sweep began high, "
            "sweep again with more iterations (num_iter, say 5x) if the model learns slowly "
            "(embeddings, sparse updates), or check that the model learns at all"
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
        shallow = _edge.shallow_fall_flag(*_edge.fall_size(raw, smooth))
        if shallow:
            flags.append(shallow)
        bumpy = _edge.bumpy_flag(_edge.subsample_spread(lrs, losses_sorted, lambda a, b: lr_range(a, b, bandwidth)[1]))
        if bumpy:
            flags.append(bumpy)
    return flags


def warn_flags(flags: Iterable[str], stacklevel: int = 2) -> None:
    """Emit each flag as a :class:`SuggestionWarning` (``"LR range test: <flag>"``); ``stacklevel``
    as for :func:`warnings.warn`, counted from the caller of this function."""
    for flag in flags:
        warnings.warn(f"LR range test: {flag}", SuggestionWarning, stacklevel=stacklevel + 1)


#: The rules whose disagreement :func:`disagreement` measures: ``valley`` often lies far from the
#: others without being worse, and the baselines are noisy by design (docs/evidence.md).
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
    lean_name = next((name for name in (DEFAULT_METHOD, method, "blend") if name in answers), low)
    lean = answers[lean_name]
    return (
        f"rules disagree by {spread:.1f} decades ({low} {compared[low]:.3g} .. {high} {compared[high]:.3g}): "
        f"the descent is broad and the best rate is uncertain; lean towards {lean_name} ({lean:.3g}), "
        f"and if you can, train a few dozen iterations at a few rates from {compared[low]:.3g} "
        f"to {compared[high]:.3g} and keep the best"
    )


def _rule_answers(curve: CurveLike, bandwidth: Optional[float], names: Iterable[str]) -> Dict[str, float]:
    return {name: get_rule(name)(curve, bandwidth) for name in names}


def suggest_curve(
    curve: CurveLike, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None, warn: bool = True
) -> float:
    """Apply the rule ``method`` to a curve (its points and settings), warning about suspicious curves.

    The one path to a suggestion: :meth:`LRCurve.suggest <gluon_lrfinder.LRCurve.suggest>`,
    the studies, the Estimator handler and the CLI all end here.

    Parameters
    ----------
    curve : LRCurve or CurvePoints
        The range-test curve; ``curve.settings["optimizer"]`` reaches the rules.
    method : str, Rule or callable, default ``DEFAULT_METHOD``
        See :func:`~gluon_lrfinder.core.rules.get_rule`.
    bandwidth : float, optional
        Smoothing width in decades.
    warn : bool, default True
        Emit a :class:`SuggestionWarning` for each flag of :func:`diagnose`, and when the rules
        disagree by more than :data:`DISAGREE_DECADES` (:func:`disagreement`).

    Raises
    ------
    ValueError
        Unknown ``method``, or fewer than :data:`MIN_POINTS` finite points.

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder.core.registry import CurvePoints
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    >>> suggest_curve(CurvePoints(lrs, losses), method="steepest")
    0.01
    """
    rule = get_rule(method)
    lr = rule(curve, bandwidth)
    if warn:
        flags = diagnose(curve.lrs, curve.losses, bandwidth)
        answers = _rule_answers(curve, bandwidth, COMPARED)
        answers[rule.name] = lr
        disagree = disagreement(answers, rule.name)
        for flag in flags + ([disagree] if disagree else []):
            warnings.warn(f"LR range test: {flag}", SuggestionWarning, stacklevel=3)
    return lr


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
        Every registered rule (:data:`~gluon_lrfinder.core.rules.RULES`) and its suggestion.
    spread_decades : float
        ``log10(highest / lowest)`` over the rules: 0 when they all agree.
    lr_range : tuple of float
        ``(min_lr, max_lr)`` from :func:`lr_range`, for cyclical schedules.
    flags : list of str
        :func:`diagnose`'s flags (empty when the curve looks fine).
    valid_lr : float, optional
        The same rule applied to the validation signal, when there is one.
    current : Placement, optional
        Where the trainer's own rate (recorded when the search started) lies on the curve.
    """

    method: str
    lr: float
    lrs: Dict[str, float]
    spread_decades: float
    lr_range: Tuple[float, float]
    flags: List[str] = field(default_factory=list)
    valid_lr: Optional[float] = None
    current: Optional[Placement] = None

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
        if self.current is not None:
            lines.append(f"trainer's own rate: {self.current}")
        lines.append("flags: " + ("; ".join(self.flags) if self.flags else "none"))
        return "\n".join(lines)


def report_curve(
    curve: CurveLike,
    method: Method = DEFAULT_METHOD,
    bandwidth: Optional[float] = None,
    valid: Optional[CurveLike] = None,
) -> SuggestionReport:
    """Apply every registered rule to a curve and summarise: recommendation, agreement, range, flags.

    Parameters
    ----------
    curve : LRCurve or CurvePoints
        The range-test curve (its settings reach the rules).
    method : str, Rule or callable, default ``DEFAULT_METHOD``
        The recommended rule (a rule of the caller's own is added to ``lrs`` under its name).
    bandwidth : float, optional
        Smoothing width in decades.
    valid : LRCurve or CurvePoints, optional
        A validation signal; with enough points, ``valid_lr`` is ``method`` applied to it.

    Returns
    -------
    SuggestionReport
        With fewer than :data:`MIN_POINTS` finite points, ``lr`` is NaN, ``lrs`` empty and
        ``flags`` is ``[TOO_FEW_POINTS]``.

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder.core.registry import CurvePoints
    >>> lrs = np.logspace(-4, 0, 41)
    >>> losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    >>> r = report_curve(CurvePoints(lrs, losses), method="steepest")
    >>> r.lr, r.flags
    (0.01, [])
    """
    rule = get_rule(method)
    flags = diagnose(curve.lrs, curve.losses, bandwidth)
    if not enough_points(curve.lrs, curve.losses):
        return SuggestionReport(rule.name, math.nan, {}, math.nan, (math.nan, math.nan), flags)
    answers = _rule_answers(curve, bandwidth, RULES)
    if rule.name not in answers:  # a rule of the caller's own
        answers[rule.name] = rule(curve, bandwidth)
    disagree = disagreement(answers, rule.name)
    if disagree:
        flags = flags + [disagree]
    logs = np.log10(list(answers.values()))
    valid_lr = None
    if valid is not None and np.isfinite(np.asarray(valid.losses, dtype=np.float64)).sum() >= MIN_POINTS:
        valid_lr = rule(valid, bandwidth)
    low, high = lr_range(curve.lrs, curve.losses, bandwidth, optimizer=optimizer_of(curve))
    outside = outside_range(answers[rule.name], (low, high), rule.name)
    if outside:
        flags = flags + [outside]
    own = finite_rate((getattr(curve, "settings", None) or {}).get("trainer_lr"))
    current = None if own is None else place_rate(curve.lrs, curve.losses, own, bandwidth, answers[rule.name])
    return SuggestionReport(
        method=rule.name,
        lr=answers[rule.name],
        lrs=answers,
        spread_decades=float(logs.max() - logs.min()),
        lr_range=(low, high),
        flags=flags,
        valid_lr=valid_lr,
        current=current,
    )


def outside_range(lr: float, lr_range: Tuple[float, float], method: str) -> Optional[str]:
    """The flag when a suggestion lies outside the range (never for the default rule, ``"blend_in_range"``).

    Examples
    --------
    >>> outside_range(0.05, (0.01, 0.03), "blend").split(":")[0]
    'suggestion outside the range'
    >>> outside_range(0.02, (0.01, 0.03), "blend") is None
    True
    """
    low, high = lr_range
    if low * (1 - 1e-9) <= lr <= high * (1 + 1e-9):
        return None
    where = "above" if lr > high else "below"
    return (
        f"suggestion outside the range: {method}'s {lr:.3g} lies {where} suggest_range() "
        f"{low:.3g} .. {high:.3g}; the default rule '{DEFAULT_METHOD}' (blend clipped into the range) "
        "always lies inside it"
    )
