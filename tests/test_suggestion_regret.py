"""The constant-rate benchmark's rule table (benchmarks/suggestion_regret.py): every rule is
scored as ``suggest(method=...)`` would apply it."""
import numpy as np
import pytest

from benchmarks import common
from benchmarks import suggestion_regret as sr
from gluon_lrfinder.core import rules as S

LRS = np.logspace(-5, 0, 51)
# a fall centred at 1e-3, a blow-up above 0.1
LOSSES = 2.0 - np.tanh(2 * (np.log10(LRS) + 3.0)) + np.where(LRS > 0.1, 40 * (LRS - 0.1), 0)


def test_rules_that_read_the_optimizer_are_scored_with_it_and_without_it():
    table = sr.rule_table()
    for key in ("range", "blend_in_range", "blend"):
        assert f"{key} without the optimizer" in " ".join(table), key
    told = table["range, as suggest(method='range') applies it (reads the optimizer)"]
    assert getattr(told, "reads_optimizer", False)
    for optimizer in ("Adam", "SGD"):
        assert told(LRS, LOSSES, optimizer=optimizer) == pytest.approx(
            common.suggest_lr(LRS, LOSSES, method="range", optimizer=optimizer))
    # the optimizer matters on this curve, so scoring without it would be a different rule
    assert told(LRS, LOSSES, optimizer="Adam") < told(LRS, LOSSES, optimizer="SGD")


def test_blend_told_the_optimizer_is_what_suggest_answers():
    told = sr.rule_table()["blend, as suggest(method='blend') applies it (reads the optimizer)"]
    for optimizer in ("Adam", "SGD", None):
        assert told(LRS, LOSSES, optimizer=optimizer) == pytest.approx(
            common.suggest_lr(LRS, LOSSES, method="blend", optimizer=optimizer))


def test_the_default_row_is_the_package_default():
    label, rule = next(iter(sr.rule_table().items()))
    assert label.startswith(f"**{S.DEFAULT_METHOD} (default)")
    assert rule(LRS, LOSSES, optimizer="SGD") == pytest.approx(
        common.suggest_lr(LRS, LOSSES, optimizer="SGD"))
