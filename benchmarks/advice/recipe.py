"""The one interface every recipe of the advice benchmark implements.

A recipe is a small, real training setup (model, optimizer, data, budget) on offline data the
benchmark makes or ships. The benchmark needs three things from it, all MXNet work hidden inside:

* ``sweep(seed)``: one real :class:`~gluon_lrfinder.LRFinder` range test from the recipe's
  fixed initial weights, recorded in full (it stops only on a non-finite loss), so that any
  stopping rule and any suggestion rule can be replayed on it afterwards without MXNet;
* ``train(seed, lr_at, iterations)``: train from the same initial weights with the learning
  rate ``lr_at(i)`` at iteration ``i`` (a constant, or a one-cycle schedule), and return the
  validation figures;
* its ``family``: recipes of one family are held out together, so that no rule is chosen on a
  recipe of the kind it is scored on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence

#: Iteration (0-based) -> learning rate.
LRAt = Callable[[int], float]

#: One full range test: {"lrs": [...], "losses": [...], "optimizer": name, "settings": {...}}.
Sweep = Dict[str, Any]

#: Validation figures after training: at least {"loss": float} (``math.inf`` when it diverged);
#: real-script recipes add what their script reports (e.g. "accuracy").
Scores = Dict[str, float]


@dataclass
class Recipe:
    """A recipe of the advice benchmark.

    Attributes
    ----------
    name : str
        Unique, human-readable ("digits ResNet-MLP / LAMB / b64").
    family : str
        The group held out together ("resnet", "language model", "linear", ...).
    optimizer : str
        MXNet optimizer name as given to ``gluon.Trainer`` ("nag", "lamb", ...).
    budget : int
        Training iterations of one run at the recipe's budget.
    sweep : callable
        ``sweep(seed) -> Sweep``.
    train : callable
        ``train(seed, lr_at, iterations) -> Scores``.
    default_lr : float, optional
        The recipe's own default learning rate (for recipes taken from real scripts).
    source : str
        Where the recipe comes from (a script of a public repository, or "made here").
    tags : sequence of str
        Free-form tags ("batchnorm", "momentum", "real-script", ...).
    """

    name: str
    family: str
    optimizer: str
    budget: int
    sweep: Callable[[int], Sweep]
    train: Callable[[int, LRAt, int], Scores]
    default_lr: Optional[float] = None
    source: str = "made here"
    tags: Sequence[str] = field(default_factory=tuple)


def one_cycle(peak: float, iterations: int, divisor: float = 3.0) -> LRAt:
    """The schedule the benchmark trains for a peak: ``OneCycleSchedule`` with
    ``min_lr = peak / divisor`` and its default phases (45% up, 45% down, 10% cool-down),
    exactly as ``OneCycleSchedule.from_finder`` builds it from a ``(peak / divisor, peak)`` range.
    """
    from gluon_lrfinder import OneCycleSchedule

    schedule = OneCycleSchedule(max_lr=peak, total_steps=iterations, min_lr=peak / divisor)
    return lambda i: float(schedule(i))


def constant(lr: float) -> LRAt:
    """A constant learning rate."""
    return lambda i: float(lr)


def schedule(kind: str, lr: float, iterations: int) -> LRAt:
    """The oracle's schedule of ``kind``: ``"one_cycle"`` peaking at ``lr`` over ``iterations``
    (:func:`one_cycle`), or ``"constant"`` at ``lr``."""
    if kind == "one_cycle":
        return one_cycle(lr, iterations)
    if kind == "constant":
        return constant(lr)
    raise ValueError(f"kind must be 'one_cycle' or 'constant', got {kind!r}")
