import math
import pickle
import warnings

import mxnet as mx
import numpy as np
import pytest
from conftest import assert_params_equal, capture_params, mode_array, trainer_state_bytes
from mxnet import autograd, gluon

from gluon_lrfinder import LRFinder
from gluon_lrfinder.schedules.cycles import CosineAnnealingSchedule, OneCycleSchedule, TriangularSchedule, range_from
from gluon_lrfinder.schedules.wrappers import CoolDown, OffsetSchedule, WarmUp

# ---------------------------------------------------------------- exact values at the boundaries


def test_triangular_exact_knots_and_cycles():
    s = TriangularSchedule(0.01, 0.1, step_size=10)
    assert s(0) == 0.01 and s(10) == 0.1 and s(20) == 0.01 and s(30) == 0.1 and s(40) == 0.01
    assert s(5) == pytest.approx(0.055) and s(15) == pytest.approx(0.055)
    assert s(1) == pytest.approx(0.01 + 0.009)
    assert s(10**6) == 0.01 and s(10**6 + 10) == 0.1  # cycles forever
    assert s.base_lr == 0.1


def test_triangular_decay_and_num_cycles():
    s = TriangularSchedule(0.1, 1.1, step_size=5, decay=0.5, num_cycles=2)
    assert s(5) == 1.1  # first peak exact
    assert s(15) == pytest.approx(0.6)  # second peak: min + (max - min) * 0.5
    assert s(19) == pytest.approx(0.1 + 0.5 * 0.2)
    assert s(20) == 0.1 and s(25) == 0.1 and s(1000) == 0.1  # after 2 cycles: flat at min_lr


def test_one_cycle_phases_and_exact_knots():
    s = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1, final_lr=0.001)
    assert (s.up_steps, s.down_steps, s.cooldown_steps) == (45, 45, 10)
    assert s.knots == ((0, 0.1), (45, 1.0), (90, 0.1), (100, 0.001))
    assert [s(n) for n in (0, 45, 90, 100)] == [0.1, 1.0, 0.1, 0.001]
    assert s(1) == pytest.approx(0.1 + 0.9 / 45)  # the first update's rate
    assert s(44) < 1.0 and s(46) < 1.0
    assert s(95) == pytest.approx((0.1 + 0.001) / 2)
    assert s(99) == pytest.approx(0.1 + (0.001 - 0.1) * 0.9)
    assert s(101) == 0.001 and s(10**7) == 0.001  # past the end
    # monotone in every phase
    up = [s(n) for n in range(0, 46)]
    down = [s(n) for n in range(45, 101)]
    assert all(a < b for a, b in zip(up, up[1:])) and all(a > b for a, b in zip(down, down[1:]))


def test_one_cycle_defaults_cos_and_no_cooldown():
    s = OneCycleSchedule(max_lr=0.5, total_steps=20)
    assert (s.min_lr, s.final_lr) == (0.05, 0.05 / 100)
    c = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1, anneal="cos")
    assert c(45) == 1.0 and c(0) == 0.1 and c(90) == 0.1
    assert c(22.5) == pytest.approx(0.55)  # half-way in value at half-way in steps
    assert 0.1 < c(1) < 0.1 + 0.9 / 45  # cos starts flatter than linear
    n = OneCycleSchedule(max_lr=1.0, total_steps=10, min_lr=0.1, up_fraction=0.5, cooldown_fraction=0.0)
    assert (n.up_steps, n.down_steps, n.cooldown_steps) == (5, 5, 0)
    assert n.knots[-1] == (10, 0.1) and n(10) == 0.1 and n(11) == 0.1


def test_cosine_with_warmup_exact():
    s = CosineAnnealingSchedule(1.0, total_steps=110, final_lr=0.1, warmup_steps=10, warmup_begin_lr=0.2)
    assert s(0) == 0.2 and s(10) == 1.0 and s(110) == 0.1 and s(111) == 0.1 and s(10**6) == 0.1
    assert s(5) == pytest.approx(0.6)
    assert s(60) == pytest.approx(0.55)  # cosine mid-point
    assert s(11) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi / 100)) / 2)
    plain = CosineAnnealingSchedule(0.3, total_steps=4)
    assert [plain(n) for n in (0, 4, 5)] == [0.3, 0.0, 0.0]
    assert plain(2) == pytest.approx(0.15)


