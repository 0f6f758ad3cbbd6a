import math
import os
import warnings

import mxnet as mx
import numpy as np
import pytest
from conftest import capture_params, mode_array
from mxnet import autograd, gluon

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.core.smoothing import ema
from gluon_lrfinder.core.stopping import StoppingCriteria, StopReason


def fixed_steps(learner, task, steps=3, lr=0.05):
    """Train on fixed batches (no data loader involved) so two runs can be compared bitwise."""
    for i in range(steps):
        X, y = task.train[i * 32:(i + 1) * 32]
        data, label = mode_array(X, ctx=learner.ctx[0]), mode_array(y, ctx=learner.ctx[0])
        learner.trainer.set_learning_rate(lr)
        with autograd.record():
            loss = learner.loss_fn(learner.net(data), label)
        loss.backward()
        learner.trainer.step(32)
    return capture_params(learner.net)


@pytest.mark.parametrize("net, optimizer, hybridize", [
    ("mlp_bn", "sgd", False),
    ("mlp_bn", "adam", True),
    ("cnn", "rmsprop", True),
])
def test_find_restores_state_bitwise_and_training_continues_identically(array_mode,
        make_learner, state_checker, digits, digits_image, tmp_path, net, optimizer, hybridize):
    task = digits_image if net == "cnn" else digits
    learner = make_learner(net=net, optimizer=optimizer, hybridize=hybridize, task=task, warm_steps=3)
    checker = state_checker(learner)
    # reference: the continuation of a run that never searched (MXNet's own exact save/load)
    learner.net.save_parameters(str(tmp_path / "ref.params"))
    learner.trainer.save_states(str(tmp_path / "ref.states"))
    reference = fixed_steps(learner, task)
    learner.net.load_parameters(str(tmp_path / "ref.params"))
    learner.trainer.load_states(str(tmp_path / "ref.states"))
    checker.check()

    results = LRFinder(learner).find(lr_start=1e-5, lr_end=10.0, progress=False)
    assert len(results) > 20
    checker.check()
    after = fixed_steps(learner, task)
    for name in reference:
        assert np.array_equal(reference[name][0], after[name][0]), name


def test_sweep_records_the_tutorial_curve_and_stops_on_divergence(array_mode, make_learner):
    learner = make_learner(net="mlp", warm_steps=0, optimizer_params={"learning_rate": 0.01})
    finder = LRFinder(learner)
    results = finder.find(lr_start=1e-4, lr_multiplier=1.15, smoothing=0.3, progress=False)
    lrs = [lr for lr, _ in results]
    losses = [loss for _, loss in results]
    assert lrs[0] == 1e-4
    assert all(math.isclose(b / a, 1.15) for a, b in zip(lrs, lrs[1:]))
    curve = finder.curve
    assert curve.stop_reason in ("diverged", "non-finite loss")
    finite = [x for x in losses if math.isfinite(x)]
    assert min(finite) < 0.5 * losses[0]  # the loss fell on the way
    if curve.stop_reason == "diverged":
        assert curve.smoothed[-1] > 2.0 * losses[0]
        assert np.allclose(curve.smoothed, ema(losses, 0.3))
        assert len(results) >= 20  # min_iter
    assert finder.curve.pairs == results
    assert learner.trainer.learning_rate == 0.01


def test_num_iter_and_lr_end_bound_the_sweep(make_learner):
    learner = make_learner(warm_steps=0)
    finder = LRFinder(learner)
    results = finder.find(lr_start=1e-6, lr_end=1e-4, num_iter=25, progress=False)
    assert len(results) == 25 and results[-1][0] == 1e-4
    assert finder.curve.stop_reason == "lr_end reached"
    results = finder.find(lr_start=1e-6, num_iter=12, progress=False)
    assert len(results) == 12 and finder.curve.stop_reason == "num_iter reached"


