"""Smoothers for loss curves. No MXNet import.

Two kinds, for two jobs:

* :func:`ema` is *causal*: each value depends only on the losses seen so far, so the stopping
  rule can use it during the sweep. It lags the curve (by about ``1 / (1 - smoothing)``
  iterations), which is why suggestions do not read it.
* :func:`zero_phase` is *non-causal*: a Gaussian kernel over log10(LR), normalised at every
  point, so it does not shift the curve to the right. Suggestions read this one. By default it
  is *robust* (:func:`despike` first): one huge loss, or a blow-up at the end of the sweep, does
  not leak into the descent before it.

Examples
--------
>>> ema([1.0, 3.0], smoothing=0.5).tolist()
[1.0, 2.0]
>>> zero_phase([1e-3, 1e-2, 1e-1], [1.0, 1.0, 1.0]).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from ._validate import check_number, check_unit_interval

__all__ = [
    "ema", "ema_step", "zero_phase", "despike", "default_bandwidth", "DESPIKE_WIDTH",
    "MIN_POINTS", "finite_points", "enough_points", "sorted_finite", "smoothed_curve", "smoothed_on_grid",
]

#: Points in the running median of :func:`despike`: an outlier run of up to 2 points vanishes.
DESPIKE_WIDTH = 5


def ema_step(previous: Optional[float], loss: float, smoothing: float) -> float:
    """One step of the causal exponential moving average.

    ``smoothing`` is the weight of the history, as in the MXNet tutorial's stopping rule:
    ``new = smoothing * previous + (1 - smoothing) * loss``; the first value is the loss itself.
    """
    if previous is None:
        return float(loss)
    return smoothing * previous + (1.0 - smoothing) * float(loss)


def ema(losses: Union[Sequence[float], np.ndarray], smoothing: float = 0.3) -> np.ndarray:
    """Causal exponential moving average of ``losses``.

    Parameters
    ----------
    losses : sequence of float
        Raw losses in sweep order.
    smoothing : float, default 0.3
        Weight of the history, in [0, 1); 0 returns the raw losses.

    Returns
    -------
    numpy.ndarray
        Same length as ``losses``.

    Examples
    --------
    >>> ema([2.0, 2.0, 8.0], smoothing=0.5).tolist()
    [2.0, 2.0, 5.0]
    """
    smoothing = check_unit_interval("smoothing", smoothing)
    out = np.empty(len(losses), dtype=np.float64)
    value = None
    for i, loss in enumerate(losses):
        value = ema_step(value, loss, smoothing)
        out[i] = value
    return out


def default_bandwidth(lrs: ArrayLike) -> float:
    """Default kernel width, in decades, for :func:`zero_phase`.

    One twentieth of the swept log-range, but at least 1.5 sweep steps, so that a short sweep is
    still smoothed and a long one keeps its shape.
    """
    log_lrs = np.log10(np.asarray(lrs, dtype=np.float64))
    if log_lrs.size < 2:
        return 0.0
    span = float(log_lrs[-1] - log_lrs[0])
    step = float(np.median(np.abs(np.diff(log_lrs))))
    return max(span / 20.0, 1.5 * step)


def despike(losses: ArrayLike, width: int = DESPIKE_WIDTH) -> np.ndarray:
    """Remove outliers from a loss curve: a running median, then a cap on the blow-up.

    1. Each finite loss becomes the median of the finite losses among the ``width`` points
       centred on it (a narrower symmetric window near the ends; at the two end points the
       median of the point, its neighbour and their linear extrapolation), so that a run of up
       to ``width // 2`` outliers inside the curve, or one at either end, however large,
       disappears, while a straight line passes unchanged.
    2. Values above ``low + 3 * (high - low)`` are capped there, where ``low`` is the lowest
       value and ``high`` the highest value *before* it: the curve keeps its descent and its
       turn upwards, but a blow-up by orders of magnitude cannot pull a Gaussian average of the
       descent up. (No cap when the lowest value comes first.)

    Non-finite losses stay as they are (the smoother gives them no weight). ``losses`` must be
    in increasing-LR order.

    Examples
    --------
    >>> despike([2.0, 1.9, 1.8, 1e8, 1.6, 1.5, 1.4]).tolist()
    [1.9, 1.9, 1.9, 1.8, 1.6, 1.5, 1.4]
    >>> out = despike([2.0, 1.8, 1.5, 1.2, 1.0, 1.1, 3.0, 50.0, 1e3, 1e5])
    >>> [round(x, 2) for x in out]     # capped at 1.2 + 3 * (2.0 - 1.2)
    [2.0, 1.8, 1.5, 1.2, 1.2, 1.2, 3.0, 3.6, 3.6, 3.6]
    """
    losses = np.asarray(losses, dtype=np.float64)
    out = losses.copy()
    finite = np.flatnonzero(np.isfinite(losses))
    if finite.size < 3:
        return out
    values = losses[finite]
    n, half = values.size, width // 2
    # symmetric windows, narrower near the ends, so that a straight line passes unchanged
    filtered = np.array([np.median(values[i - h: i + h + 1]) for i, h in
                         ((i, min(half, i, n - 1 - i)) for i in range(n))])
    # the end points: Tukey's rule, the median of the point, its neighbour and their extrapolation
    for end, a, b in ((0, 1, 2), (n - 1, n - 2, n - 3)):
        filtered[end] = np.median([values[end], filtered[a], 2 * filtered[a] - filtered[b]])
    low_at = int(np.argmin(filtered))
    low = float(filtered[low_at])
    high = float(np.max(filtered[: low_at + 1]))
    if high > low:
        filtered = np.minimum(filtered, low + 3.0 * (high - low))
    out[finite] = filtered
    return out


def zero_phase(
    lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None, robust: bool = True
) -> np.ndarray:
    """Zero-phase (non-lagging) smoothing of a loss curve over log10(LR).

    Each output point is the Gaussian-weighted mean of the finite losses around it, with the
    weights ``exp(-0.5 * (d / bandwidth) ** 2)`` where ``d`` is the distance in decades; the
    weights are normalised per point, so the ends of the curve are not pulled down.
    Non-finite losses (NaN, inf) get no weight.

    Parameters
    ----------
    lrs : sequence of float
        Learning rates, > 0, in sweep order.
    losses : sequence of float
        Raw losses, same length.
    bandwidth : float, optional
        Kernel standard deviation in decades, >= 0 (0 returns the raw losses). Default
        :func:`default_bandwidth`.
    robust : bool, default True
        Pass the losses (sorted by LR) through :func:`despike` first, so that no single
        outlier moves the curve. ``False`` gives the plain Gaussian average.

    Returns
    -------
    numpy.ndarray
        Smoothed losses; NaN where no finite loss lies near a point.

    Examples
    --------
    >>> lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    >>> smooth = zero_phase(lrs, [4.0, 3.0, 2.0, 1.0], bandwidth=0.5)
    >>> bool(abs(smooth[1] - 3.0) < 0.2 and abs(smooth[2] - 2.0) < 0.2)
    True
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if lrs.shape != losses.shape:
        raise ValueError(f"lrs and losses must have the same length, got {lrs.size} and {losses.size}")
    if np.any(~(lrs > 0)):
        raise ValueError("lrs must all be > 0 to be smoothed over log10(lr)")
    if bandwidth is None:
        bandwidth = default_bandwidth(lrs)
    bandwidth = check_number("bandwidth", bandwidth)
    if bandwidth < 0:
        raise ValueError(f"bandwidth must be >= 0 (decades), got {bandwidth!r}")
    if bandwidth == 0 or losses.size < 2:
        return losses.copy()
    if robust:
        order = np.argsort(lrs, kind="stable")
        cleaned = np.empty_like(losses)
        cleaned[order] = despike(losses[order])
        losses = cleaned
    x = np.log10(lrs)
    finite = np.isfinite(losses)
    weights = np.exp(-0.5 * ((x[:, None] - x[None, :]) / bandwidth) ** 2) * finite[None, :]
    total = weights.sum(axis=1)
    values = np.where(finite, losses, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = weights @ values / total
    out[total < 1e-12] = np.nan
    return out


#: Fewest finite points a curve needs before any rule answers.
MIN_POINTS = 5


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


def sorted_finite(lrs: ArrayLike, losses: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`finite_points` in increasing LR order; a ``ValueError`` below :data:`MIN_POINTS` of them."""
    lrs, losses = finite_points(lrs, losses)
    if lrs.size < MIN_POINTS:
        raise ValueError(
            f"too few points to suggest a learning rate: need at least {MIN_POINTS} finite "
            f"(lr, loss) points, got {lrs.size}; lower lr_start, raise lr_end or min_iter"
        )
    order = np.argsort(lrs, kind="stable")
    return lrs[order], losses[order]


def smoothed_curve(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float]) -> Tuple[np.ndarray, np.ndarray]:
    """The finite points' LRs in increasing order and their zero-phase smoothed losses: what every rule reads.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_POINTS` finite points.
    """
    lrs, losses = sorted_finite(lrs, losses)
    return lrs, zero_phase(lrs, losses, bandwidth)


def smoothed_on_grid(grid_x: np.ndarray, curve: Any, bandwidth: Optional[float] = None) -> np.ndarray:
    """The curve's zero-phase smoothed losses at the grid's log10-LRs; NaN outside its LR range.

    How :func:`summarize_sweeps` puts runs of different lengths on one grid, and how
    :func:`~gluon_lrfinder.core.plotting.plot_bands` draws each run; ``curve`` has ``lrs`` and ``losses``.

    Examples
    --------
    >>> from gluon_lrfinder.core.registry import CurvePoints
    >>> c = CurvePoints(lrs=[1e-3, 1e-2, 1e-1], losses=[2.0, 1.0, 3.0])
    >>> out = smoothed_on_grid(np.array([-2.5, -2.0, 0.0]), c)
    >>> bool(np.isfinite(out[0])), bool(np.isnan(out[2]))
    (True, True)
    """
    lrs = np.asarray(curve.lrs, dtype=np.float64)
    losses = np.asarray(curve.losses, dtype=np.float64)
    keep = np.isfinite(losses) & (lrs > 0)
    out = np.full(grid_x.shape, np.nan)
    if keep.sum() < 2:
        return out
    x = np.log10(lrs[keep])
    order = np.argsort(x, kind="stable")
    x, smooth = x[order], zero_phase(lrs[keep][order], losses[keep][order], bandwidth)
    inside = (grid_x >= x[0] - 1e-12) & (grid_x <= x[-1] + 1e-12)
    out[inside] = np.interp(grid_x[inside], x, smooth)
    return out
