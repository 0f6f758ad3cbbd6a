"""Smoothers for loss curves. No MXNet import.

Two kinds, for two jobs:

* :func:`ema` is *causal*: each value depends only on the losses seen so far, so the stopping
  rule can use it during the sweep. It lags the curve (by about ``1 / (1 - smoothing)``
  iterations), which is why suggestions do not read it.
* :func:`zero_phase` is *non-causal*: a Gaussian kernel over log10(LR), normalised at every
  point, so it does not shift the curve to the right. Suggestions read this one.

Examples
--------
>>> ema([1.0, 3.0], smoothing=0.5).tolist()
[1.0, 2.0]
>>> zero_phase([1e-3, 1e-2, 1e-1], [1.0, 1.0, 1.0]).tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ._validate import check_number, check_unit_interval

__all__ = ["ema", "ema_step", "zero_phase", "default_bandwidth"]


def ema_step(previous: Optional[float], loss: float, smoothing: float) -> float:
    """One step of the causal exponential moving average.

    ``smoothing`` is the weight of the history, as in the MXNet tutorial's stopping rule:
    ``new = smoothing * previous + (1 - smoothing) * loss``; the first value is the loss itself.
    """
    if previous is None:
        return float(loss)
    return smoothing * previous + (1.0 - smoothing) * float(loss)


def ema(losses: Sequence[float], smoothing: float = 0.3) -> np.ndarray:
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


def default_bandwidth(lrs: Sequence[float]) -> float:
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


def zero_phase(
    lrs: Sequence[float], losses: Sequence[float], bandwidth: Optional[float] = None
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
    x = np.log10(lrs)
    finite = np.isfinite(losses)
    weights = np.exp(-0.5 * ((x[:, None] - x[None, :]) / bandwidth) ** 2) * finite[None, :]
    total = weights.sum(axis=1)
    values = np.where(finite, losses, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = weights @ values / total
    out[total < 1e-12] = np.nan
    return out