def test_wrappers_exact():
    inner = TriangularSchedule(0.1, 1.0, step_size=10)
    w = WarmUp(inner, steps=5, begin_lr=0.0)
    assert [w(0), w(5), w(15), w(25)] == [0.0, 0.1, 1.0, 0.1]
    assert w(1) == pytest.approx(0.02)
    c = CoolDown(CosineAnnealingSchedule(1.0, total_steps=100, final_lr=0.1), start=100, steps=10, final_lr=0.0)
    assert [c(0), c(100), c(110), c(1000)] == [1.0, 0.1, 0.0, 0.0]
    assert c(105) == pytest.approx(0.05)
    o = OffsetSchedule(OneCycleSchedule(1.0, total_steps=100), offset=500)
    assert o(0) == o(500) == 0.1 and o(545) == 1.0 and o(600) == 0.001 and o(501) == pytest.approx(0.1 + 0.9 / 45)


def test_pure_function_of_num_update():
    s = OneCycleSchedule(max_lr=1.0, total_steps=50)
    forward = [s(n) for n in range(60)]
    backward = [s(n) for n in reversed(range(60))][::-1]
    assert forward == backward


# ---------------------------------------------------------------- the finder's range


def test_from_finder_pair_and_range_from():
    low, high = 0.003, 0.2
    assert range_from((low, high)) == (low, high)
    one = OneCycleSchedule.from_finder((low, high), total_steps=100)
    assert (one(0), one(45), one(90)) == (low, high, low)
    tri = TriangularSchedule.from_finder([low, high], step_size=7)
    assert (tri(0), tri(7)) == (low, high)
    cos = CosineAnnealingSchedule.from_finder((low, high), total_steps=30, warmup_steps=3)
    assert (cos(0), cos(3), cos(30)) == (low, high, 0.0)


