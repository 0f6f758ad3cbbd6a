"""apply() and the Estimator handler on schedulers as users build them (issue 18): rescaled so the
rates really change, or refused with what to do. gluoncv is not needed: ``PhaseScheduler`` and
``Sequential`` below follow the documented behaviour of GluonCV's ``LRScheduler`` and
``LRSequential`` (written here from that description: a phase runs ``niters`` updates from
``base_lr`` to ``target_lr`` in a mode; a sequence hands each update to the phase it falls in)."""
import copy
import math

import mxnet as mx
import numpy as np
import pytest
from conftest import assert_params_equal, capture_params

from gluon_lrfinder import LRFinder, LRFinderHandler, OneCycleSchedule
from gluon_lrfinder.schedules.rescale import rescale_schedule, schedule_reference


class PhaseScheduler(mx.lr_scheduler.LRScheduler):
    """One phase, as GluonCV's LRScheduler: modes constant, linear, cosine, poly; the rate is kept in
    ``learning_rate`` by ``update(i)``, which ``__call__`` runs. Like GluonCV's it subclasses MXNet's
    LRScheduler with the default base init, so it carries an unrelated ``warmup_final_lr`` of 0.01."""

    def __init__(self, mode, base_lr=0.1, target_lr=0.0, niters=100, power=2):
        super().__init__()
        self.mode, self.base_lr, self.target_lr, self.niters, self.power = mode, base_lr, target_lr, niters, power
        self.learning_rate = base_lr

    def update(self, i):
        last = max(self.niters - 1, 1)
        t = min(max(i, 0), last) / last
        factor = {"constant": 0.0, "linear": 1 - t, "cosine": (1 + math.cos(math.pi * t)) / 2,
                  "poly": (1 - t) ** self.power}[self.mode]
        self.learning_rate = self.target_lr + (self.base_lr - self.target_lr) * factor

    def __call__(self, num_update):
        self.update(num_update)
        return self.learning_rate


class Sequential(mx.lr_scheduler.LRScheduler):
    """Phases one after the other, as GluonCV's LRSequential (``schedulers``, cumulative starts)."""

    def __init__(self, schedulers):
        super().__init__()
        self.schedulers = list(schedulers)
        self.starts = np.cumsum([0] + [s.niters for s in self.schedulers[:-1]]).tolist()
        self.base_lr = self.schedulers[0].base_lr
        self.learning_rate = self.base_lr

    def __call__(self, num_update):
        k = max(i for i, start in enumerate(self.starts) if num_update >= start)
        self.learning_rate = self.schedulers[k](num_update - self.starts[k])
        return self.learning_rate


def warmup_cosine(lr=0.4, warmup=50, total=1000):
    """What GluonCV's train_imagenet.py builds: linear warm-up from 0 to lr, then cosine to 0."""
    return Sequential([PhaseScheduler("linear", base_lr=0.0, target_lr=lr, niters=warmup),
                       PhaseScheduler("cosine", base_lr=lr, target_lr=0.0, niters=total - warmup)])


def rates(scheduler, steps):
    probe = copy.deepcopy(scheduler)
    return np.array([probe(n) for n in steps])


STEPS = [0, 10, 25, 49, 50, 51, 200, 500, 999, 5000]


def finder_with(make_learner, scheduler, **params):
    learner = make_learner(optimizer_params={"lr_scheduler": scheduler, "momentum": 0.9, **params})
    finder = LRFinder(learner)
    finder.find(lr_start=1e-4, lr_end=10, num_iter=60, progress=False)
    return finder, learner


def test_a_warmup_cosine_sequence_is_rescaled_phase_by_phase(make_learner):
    scheduler = warmup_cosine(lr=0.4)
    before = rates(scheduler, STEPS)
    finder, learner = finder_with(make_learner, scheduler)
    lr = finder.apply(lr=0.1)
    assert lr == 0.1 and learner.trainer.optimizer.lr_scheduler is scheduler
    np.testing.assert_allclose(rates(scheduler, STEPS), before * 0.25, rtol=1e-9, atol=1e-15)
    assert scheduler.schedulers[0].target_lr == pytest.approx(0.1) and scheduler.schedulers[1].base_lr == 0.1


