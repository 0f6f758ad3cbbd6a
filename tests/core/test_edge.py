"""The edge of stability and the flags around it (gluon_lrfinder.core.edge, suggest.diagnose)."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from conftest import report, suggest

from gluon_lrfinder import LRCurve
from gluon_lrfinder.core import edge as E
from gluon_lrfinder.core import rules as S
from gluon_lrfinder.core.report import diagnose

HERE = os.path.dirname(os.path.abspath(__file__))
GLUONCV_CURVE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "data", "gluoncv_bumpy_curve.json")


def bumpy_curve(seed: int = 0):
    """A curve shaped as GluonCV's CIFAR-10 sweeps (issue 17): a gentle fall from 1e-4 to about
    0.05, a bump up at 0.1-0.3, a second, deeper and steeper dip near 1, a blow-up above 2;
    the finder's default spacing (x1.1 per iteration), 3% multiplicative noise."""
    rng = np.random.RandomState(seed)
    lrs = 1e-5 * 1.1 ** np.arange(150)
    lrs = lrs[lrs < 6.0]
    x = np.log10(lrs)
    loss = 2.3 - 1.2 * (1 + np.tanh((x + 2.4) / 0.6)) / 2
    loss += 0.35 * np.exp(-0.5 * ((x - np.log10(0.18)) / 0.15) ** 2)
    loss -= 0.9 * np.exp(-0.5 * (x / 0.2) ** 2)
    loss += np.where(lrs > 2.0, 4 * (lrs - 2.0), 0)
    return lrs, loss * np.exp(rng.normal(0, 0.03, lrs.size))


def textbook(n: int = 80):
    lrs = np.logspace(-5, 0, n)
    x = np.log10(lrs)
    return lrs, 2.0 - np.tanh(2 * (x + 3)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)


def saved_bumpy():
    """The real GluonCV curve when the benchmark saved one, else the constructed one."""
    if os.path.exists(GLUONCV_CURVE):
        with open(GLUONCV_CURVE, encoding="utf-8") as f:
            data = json.load(f)
        curve = data.get("curve", data)
        lrs = np.asarray(curve["lrs"], dtype=float)
        losses = np.asarray([np.nan if v is None else v for v in curve["losses"]], dtype=float)
        return lrs, losses, curve.get("settings", {}).get("optimizer", "nag")
    lrs, losses = bumpy_curve()
    return lrs, losses, "nag"


def _bump_start(lrs, losses) -> float:
    """Where the smoothed curve first rises clearly: the start of the bump."""
    return E.edge_of_stability(lrs, losses).lr


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constructed_bumpy_curve_advice_stays_below_the_bump(seed):
    lrs, losses = bumpy_curve(seed)
    edge = E.edge_of_stability(lrs, losses)
    assert edge.found and 0.05 < edge.lr < 0.15  # the bump starts at ~0.1, not the blow-up above 2
    low, high = S.lr_range(lrs, losses)
    lr = suggest(lrs, losses, warn=False, optimizer="nag")
    assert high < edge.lr and lr < edge.lr
    assert low <= lr <= high  # the contract: the suggestion lies inside the range
    # without the edge, the rules read the fall into the second dip (the 0.565)
    assert S.steepest(lrs, losses) < 0.1


def test_saved_bumpy_curve_advice_stays_below_the_bump():
    lrs, losses, optimizer = saved_bumpy()
    bump = _bump_start(lrs, losses)
    low, high = S.lr_range(lrs, losses)
    lr = suggest(lrs, losses, warn=False, optimizer=optimizer)
    assert high < bump and lr < bump
    assert low <= lr <= high


def test_bumpy_curve_is_flagged_and_warned():
    lrs, losses = bumpy_curve()
    flags = diagnose(lrs, losses)
    assert any(f.startswith("second dip after the edge of stability") for f in flags)
    summary = report(lrs, losses, optimizer="nag")
    assert "second dip" in str(summary)
    curve = LRCurve(lrs=list(lrs), losses=list(losses), settings={"optimizer": "NAG"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve.suggest_range()
    assert any("second dip" in str(w.message) for w in caught)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve.suggest()
    assert any("second dip" in str(w.message) for w in caught)


def test_textbook_curve_has_no_edge_flags_and_same_minimum():
    lrs, losses = textbook()
    assert diagnose(lrs, losses) == []
    edge = E.edge_of_stability(lrs, losses)
    assert edge.found and edge.minimum_lr < edge.lr
    from gluon_lrfinder.core.smoothing import zero_phase

    smooth = zero_phase(lrs, losses)
    assert E.descent_end(smooth) == int(np.argmin(smooth))


def test_noise_on_the_plateau_is_not_an_edge():
    rng = np.random.RandomState(3)
    lrs, losses = textbook()
    noisy = losses * np.exp(rng.normal(0, 0.05, losses.size))
    assert E.edge_of_stability(lrs, noisy).minimum_lr > 1e-3  # not at a ripple before the fall


def test_never_diverged_flag_says_what_lr_end_to_try():
    lrs = np.logspace(-5, -2, 30)
    flags = diagnose(lrs, np.linspace(2.0, 0.5, 30))
    assert len(flags) == 1 and flags[0].startswith("never diverged: raise lr_end; ")
    assert "lr_end=0.1" in flags[0]


def test_bumpy_flag_when_halves_disagree():
    lrs, losses = textbook(120)
    jagged = losses.copy()
    jagged[1::2] = losses[1::2] * np.where(lrs[1::2] > 3e-5, 0.3, 1.0)  # odd points fall much earlier
    assert E.subsample_spread(lrs, losses, lambda a, b: S.lr_range(a, b)[1]) < np.log10(E.BUMPY_FACTOR)
    spread = E.subsample_spread(lrs, jagged, lambda a, b: S.lr_range(a, b)[1])
    assert spread > np.log10(E.BUMPY_FACTOR)
    assert any(f.startswith("bumpy curve") for f in diagnose(lrs, jagged))


def test_edge_index_needs_a_fall_first():
    assert E.edge_index([1.0, 0.99, 1.05, 0.5, 0.2, 0.3]) == 5
    assert E.edge_index([1.0, 1.0]) is None


def test_finder_suggest_range_and_apply_warn_about_the_bump(make_learner):
    from gluon_lrfinder import LRFinder, SuggestionWarning

    lrs, losses = bumpy_curve()
    finder = LRFinder(make_learner())
    finder.result = LRCurve(lrs=list(lrs), losses=list(losses), settings={"optimizer": "SGD"})
    for call in (finder.suggest_range, finder.apply):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            call()
        assert any(issubclass(w.category, SuggestionWarning) and "second dip" in str(w.message) for w in caught)
    low, high = finder.suggest_range(warn=False)
    assert low <= finder.learner.trainer.learning_rate <= high < E.edge_of_stability(lrs, losses).lr
    finder.learner.close()