def test_from_finder_uses_suggest_range(array_mode, make_learner):
    learner = make_learner(net="mlp")
    finder = LRFinder(learner)
    finder.find(lr_start=1e-4, lr_end=10, num_iter=60, progress=False)
    low, high = finder.suggest_range()
    s = OneCycleSchedule.from_finder(finder, total_steps=40)
    assert 1e-4 <= low < high <= 10
    assert (s.min_lr, s.max_lr) == (low, high) and s(s.up_steps) == high


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: range_from("0.1"), TypeError, r"source must be an LRFinder .* got str"),
        (lambda: range_from((0.1, 0.01)), ValueError, r"min_lr < max_lr, got \(0.1, 0.01\)"),
        (lambda: range_from((0.0, 0.01)), ValueError, r"min_lr must be a finite number > 0, got 0.0"),
        (lambda: TriangularSchedule(0.01, 0.1, step_size=0), ValueError, r"step_size must be an integer >= 1, got 0"),
        (lambda: TriangularSchedule(0.01, 0.1, 5, decay=1.5), ValueError, r"decay must be in \(0, 1\], got 1.5"),
        (lambda: OneCycleSchedule(1.0, total_steps=2), ValueError, r"total_steps must be an integer >= 3, got 2"),
        (lambda: OneCycleSchedule(1.0, 100, min_lr=2.0), ValueError, r"min_lr must be < max_lr \(1.0\), got 2.0"),
        (lambda: OneCycleSchedule(1.0, 100, min_lr=0.1, final_lr=0.2), ValueError, r"final_lr must be <= min_lr"),
        (lambda: OneCycleSchedule(1.0, 100, up_fraction=0.6, cooldown_fraction=0.5), ValueError,
         r"cooldown_fraction must be in \[0, 1 - up_fraction\)"),
        (lambda: OneCycleSchedule(1.0, 3, up_fraction=0.6, cooldown_fraction=0.3), ValueError,
         r"total_steps=3 leaves no step to come down"),
        (lambda: OneCycleSchedule(1.0, 100, anneal="exp"), ValueError,
         r"anneal must be one of 'linear', 'cos', got 'exp'"),
        (lambda: CosineAnnealingSchedule(1.0, total_steps=5, warmup_steps=5), ValueError,
         r"total_steps must be an integer >= 6, got 5"),
        (lambda: CosineAnnealingSchedule(1.0, 10, final_lr=1.0), ValueError, r"final_lr must be in \[0, max_lr\)"),
        (lambda: WarmUp(lambda n: 0.1, steps=3), TypeError, r"schedule must be an mx.lr_scheduler.LRScheduler"),
        (lambda: CoolDown(OneCycleSchedule(1.0, 10), start=-1, steps=3), ValueError, r"start must be an integer >= 0"),
        (lambda: OneCycleSchedule(1.0, 10)(-1), ValueError, r"num_update must be >= 0, got -1"),
        (lambda: OneCycleSchedule(1.0, 10)("3"), TypeError, r"num_update must be a real number"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- inside a gluon.Trainer


def _linear_problem():
    """One weight w, loss = w * x with x = 1: the gradient is exactly 1, so plain SGD moves w by
    exactly -lr per step (in float32)."""
    net = gluon.nn.Dense(1, in_units=1, use_bias=False)
    net.initialize(mx.init.Constant(0.0))
    x = mode_array(np.ones((1, 1)))

    def step(trainer):
        with autograd.record():
            loss = net(x).sum()
        loss.backward()
        trainer.step(1)
        return float(net.weight.data().asnumpy().item())

    return net, step


def test_trainer_calls_schedule_with_num_update_starting_at_1():
    s = OneCycleSchedule(max_lr=1.0, total_steps=4, min_lr=0.25, final_lr=0.0625, up_fraction=0.5,
                         cooldown_fraction=0.25)
    assert [s(n) for n in range(6)] == [0.25, 0.625, 1.0, 0.25, 0.0625, 0.0625]
    net, step = _linear_problem()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": s})
    assert trainer.learning_rate == 0.25  # s(0) before any step
    weights = [step(trainer) for _ in range(5)]
    moves = -np.diff([0.0] + weights)
    np.testing.assert_allclose(moves, [s(n) for n in range(1, 6)], rtol=1e-6)
    assert trainer.optimizer.num_update == 5 and trainer.optimizer.lr_scheduler is s


def _trainer_with(optimizer_params, optimizer="sgd"):
    net = gluon.nn.Dense(1, in_units=1)
    net.initialize()
    return gluon.Trainer(net.collect_params(), optimizer, optimizer_params)


MXNET_OPTIMIZERS = sorted(mx.optimizer.Optimizer.opt_registry)


def _overwrites_base_lr(name):
    """Whether MXNet's optimizer ``name`` replaces a scheduler's base_lr when given none (probed
    with MXNet's own FactorScheduler, so the expectation comes from MXNet, not from a list)."""
    probe = mx.lr_scheduler.FactorScheduler(step=10, base_lr=0.3)
    mx.optimizer.create(name, lr_scheduler=probe)
    return probe.base_lr != 0.3


# MXNet's LBSGD reads its rate before counting the update, so its n-th step uses schedule(n - 1)
# where every other optimizer uses schedule(n) (optimizer.py, LBSGD.update).
LAGS = {"lbsgd": 1}


def _steps_with(optimizer, optimizer_params, schedule=None, steps=4):
    """Weights after ``steps`` real trainer steps on a fixed problem; with ``schedule`` given,
    the twin way: no scheduler, ``set_learning_rate(schedule(n))`` before the n-th step."""
    mx.random.seed(7)
    net = gluon.nn.Dense(2, in_units=3, use_bias=False)  # 2-D weight: GroupAdaGrad needs one
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), optimizer, optimizer_params)
    x = mx.nd.array(np.arange(12, dtype="float32").reshape(4, 3) / 10)
    for n in range(1, steps + 1):
        if schedule is not None:
            trainer.set_learning_rate(schedule(n - LAGS.get(optimizer, 0)))
        with autograd.record():
            loss = (net(x) - 1.0).square().sum()
        loss.backward()
        mx.random.seed(100 + n)  # SGLD draws noise
        trainer.step(4)
    return net.weight.data().asnumpy(), trainer


