import math

import pytest

from gluon_lrfinder.core import plan as sweep


def test_exponential_default_multiplier_and_cap():
    lrs = list(sweep.exponential(1e-6, max_iter=50))
    assert len(lrs) == 50
    assert lrs[0] == 1e-6
    assert all(math.isclose(b / a, 1.1) for a, b in zip(lrs, lrs[1:]))


def test_exponential_stops_at_lr_end():
    lrs = list(sweep.exponential(1e-3, lr_multiplier=2.0, lr_end=0.1))
    assert lrs[-1] <= 0.1 < lrs[-1] * 2
    assert len(lrs) == 7  # 1e-3 * 2**6 = 0.064


def test_exponential_derives_multiplier_from_end_and_count():
    lrs = list(sweep.exponential(1e-5, lr_end=10.0, num_iter=61))
    assert len(lrs) == 61
    assert lrs[0] == 1e-5 and lrs[-1] == 10.0
    assert math.isclose(lrs[1] / lrs[0], 10 ** 0.1)


def test_exponential_never_unbounded():
    # no lr_end, no num_iter: still capped by max_iter
    assert len(list(sweep.exponential(1.0, lr_multiplier=1.01))) == sweep.DEFAULT_MAX_ITER


def test_linear():
    lrs = list(sweep.linear(0.01, 0.1, num_iter=10))
    assert len(lrs) == 10 and lrs[0] == 0.01 and lrs[-1] == 0.1
    steps = [b - a for a, b in zip(lrs, lrs[1:])]
    assert max(steps) - min(steps) < 1e-12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr_start=0.0), r"lr_start must be a finite number > 0, got 0\.0"),
        (dict(lr_start=-1e-3), r"lr_start must be a finite number > 0"),
        (dict(lr_start=float("inf")), r"lr_start must be a finite number > 0"),
        (dict(lr_start=1e-3, lr_multiplier=1.0), r"lr_multiplier must be a finite number > 1\.0, got 1\.0"),
        (dict(lr_start=1e-3, lr_multiplier=0.5), r"lr_multiplier must be a finite number > 1\.0"),
        (dict(lr_start=1e-3, lr_end=1e-3), r"lr_end must be a finite number > lr_start \(0\.001\), got 0\.001"),
        (dict(lr_start=1e-3, num_iter=1), r"num_iter must be an integer >= 2, got 1"),
        (dict(lr_start=1e-3, lr_end=1.0, num_iter=4, lr_multiplier=3.0), r"lr_multiplier=3\.0 contradicts"),
        (dict(lr_start=1e-3, max_iter=0), r"max_iter must be an integer >= 1, got 0"),
    ],
)
def test_exponential_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        list(sweep.exponential(**kwargs))


def test_type_errors_name_the_parameter():
    with pytest.raises(TypeError, match=r"lr_start must be a real number, got '1e-3'"):
        list(sweep.exponential("1e-3"))
    with pytest.raises(TypeError, match=r"num_iter must be an integer >= 2, got 2\.5"):
        list(sweep.linear(0.1, 1.0, num_iter=2.5))


def test_linear_rejects_bad_end():
    with pytest.raises(ValueError, match=r"lr_end must be a finite number > lr_start"):
        list(sweep.linear(1.0, 0.5))


def test_multiplier_for():
    assert math.isclose(sweep.multiplier_for(1e-4, 1e-2, 3), 10.0)


# ---------------------------------------------------------------------- SweepPlan
def test_sweep_plan_is_checked_when_made_and_records_what_it_used():
    from gluon_lrfinder.core.plan import SweepPlan

    plan = SweepPlan(lr_start=1e-4, lr_end=1.0, num_iter=21)
    assert plan.rates()[0] == 1e-4 and plan.rates()[-1] == pytest.approx(1.0) and len(plan.rates()) == 21
    assert plan.settings() == {"lr_start": 1e-4, "lr_multiplier": pytest.approx(10 ** 0.2), "lr_end": 1.0,
                               "num_iter": 21, "mode": "exponential"}
    assert SweepPlan(mode="linear", lr_end=1.0).settings()["num_iter"] == 100
    assert SweepPlan().bounded is False and plan.bounded is True
    with pytest.raises(ValueError, match="mode must be one of"):
        SweepPlan(mode="cubic")
    with pytest.raises(ValueError, match="lr_multiplier applies to mode='exponential' only"):
        SweepPlan(mode="linear", lr_end=1.0, lr_multiplier=1.1)
    with pytest.raises(ValueError, match="lr_start"):
        SweepPlan(lr_start=-1.0)
