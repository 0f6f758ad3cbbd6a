"""The MXNet 1.9.1 behaviours the finder is built around (docs/mxnet_behaviours.md).

Each test pins one behaviour of MXNet itself, not of this package: if a future MXNet changes it,
the test fails and points at the code that relies on it.
"""
import os

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon


def _bn_net(ctx):
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(8, in_units=4), gluon.nn.BatchNorm(in_channels=8), gluon.nn.Dense(3, in_units=8))
    net.initialize(mx.init.Xavier(), ctx=ctx)
    return net


def _step(net, trainer, ctx, seed=0, batch=8):
    rng = np.random.RandomState(seed)
    x = mx.nd.array(rng.rand(batch * len(ctx), 4))
    y = mx.nd.array(rng.randint(0, 3, batch * len(ctx)))
    xs = gluon.utils.split_and_load(x, ctx)
    ys = gluon.utils.split_and_load(y, ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with autograd.record():
        losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
    autograd.backward(losses)
    trainer.step(batch * len(ctx))


def test_save_parameters_stores_the_average_of_the_contexts_copies(tmp_path):
    """state.py keeps each context's copy itself instead of relying on save_parameters."""
    ctx = [mx.cpu(0), mx.cpu(1)]
    net = _bn_net(ctx)
    param = net[1].running_mean
    param.list_data()[0][:] = 1.0
    param.list_data()[1][:] = 3.0
    path = str(tmp_path / "p.params")
    net.save_parameters(path)
    saved = mx.nd.load(path)
    key = next(k for k in saved if k.endswith("running_mean"))
    assert np.allclose(saved[key].asnumpy(), 2.0)


def test_batchnorm_statistics_change_in_backward_not_in_forward():
    """The snapshot must include BatchNorm statistics: a training step changes them."""
    net = _bn_net([mx.cpu()])
    before = net[1].running_mean.data().asnumpy().copy()
    x = mx.nd.array(np.random.RandomState(0).rand(8, 4))
    with autograd.record():
        out = net(x)
    assert np.array_equal(before, net[1].running_mean.data().asnumpy())
    out.backward()
    assert not np.array_equal(before, net[1].running_mean.data().asnumpy())


def test_parameters_must_be_restored_before_the_trainer_state(tmp_path):
    """With update_on_kvstore=True, set_data (load_parameters) resets the kvstore and drops its
    optimizer state: restoring the states first loses the momentum; params first keeps it."""
    ctx = [mx.cpu(0), mx.cpu(1)]

    def detour_then_restore(params_first):
        net = _bn_net(ctx)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9},
                                kvstore="device", update_on_kvstore=True)
        for i in range(3):
            _step(net, trainer, ctx, seed=i)
        p, s = str(tmp_path / "p"), str(tmp_path / "s")
        net.save_parameters(p)
        trainer.save_states(s)
        _step(net, trainer, ctx, seed=9)
        if params_first:
            net.load_parameters(p, ctx=ctx)
            trainer.load_states(s)
        else:
            trainer.load_states(s)
            net.load_parameters(p, ctx=ctx)
        _step(net, trainer, ctx, seed=3)
        return net[0].weight.data(ctx[0]).asnumpy()

    net = _bn_net(ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "momentum": 0.9},
                            kvstore="device", update_on_kvstore=True)
    for i in range(3):
        _step(net, trainer, ctx, seed=i)
    _step(net, trainer, ctx, seed=3)
    reference = net[0].weight.data(ctx[0]).asnumpy()
    assert np.array_equal(detour_then_restore(params_first=True), reference)
    assert not np.array_equal(detour_then_restore(params_first=False), reference)


def test_load_states_replaces_the_optimizer_object(tmp_path):
    """state.py puts the user's lr_scheduler object back after load_states."""
    net = _bn_net([mx.cpu()])
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.1)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "lr_scheduler": sched})
    _step(net, trainer, [mx.cpu()])
    optimizer = trainer.optimizer
    path = str(tmp_path / "s")
    trainer.save_states(path)
    trainer.load_states(path)
    assert trainer.optimizer is not optimizer
    assert trainer.optimizer.lr_scheduler is not sched


