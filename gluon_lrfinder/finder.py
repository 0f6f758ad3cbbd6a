"""The front of the package: :class:`LRFinder` runs a study on a learner, keeps its result and
answers for it (suggest, range, report, plot, apply)."""
from __future__ import annotations

import logging
import os
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from . import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from .core.curve import LRCurve
from .core.grid import GridResult
from .core.placement import finite_rate, place_rate
from .core.repeated import RepeatedSweeps
from .core.report import SuggestionReport
from .core.rules import DEFAULT_METHOD, Method, SuggestionWarning
from .engine.knobs import set_knobs, set_learning_rate
from .engine.learner import Learner
from .engine.sweep import SweepInterrupted
from .studies import grid, repeated, single, sweep_args

__all__ = ["LRFinder"]

logger = logging.getLogger(__name__)

#: apply() warns when it would lower the trainer's own rate by this factor or more from the
#: bottom of the curve: a rate there is high but stable, and may be what the training is built for.
OWN_RATE_FACTOR = 3.0

PathLike = Union[str, "os.PathLike[str]"]
Result = Union[LRCurve, RepeatedSweeps, GridResult]


class LRFinder:
    """Learning-rate range test (Smith, 2015/2017) for a :class:`~gluon_lrfinder.Learner`.

    Each search saves the model's parameters and the trainer's state, trains one iteration per
    learning rate with the rate rising, stops when the loss diverges and restores everything
    exactly, also after an exception, a Ctrl-C or a NaN loss. The last search's result is
    :attr:`result`; :meth:`suggest`, :meth:`suggest_range`, :meth:`report`, :meth:`plot` and
    :meth:`apply` answer for it.

    Parameters
    ----------
    learner : Learner
        What to train.
    loss_reducer : callable, optional
        ``loss_reducer(loss_nd) -> NDArray`` applied to each loss before it is read; default:
        the cross-worker average a distributed trainer needs, none locally.

    Examples
    --------
    >>> from gluon_lrfinder import Learner, LRFinder
    >>> from gluon_lrfinder.demo import build_net, source
    >>> with Learner(build_net("mlp"), source("digits")) as learner:
    ...     finder = LRFinder(learner)
    ...     pairs = finder.find(lr_start=1e-5, lr_end=10, progress=False)
    ...     lr = finder.suggest(warn=False)
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
        #: The last search's result: an LRCurve (find), RepeatedSweeps (find_repeated) or GridResult (find_grid).
        self.result: Optional[Result] = None

    # ------------------------------------------------------------------ searches
    def _run(self, study: Any, options: Dict[str, Any]) -> Any:
        plan, stopping, options = sweep_args(options)
        options.setdefault("loss_reducer", self.loss_reducer)
        try:
            self.result = study.run(self.learner, plan, stopping, **options)
        except SweepInterrupted as interrupt:  # keep the interrupted run's points
            self.result = interrupt.curve
            raise
        return self.result

    def find(
        self,
        lr_start: float = 1e-6,
        *,
        lr_end: Optional[float] = None,
        num_iter: Optional[int] = None,
        lr_multiplier: Optional[float] = None,
        mode: str = "exponential",
        max_iter: int = 1000,
        smoothing: Optional[float] = None,
        min_iter: Optional[int] = None,
        threshold: Optional[float] = None,
        stopping: Any = None,
        progress: bool = True,
        valid_data: Any = None,
        valid_every: int = 10,
        reset_optimizer_state: bool = False,
        tmp_dir: Optional[str] = None,
    ) -> List[Tuple[float, float]]:
        """Run one range test and return ``[(lr, loss), ...]``; the full record is :attr:`curve`.

        Parameters
        ----------
        lr_start : float, default 1e-6
            First learning rate, > 0.
        lr_end : float, optional
            Last learning rate, > ``lr_start``. Default: go on until the loss diverges (at most
            ``max_iter`` iterations).
        num_iter : int, optional
            Iterations from ``lr_start`` to ``lr_end``, >= 2 (default 100 with ``lr_end``).
        lr_multiplier : float, optional
            Factor between two rates, > 1 (exponential mode; the MXNet tutorial's 1.1). Give it
            or ``num_iter``, not both.
        mode : {"exponential", "linear"}, default "exponential"
            How the rate rises; ``"linear"`` needs ``lr_end``.
        max_iter : int, default 1000
            Hard limit on iterations, >= 1.
        smoothing : float, optional
            Weight in [0, 1) of the stopping rule's moving average (default 0.3).
        min_iter : int, optional
            Iterations before the search may stop, >= 1 (default 20).
        threshold : float, optional
            Stop once the smoothed loss exceeds this many times its reference, > 1 (default 2).
        stopping : StoppingCriteria or callable, optional
            A stopping rule of your own (``StoppingCriteria(patience=...)``, or
            ``rule(loss) -> bool``) instead of ``smoothing``/``min_iter``/``threshold``.
        progress : bool, default True
            Show a progress bar.
        valid_data : Dataset or iterable of batches, optional
            Also record the loss on this held-out data every ``valid_every`` iterations.
        valid_every : int, default 10
            Iterations between two held-out evaluations, >= 1.
        reset_optimizer_state : bool, default False
            Search with fresh optimizer state (momentum buffers...) in the middle of a training.
        tmp_dir : str, optional
            Where the temporary copy of the state is written (default: the system's temp dir).

        Returns
        -------
        list of (float, float)
            The ``(lr, loss)`` of every iteration.

        Raises
        ------
        ValueError, TypeError
            A bad argument, named with its accepted range, before anything is touched.
        KeyboardInterrupt
            After a Ctrl-C: the state is restored first, and the points so far stay on :attr:`curve`.
        """
        options = dict(locals())
        del options["self"]
        return self._run(single, options).pairs

    def find_repeated(self, repeats: int = 5, **options: Any) -> RepeatedSweeps:
        """Several range tests from the same state, one data order each: how stable the answer is.

        ``options``: ``vary_init`` (also redraw the weights), ``seed``, ``method``,
        ``initializer``, and the keywords of :meth:`find`. Returns a
        :class:`~gluon_lrfinder.core.repeated.RepeatedSweeps` (median curve, bands, spread).
        """
        return self._run(repeated, {"repeats": repeats, **options})

    def find_grid(self, weight_decay: Any = None, momentum: Any = None, **options: Any) -> GridResult:
        """One range test per weight-decay / momentum combination: a diagnostic.

        ``options``: ``seed``, ``method``, ``tolerance``, ``repeats``, ``keep_current``,
        ``margin``, and the keywords of :meth:`find`. Returns a
        :class:`~gluon_lrfinder.core.grid.GridResult`; its recommendation keeps the trainer's own
        values, and :meth:`apply` sets the learning rate suggested for them.
        """
        return self._run(grid, {"weight_decay": weight_decay, "momentum": momentum, **options})

    # ------------------------------------------------------------------ results
    @property
    def curve(self) -> Optional[LRCurve]:
        """The last curve: of :meth:`find`, :meth:`load`, or the last run of a repeated or grid search."""
        result = self.result
        if isinstance(result, RepeatedSweeps):
            return result.curves[-1]
        if isinstance(result, GridResult):
            return result.runs[-1][-1] if result.runs else result.curves[-1]
        return result

    def _require(self, what: str) -> Result:
        if self.result is None or (isinstance(self.result, LRCurve) and len(self.result) == 0):
            raise RuntimeError(f"call find() (or load()) before {what}()")
        return self.result

    def _require_curve(self, what: str) -> LRCurve:
        self._require(what)
        assert self.curve is not None  # a result always holds a curve
        return self.curve

    def suggest(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None, warn: bool = True,
                source: str = "train") -> float:
        """The learning rate to train with at a constant rate (:meth:`LRCurve.suggest
        <gluon_lrfinder.LRCurve.suggest>`; after :meth:`find_repeated` the runs' median, after
        :meth:`find_grid` the rate for the recommended combination)."""
        result = self._require("suggest")
        if isinstance(result, LRCurve):
            return result.suggest(method=method, bandwidth=bandwidth, warn=warn, source=source)
        if isinstance(result, RepeatedSweeps):
            return result.suggest(method, bandwidth)
        return result.suggest(method)

    def suggest_range(self, bandwidth: Optional[float] = None, warn: bool = True) -> Tuple[float, float]:
        """``(min_lr, max_lr)`` of the last curve, for cyclical and one-cycle schedules
        (:meth:`LRCurve.suggest_range <gluon_lrfinder.LRCurve.suggest_range>`)."""
        return self._require_curve("suggest_range").suggest_range(bandwidth, warn=warn)

    def report(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None) -> SuggestionReport:
        """The last curve's suggestion with every rule's answer, the range and the flags, and
        where the trainer's own rate lies on the curve (:meth:`LRCurve.report
        <gluon_lrfinder.LRCurve.report>`); ``print()`` it."""
        return self._require_curve("report").report(method=method, bandwidth=bandwidth)

    def plot(self, path: Optional[PathLike] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the last result: loss against learning rate with the suggestion marked (a curve;
        ``method``, ``show_range``, ``bandwidth``, ``title`` as in :meth:`LRCurve.plot
        <gluon_lrfinder.LRCurve.plot>`), the bands of repeated searches, or a grid's curves.
        ``path`` also saves the figure; returns the ``matplotlib`` Axes."""
        return self._require("plot").plot(path=path, ax=ax, **kwargs)

    def apply(self, lr: Optional[float] = None, method: Method = DEFAULT_METHOD,
              accept_unvalidated: bool = False) -> float:
        """Set ``lr``, or the last result's suggestion, on the learner's trainer; returns the rate set.

        With an ``lr_scheduler`` attached the whole schedule is rescaled around the rate. After
        :meth:`find_grid`, the grid's recommendation is set (``accept_unvalidated=True``: the
        sweep's pick of weight decay and momentum too, with a warning). A suggestion from a
        curve flagged "loss never fell" is set with a ``SuggestionWarning`` that says so, and so
        is one that lowers the trainer's own rate from the bottom of the curve (or its edge) by 3x or more
        (``apply(lr=...)`` keeps a rate of your choice).
        """
        trainer = self.learner.trainer
        result = self._require("apply")
        if lr is not None:
            return set_learning_rate(trainer, lr)
        if isinstance(result, GridResult):
            target = result.settings(None if method == DEFAULT_METHOD else method, accept_unvalidated)
            set_knobs(trainer.optimizer, target)
            return set_learning_rate(trainer, target["lr"])
        lr = self.suggest(method, warn=True)
        curve = self._require_curve("apply")
        never_fell = [flag for flag in curve.diagnose() if flag.startswith("loss never fell")]
        if never_fell:
            warnings.warn(f"apply() set lr={lr:.3g} from a curve flagged {never_fell[0]}", SuggestionWarning,
                          stacklevel=2)
        own = finite_rate(curve.settings.get("trainer_lr"))
        if own is not None and not never_fell:
            placement = place_rate(curve.lrs, curve.losses, own, suggestion=lr)
            if placement.zone in ("at the bottom", "at the edge") and own >= OWN_RATE_FACTOR * lr:
                warnings.warn(f"apply() replaces a rate that may be right: {placement}; pass apply(lr={own:.3g}) "
                              "to keep it", SuggestionWarning, stacklevel=2)
            logger.info("apply(): %s; setting lr=%.3g", placement, lr)
        return set_learning_rate(trainer, lr)

    def save(self, path: PathLike) -> str:
        """Write the last curve to ``.csv`` or ``.json`` (:meth:`LRCurve.save <gluon_lrfinder.LRCurve.save>`)."""
        return self._require_curve("save").save(path)

    def load(self, path: PathLike) -> LRCurve:
        """Read a saved curve back as :attr:`result`, to re-plot, re-suggest and apply it."""
        curve = LRCurve.load(path)
        self.result = curve
        return curve
