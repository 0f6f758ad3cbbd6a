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

from ._validate import check_int, check_nonnegative, check_number, check_unit_interval

__all__ = [
    "ema", "ema_step", "zero_phase", "despike", "default_bandwidth", "DESPIKE_WIDTH",
    "MIN_POINTS", "finite_points", "enough_points", "sorted_finite", "smoothed_curve", "smoothed_on_grid",
    "robust_local_linear",
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


#: Default full width, in decades, of the window of :func:`robust_local_linear`.
LOCAL_WIDTH = 0.1
#: Default least number of points with weight in each local fit of :func:`robust_local_linear`.
LOCAL_MIN_POINTS = 9
#: Default number of bisquare robustness iterations of :func:`robust_local_linear`.
LOCAL_ITERATIONS = 3


def _local_linear(x: np.ndarray, y: np.ndarray, radius: np.ndarray, robustness: np.ndarray,
                  at: np.ndarray) -> np.ndarray:
    """Weighted least-squares line through ``(x, y)`` around each point of ``at``, evaluated there.

    Weights: tricube of the distance over ``radius`` (one radius per point of ``at``) times
    ``robustness``. Where the line is undetermined (its points' weights sit on one ``x``), the
    weighted mean.
    """
    d = x[None, :] - at[:, None]
    u = np.minimum(np.abs(d) / radius[:, None], 1.0)
    w = (1.0 - u ** 3) ** 3 * robustness[None, :]
    s0, s1, s2 = w.sum(axis=1), (w * d).sum(axis=1), (w * d * d).sum(axis=1)
    t0, t1 = w @ y, (w * d) @ y
    det = s0 * s2 - s1 * s1
    with np.errstate(invalid="ignore", divide="ignore"):
        line = (s2 * t0 - s1 * t1) / det
        mean = t0 / s0
    flat = ~(det > 1e-12 * np.maximum(s0 * s2, 1e-300))
    out = np.where(flat, mean, line)
    out[~(s0 > 0)] = np.nan
    return out


def robust_local_linear(
    lrs: ArrayLike,
    losses: ArrayLike,
    width_decades: float = LOCAL_WIDTH,
    min_points: int = LOCAL_MIN_POINTS,
    iterations: int = LOCAL_ITERATIONS,
) -> np.ndarray:
    """Faithful zero-phase smoothing of a loss curve: a robust local-linear fit over log10(LR).

    Each output point is the value at its LR of a straight line fitted by weighted least squares
    to the finite losses around it (LOWESS), with tricube weights ``(1 - (d / r) ** 3) ** 3`` of
    the distance ``d`` in decades, ``r`` the half-width of the window (``width_decades / 2``, or
    more where fewer than ``min_points`` finite points lie within it). Then ``iterations`` times,
    each loss is also weighted by the bisquare of its residual over 6 median absolute residuals
    (the median over its ``3 * min_points`` nearest points), so that an outlier gets no weight
    and the curve does not move towards it.

    The fit is on log(loss) when every finite loss is > 0 (a loss curve's noise and its
    blow-up are multiplicative), on the losses themselves otherwise. Unlike
    :func:`zero_phase`, the window is narrow and a line, not a constant, is fitted in it: the
    curve passes through the bottom of the raw losses rather than averaging it with the blow-up
    beside it, and follows the descent and the blow-up without a lag.

    Parameters
    ----------
    lrs : sequence of float
        Learning rates, finite and > 0, in any order.
    losses : sequence of float
        Raw losses, same length. NaN and inf are ignored (no weight); the curve is still
        given at their LRs.
    width_decades : float, default 0.1
        Full width of the window in decades of LR, >= 0 (0: the ``min_points`` nearest points).
    min_points : int, default 9
        Least number of finite points in each window, >= 3 (the window widens to hold them).
    iterations : int, default 3
        Robustness iterations, >= 0 (0: the plain local-linear fit).

    Returns
    -------
    numpy.ndarray
        Smoothed losses at ``lrs``, the same length. With fewer than 3 finite losses there is
        nothing to fit, and the losses come back unchanged.

    Raises
    ------
    ValueError
        When the lengths differ, an LR is not a finite number > 0, or a parameter is out of range.
    TypeError
        When a parameter has the wrong type.

    Examples
    --------
    A straight line (in log-loss against log-LR) passes unchanged, and one wild loss does not
    move the curve:

    >>> lrs = np.logspace(-3, 0, 31)
    >>> losses = 2.0 * lrs ** -0.1
    >>> bool(np.allclose(robust_local_linear(lrs, losses), losses))
    True
    >>> spiked = losses.copy()
    >>> spiked[15] = 1e6
    >>> smooth = robust_local_linear(lrs, spiked)
    >>> bool(np.allclose(np.delete(smooth, 15), np.delete(losses, 15)))
    True
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if lrs.ndim != 1 or lrs.shape != losses.shape:
        raise ValueError(f"lrs and losses must be 1-d and of the same length, got shapes {lrs.shape} "
                         f"and {losses.shape}")
    if np.any(~(np.isfinite(lrs) & (lrs > 0))):
        raise ValueError("lrs must all be finite numbers > 0 to be smoothed over log10(lr)")
    width = check_nonnegative("width_decades", width_decades)
    if not np.isfinite(width):
        raise ValueError(f"width_decades must be a finite number >= 0, got {width!r}")
    min_points = check_int("min_points", min_points, 3)
    iterations = check_int("iterations", iterations, 0)
    finite = np.isfinite(losses)
    if finite.sum() < 3:
        return losses.copy()
    x_all = np.log10(lrs)
    x, values = x_all[finite], losses[finite]
    log_scale = bool(np.all(values > 0))
    y = np.log(values) if log_scale else values
    k = min(min_points, x.size)
    distance = np.abs(x[None, :] - x_all[:, None])
    # the half-width at each output point: width / 2, or the distance to its k-th nearest point
    radius_all = np.maximum(width / 2.0, np.sort(distance, axis=1)[:, k - 1] * (1.0 + 1e-6) + 1e-12)
    # the residuals' scale is local (the median over the 3 k nearest points): a curve is much
    # noisier (in log) at its blow-up than on its plateau, and a global scale would take the
    # whole blow-up for outliers
    neighbours = np.argsort(distance[finite], axis=1, kind="stable")[:, : min(3 * k, x.size)]
    floor = 1e-9 * max(1.0, float(np.median(np.abs(y))))  # an exact curve: an outlier still gets no weight
    robustness = np.ones_like(y)
    fit = plain = _local_linear(x, y, radius_all, robustness, x_all)
    for _ in range(iterations):
        residual = np.abs(y - fit[finite])
        scale = np.maximum(np.median(residual[neighbours], axis=1), floor)
        robustness = (1.0 - np.minimum(residual / (6.0 * scale), 1.0) ** 2) ** 2
        fit = _local_linear(x, y, radius_all, robustness, x_all)
        fit = np.where(np.isfinite(fit), fit, plain)  # a window whose every point is an outlier
    return np.exp(fit) if log_scale else fit
