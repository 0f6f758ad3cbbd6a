"""Repeated range tests: the pure summary (bands, suggestions, stability) and LRFinder.find_repeated."""
import math

import numpy as np
import pytest

from gluon_lrfinder import LRFinder
from gluon_lrfinder.core.curve import LRCurve
from gluon_lrfinder.core.plotting import plot_bands, pyplot
from gluon_lrfinder.core.repeated import stability_score, summarize_sweeps
from gluon_lrfinder.core.rules import steepest
from gluon_lrfinder.core.smoothing import smoothed_on_grid


def hand_curve(shift, n=61, stop=None, noise=0.0, seed=0):
    lrs = np.logspace(-5, 1, n)
    x = np.log10(lrs)
    losses = 2.3 - np.tanh(2 * (x + 2.5 - shift)) + np.exp(3 * (x - 0.2))
    losses = losses + np.random.RandomState(seed).normal(0, noise, n)
    k = n if stop is None else stop
    return LRCurve(lrs=list(lrs[:k]), losses=list(losses[:k]))


# ---------------------------------------------------------------------- pure summary
def test_bands_are_ordered_and_the_envelope_holds_every_run():
    curves = [hand_curve(s, stop=stop, noise=0.05, seed=i)
              for i, (s, stop) in enumerate([(0.0, None), (0.2, 55), (-0.2, 58), (0.1, None), (-0.1, 50)])]
    result = summarize_sweeps(curves, method="steepest")
    assert len(result.lrs) == 61
    ok = np.isfinite(result.median)
    assert ok.sum() >= 55  # where at least 3 of the 5 runs still run
    assert np.all(result.low[ok] <= result.median[ok] + 1e-12)
    assert np.all(result.median[ok] <= result.high[ok] + 1e-12)
    assert np.all(result.envelope_low[ok] <= result.low[ok] + 1e-12)
    assert np.all(result.high[ok] <= result.envelope_high[ok] + 1e-12)
    x = np.log10(result.lrs)
    for curve in curves:
        own = smoothed_on_grid(x, curve, None)
        there = np.isfinite(own)
        assert there.sum() == len(curve)
        assert np.all(result.envelope_low[there] <= own[there] + 1e-12)
        assert np.all(own[there] <= result.envelope_high[there] + 1e-12)


def test_suggestions_interval_and_stability():
    curves = [hand_curve(s) for s in (0.0, 0.3, -0.3)]
    result = summarize_sweeps(curves, method="steepest", seeds=[7, 8, 9])
    expected = [steepest(c.lrs, c.losses) for c in curves]
    assert result.suggestions == expected
    assert result.interval == (min(expected), max(expected))
    assert result.lr == pytest.approx(expected[0], rel=1e-9)  # the median run
    spread = math.log10(max(expected) / min(expected))
    assert 0.5 < spread < 0.7
    assert result.stability == pytest.approx(1 - spread)
    assert result.seeds == [7, 8, 9]
    assert "3 range tests (steepest)" in str(result) and "stability" in str(result)


def test_stability_score_values_and_errors():
    assert stability_score([1e-2, 1e-2, 1e-2]) == 1.0
    assert stability_score([1e-3, 1e-1]) == 0.0
    assert stability_score([1e-3, 10 ** -2.75]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="suggestions must be a non-empty sequence of LRs > 0"):
        stability_score([])


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 range tests"):
        summarize_sweeps([hand_curve(0.0)])
    with pytest.raises(ValueError, match="method must be one of"):
        summarize_sweeps([hand_curve(0.0), hand_curve(0.1)], method="median")


def test_plot_bands_draws_median_band_and_suggestions(tmp_path):
    result = summarize_sweeps([hand_curve(s, noise=0.03, seed=i) for i, s in enumerate((0.0, 0.2, -0.2))],
                              method="steepest")
    path = tmp_path / "bands.png"
    ax = plot_bands(result, path=path)
    assert path.exists() and path.stat().st_size > 5000
    labels = [line.get_label() for line in ax.get_lines()]
    assert "median of 3 runs" in labels
    marker = [line for line in ax.get_lines() if line.get_label().startswith("suggested lr")]
    assert len(marker) == 1 and np.isclose(marker[0].get_xdata()[0], result.lr)
    assert len(ax.collections) >= 1  # the 10%-90% band
    pyplot().close(ax.figure)


# ---------------------------------------------------------------------- LRFinder.find_repeated
def snapshot_state(learner, tmp_path, tag):
    params = {n: [d.asnumpy().copy() for d in p.list_data()] for n, p in learner.net.collect_params().items()}
    path = str(tmp_path / f"{tag}.states")
    learner.trainer.save_states(path)
    with open(path, "rb") as f:
        states = f.read()
    return params, states, learner.trainer.learning_rate


def assert_same_state(a, b):
    params_a, states_a, lr_a = a
    params_b, states_b, lr_b = b
    assert params_a.keys() == params_b.keys()
    for name in params_a:
        for x, y in zip(params_a[name], params_b[name]):
            assert np.array_equal(x, y), name
    assert states_a == states_b
    assert lr_a == lr_b


