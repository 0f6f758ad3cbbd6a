"""The oracle's adaptive grid (benchmarks/advice/oracle.ascend) on synthetic losses: it stops once
every data order is worse than twice the best so far, and grows downwards, two steps at a time,
while the best is the lowest rate trained, never below its floor."""
from benchmarks.advice.oracle import ascend, key


def _run(loss, start, stop=12, floor=-40, untrained=2.0):
    asked, rows, table = [], {}, {"pruned": []}

    def point(k):
        asked.append(k)
        rows.setdefault(key(k), [loss(k)] * 3)
        return rows[key(k)]
    ascend(point, rows, table, untrained, start, stop, floor, lambda: None)
    return asked, table["pruned"]


def test_it_stops_at_twice_the_best_and_lists_the_rest_as_pruned():
    asked, pruned = _run(lambda k: 0.1 + 0.05 * (k - 2) ** 2, start=0)
    assert asked == [0, 1, 2, 3, 4]  # 4: 0.3, at least twice the best 0.1
    assert pruned == [key(j) for j in range(5, 12)]


def test_it_grows_downwards_until_the_best_is_inside():
    asked, _ = _run(lambda k: 0.1 + 0.05 * (k + 5) ** 2, start=0)
    assert asked[:3] == [0, 1, 2] and min(asked) == -6  # the best, -5, has a rate below it
    assert set(asked) == set(range(-6, 3))


def test_it_never_goes_below_its_floor():
    asked, _ = _run(lambda k: 1.0 + 0.1 * k, start=0, floor=-4)  # lower is always better
    assert min(asked) == -4
