"""A shallow fall is read at the bottom of the faithful curve (``core.edge.shallow_top``)."""
import numpy as np
import pytest

from gluon_lrfinder import LRCurve
from gluon_lrfinder.core import edge
from gluon_lrfinder.core.smoothing import robust_local_linear, smoothed_curve, sorted_finite


def _wide_everywhere(monkeypatch):
    """The rules as they were before the shallow reading: a fall's share is never below 0."""
    monkeypatch.setattr(edge, "BOTTOM_FALL", 0.0)


def _curve(losses, lrs, optimizer="SGD"):
    return LRCurve(lrs=list(lrs), losses=list(losses), settings={"optimizer": optimizer})


def _clipped_lm(seed=0):
    """A clipped language model's sweep: 7.6 falls 8% to a flat bottom at lr 10-40, then blows up."""
    lrs = np.logspace(-2, 3, 141)
    x = np.log10(lrs)
    losses = 7.6 - 0.55 / (1 + np.exp(-3 * (x - 0.6))) + 0.8 * np.exp(3 * (x - 2.4))
    return lrs, losses + 0.02 * np.random.RandomState(seed).randn(lrs.size)


def _mixup(seed=0, noise=0.03):
    """Mixup's soft labels: 2.7 falls 14% by lr 0.02, bumps at 0.15, dips lower near 1, rises to 10."""
    lrs = np.logspace(-4, 1, 121)
    x = np.log10(lrs)
    losses = (2.7 - 0.37 / (1 + np.exp(-4 * (x + 2.6))) + 0.24 * np.exp(-(((x - np.log10(0.15)) / 0.2) ** 2))
              - 0.10 * np.exp(-((x / 0.3) ** 2)) + 0.4 / (1 + np.exp(-6 * (x - 0.8))))
    return lrs, losses + noise * np.random.RandomState(seed).randn(lrs.size)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_clipped_language_models_shallow_fall_is_read_at_its_bottom(seed, monkeypatch):
    lrs, losses = _clipped_lm(seed)
    curve = _curve(losses, lrs)
    lr, (low, high) = curve.suggest(warn=False), curve.suggest_range(warn=False)
    fit = robust_local_linear(lrs, losses)
    bottom = lrs[np.argmin(np.where(lrs < 100, fit, np.inf))]
    assert high == pytest.approx(edge.BOTTOM_FACTOR * bottom)
    assert lr == pytest.approx(high / edge.SUGGEST_DIVISOR) and low <= lr <= high
    _wide_everywhere(monkeypatch)
    old_lr, (_, old_high) = curve.suggest(warn=False), curve.suggest_range(warn=False)
    assert lr > 2 * old_lr and high > 2 * old_high  # the wide curve's answers were far below the bottom


@pytest.mark.parametrize("noise", [0.0, 0.01, 0.03])
def test_a_shallow_fall_past_a_bump_is_not_read_in_its_second_dip(noise, monkeypatch):
    """The fall is too small to arm the edge, and the second dip is lower than the first bottom:
    the answers stay below the bump at 0.15 (the wide curve's answer was in the second dip)."""
    for seed in range(3):
        lrs, losses = _mixup(seed, noise)
        curve = _curve(losses, lrs, "NAG")
        assert curve.suggest_range(warn=False)[1] < 0.1, seed
        flags = [f.split(":")[0] for f in curve.diagnose()]
        assert "shallow or noisy fall" in flags and "second dip after the edge of stability" in flags
    if noise == 0.0:
        _wide_everywhere(monkeypatch)
        assert curve.suggest(warn=False) > 0.3


def test_a_deep_fall_is_read_as_before(monkeypatch):
    lrs = np.logspace(-5, 0, 101)
    x = np.log10(lrs)
    losses = 2.0 - 1.5 * np.tanh(2 * (x + 3)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    curve = _curve(losses + 0.01 * np.random.RandomState(0).randn(lrs.size), lrs)
    now = (curve.suggest(warn=False), curve.suggest_range(warn=False))
    _wide_everywhere(monkeypatch)
    assert now == (curve.suggest(warn=False), curve.suggest_range(warn=False))


def test_shallow_top_is_none_for_a_deep_fall_and_at_most_the_edge():
    lrs = np.logspace(-3, 1, 81)
    x = np.log10(lrs)
    deep = 2.0 - np.tanh(x + 1.5) + np.where(lrs > 1, 5 * (lrs - 1), 0)
    from gluon_lrfinder.core.smoothing import zero_phase

    assert edge.shallow_top(lrs, deep, zero_phase(lrs, deep), 0.03) is None
    lm_lrs, lm = _clipped_lm()
    smooth = zero_phase(lm_lrs, lm)
    top = edge.shallow_top(lm_lrs, lm, smooth, 1.0)
    k = edge.edge_index(smooth)
    assert top is not None and (k is None or top <= lm_lrs[k])


def _answers(curve):
    return curve.suggest(warn=False), curve.suggest_range(warn=False)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_fall_within_a_few_noise_sds_keeps_the_wide_answers(seed, monkeypatch):
    """The clipped language model's 8% fall under noisy batches (about 5 noise SDs, as a model that
    barely starts learning within the sweep): its lowest point is noise, so it is not read."""
    lrs, losses = _clipped_lm(seed)
    losses = losses + 0.1 * np.random.RandomState(10 + seed).randn(lrs.size)
    curve = _curve(losses, lrs)
    share, sds = edge.fall_size(sorted_finite(lrs, losses)[1], smoothed_curve(lrs, losses, None)[1])
    assert share < edge.BOTTOM_FALL and 0 < sds < edge.BOTTOM_SDS
    now = _answers(curve)
    _wide_everywhere(monkeypatch)
    assert now == _answers(curve)
    monkeypatch.setattr(edge, "BOTTOM_FALL", 0.3)
    monkeypatch.setattr(edge, "BOTTOM_SDS", 0.0)  # read anyway: the answers move
    assert now != _answers(curve)


def test_a_curve_that_never_fell_keeps_the_wide_answers(monkeypatch):
    lrs = np.logspace(-4, 1, 101)
    losses = 2.3 + 0.02 * np.random.RandomState(0).randn(lrs.size) + np.where(lrs > 2, 2 * (lrs - 2), 0)
    curve = _curve(losses, lrs)
    assert "loss never fell" in [f.split(":")[0] for f in curve.diagnose()]
    now = _answers(curve)
    _wide_everywhere(monkeypatch)
    assert now == _answers(curve)
