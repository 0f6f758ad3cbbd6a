"""Gradient accumulation (grad_req='add'): whole steps from zeroed gradients, accumulation_steps,
and the user's half-accumulated gradients restored bitwise."""
import mxnet as mx
import numpy as np
import pytest
from conftest import capture_params, mode_array, trainer_state_bytes
from mxnet import autograd, gluon

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.demo import build_net

SWEEP = {"lr_start": 1e-4, "lr_end": 10.0, "num_iter": 50, "progress": False}


def _learner(digits, grad_req="write", batch_size=32, accumulation_steps=1, seed=0, net="mlp_bn", ctx=None):
    mx.random.seed(seed)
    ctx = ctx or [mx.cpu()]
    net = build_net(net, 10)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    X, y = digits.train[:64]
    net(mode_array(X[:2], ctx=ctx[0]))
    if grad_req != "write":
        net.collect_params().setattr("grad_req", grad_req)
    loader = gluon.data.DataLoader(digits.train, batch_size=batch_size, shuffle=False, last_batch="discard")
    return Learner(net, loader, ctx=ctx, optimizer_params={"learning_rate": 0.05, "momentum": 0.9},
                   accumulation_steps=accumulation_steps)


def _grads(net):
    return {n: [g.asnumpy().copy() for g in p.list_grad()] for n, p in net.collect_params().items()
            if p.grad_req != "null"}


def _accumulate_one_micro_batch(learner, digits):
    X, y = digits.train[100:116]
    with autograd.record():  # on the first context (the others keep what they had)
        loss = learner.loss_fn(learner.net(mode_array(X, ctx=learner.ctx[0])), mode_array(y, ctx=learner.ctx[0]))
    loss.backward()


@pytest.mark.parametrize("ctx", [[mx.cpu()], [mx.cpu(0), mx.cpu(1)]], ids=["1ctx", "2ctx"])
def test_search_between_micro_batches_restores_the_accumulated_gradients(array_mode, digits, ctx):
    learner = _learner(digits, grad_req="add", ctx=ctx)
    learner.iteration()  # some momentum; then the user is half-way through an accumulated step:
    learner.net.collect_params().zero_grad()
    _accumulate_one_micro_batch(learner, digits)
    grads, params = _grads(learner.net), capture_params(learner.net)
    states = trainer_state_bytes(learner.trainer)
    assert any(np.abs(g[0]).sum() > 0 for g in grads.values())
    LRFinder(learner).find(**SWEEP)
    after, params_after = _grads(learner.net), capture_params(learner.net)
    for name in grads:
        assert all(np.array_equal(a, b) for a, b in zip(grads[name], after[name])), name
    for name in params:
        assert all(np.array_equal(a, b) for a, b in zip(params[name], params_after[name])), name
    assert trainer_state_bytes(learner.trainer) == states


def test_add_gives_the_same_curve_and_suggestion_as_write(digits):
    curves = {}
    for grad_req in ("write", "add"):
        learner = _learner(digits, grad_req=grad_req)
        if grad_req == "add":
            learner.prepare()
            _accumulate_one_micro_batch(learner, digits)  # leftover gradients must not leak in
        finder = LRFinder(learner)
        finder.find(**SWEEP)
        curves[grad_req] = (finder.curve.losses, finder.suggest(warn=False))
        learner.close()
    np.testing.assert_allclose(curves["add"][0], curves["write"][0], rtol=1e-5)
    assert curves["add"][1] == pytest.approx(curves["write"][1], rel=1e-3)


def test_accumulation_steps_is_one_step_over_several_batches(digits):
    # no BatchNorm here: its batch statistics would differ between 16- and 32-sample batches
    big = _learner(digits, batch_size=32, net="mlp")
    small = _learner(digits, grad_req="add", batch_size=16, accumulation_steps=2, net="mlp")
    for learner in (big, small):
        learner.prepare()
    losses = [(big.iteration(lr=0.1), small.iteration(lr=0.1)) for _ in range(3)]
    for a, b in losses:
        assert a == pytest.approx(b, rel=1e-5)  # the mean over the same 32 samples
    pa, pb = capture_params(big.net), capture_params(small.net)
    for va, vb in zip(pa.values(), pb.values()):  # same layers in order (names differ)
        np.testing.assert_allclose(va[0], vb[0], rtol=1e-4, atol=1e-6)


def test_accumulation_steps_needs_grad_req_add(digits):
    with pytest.raises(ValueError, match=r"accumulation_steps=2 needs grad_req='add'.*setattr\('grad_req', 'add'\)"):
        _learner(digits, accumulation_steps=2)
    with pytest.raises(ValueError, match=r"accumulation_steps must be an integer >= 1, got 0"):
        _learner(digits, grad_req="add", accumulation_steps=0)
    with pytest.raises(TypeError, match=r"accumulation_steps must be an integer"):
        _learner(digits, grad_req="add", accumulation_steps=1.5)
