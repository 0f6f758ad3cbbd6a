"""Short confirmation trainings on a split of the training set: what a confirmed answer would see.

The advice benchmark's oracle (``oracle.py``) trains every peak at the recipe's full budget and
scores it on the recipe's validation set. A *confirmed* answer (``LRFinder.confirm``) cannot
see that: it trains a few candidate peaks for a short run and compares them on held-out data of
its own. This script records, for every recipe, what such a confirmation would measure at every
point of the oracle's grid (4 per decade):

* train on 80% of the recipe's training set (a fixed split, seed 100), score the validation
  loss on the other 20% (the recipe's validation set is never seen);
* ``iterations = budget // 4`` (the fraction the docs recommend), data order seed 7 (not one of
  the oracle's seeds 0-2);
* both the one-cycle schedule ``from_finder`` builds and a constant rate.

``score.py`` then replays any candidate rule on these caches: the confirmed answer is the
candidate with the lowest recorded loss, scored against the full-budget oracle. Results go to
``benchmarks/data/advice_confirm.json`` as soon as they exist; a rerun skips what is cached.

Run from the repository root (about 10 minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/confirm_oracle.py
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice.oracle import PER_DECADE, TOP, Log, key  # noqa: E402
from benchmarks.common import load_json, save_json  # noqa: E402

CONFIRM = common.data_path("advice_confirm.json")
ORACLE = common.data_path("advice_oracle.json")
#: Fraction of the recipe's budget one confirmation run trains.
FRACTION = 4
#: Data order of the confirmation runs (not one of the oracle's seeds).
SEED = 7
#: The split of the training set: 80% to train on, 20% to compare candidates on.
SPLIT_SEED, HOLD_OUT = 100, 0.2
#: Lowest grid index tried (1e-6).
BOTTOM = -6 * PER_DECADE


def split_setup(spec: Dict[str, Any]) -> Any:
    """A fresh :class:`recipes.Setup` whose training arrays are 80% of the recipe's and whose
    validation arrays are the other 20% of its training set (same initial weights)."""
    from benchmarks.advice import recipes as rcp

    s = rcp.Setup(spec)
    a = s.arrays
    order = np.random.RandomState(SPLIT_SEED).permutation(len(a.X))
    n_hold = int(round(HOLD_OUT * len(a.X)))
    hold, keep = order[:n_hold], order[n_hold:]
    s.arrays = type(a)(a.X[keep], a.y[keep], a.X[hold], a.y[hold], a.regression, a.num_outputs)
    return s


def lowest_candidate(curves: Sequence[Dict[str, Any]], optimizer: str) -> float:
    """The lowest rate a candidate rule may propose on these sweeps: the smallest of the range's
    bottom and the steepest point / 10 (each sweep cut where the default stopping rule stops)."""
    import warnings

    from benchmarks.advice.score import cut
    from gluon_lrfinder.core import rules as S
    from gluon_lrfinder.core import smoothing as SM

    lows = []
    for curve in curves:
        lrs, losses = cut(curve)
        if not SM.enough_points(lrs, losses):
            lows.append(float(lrs[0]))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lows += [S.lr_range(lrs, losses, optimizer=optimizer)[0], S.steepest(lrs, losses) / 10]
    return min(lows)


def run_recipe(spec: Dict[str, Any], oracle_keys: Sequence[str], low_lr: float, cache: Dict[str, Any],
               log: Log, fraction: int = FRACTION, path: str = CONFIRM) -> None:
    """The confirmation grid covers the oracle's grid (where answers are scored) and the lowest
    candidate ``low_lr`` any rule may propose (one grid step below both), and goes up until a
    point diverges or ends worse than untrained after an earlier point beat it."""
    from benchmarks.advice.recipe import schedule

    iterations = max(10, spec["budget"] // fraction)
    entry = cache.setdefault(spec["name"], {"spec": spec, "iterations": iterations, "runs": {}})
    setup = None
    low = min([int(round(PER_DECADE * math.log10(float(k)))) - 2 for k in oracle_keys]
              + [int(math.floor(PER_DECADE * math.log10(low_lr))) - 1])
    for kind in ("one_cycle", "constant"):
        table = entry["runs"].setdefault(kind, {})
        trained = False  # some earlier point ended clearly better than untrained
        for k in range(max(BOTTOM, low), TOP + 1):
            if key(k) in table:
                value = table[key(k)]
            else:
                if setup is None:
                    setup = split_setup(spec)
                    entry["untrained"] = setup.initial_valid_loss()
                lr = 10 ** (k / PER_DECADE)
                lr_at = schedule(kind, lr, iterations)
                t = time.time()
                out = setup.train(SEED, lr_at, iterations)["loss"]
                value = out if math.isfinite(out) else None
                table[key(k)] = value
                save_json(path, cache, indent=0)
                log(f"{kind:>9s} {spec['name'][:48]:<48s} lr {key(k):>8s}: "
                    f"{'diverged' if value is None else f'{value:.4f}'} ({time.time() - t:.1f} s)")
            if value is None or (trained and value > entry["untrained"]):
                break  # every higher peak is scored as diverged
            trained = trained or value < 0.95 * entry["untrained"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", default=None, help="append progress lines to this file")
    parser.add_argument("--only", nargs="*", default=None, help="recipe names (default: all)")
    parser.add_argument("--fraction", type=int, default=FRACTION,
                        help=f"train budget // FRACTION iterations (default {FRACTION}; other values are cached in "
                             "advice_confirm_fFRACTION.json)")
    args = parser.parse_args(argv)
    path = CONFIRM if args.fraction == FRACTION else CONFIRM.replace(".json", f"_f{args.fraction}.json")
    log = Log(args.log)
    from benchmarks.advice import recipes as rcp

    oracle = load_json(ORACLE)
    sweeps = load_json(common.data_path("advice_sweeps.json"))
    cache = load_json(path)
    start = time.time()
    for spec in rcp.SPECS:
        if args.only is not None and spec["name"] not in args.only:
            continue
        runs = oracle[spec["name"]]["runs"]
        keys = [k for table in runs.values() for k in table["losses"]]
        run_recipe(spec, keys, lowest_candidate(sweeps[spec["name"]]["curves"], spec["optimizer"]), cache, log,
                   args.fraction, path)
        log(f"done {spec['name']} ({(time.time() - start) / 60:.1f} min so far)")
    log(f"all done in {(time.time() - start) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
