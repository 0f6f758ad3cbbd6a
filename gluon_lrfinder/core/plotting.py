"""Plots of range-test results: one curve, repeated curves, a grid. matplotlib is imported only when a plot is drawn.

Each function draws into ``ax`` (a new figure when None), optionally saves to ``path``, and returns the Axes;
the results' ``plot()`` methods call them.
"""
from __future__ import annotations

import os
import sys
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from .registry import CurveLike, CurvePoints
from .report import suggest_curve
from .rules import DEFAULT_METHOD, Method, lr_range
from .smoothing import MIN_POINTS, robust_local_linear, smoothed_on_grid

__all__ = ["plot_curve", "plot_bands", "plot_grid", "pyplot", "y_range"]


def pyplot() -> Any:
    """Import ``matplotlib.pyplot``, choosing the Agg backend when there is no display.

    A backend the user chose (``MPLBACKEND``, an earlier pyplot import, a Jupyter kernel) is
    left alone.
    """
    import matplotlib

    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    chosen = "MPLBACKEND" in os.environ or "matplotlib.pyplot" in sys.modules or "ipykernel" in sys.modules
    if headless and not chosen:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def y_range(low: float, start: float, top: float, headroom: float = 0.5) -> Tuple[float, float]:
    """Y-limits that keep a diverging tail from flattening the interesting part of a curve.

    From ``low`` (the lowest value shown) up to ``top`` (the highest) but at most ``headroom``
    times the fall ``start - low`` above the starting level ``start``, with a 5% margin.

    Examples
    --------
    >>> [round(v, 3) for v in y_range(1.0, 2.0, 100.0)]
    [0.925, 2.575]
    """
    high = min(top, start + headroom * max(start - low, 1e-12))
    margin = 0.05 * max(high - low, 1e-12)
    return low - margin, high + margin


def _y_limits(losses: np.ndarray, smooth: np.ndarray) -> Optional[Tuple[float, float]]:
    """The limits of one curve's plot: raw losses and their smoothed curve."""
    finite = losses[np.isfinite(losses)]
    if finite.size == 0:
        return None
    low = float(np.nanmin(smooth)) if np.isfinite(smooth).any() else float(finite.min())
    low = min(low, float(np.percentile(finite, 2)))
    start = float(smooth[np.isfinite(smooth)][0]) if np.isfinite(smooth).any() else float(finite[0])
    return y_range(low, start, float(finite.max()))


def _finish(ax: Any, ylabel: str, title: Optional[str], path: Optional[Union[str, os.PathLike[str]]]) -> Any:
    """The common end of every plot: log-LR axis label, grid, legend, optional save."""
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        ax.figure.savefig(os.fspath(path), dpi=110, bbox_inches="tight")
    return ax


