"""The edge of stability of a range-test curve, and the flags read around it. NumPy only.

A range test's loss falls, bottoms out and rises when the rate becomes too large for training
to stay stable. Some curves go on after that first rise: they bump up and dip again further on
(GluonCV's CIFAR-10 script: a fall to 0.05, a bump at 0.1-0.3, a second dip near 1, a blow-up
above 2), and a rule that reads the whole curve reads the fall into the second dip, a rate that
does not train. Here the **edge of stability** is the first clear rise of the smoothed loss
above its running minimum, whatever the curve does after it, and the rules read only the curve
up to it (:func:`descent_end`): the minimum they use is the lowest point before the edge.

A rise is clear when the smoothed loss stands above the running minimum by more than
:data:`EDGE_RISE` of the fall so far (and :data:`EDGE_FLOOR` of the minimum's size), once the
curve has fallen by :data:`EDGE_FALL` of its starting loss: before that, ripples on the initial
plateau are noise, not an edge.

The functions take the sorted, finite, smoothed curve (``lrs``, ``smooth``), as the rules of
:mod:`gluon_lrfinder.core.rules` hold it, or a raw curve (:func:`edge_of_stability`).

Examples
--------
>>> import numpy as np
>>> lrs = np.logspace(-4, 1, 101)
>>> x = np.log10(lrs)
>>> bumpy = 2.0 - 1.6 * np.tanh(2 * (x + 2)) + 0.5 * np.exp(-((x + 0.7) / 0.2) ** 2) + 0.01 * np.exp(3 * x)
>>> e = edge_of_stability(lrs, bumpy, bandwidth=0)
>>> bool(0.05 < e.lr < 0.2), bool(e.minimum_lr < e.lr)
(True, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .smoothing import robust_local_linear, smoothed_curve

__all__ = [
    "Edge",
    "edge_of_stability",
    "descent_end",
    "range_top",
    "shallow_top",
    "second_dip_flag",
    "bumpy_flag",
    "subsample_spread",
    "fall_size",
    "fall_share",
    "shallow_fall_flag",
]

#: The curve must have fallen by this share of its starting (smoothed) loss before a rise counts.
EDGE_FALL = 0.2
#: A rise is clear when it exceeds this share of the fall so far ...
EDGE_RISE = 0.03
#: ... and this share of the running minimum's size.
EDGE_FLOOR = 0.02
#: A fall after the edge by this share of the bump's height (above the pre-edge minimum) is a second dip.
DIP_DEPTH = 0.5
#: Answers on sub-sampled curves that differ by more than this factor make a curve "bumpy".
BUMPY_FACTOR = 3.0
#: A fall to the minimum before the edge smaller than this share of the starting (smoothed) loss
#: is shallow (the answers read on such curves were often several times off; chosen on held-out
#: recipe families, the evidence page of the docs has how) ...
SHALLOW_FALL = 0.45
#: ... and so is one smaller than this many noise SDs of the raw losses around the smoothed curve.
NOISY_FALL_SDS = 3.0


@dataclass(frozen=True)
class Edge:
    """Where a curve's first clear rise is, and its lowest point before it.

    Attributes
    ----------
    found : bool
        Whether the curve rises clearly at all (False: it never left its running minimum).
    index : int
        Index of the edge in the sorted finite curve (the last index when not found).
    lr : float
        The learning rate at the edge (``math.inf`` when not found).
    minimum_index : int
        Index of the lowest smoothed loss before the edge.
    minimum_lr : float
        The learning rate there.
    """

    found: bool
    index: int
    lr: float
    minimum_index: int
    minimum_lr: float


def _threshold(start: float, running_min: np.ndarray, rise: float, floor: float) -> np.ndarray:
    depth = start - running_min
    return np.maximum(rise * depth, floor * np.abs(running_min))


def edge_index(
    smooth: ArrayLike, fall: float = EDGE_FALL, rise: float = EDGE_RISE, floor: float = EDGE_FLOOR
) -> Optional[int]:
    """Index of the first clear rise of ``smooth`` above its running minimum, or None.

    Parameters
    ----------
    smooth : sequence of float
        The smoothed losses, in increasing LR order, all finite.
    fall, rise, floor : float
        See :data:`EDGE_FALL`, :data:`EDGE_RISE`, :data:`EDGE_FLOOR`.

    Examples
    --------
    >>> edge_index([3.0, 2.0, 1.0, 1.2, 0.5, 0.4])      # rises at index 3 (then dips again)
    3
    >>> edge_index([3.0, 2.0, 1.0, 0.9]) is None
    True
    """
    s = np.asarray(smooth, dtype=np.float64)
    if s.size < 2:
        return None
    running_min = np.minimum.accumulate(s)
    start = float(s[0])
    fallen = (start - running_min) > fall * abs(start)
    above = (s - running_min) > _threshold(start, running_min, rise, floor)
    hits = np.flatnonzero(fallen & above)
    return int(hits[0]) if hits.size else None


def descent_end(smooth: ArrayLike) -> int:
    """Index of the lowest smoothed loss before the edge of stability (the rules' "minimum").

    The whole curve's minimum when it never rises clearly.

    Examples
    --------
    >>> descent_end([3.0, 2.0, 1.0, 1.5, 0.5, 0.4])     # not the second dip's 0.4
    2
    """
    s = np.asarray(smooth, dtype=np.float64)
    edge = edge_index(s)
    stop = s.size if edge is None else edge + 1
    return int(np.nanargmin(s[:stop]))


def edge_of_stability(lrs: ArrayLike, losses: ArrayLike, bandwidth: Optional[float] = None) -> Edge:
    """The edge of stability of a raw curve (see the module docstring).

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    bandwidth : float, optional
        Smoothing width in decades (see :func:`~gluon_lrfinder.smoothing.zero_phase`).

    Raises
    ------
    ValueError
        Fewer than :data:`~gluon_lrfinder.core.smoothing.MIN_POINTS` finite points.
    """
    x, s = smoothed_curve(lrs, losses, bandwidth)
    edge = edge_index(s)
    end = descent_end(s)
    if edge is None:
        return Edge(False, int(s.size - 1), math.inf, end, float(x[end]))
    return Edge(True, edge, float(x[edge]), end, float(x[end]))


def _dip_edge(s: np.ndarray) -> Optional[int]:
    """The edge a second dip is read after: the edge of stability, or on a fall too shallow to arm
    it, the first clear rise once the loss has fallen by :data:`BOTTOM_EDGE_FALL`."""
    edge = edge_index(s)
    if edge is None and s.size > 1 and fall_share(s) < BOTTOM_FALL:
        edge = edge_index(s, fall=BOTTOM_EDGE_FALL)
    return edge


def second_dip(smooth: ArrayLike, depth: float = DIP_DEPTH) -> Optional[int]:
    """Index where the curve, after its edge, dips again, or None.

    A second dip: after the edge the smoothed loss rises to a peak and later falls back from it
    by at least ``depth`` of the peak's height above the pre-edge minimum (and by more than the
    rise that made the edge clear). A curve that keeps rising once past its edge has none.

    Examples
    --------
    >>> second_dip([3.0, 2.0, 1.0, 1.5, 1.6, 1.1, 5.0])
    5
    >>> second_dip([3.0, 2.0, 1.0, 1.5, 3.0, 9.0]) is None
    True
    """
    s = np.asarray(smooth, dtype=np.float64)
    edge = _dip_edge(s)
    if edge is None:
        return None
    low = float(np.min(s[: edge + 1]))
    clear = float(_threshold(float(s[0]), np.array([low]), EDGE_RISE, EDGE_FLOOR)[0])
    peak = np.maximum.accumulate(s[edge:])
    fall = peak - s[edge:]
    hits = np.flatnonzero((fall >= depth * (peak - low)) & (fall > clear))
    return int(edge + hits[0]) if hits.size else None


def subsample_spread(
    lrs: ArrayLike, losses: ArrayLike, rule: Callable[[np.ndarray, np.ndarray], float], parts: int = 2
) -> float:
    """How far a rule's answers on interleaved sub-samples of a curve lie apart, in decades.

    The curve is split into ``parts`` curves (every ``parts``-th point, each offset once), each
    spanning the same LRs with fewer points: on a clean curve a rule answers about the same on
    each; on a bumpy one, where one batch decides between two dips, it does not. Returns
    ``log10(highest / lowest)`` over the full curve's and the parts' answers (0 when a part has
    too few points).

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-4, 0, 81)
    >>> clean = 2 - np.tanh(2 * (np.log10(lrs) + 2))
    >>> round(subsample_spread(lrs, clean, lambda a, b: float(a[np.argmin(np.gradient(b))])), 2)
    0.05
    """
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    answers = [rule(x, y)]
    for offset in range(parts):
        try:
            answers.append(rule(x[offset::parts], y[offset::parts]))
        except ValueError:  # too few points in a part
            return 0.0
    logs = np.log10(np.asarray(answers, dtype=np.float64))
    return float(logs.max() - logs.min())


def second_dip_flag(lrs: ArrayLike, smooth: ArrayLike) -> Optional[str]:
    """The ``"second dip"`` flag for a sorted, smoothed curve, or None.

    Examples
    --------
    >>> second_dip_flag([1e-3, 1e-2, 1e-1, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 1.5, 0.9, 5.0]).split(":")[0]
    'second dip after the edge of stability'
    """
    s = np.asarray(smooth, dtype=np.float64)
    x = np.asarray(lrs, dtype=np.float64)
    dip = second_dip(s)
    edge = _dip_edge(s)
    if dip is None or edge is None:
        return None
    return (
        f"second dip after the edge of stability: the loss rises at lr {x[edge]:.3g} and falls again "
        f"near {x[dip]:.3g}; the suggestion and the range read only the curve below {x[edge]:.3g} "
        "(a rate in the second dip rarely trains); if the curve is noisy, check with find_repeated(5)"
    )


def fall_size(raw: ArrayLike, smooth: ArrayLike) -> Tuple[float, float]:
    """How far the smoothed curve falls to its minimum before the edge (:func:`descent_end`):
    as a share of its first point, and in noise SDs of the raw losses (1.4826 x their median
    absolute deviation from the smoothed curve up to that minimum, over at least 10 points).
    ``(0.0, 0.0)`` when it does not fall; the SDs are ``inf`` on a noiseless curve that falls.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.linspace(2.0, 1.5, 20)
    >>> share, sds = fall_size(s + 0.01 * np.resize([1.0, -1.0], 20), s)
    >>> round(share, 2), round(sds, 1)
    (0.25, 33.7)
    """
    y = np.asarray(raw, dtype=np.float64)
    s = np.asarray(smooth, dtype=np.float64)
    end = descent_end(s)
    fall = float(s[0] - s[end])
    if end == 0 or not fall > 0:
        return 0.0, 0.0
    part = slice(0, max(end + 1, min(10, s.size)))
    noise = 1.4826 * float(np.median(np.abs(y[part] - s[part])))
    return fall_share(s), (fall / noise if noise > 0 else math.inf)


def fall_share(smooth: ArrayLike) -> float:
    """The smoothed curve's fall to its minimum before the edge (:func:`descent_end`) as a share
    of its first point; 0 when it does not fall (the share :func:`fall_size` returns).

    Examples
    --------
    >>> fall_share([2.0, 1.5, 1.0, 3.0])
    0.5
    """
    s = np.asarray(smooth, dtype=np.float64)
    end = descent_end(s)
    fall = float(s[0] - s[end])
    if end == 0 or not fall > 0:
        return 0.0
    return fall / max(abs(float(s[0])), 1e-12)


def shallow_fall_flag(share: float, sds: float, shallow: float = SHALLOW_FALL,
                      noisy: float = NOISY_FALL_SDS) -> Optional[str]:
    """The ``"shallow or noisy fall"`` flag for a curve that falls (``share``, ``sds`` from
    :func:`fall_size`) by less than ``shallow`` of its starting loss or by less than ``noisy``
    noise SDs, or None.

    Examples
    --------
    >>> shallow_fall_flag(0.8, 20.0) is None, shallow_fall_flag(0.17, 25.0).split(":")[0]
    (True, 'shallow or noisy fall')
    """
    if share >= shallow and sds >= noisy:
        return None
    return (
        f"shallow or noisy fall: the loss fell {100 * share:.0f}% of where it started ({sds:.1f} noise SDs) "
        "before its edge, so the steepest point and the minimum place the best rate only loosely "
        "and the answers can be a few times off; train the answer / 3, the answer and the answer x 3 "
        "for at least half of your real training (shorter runs favour the higher rates) and keep the "
        "lowest validation loss, and if the curve is noisy run find_repeated(5) and use its median"
    )


def bumpy_flag(spread_decades: float) -> Optional[str]:
    """The ``"bumpy curve"`` flag when answers on sub-sampled curves lie more than
    :data:`BUMPY_FACTOR` apart (``spread_decades`` from :func:`subsample_spread`), or None.

    Examples
    --------
    >>> bumpy_flag(0.2) is None, bumpy_flag(0.7).split(":")[0]
    (True, 'bumpy curve')
    """
    if spread_decades <= math.log10(BUMPY_FACTOR):
        return None
    return (
        f"bumpy curve: the range's top moves by a factor of {10 ** spread_decades:.3g} between "
        "interleaved halves of the curve, so one sweep does not pin it down; run find_repeated(5) "
        "and use its median, or lower the noise (larger batches, a wider bandwidth)"
    )


# ---------------------------------------------------------------------- the range and the suggestion
#: How far the range's top goes from the steepest point towards the minimum (in log-LR), by the
#: optimizer's kind (``rules.EMA_NORMALISED`` or not), chosen on held-out recipe families (the
#: evidence page of the docs has how).
RANGE_FRACTION_BY_KIND = {"ema_normalised": 0.1, "other": 0.75}
#: The same when the optimizer is not known (one fraction for all optimizers, chosen the same way).
RANGE_FRACTION = 0.6
#: A fall spread over at least this many decades (:func:`fall_width`) is broad: then the top goes
#: :data:`RANGE_FRACTION_BROAD` of the way, whatever the optimizer.
BROAD_FALL_DECADES = 2.0
RANGE_FRACTION_BROAD = 0.45
#: The range's top is at most the minimum's LR divided by this (a peak at the minimum itself
#: diverged mid-training, in the Estimator tutorial's handler; docs/evidence.md) ...
RANGE_CAP = 2.0
#: ... and at most the edge of stability divided by this (the margin below the edge).
EDGE_MARGIN = 1.25
#: The range spans this factor: ``(top / RANGE_SPAN, top)``, what ``OneCycleSchedule.from_finder`` cycles over.
RANGE_SPAN = 3.0
#: The rule ``"range"``: the range's top divided by this, inside the range (the default is ``"blend_in_range"``).
SUGGEST_DIVISOR = 1.78
#: A fall to the minimum before the edge under this share of the starting (smoothed) loss is read
#: at the bottom of the faithful curve instead (:func:`shallow_top`) ...
BOTTOM_FALL = 0.3
#: ... where the range's top is this many times the faithful curve's lowest point ...
BOTTOM_FACTOR = 1.5
#: ... that point looked for only before the wide curve's first clear rise once it has fallen by
#: this share of its start (:func:`edge_index`; a shallow fall never arms the edge's :data:`EDGE_FALL`).
BOTTOM_EDGE_FALL = 0.05
#: ... and only when the fall is clear of the noise: at least this many noise SDs of the raw
#: losses (:func:`fall_size`). A curve that never fell, or fell a few SDs (a model that barely
#: started learning within the sweep), has no bottom worth reading and keeps the wide curve's answers.
BOTTOM_SDS = 10.0


def fall_width(lrs: ArrayLike, smooth: ArrayLike, end: int) -> float:
    """Decades between the points where the smoothed curve has done 10% and 90% of its fall from
    its first point to ``smooth[end]`` (the minimum the rules read): small for a cliff, large for
    a broad descent. 0 when the curve does not fall.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-5, 0, 51)
    >>> round(fall_width(lrs, np.linspace(2.0, 1.0, 51), 50), 2)   # a straight fall over 5 decades
    4.0
    """
    x = np.asarray(lrs, dtype=np.float64)
    s = np.asarray(smooth, dtype=np.float64)[: end + 1]
    low, top = float(s[-1]), float(s[0])
    if not top > low:
        return 0.0

    def first(q: float) -> float:
        return float(x[int(np.flatnonzero(s <= low + q * (top - low) + 1e-12)[0])])

    return float(math.log10(first(0.1) / first(0.9)))


def range_fraction(optimizer: Optional[str], ema_normalised: frozenset, width: float = 0.0) -> float:
    """How far the top goes from the steepest point to the minimum: :data:`RANGE_FRACTION_BROAD`
    for a broad fall (``width >= BROAD_FALL_DECADES``), else :data:`RANGE_FRACTION_BY_KIND` for a
    known optimizer (its class name) and :data:`RANGE_FRACTION` for an unknown one.

    Examples
    --------
    >>> range_fraction("NAG", frozenset({"adam"})), range_fraction("Adam", frozenset({"adam"}))
    (0.75, 0.1)
    >>> range_fraction("Adam", frozenset({"adam"}), width=2.5)     # a broad fall
    0.45
    """
    if width >= BROAD_FALL_DECADES:
        return RANGE_FRACTION_BROAD
    if optimizer is None:
        return RANGE_FRACTION
    kind = "ema_normalised" if str(optimizer).lower() in ema_normalised else "other"
    return RANGE_FRACTION_BY_KIND[kind]


def shallow_top(
    lrs: np.ndarray, losses: np.ndarray, smooth: np.ndarray, steepest_lr: float
) -> Optional[float]:
    """The range's top on a curve whose fall is shallow, or None when it is not.

    A clear fall (at least :data:`BOTTOM_SDS` noise SDs, :func:`fall_size`) to the minimum before
    the edge under :data:`BOTTOM_FALL` of the starting loss (clipped SGD, soft labels, a language
    model's entropy floor) has its best rates near its bottom, which the wide smoothing places too
    low. There the top is :data:`BOTTOM_FACTOR` times the LR of the faithful curve's lowest point
    (:func:`~gluon_lrfinder.core.smoothing.robust_local_linear`), looked for before the wide
    curve's first clear rise (armed after a fall of :data:`BOTTOM_EDGE_FALL`); at most the edge
    of stability (:func:`edge_index`), at least the steepest point when that lies before the rise.

    ``lrs``, ``losses`` and ``smooth`` are the sorted finite curve and its wide smoothing.

    Examples
    --------
    >>> import numpy as np
    >>> lrs = np.logspace(-2, 2, 81)
    >>> x = np.log10(lrs)
    >>> losses = 6.0 - 0.4 * np.tanh(x) - 0.3 * np.exp(-((x - 1.3) / 0.3) ** 2) + 0.02 * np.exp(2.5 * (x - 1))
    >>> from gluon_lrfinder.core.smoothing import zero_phase
    >>> top = shallow_top(lrs, losses, zero_phase(lrs, losses), 1.0)
    >>> bool(20 < top < 60)         # 1.5 x the faithful bottom near lr 20
    True
    """
    share, sds = fall_size(losses, smooth)
    if share >= BOTTOM_FALL or sds < BOTTOM_SDS:
        return None
    fit = robust_local_linear(lrs, losses)
    keep = np.isfinite(fit)
    rise = edge_index(smooth, fall=BOTTOM_EDGE_FALL)
    if rise is not None:
        keep &= lrs <= lrs[rise]
    if not keep.any():
        return None
    bottom = float(lrs[keep][int(np.argmin(fit[keep]))])
    edge = edge_index(smooth)
    top = min(bottom * BOTTOM_FACTOR, float(lrs[edge]) if edge is not None else math.inf)
    if rise is None or steepest_lr <= lrs[rise]:  # not a steepest point in a fall past a bump
        top = max(top, steepest_lr)
    return float(top)


def range_top(
    steepest_lr: float,
    minimum_lr: float,
    edge_lr: float,
    fraction: float,
    cap: float = RANGE_CAP,
    margin: float = EDGE_MARGIN,
) -> float:
    """The top of the range: ``fraction`` of the way (log-LR) from the steepest point to the minimum,
    at most ``minimum / cap`` and ``edge / margin`` (``edge_lr`` is ``inf`` for a curve without an
    edge), at least the steepest point unless the edge forbids it.

    Examples
    --------
    >>> round(range_top(0.01, 1.0, 3.0, 0.5), 6)
    0.1
    >>> round(range_top(0.01, 1.0, 0.09, 0.5), 6)          # the edge's margin wins
    0.072
    """
    top = max(steepest_lr, min(steepest_lr ** (1.0 - fraction) * minimum_lr**fraction, minimum_lr / cap))
    if math.isfinite(edge_lr):
        top = min(top, edge_lr / margin)
    return float(top)
