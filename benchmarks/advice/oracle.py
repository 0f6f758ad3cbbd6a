"""The schedule oracle of the advice benchmark (issue 17): what each recipe's best peak really is.

For every recipe of ``recipes.py``:

* 5 full range tests (``Recipe.sweep``, seeds 0-4); for the regret benchmark's 14 tasks the
  five sweeps cached in ``benchmarks/data/regret_curves.json`` are the same runs and are reused;
* ``one_cycle(peak, budget)`` (the schedule ``OneCycleSchedule.from_finder`` builds from a
  ``(peak / 3, peak)`` range) trained at every peak of a log grid, 4 points per decade, 3 data
  orders (seeds 0-2) each, from the recipe's fixed initial weights;
* the constant rate at every grid point (for the 14 old tasks, their constant ground truth in
  ``regret_ground_truth.json`` is reused: same training loop, same seeds);
* on a few recipes, both again at 3x the budget (how budget-dependent the targets are).

The grid of a recipe starts one step below the lowest steepest point or minimum / 10 of its
sweeps (an answer below the grid is scored at its lowest point: in the answer's favour), goes
up one grid step at a time, and stops when every seed at a peak diverged or ended worse than 2x
the best loss so far or than the untrained loss (higher points are recorded as pruned and
scored as diverged: an answer there is wrecked anyway). If the best point is at the bottom of
the grid, the grid grows downwards. Every training result is written to
``benchmarks/data/advice_oracle.json`` as soon as it exists; a rerun skips what is cached.

Run from the repository root (one process; about 1 hour of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/oracle.py --log advice_oracle.log
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.common import load_json, save_json  # noqa: E402

ORACLE = common.data_path("advice_oracle.json")
SWEEPS = common.data_path("advice_sweeps.json")
OLD_TRUTH = common.data_path("regret_ground_truth.json")
OLD_CURVES = common.data_path("regret_curves.json")

#: Grid points per decade; the grid is 10 ** (k / 4).
PER_DECADE = 4
SEEDS = (0, 1, 2)
SWEEP_SEEDS = (0, 1, 2, 3, 4)
#: Recipes also trained at 3x their budget.
TRIPLE = ("noisy blobs / MLP+BN / SGD 0.9, wd 1e-4 / b512", "digits MLP+BN / SGD 0.9, wd 5e-4 / b256",
          "diabetes / Huber linear / SGD / b16")
#: The recipes whose training takes longest (3-9 s on a free core), run last, the slowest last.
COSTLY = ("wine / MLP / AdaGrad / b16", "digits rows / GRU / SGD 0.9 / b64", "digits rows / LSTM / Adam / b32",
          "breast cancer autoencoder (MSE) / Nadam / b16", "digits ResNet-CNN+BN / NAG 0.9, wd 1e-4 / b32",
          "digits CNN+BN / NAG 0.9, wd 5e-4 / b32")
#: Highest grid index (10 ** (8 / 4) = 100).
TOP = 8
#: A peak whose every seed diverged or ended above this many times the best loss so far (or
#: above the untrained loss) ends the ascent: any answer at or above it is wrecked either way.
PRUNE_FACTOR = 2.0


def key(k: int) -> str:
    """The cache key of grid index ``k`` (the learning rate, 4 significant digits)."""
    return f"{10 ** (k / PER_DECADE):.4g}"


class Log:
    def __init__(self, path: Optional[str]) -> None:
        self.path = path

    def __call__(self, text: str) -> None:
        line = f"{time.strftime('%H:%M:%S', time.gmtime())} {text}"
        print(line, flush=True)
        if self.path:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")


# ---------------------------------------------------------------------------------- sweeps
def fill_sweeps(specs: Sequence[Dict[str, Any]], log: Log) -> Dict[str, Any]:
    from benchmarks.advice import recipes as rcp

    data, old = load_json(SWEEPS), load_json(OLD_CURVES)
    for spec in specs:
        entry = data.get(spec["name"])
        if entry is not None and entry["spec"] == spec and len(entry["curves"]) == len(SWEEP_SEEDS):
            continue
        if rcp.is_old(spec) and spec["name"] in old and old[spec["name"]]["spec"] == rcp.rt_spec(spec):
            curves = [dict(c, optimizer=spec["optimizer"], settings=old[spec["name"]]["sweep"])
                      for c in old[spec["name"]]["curves"]]
            data[spec["name"]] = {"spec": spec, "curves": curves, "reused": "regret_curves.json"}
        else:
            start = time.time()
            curves = [rcp.setup(spec).sweep(seed) for seed in SWEEP_SEEDS]
            data[spec["name"]] = {"spec": spec, "curves": curves, "seconds": time.time() - start}
            log(f"sweeps  {spec['name']}: {time.time() - start:.0f} s")
        save_json(SWEEPS, data, indent=0)
    return data


def grid_start(curves: List[Dict[str, Any]]) -> int:
    """Grid index one step below the lowest steepest point or minimum / 10 on the sweeps."""
    from gluon_lrfinder.core import rules as S
    from gluon_lrfinder.core import smoothing as SM

    answers = []
    for c in curves:
        lrs = c["lrs"]
        losses = [math.nan if v is None else v for v in c["losses"]]
        if not SM.enough_points(lrs, losses):
            continue
        answers += [S.steepest(lrs, losses), S.minimum(lrs, losses)]
    low = min(answers) if answers else 1e-4
    return max(-24, int(math.floor(PER_DECADE * math.log10(low))) - 1)


# ---------------------------------------------------------------------------------- oracle
def run_grid(spec: Dict[str, Any], kind: str, budget: int, start: int, oracle: Dict[str, Any],
             log: Log) -> None:
    """Train ``kind`` ("one_cycle" or "constant") at ``budget`` over the adaptive grid."""
    from benchmarks.advice import recipes as rcp
    from benchmarks.advice.recipe import schedule

    entry = oracle.setdefault(spec["name"], {"spec": spec, "runs": {}})
    if "initial_valid_loss" not in entry:
        entry["initial_valid_loss"] = rcp.setup(spec).initial_valid_loss()
    untrained = entry["initial_valid_loss"]
    label = f"{kind}@{budget}"
    table = entry["runs"].setdefault(label, {"losses": {}, "pruned": []})

    def train_peak(k: int) -> List[Optional[float]]:
        lr = 10 ** (k / PER_DECADE)
        row = table["losses"].setdefault(key(k), [])
        while len(row) < len(SEEDS):
            seed = SEEDS[len(row)]
            lr_at = schedule(kind, lr, budget)
            t = time.time()
            out = rcp.setup(spec).train(seed, lr_at, budget)
            value = out["loss"]
            row.append(value if math.isfinite(value) else None)
            save_json(ORACLE, oracle, indent=0)
            log(f"{label:>15s} {spec['name'][:48]:<48s} lr {key(k):>8s} seed {seed}: "
                f"{'diverged' if row[-1] is None else f'{value:.4f}'} ({time.time() - t:.1f} s)")
        return row

    ascend(train_peak, table["losses"], table, untrained, start, TOP + 1, -24,
           lambda: save_json(ORACLE, oracle, indent=0), reset_pruned=True)


def ascend(point: Callable[[int], List[Optional[float]]], rows: Dict[str, List[Optional[float]]],
           table: Dict[str, Any], untrained: float, start: int, stop: int, floor: int,
           save: Callable[[], None], reset_pruned: bool = False) -> None:
    """The oracle's adaptive grid: from grid index ``start`` up, ``point(k)`` (the losses of every
    data order at rate ``10 ** (k / 4)``, cached in ``rows`` under ``key(k)``) until every order is
    worse than ``PRUNE_FACTOR`` x the best so far or than untrained (the indices above, below
    ``stop``, then listed in ``table["pruned"]``), or ``stop``; while the best mean is the lowest
    rate trained, two steps further down, not below ``floor`` (``reset_pruned``: forget the pruned
    indices before each new ascent, as ``run_grid`` does).
    """
    def mean(row: List[Optional[float]]) -> float:
        return float(np.mean([untrained if v is None or v > untrained else v for v in row]))

    low = start
    while True:
        best, k = math.inf, low
        while k < stop and key(k) not in table["pruned"]:
            row = point(k)
            best = min(best, mean(row))
            if all(v is None or v >= min(PRUNE_FACTOR * best, untrained) for v in row):
                table["pruned"] = [key(j) for j in range(k + 1, stop)]
                save()
                break
            k += 1
        means = {kk: mean(v) for kk, v in rows.items()}
        if min(means, key=lambda kk: means[kk]) != min(rows, key=float) or low <= floor:
            break
        low -= 2  # the best is the lowest point: grow the grid downwards
        if reset_pruned:
            table["pruned"] = []


def old_constant(spec: Dict[str, Any]) -> bool:
    from benchmarks.advice import recipes as rcp

    old = load_json(OLD_TRUTH)
    return rcp.is_old(spec) and spec["name"] in old and old[spec["name"]]["spec"] == rcp.rt_spec(spec)


def estimate(specs: Sequence[Dict[str, Any]], log: Log) -> None:
    from benchmarks.advice import recipes as rcp

    total = 0.0
    for spec in specs:
        s = rcp.setup(spec)
        s.train(0, lambda i: 1e-3, 10)  # warm up (hybridize)
        t = time.time()
        s.train(0, lambda i: 1e-3, 60)
        per = (time.time() - t) / 60 * spec["budget"]
        runs = 12 * len(SEEDS) * (1 if old_constant(spec) else 2)
        runs += 12 * len(SEEDS) * 2 * 3 if spec["name"] in TRIPLE else 0
        total += per * runs
        log(f"estimate {spec['name'][:50]:<50s} {per:5.2f} s/training x ~{runs} trainings")
    log(f"estimate total ~{total / 60:.0f} min of one free core (plus the sweeps)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", default=None, help="append progress lines to this file")
    parser.add_argument("--only", nargs="*", default=None, help="recipe names (default: all)")
    parser.add_argument("--estimate", action="store_true", help="time each recipe and stop")
    args = parser.parse_args(argv)
    log = Log(args.log)
    from benchmarks.advice import recipes as rcp

    specs = [s for s in rcp.SPECS if args.only is None or s["name"] in args.only]
    # the costly recipes last, so that an interrupted run still has many complete recipes
    specs.sort(key=lambda s: (COSTLY.index(s["name"]) if s["name"] in COSTLY else -1, rcp.is_old(s)))
    if args.estimate:
        estimate(specs, log)
        return 0
    start = time.time()
    sweeps = fill_sweeps(specs, log)
    oracle = load_json(ORACLE)
    for spec in specs:
        grid0 = grid_start(sweeps[spec["name"]]["curves"])
        run_grid(spec, "one_cycle", spec["budget"], grid0, oracle, log)
        if not old_constant(spec):
            run_grid(spec, "constant", spec["budget"], grid0, oracle, log)
        log(f"done {spec['name']} ({(time.time() - start) / 60:.1f} min so far)")
    for spec in specs:
        if spec["name"] in TRIPLE:
            grid0 = grid_start(sweeps[spec["name"]]["curves"])
            run_grid(spec, "one_cycle", 3 * spec["budget"], grid0, oracle, log)
            run_grid(spec, "constant", 3 * spec["budget"], grid0, oracle, log)
            log(f"done 3x {spec['name']} ({(time.time() - start) / 60:.1f} min so far)")
    log(f"all done in {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