def plot_curve(
    curve: CurveLike,
    ax: Any = None,
    path: Optional[Union[str, os.PathLike[str]]] = None,
    method: Optional[Method] = DEFAULT_METHOD,
    show_range: bool = False,
    bandwidth: Optional[float] = None,
    title: Optional[str] = None,
) -> Any:
    """Draw loss against learning rate on a log axis.

    Raw losses are dots; the line is a faithful smoothing of them
    (:func:`~gluon_lrfinder.core.smoothing.robust_local_linear`), which passes through their
    bottom; the suggested LR is a vertical line with its value in the legend. (The rules read a
    wider smoothing, to find the steepest fall and the edge of stability through the noise.)
    Never calls ``plt.show()``.

    Parameters
    ----------
    curve : LRCurve
        A recorded sweep (``finder.curve`` or ``LRCurve.load(path)``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    path : str, optional
        Save the figure there (format from the suffix, e.g. ``.png``).
    method : str or None, default ``DEFAULT_METHOD``
        Suggestion rule to mark; None marks nothing.
    show_range : bool, default False
        Shade the ``(min_lr, max_lr)`` range of :func:`~gluon_lrfinder.core.rules.lr_range`.
    bandwidth : float, optional
        Smoothing width in decades of the curve the rules read (the suggestion and range).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder import LRCurve
    >>> lrs = np.logspace(-5, 0, 50)
    >>> curve = LRCurve(lrs=list(lrs), losses=list(2 - np.tanh(np.log10(lrs) + 3) + lrs * 20))
    >>> ax = plot_curve(curve)
    >>> ax.get_xscale()
    'log'
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    lrs = np.asarray(curve.lrs, dtype=np.float64)
    losses = np.asarray(curve.losses, dtype=np.float64)
    finite = np.isfinite(losses)
    ax.plot(lrs[finite], losses[finite], ".", color="0.6", markersize=4, label="loss per iteration")
    smooth = np.full_like(losses, np.nan)
    if finite.sum() >= 2:
        smooth[finite] = robust_local_linear(lrs[finite], losses[finite])
        ax.plot(lrs[finite], smooth[finite], "-", color="C0", linewidth=2, label="smoothed loss")
    if method is not None and finite.sum() >= MIN_POINTS:
        lr = suggest_curve(curve, method=method, bandwidth=bandwidth, warn=False)
        ax.axvline(lr, color="C3", linestyle="--", linewidth=1.2, label=f"suggested lr = {lr:.2e} ({method})")
        at = np.interp(np.log10(lr), np.log10(lrs[finite]), smooth[finite])
        ax.plot([lr], [at], "o", color="C3", markersize=7)
    valid_lrs = np.asarray(getattr(curve, "valid_lrs", []) or [], dtype=np.float64)
    if valid_lrs.size:  # the optional held-out signal of find(valid_data=...)
        valid_losses = np.asarray(curve.valid_losses, dtype=np.float64)  # type: ignore[attr-defined]
        ok = np.isfinite(valid_losses)
        ax.plot(valid_lrs[ok], valid_losses[ok], "s-", color="C1", markersize=4, linewidth=1.2,
                label="held-out loss")
        if method is not None and ok.sum() >= MIN_POINTS:
            valid = CurvePoints(valid_lrs, valid_losses, getattr(curve, "settings", None) or {})
            vlr = suggest_curve(valid, method=method, bandwidth=bandwidth, warn=False)
            ax.axvline(vlr, color="C1", linestyle=":", linewidth=1.2, label=f"held-out suggestion = {vlr:.2e}")
    if show_range and finite.sum() >= MIN_POINTS:
        optimizer = (getattr(curve, "settings", None) or {}).get("optimizer")
        low, high = lr_range(lrs, losses, bandwidth, optimizer=optimizer)
        ax.axvspan(low, high, color="C2", alpha=0.15, label=f"range {low:.1e} - {high:.1e}")
    ax.set_xscale("log")
    limits = _y_limits(losses, smooth)
    if limits is not None:
        ax.set_ylim(*limits)
    return _finish(ax, "training loss", title, path)


def plot_bands(
    result: Any,
    ax: Any = None,
    path: Optional[Union[str, os.PathLike[str]]] = None,
    show_runs: bool = True,
    title: Optional[str] = None,
) -> Any:
    """Draw repeated range tests: median smoothed curve, 10%-90% band, each run's suggestion.

    Parameters
    ----------
    result : RepeatedSweeps
        From :meth:`~gluon_lrfinder.LRFinder.find_repeated` or
        :func:`~gluon_lrfinder.core.repeated.summarize_sweeps`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    path : str, optional
        Save the figure there.
    show_runs : bool, default True
        Draw each run's smoothed curve thinly and shade the interval of the suggestions.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder import LRCurve
    >>> from gluon_lrfinder.core.repeated import summarize_sweeps
    >>> lrs = list(np.logspace(-4, 0, 41))
    >>> curves = [LRCurve(lrs=lrs, losses=list(2 - np.tanh(np.log10(lrs) + 2 + s) + np.array(lrs) * 9))
    ...           for s in (0.0, 0.1, -0.1)]
    >>> ax = plot_bands(summarize_sweeps(curves, method="steepest"))
    >>> ax.get_xscale()
    'log'
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    lrs = np.asarray(result.lrs, dtype=np.float64)
    if show_runs:
        for i, curve in enumerate(result.curves):
            ax.plot(lrs, smoothed_on_grid(np.log10(lrs), curve, None), "-", color="0.65", linewidth=0.8,
                    label="each run (smoothed)" if i == 0 else None)
    ok = np.isfinite(result.median)
    ax.fill_between(lrs[ok], result.low[ok], result.high[ok], color="C0", alpha=0.25, label="10%-90% band")
    ax.plot(lrs[ok], result.median[ok], "-", color="C0", linewidth=2, label=f"median of {len(result.curves)} runs")
    for i, lr in enumerate(result.suggestions):
        ax.axvline(lr, color="C3", alpha=0.35, linewidth=0.8, label="each run's suggestion" if i == 0 else None)
    if show_runs:
        ax.axvspan(result.interval[0], result.interval[1], color="C3", alpha=0.08)
    ax.axvline(result.lr, color="C3", linestyle="--", linewidth=1.5,
               label=f"suggested lr = {result.lr:.2e} (stability {result.stability:.2f})")
    ax.set_xscale("log")
    if ok.any():
        # the band's upper edge is wider than one curve: more headroom than plot_curve's
        ax.set_ylim(*y_range(float(np.nanmin(result.low[ok])), float(result.median[ok][0]),
                             float(np.nanmax(result.high[ok])), headroom=1.5))
    return _finish(ax, "training loss (smoothed)", title, path)


