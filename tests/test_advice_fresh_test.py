"""The frozen test sets' scoring (benchmarks/advice/fresh_test.py) on the cached sweeps: the edge
constants it replaces come back, and the SDs threshold keeps the noisy falls of the first set
from being read at their bottom."""
import numpy as np
import pytest

from benchmarks.advice import score as SC
from benchmarks.advice.fresh_families import fresh_recipes
from gluon_lrfinder.core import edge


@pytest.fixture(scope="module")
def bench():
    return SC.Bench([r for r in fresh_recipes() if r.constant is not None])


def test_replaced_constants_come_back(bench):
    before = (edge.BOTTOM_FALL, edge.BOTTOM_SDS)
    SC.package_answers_with(bench, BOTTOM_SDS=0.0, BOTTOM_FALL=0.0)
    assert (edge.BOTTOM_FALL, edge.BOTTOM_SDS) == before


def test_the_sds_threshold_keeps_noisy_shallow_falls_unread(bench):
    installed = SC.package_answers_with(bench)
    unread = SC.package_answers_with(bench, BOTTOM_FALL=0.0)
    anyway = SC.package_answers_with(bench, BOTTOM_SDS=0.0)
    conv = next(r.name for r in bench.recipes if r.family == "1-d conv")
    assert np.allclose(installed[conv], unread[conv])  # 4-9 noise SDs: not read
    assert all(a[0] > 2 * b[0] for a, b in zip(anyway[conv], installed[conv]))  # read, the tops rise
    for r in bench.recipes:  # no recipe of this set has a shallow, clear fall
        assert np.allclose(installed[r.name], unread[r.name]), r.name
