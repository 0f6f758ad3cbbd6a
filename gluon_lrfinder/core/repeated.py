"""Several range tests of one model, summarised: median curve, bands, suggestion spread. No MXNet import.

One range test reads one data order; its suggestion moves with the seed. Running the test a few
times from the same saved state, with a different data order each time, shows how much: the
median curve with 10%/90% bands, every run's suggestion, the interval they span and a
stability score. :meth:`gluon_lrfinder.LRFinder.find_repeated` runs the sweeps;
:func:`summarize_sweeps` is the pure summary, usable on saved curves.

Examples
--------
>>> import numpy as np
>>> from gluon_lrfinder.core.curve import LRCurve
>>> lrs = list(np.logspace(-4, 0, 41))
>>> def run(shift):
...     x = np.log10(lrs)
...     return LRCurve(lrs=lrs, losses=list(2 - np.tanh(2 * (x + 2 + shift)) + np.exp(4 * (x + 0.5))))
>>> result = summarize_sweeps([run(0.0), run(0.05), run(-0.05)], method="steepest")
>>> len(result.suggestions), result.stability > 0.8
(3, True)
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .curve import LRCurve
from .plotting import plot_bands
from .report import suggest_curve
from .rules import DEFAULT_METHOD, Method, get_rule
from .smoothing import smoothed_on_grid

__all__ = ["RepeatedSweeps", "summarize_sweeps", "stability_score"]

PathLike = Union[str, "os.PathLike[str]"]


def stability_score(suggestions: Sequence[float]) -> float:
    """How well several suggestions agree, in [0, 1]: ``1 - spread`` with the spread in decades.

    1.0 means every run suggested the same LR, 0.5 that they span half a decade (a factor of
    about 3), 0.0 that they span a decade or more.

    Examples
    --------
    >>> stability_score([1e-3, 1e-3])
    1.0
    >>> round(stability_score([1e-3, 10 ** -2.5]), 2)
    0.5
    """
    logs = np.log10(np.asarray(suggestions, dtype=np.float64))
    if logs.size == 0 or not np.all(np.isfinite(logs)):
        raise ValueError(f"suggestions must be a non-empty sequence of LRs > 0, got {list(suggestions)!r}")
    return float(max(0.0, 1.0 - (logs.max() - logs.min())))


@dataclass
class RepeatedSweeps:
    """The summary of several range tests of the same model (see :func:`summarize_sweeps`).

    Attributes
    ----------
    curves : list of LRCurve
        Every run's record.
    lrs : numpy.ndarray
        The common LR grid (the longest run's LRs).
    median, low, high : numpy.ndarray
        Per grid LR, the median and the 10% / 90% quantiles of the runs' smoothed curves; NaN
        where fewer than half the runs reach that LR.
    envelope_low, envelope_high : numpy.ndarray
        Per grid LR, the lowest and highest smoothed loss of any run that reaches it: every
        run's smoothed curve lies inside.
    method : str
        The suggestion rule used.
    suggestions : list of float
        Each run's suggested LR.
    lr : float
        The recommended LR: the geometric median of the runs' suggestions.
    interval : tuple of float
        ``(lowest, highest)`` suggestion over the runs.
    stability : float
        :func:`stability_score` of the suggestions.
    seeds : list of int
        The data-order seed of each run (empty when not known).
    """

    curves: List[LRCurve]
    lrs: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    envelope_low: np.ndarray
    envelope_high: np.ndarray
    method: str
    suggestions: List[float]
    lr: float
    interval: Tuple[float, float]
    stability: float
    seeds: List[int] = field(default_factory=list)

    @property
    def spread_decades(self) -> float:
        """``log10(highest / lowest)`` suggestion."""
        return float(math.log10(self.interval[1] / self.interval[0]))

    def suggest(self, method: Optional[Method] = None, bandwidth: Optional[float] = None) -> float:
        """The runs' median suggestion: :attr:`lr`, or that of another rule ``method``.

        Examples
        --------
        >>> result.suggest() == result.lr     # doctest: +SKIP
        True
        """
        if (method is None or get_rule(method).name == self.method) and bandwidth is None:
            return self.lr
        return summarize_sweeps(self.curves, method=method or self.method, bandwidth=bandwidth, seeds=self.seeds).lr

    def plot(self, path: Optional[PathLike] = None, ax: Any = None, **kwargs: Any) -> Any:
        """The median curve with 10%/90% bands and every run's suggestion
        (:func:`gluon_lrfinder.core.plotting.plot_bands`); returns the Axes."""
        return plot_bands(self, ax=ax, path=path, **kwargs)

    def __str__(self) -> str:
        runs = ", ".join(f"{lr:.2e}" for lr in self.suggestions)
        return (
            f"{len(self.curves)} range tests ({self.method}): suggested lr {self.lr:.3g} "
            f"(runs: {runs}); interval {self.interval[0]:.3g} .. {self.interval[1]:.3g} "
            f"({self.spread_decades:.2f} decades), stability {self.stability:.2f}"
        )


def summarize_sweeps(
    curves: Sequence[LRCurve],
    method: Method = DEFAULT_METHOD,
    bandwidth: Optional[float] = None,
    seeds: Optional[Sequence[int]] = None,
) -> RepeatedSweeps:
    """Median curve, 10%/90% bands and the suggestions' spread over several range tests.

    Parameters
    ----------
    curves : sequence of LRCurve
        At least 2 runs, each with enough finite points for ``method``.
    method : str, default ``DEFAULT_METHOD``
        A registered rule name, or a rule (see :func:`~gluon_lrfinder.core.rules.get_rule`).
    bandwidth : float, optional
        Smoothing width in decades (each run's default when None).
    seeds : sequence of int, optional
        Each run's data-order seed, kept for the record.

    Returns
    -------
    RepeatedSweeps

    Raises
    ------
    ValueError
        Fewer than 2 curves, an unknown ``method``, or a curve too short to suggest from.
    """
    curves = list(curves)
    if len(curves) < 2:
        raise ValueError(f"curves must hold at least 2 range tests to summarise, got {len(curves)}")
    name = get_rule(method).name
    suggestions = [suggest_curve(c, method=method, bandwidth=bandwidth, warn=False) for c in curves]
    longest = max(curves, key=len)
    grid = np.asarray(longest.lrs, dtype=np.float64)
    grid = np.unique(grid[grid > 0])
    grid_x = np.log10(grid)
    stack = np.vstack([smoothed_on_grid(grid_x, c, bandwidth) for c in curves])
    present = np.isfinite(stack).sum(axis=0)
    enough = present >= math.ceil(len(curves) / 2)
    median = np.full(grid.shape, np.nan)
    low = np.full(grid.shape, np.nan)
    high = np.full(grid.shape, np.nan)
    env_low = np.full(grid.shape, np.nan)
    env_high = np.full(grid.shape, np.nan)
    if enough.any():
        cols = stack[:, enough]
        median[enough] = np.nanmedian(cols, axis=0)
        low[enough] = np.nanquantile(cols, 0.1, axis=0)
        high[enough] = np.nanquantile(cols, 0.9, axis=0)
    some = present > 0
    env_low[some] = np.nanmin(stack[:, some], axis=0)
    env_high[some] = np.nanmax(stack[:, some], axis=0)
    logs = np.log10(suggestions)
    return RepeatedSweeps(
        curves=curves,
        lrs=grid,
        median=median,
        low=low,
        high=high,
        envelope_low=env_low,
        envelope_high=env_high,
        method=name,
        suggestions=[float(s) for s in suggestions],
        # 10 ** log10(x) can miss x by an ulp: keep the median inside the interval it summarises
        lr=float(np.clip(10 ** np.median(logs), min(suggestions), max(suggestions))),
        interval=(float(min(suggestions)), float(max(suggestions))),
        stability=stability_score(suggestions),
        seeds=[int(s) for s in seeds] if seeds is not None else [],
    )
