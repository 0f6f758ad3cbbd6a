"""Data-parallel range tests over several contexts in one process ([cpu(0), cpu(1)], ...).

Every test trains a tiny net with BatchNorm on real digits data over several CPU contexts, so
the per-device BatchNorm running statistics really differ (each device normalizes its own slice
and Gluon does not reduce auxiliary states). After ``LRFinder.find`` every context's copy of
every parameter, every optimizer state (per updater), the update counters and the learning rate
must be bitwise what they were, and training on must give bitwise the run that never searched.
"""
from __future__ import annotations

import pickle

import mxnet as mx
import numpy as np
import pytest
from conftest import mode_array
from mxnet import autograd, gluon

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.demo import build_net, load_task, loss_for
from gluon_lrfinder.engine.sampler import make_loader

CTX2 = [mx.cpu(0), mx.cpu(1)]
CTX3 = [mx.cpu(0), mx.cpu(1), mx.cpu(2)]
OPTIMIZERS = {
    "sgd": ("sgd", {"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4}),
    "adam": ("adam", {"learning_rate": 0.01}),
}
BATCH = 32


# ---------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def tasks():
    out = {}
    for name in ("digits", "digits_image"):
        task = load_task(name)
        X = np.stack([task.train[i][0] for i in range(len(task.train))])
        y = np.array([task.train[i][1] for i in range(len(task.train))], dtype=np.float32)
        out[name] = (task, X, y)
    return out


def make_model(tasks, net_name, ctx, optimizer, uok, hybridize, seed=0):
    task, X, y = tasks["digits_image" if net_name == "cnn" else "digits"]
    mx.random.seed(seed)
    np.random.seed(seed)
    net = build_net(net_name, task.num_outputs, hidden=32)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    opt, opt_params = OPTIMIZERS[optimizer]
    trainer = gluon.Trainer(
        net.collect_params(), opt, dict(opt_params), kvstore="device", update_on_kvstore=uok
    )
    return task, X, y, net, trainer


def train_steps(net, trainer, ctx, X, y, loss_fn, steps, offset):
    """Fixed batches (not from a loader), so two runs see exactly the same data."""
    for s in range(steps):
        lo = ((offset + s) * BATCH) % (len(X) - BATCH)
        xs = gluon.utils.split_and_load(mode_array(X[lo:lo + BATCH]), ctx, even_split=False)
        ys = gluon.utils.split_and_load(mode_array(y[lo:lo + BATCH]), ctx, even_split=False)
        with autograd.record():
            losses = [loss_fn(net(a), b) for a, b in zip(xs, ys)]
        autograd.backward(losses)
        trainer.step(BATCH)
    mx.nd.waitall()


def _updaters(trainer):
    # Test-only private access: where Gluon keeps the optimizer states of each context
    # (one updater per context when the workers update, one in the kvstore otherwise).
    if trainer._update_on_kvstore:
        return [trainer._kvstore._updater]
    return list(trainer._updaters)


def _flat(state):
    if state is None:
        return []
    if isinstance(state, (list, tuple)):
        return [a for s in state for a in _flat(s)]
    return [state]


def full_state(net, trainer):
    """Every array and counter the range test might change, as plain numpy / python values."""
    out = {}
    for i, (name, param) in enumerate(net.collect_params().items()):
        local = name.split("_", 1)[1]  # without the net's prefix, which differs between nets
        for k, copy in enumerate(param.list_data()):
            out[f"param/{i}:{local}/ctx{k}"] = copy.asnumpy().copy()
    for u, updater in enumerate(_updaters(trainer)):
        for index, state in sorted(updater.states.items()):
            for j, arr in enumerate(_flat(state)):
                out[f"state/updater{u}/{index}/{j}"] = arr.asnumpy().copy()
    opt = trainer.optimizer
    out["num_update"] = opt.num_update
    out["all_index_update_counts"] = pickle.dumps(
        {k: sorted(v.items()) for k, v in sorted(opt._all_index_update_counts.items())}
    )
    out["learning_rate"] = trainer.learning_rate
    return out


def assert_same_state(a, b):
    assert sorted(a) == sorted(b)
    differ = []
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            same = x.shape == y.shape and x.dtype == y.dtype and np.array_equal(
                x.view(np.uint8), y.view(np.uint8)
            )
        else:
            same = x == y
        if not same:
            differ.append(key)
    assert not differ, f"not restored bitwise: {differ}"


def running_stats_differ(net):
    """True when some BatchNorm running statistic differs between the contexts."""
    for name, param in net.collect_params().items():
        if "running" in name:
            copies = [c.asnumpy() for c in param.list_data()]
            if any(not np.array_equal(copies[0], c) for c in copies[1:]):
                return True
    return False


def run_find(task, net, trainer, ctx, seed=1, **kwargs):
    loader = make_loader(task.train, BATCH, seed=seed)
    with Learner(net, loader, ctx=ctx, loss_fn=loss_for(task), trainer=trainer) as learner:
        finder = LRFinder(learner)
        args = dict(lr_start=1e-4, lr_end=10.0, num_iter=30, progress=False)
        args.update(kwargs)
        finder.find(**args)
    return finder


# ---------------------------------------------------------------------------- restore
CASES = [
    (net, opt, uok, hyb)
    for net in ("mlp_bn", "cnn")
    for opt in ("sgd", "adam")
    for uok in (True, False)
    for hyb in (False, True)
]


@pytest.mark.parametrize("net_name,optimizer,uok,hybridize", CASES)
def test_find_restores_every_context_bitwise(array_mode, tasks, net_name, optimizer, uok, hybridize):
    task, X, y, net, trainer = make_model(tasks, net_name, CTX2, optimizer, uok, hybridize)
    train_steps(net, trainer, CTX2, X, y, loss_for(task), steps=3, offset=0)
    assert running_stats_differ(net), "setup: the devices' BatchNorm statistics should differ"
    before = full_state(net, trainer)
    assert any(k.startswith("state/") for k in before)  # momentum / Adam moments exist

    finder = run_find(task, net, trainer, CTX2)
    assert len(finder.curve.pairs) >= 20
    assert_same_state(full_state(net, trainer), before)


@pytest.mark.parametrize("optimizer,uok", [("sgd", True), ("adam", False)])
def test_three_contexts_restore_bitwise(tasks, optimizer, uok):
    task, X, y, net, trainer = make_model(tasks, "mlp_bn", CTX3, optimizer, uok, hybridize=False)
    train_steps(net, trainer, CTX3, X, y, loss_for(task), steps=3, offset=0)
    assert running_stats_differ(net)
    before = full_state(net, trainer)
    run_find(task, net, trainer, CTX3)
    assert_same_state(full_state(net, trainer), before)


@pytest.mark.parametrize(
    "net_name,optimizer,uok,hybridize",
    [("mlp_bn", "sgd", True, False), ("mlp_bn", "adam", False, True), ("cnn", "sgd", False, False),
     ("cnn", "adam", True, True)],
)
def test_training_after_find_equals_never_searched(array_mode,
    tasks, tmp_path, net_name, optimizer, uok, hybridize
):
    runs = []
    for search in (True, False):
        task, X, y, net, trainer = make_model(tasks, net_name, CTX2, optimizer, uok, hybridize)
        loss_fn = loss_for(task)
        if hybridize:
            # MXNet itself is not deterministic here: the kvstore set up inside the first step
            # races with the static graph's BatchNorm update (two runs that never search differ
            # in the running statistics, with update_on_kvstore True or False). Setting the
            # kvstore up first removes the race.
            for c in CTX2:
                net(mode_array(X[:2], ctx=c))
            trainer.save_states(str(tmp_path / "warm.states"))
        train_steps(net, trainer, CTX2, X, y, loss_fn, steps=3, offset=0)
        if search:
            run_find(task, net, trainer, CTX2)
        train_steps(net, trainer, CTX2, X, y, loss_fn, steps=4, offset=3)
        runs.append(full_state(net, trainer))
    assert_same_state(runs[0], runs[1])


def test_find_on_fresh_trainer_restores_and_continues(tasks):
    """No step before the search: the trainer's kvstore is first set up inside find()."""
    runs = []
    for search in (True, False):
        task, X, y, net, trainer = make_model(tasks, "mlp_bn", CTX2, "sgd", True, False)
        net(mode_array(X[:2], ctx=CTX2[0]))  # resolve the deferred shapes on one context
        net(mode_array(X[:2], ctx=CTX2[1]))
        if search:
            run_find(task, net, trainer, CTX2)
        train_steps(net, trainer, CTX2, X, y, loss_for(task), steps=3, offset=0)
        runs.append(full_state(net, trainer))
    assert_same_state(runs[0], runs[1])


# ---------------------------------------------------------------------------- the loss
def test_loss_is_mean_over_all_samples_of_all_devices(tasks):
    """An uneven split (17 + 16 samples): the loss is the sample mean, not the mean of means."""
    task, X, y = tasks["digits"]
    mx.random.seed(0)
    net = build_net("mlp", task.num_outputs, hidden=32)
    net.initialize(mx.init.Xavier(), ctx=CTX2)
    size = 33
    ds = gluon.data.ArrayDataset(X[:size], y[:size])
    loader = gluon.data.DataLoader(ds, batch_size=size)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    with Learner(net, loader, ctx=CTX2, loss_fn=loss_fn, kvstore="device") as learner:
        got = learner.iteration(lr=0.1, take_step=False)
    parts = [(0, 17), (17, 33)]  # split_and_load(even_split=False) over 2 contexts
    per_sample = np.concatenate([
        loss_fn(net(mode_array(X[a:b], ctx=c)), mode_array(y[a:b], ctx=c)).asnumpy()
        for (a, b), c in zip(parts, CTX2)
    ])
    mean_of_means = np.mean([per_sample[a:b].mean() for a, b in parts])
    assert got == pytest.approx(float(per_sample.mean()), rel=1e-5)
    assert abs(per_sample.mean() - mean_of_means) > 1e-5  # the check above can tell them apart
    assert got != pytest.approx(float(mean_of_means), rel=1e-6)


def test_curve_records_the_contexts(tasks):
    task, X, y, net, trainer = make_model(tasks, "mlp_bn", CTX2, "sgd", False, False)
    finder = run_find(task, net, trainer, CTX2, num_iter=25)
    assert finder.curve.settings["contexts"] == ["cpu(0)", "cpu(1)"]
    assert all(np.isfinite(finder.curve.losses[:20]))


# ---------------------------------------------------------------------------- errors
def test_several_contexts_with_kvstore_none_is_refused(tasks):
    task, X, y = tasks["digits"]
    net = build_net("mlp", task.num_outputs)
    net.initialize(ctx=CTX2)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1}, kvstore=None)
    loader = make_loader(task.train, BATCH, seed=0)
    with pytest.raises(ValueError, match=r"reduce gradients over the 2 contexts.*kvstore=None"):
        Learner(net, loader, ctx=CTX2, trainer=trainer)


