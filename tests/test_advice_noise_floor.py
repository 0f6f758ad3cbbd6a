"""The oracle's noise floor (benchmarks/advice/noise_floor.py) on small hand-made oracle tables."""
import math

import pytest

from benchmarks.advice import noise_floor as nf
from benchmarks.advice import score as sc

# 4 points per decade; seed 2 disagrees: its best is at 0.1, the others' at 0.0316.
ROWS = {
    0.01: [0.50, 0.50, 0.50],
    0.01778: [0.30, 0.30, 0.30],
    0.03162: [0.10, 0.10, 0.40],
    0.05623: [0.20, 0.20, 0.30],
    0.1: [0.40, 0.40, 0.20],
    0.1778: [None, None, None],
}


def table() -> sc.Table:
    return sc.Table(ROWS, initial=1.0)


def test_seeds_rescore_the_same_grid_on_some_orders_only():
    t = table()
    assert t.best_lr == pytest.approx(0.03162)
    alone = t.seeds([2])
    assert alone.best_lr == pytest.approx(0.1)
    assert alone.best_loss == pytest.approx(0.20)
    assert list(alone.x) == list(t.x)


def test_neighbours_are_the_grid_points_next_to_the_best():
    assert nf.neighbours(table()) == pytest.approx([0.30 / 0.20 - 1, 0.2333333 / 0.20 - 1], rel=1e-5)


def test_oracle_of_two_orders_is_charged_on_the_third():
    # seeds 0 and 1 pick 0.0316, which costs seed 2 0.40 against its own best 0.20;
    # leaving out seed 0 or 1 still picks 0.0316 (mean 0.25 against 0.25 at 0.0562 and 0.30 at 0.1).
    assert nf.oracle_per_seed(table()) == pytest.approx([0.0, 0.0, 1.0])


def test_orders_solved_to_float_precision_are_left_out():
    rows = {lr: list(v) for lr, v in ROWS.items()}
    rows[0.05623] = [0.20, 0.20, -1e-6]
    t = sc.Table(rows, initial=1.0)
    assert nf.scored_seeds(t) == [0, 1]
    assert len(nf.per_seed(t, 0.03162)) == 2


def test_best_below_the_edge_is_capped_by_the_margin():
    t = table()
    assert nf.below_edge(t, math.inf) == 0.0
    # the edge at 0.05 allows rates up to 0.04: the best there is the grid's best
    assert nf.below_edge(t, 0.05) == pytest.approx(0.0)
    # the edge at 0.025 allows up to 0.02: 0.2 of a step from 0.30 (at 0.0178) to the best 0.20
    assert nf.below_edge(t, 0.025) == pytest.approx((0.30 - 0.2045 * 0.10) / 0.20 - 1, rel=1e-3)


def test_an_exact_adviser_has_no_regret_and_a_low_one_has_some():
    t = table()
    assert max(nf.noisy_adviser([t], 0.0, 0.0)) == pytest.approx(0.0)
    # one grid step (0.25 decades) low lands on 0.0178: 0.30 against the best 0.20
    assert min(nf.noisy_adviser([t], 0.25, 0.0)) == pytest.approx(0.5, rel=1e-3)


def test_improvement_lost_is_the_share_between_best_and_untrained():
    t = table()  # untrained: 1.0 (the initial loss is the worst seen below the best), best: 0.20
    assert nf.improvement_lost(t, 0.03162) == pytest.approx(0.0)
    assert nf.improvement_lost(t, 0.01) == pytest.approx((0.50 - 0.20) / (1.0 - 0.20))
    # a diverged rate counts as untrained: everything lost
    assert nf.improvement_lost(t, 0.1778) == pytest.approx(1.0)


def test_a_bracket_is_picked_on_order_0_and_scored_on_orders_1_and_2():
    t = table()  # orders 1-2: mean 0.25 at 0.0316 and at 0.0562 (their best), 0.50 at 0.01
    assert nf.bracket_regret(t, 0.01, (1.0,)) == pytest.approx(1.0)
    assert nf.bracket_regret(t, 0.01, (1.0, 3.1623)) == pytest.approx(0.0, abs=1e-3)
    # order 0 prefers 0.0316 (0.10) to 0.1 (0.40); on orders 1-2, 0.0316 is among the best
    assert nf.bracket_regret(t, 0.1, (0.3162, 1.0)) == pytest.approx(0.0, abs=1e-3)
