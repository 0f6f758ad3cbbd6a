"""Weight decay / momentum grid: the pure summary and rule, and LRFinder.find_grid on real data."""
import numpy as np
import pytest

from gluon_lrfinder import LRFinder
from gluon_lrfinder.core.curve import LRCurve
from gluon_lrfinder.core.grid import grid_values, summarize_grid
from gluon_lrfinder.core.grid_rows import GridRow, curve_summary, momentum_note, recommend
from gluon_lrfinder.core.plotting import pyplot

FIND = dict(lr_start=1e-4, lr_end=20.0, progress=False)


def shaped_curve(floor, blow_up, n=61):
    """Falls from 2 to ``floor`` around lr 1e-3, diverges past lr 10**blow_up."""
    lrs = np.logspace(-5, 1, n)
    x = np.log10(lrs)
    losses = floor + (2 - floor) * (1 - np.tanh(2 * (x + 3))) / 2 + np.exp(5 * (x - blow_up))
    return LRCurve(lrs=list(lrs), losses=list(losses))


# ---------------------------------------------------------------------- pure part
def test_curve_summary_reads_the_floor_and_where_divergence_starts():
    early, late = shaped_curve(0.5, -1.0), shaped_curve(0.5, 0.0)
    s_early = curve_summary(early.lrs, early.losses)
    s_late = curve_summary(late.lrs, late.losses)
    assert 0.5 <= s_early["lowest_loss"] < 0.6  # the floor, lifted a little by the tanh and exp tails
    assert s_early["stable_lr"] < s_late["stable_lr"]
    # the curve has passed its start level (about 2) just after the reported stable rate
    lrs = np.asarray(late.lrs)
    assert 10 ** -0.5 < s_late["stable_lr"] < 10 ** 0.5
    assert s_early["lr"] is not None and 1e-5 < s_early["lr"] < s_early["stable_lr"]
    assert lrs[0] <= s_late["stable_lr"] <= lrs[-1]


def test_curve_summary_needs_two_finite_points():
    with pytest.raises(ValueError, match="at least 2 finite points, got 1"):
        curve_summary([1e-3, 1e-2], [1.0, float("nan")])


def test_recommend_prefers_lowest_loss_then_the_most_stable():
    rows = [GridRow({"weight_decay": 0.0}, 0.1, 0.50, 0.3),
            GridRow({"weight_decay": 1e-4}, 0.2, 0.51, 0.9),   # within 5% of the best, more stable
            GridRow({"weight_decay": 1e-3}, 0.3, 0.80, 5.0)]   # most stable but a much higher loss
    choice = recommend(rows)
    assert choice["index"] == 1
    assert "weight_decay=0.0001" in choice["reason"] and "0.9" in choice["reason"]
    assert recommend(rows, tolerance=0.0)["index"] == 0       # no slack: the lowest loss wins
    assert recommend(rows, tolerance=1.0)["index"] == 2       # loose: the most stable wins
    with pytest.raises(ValueError, match="tolerance must be >= 0, got -0.1"):
        recommend(rows, tolerance=-0.1)
    with pytest.raises(ValueError, match="rows must hold at least one"):
        recommend([])


def test_summarize_grid_table_and_text():
    combos = [{"weight_decay": 0.0}, {"weight_decay": 1e-4}, {"weight_decay": 1e-3}]
    curves = [shaped_curve(0.5, -1.0), shaped_curve(0.5, -0.3), shaped_curve(1.2, 0.5)]
    result = summarize_grid(combos, curves)
    # no current values to compare with: Smith's rule gives the sweep's pick, and nothing is recommended
    assert result.candidate == {"weight_decay": 1e-4} and result.candidate_index == 1
    assert result.candidate_lr == result.rows[1].lr
    assert result.best is None and result.best_index is None and result.lr is None
    table = result.table()
    assert [t["weight_decay"] for t in table] == [0.0, 1e-4, 1e-3]
    text = str(result)
    assert "3 combinations" in text and "<- recommended" not in text
    assert text.count("<- sweep's pick (not validated)") == 1
    assert "Recommended: no recommendation" in text and "range tests" in text
    kept = summarize_grid(combos, curves, current=0)  # with the trainer's values: keep them
    assert kept.best == {"weight_decay": 0.0} and kept.best_index == 0 and kept.lr == kept.rows[0].lr
    assert str(kept).count("<- recommended") == 1
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        summarize_grid(combos, curves[:2])


