"""Suggestion rules on hand-built curves, the diagnosis flags and the suggestion report."""
import math

import numpy as np
import pytest
from conftest import BUILTIN_RULES, array_rule, report, suggest

from gluon_lrfinder.core.report import COMPARED, SuggestionReport, diagnose, disagreement
from gluon_lrfinder.core.rules import (
    BLEND_FRACTION,
    BLEND_FRACTION_BY_KIND,
    DEFAULT_METHOD,
    SuggestionWarning,
    blend,
    blend_fraction,
    ema_steepest,
    lr_range,
    minimum,
    raw_steepest,
    steepest,
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


def issue11_curve():
    """Flat, a straight descent from 1e-3.5 to 1e-1.5, then a rise (issue 11's example)."""
    lrs = np.logspace(-4, 0, 41)
    return lrs, np.concatenate([np.full(10, 2.0), np.linspace(2.0, 0.5, 21), np.linspace(0.6, 5, 10)])


def test_valley_sits_in_the_middle_of_the_descent():
    lrs, losses = issue11_curve()
    # the descent spans indices 9..30; counted as fastai counts the valley (as many points as
    # the decreasing subsequence, 21, ending at 30), its middle is index 19: 10**-2.1
    assert math.log10(valley(lrs, losses, bandwidth=0)) == pytest.approx(-2.1, abs=1e-9)


@pytest.mark.parametrize("name", sorted(BUILTIN_RULES))
def test_no_rule_is_moved_by_one_huge_last_loss(name):
    """Issue 11: with the last loss at 1e8, valley answered lr_start (1e-4) instead of 0.005 and
    the smoothed curve rose far before the raw losses did."""
    lrs, losses = issue11_curve()
    outlier = losses.copy()
    outlier[-1] = 1e8
    rule = array_rule(name)
    assert rule(lrs, outlier) == rule(lrs, losses)
    assert rule(lrs, outlier) > lrs[0]


def test_one_huge_loss_inside_the_curve_moves_no_smoothed_rule():
    lrs, losses = textbook(noise=0.02)
    spiked = losses.copy()
    spiked[30] = 1e6  # inside the descent
    for name in COMPARED:
        assert array_rule(name)(lrs, spiked) == pytest.approx(array_rule(name)(lrs, losses), rel=0.2), name


def test_blend_goes_from_the_steepest_point_towards_the_minimum():
    lrs, losses = textbook(noise=0.02)
    low, high = steepest(lrs, losses), 10 * minimum(lrs, losses)
    assert blend(lrs, losses, fraction=0.0) == pytest.approx(low)
    assert blend(lrs, losses, fraction=1.0) == pytest.approx(high)
    half = blend(lrs, losses, fraction=0.5)
    assert half == pytest.approx(math.sqrt(low * high))
    assert blend(lrs, losses) == pytest.approx(low ** (1 - BLEND_FRACTION) * high ** BLEND_FRACTION)
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\], got 1\.5"):
        blend(lrs, losses, fraction=1.5)


