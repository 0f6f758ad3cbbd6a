"""The range test for ``mxnet.gluon.contrib.estimator``: from an Estimator, or as an event handler.

:func:`find_lr_with_estimator` runs the range test on an Estimator's net, loss, trainer and
contexts with its training data; :class:`LRFinderHandler` does the same inside
``Estimator.fit`` (at train begin or at the start of a chosen epoch) and applies the result.

Every iteration of the search trains through the Estimator's own
``batch_processor.fit_batch(estimator, batch, batch_axis)`` (forward, loss and backward, as
``Estimator.fit`` does), then ``trainer.step``; so a custom ``BatchProcessor`` (several inputs, a
scaled loss, an auxiliary term...) is honoured, and batches are whatever it reads. The
Estimator's metrics and handlers are not called during the search.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from mxnet.gluon.contrib.estimator import Estimator
from mxnet.gluon.contrib.estimator.event_handler import EpochBegin, TrainBegin, TrainEnd
from mxnet.lr_scheduler import LRScheduler

from ..core._validate import check_int
from ..core.curve import LRCurve
from ..core.rules import DEFAULT_METHOD, Method, get_rule
from ..engine.learner import Learner
from ..engine.sources import DataSource, split_batch
from ..finder import LRFinder
from ..schedules.wrappers import OffsetSchedule

__all__ = ["learner_from_estimator", "find_lr_with_estimator", "LRFinderHandler"]

logger = logging.getLogger(__name__)


def _estimator_batch_fn(batch_axis: int) -> Callable[[Any, List[Any]], Any]:
    """The Estimator's batch layout (``batch[0]`` data, ``batch[1]`` label, further fields
    unused), split along ``batch_axis`` by :func:`~gluon_lrfinder.engine.learner.split_batch`."""

    def batch_fn(batch: Any, ctx: List[Any]) -> Any:
        return split_batch((batch[0], batch[1]), ctx, batch_axis=batch_axis)

    return batch_fn


def _estimator_fit_batch(estimator: Estimator, batch_axis: int) -> Callable[[Any], Any]:
    """One training batch through ``estimator.batch_processor.fit_batch``, as ``Estimator.fit`` runs it."""

    def fit_batch(batch: Any) -> Any:
        data, label, _pred, losses = estimator.batch_processor.fit_batch(estimator, batch, batch_axis)
        return data, label, losses, batch[0].shape[batch_axis]  # what Estimator.fit steps with

    return fit_batch


def _estimator_predict_batch(estimator: Estimator, batch_axis: int) -> Callable[[Any], Any]:
    """A predict-mode forward through ``estimator.batch_processor.evaluate_batch`` (deferred shapes)."""

    def predict_batch(batch: Any) -> Any:
        return estimator.batch_processor.evaluate_batch(estimator, batch, batch_axis)

    return predict_batch


def learner_from_estimator(
    estimator: Estimator, train_data: Any, batch_axis: int = 0, batch_fn: Optional[Callable] = None
) -> Learner:
    """A :class:`~gluon_lrfinder.Learner` over an Estimator's net, loss, trainer and contexts.

    Parameters
    ----------
    estimator : mxnet.gluon.contrib.estimator.Estimator
    train_data : iterable of batches, or a :class:`~gluon_lrfinder.DataSource`
        The data ``estimator.fit`` trains on (a finite DataLoader is restarted when it ends).
    batch_axis : int, default 0
        As in ``Estimator.fit``.
    batch_fn : callable, optional
        Splits ``find(valid_data=...)``'s held-out batches over the contexts (deferred shapes are
        resolved through ``estimator.batch_processor.evaluate_batch``)
        (see :class:`~gluon_lrfinder.Learner`). Default: ``batch[0]`` is the data, ``batch[1]``
        the label, as the default ``BatchProcessor`` reads them. Training always goes through
        ``estimator.batch_processor.fit_batch``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> from gluon_lrfinder.demo import load_task, build_net, loss_for
    >>> task = load_task("iris")
    >>> net = build_net("mlp", task.num_outputs); net.initialize()
    >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01})
    >>> est = Estimator(net, loss_for(task), trainer=trainer, context=mx.cpu())
    >>> learner = learner_from_estimator(est, mx.gluon.data.DataLoader(task.train, batch_size=16))
    >>> learner.trainer is est.trainer
    True
    """
    if not isinstance(estimator, Estimator):
        raise TypeError(f"estimator must be an mxnet.gluon.contrib.estimator.Estimator, got {type(estimator).__name__}")
    batch_axis = check_int("batch_axis", batch_axis, 0)
    return Learner(
        estimator.net,
        train_data,
        ctx=list(estimator.context),
        loss_fn=estimator.loss,
        trainer=estimator.trainer,
        batch_fn=batch_fn if batch_fn is not None else _estimator_batch_fn(batch_axis),
        fit_batch=_estimator_fit_batch(estimator, batch_axis),
        predict_batch=_estimator_predict_batch(estimator, batch_axis),
    )


def find_lr_with_estimator(
    estimator: Estimator,
    train_data: Any,
    batch_axis: int = 0,
    batch_fn: Optional[Callable] = None,
    **find_kwargs: Any,
) -> LRFinder:
    """Run the range test on an Estimator's model and data; the model and trainer come back as
    they were.

    Parameters
    ----------
    estimator : mxnet.gluon.contrib.estimator.Estimator
    train_data : iterable of batches
        The training data.
    batch_axis, batch_fn
        See :func:`learner_from_estimator`.
    **find_kwargs
        Passed to :meth:`LRFinder.find` (``lr_start``, ``lr_end``, ``num_iter``, ``progress``...).

    Returns
    -------
    LRFinder
        With the curve: ``.suggest()``, ``.suggest_range()``, ``.plot()``.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> from gluon_lrfinder.demo import load_task, build_net, loss_for
    >>> task = load_task("iris")
    >>> net = build_net("mlp", task.num_outputs); net.initialize()
    >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01})
    >>> est = Estimator(net, loss_for(task), trainer=trainer, context=mx.cpu())
    >>> data = mx.gluon.data.DataLoader(task.train, batch_size=16, shuffle=True)
    >>> finder = find_lr_with_estimator(est, data, lr_start=1e-4, lr_end=10, num_iter=50,
    ...                                 progress=False)
    >>> 1e-4 <= finder.suggest(warn=False) <= 10
    True
    """
    with learner_from_estimator(estimator, train_data, batch_axis, batch_fn) as learner:
        finder = LRFinder(learner)
        finder.find(**find_kwargs)
    return finder


class LRFinderHandler(TrainBegin, EpochBegin, TrainEnd):
    """Event handler: run the range test inside ``Estimator.fit`` and apply what it suggests.

    At train begin (``epoch=0``) or at the start of epoch ``epoch`` (counted from 0, before its
    first batch) the handler runs :func:`find_lr_with_estimator` on the estimator's model with
    ``train_data``. The search leaves parameters and trainer state exactly as they were. Then:

    * with ``schedule`` given, it attaches ``schedule(finder)`` as the optimizer's
      ``lr_scheduler`` (wrapped in :class:`~gluon_lrfinder.schedules.wrappers.OffsetSchedule` when the
      optimizer has already made updates, so the schedule starts at its own step 0);
    * otherwise, if the optimizer has an ``lr_scheduler``, the whole schedule is rescaled
      around the suggestion (:meth:`LRFinder.apply`: this package's schedules, GluonCV's
      ``LRSequential``, MXNet's schedulers with warm-up), or a ``ValueError`` says what to do;
    * otherwise the suggestion is set with ``trainer.set_learning_rate``.

    What it did is logged on ``estimator.logger`` (where the Estimator's own logs go) and kept
    in :attr:`finder`, :attr:`suggested_lr` and :attr:`applied`. If ``fit`` ends before epoch
    ``epoch`` begins, a warning says that the handler never ran.

    Parameters
    ----------
    train_data : iterable of batches
        The training data (``Estimator.fit`` does not hand it to handlers).
    epoch : int, default 0
        When to search: 0 at train begin, k >= 1 at the start of the k-th epoch (0-based).
    method : str, default ``DEFAULT_METHOD``
        The suggestion rule: a registered name or a rule (:func:`gluon_lrfinder.core.rules.get_rule`).
    schedule : callable, optional
        ``schedule(finder) -> mx.lr_scheduler.LRScheduler``, e.g.
        ``lambda f: OneCycleSchedule.from_finder(f, total_steps)``.
    find_kwargs : dict, optional
        Arguments of :meth:`LRFinder.find`; ``progress`` defaults to False.
    batch_axis : int, default 0
        As in ``Estimator.fit``.
    priority : float, default 1000
        Handlers run in ascending priority: after the default ones that restore checkpoints
        (priority 0), before the ``LoggingHandler`` (``inf``), which then logs the new rate.

    Examples
    --------
    >>> import mxnet as mx
    >>> from mxnet.gluon.contrib.estimator import Estimator
    >>> from gluon_lrfinder.demo import load_task, build_net, loss_for
    >>> task = load_task("iris")
    >>> net = build_net("mlp", task.num_outputs); net.initialize()
    >>> trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1e-5})
    >>> est = Estimator(net, loss_for(task), trainer=trainer, context=mx.cpu())
    >>> est.logger.setLevel("WARNING")
    >>> data = mx.gluon.data.DataLoader(task.train, batch_size=16, shuffle=True)
    >>> handler = LRFinderHandler(data, find_kwargs={"lr_start": 1e-4, "lr_end": 10, "num_iter": 50})
    >>> est.fit(data, epochs=1, event_handlers=[handler])
    >>> trainer.learning_rate == handler.suggested_lr
    True
    """

    def __init__(
        self,
        train_data: Any,
        epoch: int = 0,
        method: Method = DEFAULT_METHOD,
        schedule: Optional[Callable[[LRFinder], LRScheduler]] = None,
        find_kwargs: Optional[Dict[str, Any]] = None,
        batch_axis: int = 0,
        priority: float = 1000,
    ) -> None:
        if not hasattr(train_data, "__iter__") and not isinstance(train_data, DataSource):
            raise TypeError(
                f"train_data must be iterable (e.g. a gluon.data.DataLoader), got {type(train_data).__name__}"
            )
        self.epoch = check_int("epoch", epoch, 0)
        get_rule(method)
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule must be a callable finder -> LRScheduler, got {type(schedule).__name__}")
        if find_kwargs is not None and not isinstance(find_kwargs, dict):
            raise TypeError(f"find_kwargs must be a dict, got {type(find_kwargs).__name__}")
        self.train_data = train_data
        self.method = method
        self.schedule = schedule
        self.find_kwargs = dict(find_kwargs or {})
        self.find_kwargs.setdefault("progress", False)
        self.batch_axis = check_int("batch_axis", batch_axis, 0)
        self.priority = priority
        self.finder: Optional[LRFinder] = None
        self.suggested_lr: Optional[float] = None
        self.applied: Optional[str] = None
        self._epochs_begun = 0
        self._ran = False

    # ------------------------------------------------------------------ events
    def train_begin(self, estimator: Estimator, *args: Any, **kwargs: Any) -> None:
        self._epochs_begun = 0
        self._ran = False
        if self.epoch == 0:
            self.run(estimator)

    def epoch_begin(self, estimator: Estimator, *args: Any, **kwargs: Any) -> None:
        if self.epoch > 0 and self._epochs_begun == self.epoch:
            self.run(estimator)
        self._epochs_begun += 1

    def train_end(self, estimator: Estimator, *args: Any, **kwargs: Any) -> None:
        if not self._ran:
            log = estimator.logger if estimator.logger is not None else logger
            log.warning(
                "LRFinderHandler never ran: it was set for epoch %d, but training ended after %d epoch(s) "
                "began", self.epoch, self._epochs_begun,
            )

    # ------------------------------------------------------------------ the work
    def pick(self, curve: LRCurve) -> float:
        """The learning rate this handler applies for ``curve``: ``curve.suggest(method=self.method)``.

        Examples
        --------
        >>> import numpy as np
        >>> from gluon_lrfinder import LRCurve
        >>> lrs = np.logspace(-4, 0, 41)
        >>> curve = LRCurve(lrs=list(lrs), losses=list(1 - np.tanh(3 * (np.log10(lrs) + 2)) + lrs))
        >>> LRFinderHandler([], method="steepest").pick(curve) == curve.suggest("steepest", warn=False)
        True
        """
        return curve.suggest(method=self.method)

    def run(self, estimator: Estimator) -> Optional[float]:
        """Search now and apply the result; returns the suggested LR (None if the curve gave
        none, in which case the learning rate is left alone and a warning is logged)."""
        log = estimator.logger if estimator.logger is not None else logger
        self._ran = True
        trainer = estimator.trainer
        before = trainer.learning_rate
        with learner_from_estimator(estimator, self.train_data, self.batch_axis) as learner:
            # set first: after a Ctrl-C (restored, re-raised: fit stops, nothing applied) the
            # points recorded stay readable on handler.finder
            self.finder = finder = LRFinder(learner)
            finder.find(**self.find_kwargs)
        curve = finder.curve
        assert curve is not None  # find() always leaves a curve, empty at worst
        log.info(
            "LRFinderHandler: range test over %d iterations, lr %.3g to %.3g (%s); model and trainer "
            "restored", len(curve), curve.lrs[0], curve.lrs[-1], curve.stop_reason,
        )
        try:
            lr = self.pick(curve)
        except ValueError as err:
            self.suggested_lr, self.applied = None, None
            log.warning("LRFinderHandler: no suggestion (%s); learning rate left at %.4g", err, before)
            return None
        if not math.isfinite(lr):  # pragma: no cover - the rules return a swept rate
            raise RuntimeError(f"the suggestion rule {self.method!r} returned {lr!r}")
        self.suggested_lr = lr
        optimizer = trainer.optimizer
        if self.schedule is not None:
            schedule = self.schedule(finder)
            if not isinstance(schedule, LRScheduler):
                raise TypeError(
                    f"schedule(finder) must return an mx.lr_scheduler.LRScheduler, got {type(schedule).__name__}"
                )
            if optimizer.num_update > 0:
                schedule = OffsetSchedule(schedule, optimizer.num_update)
            optimizer.lr_scheduler = schedule
            self.applied = f"attached {schedule!r}"
        else:
            scheduler = optimizer.lr_scheduler
            finder.apply(lr)  # base_lr of an attached scheduler, else set_learning_rate
            if scheduler is not None:
                self.applied = f"rescaled {type(scheduler).__name__} around lr={lr:.4g}"
            else:
                self.applied = f"set learning rate {before:.4g} -> {lr:.4g}"
        log.info("LRFinderHandler: suggested lr %.4g (%s); %s", lr, self.method, self.applied)
        return lr