def test_grid_values_checks():
    assert grid_values("momentum", None) is None
    assert grid_values("momentum", 0.9) == [0.9]
    with pytest.raises(ValueError, match="weight_decay values must be finite numbers >= 0, got -1.0"):
        grid_values("weight_decay", [0, -1])
    with pytest.raises(ValueError, match="weight_decay must hold at least one value"):
        grid_values("weight_decay", [])
    with pytest.raises(TypeError, match="momentum must be a list of numbers"):
        grid_values("momentum", ["fast"])


def test_plot_grid_draws_every_curve(tmp_path):
    from gluon_lrfinder.core.plotting import plot_grid

    combos = [{"weight_decay": 0.0}, {"weight_decay": 1e-4}]
    result = summarize_grid(combos, [shaped_curve(0.5, -1.0), shaped_curve(0.5, -0.3)])
    plt = pyplot()
    _, ax = plt.subplots()
    out = plot_grid(result, ax=ax, path=tmp_path / "grid.png")
    assert out is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert "weight_decay=0" in labels and "weight_decay=0.0001 (sweep's pick, not validated)" in labels
    assert (tmp_path / "grid.png").stat().st_size > 1000
    plt.close("all")


# ---------------------------------------------------------------------- find_grid on digits
def test_find_grid_restores_everything_and_records_each_combination(make_learner, state_checker):
    learner = make_learner(optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-5}, warm_steps=3)
    checker = state_checker(learner)
    finder = LRFinder(learner)
    result = finder.find_grid(weight_decay=[0, 1e-3], momentum=[0.8, 0.95], **FIND)
    checker.check()
    opt = learner.trainer.optimizer
    assert opt.wd == 1e-5 and opt.momentum == 0.9
    assert [c for c in result.combinations] == [
        {"weight_decay": 0.0, "momentum": 0.8}, {"weight_decay": 0.0, "momentum": 0.95},
        {"weight_decay": 1e-3, "momentum": 0.8}, {"weight_decay": 1e-3, "momentum": 0.95}]
    assert len(result.curves) == 4 and all(len(c) > 20 for c in result.curves)
    for combo, curve in zip(result.combinations, result.curves):
        assert curve.settings["weight_decay"] == combo["weight_decay"]
        assert curve.settings["momentum"] == combo["momentum"]
    assert result.candidate in result.combinations and finder.result is result
    assert result.best is None  # the trainer's own values (1e-5, 0.9) are not in the grid: no recommendation


def test_find_grid_gives_every_combination_the_same_data_order(make_learner):
    learner = make_learner(warm_steps=2)
    finder = LRFinder(learner)
    same = finder.find_grid(weight_decay=[1e-4, 1e-4, 0.3], **FIND)
    a, b, heavy = same.curves
    # equal knobs, equal start, equal data order: the curves are identical to the bit
    assert a.lrs == b.lrs and a.losses == b.losses
    # the knob really reaches the optimizer: a large weight decay changes the curve
    n = min(len(a), len(heavy))
    assert a.losses[:n] != heavy.losses[:n]
    # another seed reads another data order
    other = finder.find_grid(weight_decay=[1e-4], seed=1, **FIND)
    n = min(len(a), len(other.curves[0]))
    assert a.losses[:n] != other.curves[0].losses[:n]


def test_find_grid_momentum_is_beta1_for_adam(make_learner, state_checker):
    learner = make_learner(optimizer="adam", warm_steps=2)
    checker = state_checker(learner)
    result = LRFinder(learner).find_grid(momentum=[0.8, 0.95], **FIND)
    checker.check()
    assert learner.trainer.optimizer.beta1 == 0.9
    assert [c["momentum"] for c in result.combinations] == [0.8, 0.95]
    assert result.curves[0].losses != result.curves[1].losses