def test_set_learning_rate_is_refused_while_a_scheduler_is_attached():
    """learner.lr_override detaches the scheduler for the sweep."""
    net = _bn_net([mx.cpu()])
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.1)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "lr_scheduler": sched})
    with pytest.raises(UserWarning, match="LRScheduler of the optimizer has already been defined"):
        trainer.set_learning_rate(0.5)


def test_save_states_fails_on_a_deferred_net_and_works_after_one_forward(tmp_path):
    """Learner.prepare() runs one forward pass before the snapshot."""
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(4), gluon.nn.BatchNorm())
    net.initialize(ctx=mx.cpu())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    path = str(tmp_path / "s")
    with pytest.raises(gluon.parameter.DeferredInitializationError):
        trainer.save_states(path)
    net(mx.nd.ones((2, 3)))
    trainer.save_states(path)
    assert os.path.getsize(path) > 0


def test_two_contexts_without_a_kvstore_drift_apart():
    """check_restorable refuses kvstore=None on several contexts: nothing reduces the gradients."""
    ctx = [mx.cpu(0), mx.cpu(1)]
    net = _bn_net(ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}, kvstore=None)
    for i in range(2):
        _step(net, trainer, ctx, seed=i)
    w = net[0].weight.list_data()
    assert not np.array_equal(w[0].asnumpy(), w[1].asnumpy())


def test_a_data_iter_does_not_restart_by_itself():
    """The learner resets an mx.io.DataIter when it runs out; iter() alone does not restart it."""
    it = mx.io.NDArrayIter(np.arange(8, dtype="float32").reshape(4, 2), np.arange(4), batch_size=2)
    assert len(list(iter(it))) == 2
    assert list(iter(it)) == []
    it.reset()
    assert len(list(iter(it))) == 2


def test_an_optimizer_default_learning_rate_overwrites_the_schedulers(capsys):
    """Adam's learning_rate=0.001 default wins over lr_scheduler.base_lr unless it is passed
    (MXNet only prints a line about it)."""
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.05)
    adam = mx.optimizer.create("adam", lr_scheduler=sched)
    assert "overwritten by ``learning_rate``" in capsys.readouterr().out
    assert sched.base_lr == 0.001 and adam.learning_rate == 0.001
    sched = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.05)
    adam = mx.optimizer.create("adam", lr_scheduler=sched, learning_rate=0.05)
    assert adam.learning_rate == 0.05


def test_grad_req_add_accumulates_until_zeroed():
    """A sweep under grad_req='add' must zero the gradients before each iteration."""
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize(ctx=mx.cpu())
    net.collect_params().setattr("grad_req", "add")
    x = mx.nd.ones((1, 3))
    for _ in range(2):
        with autograd.record():
            y = net(x).sum()
        y.backward()
    assert np.allclose(net.weight.grad().asnumpy(), 2.0)
    net.collect_params().zero_grad()
    assert np.allclose(net.weight.grad().asnumpy(), 0.0)


def test_sgd_without_momentum_keeps_no_momentum_buffer():
    """find_grid refuses a momentum for a momentum-free SGD trainer that has stepped: its state
    is None, and with a momentum set afterwards the (dense, aggregated) update fails."""
    sgd = mx.optimizer.create("sgd", learning_rate=0.1, momentum=0.0)
    weight = mx.nd.ones((3,))
    state = sgd.create_state(0, weight)
    assert state is None
    sgd.momentum = 0.9
    with pytest.raises(AssertionError, match="must have NDArray type, but got None"):
        sgd.update(0, weight, mx.nd.ones((3,)), state)


def test_numpy_mode_arrays_cannot_go_through_nd_save_but_their_legacy_views_can(tmp_path):
    """state.py saves NumPy-mode parameters through as_nd_ndarray() views (_arrays.as_legacy)."""
    from mxnet import npx

    npx.set_np()
    try:
        arr = mx.np.ones((2, 3))
        with pytest.raises(TypeError, match="cannot save mxnet.numpy.ndarray using mxnet.ndarray.save"):
            mx.nd.save(str(tmp_path / "a"), {"w": arr})
        mx.nd.save(str(tmp_path / "b"), {"w": arr.as_nd_ndarray()})
        assert np.array_equal(mx.nd.load(str(tmp_path / "b"))["w"].asnumpy(), np.ones((2, 3)))
    finally:
        npx.reset_np()