@pytest.mark.parametrize("vary_init", [False, True])
def test_find_repeated_restores_state_bitwise_and_varies_the_runs(array_mode, make_learner, tmp_path, vary_init):
    learner = make_learner(net="mlp_bn", warm_steps=3)  # momentum and BN statistics to restore
    before = snapshot_state(learner, tmp_path, "before")
    np.random.seed(123)
    np_state = np.random.get_state()
    finder = LRFinder(learner)
    result = finder.find_repeated(repeats=3, vary_init=vary_init, seed=5, method="steepest",
                                  lr_start=1e-4, lr_end=3.0, num_iter=40)
    assert_same_state(before, snapshot_state(learner, tmp_path, "after"))
    after_np = np.random.get_state()
    assert np.array_equal(np_state[1], after_np[1]) and np_state[2] == after_np[2]
    assert len(result.curves) == 3 and result.seeds == [5, 6, 7]
    assert finder.result is result and finder.curve is result.curves[-1]
    firsts = [c.losses[0] for c in result.curves]
    assert len(set(firsts)) == 3  # different data order (and weights): different first losses
    ok = np.isfinite(result.median)
    assert np.all(result.low[ok] <= result.median[ok]) and np.all(result.median[ok] <= result.high[ok])
    for curve in result.curves:  # every run's smoothed curve lies inside the envelope
        own = smoothed_on_grid(np.log10(result.lrs), curve, None)
        there = np.isfinite(own)
        assert np.all(result.envelope_low[there] <= own[there] + 1e-12)
        assert np.all(own[there] <= result.envelope_high[there] + 1e-12)
    assert result.interval[0] <= result.lr <= result.interval[1]


def test_vary_init_changes_the_starting_weights_but_not_the_data_order(make_learner):
    finder = LRFinder(make_learner(net="mlp_bn"))
    kwargs = {"repeats": 2, "seed": 11, "lr_start": 1e-4, "lr_end": 3.0, "num_iter": 20}
    same = finder.find_repeated(vary_init=False, **kwargs)
    again = finder.find_repeated(vary_init=False, **kwargs)
    varied = finder.find_repeated(vary_init=True, **kwargs)
    for a, b, c in zip(same.curves, again.curves, varied.curves):
        assert a.losses == b.losses
        assert a.losses[0] != c.losses[0]


def test_find_repeated_rejects_bad_arguments(make_learner):
    learner = make_learner()
    finder = LRFinder(learner)
    with pytest.raises(ValueError, match="repeats must be an integer >= 2"):
        finder.find_repeated(repeats=1)
    with pytest.raises(ValueError, match="method must be one of"):
        finder.find_repeated(repeats=2, method="best")
    with pytest.raises(TypeError, match="initializer must be an mx.init.Initializer"):
        finder.find_repeated(repeats=2, vary_init=True, initializer="xavier")
    with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before plot\(\)"):
        LRFinder(learner).plot()


def test_apply_after_find_repeated_uses_the_median_suggestion(make_learner):
    learner = make_learner()
    finder = LRFinder(learner)
    result = finder.find_repeated(repeats=3, method="steepest", lr_start=1e-4, lr_end=3.0, num_iter=30)
    assert finder.apply(method="steepest") == result.lr
    assert learner.trainer.learning_rate == result.lr


def test_find_repeated_and_grid_take_a_rule_callable(make_learner):
    def tenth_of_minimum(lrs, losses, bandwidth=None):
        from gluon_lrfinder.core.rules import minimum

        return minimum(lrs, losses, bandwidth)

    finder = LRFinder(make_learner())
    result = finder.find_repeated(repeats=2, method=tenth_of_minimum, lr_start=1e-4, lr_end=10.0)
    assert result.method == "tenth_of_minimum" and "(tenth_of_minimum)" in str(result)
    assert result.suggestions == [pytest.approx(tenth_of_minimum(c.lrs, c.losses)) for c in result.curves]
    runs = [tenth_of_minimum(c.lrs, c.losses) for c in result.curves]
    assert finder.suggest(method=tenth_of_minimum, warn=False) == pytest.approx(  # the runs' geometric median
        float(10 ** np.median(np.log10(runs))))
    grid = finder.find_grid(weight_decay=[0.0], method=tenth_of_minimum, lr_start=1e-4, lr_end=10.0)
    assert grid.method == "tenth_of_minimum"


def test_apply_reads_the_latest_search_median_then_a_later_find(make_learner, tmp_path):
    learner = make_learner()
    finder = LRFinder(learner)
    kwargs = {"lr_start": 1e-4, "lr_end": 3.0, "num_iter": 30}
    result = finder.find_repeated(repeats=3, seed=1, method="steepest", **kwargs)
    assert finder.apply(method="steepest") == result.lr
    finder.find(**kwargs, progress=False)  # a later plain search: its own curve decides
    assert finder.apply(method="steepest") == finder.curve.suggest(method="steepest", warn=False)
    result = finder.find_repeated(repeats=2, seed=4, method="steepest", **kwargs)
    result.curves[0].save(tmp_path / "first.json")
    finder.load(tmp_path / "first.json")  # a loaded curve decides too
    assert finder.apply(method="steepest") == finder.curve.suggest(method="steepest", warn=False)
    result = finder.find_repeated(repeats=2, seed=6, method="steepest", **kwargs)
    finder.result = result.curves[0]  # and so does a curve set by hand
    assert finder.apply(method="steepest") == result.curves[0].suggest(method="steepest", warn=False)


def test_one_state_snapshot_per_run(make_learner, monkeypatch):
    import gluon_lrfinder.engine.sweep as sweep_module

    entered = []

    class Counting(sweep_module.StateSnapshot):
        def __enter__(self):
            entered.append(self)
            return super().__enter__()

    monkeypatch.setattr(sweep_module, "StateSnapshot", Counting)
    finder = LRFinder(make_learner())
    finder.find_repeated(repeats=3, vary_init=True, lr_start=1e-4, lr_end=3.0, num_iter=20)
    assert len(entered) == 3
    entered.clear()
    finder.find_grid(weight_decay=[0, 1e-3], momentum=[0.8, 0.9], lr_start=1e-4, lr_end=3.0, num_iter=20)
    assert len(entered) == 4