@pytest.mark.parametrize("optimizer", MXNET_OPTIMIZERS)
def test_every_mxnet_optimizer_trains_at_the_schedule_values(optimizer):
    s = OneCycleSchedule(max_lr=0.3, total_steps=8, min_lr=0.03)
    values = [s(n) for n in range(10)]
    weights, trainer = _steps_with(optimizer, s.optimizer_params())
    assert trainer.optimizer.lr_scheduler is s and s.base_lr == 0.3
    assert [s(n) for n in range(10)] == values  # not rescaled
    assert trainer.learning_rate == s(trainer.optimizer.num_update)
    # the rates the optimizer used are the schedule's: bitwise the same weights as a twin that
    # sets schedule(n) by hand before its n-th step
    twin, _ = _steps_with(optimizer, {"learning_rate": s(1)}, schedule=s)
    assert np.array_equal(weights, twin), optimizer
    # and the comparison can tell Adam's default 0.001 apart, for every optimizer that reads its
    # rate at all (AdaDelta and MXNet's Test optimizer ignore it)
    constant, _ = _steps_with(optimizer, {"learning_rate": 0.001})
    reads_rate = not np.array_equal(constant, _steps_with(optimizer, {"learning_rate": 0.3})[0])
    assert reads_rate == (optimizer not in ("adadelta", "test"))
    if reads_rate:
        assert not np.array_equal(weights, constant)


@pytest.mark.parametrize("optimizer", MXNET_OPTIMIZERS)
def test_readme_pattern_without_learning_rate_trains_at_the_schedule_or_refuses(optimizer, capsys):
    s = WarmUp(OneCycleSchedule(max_lr=0.3, total_steps=8, min_lr=0.03), steps=2, begin_lr=0.01)
    if _overwrites_base_lr(optimizer):  # Adam, RMSProp, ...: their default learning_rate
        with pytest.raises(ValueError, match=r"learning_rate=.* would replace the peak base_lr=0\.3 .*"
                           r"schedule\.optimizer_params"):
            _trainer_with({"lr_scheduler": s}, optimizer)
        assert s.base_lr == 0.3 and s.schedule.base_lr == 0.3  # untouched
    else:
        weights, _ = _steps_with(optimizer, {"lr_scheduler": s})
        twin, _ = _steps_with(optimizer, {"learning_rate": s(1)}, schedule=s)
        assert np.array_equal(weights, twin) and s.base_lr == 0.3
    capsys.readouterr()


def test_overwrite_refused_for_an_explicit_learning_rate_too():
    s = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1)
    with pytest.raises(ValueError, match=r"learning_rate=0\.5 of the SGD optimizer would replace"):
        _trainer_with({"learning_rate": 0.5, "lr_scheduler": s})
    assert s.base_lr == 1.0 and s(45) == 1.0
    trainer = _trainer_with({"learning_rate": 1.0, "lr_scheduler": s})  # equal to the peak: fine
    assert trainer.learning_rate == 0.1
    with pytest.raises(TypeError, match="optimizer_params\\(\\) sets learning_rate itself, got learning_rate=0.1"):
        s.optimizer_params(learning_rate=0.1)
    with pytest.raises(TypeError, match="sets lr_scheduler itself"):
        s.optimizer_params(lr_scheduler=s)