def test_find_grid_refuses_bad_knobs_before_touching_anything(make_learner, state_checker):
    learner = make_learner(optimizer="adagrad", optimizer_params={"learning_rate": 0.01}, warm_steps=1)
    checker = state_checker(learner)
    finder = LRFinder(learner)
    with pytest.raises(ValueError, match="momentum: the AdaGrad optimizer has neither a momentum nor a beta1"):
        finder.find_grid(momentum=[0.9], **FIND)
    checker.check()
    plain = make_learner(optimizer_params={"learning_rate": 0.05}, warm_steps=1)  # SGD, momentum 0, stepped
    checker = state_checker(plain)
    with pytest.raises(ValueError, match="momentum: this SGD trainer was created with momentum=0"):
        LRFinder(plain).find_grid(momentum=[0.9], **FIND)
    with pytest.raises(ValueError, match=r"momentum values must be in \[0, 1\), got 1.0"):
        LRFinder(plain).find_grid(momentum=[1.0], **FIND)
    with pytest.raises(ValueError, match="seed must be"):
        LRFinder(plain).find_grid(weight_decay=[0.0], seed=-1, **FIND)
    checker.check()
    with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before apply\(\)"):
        finder.apply()
    with pytest.raises(RuntimeError, match=r"call find\(\) \(or load\(\)\) before plot\(\)"):
        finder.plot()


def test_apply_grid_keeps_the_values_unless_told_to_apply_the_unvalidated_pick(make_learner, recwarn):
    learner = make_learner(optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4}, warm_steps=1)
    finder = LRFinder(learner)
    result = finder.find_grid(weight_decay=[1e-4, 1e-2], momentum=[0.9, 0.99], **FIND)
    result.candidate_index = 3  # whatever the sweep said: make the pick another combination
    result.candidate, result.candidate_lr = dict(result.rows[3].combination), result.rows[3].lr
    result.evidence = "range tests only (a test stand-in)"
    applied = finder.apply()
    opt = learner.trainer.optimizer
    assert (opt.wd, opt.momentum) == (1e-4, 0.9)  # weight decay and momentum untouched
    assert applied == pytest.approx(result.lr) and result.settings() == {"weight_decay": 1e-4, "momentum": 0.9,
                                                                         "lr": result.lr}
    assert result.lr == result.rows[result.current_index].lr
    assert learner.trainer.learning_rate == pytest.approx(result.lr)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]
    with pytest.warns(UserWarning, match=r"sweep's pick \(weight_decay=0.01, momentum=0.99\) on the evidence of "
                                         r"range tests only \(a test stand-in\); confirm it with a training run"):
        applied = finder.apply(accept_unvalidated=True)
    assert (opt.wd, opt.momentum) == (1e-2, 0.99) and applied == pytest.approx(result.rows[3].lr)
    with pytest.raises(TypeError, match="accept_unvalidated must be a bool, got str"):
        finder.apply(accept_unvalidated="yes")


def test_apply_grid_changes_nothing_without_the_trainers_values_in_the_grid(make_learner, state_checker):
    learner = make_learner(optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4}, warm_steps=1)
    finder = LRFinder(learner)
    result = finder.find_grid(weight_decay=[0, 1e-3], momentum=[0.85, 0.95], **FIND)
    assert result.best is None and result.current_index is None and "no recommendation" in result.reason
    checker = state_checker(learner)
    with pytest.raises(RuntimeError, match=r"nothing changed: .*accept_unvalidated=True to apply the sweep's pick "
                                           r"\(weight_decay=.*\), which rests on: range tests only"):
        finder.apply()
    checker.check()
    assert learner.trainer.optimizer.wd == 1e-4 and learner.trainer.learning_rate == 0.05
    with pytest.warns(UserWarning, match="range tests only"):
        applied = finder.apply(accept_unvalidated=True)
    assert learner.trainer.optimizer.wd == result.candidate["weight_decay"] and applied > 0
    assert learner.trainer.optimizer.momentum == result.candidate["momentum"]


