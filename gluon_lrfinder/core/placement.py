"""Where a given learning rate (the trainer's own, say) lies on a range-test curve. No MXNet import.

The smoothed curve is cut into the parts a user reads off the plot: the plateau before the
loss starts to fall, the fall, the bottom (within a tenth of the fall of the lowest loss, up to
the edge of stability), the edge itself, and past it, where the loss rose again. :func:`place_rate` names
the part a rate lies in and says what that means for training at it.

Examples
--------
>>> import numpy as np
>>> lrs = np.logspace(-5, 1, 61)
>>> x = np.log10(lrs)
>>> losses = 2.0 - np.tanh(2 * (x + 3)) + np.where(x > -0.5, 30 * (x + 0.5) ** 2, 0)
>>> [place_rate(lrs, losses, lr).zone for lr in (1e-5, 1e-3, 0.1, 3.0)]
['before the fall', 'in the fall', 'at the bottom', 'past the edge']
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike

from ._validate import check_positive
from .edge import EDGE_MARGIN, descent_end, edge_index
from .smoothing import smoothed_curve

__all__ = ["Placement", "place_rate", "BOTTOM_SHARE", "ONSET_SHARE"]

#: The bottom is where the smoothed loss lies within this share of the whole fall above its lowest value.
BOTTOM_SHARE = 0.1
#: The fall starts where the smoothed loss has gone this share of the whole fall below where it started.
ONSET_SHARE = 0.1


@dataclass(frozen=True)
class Placement:
    """A rate's place on a curve: ``zone`` is one of ``"below the sweep"``, ``"before the fall"``,
    ``"in the fall"``, ``"at the bottom"``, ``"at the edge"`` (up to ``EDGE_MARGIN`` times the
    edge of stability), ``"past the edge"``, ``"above the sweep"`` or
    ``"on a curve that never fell"``; ``text`` says what it means, in a sentence."""

    lr: float
    zone: str
    text: str

    def __str__(self) -> str:
        return self.text


def place_rate(lrs: ArrayLike, losses: ArrayLike, lr: float, bandwidth: Optional[float] = None,
               suggestion: Optional[float] = None) -> Placement:
    """Where ``lr`` lies on the curve ``(lrs, losses)``, and what training at it means.

    Parameters
    ----------
    lrs, losses : sequence of float
        The range-test curve; non-finite losses are dropped.
    lr : float
        The rate to place, > 0 (e.g. the trainer's own).
    bandwidth : float, optional
        Smoothing width in decades.
    suggestion : float, optional
        The curve's suggestion, to compare with in the text.

    Raises
    ------
    ValueError
        ``lr`` is not > 0, or the curve has too few finite points.
    """
    lr = check_positive("lr", lr)
    x, s = smoothed_curve(lrs, losses, bandwidth)
    start, low_i = float(s[0]), descent_end(s)
    low = float(s[low_i])
    fall = start - low
    than = ""
    if suggestion is not None and suggestion > 0:
        ratio = lr / suggestion
        than = (f" ({ratio:.2g}x the suggestion {suggestion:.3g})" if ratio >= 1
                else f" ({1 / ratio:.2g}x below the suggestion {suggestion:.3g})")
    if fall <= 1e-9 * max(abs(start), 1e-12) or low_i == 0:
        return Placement(lr, "on a curve that never fell",
                         f"your rate {lr:.3g}{than} lies on a curve that never fell, so its place says nothing")
    edge = edge_index(s)
    onset = int(np.flatnonzero(s <= start - ONSET_SHARE * fall)[0])
    near = s <= low + BOTTOM_SHARE * fall
    first = low_i
    while first > 0 and near[first - 1]:
        first -= 1
    if lr < x[0]:
        zone, what = "below the sweep", "below the lowest rate swept: lower lr_start to see where it lies"
    elif edge is not None and lr >= EDGE_MARGIN * x[edge]:
        zone, what = "past the edge", (f"past the edge of stability (lr {x[edge]:.3g}), where the loss rose again "
                                       "in the sweep: training at it is likely to diverge; lower it")
    elif edge is not None and lr >= x[edge]:
        zone, what = "at the edge", (f"at the edge of stability (lr {x[edge]:.3g}), where the loss starts to rise "
                                     "again: the highest rate the sweep found stable, so a little more diverges; "
                                     "it may suit training built for it (a warm-up, a known-good recipe), and the "
                                     "suggestion is the safer start")
    elif lr > x[-1]:
        zone, what = "above the sweep", ("above the highest rate swept, and the loss never turned up: raise "
                                         "lr_end to see where it lies")
    elif lr < x[onset]:
        zone, what = "before the fall", ("before the fall, where the loss barely moved in the sweep: training "
                                         "at it will be slow; a higher rate learns faster")
    elif lr < x[first]:
        zone, what = "in the fall", ("in the fall, where the loss falls fastest with the rate: a workable "
                                     "rate, usually close to the suggestion")
    else:
        safer = ("the suggestion, read at this bottom too, is no lower" if suggestion is not None and suggestion >= lr
                 else "with plain training the suggestion is the safer start")
        zone, what = "at the bottom", (f"at the bottom of the curve (lowest loss near lr {x[low_i]:.3g}, edge "
                                       + (f"at {x[edge]:.3g}" if edge is not None else "not reached")
                                       + "): a high but stable rate; it suits training that is built for it "
                                       f"(gradient clipping, a warm-up, a known-good recipe), and {safer}")
    return Placement(lr, zone, f"your rate {lr:.3g}{than} lies {what}")


def finite_rate(value: object) -> Optional[float]:
    """``value`` as a rate > 0, or None (a saved curve's missing or unusable ``trainer_lr``)."""
    try:
        rate = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None