def test_setting_base_lr_rescales_the_schedule():
    """What LRFinder.apply does: the whole schedule is scaled by base_lr / peak."""
    exact = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1)
    scaled = OneCycleSchedule(max_lr=1.0, total_steps=100, min_lr=0.1)
    scaled.base_lr = 0.5
    assert repr(scaled).endswith("anneal='linear', base_lr=0.5)") and "base_lr" not in repr(exact)
    assert scaled(45) == 0.5 and scaled(0) == pytest.approx(0.05) and scaled(100) == pytest.approx(0.0005)
    trainer = _trainer_with(scaled.optimizer_params(), "adam")
    assert trainer.learning_rate == pytest.approx(0.05)
    # a wrapper forwards it to the schedule it wraps
    wrapped = WarmUp(OneCycleSchedule(max_lr=1.0, total_steps=100), steps=10)
    wrapped.base_lr = 2.0
    assert wrapped.schedule.base_lr == 2.0 and wrapped.base_lr == 2.0 and wrapped(55) == 2.0
    assert wrapped.optimizer_params()["learning_rate"] == 2.0


def test_survives_trainer_save_and_load_states(array_mode, tmp_path):
    s = CoolDown(WarmUp(TriangularSchedule(0.01, 0.1, step_size=3, decay=0.5), steps=2), start=20, steps=4)
    restored = pickle.loads(pickle.dumps(s))
    assert [restored(n) for n in range(30)] == [s(n) for n in range(30)]
    net, step = _linear_problem()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": s})
    step(trainer)
    trainer.save_states(str(tmp_path / "states"))
    trainer.load_states(str(tmp_path / "states"))
    assert [trainer.optimizer.lr_scheduler(n) for n in range(30)] == [s(n) for n in range(30)]


# ---------------------------------------------------------------- the finder with a schedule attached


def _train_steps(net, trainer, X, y, loss_fn, steps):
    for k in range(steps):
        xb, yb = X[k * 16:(k + 1) * 16], y[k * 16:(k + 1) * 16]
        with autograd.record():
            loss = loss_fn(net(xb), yb)
        loss.backward()
        trainer.step(16)


def test_finder_leaves_an_attached_schedule_and_training_untouched(array_mode, digits, make_learner):
    X = mode_array(np.stack([digits.train[i][0] for i in range(96)]))
    y = mode_array(np.array([digits.train[i][1] for i in range(96)]))
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()

    def setup(seed=3):
        mx.random.seed(seed)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(32, activation="relu", in_units=64), gluon.nn.Dense(10, in_units=32))
        net.initialize(mx.init.Xavier())
        schedule = OneCycleSchedule(max_lr=0.5, total_steps=6)
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"lr_scheduler": schedule, "momentum": 0.9})
        _train_steps(net, trainer, X, y, loss_fn, 3)  # momentum and num_update = 3 to keep
        return net, trainer, schedule

    net, trainer, schedule = setup()
    values = [schedule(n) for n in range(10)]
    params, states = capture_params(net), trainer_state_bytes(trainer)
    learner = make_learner(net=net, trainer=trainer)
    finder = LRFinder(learner)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # MXNet's "LRScheduler ... already defined" would raise
        finder.find(lr_start=1e-3, lr_end=5, num_iter=30, progress=False)
    assert len(finder.curve.pairs) >= 20
    assert trainer.optimizer.lr_scheduler is schedule
    assert [schedule(n) for n in range(10)] == values and schedule.base_lr == 0.5
    assert trainer.optimizer.num_update == 3 and trainer.learning_rate == schedule(3)
    assert_params_equal(params, capture_params(net))
    assert trainer_state_bytes(trainer) == states
    # training goes on exactly as if the finder had never run
    _train_steps(net, trainer, X[48:], y[48:], loss_fn, 3)
    twin_net, twin_trainer, _ = setup()
    _train_steps(twin_net, twin_trainer, X[48:], y[48:], loss_fn, 3)
    twin, ours = capture_params(twin_net), capture_params(net)  # same layout, other names
    assert_params_equal(dict(enumerate(twin.values())), dict(enumerate(ours.values())))
    assert trainer.optimizer.num_update == twin_trainer.optimizer.num_update == 6
