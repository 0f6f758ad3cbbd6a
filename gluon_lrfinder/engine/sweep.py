"""The sweep: one range test on a :class:`~gluon_lrfinder.Learner`, inside one state snapshot.

:func:`run_sweep` trains one iteration per planned learning rate, records each loss into an
:class:`~gluon_lrfinder.LRCurve`, stops when the stopping rule says so and restores the model
and trainer exactly, whatever happens. :func:`runs_from_entry_state` runs several sweeps from
the same entry state (the studies' building block).

The loss of iteration k is read only after iteration k+1 is queued, so MXNet's engine never
idles on the read (docs/evidence.md). The recorded pairs and the stop are those of reading
at once; the one extra iteration queued after a stop is undone by the restore.

Examples
--------
>>> from gluon_lrfinder.core.plan import SweepPlan
>>> from gluon_lrfinder.core.stopping import StoppingCriteria
>>> curve = run_sweep(learner, SweepPlan(1e-5, lr_end=10), StoppingCriteria())  # doctest: +SKIP
"""
from __future__ import annotations

import functools
import logging
import math
import warnings
from typing import Any, Callable, List, NamedTuple, Optional

from .. import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
from ..core.curve import LRCurve, library_versions
from ..core.placement import finite_rate
from ..core.plan import SweepPlan
from ..core.rules import SuggestionWarning
from ..core.stopping import StoppingRule, StopReason, rule_settings
from ..schedules.rescale import schedule_reference
from ._rng import isolated_global_rngs, keeps_global_rngs
from .datacheck import bad_data_message, nonfinite_parts, params_are_finite
from .learner import Learner
from .reducers import loss_reducer_for
from .state import StateSnapshot, check_restorable, fresh_optimizer_state

__all__ = ["run_sweep", "runs_from_entry_state", "SweepInterrupted"]

logger = logging.getLogger(__name__)


class SweepInterrupted(KeyboardInterrupt):
    """A Ctrl-C during a sweep, raised again once the state is restored; ``curve`` holds the
    points recorded so far (``stop_reason`` is ``StopReason.INTERRUPTED``)."""

    def __init__(self, curve: LRCurve) -> None:
        super().__init__(
            f"LR range test interrupted (Ctrl-C) after {len(curve)} recorded iterations: the model and trainer "
            "were restored; finder.curve, plot(), suggest() and save() use the points recorded"
        )
        self.curve = curve


