"""Plots of range-test curves. matplotlib is imported only when a plot is drawn."""
from __future__ import annotations

import os
import sys
from typing import Any, Optional, Union

import numpy as np

from .curve import LRCurve
from .smoothing import zero_phase
from .suggest import DEFAULT_METHOD, MIN_POINTS, lr_range, suggest

__all__ = ["plot_curve", "plot_bands", "pyplot"]


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


def _y_limits(losses: np.ndarray, smooth: np.ndarray) -> Optional[tuple]:
    """Keep the diverging tail from flattening the interesting part of the curve."""
    finite = losses[np.isfinite(losses)]
    if finite.size == 0:
        return None
    low = float(np.nanmin(smooth)) if np.isfinite(smooth).any() else float(finite.min())
    low = min(low, float(np.percentile(finite, 2)))
    start = float(smooth[np.isfinite(smooth)][0]) if np.isfinite(smooth).any() else float(finite[0])
    high = min(float(finite.max()), start + 0.5 * max(start - low, 1e-12))
    margin = 0.05 * max(high - low, 1e-12)
    return low - margin, high + margin


def plot_curve(
    curve: LRCurve,
    ax: Any = None,
    path: Optional[Union[str, os.PathLike[str]]] = None,
    method: Optional[str] = DEFAULT_METHOD,
    show_range: bool = False,
    bandwidth: Optional[float] = None,
    title: Optional[str] = None,
) -> Any:
    """Draw loss against learning rate on a log axis.

    Raw losses are dots, the zero-phase smoothed curve (what the suggestions read) a line, the
    suggested LR a vertical line with its value in the legend. Never calls ``plt.show()``.

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
        Shade the ``(min_lr, max_lr)`` range of :func:`~gluon_lrfinder.suggest.lr_range`.
    bandwidth : float, optional
        Smoothing width in decades.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
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
        smooth[finite] = zero_phase(lrs[finite], losses[finite], bandwidth)
        ax.plot(lrs[finite], smooth[finite], "-", color="C0", linewidth=2, label="smoothed")
    if method is not None and finite.sum() >= MIN_POINTS:
        lr = suggest(lrs, losses, method=method, bandwidth=bandwidth, warn=False,
                     optimizer=(getattr(curve, "settings", None) or {}).get("optimizer"))
        ax.axvline(lr, color="C3", linestyle="--", linewidth=1.2, label=f"suggested lr = {lr:.2e} ({method})")
        at = np.interp(np.log10(lr), np.log10(lrs[finite]), smooth[finite])
        ax.plot([lr], [at], "o", color="C3", markersize=7)
    valid_lrs = np.asarray(getattr(curve, "valid_lrs", []) or [], dtype=np.float64)
    if valid_lrs.size:  # the optional held-out signal of find(valid_data=...)
        valid_losses = np.asarray(curve.valid_losses, dtype=np.float64)
        ok = np.isfinite(valid_losses)
        ax.plot(valid_lrs[ok], valid_losses[ok], "s-", color="C1", markersize=4, linewidth=1.2,
                label="held-out loss")
        if method is not None and ok.sum() >= MIN_POINTS:
            vlr = suggest(valid_lrs, valid_losses, method=method, bandwidth=bandwidth, warn=False,
                          optimizer=(getattr(curve, "settings", None) or {}).get("optimizer"))
            ax.axvline(vlr, color="C1", linestyle=":", linewidth=1.2, label=f"held-out suggestion = {vlr:.2e}")
    if show_range and finite.sum() >= MIN_POINTS:
        low, high = lr_range(lrs, losses, bandwidth)
        ax.axvspan(low, high, color="C2", alpha=0.15, label=f"range {low:.1e} - {high:.1e}")
    ax.set_xscale("log")
    limits = _y_limits(losses, smooth)
    if limits is not None:
        ax.set_ylim(*limits)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        ax.figure.savefig(os.fspath(path), dpi=110, bbox_inches="tight")
    return ax


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
        :func:`~gluon_lrfinder.repeats.summarize_sweeps`.
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
    >>> from gluon_lrfinder.repeats import summarize_sweeps
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
        from .repeats import _on_grid

        for i, curve in enumerate(result.curves):
            ax.plot(lrs, _on_grid(np.log10(lrs), curve, None), "-", color="0.65", linewidth=0.8,
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
        start = float(result.median[ok][0])
        low = float(np.nanmin(result.low[ok]))
        high = min(float(np.nanmax(result.high[ok])), start + 1.5 * max(start - low, 1e-12))
        margin = 0.05 * max(high - low, 1e-12)
        ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("training loss (smoothed)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    if path is not None:
        ax.figure.savefig(os.fspath(path), dpi=110, bbox_inches="tight")
    return ax
