"""The LR range test: raise the learning rate every iteration until the loss diverges."""
from __future__ import annotations

import functools
import logging
import math
import os
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import mxnet as mx

from .core import plan as sweep
from .core._validate import check_choice, check_int, check_nonnegative, check_positive
from .core.curve import DATA_PROBLEM, LRCurve, library_versions
from .core.grid import GridResult
from .core.report import SuggestionReport
from .core.rules import DEFAULT_METHOD, Method, SuggestionWarning, get_rule
from .core.stopping import StoppingCriteria, StoppingRule, as_stopping_rule, rule_settings
from .engine._arrays import like
from .engine._rng import isolated_global_rngs, keeps_global_rngs
from .engine.datacheck import bad_data_message, nonfinite_parts, params_are_finite
from .engine.learner import Learner
from .engine.reducers import loss_reducer_for
from .engine.state import StateSnapshot, check_restorable, fresh_optimizer_state

__all__ = ["LRFinder", "INTERRUPTED"]

logger = logging.getLogger(__name__)

#: ``curve.stop_reason`` of a search stopped by Ctrl-C (``KeyboardInterrupt``).
INTERRUPTED = "interrupted (KeyboardInterrupt)"


class LRFinder:
    """Learning-rate range test (Smith, 2015/2017) for a :class:`~gluon_lrfinder.Learner`.

    :meth:`find` saves the model's parameters and the trainer's state to files in a private
    temporary folder, trains for one iteration per learning rate with the rate rising every
    iteration, stops when the loss diverges, and restores parameters (BatchNorm statistics and
    every context's copy included), optimizer state, update counters, learning rate and
    ``lr_scheduler`` exactly, also after an exception, a Ctrl-C or a NaN loss.

    Parameters
    ----------
    learner : Learner
        What to train.
    loss_reducer : callable, optional
        ``loss_reducer(loss_nd) -> NDArray``: turns each iteration's 1-element loss NDArray
        into the value the stopping rule and the curve see, before it is read. Default: for a
        trainer on a distributed kvstore (``dist_sync``, ``update_on_kvstore=False``) the
        average over the workers (:class:`~gluon_lrfinder.distributed.KVStoreMeanReducer`),
        for a Horovod trainer the average over the ranks
        (:class:`~gluon_lrfinder.distributed.HorovodMeanReducer`), so that every worker stops
        on the same iteration; none for a local trainer. The held-out losses of
        ``find(valid_data=...)`` go through it too. A reducer with an ``abort()`` method has
        it called after a failed search, once the state is restored.

    Examples
    --------
    >>> import mxnet as mx, numpy as np
    >>> from mxnet import gluon
    >>> from sklearn.datasets import load_digits
    >>> from gluon_lrfinder import Learner, ContinuousBatchSampler, LRFinder
    >>> X, y = load_digits(return_X_y=True)
    >>> ds = gluon.data.ArrayDataset(X.astype("float32") / 16, y.astype("float32"))
    >>> loader = gluon.data.DataLoader(
    ...     ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(len(ds)), 64))
    >>> net = gluon.nn.HybridSequential()
    >>> net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(10))
    >>> with Learner(net, loader, ctx=mx.cpu()) as learner:
    ...     finder = LRFinder(learner)
    ...     results = finder.find(lr_start=1e-5, lr_end=10, progress=False)
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
        self._curve: Optional[LRCurve] = None
        # (method, lr): the runs' median suggestion of the last find_repeated(), which apply()
        # sets while no later find(), load() or assignment replaced the curve it came with
        self._repeated_pick: Optional[Tuple[Method, float]] = None
        self.repeated: Optional[Any] = None  # RepeatedSweeps of the last find_repeated()
        self.grid: Optional[GridResult] = None  # of the last find_grid()
        self._before_sweep: Optional[Callable[[], None]] = None  # see _find_with_setup

    # ------------------------------------------------------------------ the sweep
    @keeps_global_rngs  # NumPy's and Python's global RNGs are put back, also after a fault
    def find(
        self,
        lr_start: float = 1e-6,
        lr_multiplier: Optional[float] = None,
        smoothing: float = 0.3,
        *,
        lr_end: Optional[float] = None,
        num_iter: Optional[int] = None,
        mode: str = "exponential",
        min_iter: int = 20,
        threshold: float = 2.0,
        max_iter: int = sweep.DEFAULT_MAX_ITER,
        stopping: Optional[Union[StoppingRule, Callable[[float], bool]]] = None,
        progress: bool = True,
        tmp_dir: Optional[str] = None,
        valid_data: Any = None,
        valid_every: int = 10,
        reset_optimizer_state: bool = False,
    ) -> List[Tuple[float, float]]:
        """Run the range test and return ``[(lr, loss), ...]``.

        Parameters
        ----------
        lr_start : float, default 1e-6
            First learning rate, > 0.
        lr_multiplier : float, optional
            Exponential mode: factor between consecutive rates, > 1. Default 1.1, or derived
            from ``lr_end`` and ``num_iter`` when both are given.
        smoothing : float, default 0.3
            History weight of the stopping rule's moving average, in [0, 1).
        lr_end : float, optional
            Highest learning rate, > ``lr_start``. Required for ``mode="linear"``.
        num_iter : int, optional
            Number of iterations, >= 2. Exponential default: until ``lr_end`` or divergence, at
            most ``max_iter``; linear default 100.
        mode : {"exponential", "linear"}, default "exponential"
            How the rate rises.
        min_iter : int, default 20
            No divergence stop before this many iterations, >= 1.
        threshold : float, default 2.0
            Stop when the smoothed loss stays above ``threshold`` times the reference loss (the
            median of the first 10 losses, see :class:`StoppingCriteria`), > 1.
        max_iter : int, default 1000
            Cap on the iterations of an exponential sweep without ``num_iter``, >= 1.
        stopping : StoppingRule or callable, optional
            A custom stopping rule (a :class:`~gluon_lrfinder.stopping.StoppingRule`, such as
            ``LRFinderStoppingCriteria()``, or a plain ``callable(loss) -> bool``; then
            ``smoothing``, ``min_iter`` and ``threshold`` are
            ignored); it is reset before the sweep.
        progress : bool, default True
            Show a tqdm progress bar.
        tmp_dir : str, optional
            Where the temporary state folder is created; default: the system temp folder.
        valid_data : gluon.data.Dataset or iterable of batches, optional
            A small fixed held-out set, evaluated every ``valid_every`` iterations in predict
            mode without gradients (see :class:`~gluon_lrfinder.validation.ValidationSignal`);
            its losses go to ``curve.valid_lrs`` / ``curve.valid_losses`` and onto the plot.
        valid_every : int, default 10
            Iterations between two evaluations of ``valid_data``, >= 1.
        reset_optimizer_state : bool, default False
            Sweep with the optimizer state of a new trainer: from the current weights, but with
            momentum buffers and Adam's moments zeroed and the update counts started over
            (Adam's bias correction from step 1). Use it for a search in the middle of training:
            otherwise the momentum built up at the training rate keeps moving the weights during
            the first, tiny sweep rates, the loss climbs before the sweep has done anything and
            the suggestion is off (docs/usage.md, "A search mid-training"). The real state comes
            back bitwise afterwards, as always. No effect on a trainer that has not stepped.

        Returns
        -------
        list of (float, float)
            The learning rates and the loss of the iteration run at each, in sweep order; also
            in :attr:`results` and, with the smoothed losses and settings, in :attr:`curve`.

        Raises
        ------
        ValueError, TypeError
            A bad argument, before anything is touched.

        Notes
        -----
        **Ctrl-C** (``KeyboardInterrupt``) stops the program, as it should: the model and
        trainer are restored as on every other path, the points recorded so far are kept on
        :attr:`curve` (``curve.stop_reason`` is :data:`INTERRUPTED`), then the
        ``KeyboardInterrupt`` is raised again (its message says how many points were kept). A
        script ends there instead of training on; in a notebook, :meth:`plot`,
        :meth:`suggest` and :meth:`save` still work on the kept points in the next cell. A
        second Ctrl-C during the restore is held until the restore is done and then raised.

        **Randomness.** NumPy's and Python's global RNG states are put back afterwards, also
        after a fault, so the data orders a ``shuffle=True`` DataLoader draws later are those it
        would have drawn without the search. MXNet's RNG (dropout, ``mx.nd.random``, MXNet's
        image augmenters) cannot be read, so a search that draws from it moves it on: call
        ``mx.random.seed(...)`` after the search if the training should repeat bitwise.

        The loss of iteration k is read only after iteration k+1 has been queued on MXNet's
        engine, so the read itself never leaves the engine idle. The recorded pairs
        and the stop iteration are the same as reading each loss at once; after a stop, the one
        iteration already queued runs and is undone by the restore (it consumes one batch of
        the data loader).
        """
        check_choice("mode", mode, ("exponential", "linear"))
        _check_flag("reset_optimizer_state", reset_optimizer_state)
        rule = (StoppingCriteria(smoothing=smoothing, min_iter=min_iter, threshold=threshold)
                if stopping is None else as_stopping_rule(stopping))
        lrs, lr_multiplier, num_iter = _planned_rates(mode, lr_start, lr_multiplier, lr_end, num_iter, max_iter)
        rule.reset()
        reduce = self._loss_reducer()
        signal = self._validation_signal(valid_data, valid_every, reduce)
        settings = {
            "lr_start": lrs[0],
            "lr_multiplier": lr_multiplier,
            "lr_end": lr_end,
            "num_iter": num_iter,
            "mode": mode,
            **rule_settings(rule),
            "max_iter": max_iter,
            "contexts": [str(c) for c in self.learner.ctx],
            "optimizer": type(self.learner.trainer.optimizer).__name__,
        }
        if signal is not None:
            settings["valid_every"] = signal.every
        if reset_optimizer_state:
            settings["reset_optimizer_state"] = True
        curve = LRCurve(settings=settings, versions=library_versions())

        self.learner.prepare()  # first batch + deferred shapes: nothing trainable is touched
        # an open-ended sweep has no known length: show a count rather than a bar to max_iter
        bounded = mode == "linear" or lr_end is not None or num_iter is not None
        with _progress_bar(len(lrs) if bounded else None, progress) as bar:
            self._sweep_and_restore(lrs, rule, curve, bar, reduce, signal, tmp_dir, reset_optimizer_state)
        self._finish(curve, signal, lrs[0])
        if curve.stop_reason == INTERRUPTED:
            raise _interrupted(len(curve))
        return curve.pairs

    def _loss_reducer(self) -> Optional[Callable[[Any], Any]]:
        """The user's reducer, or the cross-worker loss average the trainer needs (None: local).

        Refuses, before anything is touched, a trainer whose state could not be restored or that
        several processes could not drive in step (see state.py and distributed.py).
        """
        check_restorable(self.learner.trainer)
        auto_reducer = loss_reducer_for(self.learner.trainer)
        return self.loss_reducer if self.loss_reducer is not None else auto_reducer

    def _validation_signal(
        self, valid_data: Any, valid_every: int, reduce: Optional[Callable[[Any], Any]]
    ) -> Optional[Any]:
        if valid_data is None:
            return None
        from .engine.validation import ValidationSignal

        # held-out losses averaged over the workers like the training loss
        return ValidationSignal(self.learner, valid_data, every=valid_every, reduce=reduce)

    def _sweep_and_restore(
        self,
        lrs: List[float],
        stopping: StoppingRule,
        curve: LRCurve,
        bar: Any,
        reduce: Optional[Callable[[Any], Any]],
        signal: Any,
        tmp_dir: Optional[str],
        reset_optimizer_state: bool = False,
    ) -> None:
        """The sweep inside one state snapshot: whatever happens, the state on entry comes back."""
        try:
            with StateSnapshot(self.learner.net, self.learner.trainer, tmp_dir=tmp_dir) as snapshot:
                if reset_optimizer_state:  # a new trainer's optimizer state, for the sweep only
                    fresh_optimizer_state(self.learner.trainer, str(snapshot.directory))
                if self._before_sweep is not None:  # find_repeated / find_grid: what this run varies
                    self._before_sweep()
                curve.stop_reason = self._sweep(lrs, stopping, curve, bar, reduce=reduce, hook=signal)
                _check_hidden_nan(self.learner.net, curve)  # before the restore: the swept parameters
        except BaseException:
            # state restored; a Horovod reducer shuts Horovod down so no rank waits for this one
            getattr(reduce, "abort", lambda: None)()
            raise

    def _finish(self, curve: LRCurve, signal: Any, lr_start: float) -> None:
        """Read the validation signal, keep the curve, warn and log what happened."""
        if DATA_PROBLEM in curve.settings:
            warnings.warn(f"LR range test: {curve.settings[DATA_PROBLEM]}", SuggestionWarning, stacklevel=3)
        if signal is not None:
            signal.flush(curve, curve.lrs[-1] if len(curve) else None)
        self.curve = curve
        logger.info(
            "LR range test: %d iterations from lr=%.3g to lr=%.3g, stopped: %s",
            len(curve), curve.lrs[0] if len(curve) else lr_start, curve.lrs[-1] if len(curve) else lr_start,
            curve.stop_reason,
        )

    def _sweep(
        self,
        lrs: List[float],
        stopping: StoppingRule,
        curve: LRCurve,
        bar: Any,
        reduce: Optional[Callable[[Any], Any]] = None,
        hook: Optional[Callable[[float], None]] = None,
    ) -> str:
        """The loop. The loss of iteration k is read after iteration k+1 is queued
        (:class:`_LaggedReads`), so MXNet's engine never idles on the read; the recorded pairs
        are the same as reading at once, and the one extra iteration run after a stop is undone
        by the restore like all the others.

        ``reduce`` (e.g. the average over dist_sync workers; None when local) turns each mean
        loss NDArray into the value the stopping rule sees; ``hook(lr)`` (e.g. the validation
        signal) runs after each queued iteration."""
        reads = _LaggedReads(self.learner, stopping, curve, bar)
        try:
            for lr in lrs:
                queued = self.learner.queue_iteration(lr)
                if reduce is None:  # no extra operator: averaged on the host when read
                    unread = _UnreadLoss(lr, queued, queued.batches)
                else:  # the reducer takes the mean loss as an NDArray; its value mixes every worker's
                    unread = _UnreadLoss(lr, reduce(queued.mean()), [])
                if hook is not None:  # e.g. the validation signal (find(valid_data=...))
                    hook(lr)
                if reads.push(unread):
                    return stopping.reason or "stopping rule"
            if reads.finish():
                return stopping.reason or "stopping rule"
        except KeyboardInterrupt:
            # Ctrl-C: keep the curve. The last fully queued iteration is read too, unless its
            # value depends on other workers (reduce), who may not have been interrupted. A
            # second Ctrl-C here propagates; the restore runs anyway.
            if reduce is None:
                reads.record_held()
            return INTERRUPTED
        lr_end = curve.settings["lr_end"]
        if lr_end is not None and curve.lrs[-1] >= lr_end * (1 - 1e-9):
            return "lr_end reached"
        return "num_iter reached"

    # ------------------------------------------------------------------ results
    @property
    def curve(self) -> Optional[LRCurve]:
        """The last curve (of :meth:`find`, of the last run of :meth:`find_repeated` or
        :meth:`find_grid`, or :meth:`load`-ed), which :meth:`suggest`, :meth:`plot`... answer
        for. Setting it (as :meth:`find` and :meth:`load` do) makes :meth:`apply` read its
        suggestion rather than that of an earlier :meth:`find_repeated`."""
        return self._curve

    @curve.setter
    def curve(self, curve: Optional[LRCurve]) -> None:
        self._curve = curve
        self._repeated_pick = None

    def _require_curve(self, what: str) -> LRCurve:
        if self.curve is None or len(self.curve) == 0:
            raise RuntimeError(f"call find() (or load()) before {what}()")
        return self.curve

    @property
    def results(self) -> List[Tuple[float, float]]:
        """``[(lr, loss), ...]`` of the last :meth:`find` (empty before it)."""
        return self.curve.pairs if self.curve is not None else []

    def suggest(
        self,
        method: Method = DEFAULT_METHOD,
        bandwidth: Optional[float] = None,
        warn: bool = True,
        source: str = "train",
    ) -> float:
        """The recommended initial learning rate for the last curve: :meth:`LRCurve.suggest`.

        ``method`` is a rule of :data:`gluon_lrfinder.suggest.SUGGESTERS` (default ``"blend"``,
        which reads the optimizer the sweep recorded) or a rule callable; ``source="valid"``
        reads the validation signal of ``find(valid_data=...)``. Raises ``RuntimeError`` before
        :meth:`find` (or :meth:`load`).
        """
        return self._require_curve("suggest").suggest(method=method, bandwidth=bandwidth, warn=warn, source=source)

    def suggest_range(self, bandwidth: Optional[float] = None) -> Tuple[float, float]:
        """``(min_lr, max_lr)`` for cyclical schedules: from the steepest point up to 3x it, at most
        half the LR at the loss minimum (:meth:`LRCurve.suggest_range`)."""
        return self._require_curve("suggest_range").suggest_range(bandwidth)

    def diagnose(self) -> List[str]:
        """Plain flags about the last curve (``[]`` when it looks fine; :meth:`LRCurve.diagnose`)."""
        return self._require_curve("diagnose").diagnose()

    def report(self, method: Method = DEFAULT_METHOD, bandwidth: Optional[float] = None) -> SuggestionReport:
        """Every rule's LR for the last curve, how far they agree, the range and the flags.

        ``print(finder.report())`` gives a readable summary; the validation signal's own
        suggestion is included when :meth:`find` measured one. See :meth:`LRCurve.report`.
        """
        return self._require_curve("report").report(method=method, bandwidth=bandwidth)

    def apply(self, lr: Optional[float] = None, method: Method = DEFAULT_METHOD) -> float:
        """Set a learning rate on the learner's trainer: ``lr``, or the suggestion of ``method``.

        With an ``lr_scheduler`` attached (which ``Trainer.set_learning_rate`` refuses), the whole
        schedule is rescaled so that the rate it is built around (its peak, or the ``base_lr``
        it was built with) becomes ``lr``: this package's schedules, GluonCV's ``LRSequential``
        of ``LRScheduler`` phases (warm-up then decay), MXNet's schedulers with their warm-up
        (:func:`gluon_lrfinder.rescale.rescale_schedule`). The rates it yields are read before
        and after; a scheduler that did not scale is left as it was and a ``ValueError`` says
        what to do. After :meth:`find_repeated`, the suggestion is the runs' median suggestion.
        A suggestion from a curve flagged "loss never fell" is set with a ``SuggestionWarning``
        that says so.

        Parameters
        ----------
        lr : float, optional
            The rate to set, > 0; default: the suggested one (needs :meth:`find` first).
        method : str, default ``DEFAULT_METHOD``
            The rule used when ``lr`` is None.

        Returns
        -------
        float
            The rate set.

        Examples
        --------
        ``finder.find(); finder.apply()`` then train as usual: the trainer starts at the
        suggested rate.
        """
        if lr is not None:
            lr = check_positive("lr", lr)
        elif self._repeated_pick is not None and self._repeated_pick[0] == method:
            lr = self._repeated_pick[1]  # the runs' median: find_repeated() was the last search
        else:
            curve = self._require_curve("apply")
            lr = curve.suggest(method=method, warn=False)
            _warn_if_never_fell(curve, lr)
        trainer = self.learner.trainer
        scheduler = trainer.optimizer.lr_scheduler
        if scheduler is not None:
            from .rescale import rescale_schedule

            factor = rescale_schedule(scheduler, lr, trainer.optimizer.num_update)  # checked, or refused
            logger.info("rescaled the trainer's lr_scheduler by %.3g: its reference rate is now %.3g", factor, lr)
        else:
            trainer.set_learning_rate(lr)
            logger.info("set the trainer's learning rate to %.3g", lr)
        return float(lr)

    def find_repeated(
        self,
        repeats: int = 5,
        vary_init: bool = False,
        seed: int = 0,
        method: Method = DEFAULT_METHOD,
        initializer: Any = None,
        **find_kwargs: Any,
    ) -> Any:
        """Run the range test ``repeats`` times from the same saved state and summarise the spread.

        Each run starts from the state the model and trainer had on entry, with a different
        data order: NumPy's and MXNet's global RNGs are seeded with ``seed + i`` and the data
        iterator is restarted, so a ``RandomSampler`` draws a new permutation. With
        ``vary_init`` every run also starts from freshly initialized weights (``initializer``,
        default Xavier, drawn from the same seed). Parameters and trainer state are restored
        bitwise after every run and after the last; NumPy's and Python's global RNG states are
        put back too (MXNet's cannot be read, so it is left seeded).

        Parameters
        ----------
        repeats : int, default 5
            Number of sweeps, >= 2.
        vary_init : bool, default False
            Also vary the initial weights.
        seed : int, default 0
            Seed of the first run, >= 0.
        method : str, default ``DEFAULT_METHOD``
            Suggestion rule applied to each run.
        initializer : mx.init.Initializer, optional
            For ``vary_init``; default ``mx.init.Xavier()``.
        **find_kwargs
            Passed to :meth:`find` (``lr_start``, ``lr_end``, ``num_iter``, ``valid_data``...).

        Returns
        -------
        RepeatedSweeps
            Median curve with 10%/90% bands, every run's suggestion, the interval they span,
            the stability score (also in :attr:`repeated`); :attr:`curve` is the last run's.

        Examples
        --------
        With ``finder = LRFinder(learner)`` as in the class example::

            result = finder.find_repeated(repeats=3, lr_start=1e-5, lr_end=10)
            print(result)   # 3 range tests (steepest): suggested lr ...; interval ...; stability ...
            finder.plot_bands("bands.png")
        """
        from .core.repeated import summarize_sweeps
        repeats = check_int("repeats", repeats, 2)
        seed = check_int("seed", seed, 0)
        get_rule(method)
        if initializer is not None and not isinstance(initializer, mx.init.Initializer):
            raise TypeError(f"initializer must be an mx.init.Initializer, got {type(initializer).__name__}")

        def setup(i: int) -> None:
            if vary_init:
                _reinitialize(self.learner.net, initializer or mx.init.Xavier())

        seeds = [seed + i for i in range(repeats)]
        curves = self._runs_from_entry_state(seeds, setup, find_kwargs)
        self.repeated = summarize_sweeps(curves, method=method, seeds=seeds)
        self._repeated_pick = (method, self.repeated.lr)  # self.curve is the last run's
        logger.info("%s", self.repeated)
        return self.repeated

    @keeps_global_rngs  # the first batch of prepare() included
    def _runs_from_entry_state(
        self, seeds: List[int], setup: Callable[[int], None], find_kwargs: Dict[str, Any]
    ) -> List[LRCurve]:
        """Run :meth:`find` once per seed, each from the state on entry, and put that state back.

        Before run ``i`` the global NumPy and MXNet RNGs are seeded with ``seeds[i]`` and the
        data iterator is restarted (so a ``RandomSampler`` draws the permutation of that seed);
        ``setup(i)``, which changes what the run should differ by, runs inside that run's own
        state snapshot, right before its sweep, so the restore after the run (bitwise, by
        :meth:`find`) undoes it too: one snapshot per run. NumPy's and Python's global RNG states
        are put back (MXNet's cannot be read, so it is left seeded).
        """
        find_kwargs.setdefault("progress", False)
        # deferred shapes resolved before the seeding: their initialisation draws from MXNet's RNG
        self.learner.prepare()
        curves: List[LRCurve] = []
        with isolated_global_rngs() as seed_rngs:
            for i, run_seed in enumerate(seeds):
                seed_rngs(run_seed)
                self.learner.close()  # restart the data iterator: the permutation of this seed
                self._find_with_setup(find_kwargs, functools.partial(setup, i))
                curve = self.curve  # a Ctrl-C re-raised by find() stops every run, not just this one
                assert curve is not None  # find() always leaves a curve, empty at worst
                curves.append(curve)
        return curves

    def _find_with_setup(self, find_kwargs: Dict[str, Any], before_sweep: Callable[[], None]) -> None:
        """:meth:`find`, with ``before_sweep()`` run inside its state snapshot, before the sweep."""
        self._before_sweep = before_sweep
        try:
            self.find(**find_kwargs)
        finally:
            self._before_sweep = None

    def find_grid(
        self,
        weight_decay: Optional[Sequence[float]] = None,
        momentum: Optional[Sequence[float]] = None,
        seed: int = 0,
        method: Method = DEFAULT_METHOD,
        tolerance: float = 0.05,
        repeats: int = 1,
        keep_current: bool = True,
        margin: float = 0.10,
        **find_kwargs: Any,
    ) -> GridResult:
        """One range test per weight-decay / momentum combination (Smith 2018): a diagnostic.

        Every test starts from the state the model and trainer had on entry and reads the same
        data order (the global RNGs are seeded with ``seed`` and the data iterator is restarted
        before each), so the curves differ only by the knobs. Afterwards parameters, optimizer
        state, weight decay and momentum are exactly as they were.

        The result shows the curves and the table, and the sweep's pick (``.candidate``: with
        the trainer's own values in the grid, another combination only if it is clearly better,
        otherwise Smith's rule; see :func:`gluon_lrfinder.grid.recommend`) with the evidence
        behind it. The recommendation (``.best``) is to keep the trainer's own values: on
        held-out recipes, no rule that reads range tests did better than keeping them
        (docs/weight_decay_momentum.md). When another momentum looks clearly better, a note
        says why that usually means the suggested learning rate is off (the effective step of
        SGD-style momentum is ``lr / (1 - m)``) rather than that the momentum is better.

        Parameters
        ----------
        weight_decay : sequence of float, optional
            Values of the optimizer's ``wd``, each >= 0. Default: the trainer's own value only.
        momentum : sequence of float, optional
            Values in [0, 1) of the optimizer's momentum (SGD, NAG, Signum, LARS, LBSGD, DCASGD)
            or first-moment decay ``beta1`` (Adam, Adamax, Nadam, LAMB, FTML). Default: the
            trainer's own value only. Refused for optimizers with neither, and for a
            momentum-free SGD/NAG trainer that has already stepped (its optimizer state holds
            no momentum buffer, so MXNet could not apply a momentum).
        seed : int, default 0
            Seed of the shared data order, >= 0.
        method : str, default ``DEFAULT_METHOD``
            Suggestion rule for each curve.
        tolerance : float, default 0.05
            Relative slack on the lowest loss when comparing combinations, >= 0.
        keep_current : bool, default True
            When the trainer's own values are among the combinations, recommend keeping them,
            and let the sweep pick another combination only if it is clearly better: a lowest
            loss lower by more than ``margin`` in every data order and a curve stable at least
            as far. False: no recommendation, and the sweep's pick by Smith's rule over all
            combinations (on the held-out recipes, the worst of the rules measured).
        margin : float, default 0.10
            See ``keep_current``, >= 0.
        repeats : int, default 1
            Data orders per combination, >= 1 (seeds ``seed`` ... ``seed + repeats - 1``, the
            same for every combination); the table then holds medians. The lowest loss of one
            range test moves with the data order by more than the combinations differ on small
            data sets (docs/weight_decay_momentum.md), so 3 or more make the pick steadier.
        **find_kwargs
            Passed to :meth:`find` (``lr_start``, ``lr_end``, ``num_iter``, ...).

        Returns
        -------
        GridResult
            ``.curves``, ``.rows`` (suggestion, lowest smoothed loss, highest stable rate per
            combination), ``.best``, ``.lr`` and ``.reason`` (the recommendation: your values),
            ``.candidate``, ``.candidate_lr``, ``.evidence`` (the sweep's pick and what stands
            behind it) and ``.notes``; ``print(result)`` shows it all. Also kept in :attr:`grid`;
            :meth:`apply_grid` sets the recommendation, or the sweep's pick on request.

        Raises
        ------
        ValueError, TypeError
            A bad value (named), before anything is touched.

        Examples
        --------
        With ``finder = LRFinder(learner)`` as in the class example, on an SGD trainer::

            result = finder.find_grid(weight_decay=[0, 1e-4, 1e-3], momentum=[0.85, 0.9, 0.95],
                                      lr_start=1e-5, lr_end=10)
            print(result)           # the table, the recommendation, the sweep's pick and the evidence
            finder.plot_grid("grid.png")
            finder.apply_grid()     # keeps wd and momentum, sets the lr suggested for them
        """
        import itertools

        from .core.grid import grid_values, summarize_grid
        wds = grid_values("weight_decay", weight_decay)
        moms = grid_values("momentum", momentum)
        seed = check_int("seed", seed, 0)
        repeats = check_int("repeats", repeats, 1)
        get_rule(method)
        check_nonnegative("tolerance", tolerance)
        check_nonnegative("margin", margin)
        if not isinstance(keep_current, bool):
            raise TypeError(f"keep_current must be a bool, got {type(keep_current).__name__}")
        optimizer = self.learner.trainer.optimizer
        mom_attr: Optional[str] = None
        if moms is not None:
            mom_attr = momentum_attribute(optimizer)
            for m in moms:
                if m >= 1:
                    raise ValueError(f"momentum values must be in [0, 1), got {m!r}")
            if getattr(optimizer, mom_attr) == 0 and optimizer.num_update > 0 and any(m > 0 for m in moms):
                raise ValueError(
                    f"momentum: this {type(optimizer).__name__} trainer was created with momentum=0 and has "
                    "already stepped, so its optimizer state holds no momentum buffers and MXNet cannot apply "
                    "a momentum (the update fails); create the Trainer with a momentum > 0 to search over momentum"
                )
        grid_wds = wds if wds is not None else [float(optimizer.wd)]
        grid_moms = moms if moms is not None else [None]
        combinations: List[Dict[str, float]] = []
        for wd, mom in itertools.product(grid_wds, grid_moms):
            combo = {"weight_decay": wd}
            if mom is not None:
                combo["momentum"] = mom
            combinations.append(combo)
        # the trainer's own values, read before any run changes the optimizer object
        own = {"weight_decay": float(optimizer.wd)}
        if mom_attr is not None:
            own["momentum"] = float(getattr(optimizer, mom_attr))
        current = next((k for k, combo in enumerate(combinations) if combo == own), None) if keep_current else None

        def setup(i: int) -> None:
            combo = combinations[i // repeats]
            opt = self.learner.trainer.optimizer  # a new object after every restore: fetch it again
            opt.wd = combo["weight_decay"]
            if mom_attr is not None:
                setattr(opt, mom_attr, combo["momentum"])

        seeds = [seed + r for _ in combinations for r in range(repeats)]
        curves = self._runs_from_entry_state(seeds, setup, find_kwargs)
        for i, curve in enumerate(curves):
            curve.settings.update(combinations[i // repeats], seed=seeds[i])
        runs = [curves[k * repeats:(k + 1) * repeats] for k in range(len(combinations))]
        self.grid = summarize_grid(combinations, runs, method=method, tolerance=tolerance, current=current,
                                   margin=margin, effective_step=None if mom_attr is None else mom_attr == "momentum")
        logger.info("%s", self.grid)
        return self.grid

    def apply_grid(self, accept_unvalidated: bool = False) -> Dict[str, float]:
        """Set the recommendation of the last :meth:`find_grid` on the trainer.

        By default the recommendation is the trainer's own weight decay and momentum: they are
        left as they are, and the learning rate suggested on their own curve in the grid is
        set (through :meth:`apply`, as after :meth:`find`). The sweep's pick is applied only
        with ``accept_unvalidated=True``: it rests on range tests alone, and on held-out
        recipes changes made on that evidence did not beat keeping the values
        (docs/weight_decay_momentum.md).

        Parameters
        ----------
        accept_unvalidated : bool, default False
            Apply the sweep's pick (``grid.candidate``, at ``grid.candidate_lr``) instead: its
            weight decay, its momentum (or ``beta1``) and its suggested learning rate. A
            ``UserWarning`` then says what evidence stands behind the change; confirm it with a
            training run before keeping it.

        Returns
        -------
        dict
            What was set, e.g. ``{"weight_decay": 1e-4, "momentum": 0.9, "lr": 0.05}``.

        Raises
        ------
        RuntimeError
            Before :meth:`find_grid`; without ``accept_unvalidated`` when the grid does not hold
            the trainer's own values (nothing is changed then); when the curve to apply gave no
            learning rate.
        """
        if not isinstance(accept_unvalidated, bool):
            raise TypeError(f"accept_unvalidated must be a bool, got {type(accept_unvalidated).__name__}")
        if self.grid is None:
            raise RuntimeError("call find_grid() before apply_grid()")
        grid = self.grid
        if accept_unvalidated:
            target, lr = dict(grid.candidate), grid.candidate_lr
        else:
            if grid.best is None:
                raise RuntimeError(
                    f"nothing changed: {grid.reason}. Add your own values to the grid to get the learning rate "
                    "suggested for them, or pass accept_unvalidated=True to apply the sweep's pick "
                    f"({_describe_values(grid.candidate)}), which rests on: {grid.evidence}"
                )
            target, lr = dict(grid.best), grid.lr
        if lr is None:
            raise RuntimeError("the curve of the combination to apply gave no learning rate; pick one by hand")
        optimizer = self.learner.trainer.optimizer
        optimizer.wd = target["weight_decay"]
        if "momentum" in target:
            setattr(optimizer, momentum_attribute(optimizer), target["momentum"])
        target["lr"] = self.apply(lr=lr)
        if accept_unvalidated and grid.suggests_change:
            warnings.warn(f"apply_grid set the sweep's pick ({_describe_values(grid.candidate)}) on the evidence of "
                          f"{grid.evidence}; confirm it with a training run before keeping it", UserWarning,
                          stacklevel=2)
        elif grid.suggests_change:
            logger.info("apply_grid kept your values (%s); the sweep's pick %s was not applied (it rests on %s); "
                        "apply_grid(accept_unvalidated=True) applies it", _describe_values(grid.best or {}),
                        _describe_values(grid.candidate), grid.evidence)
        return target

    def plot_grid(self, path: Optional[Union[str, os.PathLike[str]]] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Overlay the smoothed curves of the last :meth:`find_grid` with their suggestions."""
        from .plotting import plot_grid

        if self.grid is None:
            raise RuntimeError("call find_grid() before plot_grid()")
        return plot_grid(self.grid, ax=ax, path=path, **kwargs)

    def plot_bands(self, path: Optional[Union[str, os.PathLike[str]]] = None, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the median curve and 10%/90% bands of the last :meth:`find_repeated`."""
        from .plotting import plot_bands

        if self.repeated is None:
            raise RuntimeError("call find_repeated() before plot_bands()")
        return plot_bands(self.repeated, ax=ax, path=path, **kwargs)

    def plot(
        self,
        path: Optional[Union[str, os.PathLike[str]]] = None,
        ax: Any = None,
        method: Optional[Method] = DEFAULT_METHOD,
        show_range: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Plot the last curve: :meth:`LRCurve.plot` (loss against LR on a log axis, the
        suggestion of ``method`` marked, :meth:`suggest_range` shaded with ``show_range``).

        Returns
        -------
        matplotlib.axes.Axes
        """
        return self._require_curve("plot").plot(path=path, ax=ax, method=method, show_range=show_range, **kwargs)

    def save(self, path: Union[str, os.PathLike[str]]) -> str:
        """Write the last curve to ``.csv`` or ``.json`` (see :meth:`LRCurve.save`)."""
        return self._require_curve("save").save(path)

    def load(self, path: Union[str, os.PathLike[str]]) -> LRCurve:
        """Read a saved curve back, so it can be re-plotted and re-suggested."""
        self.curve = LRCurve.load(path)
        return self.curve


#: Optimizer attribute that plays the role of momentum, by optimizer class name.
_MOMENTUM_ATTRIBUTES = {
    "SGD": "momentum", "NAG": "momentum", "Signum": "momentum", "LARS": "momentum", "LBSGD": "momentum",
    "DCASGD": "momentum", "Adam": "beta1", "Adamax": "beta1", "Nadam": "beta1", "LAMB": "beta1", "FTML": "beta1",
}


def _describe_values(values: Dict[str, float]) -> str:
    """``{"weight_decay": 0.001, "momentum": 0.9}`` -> ``"weight_decay=0.001, momentum=0.9"``."""
    return ", ".join(f"{k}={v:g}" for k, v in values.items())


def momentum_attribute(optimizer: Any) -> str:
    """``"momentum"`` or ``"beta1"``: the optimizer's momentum-like knob, or a ValueError."""
    for cls in type(optimizer).__mro__:
        if cls.__name__ in _MOMENTUM_ATTRIBUTES:
            return _MOMENTUM_ATTRIBUTES[cls.__name__]
    raise ValueError(
        f"momentum: the {type(optimizer).__name__} optimizer has neither a momentum nor a beta1; "
        f"use one of {', '.join(sorted(_MOMENTUM_ATTRIBUTES))} or leave momentum=None"
    )


def _planned_rates(
    mode: str, lr_start: float, lr_multiplier: Optional[float], lr_end: Optional[float], num_iter: Optional[int],
    max_iter: int,
) -> Tuple[List[float], Optional[float], Optional[int]]:
    """The learning rates of the sweep, with the multiplier and length used (for the record)."""
    if mode == "exponential":
        lrs = list(sweep.exponential(lr_start, lr_multiplier, lr_end, num_iter, max_iter))
        # record the multiplier used (the default, or derived from lr_end and num_iter)
        lr_multiplier = sweep.resolve_exponential(lr_start, lr_multiplier, lr_end, num_iter, max_iter)[1]
        return lrs, lr_multiplier, num_iter
    if lr_multiplier is not None:
        raise ValueError("lr_multiplier applies to mode='exponential' only; give lr_end and num_iter")
    if lr_end is None:
        raise ValueError("lr_end must be given for mode='linear' (a finite number > lr_start)")
    num_iter = 100 if num_iter is None else num_iter
    return list(sweep.linear(lr_start, lr_end, num_iter)), None, num_iter


class _UnreadLoss(NamedTuple):
    """One queued iteration whose loss is not read yet."""

    lr: float
    value: Any  # has .asscalar(): a QueuedLoss, or the reducer's NDArray
    batches: List[Any]  # the (data, label) parts trained on, to diagnose a NaN loss (none when reduced)


class _LaggedReads:
    """Records each iteration's loss one iteration late, into the curve and the stopping rule.

    :meth:`push` holds the iteration just queued and records the one held before it (its loss is
    computed while the new one runs); :meth:`finish` records the last one held. The pairs and
    the stop are those of reading every loss at once.
    """

    def __init__(self, learner: Learner, stopping: StoppingRule, curve: LRCurve, bar: Any) -> None:
        self.learner, self.stopping, self.curve, self.bar = learner, stopping, curve, bar
        self.held: Optional[_UnreadLoss] = None

    def push(self, unread: _UnreadLoss) -> bool:
        """Record the held iteration, then hold ``unread``; True when the stopping rule fired."""
        if self.held is not None and self._record(self.held):
            return True
        self.held = unread
        return False

    def finish(self) -> bool:
        """Record the last iteration held; True when the stopping rule fired on it."""
        return self.held is not None and self._record(self.held)

    def record_held(self) -> None:
        """After a Ctrl-C: record the held iteration unless it already is."""
        held, curve = self.held, self.curve
        if held is not None and not (len(curve) and curve.lrs[-1] == held.lr):
            self._record(held)

    def _record(self, unread: _UnreadLoss) -> bool:
        curve = self.curve
        loss = float(unread.value.asscalar())
        self.learner.iteration_loss = loss
        if not math.isfinite(loss) and DATA_PROBLEM not in curve.settings:
            parts = [p for data, label in unread.batches for p in nonfinite_parts(data, label)]
            if parts:  # NaN in the batch itself, not the learning rate: the curve is meaningless
                curve.settings[DATA_PROBLEM] = bad_data_message(unread.lr, len(curve) + 1, sorted(set(parts)))
        stop = bool(self.stopping(loss))
        smoothed = self.stopping.smoothed_loss if math.isfinite(loss) else None
        curve.append(unread.lr, loss, smoothed)
        self.bar.update(1)
        return stop


def _warn_if_never_fell(curve: LRCurve, lr: float) -> None:
    """apply() sets the suggestion of a curve that never fell only with a warning that says so."""
    never_fell = [flag for flag in curve.diagnose() if flag.startswith("loss never fell")]
    if never_fell:
        warnings.warn(f"apply() set lr={lr:.3g} from a curve flagged {never_fell[0]}", SuggestionWarning,
                      stacklevel=3)


def _check_flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _interrupted(points: int) -> KeyboardInterrupt:
    """The interrupt :meth:`LRFinder.find` raises again once the state is restored."""
    return KeyboardInterrupt(
        f"LR range test interrupted (Ctrl-C) after {points} recorded iterations: the model and trainer "
        "were restored; finder.curve, plot(), suggest() and save() use the points recorded"
    )


def _check_hidden_nan(net: Any, curve: LRCurve) -> None:
    """Flag parameters that went NaN/inf while every loss stayed finite and nothing diverged.

    A ReLU turns NaN inputs into zeros in the forward pass, so a NaN sample can leave the loss
    finite (and flat) while the gradients it produced spoil the weights; only bad data does
    that. One reduction per parameter, after the sweep.
    """
    if DATA_PROBLEM in curve.settings or not len(curve) or curve.stop_reason in ("diverged", "non-finite loss"):
        return
    if all(math.isfinite(x) for x in curve.losses) and not params_are_finite(net):
        curve.settings[DATA_PROBLEM] = bad_data_message(curve.lrs[-1], len(curve))


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


def _progress_bar(total: Optional[int], enabled: bool) -> Any:
    if enabled:  # tqdm.auto picks the notebook widget, and warns at import when it cannot
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, desc="LR range test", unit="it", leave=False)