def test_linear_mode(make_learner):
    finder = LRFinder(make_learner())
    results = finder.find(lr_start=1e-4, lr_end=1e-3, num_iter=10, mode="linear", progress=False)
    lrs = np.array([lr for lr, _ in results])
    assert len(lrs) == 10 and np.allclose(np.diff(lrs), 1e-4)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lr_start=0), ValueError, r"lr_start must be a finite number > 0, got 0"),
    (dict(lr_start=-1.0), ValueError, r"lr_start must be a finite number > 0, got -1\.0"),
    (dict(lr_multiplier=1.0), ValueError, r"lr_multiplier must be a finite number > 1\.0, got 1\.0"),
    (dict(lr_start=1e-3, lr_end=1e-4), ValueError, r"lr_end must be a finite number > lr_start \(0\.001\)"),
    (dict(smoothing=1.0), ValueError, r"smoothing must be in \[0, 1\), got 1\.0"),
    (dict(smoothing=-0.5), ValueError, r"smoothing must be in \[0, 1\)"),
    (dict(min_iter=0), ValueError, r"min_iter must be an integer >= 1, got 0"),
    (dict(threshold=0.9), ValueError, r"threshold must be a finite number > 1\.0, got 0\.9"),
    (dict(mode="cubic"), ValueError, r"mode must be one of 'exponential', 'linear', got 'cubic'"),
    (dict(mode="linear"), ValueError, r"lr_end must be given for mode='linear'"),
    (dict(num_iter=1), ValueError, r"num_iter must be an integer >= 2, got 1"),
    (dict(stopping=3), TypeError, r"stopping must be a StoppingCriteria"),
])
def test_bad_arguments_touch_nothing(make_learner, state_checker, kwargs, exc, match):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)
    with pytest.raises(exc, match=match):
        LRFinder(learner).find(progress=False, **kwargs)
    checker.check()
    assert learner._pending is None  # not even a batch was fetched


def test_not_a_learner():
    with pytest.raises(TypeError, match="learner must be a gluon_lrfinder.Learner"):
        LRFinder(object())


def test_suggest_and_plot_before_find(make_learner):
    finder = LRFinder(make_learner())
    for call in (finder.suggest, finder.plot, finder.suggest_range, lambda: finder.save("x.csv")):
        with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before"):
            call()
    assert finder.curve is None


class FailingLoss:
    """A loss that raises (or returns NaN) on its k-th call."""

    def __init__(self, k, error=None, nan=False):
        self.k, self.error, self.nan, self.calls = k, error, nan, 0
        self.inner = gluon.loss.SoftmaxCrossEntropyLoss()

    def __call__(self, output, label):
        self.calls += 1
        loss = self.inner(output, label)
        if self.calls >= self.k:
            if self.error is not None:
                raise self.error
            if self.nan:
                return loss * float("nan")
        return loss


@pytest.mark.parametrize("error", [RuntimeError("boom in the loss"), MemoryError()])
def test_fault_mid_sweep_restores_and_cleans_up(array_mode, make_learner, state_checker, tmp_path, error):
    learner = make_learner(net="mlp_bn", warm_steps=3)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=7, error=error)
    with pytest.raises(type(error)):
        LRFinder(learner).find(lr_start=1e-4, progress=False, tmp_dir=str(tmp_path))
    assert learner.loss_fn.calls == 7
    checker.check()
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------- Ctrl-C keeps the curve (issue 11)
@pytest.mark.parametrize("k", [1, 6])
def test_ctrl_c_at_iteration_k_keeps_k_points_and_restores(make_learner, state_checker, tmp_path, k):
    """Ctrl-C while iteration k+1 is being queued: the k iterations run before it are kept."""
    learner = make_learner(net="mlp_bn", warm_steps=3)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=k + 1, error=KeyboardInterrupt())
    finder = LRFinder(learner)
    # the script stops (issue 18): restored, the curve kept on the finder, the interrupt re-raised
    with pytest.raises(KeyboardInterrupt, match=f"interrupted \\(Ctrl-C\\) after {k} recorded iterations"):
        finder.find(lr_start=1e-4, lr_multiplier=1.2, progress=False, tmp_dir=str(tmp_path))
    results = finder.curve.pairs
    assert learner.loss_fn.calls == k + 1
    expected_lrs = [1e-4 * 1.2**i for i in range(k)]
    assert len(results) == k
    np.testing.assert_allclose([lr for lr, _ in results], expected_lrs, rtol=1e-12)
    assert all(math.isfinite(loss) for _, loss in results)
    assert finder.curve.stop_reason == StopReason.INTERRUPTED
    checker.check()  # parameters, BatchNorm statistics and trainer state bitwise as before
    assert os.listdir(tmp_path) == []
    # the kept curve is usable: save and load it back
    finder.save(tmp_path / "run.json")
    assert LRFinder(learner).load(tmp_path / "run.json").stop_reason == StopReason.INTERRUPTED
    os.remove(tmp_path / "run.json")


