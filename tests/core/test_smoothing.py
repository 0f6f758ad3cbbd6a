"""The smoothers: the causal EMA (stopping rule) and the zero-phase smoother (suggestions)."""
import numpy as np
import pytest

from gluon_lrfinder.core.smoothing import DESPIKE_WIDTH, default_bandwidth, despike, ema, ema_step, zero_phase


def bump(lrs, center=-2.0, width=0.3):
    return np.exp(-0.5 * ((np.log10(lrs) - center) / width) ** 2)


def test_zero_phase_does_not_shift_a_feature_but_the_ema_does():
    lrs = np.logspace(-4, 0, 101)
    losses = bump(lrs)
    peak = np.log10(lrs[np.argmax(losses)])
    smooth = zero_phase(lrs, losses, bandwidth=0.2)
    assert np.log10(lrs[np.argmax(smooth)]) == pytest.approx(peak, abs=1e-9)
    lagged = ema(losses, smoothing=0.9)
    # the causal average peaks later: about 1 / (1 - 0.9) = 10 iterations to the right
    assert np.argmax(lagged) - np.argmax(losses) >= 5


def test_zero_phase_keeps_constants_and_lines_and_reduces_noise():
    lrs = np.logspace(-5, 1, 120)
    assert np.allclose(zero_phase(lrs, np.full(120, 3.5)), 3.5)
    line = 2.0 - 0.1 * np.log10(lrs)
    inner = slice(20, 100)  # away from the ends, a symmetric kernel reproduces a straight line
    assert np.allclose(zero_phase(lrs, line, bandwidth=0.2)[inner], line[inner], atol=1e-9)
    noisy = line + np.random.RandomState(0).normal(0, 0.2, 120)
    assert np.std(zero_phase(lrs, noisy)[inner] - line[inner]) < 0.35 * np.std(noisy[inner] - line[inner])


def test_zero_phase_ignores_non_finite_losses_and_bandwidth_zero_is_identity():
    lrs = np.logspace(-3, 0, 30)
    losses = np.linspace(3.0, 1.0, 30)
    with_nan = losses.copy()
    with_nan[[5, 17]] = [np.nan, np.inf]
    smooth = zero_phase(lrs, with_nan, bandwidth=0.1)
    assert np.all(np.isfinite(smooth))
    assert abs(smooth[5] - losses[5]) < 0.05
    assert np.array_equal(zero_phase(lrs, losses, bandwidth=0), losses)


def test_zero_phase_rejects_bad_input():
    with pytest.raises(ValueError, match="bandwidth must be >= 0"):
        zero_phase([1e-3, 1e-2], [1.0, 2.0], bandwidth=-0.1)
    with pytest.raises(ValueError, match="lrs must all be > 0"):
        zero_phase([0.0, 1e-2], [1.0, 2.0])
    with pytest.raises(ValueError, match="same length"):
        zero_phase([1e-3, 1e-2], [1.0])


def test_default_bandwidth_scales_with_span_and_step():
    assert default_bandwidth(np.logspace(-6, 1, 1000)) == pytest.approx(7 / 20)
    # a short, coarse sweep: at least 1.5 steps (0.5 decade each)
    assert default_bandwidth(np.logspace(-3, 0, 7)) == pytest.approx(0.75)


def test_ema_matches_its_recurrence():
    values = [4.0, 2.0, 6.0]
    out = ema(values, smoothing=0.25)
    expected = [4.0, 0.25 * 4.0 + 0.75 * 2.0]
    expected.append(0.25 * expected[1] + 0.75 * 6.0)
    assert np.allclose(out, expected)
    assert ema_step(None, 1.5, 0.9) == 1.5
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        ema(values, smoothing=1.0)


def test_despike_removes_one_outlier_anywhere_and_keeps_lines():
    line = np.linspace(3.0, 1.0, 40)
    assert np.allclose(despike(line), line)
    step = line[0] - line[1]
    for where in (0, 1, 17, 38, 39):
        spiked = line.copy()
        spiked[where] = 1e8
        # gone: what is left is the median's usual shift of at most two ranks next to it
        assert np.allclose(despike(spiked), line, atol=2.01 * step), where
    # two outliers in a row inside the curve go too (a window of 5 points)
    spiked = line.copy()
    spiked[[20, 21]] = [1e6, -1e6]
    assert np.allclose(despike(spiked), line, atol=2.01 * step)
    # non-finite losses stay non-finite and do not count
    holes = line.copy()
    holes[[5, 6]] = [np.nan, np.inf]
    out = despike(holes)
    assert np.isnan(out[5]) and np.isinf(out[6]) and np.allclose(out[7:], line[7:], atol=2.01 * step)


def test_despike_caps_a_blow_up_at_three_times_the_fall():
    losses = np.r_[np.linspace(2.0, 0.5, 30), 0.5 * 3.0 ** np.arange(1, 12)]  # then x3 per step
    out = despike(losses)
    low = out.min()  # the running median's bottom, a little above 0.5
    assert 0.5 <= low < 0.65 and out.max() == pytest.approx(low + 3 * (2.0 - low))
    assert np.array_equal(out[:28], losses[:28])
    rising_first = np.linspace(1.0, 50.0, 30)  # lowest value first: nothing to measure a fall by
    assert np.array_equal(despike(rising_first), rising_first)
    assert DESPIKE_WIDTH == 5


def test_one_huge_loss_does_not_lift_the_smoothed_curve_before_it():
    """Issue 11: with the last loss at 1e8 the plain Gaussian average rose far before the raw
    losses did; the robust smoother does not."""
    lrs = np.logspace(-4, 0, 41)
    losses = np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 21), np.linspace(0.6, 5, 10)])
    outlier = losses.copy()
    outlier[-1] = 1e8
    plain = zero_phase(lrs, outlier, robust=False)
    robust = zero_phase(lrs, outlier)
    assert plain[30] > 100 * losses[30]  # the plain average: a mountain at the bottom, a decade before
    assert np.array_equal(robust, zero_phase(lrs, losses))
    assert abs(int(np.argmin(robust)) - 30) <= 2  # the bottom stays near where the raw losses have it
    assert robust[:38].max() <= losses[:38].max()
