"""The repeated study: the range test from the same state with several data orders (and, with
``vary_init``, several initial weights), summarised as a median curve with bands.

Examples
--------
>>> result = run(learner, SweepPlan(1e-5, lr_end=10), StoppingCriteria(), repeats=3)  # doctest: +SKIP
>>> print(result); result.plot("bands.png"); result.apply(trainer)                   # doctest: +SKIP
"""
from __future__ import annotations

from typing import Any

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx

from ..core._validate import check_int
from ..core.plan import SweepPlan
from ..core.repeated import RepeatedSweeps, summarize_sweeps
from ..core.rules import DEFAULT_METHOD, Method, get_rule
from ..core.stopping import StoppingRule
from ..engine._arrays import like
from ..engine.learner import Learner
from ..engine.sweep import run_sweep, runs_from_entry_state

__all__ = ["run"]


def run(
    learner: Learner,
    plan: SweepPlan,
    stopping: StoppingRule,
    *,
    repeats: int = 5,
    vary_init: bool = False,
    seed: int = 0,
    method: Method = DEFAULT_METHOD,
    initializer: Any = None,
    **sweep: Any,
) -> RepeatedSweeps:
    """Run ``repeats`` sweeps from the state on entry, run ``i`` on the data order of ``seed + i``.

    Parameters
    ----------
    repeats : int, default 5
        Number of sweeps, >= 2.
    vary_init : bool, default False
        Also start each run from freshly drawn weights (``initializer``, default Xavier).
    seed : int, default 0
        Seed of the first run, >= 0.
    method : str or callable, default ``DEFAULT_METHOD``
        The rule applied to each run.
    initializer : mx.init.Initializer, optional
        For ``vary_init``.
    **sweep
        Keywords of :func:`~gluon_lrfinder.engine.sweep.run_sweep` (``progress`` defaults to False).
    """
    repeats = check_int("repeats", repeats, 2)
    seed = check_int("seed", seed, 0)
    get_rule(method)
    if initializer is not None and not isinstance(initializer, mx.init.Initializer):
        raise TypeError(f"initializer must be an mx.init.Initializer, got {type(initializer).__name__}")
    sweep.setdefault("progress", False)

    def setup(i: int) -> None:
        if vary_init:
            _reinitialize(learner.net, initializer or mx.init.Xavier())

    seeds = [seed + i for i in range(repeats)]
    curves = runs_from_entry_state(
        learner, seeds, setup, lambda before_sweep: run_sweep(learner, plan, stopping, before_sweep=before_sweep,
                                                              **sweep))
    return summarize_sweeps(curves, method=method, seeds=seeds)


def _reinitialize(net: Any, initializer: Any) -> None:
    """Draw fresh values for every parameter of ``net`` (each context gets the same values).

    Goes through ``Parameter.set_data`` (which keeps a kvstore in step), with each parameter's
    own initializer when it has one (BatchNorm's ones and zeros), ``initializer`` otherwise.
    """
    for param in net.collect_params().values():
        value = like(mx.nd.zeros(param.shape, dtype=param.dtype), param.list_data()[0])  # NumPy mode: mx.np
        init = param.init if param.init is not None else initializer
        mx.init.create(initializer)(mx.init.InitDesc(param.name, {"__init__": init}), value)
        param.set_data(value)