def test_find_grid_repeats_pairs_the_data_orders_and_reports_medians(make_learner, state_checker):
    learner = make_learner(warm_steps=1)
    checker = state_checker(learner)
    result = LRFinder(learner).find_grid(weight_decay=[0.0, 1e-3], repeats=3, **FIND)
    checker.check()
    assert [len(run) for run in result.runs] == [3, 3]
    assert [c.settings["seed"] for c in result.runs[0]] == [0, 1, 2] == [c.settings["seed"] for c in result.runs[1]]
    assert result.runs[0][0].losses != result.runs[0][1].losses  # another seed, another data order
    lows = sorted(curve_summary(c.lrs, c.losses)["lowest_loss"] for c in result.runs[1])
    assert result.rows[1].lowest_loss == pytest.approx(lows[1])
    assert result.curves == [run[0] for run in result.runs]
    assert "3 data orders each" in str(result)
    with pytest.raises(ValueError, match="repeats must be an integer >= 1, got 0"):
        LRFinder(learner).find_grid(weight_decay=[0.0], repeats=0, **FIND)


def test_the_docs_walk_through_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    page = Path(__file__).resolve().parents[2] / "docs" / "usage.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    example = next(block for block in blocks if "find_grid(" in block)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(example, str(page), "exec"), scope)
    result, finder = scope["result"], scope["finder"]
    assert len(result.combinations) == 6 and [len(r) for r in result.runs] == [3] * 6
    assert (tmp_path / "grid.png").stat().st_size > 1000
    opt = finder.learner.trainer.optimizer
    assert opt.wd == result.best["weight_decay"] and finder.learner.trainer.learning_rate == pytest.approx(result.lr)
    pyplot().close("all")


def test_recommend_keeps_the_current_values_without_clear_evidence():
    def row(wd, losses, stable):
        return GridRow({"weight_decay": wd}, 0.1, float(np.median(losses)), stable, lowest_losses=list(losses))

    current = row(1e-4, [1.0, 1.0, 1.0], 1.0)
    near = row(0.0, [0.85, 0.95, 0.80], 1.0)        # lower, but not by 10% in every data order
    clear = row(1e-3, [0.85, 0.88, 0.80], 1.2)      # lower by more than 10% in every order, as stable
    unstable = row(1e-2, [0.5, 0.5, 0.5], 0.3)      # much lower, but diverges earlier
    assert recommend([current, near, unstable], current=0)["index"] == 0
    kept = recommend([current, near, unstable], current=0)["reason"]
    assert kept.startswith("keep your current values (weight_decay=0.0001)") and "10%" in kept
    choice = recommend([current, near, clear, unstable], current=0)
    assert choice["index"] == 2 and "beats your current values (weight_decay=0.0001)" in choice["reason"]
    assert recommend([current, near, clear, unstable], current=0, margin=0.2)["index"] == 0
    assert recommend([current, near, clear, unstable])["index"] == 3  # Smith's rule alone: the lowest loss
    with pytest.raises(ValueError, match=r"current must be the index of a row, in \[0, 1\], got 2"):
        recommend([current, near], current=2)
    with pytest.raises(ValueError, match="margin must be >= 0, got -0.1"):
        recommend([current, near], current=0, margin=-0.1)


def test_find_grid_knows_the_trainers_own_values(make_learner):
    learner = make_learner(optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4}, warm_steps=1)
    finder = LRFinder(learner)
    result = finder.find_grid(weight_decay=[0, 1e-4], momentum=[0.8, 0.9], repeats=2, **FIND)
    assert result.combinations[result.current_index] == {"weight_decay": 1e-4, "momentum": 0.9}
    assert "(your current values)" in str(result)
    expected = recommend(result.rows, current=result.current_index)
    assert result.candidate_index == expected["index"] and result.candidate_reason == expected["reason"]
    assert result.best_index == result.current_index and result.best == {"weight_decay": 1e-4, "momentum": 0.9}
    assert all(len(r.lowest_losses) == 2 for r in result.rows)
    smith = finder.find_grid(weight_decay=[0, 1e-4], momentum=[0.8, 0.9], repeats=2, keep_current=False, **FIND)
    assert smith.current_index is None and smith.candidate_index == recommend(smith.rows)["index"]
    assert smith.best is None
    elsewhere = finder.find_grid(weight_decay=[0, 1e-3], **FIND)  # the trainer's 1e-4 is not in the grid
    assert elsewhere.current_index is None
    with pytest.raises(TypeError, match="keep_current must be a bool, got str"):
        finder.find_grid(weight_decay=[0.0], keep_current="yes", **FIND)


