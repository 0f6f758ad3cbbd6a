"""One curve, one answer: every study, the report, the plot, the Estimator handler and the CLI
give the learning rate ``LRCurve.suggest()`` gives, on a curve saved in the version-1 format.

The curve is an SGD sweep (``settings["optimizer"] == "SGD"``) where the default rule
(``blend_in_range``) differs from its answer for an unknown optimizer: a path that forgot the
optimizer would answer the steepest point instead (as ``grid.curve_summary`` once did).
"""
import json
from pathlib import Path

import pytest

from gluon_lrfinder import LRCurve
from gluon_lrfinder.core.grid import summarize_grid
from gluon_lrfinder.core.repeated import summarize_sweeps
from gluon_lrfinder.core.rules import DEFAULT_METHOD

DATA = Path(__file__).parent / "data"
SAVED = [DATA / "curve_sgd_v1.json", DATA / "curve_sgd_v1.csv"]


@pytest.fixture(params=SAVED, ids=lambda p: p.suffix[1:])
def saved(request):
    return request.param


def expected(path):
    return LRCurve.load(path).suggest(warn=False)


def test_the_saved_curve_is_one_where_the_optimizer_matters(saved):
    curve = LRCurve.load(saved)
    assert curve.settings["optimizer"] == "SGD" and curve.stop_reason == "diverged" and len(curve) == 160
    assert curve.suggest(warn=False) > 1.5 * curve.suggest("steepest", warn=False)


def test_old_csv_and_json_give_the_same_curve():
    a, b = (LRCurve.load(p) for p in SAVED)
    assert a.lrs == b.lrs and a.settings == b.settings and a.suggest(warn=False) == b.suggest(warn=False)


def test_report_agrees(saved):
    assert LRCurve.load(saved).report().lr == expected(saved)


def test_repeated_study_agrees(saved):
    curve = LRCurve.load(saved)
    result = summarize_sweeps([curve, LRCurve.load(saved)])
    assert result.suggestions == [expected(saved)] * 2 and result.lr == expected(saved)


def test_grid_study_agrees(saved):
    result = summarize_grid([{"weight_decay": 0.0}, {"weight_decay": 1e-4}], [LRCurve.load(saved)] * 2)
    assert [row.lr for row in result.rows] == [expected(saved)] * 2
    assert result.candidate_lr == expected(saved)  # no current values: the sweep's pick, no recommendation
    kept = summarize_grid([{"weight_decay": 0.0}, {"weight_decay": 1e-4}], [LRCurve.load(saved)] * 2, current=0)
    assert kept.lr == expected(saved)


def test_plot_marks_the_same_rate(saved):
    from gluon_lrfinder.core.plotting import pyplot

    ax = LRCurve.load(saved).plot()
    marked = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]
    pyplot().close(ax.figure)
    assert marked == [expected(saved)]


def test_single_study_agrees_and_apply_sets_it(saved, make_learner):
    from gluon_lrfinder import LRFinder

    finder = LRFinder(make_learner())
    finder.load(saved)
    assert finder.suggest(warn=False) == expected(saved)
    assert finder.apply() == expected(saved) == finder.learner.trainer.learning_rate


def test_estimator_handler_picks_the_same_rate(saved):
    from gluon_lrfinder import LRFinderHandler

    assert LRFinderHandler([]).pick(LRCurve.load(saved)) == expected(saved)


def test_cli_reports_the_same_rate(saved, tmp_path, capsys):
    from gluon_lrfinder.integrations.cli import main

    assert main(["--curve", str(saved), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["suggested_lr"] == expected(saved) and summary["method"] == DEFAULT_METHOD
    printed = capsys.readouterr().out
    assert f"Suggested learning rate: {expected(saved):.3g}  (train at this constant rate)" in printed
