import json
import math

import pytest

from gluon_lrfinder.core.curve import LRCurve


def make_curve():
    curve = LRCurve(settings={"lr_start": 1e-4, "mode": "exponential"}, stop_reason="diverged")
    for lr, loss, smooth in [(1e-4, 2.31, 2.31), (1e-3, 2.0, 2.2), (1e-2, 1.1, 1.8), (1e-1, float("nan"), None)]:
        curve.append(lr, loss, smooth)
    return curve


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_round_trip(tmp_path, suffix):
    curve = make_curve()
    path = curve.save(tmp_path / f"run{suffix}")
    back = LRCurve.load(path)
    assert back.lrs == curve.lrs
    assert back.losses[:3] == curve.losses[:3] and math.isnan(back.losses[3])
    assert back.smoothed[:3] == curve.smoothed[:3] and math.isnan(back.smoothed[3])
    assert back.settings == curve.settings
    assert back.stop_reason == "diverged"
    assert "numpy" in back.versions and "gluon_lrfinder" in back.versions


def test_json_is_plain_json_without_nan(tmp_path):
    path = make_curve().to_json(tmp_path / "run.json")
    text = open(path).read()
    assert "NaN" not in text
    assert json.loads(text)["losses"][3] is None


def test_pairs():
    assert make_curve().pairs[:2] == [(1e-4, 2.31), (1e-3, 2.0)]


def test_bad_suffix_and_bad_file(tmp_path):
    with pytest.raises(ValueError, match=r"path must end in '\.csv' or '\.json'"):
        make_curve().save(tmp_path / "run.txt")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a gluon-lrfinder CSV"):
        LRCurve.load(bad)
    with pytest.raises(ValueError, match="not a gluon-lrfinder curve"):
        LRCurve.from_dict({"x": 1})


def shaped_curve(**kwargs):
    """Falls around lr 1e-2, diverges past 0.1: every rule has a clear answer."""
    import numpy as np

    lrs = np.logspace(-4, 0, 41)
    losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + 50 * np.maximum(lrs - 0.1, 0)
    return LRCurve(lrs=list(lrs), losses=list(losses), **kwargs)


def test_the_curve_answers_what_the_registered_rules_compute():
    from conftest import BUILTIN_RULES

    from gluon_lrfinder.core import report, rules

    curve = shaped_curve()
    for method in BUILTIN_RULES:
        assert curve.suggest(method=method, warn=False) == rules.get_rule(method)(curve)
    assert curve.suggest_range() == rules.lr_range(curve.lrs, curve.losses)
    assert curve.diagnose() == report.diagnose(curve.lrs, curve.losses)
    assert curve.report(method="steepest").lrs == report.report_curve(curve, method="steepest").lrs


def test_the_curve_reads_its_validation_signal_and_refuses_without_one():
    curve = shaped_curve()
    with pytest.raises(RuntimeError, match="source='valid' needs a validation signal"):
        curve.suggest(source="valid")
    with pytest.raises(ValueError, match="source must be one of"):
        curve.suggest(source="test")
    curve.valid_lrs, curve.valid_losses = list(curve.lrs[::2]), list(curve.losses[::2])
    assert 1e-3 < curve.suggest(source="valid", method="steepest", warn=False) < 0.1


def test_a_curve_flagged_for_bad_data_gives_no_suggestion_but_says_why():
    curve = shaped_curve(settings={"data_problem": "NaN in the batch at iteration 3"})
    with pytest.raises(ValueError, match="no suggestion from this curve: NaN in the batch at iteration 3"):
        curve.suggest()
    assert curve.diagnose()[0] == "NaN in the batch at iteration 3"
    rep = curve.report()
    assert math.isnan(rep.lr) and rep.flags[0] == "NaN in the batch at iteration 3"


@pytest.mark.slow
def test_the_curve_plots_itself_without_a_finder(tmp_path):
    ax = shaped_curve().plot(tmp_path / "c.png", method="steepest", show_range=True)
    assert ax.get_xscale() == "log" and (tmp_path / "c.png").stat().st_size > 0
    assert any("suggested lr" in t.get_text() for t in ax.get_legend().get_texts())


def test_a_curve_of_earlier_versions_with_the_data_problem_in_its_settings_loads_into_the_field(tmp_path):
    import json as json_module

    old = make_curve().to_dict()
    old["settings"]["data_problem"] = "NaN in the batch at iteration 3"  # how earlier versions saved it
    path = tmp_path / "old.json"
    path.write_text(json_module.dumps(old))
    curve = LRCurve.load(path)
    assert curve.data_problem == "NaN in the batch at iteration 3" and "data_problem" not in curve.settings
    assert curve.diagnose()[0] == "NaN in the batch at iteration 3"
    with pytest.raises(ValueError, match="no suggestion from this curve: NaN in the batch"):
        curve.suggest()
    for suffix in ("json", "csv"):  # saved again: a field of its own, read back the same
        again = LRCurve.load(curve.save(tmp_path / f"again.{suffix}"))
        assert again.data_problem == curve.data_problem and "data_problem" not in again.settings
    assert curve.stop_reason == "diverged"