@pytest.mark.parametrize("build", [
    lambda: mx.lr_scheduler.CosineScheduler(1000, base_lr=0.4, final_lr=0.004, warmup_steps=50, warmup_begin_lr=0.04),
    lambda: mx.lr_scheduler.PolyScheduler(1000, base_lr=0.4, pwr=2, warmup_steps=50),
    lambda: mx.lr_scheduler.FactorScheduler(step=100, factor=0.5, base_lr=0.4, warmup_steps=50, warmup_begin_lr=0.04),
    lambda: mx.lr_scheduler.MultiFactorScheduler(step=[300, 600], factor=0.1, base_lr=0.4, warmup_steps=50),
], ids=["cosine", "poly", "factor", "multifactor"])
def test_mxnet_schedulers_with_warmup_are_rescaled(make_learner, build):
    scheduler = build()
    finder, learner = finder_with(make_learner, scheduler, learning_rate=0.4)
    before = rates(scheduler, STEPS)
    finder.apply(lr=0.1)
    np.testing.assert_allclose(rates(scheduler, STEPS), before * 0.25, rtol=1e-9, atol=1e-15)


def test_the_package_schedules_keep_their_peak_semantics(make_learner):
    schedule = OneCycleSchedule(max_lr=1.0, total_steps=100)
    finder, _ = finder_with(make_learner, schedule, learning_rate=1.0)
    finder.apply(lr=0.2)
    assert schedule.base_lr == pytest.approx(0.2) and max(rates(schedule, range(101))) == pytest.approx(0.2)


class HiddenPeak(mx.lr_scheduler.LRScheduler):
    """A user's scheduler whose rate lives where nothing can know to scale it."""

    def __init__(self):
        super().__init__(base_lr=0.3)
        self._peak = 0.3

    def __call__(self, num_update):
        return self._peak / (1 + num_update / 100)


def test_a_scheduler_that_does_not_scale_is_refused_and_left_alone(make_learner):
    scheduler = HiddenPeak()
    finder, _ = finder_with(make_learner, scheduler, learning_rate=0.3)
    before = rates(scheduler, STEPS)
    with pytest.raises(ValueError, match=r"HiddenPeak.*did not scale the schedule.*left unchanged.*lr_scheduler = "):
        finder.apply(lr=0.1)
    np.testing.assert_array_equal(rates(scheduler, STEPS), before)
    assert scheduler.base_lr == 0.3


def test_the_reference_is_the_rate_the_schedule_is_built_around():
    assert schedule_reference(warmup_cosine(lr=0.4)) == 0.4  # not the sequence's base_lr (0.0: the warm-up's)
    assert schedule_reference(PhaseScheduler("linear", base_lr=0.0, target_lr=0.3)) == 0.3
    factor = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.4)
    factor(100)  # decayed: base_lr moved, the reference did not
    assert schedule_reference(factor) == 0.4
    assert rescale_schedule(factor, 0.2, num_update=100) == 0.5


def test_the_estimator_handler_rescales_a_warmup_cosine_sequence(digits):
    from test_estimator import loader, make_estimator

    scheduler = warmup_cosine(lr=0.4, warmup=20, total=200)
    est, messages = make_estimator(digits, scheduler=scheduler)
    est.trainer.optimizer.lr_scheduler = scheduler  # the optimizer's own copy of base_lr set aside
    before = rates(scheduler, STEPS)
    params = capture_params(est.net)
    handler = LRFinderHandler(loader(digits), find_kwargs={"lr_start": 1e-4, "lr_end": 10, "num_iter": 60})
    lr = handler.run(est)
    assert_params_equal(params, capture_params(est.net))
    np.testing.assert_allclose(rates(scheduler, STEPS), before * lr / 0.4, rtol=1e-9, atol=1e-15)
    assert handler.applied.startswith("rescaled Sequential around lr=")
    assert any("rescaled Sequential" in m for m in messages.messages)