@keeps_global_rngs  # NumPy's and Python's global RNGs are put back, also after a fault
def run_sweep(
    learner: Learner,
    plan: SweepPlan,
    stopping: StoppingRule,
    *,
    loss_reducer: Optional[Callable[[Any], Any]] = None,
    progress: bool = True,
    tmp_dir: Optional[str] = None,
    valid_data: Any = None,
    valid_every: int = 10,
    before_sweep: Optional[Callable[[], None]] = None,
    reset_optimizer_state: bool = False,
) -> LRCurve:
    """Run one range test and return its curve; the learner's state on entry comes back.

    Parameters
    ----------
    learner : Learner
        What to train.
    plan : SweepPlan
        The learning rates.
    stopping : StoppingRule
        Reset, then called with each loss.
    loss_reducer : callable, optional
        ``loss_reducer(loss_nd) -> NDArray`` before the read (default: the cross-worker average
        a distributed trainer needs, none locally).
    progress : bool, default True
        Show a tqdm progress bar.
    tmp_dir : str, optional
        Where the temporary state folder is created.
    valid_data : Dataset or iterable of batches, optional
        A held-out set evaluated every ``valid_every`` iterations (``curve.valid_losses``).
    valid_every : int, default 10
        Iterations between two evaluations, >= 1.
    before_sweep : callable, optional
        Run inside the state snapshot, right before the sweep: what a study varies (weight
        decay, initial weights...); the restore undoes it.
    reset_optimizer_state : bool, default False
        Sweep with a new trainer's optimizer state (momentum and Adam's moments zeroed, update
        counts started over), for a search mid-training (docs/usage.md); the real state comes
        back bitwise afterwards.

    Returns
    -------
    LRCurve

    Raises
    ------
    SweepInterrupted
        A Ctrl-C, raised again after the restore (a ``KeyboardInterrupt`` carrying the curve).
    """
    if not isinstance(reset_optimizer_state, bool):
        raise TypeError(f"reset_optimizer_state must be True or False, got {reset_optimizer_state!r}")
    check_restorable(learner.trainer)
    auto_reducer = loss_reducer_for(learner.trainer)
    reduce = loss_reducer if loss_reducer is not None else auto_reducer
    lrs = plan.rates()
    stopping.reset()
    signal = None
    if valid_data is not None:
        from .validation import ValidationSignal

        # held-out losses averaged over the workers like the training loss
        signal = ValidationSignal(learner, valid_data, every=valid_every, reduce=reduce)
    settings = {
        **plan.settings(),
        **rule_settings(stopping),
        "max_iter": plan.max_iter,
        "contexts": [str(c) for c in learner.ctx],
        "optimizer": type(learner.trainer.optimizer).__name__,
    }
    own = _trainer_rate(learner.trainer)
    if own is not None:  # where the user's own rate lies on the curve is part of the report
        settings["trainer_lr"] = own
    if signal is not None:
        settings["valid_every"] = signal.every
    if reset_optimizer_state:
        settings["reset_optimizer_state"] = True
    curve = LRCurve(settings=settings, versions=library_versions())

    learner.prepare()  # first batch + deferred shapes: nothing trainable is touched
    # an open-ended sweep has no known length: show a count rather than a bar to max_iter
    with _progress_bar(len(lrs) if plan.bounded else None, progress) as bar:
        try:
            with StateSnapshot(learner.net, learner.trainer, tmp_dir=tmp_dir) as snapshot:
                if reset_optimizer_state:  # a new trainer's optimizer state, for the sweep only
                    fresh_optimizer_state(learner.trainer, str(snapshot.directory))
                if before_sweep is not None:
                    before_sweep()
                curve.stop_reason = _sweep(learner, lrs, stopping, curve, bar, reduce, signal)
                _check_hidden_nan(learner.net, curve)  # before the restore: the swept parameters
        except BaseException:
            # state restored; a Horovod reducer shuts Horovod down so no rank waits for this one
            getattr(reduce, "abort", lambda: None)()
            raise
    _finish(curve, signal, lrs[0])
    if curve.stop_reason == StopReason.INTERRUPTED:
        raise SweepInterrupted(curve)
    return curve


@keeps_global_rngs  # the first batch of prepare() included
def runs_from_entry_state(
    learner: Learner, seeds: List[int], setup: Callable[[int], None], sweep: Callable[..., LRCurve]
) -> List[LRCurve]:
    """One sweep per seed, each from the state on entry; that state is put back after each.

    Before run ``i`` the global NumPy and MXNet RNGs are seeded with ``seeds[i]`` and the data
    iterator is restarted (a ``RandomSampler`` draws the permutation of that seed); ``setup(i)``
    runs inside the run's own snapshot (``sweep(before_sweep=...)``), so the restore undoes it.
    NumPy's global RNG state is put back afterwards (MXNet's cannot be read: it is left seeded).
    A Ctrl-C in any run stops them all (:class:`SweepInterrupted`), after that run's restore.
    """
    # deferred shapes resolved before the seeding: their initialisation draws from MXNet's RNG
    learner.prepare()
    curves: List[LRCurve] = []
    with isolated_global_rngs() as seed_rngs:
        for i, run_seed in enumerate(seeds):
            seed_rngs(run_seed)
            learner.close()  # restart the data iterator: the permutation of this seed
            # a Ctrl-C (SweepInterrupted, after that run's restore) stops every run, not just this one
            curves.append(sweep(before_sweep=functools.partial(setup, i)))
    return curves


def _finish(curve: LRCurve, signal: Any, lr_start: float) -> None:
    """Read the validation signal, warn and log what happened."""
    if curve.data_problem is not None:
        warnings.warn(f"LR range test: {curve.data_problem}", SuggestionWarning, stacklevel=3)
    if signal is not None:
        signal.flush(curve, curve.lrs[-1] if len(curve) else None)
    logger.info(
        "LR range test: %d iterations from lr=%.3g to lr=%.3g, stopped: %s",
        len(curve), curve.lrs[0] if len(curve) else lr_start, curve.lrs[-1] if len(curve) else lr_start,
        curve.stop_reason,
    )


