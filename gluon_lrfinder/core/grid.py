"""Weight decay and momentum from the range test (Smith 2018, arXiv 1803.09820). No MXNet import.

Leslie Smith's "disciplined approach" picks weight decay and momentum with the same tool as the
learning rate: run the range test once per value, from the same starting weights and on the
same data order, overlay the curves, and prefer the value whose curve reaches the lowest loss
*and* stays stable up to the highest learning rate.
:meth:`gluon_lrfinder.LRFinder.find_grid` runs the tests; this module holds the pure part:
what each curve is reduced to (:class:`GridRow`), the rule that reads the curves
(:func:`recommend`) and the result (:class:`GridResult`).

The grid is a diagnostic. Its pick (:attr:`GridResult.candidate`) is not the recommendation: on
held-out recipes, changes chosen from range tests alone trained worse on average than the
trainer's own values (the docs' evidence page has the measurements). So the recommendation is
to keep the trainer's own values, and a change is applied only on request
(``LRFinder.apply(accept_unvalidated=True)``).

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

from .curve import LRCurve
from .grid_rows import (
    DEFAULT_MARGIN,
    DEFAULT_TOLERANCE,
    HELD_OUT_EVIDENCE,
    GridRow,
    _describe,
    curve_summary,
    momentum_note,
    recommend,
)
from .plotting import plot_grid
from .rules import DEFAULT_METHOD, Method, get_rule

__all__ = ["GridResult", "summarize_grid", "grid_values"]

PathLike = Union[str, "os.PathLike[str]"]

@dataclass
class GridResult:
    """The range tests of a weight-decay / momentum grid (see :meth:`LRFinder.find_grid`).

    The grid is a diagnostic: the curves, the table, the sweep's pick (``candidate``) and why
    it would be picked. The recommendation (``best``) is the trainer's own values whenever
    they are in the grid, because on held-out recipes no rule that reads range tests did
    better than keeping them (docs/evidence.md).

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
        (:func:`gluon_lrfinder.core.plotting.plot_grid`); returns the Axes."""
        return plot_grid(self, ax=ax, path=path, **kwargs)

    def settings(self, method: Optional[Method] = None, accept_unvalidated: bool = False) -> Dict[str, float]:
        """What :meth:`LRFinder.apply <gluon_lrfinder.LRFinder.apply>` sets after this grid: by
        default the trainer's own weight decay and momentum, and the learning rate suggested on
        their own curve in the grid.

        The sweep's pick is returned only with ``accept_unvalidated=True``: it rests on range
        tests alone, and on held-out recipes changes made on that evidence did not beat keeping
        the values (see the evidence page); a ``UserWarning`` then says what evidence stands
        behind the change. Confirm it with a training run before keeping it.

        Parameters
        ----------
        method : str or callable, optional
            Read the learning rate with this rule instead of the grid's.
        accept_unvalidated : bool, default False
            Return the sweep's pick (:attr:`candidate`, its weight decay, momentum or ``beta1``
            and learning rate) instead.

        Returns
        -------
        dict
            e.g. ``{"weight_decay": 1e-4, "momentum": 0.9, "lr": 0.05}``.

        Raises
        ------
        TypeError
            ``accept_unvalidated`` is not a bool.
        RuntimeError
            Without ``accept_unvalidated`` when the grid does not hold the trainer's own values;
            when the curve to apply gave no learning rate.
        """
        import warnings

        if not isinstance(accept_unvalidated, bool):
            raise TypeError(f"accept_unvalidated must be a bool, got {type(accept_unvalidated).__name__}")
        if accept_unvalidated:
            target = dict(self.candidate)
            target["lr"] = self._lr_of(self.candidate_index, self.candidate_lr, method)
            if self.suggests_change:
                warnings.warn(f"applying the sweep's pick ({_describe(self.candidate)}) on the evidence of "
                              f"{self.evidence}; confirm it with a training run before keeping it", UserWarning,
                              stacklevel=3)
            return target
        if self.best is None:
            raise RuntimeError(
                f"nothing changed: {self.reason}. Add your own values to the grid to get the learning rate "
                "suggested for them, or pass accept_unvalidated=True to apply the sweep's pick "
                f"({_describe(self.candidate)}), which rests on: {self.evidence}"
            )
        target = dict(self.best)
        target["lr"] = self.suggest(method)
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