def test_contexts_must_match_the_parameters(tasks):
    task, X, y = tasks["digits"]
    net = build_net("mlp", task.num_outputs)
    net.initialize(ctx=CTX2)
    loader = make_loader(task.train, BATCH, seed=0)
    with pytest.raises(ValueError, match=r"ctx must match the contexts.*reset_ctx"):
        Learner(net, loader, ctx=CTX3)


# ---------------------------------------------------------------------------- a KVStore object
@pytest.mark.parametrize("uok", [None, True])
def test_kvstore_object_holding_the_weights_is_refused_before_anything(tasks, uok):
    """Restoring would make Gluon initialize the same KVStore object twice (an MXNet error)."""
    task, X, y = tasks["digits"]
    mx.random.seed(0)
    net = build_net("mlp_bn", task.num_outputs, hidden=32)
    net.initialize(mx.init.Xavier(), ctx=CTX2)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05},
                            kvstore=mx.kv.create("device"), update_on_kvstore=uok)
    train_steps(net, trainer, CTX2, X, y, loss_for(task), steps=2, offset=0)
    before = full_state(net, trainer)
    with pytest.raises(ValueError, match=rf"KVStore object \(type 'device'\) with "
                                         rf"update_on_kvstore={uok} cannot be restored.*by name"):
        run_find(task, net, trainer, CTX2)
    assert_same_state(full_state(net, trainer), before)