def _sweep(
    learner: Learner,
    lrs: List[float],
    stopping: StoppingRule,
    curve: LRCurve,
    bar: Any,
    reduce: Optional[Callable[[Any], Any]],
    hook: Optional[Callable[[float], None]],
) -> Any:
    """The loop (lagged reads, see the module docstring); ``reduce`` turns each mean loss NDArray
    into the value the stopping rule sees; ``hook(lr)`` runs after each queued iteration."""
    reads = _LaggedReads(learner, stopping, curve, bar)
    try:
        for lr in lrs:
            queued = learner.queue_iteration(lr)
            if reduce is None:  # no extra operator: averaged on the host when read
                unread = _UnreadLoss(lr, queued, queued.batches)
            else:  # the reducer takes the mean loss as an NDArray; its value mixes every worker's
                unread = _UnreadLoss(lr, reduce(queued.mean()), [])
            if hook is not None:
                hook(lr)
            if reads.push(unread):
                return StopReason.parse(stopping.reason) or StopReason.RULE
        if reads.finish():
            return StopReason.parse(stopping.reason) or StopReason.RULE
    except KeyboardInterrupt:
        # Ctrl-C: keep the curve. The last fully queued iteration is read too, unless its
        # value depends on other workers (reduce), who may not have been interrupted. A
        # second Ctrl-C here propagates; the restore runs anyway.
        if reduce is None:
            reads.record_held()
        return StopReason.INTERRUPTED
    lr_end = curve.settings["lr_end"]
    if lr_end is not None and curve.lrs[-1] >= lr_end * (1 - 1e-9):
        return StopReason.LR_END
    return StopReason.NUM_ITER


class _UnreadLoss(NamedTuple):
    """One queued iteration whose loss is not read yet."""

    lr: float
    value: Any  # has .asscalar(): a QueuedLoss, or the reducer's NDArray
    batches: List[Any]  # the (data, label) parts trained on, to diagnose a NaN loss (none when reduced)


class _LaggedReads:
    """Records each iteration's loss one iteration late, into the curve and the stopping rule:
    :meth:`push` holds the iteration just queued and records the one before it."""

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
        if not math.isfinite(loss) and curve.data_problem is None:
            parts = [p for data, label in unread.batches for p in nonfinite_parts(data, label)]
            if parts:  # NaN in the batch itself, not the learning rate: the curve is meaningless
                curve.data_problem = bad_data_message(unread.lr, len(curve) + 1, sorted(set(parts)))
        stop = bool(self.stopping(loss))
        smoothed = self.stopping.smoothed_loss if math.isfinite(loss) else None
        curve.append(unread.lr, loss, smoothed)
        self.bar.update(1)
        return stop


def _check_hidden_nan(net: Any, curve: LRCurve) -> None:
    """Flag parameters that went NaN/inf while every loss stayed finite and nothing diverged.

    A ReLU turns NaN inputs into zeros in the forward pass, so a NaN sample can leave the loss
    finite (and flat) while the gradients it produced spoil the weights; only bad data does
    that. One reduction per parameter, after the sweep.
    """
    if curve.data_problem is not None or not len(curve):
        return
    if curve.stop_reason in (StopReason.DIVERGED, StopReason.NON_FINITE):
        return
    if all(math.isfinite(x) for x in curve.losses) and not params_are_finite(net):
        curve.data_problem = bad_data_message(curve.lrs[-1], len(curve))


def _progress_bar(total: Optional[int], enabled: bool) -> Any:
    if enabled:  # tqdm.auto picks the notebook widget, and warns at import when it cannot
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, desc="LR range test", unit="it", leave=False)


def _trainer_rate(trainer: Any) -> Optional[float]:
    """The trainer's own rate without stepping anything: its scheduler's reference rate (the peak
    it is built around) when one is attached, else the optimizer's rate; None when unreadable."""
    optimizer = getattr(trainer, "optimizer", None)
    try:
        scheduler = getattr(optimizer, "lr_scheduler", None)
        rate = schedule_reference(scheduler) if scheduler is not None else optimizer.lr  # type: ignore[union-attr]
    except (TypeError, ValueError, AttributeError):
        return None
    return finite_rate(rate)
