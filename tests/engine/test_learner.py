import mxnet as mx
import numpy as np
import pytest
from conftest import capture_params, mode_array, tiny_loader
from mxnet import gluon

from gluon_lrfinder import Learner
from gluon_lrfinder.demo import build_net


def test_iteration_returns_mean_batch_loss_before_the_update(array_mode, digits):
    mx.random.seed(1)
    net = build_net("mlp", 10)
    X, y = digits.train[:32]
    loader = [(mode_array(X), mode_array(y))]
    learner = Learner(net, loader, optimizer_params={"learning_rate": 0.1})
    learner.prepare()  # initializes deferred shapes with a predict-mode forward, no update
    expected = gluon.loss.SoftmaxCrossEntropyLoss()(net(mode_array(X)), mode_array(y)).mean().asnumpy().item()
    loss = learner.iteration(lr=0.1)
    assert isinstance(loss, float) and loss == learner.iteration_loss
    assert np.isclose(loss, expected, rtol=1e-6)
    assert learner.iteration(lr=0.1) < loss  # one SGD step at a sane LR lowers the loss on this batch
    assert learner.trainer.learning_rate == 0.1


def test_take_step_false_leaves_parameters_alone(array_mode, make_learner):
    learner = make_learner(warm_steps=1)
    before = capture_params(learner.net)
    learner.iteration(lr=0.5, take_step=False)
    after = capture_params(learner.net)
    for name in before:
        assert np.array_equal(before[name][0], after[name][0]), name


def test_initializes_only_uninitialized_parameters():
    trained = gluon.nn.Dense(3, in_units=4)
    trained.initialize(mx.init.Constant(0.25))
    fresh = gluon.nn.Dense(3, in_units=3)
    net = gluon.nn.HybridSequential()
    net.add(trained, fresh)
    Learner(net, tiny_loader(), initializer=mx.init.Constant(7.0))
    assert np.all(trained.weight.data().asnumpy() == 0.25)
    assert np.all(fresh.weight.data().asnumpy() == 7.0)
    assert np.all(fresh.bias.data().asnumpy() == 0.0)  # the bias keeps its own zero init


def test_accepts_an_existing_trainer():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01})
    learner = Learner(net, tiny_loader(), trainer=trainer)
    learner.iteration(lr=0.002)
    assert learner.trainer is trainer
    assert trainer.learning_rate == 0.002 and trainer.optimizer.num_update == 1


def test_finite_loader_is_restarted():
    net = gluon.nn.Dense(3, in_units=4)
    learner = Learner(net, tiny_loader(n=8, batch_size=4))  # two batches per pass
    losses = [learner.iteration(lr=0.01) for _ in range(5)]
    assert all(np.isfinite(losses))


def test_batch_fn_for_other_layouts():
    rng = np.random.RandomState(0)
    ds = gluon.data.ArrayDataset(rng.rand(8, 4).astype("float32"), rng.rand(8).astype("float32"))
    loader = gluon.data.DataLoader(ds, batch_size=4)

    def batch_fn(batch, ctx):  # dict-like batches, label first
        label, data = batch[1], batch[0]
        return [data.as_in_context(ctx[0])], [label.as_in_context(ctx[0])]

    learner = Learner(gluon.nn.Dense(1, in_units=4), loader, loss_fn=gluon.loss.L2Loss(), batch_fn=batch_fn)
    assert np.isfinite(learner.iteration(lr=0.01))


def test_lr_with_an_lr_scheduler_attached(array_mode, ):
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=1.0)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1.0, "lr_scheduler": sched})
    learner = Learner(net, tiny_loader(), trainer=trainer)
    w0 = net.weight.data().copy()
    learner.iteration(lr=0.0)  # plain SGD at lr 0: weights must not move, whatever the scheduler says
    assert np.array_equal(w0.asnumpy(), net.weight.data().asnumpy())
    assert trainer.optimizer.lr_scheduler is sched