@pytest.mark.parametrize("fresh", [False, True])
def test_kvstore_object_updating_on_the_workers(tasks, fresh):
    runs = []
    for search in (True, False):
        task, X, y = tasks["digits"]
        mx.random.seed(0)
        net = build_net("mlp_bn", task.num_outputs, hidden=32)
        net.initialize(mx.init.Xavier(), ctx=CTX2)
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01},
                                kvstore=mx.kv.create("device"), update_on_kvstore=False)
        if fresh:
            for c in CTX2:
                net(mode_array(X[:2], ctx=c))
        else:
            train_steps(net, trainer, CTX2, X, y, loss_for(task), steps=3, offset=0)
        if search:
            before = full_state(net, trainer)
            run_find(task, net, trainer, CTX2)
            assert_same_state(full_state(net, trainer), before)
        train_steps(net, trainer, CTX2, X, y, loss_for(task), steps=3, offset=3)
        runs.append(full_state(net, trainer))
    if fresh:
        # Gluon's first step copies ctx0's just-updated BatchNorm statistics to ctx1; after a
        # search the kvstore (an object, which cannot be set up twice) is already set up, so
        # that one-time copy does not happen. Everything else is bitwise the same.
        differ = [k for k in runs[0] if isinstance(runs[0][k], np.ndarray)
                  and not np.array_equal(runs[0][k], runs[1][k])]
        assert differ and all("running" in k and k.endswith("/ctx1") for k in differ), differ
    else:
        assert_same_state(runs[0], runs[1])
