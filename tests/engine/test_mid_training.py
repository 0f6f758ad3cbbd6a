"""find(reset_optimizer_state=True) (issue 18): a search mid-training sweeps with a new trainer's
optimizer state (momentum and moments zeroed, counts started over) and puts the real one back."""
import mxnet as mx
import numpy as np
import pytest

from gluon_lrfinder import LRFinder


class WeightSpy:
    """A loss that notes the first layer's weights each time it runs (once per sweep iteration)."""

    def __init__(self, net):
        self.net, self.seen = net, []
        from mxnet import gluon
        self.inner = gluon.loss.SoftmaxCrossEntropyLoss()

    def __call__(self, output, label):
        first = next(iter(self.net.collect_params().values()))
        self.seen.append(first.data().asnumpy().copy())
        return self.inner(output, label)


def first_step_change(learner, **find_kwargs):
    spy = WeightSpy(learner.net)
    real, learner.loss_fn = learner.loss_fn, spy
    try:
        LRFinder(learner).find(lr_start=1e-7, lr_end=1.0, num_iter=30, progress=False, **find_kwargs)
    finally:
        learner.loss_fn = real
    return float(np.abs(spy.seen[1] - spy.seen[0]).max())


@pytest.mark.parametrize("optimizer, params", [("sgd", {"learning_rate": 0.1, "momentum": 0.9}),
                                               ("nag", {"learning_rate": 0.1, "momentum": 0.9}),
                                               ("adam", {"learning_rate": 0.01})])
def test_the_sweep_starts_from_a_new_trainers_state_and_the_real_one_comes_back(
        make_learner, state_checker, optimizer, params):
    learner = make_learner(optimizer=optimizer, optimizer_params=params, warm_steps=30)  # mid-training
    checker = state_checker(learner)
    kept = first_step_change(learner)  # the momentum/moments built at lr 0.1 move the weights
    checker.check()
    fresh = first_step_change(learner, reset_optimizer_state=True)
    checker.check()  # parameters and the whole optimizer state bitwise as before
    if optimizer == "adam":  # a first Adam step (bias-corrected, t=1) moves every weight by about lr
        assert 0.5e-7 <= fresh <= 3e-7, fresh  # (up to float32 rounding of the weights)
    else:  # momentum: kept, the buffer built at lr 0.1 moves the weights; fresh, lr * grad is tiny
        assert fresh <= 1e-5 and kept > 30 * fresh, (kept, fresh)


def test_it_is_recorded_and_checked(make_learner):
    finder = LRFinder(make_learner(warm_steps=3))
    finder.find(lr_start=1e-5, lr_end=1.0, num_iter=20, progress=False, reset_optimizer_state=True)
    assert finder.curve.settings["reset_optimizer_state"] is True
    with pytest.raises(TypeError, match="reset_optimizer_state must be True or False, got 'yes'"):
        finder.find(reset_optimizer_state="yes")


def test_two_contexts_with_the_optimizer_on_the_kvstore(make_learner, state_checker):
    learner = make_learner(ctx=[mx.cpu(0), mx.cpu(1)], warm_steps=5)
    checker = state_checker(learner)
    fresh = first_step_change(learner, reset_optimizer_state=True)
    checker.check()
    assert fresh <= 1e-5
