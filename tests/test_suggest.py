"""Suggestion rules on hand-built curves, the diagnosis flags and the suggestion report."""
import math

import numpy as np
import pytest

from gluon_lrfinder.suggest import (
    DEFAULT_METHOD,
    SUGGESTERS,
    SuggestionReport,
    SuggestionWarning,
    diagnose,
    ema_steepest,
    lr_range,
    minimum,
    raw_steepest,
    report,
    steepest,
    suggest,
    valley,
)


def textbook(n=81, center=-2.5, noise=0.0, seed=0, lo=-5.0, hi=1.0):
    """Flat, then a tanh drop centred at 10**center, then divergence past 0.3."""
    lrs = np.logspace(lo, hi, n)
    x = np.log10(lrs)
    losses = 2.3 - np.tanh(2 * (x - center)) + np.where(lrs > 0.3, 30 * (lrs - 0.3), 0.0)
    return lrs, losses + np.random.RandomState(seed).normal(0, noise, n)


def test_steepest_finds_the_centre_of_the_drop_despite_noise():
    lrs, losses = textbook(noise=0.05)
    assert math.log10(steepest(lrs, losses)) == pytest.approx(-2.5, abs=0.15)
    clean_lrs, clean = textbook()
    assert math.log10(steepest(clean_lrs, clean, bandwidth=0)) == pytest.approx(-2.5, abs=0.04)


def test_valley_sits_in_the_middle_of_the_descent():
    lrs = np.logspace(-4, 0, 41)
    losses = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 21), np.linspace(0.6, 5, 10)])
    assert math.log10(valley(lrs, losses, bandwidth=0)) == pytest.approx(-2.0, abs=0.06)


def test_minimum_is_a_tenth_of_the_lowest_point():
    lrs = np.logspace(-4, 0, 41)
    losses = (np.log10(lrs) + 1.0) ** 2
    assert minimum(lrs, losses, bandwidth=0) == pytest.approx(0.01)


def test_raw_steepest_follows_a_single_noisy_batch():
    lrs, losses = textbook()
    losses = losses.copy()
    losses[10] -= 3.0  # one lucky batch, far left of the real drop
    assert raw_steepest(lrs, losses) == lrs[9]  # the central difference just before the dip
    assert math.log10(steepest(lrs, losses)) == pytest.approx(-2.5, abs=0.2)  # the smoothed rule is not fooled


def test_ema_steepest_lags_to_the_right():
    lrs, losses = textbook(n=121)
    assert math.log10(ema_steepest(lrs, losses)) > -2.5 + 0.5  # the causal average lags tens of iterations


def test_rules_skip_non_finite_losses_and_need_enough_points():
    lrs, losses = textbook()
    losses = losses.copy()
    losses[-3:] = [np.nan, np.inf, np.nan]
    for name, rule in SUGGESTERS.items():
        lr = rule(lrs, losses)
        assert lrs[0] <= lr <= lrs[-1], name
    with pytest.raises(ValueError, match="too few points to suggest a learning rate: need at least 5"):
        steepest([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="same length"):
        steepest([1e-3, 1e-2], [1.0])


def test_lr_range_starts_at_the_suggestion_and_peaks_below_the_minimum():
    lrs, losses = textbook()
    low, high = lr_range(lrs, losses)
    assert low == suggest(lrs, losses, warn=False)  # min_lr is the suggestion
    assert high == pytest.approx(3 * low)  # 3x it, still below half the loss minimum here
    assert high < 10 * minimum(lrs, losses) / 2
    # a curve whose minimum lies less than 6x above the steepest point: the top is half of it
    lrs = np.logspace(-4, 0, 81)
    x = np.log10(lrs)
    losses = 2.0 - np.tanh(4 * (x + 2.0)) + np.where(x > -1.8, 40 * (x + 1.8) ** 2, 0.0)
    s, at_min = steepest(lrs, losses, bandwidth=0), 10 * minimum(lrs, losses, bandwidth=0)
    assert s < at_min < 3 * s
    assert lr_range(lrs, losses, bandwidth=0) == (pytest.approx(at_min / 6), pytest.approx(at_min / 2))


def test_diagnose_flags():
    lrs, losses = textbook()
    assert diagnose(lrs, losses) == []
    assert diagnose(np.logspace(-3, 0, 20), np.linspace(1.0, 2.0, 20)) == ["loss never fell"]
    falling = np.linspace(2.0, 0.5, 30)
    assert diagnose(np.logspace(-5, -2, 30), falling) == ["never diverged: raise lr_end"]
    assert diagnose([1e-3, 1e-2], [1.0, 0.5]) == ["too few points"]


def test_suggest_warns_and_rejects_unknown_methods():
    with pytest.warns(SuggestionWarning, match="never diverged: raise lr_end"):
        suggest(np.logspace(-5, -2, 30), np.linspace(2.0, 0.5, 30))
    with pytest.raises(ValueError, match="method must be one of"):
        suggest(*textbook(), method="fastest")
    assert DEFAULT_METHOD in SUGGESTERS


def test_report_lists_every_rule_their_agreement_and_flags():
    lrs, losses = textbook(noise=0.03)
    r = report(lrs, losses, method="steepest")
    assert isinstance(r, SuggestionReport)
    assert set(r.lrs) == set(SUGGESTERS)
    assert r.lr == r.lrs["steepest"] == steepest(lrs, losses)
    logs = np.log10(list(r.lrs.values()))
    assert r.spread_decades == pytest.approx(logs.max() - logs.min())
    assert r.decades_from("steepest") == 0.0
    assert r.lr_range == lr_range(lrs, losses)
    assert r.flags == [] and r.valid_lr is None
    text = str(r)
    assert "suggested lr" in text and "valley" in text and "flags: none" in text


def test_report_with_validation_signal_and_with_too_few_points():
    lrs, losses = textbook()
    r = report(lrs, losses, method="steepest", valid_lrs=lrs[::4], valid_losses=losses[::4])
    assert r.valid_lr == steepest(lrs[::4], losses[::4])
    assert "validation signal suggests" in str(r)
    short = report([1e-3, 1e-2], [1.0, 0.5])
    assert math.isnan(short.lr) and short.lrs == {} and short.flags == ["too few points"]
    assert "too few points" in str(short)