def test_ctrl_c_keeps_a_curve_that_plots_and_suggests(make_learner, state_checker, tmp_path):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=46, error=KeyboardInterrupt())
    finder = LRFinder(learner)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        finder.find(lr_start=1e-5, lr_end=10, num_iter=60, progress=False)
    assert len(finder.curve.pairs) == 45 and finder.curve.stop_reason == StopReason.INTERRUPTED
    checker.check()
    assert 1e-5 <= finder.suggest(warn=False) <= finder.curve.pairs[-1][0]
    low, high = finder.suggest_range()
    assert low < high
    ax = finder.plot(path=tmp_path / "lr.png")
    assert os.path.getsize(tmp_path / "lr.png") > 0 and len(ax.lines) >= 2


def test_ctrl_c_while_reading_a_loss_keeps_that_point(make_learner, state_checker):
    """The interrupt arrives in the loss read of iteration k (iteration k+1 already queued)."""
    learner = make_learner(net="mlp_bn", warm_steps=2)
    checker = state_checker(learner)

    class InterruptedOnce(StoppingCriteria):
        calls = 0

        def __call__(self, loss):
            self.calls += 1
            if self.calls == 5:
                raise KeyboardInterrupt
            return super().__call__(loss)

    finder = LRFinder(learner)
    with pytest.raises(KeyboardInterrupt, match="after 5 recorded iterations"):
        finder.find(lr_start=1e-4, lr_multiplier=1.2, stopping=InterruptedOnce(), progress=False)
    assert len(finder.curve.pairs) == 5 and finder.curve.stop_reason == StopReason.INTERRUPTED
    checker.check()


def test_ctrl_c_during_find_repeated_stops_every_run(make_learner, state_checker):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=30, error=KeyboardInterrupt())
    finder = LRFinder(learner)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        finder.find_repeated(repeats=3, lr_start=1e-4, lr_end=1.0, num_iter=20)
    assert learner.loss_fn.calls == 30  # the second run was interrupted, no third one ran
    assert finder.curve.stop_reason == StopReason.INTERRUPTED and len(finder.curve.pairs) == 9
    checker.check()


def test_ctrl_c_during_find_grid_stops_the_grid_and_keeps_the_curve(make_learner, state_checker):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=25, error=KeyboardInterrupt())
    finder = LRFinder(learner)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        finder.find_grid(weight_decay=[0, 1e-4, 1e-3], lr_start=1e-4, lr_end=1.0, num_iter=20)
    assert learner.loss_fn.calls == 25 and finder.result is finder.curve  # not a grid
    assert finder.curve.stop_reason == StopReason.INTERRUPTED and len(finder.curve.pairs) == 4
    checker.check()


# ---------------------------------------------------------------------- recorded settings (issue 11)
def test_settings_record_the_multiplier_and_length_used(make_learner):
    finder = LRFinder(make_learner())
    finder.find(lr_start=1e-4, num_iter=25, progress=False)
    assert finder.curve.settings["lr_multiplier"] == 1.1  # the default, not None
    finder.find(lr_start=1e-4, lr_end=1.0, num_iter=21, progress=False)
    assert finder.curve.settings["lr_multiplier"] == pytest.approx(10 ** 0.2)  # derived
    finder.find(lr_start=1e-4, lr_end=1.0, mode="linear", progress=False)
    assert finder.curve.settings["lr_multiplier"] is None and finder.curve.settings["num_iter"] == 100


