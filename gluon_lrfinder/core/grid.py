"""Weight decay and momentum from the range test (Smith 2018, arXiv 1803.09820). No MXNet import.

Leslie Smith's "disciplined approach" picks weight decay and momentum with the same tool as the
learning rate: run the range test once per value, from the same starting weights and on the
same data order, overlay the curves, and prefer the value whose curve reaches the lowest loss
*and* stays stable up to the highest learning rate.
:meth:`gluon_lrfinder.LRFinder.find_grid` runs the tests; this module holds the pure part:
what each curve is reduced to (:class:`GridRow`), the rule that reads the curves
(:func:`recommend`) and the result (:class:`GridResult`).

The grid is a diagnostic. Its pick (:attr:`GridResult.candidate`) is not the recommendation: on
held-out recipes no rule that reads range tests (Smith's, keeping the current values unless
another combination is clearly better, comparing momenta at equal effective step, ignoring
weight decay, a short confirmation training) beat keeping the current values
(``benchmarks/grid_heldout.py``, docs/weight_decay_momentum.md). So the recommendation is to
keep the trainer's own values, and a change is applied only on request
(``LRFinder.apply_grid(accept_unvalidated=True)``).

Examples
--------
>>> import numpy as np
>>> from gluon_lrfinder.core.curve import LRCurve
>>> lrs = np.logspace(-4, 0, 41)
>>> x = np.log10(lrs)
>>> def curve(floor, blow_up):       # falls to ``floor``, diverges past lr = 10**blow_up
...     return LRCurve(lrs=list(lrs), losses=list(floor + (2 - floor) * (1 - np.tanh(2 * (x + 3)))
...                                         / 2 + np.exp(6 * (x - blow_up))))
>>> result = summarize_grid([{"wd": 0.0}, {"wd": 1e-4}], [curve(0.5, -1.0), curve(0.5, -0.5)])
>>> result.candidate, result.best        # the sweep's pick; no current values, no recommendation
({'wd': 0.0001}, None)
>>> summarize_grid([{"wd": 0.0}, {"wd": 1e-4}], [curve(0.5, -1.0), curve(0.5, -0.5)], current=0).best
{'wd': 0.0}
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ._validate import check_nonnegative
from .curve import LRCurve
from .report import suggest_curve
from .rules import DEFAULT_METHOD, CurveLike, CurvePoints, Method, finite_points, get_rule
from .smoothing import zero_phase

__all__ = ["GridRow", "GridResult", "curve_summary", "recommend", "summarize_grid", "grid_values",
           "momentum_note"]

PathLike = Union[str, "os.PathLike[str]"]

#: Curves whose lowest smoothed loss lies within this fraction of the best one count as reaching
#: "the lowest loss" (Smith compares curves by eye; noise makes exact ties meaningless).
DEFAULT_TOLERANCE = 0.05
#: How much lower, in every data order, another combination's lowest loss must be than that of
#: the trainer's own values before :func:`recommend` moves away from them.
DEFAULT_MARGIN = 0.10


@dataclass
class GridRow:
    """One combination of the grid, reduced to the three numbers the recommendation reads.

    Attributes
    ----------
    combination : dict
        The knob values of this range test, e.g. ``{"wd": 1e-4, "momentum": 0.9}``.
    lr : float or None
        The suggested learning rate of its curve (None when no rule could read the curve).
    lowest_loss : float
        The lowest value of the zero-phase smoothed curve.
    stable_lr : float
        The highest learning rate up to which the smoothed curve stays below its starting level
        (the mean of its first few smoothed values): where it starts to diverge.
    lowest_losses : list of float
        The lowest smoothed loss of each data order (one entry per repeat, in seed order).

    With several data orders per combination (``repeats``), each number is the median over them.
    """

    combination: Dict[str, float]
    lr: Optional[float]
    lowest_loss: float
    stable_lr: float
    lowest_losses: List[float] = field(default_factory=list)


def curve_summary(
    curve: Union[CurveLike, Sequence[float]],
    losses: Optional[Sequence[float]] = None,
    method: Method = DEFAULT_METHOD,
    bandwidth: Optional[float] = None,
) -> Dict[str, Any]:
    """The lowest smoothed loss, the highest stable rate and the suggestion of one curve.

    Parameters
    ----------
    curve : LRCurve, or a sequence of LRs with ``losses``
        The curve; non-finite losses (a NaN at divergence) are dropped. Its settings (the
        optimizer) reach the rule, as in ``LRCurve.suggest``; bare arrays have none.
    losses : sequence of float, optional
        The losses, when ``curve`` is a sequence of LRs.
    method : str, default ``DEFAULT_METHOD``
        Suggestion rule for ``lr``.
    bandwidth : float, optional
        Smoothing width in decades for the suggestion.

    Returns
    -------
    dict
        ``{"lr": float or None, "lowest_loss": float, "stable_lr": float}``.

    Examples
    --------
    >>> lrs = np.logspace(-4, 1, 51)
    >>> losses = 1.5 - np.tanh(np.log10(lrs) + 2) + lrs ** 2    # falls to ~0.5, diverges past lr ~1
    >>> s = curve_summary(LRCurve(lrs=list(lrs), losses=list(losses)), method="minimum")
    >>> s["lowest_loss"] < 0.8, 0.3 < s["stable_lr"] < 3.0
    (True, True)
    """
    points: CurveLike
    if losses is not None:
        points = CurvePoints(list(curve), list(losses))  # type: ignore[arg-type]
    else:
        points = curve  # type: ignore[assignment]
    lr_arr, loss_arr = finite_points(points.lrs, points.losses)
    if lr_arr.size < 2:
        raise ValueError(f"a grid curve needs at least 2 finite points, got {lr_arr.size}")
    smooth = zero_phase(lr_arr, loss_arr)
    start = float(np.mean(smooth[: max(1, min(5, smooth.size // 10))]))
    low = int(np.argmin(smooth))
    above = np.nonzero(smooth[low:] > start)[0]
    stable = lr_arr[low + above[0] - 1] if above.size else lr_arr[-1]
    try:  # the one rule path, with the curve itself: the optimizer it recorded reaches blend
        lr: Optional[float] = suggest_curve(points, method=method, bandwidth=bandwidth, warn=False)
    except ValueError:
        lr = None
    return {"lr": lr, "lowest_loss": float(smooth[low]), "stable_lr": float(stable)}


def _describe(combination: Dict[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in combination.items())


def _clearly_better(row: GridRow, current: GridRow, margin: float) -> bool:
    """Lower than ``current`` by more than ``margin`` in every data order, and stable as far."""
    pairs = list(zip(row.lowest_losses, current.lowest_losses)) or [(row.lowest_loss, current.lowest_loss)]
    lower = all(mine < theirs - margin * abs(theirs) for mine, theirs in pairs)
    return lower and row.stable_lr >= current.stable_lr


def recommend(
    rows: Sequence[GridRow],
    tolerance: float = DEFAULT_TOLERANCE,
    current: Optional[int] = None,
    margin: float = DEFAULT_MARGIN,
) -> Dict[str, Any]:
    """Smith's rule over the grid, and by default no change without clear evidence.

    Smith's rule: every combination whose lowest smoothed loss is within ``tolerance``
    (relative) of the best one is a candidate; of those, the one that stays stable up to the
    highest learning rate wins (ties: the lower loss).

    With ``current`` (the row of the values the trainer already has), only the combinations
    that are *clearly better* than it compete: a lowest loss lower by more than ``margin`` in
    every data order (paired: the same data order for both) and a curve stable at least as far.
    When none is, the current values are recommended. The lowest loss of a short sweep moves
    with the data order by 5-30 % and says little about weight decay's effect after a full
    training run, so without clear evidence a change is more likely to hurt than to help
    (docs/weight_decay_momentum.md measures both rules).

    Parameters
    ----------
    rows : sequence of GridRow
        One per combination, at least one.
    tolerance : float, default 0.05
        Relative slack on the lowest loss for Smith's rule, >= 0.
    current : int, optional
        Index of the trainer's own combination in ``rows``; None: Smith's rule over all rows.
    margin : float, default 0.10
        How much lower (relative) a combination's lowest loss must be in every data order to
        count as clearly better than ``current``, >= 0.

    Returns
    -------
    dict
        ``{"index": int, "reason": str}``: the winning row and why, in words.

    Examples
    --------
    >>> rows = [GridRow({"wd": 0.0}, 0.1, 0.50, 0.3), GridRow({"wd": 1e-4}, 0.2, 0.51, 0.9),
    ...         GridRow({"wd": 1e-3}, 0.3, 0.80, 2.0)]
    >>> recommend(rows)["index"]
    1
    >>> recommend(rows, current=2)["index"]   # lower losses, but neither is stable to lr 2.0
    2
    """
    tolerance = check_nonnegative("tolerance", tolerance)
    margin = check_nonnegative("margin", margin)
    if not rows:
        raise ValueError("rows must hold at least one combination, got none")
    if current is not None and not 0 <= current < len(rows):
        raise ValueError(f"current must be the index of a row, in [0, {len(rows) - 1}], got {current!r}")
    pool = list(range(len(rows)))
    if current is not None:
        pool = [i for i in pool if i != current and _clearly_better(rows[i], rows[current], margin)]
        if not pool:
            row = rows[current]
            others = len(rows) - 1
            return {"index": current, "reason": (
                f"keep your current values ({_describe(row.combination)}): "
                + (f"none of the other {others} combinations had a lowest smoothed loss more than "
                   f"{margin:.0%} lower in every data order while staying stable as far (to lr "
                   f"{row.stable_lr:.3g})" if others else "the grid holds no other combination")
            )}
    best_loss = min(rows[i].lowest_loss for i in pool)
    bound = best_loss + tolerance * abs(best_loss)
    candidates = [i for i in pool if rows[i].lowest_loss <= bound]
    index = max(candidates, key=lambda i: (rows[i].stable_lr, -rows[i].lowest_loss))
    row = rows[index]
    reason = (
        f"{_describe(row.combination)}: its lowest smoothed loss {row.lowest_loss:.4g} is within "
        f"{tolerance:.0%} of the best ({best_loss:.4g}), and it stays below its starting loss up to "
        f"lr {row.stable_lr:.3g}"
    )
    if len(candidates) > 1:
        reason += f", the highest of the {len(candidates)} combinations that reach that loss"
    elif len(pool) > 1:
        reason += "; no other combination reaches that loss"
    if current is not None:
        reason += (f"; it beats your current values ({_describe(rows[current].combination)}) by more than "
                   f"{margin:.0%} in every data order")
    return {"index": index, "reason": reason}


#: What the held-out benchmark measured for changes made on range-test evidence alone; every
#: reason and warning that mentions a change quotes it (``benchmarks/grid_heldout.py``).
HELD_OUT_EVIDENCE = (
    "on held-out recipes no rule that reads range tests beat keeping the trainer's values (validation loss after "
    "training, against theirs, over 18 runs: the margin rule x1.24 geometric mean, worst x8.53; Smith's rule "
    "x1.62, worst x26.4; docs/weight_decay_momentum.md)"
)


def momentum_note(
    rows: Sequence[GridRow],
    reference: int,
    effective_step: Optional[bool] = None,
    margin: float = DEFAULT_MARGIN,
) -> Optional[str]:
    """Say why another momentum that looks clearly better in the sweep is more likely an LR signal.

    A larger momentum makes faster progress in a short sweep, so its curve often reaches a
    lower loss. With SGD-style momentum the step is ``lr / (1 - m)``: if the rate suggested at
    the other momentum is a larger *effective* step than the one suggested at the reference
    momentum, the sweep is saying that the reference's suggested rate is too low, not that the
    momentum is better (and the other way round).

    Parameters
    ----------
    rows : sequence of GridRow
        The grid's table; combinations with a ``"momentum"`` key.
    reference : int
        The row to compare with (the trainer's own values).
    effective_step : bool, optional
        True: the optimizer's momentum scales the step (SGD, NAG, ...); False: it does not
        (Adam's ``beta1``); None: unknown.
    margin : float, default 0.10
        The other momentum must be lower by more than this in every data order and stable as
        far (:func:`recommend`'s "clearly better").

    Returns
    -------
    str or None
        None when no other momentum, at the reference's other knob values, is clearly better.

    Examples
    --------
    >>> rows = [GridRow({"momentum": 0.9}, 0.1, 1.0, 1.0, [1.0, 1.0]),
    ...         GridRow({"momentum": 0.99}, 0.05, 0.8, 1.0, [0.8, 0.8])]
    >>> "effective step 5x" in momentum_note(rows, 0, effective_step=True)
    True
    """
    margin = check_nonnegative("margin", margin)
    ref = rows[reference]
    if "momentum" not in ref.combination:
        return None
    m_ref = ref.combination["momentum"]
    same = [i for i, r in enumerate(rows) if i != reference and r.combination.get("momentum", m_ref) != m_ref
            and all(r.combination.get(k) == v for k, v in ref.combination.items() if k != "momentum")
            and _clearly_better(r, ref, margin)]
    if not same:
        return None
    row = rows[min(same, key=lambda i: rows[i].lowest_loss)]
    m = row.combination["momentum"]
    pairs = list(zip(row.lowest_losses, ref.lowest_losses)) or [(row.lowest_loss, ref.lowest_loss)]
    worst = max(mine / theirs for mine, theirs in pairs)
    text = (f"momentum {m:g} reaches a lower loss in the sweep than momentum {m_ref:g} (at most {worst:.2f}x of it "
            f"in every data order), which does not make it the better momentum")
    if effective_step is False:
        return text + (": this optimizer's first-moment decay (beta1) does not scale its step, and a short sweep "
                       "favours whichever setting makes faster early progress; " + HELD_OUT_EVIDENCE)
    if row.lr is None or ref.lr is None:
        return text + ": with momentum the step is lr/(1-m), so compare the momenta at equal effective step"
    k = (row.lr / (1 - m)) / (ref.lr / (1 - m_ref))
    direction = "too low" if k > 1 else "too high"
    return text + (
        f": with momentum the step is lr/(1-m), and the rate suggested at momentum {m:g} ({row.lr:.3g}) is an "
        f"effective step {k:.2g}x the one suggested at momentum {m_ref:g} ({ref.lr:.3g}). That usually means "
        f"the learning rate suggested at momentum {m_ref:g} is off ({direction}), not that momentum {m:g} is "
        f"better: at momentum {m_ref:g} the same effective step is lr {ref.lr * k:.3g}; check the learning "
        f"rate before the momentum"
    )


@dataclass
class GridResult:
    """The range tests of a weight-decay / momentum grid (see :meth:`LRFinder.find_grid`).

    The grid is a diagnostic: the curves, the table, the sweep's pick (``candidate``) and why
    it would be picked. The recommendation (``best``) is the trainer's own values whenever
    they are in the grid, because on held-out recipes no rule that reads range tests did
    better than keeping them (docs/weight_decay_momentum.md).

    Attributes
    ----------
    combinations : list of dict
        The knob values of each range test, in run order.
    curves : list of LRCurve
        One curve per combination (its first data order).
    rows : list of GridRow
        The table: suggestion, lowest smoothed loss and highest stable rate per combination.
    best : dict or None
        The recommended combination: the trainer's own values (``current_index``); None when
        they are not in the grid (or ``keep_current=False``), so there is no recommendation.
    lr : float or None
        The suggested learning rate of the recommended combination's curve.
    reason : str
        Why, in words.
    method : str
        The suggestion rule used.
    best_index : int or None
        The row of ``best``.
    runs : list of list of LRCurve
        Every curve of every combination (several with ``repeats > 1``).
    current_index : int or None
        The row of the trainer's own values, when they are in the grid.
    candidate : dict
        The sweep's pick: the combination the range tests rate best (with the trainer's values
        in the grid: another one only if clearly better, see :func:`recommend`; otherwise
        Smith's rule). Not validated by any training run.
    candidate_index : int
        Its row.
    candidate_lr : float or None
        Its curve's suggested learning rate.
    candidate_reason : str
        Why the range tests rate it best, in words.
    evidence : str
        What stands behind changing to ``candidate``, in words ("" when it is the current values).
    notes : list of str
        Diagnostics, e.g. that another momentum looking better usually means the suggested
        learning rate is off.
    """

    combinations: List[Dict[str, float]]
    curves: List[LRCurve]
    rows: List[GridRow]
    best: Optional[Dict[str, float]]
    lr: Optional[float]
    reason: str
    method: Method = DEFAULT_METHOD
    best_index: Optional[int] = None
    runs: List[List[LRCurve]] = field(default_factory=list)
    current_index: Optional[int] = None
    candidate: Dict[str, float] = field(default_factory=dict)
    candidate_index: int = 0
    candidate_lr: Optional[float] = None
    candidate_reason: str = ""
    evidence: str = ""
    notes: List[str] = field(default_factory=list)

    @property
    def suggests_change(self) -> bool:
        """True when the sweep's pick differs from the trainer's own values (or those are unknown)."""
        return self.candidate_index != self.current_index

    def suggest(self, method: Optional[Method] = None) -> float:
        """The recommended combination's learning rate: :attr:`lr`, or that of another rule.

        Raises
        ------
        RuntimeError
            When the recommended combination's curves gave no learning rate.
        """
        return self._lr_of(self.best_index, self.lr, method)

    def _lr_of(self, index: Optional[int], lr: Optional[float], method: Optional[Method]) -> float:
        if index is None:
            raise RuntimeError(f"no recommendation, so no learning rate for it: {self.reason}")
        if method is not None and get_rule(method).name != self.method:
            runs = self.runs[index] if self.runs else [self.curves[index]]
            lr = _median_row(self.rows[index].combination, runs, method).lr
        if lr is None:
            raise RuntimeError("the curve of the combination to apply gave no learning rate; pick one by hand")
        return lr

    def plot(self, path: Optional[PathLike] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Overlay the smoothed curves with their suggestions, the recommended one thick
        (:func:`gluon_lrfinder.plotting.plot_grid`); returns the Axes."""
        from ..plotting import plot_grid

        return plot_grid(self, ax=ax, path=path, **kwargs)

    def apply(
        self, trainer: Any, method: Optional[Method] = None, accept_unvalidated: bool = False
    ) -> Dict[str, float]:
        """Set the recommendation on a trainer: by default, keep its weight decay and momentum.

        By default the recommendation is the trainer's own weight decay and momentum: they are
        left as they are, and the learning rate suggested on their own curve in the grid is
        set. The sweep's pick is applied only with ``accept_unvalidated=True``: it rests on
        range tests alone, and on held-out recipes changes made on that evidence did not beat
        keeping the values (docs/weight_decay_momentum.md).

        Parameters
        ----------
        trainer : gluon.Trainer
            Where to set the values.
        method : str or callable, optional
            Read the learning rate with this rule instead of the grid's.
        accept_unvalidated : bool, default False
            Apply the sweep's pick (:attr:`candidate`, its weight decay, momentum or ``beta1``
            and learning rate) instead; a ``UserWarning`` then says what evidence stands behind
            the change. Confirm it with a training run before keeping it.

        Returns
        -------
        dict
            What was set, e.g. ``{"weight_decay": 1e-4, "momentum": 0.9, "lr": 0.05}``.

        Raises
        ------
        RuntimeError
            Without ``accept_unvalidated`` when the grid does not hold the trainer's own values
            (nothing is changed then); when the curve to apply gave no learning rate.
        """
        import warnings

        from ..engine.knobs import set_knobs, set_learning_rate

        if not isinstance(accept_unvalidated, bool):
            raise TypeError(f"accept_unvalidated must be a bool, got {type(accept_unvalidated).__name__}")
        if accept_unvalidated:
            target = dict(self.candidate)
            lr = self._lr_of(self.candidate_index, self.candidate_lr, method)
        else:
            if self.best is None:
                raise RuntimeError(
                    f"nothing changed: {self.reason}. Add your own values to the grid to get the learning rate "
                    "suggested for them, or pass accept_unvalidated=True to apply the sweep's pick "
                    f"({_describe(self.candidate)}), which rests on: {self.evidence}"
                )
            target = dict(self.best)
            lr = self.suggest(method)
        set_knobs(trainer.optimizer, target)
        target["lr"] = set_learning_rate(trainer, lr)
        if accept_unvalidated and self.suggests_change:
            warnings.warn(f"apply_grid set the sweep's pick ({_describe(self.candidate)}) on the evidence of "
                          f"{self.evidence}; confirm it with a training run before keeping it", UserWarning,
                          stacklevel=3)
        return target

    def table(self) -> List[Dict[str, Any]]:
        """The rows as plain dicts (one per combination), e.g. for ``pandas.DataFrame``."""
        return [
            {**r.combination, "lr": r.lr, "lowest_loss": r.lowest_loss, "stable_lr": r.stable_lr}
            for r in self.rows
        ]

    def __str__(self) -> str:
        keys = list(self.combinations[0]) if self.combinations else []
        head = [*keys, "suggested lr", "lowest loss", "stable to lr", ""]
        lines = [head]
        for i, r in enumerate(self.rows):
            lr = "-" if r.lr is None else f"{r.lr:.3g}"
            marks = (("(your current values)", i == self.current_index),
                     ("<- recommended", i == self.best_index),
                     ("<- sweep's pick (not validated)", i == self.candidate_index and self.suggests_change))
            mark = " ".join(m for m, on in marks if on)
            lines.append([*(f"{r.combination[k]:g}" for k in keys), lr, f"{r.lowest_loss:.4g}",
                          f"{r.stable_lr:.3g}", mark])
        widths = [max(len(row[c]) for row in lines) for c in range(len(head))]
        per = f", {len(self.runs[0])} data orders each, medians" if self.runs and len(self.runs[0]) > 1 else ""
        text = [f"{len(self.rows)} combinations ({self.method}{per}):"]
        text += ["  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines]
        text.append(f"Recommended: {self.reason}.")
        if self.best is not None:
            lr = "none" if self.lr is None else f"{self.lr:.3g}"
            text.append(f"Its suggested learning rate: {lr}.")
        if self.suggests_change:
            lr = "none" if self.candidate_lr is None else f"{self.candidate_lr:.3g}"
            text.append(f"The sweep's pick (not validated): {self.candidate_reason}; its suggested learning rate "
                        f"{lr}. Evidence behind a change: {self.evidence}.")
        text += [f"Note: {note}." for note in self.notes]
        return "\n".join(text)


def _median_row(combination: Dict[str, float], curves: Sequence[LRCurve], method: Method) -> GridRow:
    summaries = [curve_summary(cv, method=method) for cv in curves]
    lrs = [s["lr"] for s in summaries if s["lr"] is not None]
    return GridRow(
        dict(combination),
        # exp(log(x)) can miss x by an ulp: keep the median inside the suggestions it summarises
        lr=float(np.clip(np.exp(np.median(np.log(lrs))), min(lrs), max(lrs))) if lrs else None,
        lowest_loss=float(np.median([s["lowest_loss"] for s in summaries])),
        stable_lr=float(np.exp(np.median(np.log([s["stable_lr"] for s in summaries])))),
        lowest_losses=[float(s["lowest_loss"]) for s in summaries],
    )


def _evidence(rows: Sequence[GridRow], index: int, current: Optional[int]) -> str:
    """What a change to ``rows[index]`` rests on, in words."""
    row = rows[index]
    orders = len(row.lowest_losses) or 1
    if current is None:
        what = (f"range tests only: its curve ranks best by Smith's rule over {orders} data order"
                f"{'s' if orders > 1 else ''} (lowest smoothed loss {row.lowest_loss:.4g}, stable to lr "
                f"{row.stable_lr:.3g}), with no comparison with your own values")
    else:
        ref = rows[current]
        pairs = list(zip(row.lowest_losses, ref.lowest_losses)) or [(row.lowest_loss, ref.lowest_loss)]
        ratios = [mine / theirs for mine, theirs in pairs if theirs > 0]
        low, high = (f"{min(ratios):.2f}", f"{max(ratios):.2f}") if ratios else ("?", "?")
        spread = f"{low}x" if low == high else f"{low}-{high}x"
        what = (f"range tests only: its lowest smoothed loss was {spread} that of your values in each of "
                f"{orders} data order{'s' if orders > 1 else ''}, a few hundred iterations each, with no "
                "training run behind it")
    return what + "; " + HELD_OUT_EVIDENCE


def summarize_grid(
    combinations: Sequence[Dict[str, float]],
    curves: Sequence[Union[LRCurve, Sequence[LRCurve]]],
    method: Method = DEFAULT_METHOD,
    tolerance: float = DEFAULT_TOLERANCE,
    current: Optional[int] = None,
    margin: float = DEFAULT_MARGIN,
    effective_step: Optional[bool] = None,
) -> GridResult:
    """Reduce each combination's curve to a :class:`GridRow`, find the sweep's pick, recommend.

    The recommendation is the trainer's own values (``current``); the sweep's pick is
    reported as a diagnostic, with the evidence behind it (see :class:`GridResult`).

    Parameters
    ----------
    combinations : sequence of dict
        Knob values per range test.
    curves : sequence of LRCurve, or of lists of LRCurve
        The matching curves (same length); a list per combination for several data orders
        (the same orders for every combination), whose figures are then medians.
    method : str, default ``DEFAULT_METHOD``
        Suggestion rule.
    tolerance, current, margin
        See :func:`recommend` (``current`` is an index into ``combinations``; None: no
        recommendation, and the sweep's pick by Smith's rule).
    effective_step : bool, optional
        Whether the optimizer's momentum scales its step as ``lr / (1 - m)`` (SGD-style
        momentum: True; Adam's ``beta1``: False; None: unknown). Only shapes the note on momentum.

    Returns
    -------
    GridResult
    """
    if len(combinations) != len(curves) or not curves:
        raise ValueError(
            f"combinations and curves must be non-empty and of the same length, got {len(combinations)} "
            f"and {len(curves)}"
        )
    runs = [[cv] if isinstance(cv, LRCurve) else list(cv) for cv in curves]
    rows = [_median_row(c, run, method) for c, run in zip(combinations, runs)]
    choice = recommend(rows, tolerance=tolerance, current=current, margin=margin)
    index = choice["index"]
    notes: List[str] = []
    if current is None:
        best: Optional[Dict[str, float]] = None
        lr = None
        reason = ("no recommendation: the trainer's own values are not in the comparison (not in the grid, or "
                  "keep_current=False), so there is nothing to compare a change with; the table and the sweep's "
                  "pick are a diagnostic, and " + HELD_OUT_EVIDENCE)
        if "momentum" in rows[index].combination:  # against the runner-up momentum at the pick's other values
            others = [i for i, r in enumerate(rows) if i != index
                      and r.combination.get("momentum") != rows[index].combination["momentum"]
                      and all(r.combination.get(k) == v for k, v in rows[index].combination.items() if k != "momentum")]
            if others:
                note = momentum_note(rows, min(others, key=lambda i: rows[i].lowest_loss), effective_step, margin)
                notes += [note] if note else []
    else:
        best, lr = dict(rows[current].combination), rows[current].lr
        if index == current:
            reason = choice["reason"] + "; the grid is a diagnostic"
        else:
            reason = (f"keep your current values ({_describe(rows[current].combination)}): the sweep rates another "
                      "combination better (below), but " + HELD_OUT_EVIDENCE)
        note = momentum_note(rows, current, effective_step, margin)
        notes += [note] if note else []
    return GridResult(
        combinations=[dict(c) for c in combinations], curves=[run[0] for run in runs], rows=rows,
        best=best, lr=lr, reason=reason, method=get_rule(method).name,
        best_index=current, runs=runs, current_index=current,
        candidate=dict(rows[index].combination), candidate_index=index, candidate_lr=rows[index].lr,
        candidate_reason=choice["reason"], evidence="" if index == current else _evidence(rows, index, current),
        notes=notes,
    )


def grid_values(name: str, values: Any) -> Optional[List[float]]:
    """Check one knob's list: None, or a non-empty sequence of finite numbers >= 0.

    Examples
    --------
    >>> grid_values("weight_decay", [0, 1e-4])
    [0.0, 0.0001]
    """
    if values is None:
        return None
    if isinstance(values, (int, float)):
        values = [values]
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a list of numbers >= 0, got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must hold at least one value, got an empty list")
    for v in out:
        if not math.isfinite(v) or v < 0:
            raise ValueError(f"{name} values must be finite numbers >= 0, got {v!r}")
    return out
