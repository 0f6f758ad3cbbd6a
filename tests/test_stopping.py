import math

import pytest

from gluon_lrfinder import LRFinderStoppingCriteria, StoppingCriteria


def test_stops_when_smoothed_loss_exceeds_threshold_after_min_iter():
    stop = StoppingCriteria(smoothing=0.0, min_iter=3, threshold=2.0)
    assert [stop(x) for x in (1.0, 3.0)] == [False, False]  # above 2x, but before min_iter
    assert stop(2.5) is True
    assert stop.reason == "diverged"
    assert stop.num_seen == 3


def test_smoothing_delays_the_stop():
    losses = [1.0] * 5 + [2.5] * 5
    raw, smooth = StoppingCriteria(0.0, 1, 2.0), StoppingCriteria(0.8, 1, 2.0)
    first_raw = next(i for i, x in enumerate(losses) if raw(x))
    first_smooth = next(i for i, x in enumerate(losses) if smooth(x))
    assert first_raw == 5
    assert first_smooth > first_raw
    # the EMA of the tutorial: new = 0.8 * old + 0.2 * loss
    check = StoppingCriteria(0.8, 100, 2.0)
    for x in losses[:7]:
        check(x)
    expected = 1.0
    for x in losses[1:7]:
        expected = 0.8 * expected + 0.2 * x
    assert math.isclose(check.smoothed_loss, expected)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_loss_stops_at_once(bad):
    stop = StoppingCriteria(min_iter=20)
    assert stop(bad) is True
    assert stop.reason == "non-finite loss"


def test_does_not_stop_on_a_falling_curve():
    stop = StoppingCriteria()
    assert not any(stop(2.0 - 0.01 * i) for i in range(200))


def test_reset_and_state_dict_round_trip():
    stop = StoppingCriteria(0.5, 2, 1.5)
    stop(1.0)
    stop(1.2)
    state = stop.state_dict()
    other = StoppingCriteria()
    other.load_state_dict(state)
    assert other.state_dict() == state
    assert (other.smoothing, other.min_iter, other.threshold) == (0.5, 2, 1.5)
    stop.reset()
    assert stop.first_loss is None and stop.num_seen == 0


def test_alias_for_tutorial_code():
    assert LRFinderStoppingCriteria is StoppingCriteria
    assert LRFinderStoppingCriteria(smoothing=0.3, min_iter=20).threshold == 2.0


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(smoothing=1.0), ValueError, r"smoothing must be in \[0, 1\), got 1\.0"),
        (dict(smoothing=-0.1), ValueError, r"smoothing must be in \[0, 1\), got -0\.1"),
        (dict(min_iter=0), ValueError, r"min_iter must be an integer >= 1, got 0"),
        (dict(min_iter=2.0), TypeError, r"min_iter must be an integer >= 1, got 2\.0"),
        (dict(threshold=1.0), ValueError, r"threshold must be a finite number > 1\.0, got 1\.0"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        StoppingCriteria(**kwargs)