def test_without_a_progress_bar_tqdm_auto_is_not_imported():
    """tqdm.auto warns at import in a kernel without ipywidgets ("IProgress not found"): with
    progress=False (as in the tutorials) that warning must not appear in their output."""
    import subprocess
    import sys

    code = ("import sys; from gluon_lrfinder.engine.sweep import _progress_bar; "
            "bar = _progress_bar(None, False); bar.update(1); bar.close(); print('tqdm.auto' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_apply_before_find_names_apply(make_learner):
    with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before apply\(\)"):
        LRFinder(make_learner()).apply()


def test_nan_at_the_first_iteration(array_mode, make_learner, state_checker, no_temp_leftovers):
    learner = make_learner(net="mlp_bn", warm_steps=2)
    checker = state_checker(learner)
    learner.loss_fn = FailingLoss(k=1, nan=True)
    finder = LRFinder(learner)
    results = finder.find(lr_start=1e-4, progress=False)
    assert len(results) == 1 and math.isnan(results[0][1])
    assert finder.curve.stop_reason == "non-finite loss"
    checker.check()
    with pytest.raises(ValueError, match="too few points to suggest a learning rate"):
        finder.suggest()


def test_unwritable_temp_dir(make_learner, state_checker, tmp_path):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(OSError):
        LRFinder(learner).find(progress=False, tmp_dir=str(not_a_dir))
    checker.check()


def test_disk_full_while_saving(make_learner, state_checker, tmp_path, monkeypatch):
    learner = make_learner(warm_steps=2)
    checker = state_checker(learner)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(mx.nd, "save", full)
    with pytest.raises(OSError, match="No space left on device"):
        LRFinder(learner).find(progress=False, tmp_dir=str(tmp_path))
    monkeypatch.undo()
    checker.check()
    assert os.listdir(tmp_path) == []


def test_default_temp_folder_is_private_and_removed(make_learner, no_temp_leftovers, monkeypatch):
    import tempfile

    made = []
    real_mkdtemp = tempfile.mkdtemp

    def spy(*args, **kwargs):
        made.append(real_mkdtemp(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    cwd_before = set(os.listdir("."))
    LRFinder(make_learner()).find(lr_start=1e-5, num_iter=5, progress=False)
    assert len(made) == 1 and made[0].startswith(str(no_temp_leftovers))
    assert os.path.basename(made[0]).startswith("gluon-lrfinder-")
    assert not os.path.exists(made[0])
    assert set(os.listdir(".")) == cwd_before


def test_trainer_with_lr_scheduler(array_mode, digits):
    mx.random.seed(0)
    from gluon_lrfinder.demo import build_net
    from gluon_lrfinder.engine.sampler import make_loader

    net = build_net("mlp", 10)
    net.initialize()
    sched = mx.lr_scheduler.FactorScheduler(step=5, factor=0.5, base_lr=0.1)
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1, "lr_scheduler": sched})
    learner = Learner(net, make_loader(digits.train, 32, seed=0), trainer=trainer)
    for _ in range(7):
        learner.iteration()
    sched_state = dict(vars(sched))
    lr_before, updates = trainer.learning_rate, trainer.optimizer.num_update
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        LRFinder(learner).find(lr_start=1e-4, num_iter=30, progress=False)
    assert trainer.optimizer.lr_scheduler is sched
    assert vars(sched) == sched_state
    assert trainer.learning_rate == lr_before == sched(updates)
    assert trainer.optimizer.num_update == updates


def test_fresh_deferred_net_is_initialized_and_left_fresh(array_mode, digits):
    from gluon_lrfinder.demo import build_net
    from gluon_lrfinder.engine.sampler import make_loader

    net = build_net("mlp_bn", 10)  # no in_units: shapes are deferred until a forward pass
    learner = Learner(net, make_loader(digits.train, 32, seed=0), optimizer="adam")
    finder = LRFinder(learner)
    finder.find(lr_start=1e-5, num_iter=40, progress=False)
    assert learner.trainer.optimizer.num_update == 0
    w = net[0].weight.data().asnumpy()
    assert w.shape == (64, 64) and np.all(np.isfinite(w))
    # a fresh optimizer: no Adam moments were carried over from the sweep
    learner.iteration(lr=0.001)
    assert learner.trainer.optimizer.num_update == 1


def test_save_and_reload_a_run(make_learner, tmp_path):
    finder = LRFinder(make_learner())
    finder.find(lr_start=1e-5, lr_end=10, progress=False)
    lr = finder.suggest(warn=False)
    for name in ("run.csv", "run.json"):
        finder.save(tmp_path / name)
        other = LRFinder(make_learner())
        other.load(tmp_path / name)
        assert other.curve.pairs == finder.curve.pairs
        assert other.suggest(warn=False) == lr
        assert other.curve.settings["lr_start"] == 1e-5


# ---------------------------------------------------------------------- report() and apply() (issue 3)
def test_report_and_apply_set_the_suggested_rate(array_mode, make_learner):
    learner = make_learner()
    finder = LRFinder(learner)
    with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before report"):
        finder.report()
    finder.find(lr_start=1e-4, lr_end=3.0, num_iter=40, progress=False)
    report = finder.report(method="steepest")
    assert report.lr == finder.suggest(method="steepest", warn=False)
    # the curve's own flags, and (another rule than the default) whether it lies outside the range
    assert [f for f in report.flags if not f.startswith("suggestion outside the range")] == finder.curve.diagnose()
    assert finder.report().flags == finder.curve.diagnose()  # the default lies inside the range
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # apply() warns the curve's flags
        assert finder.apply(method="steepest") == report.lr
    assert learner.trainer.learning_rate == report.lr
    assert finder.apply(lr=0.0123) == 0.0123 and learner.trainer.learning_rate == 0.0123
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0.0"):
        finder.apply(lr=0.0)


def test_apply_with_an_lr_scheduler_sets_its_base_lr(digits):
    from gluon_lrfinder.demo import build_net
    from gluon_lrfinder.engine.sampler import make_loader

    mx.random.seed(0)
    scheduler = mx.lr_scheduler.FactorScheduler(step=10, factor=0.5, base_lr=0.1)
    learner = Learner(build_net("mlp", 10), make_loader(digits.train, 32, seed=0), optimizer="sgd",
                      optimizer_params={"learning_rate": 0.1, "lr_scheduler": scheduler})
    finder = LRFinder(learner)
    finder.find(lr_start=1e-4, lr_end=3.0, num_iter=30, progress=False)
    lr = finder.apply(method="steepest")
    assert learner.trainer.optimizer.lr_scheduler is scheduler and scheduler.base_lr == lr
    learner.close()


# ---------------------------------------------------------------------- the front (issue 19)
def test_find_takes_keywords_and_a_stopping_rule_only_for_what_they_cannot_say(make_learner):
    from gluon_lrfinder.core.stopping import LRFinderStoppingCriteria

    finder = LRFinder(make_learner())
    tutorial = finder.find(lr_start=1e-4, lr_end=1.0, num_iter=12, stopping=LRFinderStoppingCriteria(),
                           progress=False)
    curve = finder.curve
    again = LRFinder(make_learner()).find(lr_start=1e-4, lr_end=1.0, num_iter=12, smoothing=0.3, min_iter=20,
                                          threshold=2.0, progress=False)
    assert [lr for lr, _ in tutorial] == [lr for lr, _ in again]
    default = LRFinder(make_learner())
    default.find(lr_start=1e-4, lr_end=1.0, num_iter=12, progress=False)
    assert "patience" not in curve.settings and "patience" in default.curve.settings  # the rule is recorded
    with pytest.raises(TypeError, match="give stopping or smoothing, not both"):
        finder.find(stopping=LRFinderStoppingCriteria(), smoothing=0.5, progress=False)
    with pytest.raises(TypeError, match="positional argument"):
        finder.find(1e-6, 1.1, 0.3)  # the tutorial's positional form would mean something else now: refused
    assert finder.result is curve  # refused before anything ran
