"""The rows of a weight-decay / momentum grid and the recommendation read from them. No MXNet import.

:mod:`gluon_lrfinder.core.grid` builds a ``GridResult`` from these rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ._validate import check_nonnegative
from .registry import CurveLike, CurvePoints
from .report import suggest_curve
from .rules import DEFAULT_METHOD, Method
from .smoothing import finite_points, zero_phase

__all__ = ["GridRow", "curve_summary", "recommend"]

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
    >>> from gluon_lrfinder.core.curve import LRCurve
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
    (docs/evidence.md measures both rules).

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


#: Why the recommendation keeps the trainer's values: every reason and warning that mentions a
#: change quotes it (the measurements are on the evidence page).
HELD_OUT_EVIDENCE = (
    "on held-out recipes, changes of weight decay or momentum chosen from range tests alone trained worse "
    "on average than the trainer's own values, so confirm any change with a training run"
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


