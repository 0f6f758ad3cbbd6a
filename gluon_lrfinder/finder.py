"""The LR range test: raise the learning rate every iteration until the loss diverges."""
from __future__ import annotations

import logging
import math
import os
from typing import Any, Callable, List, Optional, Tuple, Union

import mxnet as mx

from . import sweep
from ._validate import check_choice, check_int, check_positive
from .curve import LRCurve, library_versions
from .distributed import loss_reducer_for
from .learner import Learner
from .state import StateSnapshot, check_restorable
from .stopping import StoppingCriteria
from .suggest import DEFAULT_METHOD, SuggestionReport, diagnose, lr_range, report, suggest

__all__ = ["LRFinder"]

logger = logging.getLogger(__name__)


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
        so that every worker stops on the same iteration; none for a local trainer. Pass one
        for other ways of running several processes (e.g. a Horovod allreduce).

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
        self.curve: Optional[LRCurve] = None
        self.repeated: Optional[Any] = None  # RepeatedSweeps of the last find_repeated()

    # ------------------------------------------------------------------ the sweep
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
        stopping: Optional[StoppingCriteria] = None,
        progress: bool = True,
        tmp_dir: Optional[str] = None,
        valid_data: Any = None,
        valid_every: int = 10,
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
            Stop when the smoothed loss exceeds ``threshold`` times the first loss, > 1.
        max_iter : int, default 1000
            Cap on the iterations of an exponential sweep without ``num_iter``, >= 1.
        stopping : StoppingCriteria, optional
            A custom stopping rule (then ``smoothing``, ``min_iter`` and ``threshold`` are
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
        The loss of iteration k is read only after iteration k+1 has been queued on MXNet's
        engine, so the read itself never leaves the engine idle. The recorded pairs
        and the stop iteration are the same as reading each loss at once; after a stop, the one
        iteration already queued runs and is undone by the restore (it consumes one batch of
        the data loader).
        """
        check_choice("mode", mode, ("exponential", "linear"))
        if stopping is None:
            stopping = StoppingCriteria(smoothing=smoothing, min_iter=min_iter, threshold=threshold)
        elif not callable(stopping):
            raise TypeError(f"stopping must be a StoppingCriteria (or callable), got {type(stopping).__name__}")
        if mode == "exponential":
            lrs = list(sweep.exponential(lr_start, lr_multiplier, lr_end, num_iter, max_iter))
        else:
            if lr_multiplier is not None:
                raise ValueError("lr_multiplier applies to mode='exponential' only; give lr_end and num_iter")
            if lr_end is None:
                raise ValueError("lr_end must be given for mode='linear' (a finite number > lr_start)")
            lrs = list(sweep.linear(lr_start, lr_end, 100 if num_iter is None else num_iter))
        signal = None
        if valid_data is not None:
            from .validation import ValidationSignal

            signal = ValidationSignal(self.learner, valid_data, every=valid_every)
        if hasattr(stopping, "reset"):
            stopping.reset()
        # Refuse a trainer whose state could not be restored, or that several processes could
        # not drive in step (before anything is touched); pick the cross-worker loss average
        # (see distributed.py).
        check_restorable(self.learner.trainer)
        auto_reducer = loss_reducer_for(self.learner.trainer)
        reduce = self.loss_reducer if self.loss_reducer is not None else auto_reducer

        settings = {
            "lr_start": lrs[0],
            "lr_multiplier": lr_multiplier,
            "lr_end": lr_end,
            "num_iter": num_iter,
            "mode": mode,
            "smoothing": getattr(stopping, "smoothing", smoothing),
            "min_iter": getattr(stopping, "min_iter", min_iter),
            "threshold": getattr(stopping, "threshold", threshold),
            "max_iter": max_iter,
            "contexts": [str(c) for c in self.learner.ctx],
            "optimizer": type(self.learner.trainer.optimizer).__name__,
        }
        if signal is not None:
            settings["valid_every"] = signal.every
        curve = LRCurve(settings=settings, versions=library_versions())

        self.learner.prepare()  # first batch + deferred shapes: nothing trainable is touched
        # an open-ended sweep has no known length: show a count rather than a bar to max_iter
        bounded = mode == "linear" or lr_end is not None or num_iter is not None
        bar = _progress_bar(len(lrs) if bounded else None, progress)
        try:
            with StateSnapshot(self.learner.net, self.learner.trainer, tmp_dir=tmp_dir):
                curve.stop_reason = self._sweep(lrs, stopping, curve, bar, reduce=reduce, hook=signal)
        finally:
            bar.close()
        if signal is not None:
            signal.flush(curve, curve.lrs[-1] if len(curve) else None)
        self.curve = curve
        logger.info(
            "LR range test: %d iterations from lr=%.3g to lr=%.3g, stopped: %s",
            len(curve), curve.lrs[0] if len(curve) else lrs[0], curve.lrs[-1] if len(curve) else lrs[0],
            curve.stop_reason,
        )
        return curve.pairs

    def _sweep(
        self,
        lrs: List[float],
        stopping: Any,
        curve: LRCurve,
        bar: Any,
        reduce: Optional[Callable[[Any], Any]] = None,
        hook: Optional[Callable[[float], None]] = None,
    ) -> str:
        """The loop. The loss of iteration k is read after iteration k+1 is queued, so MXNet's
        engine never idles on the read; the recorded pairs are the same as reading at once, and
        the one extra iteration run after a stop is undone by the restore like all the others.

        ``reduce`` (e.g. the average over dist_sync workers; None when local) turns each mean
        loss NDArray into the value the stopping rule sees; ``hook(lr)`` (e.g. the validation
        signal) runs after each queued iteration."""
        learner = self.learner
        pending = None  # (lr, unread loss NDArray) of the previous iteration

        def record(lr: float, loss_nd: Any) -> bool:
            loss = float(loss_nd.asscalar())
            learner.iteration_loss = loss
            stop = bool(stopping(loss))
            smoothed = getattr(stopping, "smoothed_loss", None) if math.isfinite(loss) else None
            curve.append(lr, loss, smoothed)
            bar.update(1)
            return stop

        for lr in lrs:
            if reduce is None:
                loss_nd = learner.queue_iteration(lr)  # no extra operator: averaged on the host when read
            else:  # the reducer takes the mean loss as an NDArray
                loss_nd = reduce(learner.iteration_async(lr))
            if hook is not None:  # e.g. the validation signal (find(valid_data=...))
                hook(lr)
            if pending is not None and record(*pending):
                return getattr(stopping, "reason", None) or "stopping rule"
            pending = (lr, loss_nd)
        if pending is not None and record(*pending):
            return getattr(stopping, "reason", None) or "stopping rule"
        lr_end = curve.settings["lr_end"]
        if lr_end is not None and curve.lrs[-1] >= lr_end * (1 - 1e-9):
            return "lr_end reached"
        return "num_iter reached"

    # ------------------------------------------------------------------ results
    def _require_curve(self, what: str) -> LRCurve:
        if self.curve is None or len(self.curve) == 0:
            raise RuntimeError(f"call find() (or load()) before {what}()")
        return self.curve

    @property
    def results(self) -> List[Tuple[float, float]]:
        """``[(lr, loss), ...]`` of the last :meth:`find` (empty before it)."""
        return self.curve.pairs if self.curve is not None else []

    def suggest(
        self, method: str = DEFAULT_METHOD, bandwidth: Optional[float] = None, warn: bool = True, source: str = "train"
    ) -> float:
        """The recommended initial learning rate for the last curve.

        Parameters
        ----------
        method : str, default ``DEFAULT_METHOD``
            A rule of :data:`gluon_lrfinder.suggest.SUGGESTERS`: ``"blend"`` (the default; it
            reads the optimizer the sweep recorded), ``"steepest"``, ``"valley"``, ``"minimum"``
            (minimum / 10) or the baselines ``"raw_steepest"``, ``"ema_steepest"``.
        bandwidth : float, optional
            Smoothing width in decades of LR.
        warn : bool, default True
            Warn (``SuggestionWarning``) for each flag of :meth:`diagnose` and when the rules
            disagree by more than a decade.
        source : {"train", "valid"}, default "train"
            Read the training curve, or the validation signal of ``find(valid_data=...)``.

        Raises
        ------
        RuntimeError
            Before :meth:`find`, or ``source="valid"`` without a validation signal.
        ValueError
            Unknown ``method`` or ``source``, or too few finite points.
        """
        curve = self._require_curve("suggest")
        check_choice("source", source, ("train", "valid"))
        if source == "valid":
            if not curve.valid_lrs:
                raise RuntimeError("source='valid' needs a validation signal: call find(valid_data=...) first")
            return suggest(curve.valid_lrs, curve.valid_losses, method=method, bandwidth=bandwidth, warn=warn,
                           optimizer=curve.settings.get("optimizer"))
        return suggest(curve.lrs, curve.losses, method=method, bandwidth=bandwidth, warn=warn,
                       optimizer=curve.settings.get("optimizer"))

    def suggest_range(self, bandwidth: Optional[float] = None) -> Tuple[float, float]:
        """``(min_lr, max_lr)`` for cyclical schedules: steepest descent to minimum / 10."""
        curve = self._require_curve("suggest_range")
        return lr_range(curve.lrs, curve.losses, bandwidth)

    def diagnose(self) -> List[str]:
        """Plain flags about the last curve (``[]`` when it looks fine)."""
        curve = self._require_curve("diagnose")
        return diagnose(curve.lrs, curve.losses)

    def report(self, method: str = DEFAULT_METHOD, bandwidth: Optional[float] = None) -> SuggestionReport:
        """Every rule's LR for the last curve, how far they agree, the range and the flags.

        ``print(finder.report())`` gives a readable summary; the validation signal's own
        suggestion is included when :meth:`find` measured one. See
        :func:`gluon_lrfinder.suggest.report`.
        """
        curve = self._require_curve("report")
        return report(
            curve.lrs, curve.losses, method=method, bandwidth=bandwidth,
            valid_lrs=curve.valid_lrs or None, valid_losses=curve.valid_losses or None,
            optimizer=curve.settings.get("optimizer"),
        )

    def apply(self, lr: Optional[float] = None, method: str = DEFAULT_METHOD) -> float:
        """Set a learning rate on the learner's trainer: ``lr``, or the suggestion of ``method``.

        With an ``lr_scheduler`` attached (which ``Trainer.set_learning_rate`` refuses), the
        scheduler's ``base_lr`` is set instead, so the schedule starts from the new rate.
        After :meth:`find_repeated`, the suggestion is the runs' median suggestion.

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
        elif self.repeated is not None and self.repeated.curves and self.repeated.curves[-1] is self.curve \
                and self.repeated.method == method:
            lr = self.repeated.lr
        else:
            lr = self.suggest(method=method, warn=False)
        trainer = self.learner.trainer
        scheduler = trainer.optimizer.lr_scheduler
        if scheduler is not None:
            scheduler.base_lr = lr
            logger.info("set lr_scheduler.base_lr = %.3g (the trainer has an lr_scheduler)", lr)
        else:
            trainer.set_learning_rate(lr)
            logger.info("set the trainer's learning rate to %.3g", lr)
        return float(lr)

    def find_repeated(
        self,
        repeats: int = 5,
        vary_init: bool = False,
        seed: int = 0,
        method: str = DEFAULT_METHOD,
        initializer: Any = None,
        **find_kwargs: Any,
    ) -> Any:
        """Run the range test ``repeats`` times from the same saved state and summarise the spread.

        Each run starts from the state the model and trainer had on entry, with a different
        data order: NumPy's and MXNet's global RNGs are seeded with ``seed + i`` and the data
        iterator is restarted, so a ``RandomSampler`` draws a new permutation. With
        ``vary_init`` every run also starts from freshly initialized weights (``initializer``,
        default Xavier, drawn from the same seed). Parameters and trainer state are restored
        bitwise after every run and after the last; NumPy's global RNG state is put back too
        (MXNet's cannot be read, so it is left seeded).

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
        import numpy as np

        from .repeats import summarize_sweeps
        from .suggest import SUGGESTERS

        repeats = check_int("repeats", repeats, 2)
        seed = check_int("seed", seed, 0)
        check_choice("method", method, tuple(SUGGESTERS))
        if initializer is not None and not isinstance(initializer, mx.init.Initializer):
            raise TypeError(f"initializer must be an mx.init.Initializer, got {type(initializer).__name__}")
        if "repeats" in find_kwargs:
            raise TypeError("repeats is given twice")
        find_kwargs.setdefault("progress", False)
        self.learner.prepare()  # deferred shapes resolved before the outer snapshot
        curves: List[LRCurve] = []
        np_state = np.random.get_state()
        try:
            with StateSnapshot(self.learner.net, self.learner.trainer, tmp_dir=find_kwargs.get("tmp_dir")):
                for i in range(repeats):
                    np.random.seed(seed + i)
                    mx.random.seed(seed + i)
                    if vary_init:
                        _reinitialize(self.learner.net, initializer or mx.init.Xavier())
                    self.learner.close()  # restart the data iterator: a fresh permutation from the new seed
                    self.find(**find_kwargs)
                    curves.append(self.curve)
        finally:
            np.random.set_state(np_state)
        self.repeated = summarize_sweeps(curves, method=method, seeds=[seed + i for i in range(repeats)])
        logger.info("%s", self.repeated)
        return self.repeated

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
        method: Optional[str] = DEFAULT_METHOD,
        show_range: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Plot loss against LR (log axis): raw points, smoothed curve, suggestion marked.

        Parameters
        ----------
        path : str, optional
            Also save the figure there (PNG by suffix).
        ax : matplotlib.axes.Axes, optional
            Draw into this Axes; default: a new figure.
        method : str or None, default ``DEFAULT_METHOD``
            Suggestion rule to mark; None marks nothing.
        show_range : bool, default False
            Shade :meth:`suggest_range`.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from .plotting import plot_curve

        curve = self._require_curve("plot")
        return plot_curve(curve, ax=ax, path=path, method=method, show_range=show_range, **kwargs)

    def save(self, path: Union[str, os.PathLike[str]]) -> str:
        """Write the last curve to ``.csv`` or ``.json`` (see :meth:`LRCurve.save`)."""
        return self._require_curve("save").save(path)

    def load(self, path: Union[str, os.PathLike[str]]) -> LRCurve:
        """Read a saved curve back, so it can be re-plotted and re-suggested."""
        self.curve = LRCurve.load(path)
        return self.curve


def _reinitialize(net: Any, initializer: Any) -> None:
    """Draw fresh values for every parameter of ``net`` (each context gets the same values).

    Goes through ``Parameter.set_data`` (which keeps a kvstore in step), with each parameter's
    own initializer when it has one (BatchNorm's ones and zeros), ``initializer`` otherwise.
    """
    for param in net.collect_params().values():
        value = mx.nd.zeros(param.shape, dtype=param.dtype)
        init = param.init if param.init is not None else initializer
        mx.init.create(initializer)(mx.init.InitDesc(param.name, {"__init__": init}), value)
        param.set_data(value)


def _progress_bar(total: Optional[int], enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc="LR range test", unit="it", leave=False)
