"""The held-out harness of the shallow reading (benchmarks/advice/shallow_fall.py) on the cached
benchmark: its candidate at the shipped constants is exactly what the package answers."""
import numpy as np
import pytest

from benchmarks.advice import shallow_fall as sf
from gluon_lrfinder.core import edge


@pytest.fixture(scope="module")
def bench():
    return sf.load_bench()


def test_the_candidate_at_the_shipped_constants_is_the_package(bench):
    fit = sf.Fit(bench)
    shipped = {"share": edge.BOTTOM_FALL, "g": edge.BOTTOM_FACTOR, "margin": 1.0, "k": edge.SUGGEST_DIVISOR,
               "sds": edge.BOTTOM_SDS}
    answers = fit.answers[fit.members.index(shipped)]
    package = sf.package_answers(bench, True)
    for r in bench.recipes:
        assert np.allclose(answers[r.name], package[r.name]), r.name


def test_only_shallow_falls_are_read_differently(bench):
    before, now = sf.package_answers(bench, False), sf.package_answers(bench, True)
    changed = shallow = 0
    for r in bench.recipes:
        for (_, e, _), b, n in zip(bench.curves[r.name], before[r.name], now[r.name]):
            if not e.ok:
                continue
            is_shallow = sf.fall_share(e) < edge.BOTTOM_FALL
            shallow += is_shallow
            if not np.allclose(b, n):
                changed += 1
                assert is_shallow, r.name
    assert 0 < changed <= shallow
