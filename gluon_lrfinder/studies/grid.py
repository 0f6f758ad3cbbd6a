"""The grid study: one range test per weight-decay / momentum combination (Smith 2018), on the
same data order from the same state, and a recommendation (:func:`gluon_lrfinder.core.grid.recommend`).

Examples
--------
>>> result = run(learner, SweepPlan(1e-5, lr_end=10), StoppingCriteria(),
...              weight_decay=[0, 1e-4, 1e-3], momentum=[0.85, 0.9, 0.95])  # doctest: +SKIP
>>> print(result); result.plot("grid.png"); result.apply(trainer)          # doctest: +SKIP
"""
from __future__ import annotations

import itertools
import logging
from typing import Any, Dict, List, Optional, Sequence

from ..core._validate import check_int, check_nonnegative
from ..core.grid import DEFAULT_MARGIN, DEFAULT_TOLERANCE, GridResult, grid_values, summarize_grid
from ..core.plan import SweepPlan
from ..core.rules import DEFAULT_METHOD, Method, get_rule
from ..core.stopping import StoppingRule
from ..engine.knobs import momentum_attribute, read_knobs, set_knobs
from ..engine.learner import Learner
from ..engine.sweep import run_sweep, runs_from_entry_state

__all__ = ["run"]

logger = logging.getLogger(__name__)


def run(
    learner: Learner,
    plan: SweepPlan,
    stopping: StoppingRule,
    *,
    weight_decay: Optional[Sequence[float]] = None,
    momentum: Optional[Sequence[float]] = None,
    seed: int = 0,
    method: Method = DEFAULT_METHOD,
    tolerance: float = DEFAULT_TOLERANCE,
    repeats: int = 1,
    keep_current: bool = True,
    margin: float = DEFAULT_MARGIN,
    **sweep: Any,
) -> GridResult:
    """One range test per combination, each from the state on entry; afterwards the optimizer's
    weight decay and momentum are as they were.

    Parameters
    ----------
    weight_decay : sequence of float, optional
        Values of the optimizer's ``wd``, each >= 0. Default: the trainer's own value only.
    momentum : sequence of float, optional
        Values in [0, 1) of the momentum (SGD, NAG, ...) or ``beta1`` (Adam, ...). Default: the
        trainer's own value only. Refused for a momentum-free SGD/NAG trainer that has already
        stepped (its state holds no momentum buffer).
    seed : int, default 0
        Seed of the shared data order, >= 0.
    method : str or callable, default ``DEFAULT_METHOD``
        Suggestion rule for each curve.
    tolerance : float, default 0.05
        Relative slack on the lowest loss when comparing combinations, >= 0.
    repeats : int, default 1
        Data orders per combination, >= 1 (the table then holds medians).
    keep_current : bool, default True
        Recommend keeping the trainer's own values (when in the grid), and let the sweep pick
        another combination only if clearly better (lower by more than ``margin`` in every data
        order, stable as far). False: no recommendation, only the sweep's pick by Smith's rule
        (a diagnostic: confirm it with a training run before using it).
    margin : float, default 0.10
        See ``keep_current``, >= 0.
    **sweep
        Keywords of :func:`~gluon_lrfinder.engine.sweep.run_sweep` (``progress`` defaults to False).
    """
    wds = grid_values("weight_decay", weight_decay)
    moms = grid_values("momentum", momentum)
    seed = check_int("seed", seed, 0)
    repeats = check_int("repeats", repeats, 1)
    get_rule(method)
    check_nonnegative("tolerance", tolerance)
    check_nonnegative("margin", margin)
    if not isinstance(keep_current, bool):
        raise TypeError(f"keep_current must be a bool, got {type(keep_current).__name__}")
    optimizer = learner.trainer.optimizer
    if moms is not None:
        _check_momentum(optimizer, moms)
    combinations: List[Dict[str, float]] = []
    grid_moms: List[Optional[float]] = list(moms) if moms is not None else [None]
    for wd, mom in itertools.product(wds if wds is not None else [float(optimizer.wd)], grid_moms):
        combinations.append({"weight_decay": wd} if mom is None else {"weight_decay": wd, "momentum": mom})
    own = read_knobs(optimizer, momentum=moms is not None)  # before any run changes the optimizer object
    current = next((k for k, combo in enumerate(combinations) if combo == own), None) if keep_current else None
    sweep.setdefault("progress", False)

    def setup(i: int) -> None:  # the optimizer is a new object after every restore: fetch it again
        set_knobs(learner.trainer.optimizer, combinations[i // repeats])

    seeds = [seed + r for _ in combinations for r in range(repeats)]
    curves = runs_from_entry_state(
        learner, seeds, setup, lambda before_sweep: run_sweep(learner, plan, stopping, before_sweep=before_sweep,
                                                              **sweep))
    for i, curve in enumerate(curves):
        curve.settings.update(combinations[i // repeats], seed=seeds[i])
    runs = [curves[k * repeats:(k + 1) * repeats] for k in range(len(combinations))]
    effective_step = None if moms is None else momentum_attribute(optimizer) == "momentum"
    result = summarize_grid(combinations, runs, method=method, tolerance=tolerance, current=current, margin=margin,
                            effective_step=effective_step)
    logger.info("%s", result)
    return result


def _check_momentum(optimizer: Any, moms: List[float]) -> None:
    attribute = momentum_attribute(optimizer)
    for m in moms:
        if m >= 1:
            raise ValueError(f"momentum values must be in [0, 1), got {m!r}")
    if getattr(optimizer, attribute) == 0 and optimizer.num_update > 0 and any(m > 0 for m in moms):
        raise ValueError(
            f"momentum: this {type(optimizer).__name__} trainer was created with momentum=0 and has "
            "already stepped, so its optimizer state holds no momentum buffers and MXNet cannot apply "
            "a momentum (the update fails); create the Trainer with a momentum > 0 to search over momentum"
        )
