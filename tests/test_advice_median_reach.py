"""The median-reach study (benchmarks/advice/median_reach.py) on the cached benchmark: its share
lost is the benchmark's, its factor family contains the package, and its choices are ordered."""
import numpy as np
import pytest

from benchmarks.advice import median_reach as mr
from benchmarks.advice.noise_floor import improvement_lost


@pytest.fixture(scope="module")
def searches():
    return mr.load()


def test_share_lost_at_many_rates_is_the_benchmarks(searches):
    by, rec, names = searches
    table = rec[names[0]].constant
    lrs = np.logspace(table.x[0] - 0.5, table.x[-1] + 0.5, 17)
    assert np.allclose(mr.lost_at(table, lrs), [improvement_lost(table, lr) for lr in lrs])


@pytest.mark.parametrize("kind", mr.KINDS)
def test_the_factor_family_at_one_is_the_package(searches, kind):
    by, rec, names = searches
    fam = mr.factor_family(by, rec, kind)
    one = fam.members.index("x 10^+0.00")
    for n in names:
        answers = [s.top if kind == "one-cycle" else s.const for s in by[n]]
        assert np.allclose(fam.lost[n][one], [improvement_lost(mr.table_of(rec[n], kind), a) for a in answers])


@pytest.mark.parametrize("kind", mr.KINDS)
def test_knowing_the_recipe_never_loses_more_on_average_than_one_member_for_all(searches, kind):
    by, rec, names = searches
    fam = mr.landmark_family(by, rec, kind)
    got = mr.choices(fam, rec, names)
    exact = got["knowing the recipe exactly (chosen on all its sweeps)"][0]
    for member in range(0, len(fam.members), 37):  # every member's mean is at least the per-recipe best's
        assert exact.mean() <= fam.pooled(names)[member].mean() + 1e-12
    hindsight = got["in hindsight (lowest median over every search)"][0]
    assert np.median(hindsight) <= np.median(got["held out (lowest median on the other families)"][0]) + 1e-12