def test_blend_follows_the_shape_of_the_descent():
    """A cliff keeps the answer near the steepest point; a broad descent moves it towards the bottom."""
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    rise = np.where(lrs > 0.5, 20 * (lrs - 0.5), 0.0)
    cliff = 2.0 - np.tanh(6 * (x + 1.0)) + rise
    broad = 2.0 - np.tanh(0.8 * (x + 3.0)) + rise
    sgd = blend_fraction("SGD")
    for losses in (cliff, broad):
        s, m = steepest(lrs, losses), 10 * minimum(lrs, losses)
        assert s < blend(lrs, losses, fraction=sgd) < m
    shift_cliff = math.log10(blend(lrs, cliff, fraction=sgd) / steepest(lrs, cliff))
    shift_broad = math.log10(blend(lrs, broad, fraction=sgd) / steepest(lrs, broad))
    assert shift_cliff < 0.2 and shift_broad > 2 * shift_cliff + 0.2


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
    for name, rule in ((n, array_rule(n)) for n in BUILTIN_RULES):
        lr = rule(lrs, losses)
        assert lrs[0] <= lr <= lrs[-1], name
    with pytest.raises(ValueError, match="too few points to suggest a learning rate: need at least 5"):
        steepest([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="same length"):
        steepest([1e-3, 1e-2], [1.0])


def test_lr_range_from_the_steepest_point_towards_the_minimum_by_optimizer():
    from gluon_lrfinder.core import edge

    lrs, losses = textbook()  # a cliff (fall width ~1 decade): the optimizer's kind decides
    s, at_min = steepest(lrs, losses), 10 * minimum(lrs, losses)
    for optimizer, fraction in (("Adam", edge.RANGE_FRACTION_BY_KIND["ema_normalised"]),
                                ("SGD", edge.RANGE_FRACTION_BY_KIND["other"]), (None, edge.RANGE_FRACTION)):
        low, high = lr_range(lrs, losses, optimizer=optimizer)
        expected = min(s ** (1 - fraction) * at_min**fraction, at_min / edge.RANGE_CAP)
        assert high == pytest.approx(expected)  # the edge is far above here
        assert low == pytest.approx(high / edge.RANGE_SPAN)
        lr = suggest(lrs, losses, method="range", warn=False, optimizer=optimizer)
        assert low < lr < high  # the contract: the default rule's answer lies inside the range
    assert s <= lr_range(lrs, losses, optimizer="Adam")[1] < lr_range(lrs, losses, optimizer="SGD")[1]
    # a curve whose edge comes right after its minimum: the top stays a margin below the edge
    lrs = np.logspace(-4, 0, 81)
    x = np.log10(lrs)
    losses = 2.0 - np.tanh(4 * (x + 2.0)) + np.where(x > -1.8, 40 * (x + 1.8) ** 2, 0.0)
    found = edge.edge_of_stability(lrs, losses, bandwidth=0)
    assert found.found
    assert lr_range(lrs, losses, bandwidth=0, optimizer="SGD")[1] <= found.lr / edge.EDGE_MARGIN * (1 + 1e-9)


def test_diagnose_flags():
    lrs, losses = textbook()
    assert diagnose(lrs, losses) == []
    never_fell = diagnose(np.logspace(-3, 0, 20), np.linspace(1.0, 2.0, 20))
    assert len(never_fell) == 1 and never_fell[0].startswith("loss never fell: ") and "lr_start" in never_fell[0]
    assert "more iterations (num_iter" in never_fell[0]  # what to try when the model learns slowly
    falling = np.linspace(2.0, 0.5, 30)
    never_diverged = diagnose(np.logspace(-5, -2, 30), falling)
    assert len(never_diverged) == 1 and never_diverged[0].startswith("never diverged: raise lr_end; ")
    assert "leans low" in never_diverged[0]
    assert diagnose([1e-3, 1e-2], [1.0, 0.5]) == ["too few points"]
    # a search cut short by a spurious stop: it never fell, ended on a rise, over one decade
    short = diagnose(np.logspace(-6, -5, 24), 0.5 + 0.01 * np.arange(24))
    assert short[0].startswith("loss never fell: ")
    assert short[1].startswith("stopped before the loss fell: the sweep ended on a rise after 24 points")
    assert "StoppingCriteria" in short[1] and "lr_start" in short[1]
    assert short[2].startswith("short sweep: the curve spans 1.00 decades")


def test_blend_reads_the_optimizer_kind():
    """Adam-like optimizers (a moving average of squared gradients) get the steepest point,
    the others (SGD, NAG, AdaGrad) a point further towards the minimum."""
    lrs, losses = broad_descent()
    s, m = steepest(lrs, losses), 10 * minimum(lrs, losses)
    for name in ("Adam", "RMSProp", "nadam"):
        assert blend_fraction(name) == BLEND_FRACTION_BY_KIND["ema_normalised"] == 0.0
        assert suggest(lrs, losses, method="blend", optimizer=name, warn=False) == pytest.approx(s)
    for name in ("SGD", "NAG", "AdaGrad"):
        f = blend_fraction(name)
        assert f == BLEND_FRACTION_BY_KIND["other"] > 0
        assert suggest(lrs, losses, method="blend", optimizer=name, warn=False) == pytest.approx(s ** (1 - f) * m ** f)
    assert suggest(lrs, losses, method="blend", warn=False) == blend(lrs, losses, fraction=BLEND_FRACTION)
    # other rules ignore it
    assert suggest(lrs, losses, method="minimum", optimizer="SGD", warn=False) == minimum(lrs, losses)


def test_the_default_lies_inside_the_range_and_reads_the_optimizer_and_the_shape():
    from gluon_lrfinder.core import edge

    lrs, losses = textbook()  # a cliff: the optimizer's kind decides how far the top goes
    adam = lr_range(lrs, losses, optimizer="Adam")
    sgd = lr_range(lrs, losses, optimizer="SGD")
    assert sgd[1] > 2 * adam[1]
    for optimizer, (low, high) in (("Adam", adam), ("SGD", sgd)):
        lr = suggest(lrs, losses, optimizer=optimizer, warn=False)
        b = blend(lrs, losses, fraction=blend_fraction(optimizer))
        assert lr == pytest.approx(min(max(b, low), high)) and low <= lr <= high  # the blend, clipped
        assert suggest(lrs, losses, "range", optimizer=optimizer, warn=False) == pytest.approx(
            high / edge.SUGGEST_DIVISOR)
        assert report(lrs, losses, optimizer=optimizer).lr == lr
    lrs, losses = broad_descent()  # a fall spread over many decades: its shape decides, not the optimizer
    assert lr_range(lrs, losses, optimizer="Adam") == lr_range(lrs, losses, optimizer="SGD")
    s, m = steepest(lrs, losses), 10 * minimum(lrs, losses)
    f = edge.RANGE_FRACTION_BROAD
    assert lr_range(lrs, losses, optimizer="Adam")[1] == pytest.approx(min(s ** (1 - f) * m**f, m / edge.RANGE_CAP))


def broad_descent():
    """A slow slide over five decades: the steepest point and minimum / 10 lie far apart."""
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    return lrs, 2.0 - np.tanh(0.5 * (x + 3.0)) + np.where(lrs > 2, 20 * (lrs - 2), 0.0)


def test_disagreement_is_flagged_with_which_way_to_lean():
    lrs, losses = broad_descent()
    answers = {name: array_rule(name)(lrs, losses) for name in BUILTIN_RULES}
    flag = disagreement(answers)
    spread = math.log10(max(answers[n] for n in COMPARED) / min(answers[n] for n in COMPARED))
    assert spread > 1 and flag.startswith(f"rules disagree by {spread:.1f} decades")
    assert f"lean towards {DEFAULT_METHOD}" in flag
    r = report(lrs, losses)
    assert flag in r.flags and flag in str(r)
    with pytest.warns(SuggestionWarning, match="rules disagree by"):
        suggest(lrs, losses)
    # agreeing rules: no flag, no warning
    assert disagreement({"blend": 0.01, "steepest": 0.005, "valley": 1e-5, "minimum": 0.02}) is None
    assert not any(f.startswith("rules disagree") for f in report(*textbook()).flags)


def test_suggest_warns_and_rejects_unknown_methods():
    with pytest.warns(SuggestionWarning, match="never diverged: raise lr_end"):
        suggest(np.logspace(-5, -2, 30), np.linspace(2.0, 0.5, 30))
    with pytest.raises(ValueError, match="method must be one of"):
        suggest(*textbook(), method="fastest")
    assert DEFAULT_METHOD in BUILTIN_RULES


def test_report_lists_every_rule_their_agreement_and_flags():
    lrs, losses = textbook(noise=0.03)
    r = report(lrs, losses, method="steepest")
    assert isinstance(r, SuggestionReport)
    assert set(r.lrs) == set(BUILTIN_RULES)
    assert r.lr == r.lrs["steepest"] == steepest(lrs, losses)
    logs = np.log10(list(r.lrs.values()))
    assert r.spread_decades == pytest.approx(logs.max() - logs.min())
    assert r.decades_from("steepest") == 0.0
    assert r.lr_range == lr_range(lrs, losses)
    assert r.valid_lr is None
    # steepest lies below the range here (no optimizer: the top goes towards the minimum): the
    # report says so; the default rule lies inside the range and raises no flag
    assert [f.split(":")[0] for f in r.flags] == ["suggestion outside the range"]
    default = report(lrs, losses, method="range")
    assert default.flags == [] and default.lr_range[0] < default.lr < default.lr_range[1]
    text = str(default)
    assert "suggested lr" in text and "valley" in text and "flags: none" in text


def test_report_with_validation_signal_and_with_too_few_points():
    lrs, losses = textbook()
    r = report(lrs, losses, method="steepest", valid_lrs=lrs[::4], valid_losses=losses[::4])
    assert r.valid_lr == steepest(lrs[::4], losses[::4])
    assert "validation signal suggests" in str(r)
    short = report([1e-3, 1e-2], [1.0, 0.5])
    assert math.isnan(short.lr) and short.lrs == {} and short.flags == ["too few points"]
    assert "too few points" in str(short)


def test_a_rule_callable_works_wherever_a_rule_name_does():
    from gluon_lrfinder.core.rules import get_rule

    lrs, losses = textbook()

    def half_minimum(lrs, losses, bandwidth=None):
        return 5 * minimum(lrs, losses, bandwidth)

    expected = 5 * minimum(lrs, losses)
    assert suggest(lrs, losses, method=half_minimum, warn=False) == pytest.approx(expected)
    r = report(lrs, losses, method=half_minimum)
    assert r.method == "half_minimum" and r.lr == pytest.approx(expected)
    assert r.lrs["half_minimum"] == pytest.approx(expected) and "steepest" in r.lrs
    with pytest.raises(ValueError, match=r"method must be one of 'blend', .* or a callable rule\(lrs, losses, "
                                         r"bandwidth\), got 'fastest'"):
        get_rule("fastest")
    with pytest.raises(TypeError, match=r"method must be a rule name .* or a callable rule\(lrs, losses, "
                                        r"bandwidth\), got int"):
        suggest(lrs, losses, method=3)


def test_too_few_points_is_decided_by_counting_not_by_the_flag_text():
    from gluon_lrfinder.core.report import TOO_FEW_POINTS
    from gluon_lrfinder.core.smoothing import enough_points

    assert not enough_points([1e-3, 1e-2, 1e-1, 1.0], [1.0, float("nan"), 0.5, 2.0])
    assert enough_points(*textbook())
    short = report([1e-3, 1e-2, 1e-1], [1.0, 0.5, 2.0])
    assert short.flags == [TOO_FEW_POINTS] and short.lrs == {}


# ---------------------------------------------------------------------- the registry
def test_every_array_rule_is_registered_with_a_one_line_description():
    from gluon_lrfinder.core.registry import RULES

    assert set(BUILTIN_RULES) <= set(RULES)
    for rule in RULES.values():
        assert rule.description and "\n" not in rule.description and len(rule.description) < 160, rule.name


def test_a_registered_rule_reaches_suggest_and_report_and_a_second_registration_is_refused():
    from gluon_lrfinder.core.registry import RULES, CurvePoints, register_rule
    from gluon_lrfinder.core.report import report_curve, suggest_curve
    from gluon_lrfinder.core.rules import get_rule

    lrs = np.logspace(-4, 0, 41)
    losses = 1 - np.tanh(3 * (np.log10(lrs) + 2)) + np.where(lrs > 0.1, 50 * (lrs - 0.1), 0)
    try:
        @register_rule("test_half_minimum", "half the LR at the loss minimum")
        def half(curve, bandwidth=None):
            return 5 * minimum(curve.lrs, curve.losses, bandwidth)

        curve = CurvePoints(lrs, losses)
        assert suggest_curve(curve, "test_half_minimum", warn=False) == 5 * minimum(lrs, losses)
        assert report_curve(curve).lrs["test_half_minimum"] == 5 * minimum(lrs, losses)
        assert get_rule("test_half_minimum").description == "half the LR at the loss minimum"
        with pytest.raises(ValueError, match="name: a rule 'test_half_minimum' is already registered"):
            register_rule("test_half_minimum", "again")(half)
    finally:
        RULES.pop("test_half_minimum", None)


def test_blend_reads_the_optimizer_from_the_curve_on_every_path():
    from gluon_lrfinder.core.registry import CurvePoints
    from gluon_lrfinder.core.rules import blend, blend_fraction, get_rule

    lrs = np.logspace(-5, 0, 60)
    losses = 2.0 - np.tanh(np.log10(lrs) + 3) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)  # a broad fall
    sgd = get_rule("blend")(CurvePoints(lrs, losses, {"optimizer": "SGD"}))
    assert sgd == blend(lrs, losses, fraction=blend_fraction("SGD")) != blend(lrs, losses)
    assert suggest(lrs, losses, "blend", warn=False, optimizer="SGD") == sgd
    assert suggest(lrs, losses, "blend", warn=False) == blend(lrs, losses)


def test_blend_in_range_is_the_blend_clipped_into_the_range():
    from gluon_lrfinder.core.registry import CurvePoints
    from gluon_lrfinder.core.rules import blend_in_range, get_rule

    lrs = np.logspace(-5, 0, 60)
    broad = 2.0 - np.tanh(0.5 * (np.log10(lrs) + 3)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    cliff = 2.0 - np.tanh(4 * (np.log10(lrs) + 3)) + np.where(lrs > 0.1, 40 * (lrs - 0.1), 0)
    for losses in (broad, cliff):
        for optimizer in ("SGD", "Adam", None):
            low, high = lr_range(lrs, losses, optimizer=optimizer)
            b = blend(lrs, losses, fraction=blend_fraction(optimizer))
            lr = blend_in_range(lrs, losses, optimizer=optimizer)
            assert low <= lr <= high
            assert lr == (b if low <= b <= high else (low if b < low else high))
            settings = {} if optimizer is None else {"optimizer": optimizer}
            assert get_rule("blend_in_range")(CurvePoints(lrs, losses, settings)) == lr