def momentum_rows(lr_current=0.1, lr_other=0.05):
    """Your values (wd 1e-4, momentum 0.9) and momentum 0.99, lower by 20% in both data orders."""
    current = GridRow({"weight_decay": 1e-4, "momentum": 0.9}, lr_current, 1.0, 1.0, lowest_losses=[1.0, 1.0])
    other = GridRow({"weight_decay": 1e-4, "momentum": 0.99}, lr_other, 0.8, 1.0, lowest_losses=[0.8, 0.8])
    heavy = GridRow({"weight_decay": 1e-2, "momentum": 0.9}, lr_current, 1.1, 1.0, lowest_losses=[1.1, 1.1])
    return [current, other, heavy]


def test_summarize_grid_recommends_keeping_the_values_even_when_the_sweep_rates_another_better():
    rows = momentum_rows()
    curves = [shaped_curve(r.lowest_loss, -0.5) for r in rows]
    result = summarize_grid([r.combination for r in rows], curves, current=0, margin=0.0)
    assert result.best == {"weight_decay": 1e-4, "momentum": 0.9} and result.lr == result.rows[0].lr
    assert result.suggests_change and result.candidate_index != 0
    assert result.reason.startswith("keep your current values (weight_decay=0.0001, momentum=0.9): the sweep rates "
                                    "another combination better")
    assert "chosen from range tests alone trained worse on average" in result.reason
    assert result.evidence.startswith("range tests only: its lowest smoothed loss was")
    text = str(result)
    assert "(your current values) <- recommended" in text and "<- sweep's pick (not validated)" in text
    assert "Evidence behind a change: range tests only" in text


def test_another_momentum_looking_better_is_read_as_an_lr_signal():
    rows = momentum_rows(lr_current=0.1, lr_other=0.05)
    note = momentum_note(rows, 0, effective_step=True)
    assert "momentum 0.99 reaches a lower loss in the sweep than momentum 0.9" in note
    assert "does not make it the better momentum" in note
    # 0.05 / (1 - 0.99) = 5 against 0.1 / (1 - 0.9) = 1: a 5x larger effective step
    assert "effective step 5x the one suggested at momentum 0.9 (0.1)" in note
    assert "the learning rate suggested at momentum 0.9 is off (too low)" in note and "lr 0.5" in note
    high = momentum_note(momentum_rows(lr_current=0.1, lr_other=0.001), 0, effective_step=True)
    assert "effective step 0.1x" in high and "is off (too high)" in high
    adam = momentum_note(rows, 0, effective_step=False)
    assert "beta1" in adam and "does not scale its step" in adam and "effective step" not in adam
    # only another momentum at the same weight decay, clearly better in every data order, counts
    calm = [rows[0], GridRow(dict(rows[1].combination), 0.05, 0.95, 1.0, lowest_losses=[0.95, 0.95]), rows[2]]
    assert momentum_note(calm, 0, effective_step=True) is None
    assert momentum_note(rows, 0, margin=0.3) is None


def test_summarize_grid_puts_the_momentum_note_in_the_result():
    combos = [{"weight_decay": 0.0, "momentum": 0.9}, {"weight_decay": 0.0, "momentum": 0.99}]
    curves = [[shaped_curve(0.8, -0.5)] * 2, [shaped_curve(0.4, -0.5)] * 2]  # same shape, a lower floor
    # blend reads the shape only, so both curves get the same lr (the default also clips it into a
    # range whose edge thresholds scale with the fall, which a lower floor changes)
    result = summarize_grid(combos, curves, method="blend", current=0, effective_step=True)
    assert result.best == combos[0] and result.candidate == combos[1]
    assert len(result.notes) == 1 and "effective step 10x" in result.notes[0]  # same lr, 10x the step
    assert "Note: momentum 0.99 reaches a lower loss in the sweep" in str(result)
