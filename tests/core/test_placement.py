"""Where the trainer's own rate lies on a curve (gluon_lrfinder.core.placement) and how the report,
apply() and the command line say it."""
import json
import warnings

import numpy as np
import pytest

from gluon_lrfinder import LRCurve, SuggestionWarning
from gluon_lrfinder.core.placement import place_rate

LRS = np.logspace(-5, 1, 61)
X = np.log10(LRS)
#: falls around 1e-3, lowest near 0.1-0.3, rises past ~0.3
LOSSES = 2.0 - np.tanh(2 * (X + 3)) + np.where(X > -0.5, 30 * (X + 0.5) ** 2, 0)


@pytest.mark.parametrize("lr,zone", [
    (1e-6, "below the sweep"), (2e-5, "before the fall"), (1e-3, "in the fall"), (0.1, "at the bottom"),
    (3.0, "past the edge"), (100.0, "past the edge"),
])
def test_each_part_of_the_curve_is_named(lr, zone):
    placement = place_rate(LRS, LOSSES, lr)
    assert placement.zone == zone
    assert placement.text.startswith(f"your rate {lr:.3g} lies ")


def test_a_rate_above_a_curve_that_never_turned_up_is_unknown_and_says_how_to_see_it():
    rising_never = 2.0 - np.tanh(2 * (X + 3))
    placement = place_rate(LRS, rising_never, 100.0)
    assert placement.zone == "above the sweep" and "raise lr_end" in placement.text


def test_the_text_compares_with_the_suggestion_and_a_flat_curve_says_nothing():
    assert "(10x the suggestion 0.01)" in place_rate(LRS, LOSSES, 0.1, suggestion=0.01).text
    assert "(10x below the suggestion 0.01)" in place_rate(LRS, LOSSES, 1e-3, suggestion=0.01).text
    assert place_rate(LRS, np.full(LRS.shape, 2.0), 0.1).zone == "on a curve that never fell"


def test_a_rate_at_the_bottom_is_told_whether_the_suggestion_is_lower():
    below = place_rate(LRS, LOSSES, 0.1, suggestion=0.01).text
    above = place_rate(LRS, LOSSES, 0.1, suggestion=0.15).text
    assert "the suggestion is the safer start" in below and "no lower" not in below
    assert "read at this bottom too, is no lower" in above and "safer start" not in above


def test_a_bad_rate_is_refused_with_its_name():
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        place_rate(LRS, LOSSES, -1)


def test_the_report_places_the_recorded_rate_and_old_curves_have_none():
    curve = LRCurve(lrs=list(LRS), losses=list(LOSSES), settings={"optimizer": "SGD", "trainer_lr": 0.1})
    report = curve.report()
    assert report.current is not None and report.current.zone == "at the bottom"
    assert "trainer's own rate: your rate 0.1" in str(report)
    assert LRCurve(lrs=list(LRS), losses=list(LOSSES)).report().current is None
    saved = LRCurve.from_dict(curve.to_dict())
    assert saved.report().current == report.current


def test_find_records_the_trainers_rate_and_apply_warns_before_lowering_it_from_the_bottom(make_learner):
    from gluon_lrfinder import LRFinder

    learner = make_learner(optimizer_params={"learning_rate": 0.5})
    finder = LRFinder(learner)
    finder.find(lr_start=1e-5, lr_end=10, num_iter=80, progress=False)
    assert finder.curve.settings["trainer_lr"] == 0.5
    placement = finder.report().current
    assert placement is not None and placement.lr == 0.5
    # a curve whose bottom holds the trainer's rate, well above the suggestion
    finder.result = LRCurve(lrs=list(LRS), losses=list(LOSSES), settings={"optimizer": "SGD", "trainer_lr": 0.1})
    with pytest.warns(SuggestionWarning, match=r"apply\(\) replaces a rate that may be right: your rate 0.1 .* "
                                               r"lies at the bottom of the curve.*pass apply\(lr=0.1\) to keep it"):
        lr = finder.apply()
    assert lr < 0.1 / 3 and learner.trainer.learning_rate == lr
    finder.result = LRCurve(lrs=list(LRS), losses=list(LOSSES), settings={"optimizer": "SGD", "trainer_lr": 1e-3})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuggestionWarning)
        finder.apply()  # a rate in the fall is replaced without a word


def test_find_records_a_schedules_peak_without_stepping_it(make_learner):
    from gluon_lrfinder import LRFinder, OneCycleSchedule

    schedule = OneCycleSchedule(max_lr=0.3, total_steps=100)
    learner = make_learner(optimizer_params=schedule.optimizer_params())
    finder = LRFinder(learner)
    finder.find(lr_start=1e-5, lr_end=10, num_iter=40, progress=False)
    assert finder.curve.settings["trainer_lr"] == 0.3  # the peak the schedule is built around
    assert learner.trainer.optimizer.lr_scheduler is schedule and schedule.base_lr == 0.3
    assert learner.trainer.optimizer.num_update == 0  # nothing stepped for good


def test_the_command_line_places_your_rate(tmp_path, capsys):
    from gluon_lrfinder.integrations.cli import main

    curve = LRCurve(lrs=list(LRS), losses=list(LOSSES), settings={"optimizer": "SGD"})
    saved = curve.save(tmp_path / "curve.json")
    assert main(["--curve", saved, "--out", str(tmp_path / "out"), "--your-lr", "0.1"]) == 0
    printed = capsys.readouterr().out
    assert "Your rate: your rate 0.1 " in printed and "lies at the bottom of the curve" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["your_lr"]["zone"] == "at the bottom" and summary["your_lr"]["lr"] == 0.1
    assert main(["--curve", saved, "--out", str(tmp_path / "out2")]) == 0
    assert "Your rate" not in capsys.readouterr().out


# ---------------------------------------------------------------------- the real scripts' defaults
def _cached_curves(path, optimizer):
    import math
    from pathlib import Path

    def walk(node):
        if isinstance(node, dict):
            if "lrs" in node and "losses" in node:
                yield node
            else:
                for value in node.values():
                    yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    data = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "data" / path).read_text())
    return {name: [LRCurve(lrs=c["lrs"], losses=[math.nan if v is None else v for v in c["losses"]],
                           settings={"optimizer": optimizer}) for c in walk(entry)]
            for name, entry in data.items()}


def test_the_real_scripts_defaults_are_placed_where_they_train_well():
    """GluonCV's CIFAR-10 scripts train best near their default 0.1, GluonNLP's clipped LM near its
    default 30 (the benchmark's oracles): the report places both at the bottom or the edge, never
    before the fall or past the edge, and the LM's shallow fall is flagged and read at its bottom."""
    curves = _cached_curves("real_script_sweeps.json", "NAG")
    assert len(curves) == 3
    for name, sweeps in curves.items():
        default = 30.0 if "LM" in name else 0.1
        for curve in sweeps:
            placement = place_rate(curve.lrs, curve.losses, default, suggestion=curve.suggest(warn=False))
            assert placement.zone in ("at the bottom", "at the edge"), (name, placement.text)
    lm = _cached_curves("advice_new_families.json", "SGD")["lm"]
    for curve in lm:  # the stand-in LM whose best constant rate is about 30
        curve.settings["trainer_lr"] = 30.0
        assert curve.report().current.zone == "at the bottom"
        assert any(flag.startswith("shallow or noisy fall") for flag in curve.diagnose())
        low, high = curve.suggest_range(warn=False)
        assert 5.0 < curve.suggest(warn=False) < 30.0 < 3 * high  # the bottom's neighbourhood, not 4
