"""The LR range test's front: :class:`LRFinder` runs a study on a learner and keeps its result."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from .core.curve import LRCurve
from .core.grid import GridResult
from .core.plan import SweepPlan
from .core.repeated import RepeatedSweeps
from .core.report import SuggestionReport
from .core.rules import DEFAULT_METHOD, Method
from .core.stopping import StopReason
from .engine.knobs import momentum_attribute, set_learning_rate  # noqa: F401 - momentum_attribute: its old home
from .engine.learner import Learner
from .engine.sweep import SweepInterrupted
from .studies import grid, repeated, single, sweep_args

__all__ = ["LRFinder", "INTERRUPTED"]

#: ``curve.stop_reason`` of a search stopped by Ctrl-C (``KeyboardInterrupt``).
INTERRUPTED = StopReason.INTERRUPTED

PathLike = Union[str, "os.PathLike[str]"]
Result = Union[LRCurve, RepeatedSweeps, GridResult]


class LRFinder:
    """Learning-rate range test (Smith, 2015/2017) for a :class:`~gluon_lrfinder.Learner`.

    Each study saves the model's parameters and the trainer's state, trains one iteration per
    learning rate with the rate rising, stops when the loss diverges and restores everything
    exactly, also after an exception, a Ctrl-C or a NaN loss. :attr:`result` is the last
    study's result; :meth:`suggest`, :meth:`plot`, :meth:`apply`... answer for it.

    Parameters
    ----------
    learner : Learner
        What to train.
    loss_reducer : callable, optional
        ``loss_reducer(loss_nd) -> NDArray`` applied to each loss before it is read; default:
        the cross-worker average a distributed trainer needs (docs/distributed.md), none locally.

    Examples
    --------
    >>> from gluon_lrfinder import DataSource, Learner, LRFinder, SweepPlan
    >>> from gluon_lrfinder.engine.datasets import build_net
    >>> with Learner(build_net("mlp"), DataSource.bundled("digits")) as learner:
    ...     finder = LRFinder(learner)
    ...     pairs = finder.find(SweepPlan(lr_start=1e-5, lr_end=10), progress=False)
    ...     lr = finder.suggest()
    >>> 1e-5 <= lr <= 10
    True
    """

    def __init__(self, learner: Learner, loss_reducer: Optional[Callable[[Any], Any]] = None) -> None:
        if not isinstance(learner, Learner):
            raise TypeError(f"learner must be a gluon_lrfinder.Learner, got {type(learner).__name__}")
        if loss_reducer is not None and not callable(loss_reducer):
            raise TypeError(f"loss_reducer must be callable, got {type(loss_reducer).__name__}")
        self.learner = learner
        self.loss_reducer = loss_reducer
        #: The last study's result (find: LRCurve, find_repeated: RepeatedSweeps, find_grid: GridResult).
        self.result: Optional[Result] = None

    # ------------------------------------------------------------------ studies
    def run(self, study: Any, plan: Optional[SweepPlan] = None, stopping: Any = None, **options: Any) -> Any:
        """Run ``study`` (a module of :mod:`gluon_lrfinder.studies`, or your own with the same
        ``run(learner, plan, stopping, **options)``) and keep its result in :attr:`result`.

        ``plan`` defaults to ``SweepPlan()``, ``stopping`` to ``StoppingCriteria()``; ``options``
        go to the study (and from it to :func:`~gluon_lrfinder.engine.sweep.run_sweep`).
        """
        plan, stopping, options = sweep_args(plan, stopping, options)
        options.setdefault("loss_reducer", self.loss_reducer)
        try:
            self.result = study.run(self.learner, plan, stopping, **options)
        except SweepInterrupted as interrupt:  # keep the interrupted run's points
            self.result = interrupt.curve
            raise
        return self.result

    def find(self, plan: Optional[SweepPlan] = None, *args: Any, stopping: Any = None,
             **options: Any) -> List[Tuple[float, float]]:
        """Run one range test and return ``[(lr, loss), ...]`` (the curve is :attr:`curve`).

        ``plan`` (a :class:`~gluon_lrfinder.core.plan.SweepPlan`) defaults to ``SweepPlan()``,
        ``stopping`` to ``StoppingCriteria()``; ``options`` are ``progress``, ``tmp_dir``,
        ``valid_data``, ``valid_every`` (:func:`~gluon_lrfinder.engine.sweep.run_sweep`) or the
        keywords of earlier versions (``lr_start=``, ``lr_end=``, ``smoothing=``..., see
        :func:`~gluon_lrfinder.studies.sweep_args`), and ``reset_optimizer_state`` for a search
        mid-training. A Ctrl-C restores the state, keeps the points so far on :attr:`curve`
        (``StopReason.INTERRUPTED``) and is raised again.
        """
        if args:  # find(plan, rule), or the old positional form find(lr_start, lr_multiplier, smoothing)
            numeric = isinstance(plan, (int, float))
            if len(args) > (2 if numeric else 1) or (not numeric and stopping is not None):
                raise TypeError(f"find() takes a plan and a stopping rule, got {1 + len(args)} positional arguments")
            if numeric:
                options.update(zip(("lr_multiplier", "smoothing"), args))
            else:
                stopping = args[0]
        return self.run(single, plan, stopping, **options).pairs

    def find_repeated(self, repeats: int = 5, **options: Any) -> RepeatedSweeps:
        """Several range tests from the same state, one data order each (:mod:`~gluon_lrfinder.studies.repeated`).

        ``options``: ``vary_init``, ``seed``, ``method``, ``initializer``, and :meth:`find`'s.
        Returns a :class:`~gluon_lrfinder.RepeatedSweeps` (median curve, bands, spread).
        """
        return self.run(repeated, options.pop("plan", None), options.pop("stopping", None), repeats=repeats, **options)

    def find_grid(self, weight_decay: Any = None, momentum: Any = None, **options: Any) -> GridResult:
        """One range test per weight-decay / momentum combination, a diagnostic (:mod:`~gluon_lrfinder.studies.grid`).

        ``options``: ``seed``, ``method``, ``tolerance``, ``repeats``, ``keep_current``,
        ``margin``, and :meth:`find`'s. Returns a :class:`~gluon_lrfinder.GridResult`: the
        curves and table, the recommendation (keep the trainer's own values: on held-out recipes
        no rule that reads range tests beat that, docs/weight_decay_momentum.md), the sweep's
        pick with the evidence behind it, and notes; :meth:`apply_grid` sets the recommendation.
        """
        return self.run(grid, options.pop("plan", None), options.pop("stopping", None), weight_decay=weight_decay,
                        momentum=momentum, **options)

    # ------------------------------------------------------------------ results
    @property
    def curve(self) -> Optional[LRCurve]:
        """The last curve: of :meth:`find`, :meth:`load`, or the last run of a repeated or grid study."""
        result = self.result
        if isinstance(result, RepeatedSweeps):
            return result.curves[-1]
        if isinstance(result, GridResult):
            return result.runs[-1][-1] if result.runs else result.curves[-1]
        return result

    @curve.setter
    def curve(self, curve: Optional[LRCurve]) -> None:
        self.result = curve

    @property
    def repeated(self) -> Optional[RepeatedSweeps]:
        """:attr:`result` when the last study was :meth:`find_repeated`."""
        return self.result if isinstance(self.result, RepeatedSweeps) else None

    @property
    def grid(self) -> Optional[GridResult]:
        """:attr:`result` when the last study was :meth:`find_grid`."""
        return self.result if isinstance(self.result, GridResult) else None

    @property
    def results(self) -> List[Tuple[float, float]]:
        """``[(lr, loss), ...]`` of the last curve (empty before any)."""
        return self.curve.pairs if self.curve is not None else []

    def _require_curve(self, what: str) -> LRCurve:
        if self.curve is None or len(self.curve) == 0:
            raise RuntimeError(f"call find() (or load()) before {what}()")
        return self.curve

    def suggest(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None, warn: bool = True,
                source: str = "train") -> float:
        """The last curve's suggestion (:meth:`LRCurve.suggest`)."""
        return self._require_curve("suggest").suggest(method=method, bandwidth=bandwidth, warn=warn, source=source)

    def suggest_range(self, bandwidth: Optional[float] = None, warn: bool = True) -> Tuple[float, float]:
        """``(min_lr, max_lr)`` for cyclical and one-cycle schedules (:meth:`LRCurve.suggest_range`);
        warns about the curve's flags unless ``warn=False``."""
        return self._require_curve("suggest_range").suggest_range(bandwidth, warn=warn)

    def diagnose(self) -> List[str]:
        """Plain flags about the last curve (:meth:`LRCurve.diagnose`)."""
        return self._require_curve("diagnose").diagnose()

    def report(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None) -> SuggestionReport:
        """Every rule's answer for the last curve, their agreement, range and flags (:meth:`LRCurve.report`)."""
        return self._require_curve("report").report(method=method, bandwidth=bandwidth)

    def apply(self, lr: Optional[float] = None, method: Method = DEFAULT_METHOD) -> float:
        """Set ``lr``, or the last study's suggestion of ``method``, on the learner's trainer.

        The suggestion is the result's: a curve's (:meth:`LRCurve.apply`), a repeated study's
        median, a grid's recommended combination's. With an ``lr_scheduler`` attached the whole
        schedule is rescaled around the rate. Returns the rate set.
        """
        result = self.result
        if lr is None and isinstance(result, (RepeatedSweeps, GridResult)):
            lr = result.suggest(method)
        if lr is None:  # a curve's own suggestion, with a warning when it never fell
            return self._require_curve("apply").apply(self.learner.trainer, method=method)
        return set_learning_rate(self.learner.trainer, lr)

    def apply_grid(self, accept_unvalidated: bool = False) -> Dict[str, float]:
        """Set the last :meth:`find_grid`'s recommendation (:meth:`GridResult.apply`): keep weight
        decay and momentum, set the learning rate suggested for them; ``accept_unvalidated=True``
        sets the sweep's pick instead, with a warning that says what evidence stands behind it."""
        if self.grid is None:
            raise RuntimeError("call find_grid() before apply_grid()")
        return self.grid.apply(self.learner.trainer, accept_unvalidated=accept_unvalidated)

    def plot(self, path: Optional[PathLike] = None, ax: Any = None, method: Optional[Method] = DEFAULT_METHOD,
             show_range: bool = False, **kwargs: Any) -> Any:
        """Plot the last curve (:meth:`LRCurve.plot`); returns the Axes."""
        return self._require_curve("plot").plot(path=path, ax=ax, method=method, show_range=show_range, **kwargs)

    def plot_bands(self, path: Optional[PathLike] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the last :meth:`find_repeated` (:meth:`RepeatedSweeps.plot`)."""
        if self.repeated is None:
            raise RuntimeError("call find_repeated() before plot_bands()")
        return self.repeated.plot(path=path, ax=ax, **kwargs)

    def plot_grid(self, path: Optional[PathLike] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the last :meth:`find_grid` (:meth:`GridResult.plot`)."""
        if self.grid is None:
            raise RuntimeError("call find_grid() before plot_grid()")
        return self.grid.plot(path=path, ax=ax, **kwargs)

    def save(self, path: PathLike) -> str:
        """Write the last curve to ``.csv`` or ``.json`` (:meth:`LRCurve.save`)."""
        return self._require_curve("save").save(path)

    def load(self, path: PathLike) -> LRCurve:
        """Read a saved curve back as :attr:`result`, to re-plot and re-suggest it."""
        curve = LRCurve.load(path)
        self.result = curve
        return curve