def plot_grid(
    result: Any,
    ax: Any = None,
    path: Optional[Union[str, os.PathLike[str]]] = None,
    title: Optional[str] = None,
) -> Any:
    """Overlay the smoothed curves of a weight-decay / momentum grid, each with its suggestion.

    The recommended combination (the trainer's own values) is drawn thick, the sweep's pick is
    named in the legend; every curve's suggested learning rate is a marker on its own curve.

    Parameters
    ----------
    result : GridResult
        From :meth:`~gluon_lrfinder.LRFinder.find_grid` or
        :func:`~gluon_lrfinder.core.grid.summarize_grid`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; default: a new figure.
    path : str, optional
        Save the figure there.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from gluon_lrfinder import LRCurve
    >>> from gluon_lrfinder.core.grid import summarize_grid
    >>> lrs = list(np.logspace(-4, 0, 41))
    >>> curves = [LRCurve(lrs=lrs, losses=list(2 - np.tanh(np.log10(lrs) + 2) + np.array(lrs) * k))
    ...           for k in (3, 9)]
    >>> ax = plot_grid(summarize_grid([{"weight_decay": 0.0}, {"weight_decay": 1e-4}], curves))
    >>> len(ax.get_lines()) >= 2
    True
    """
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    lows: List[float] = []
    starts: List[float] = []
    tops: List[float] = []
    for i, (curve, row) in enumerate(zip(result.curves, result.rows)):
        lrs = np.asarray(curve.lrs, dtype=np.float64)
        losses = np.asarray(curve.losses, dtype=np.float64)
        ok = np.isfinite(losses)
        if ok.sum() < 2:
            continue
        smooth = robust_local_linear(lrs[ok], losses[ok])
        best = i == result.best_index
        pick = i == result.candidate_index and result.suggests_change
        label = ", ".join(f"{k}={v:g}" for k, v in row.combination.items()) + (" (recommended)" if best else "")
        label += " (sweep's pick, not validated)" if pick else ""
        (line,) = ax.plot(lrs[ok], smooth, "-", linewidth=2.4 if best else 1.1, label=label, zorder=3 if best else 2)
        if row.lr is not None:
            ax.plot([row.lr], [np.interp(np.log10(row.lr), np.log10(lrs[ok]), smooth)], "o",
                    color=line.get_color(), markersize=7 if best else 5, zorder=4)
        lows.append(float(smooth.min()))
        starts.append(float(smooth[0]))
        tops.append(float(smooth.max()))
    ax.set_xscale("log")
    if lows:
        ax.set_ylim(*y_range(min(lows), max(starts), max(tops)))
    return _finish(ax, "training loss (smoothed)", title or "Range tests per combination (dots: suggested lr)", path)