def test_close_with_worker_processes(digits):
    from gluon_lrfinder.engine.sampler import make_loader

    loader = make_loader(digits.train, 64, num_workers=2)
    with Learner(build_net("mlp", 10), loader) as learner:
        learner.iteration(lr=0.01)
    assert learner._iter is None
    learner.close()  # idempotent


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(net=object()), TypeError, r"net must be a gluon.Block .*got object"),
    (dict(ctx="gpu"), TypeError, r"ctx must be an mxnet.Context .*got 'gpu'"),
    (dict(ctx=[]), TypeError, r"ctx must be an mxnet.Context"),
    (dict(ctx=[mx.cpu(0), mx.cpu(0)]), ValueError, r"ctx must not repeat a context"),
    (dict(data_loader=3), TypeError, r"data_loader must be iterable"),
    (dict(loss_fn="l2"), TypeError, r"loss_fn must be callable"),
    (dict(trainer="sgd"), TypeError, r"trainer must be a gluon.Trainer"),
    (dict(optimizer_params=[0.1]), TypeError, r"optimizer_params must be a dict"),
    (dict(initializer="xavier"), TypeError, r"initializer must be an mx.init.Initializer"),
])
def test_bad_arguments(kwargs, exc, match):
    args = dict(net=gluon.nn.Dense(3, in_units=4), data_loader=tiny_loader())
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        Learner(**args)


def test_parameters_on_other_contexts_are_refused():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(ctx=mx.cpu(1))
    with pytest.raises(ValueError, match=r"ctx must match the contexts net's parameters live on"):
        Learner(net, tiny_loader(), ctx=mx.cpu(0))


def test_several_contexts_with_a_trainer_that_does_not_reduce():
    ctx = [mx.cpu(0), mx.cpu(1)]
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(ctx=ctx)
    trainer = gluon.Trainer(net.collect_params(), "sgd", kvstore=None)
    with pytest.raises(ValueError, match=r"trainer must reduce gradients over the 2 contexts.*kvstore=None"):
        Learner(net, tiny_loader(), ctx=ctx, trainer=trainer)


def test_empty_data_set():
    ds = gluon.data.ArrayDataset(np.zeros((0, 4), "float32"), np.zeros((0,), "float32"))
    learner = Learner(gluon.nn.Dense(3, in_units=4), gluon.data.DataLoader(ds, batch_size=4))
    with pytest.raises(ValueError, match="data_loader yielded no batches: the data set is empty"):
        learner.iteration(lr=0.1)


def test_batch_that_is_not_a_pair():
    learner = Learner(gluon.nn.Dense(3, in_units=4), [mx.nd.zeros((4, 4))])
    with pytest.raises(TypeError, match=r"a batch must be a \(data, label\) pair"):
        learner.iteration(lr=0.1)


def test_split_batch_along_another_axis_and_the_learners_split_and_forward():
    from gluon_lrfinder.engine.sources import split_batch

    data = mx.nd.arange(2 * 5 * 3).reshape((2, 5, 3))  # time-major: (steps, samples, features)
    label = mx.nd.arange(2 * 5).reshape((2, 5))
    parts, labels = split_batch((data, label), [mx.cpu(0), mx.cpu(1)], batch_axis=1)
    assert [p.shape for p in parts] == [(2, 3, 3), (2, 2, 3)] and [y.shape for y in labels] == [(2, 3), (2, 2)]
    assert np.array_equal(np.concatenate([p.asnumpy() for p in parts], axis=1), data.asnumpy())
    learner = Learner(gluon.nn.Dense(2, in_units=3), [], ctx=[mx.cpu(0), mx.cpu(1)])
    x, y, size = learner.split((mx.nd.ones((5, 3)), mx.nd.zeros((5,))))
    assert size == 5 and [d.shape for d in x] == [(3, 3), (2, 3)]
    assert [learner.forward(d).shape for d in x] == [(3, 2), (2, 2)]


def test_fit_batch_runs_the_callers_own_forward_and_backward():
    calls = []
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def fit_batch(batch):  # the caller's own batch logic: here a loss scaled by 0.5
        calls.append(batch)
        data, label = batch
        with mx.autograd.record():
            losses = [loss_fn(net(data), label) * 0.5]
        losses[0].backward()
        return [data], [label], losses

    net = gluon.nn.Dense(3, in_units=4)
    net.initialize()
    batch = (mx.nd.ones((4, 4)), mx.nd.array([0, 1, 2, 0]))
    learner = Learner(net, [batch], fit_batch=fit_batch)
    expected = 0.5 * float(loss_fn(net(batch[0]), batch[1]).asnumpy().mean(dtype=np.float64))
    assert learner.iteration(lr=0.1) == pytest.approx(expected, rel=1e-6) and len(calls) == 1
    with pytest.raises(TypeError, match="fit_batch must be callable, got int"):
        Learner(gluon.nn.Dense(3, in_units=4), [batch], fit_batch=3)
