"""Is the weight-decay / momentum recommendation of ``LRFinder.find_grid`` worth following?

For each task: one ``find_grid`` over weight decay x momentum from fixed initial weights, then
every combination is trained from those same weights at *its own* suggested learning rate for a
fixed budget, and its validation loss is measured. Each combination is trained with several
data orders (seeds), and the mean validation loss is reported. The table says, per task, the
validation loss of the recommended combination, of the usual default (wd=1e-4, momentum 0.9),
of the best and the median combination, and the recommendation's rank.

    python benchmarks/grid_quality.py            # about 3-5 minutes on 2 CPU cores
    python benchmarks/grid_quality.py --quick    # one task, one seed (a smoke run)

Results go to stdout as Markdown and to ``--out`` as JSON.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.datasets import load_task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suggestion_quality import initial_weights, make_learner, validation_loss  # noqa: E402

#: Seed of the fixed initial weights of every task (the figures in the docs were measured with it).
INIT_SEED = 42

WEIGHT_DECAY = [0.0, 1e-4, 1e-3, 1e-2]
MOMENTUM = [0.8, 0.9, 0.95]
DEFAULT = {"weight_decay": 1e-4, "momentum": 0.9}

#: Small tasks of the kinds the grid is meant for: SGD-family optimizers with momentum.
TASKS: List[Dict[str, Any]] = [
    {"name": "digits/mlp/sgd", "data": "digits", "net": "mlp", "optimizer": "sgd", "batch_size": 32, "budget": 800},
    {"name": "digits_image/cnn+bn/nag", "data": "digits_image", "net": "cnn", "optimizer": "nag",
     "batch_size": 32, "budget": 500},
    {"name": "breast_cancer/linear/sgd", "data": "breast_cancer", "net": "linear", "optimizer": "sgd",
     "batch_size": 16, "budget": 600},
    {"name": "wine/mlp_bn/sgd", "data": "wine", "net": "mlp_bn", "optimizer": "sgd", "batch_size": 16, "budget": 400},
]


def fresh_learner(spec: Dict[str, Any], task: Any, init: Sequence[np.ndarray], seed: int,
                  wd: float, momentum: float, lr: float = 1e-3) -> Learner:
    """A Learner over a net holding ``init``, the data order of ``seed``, the given knobs."""
    return make_learner(dict(spec, params={"wd": wd, "momentum": momentum}), task, init, seed, lr)


def train(spec: Dict[str, Any], task: Any, init: Sequence[np.ndarray], combo: Dict[str, float],
          lr: float, seed: int) -> float:
    with fresh_learner(spec, task, init, seed, combo["weight_decay"], combo["momentum"], lr) as learner:
        for it in range(spec["budget"]):
            loss = learner.queue_iteration()
            if it % 50 == 49 and not math.isfinite(float(loss.asscalar())):
                return math.inf
        return validation_loss(learner, task.valid)


def run_task(spec: Dict[str, Any], seeds: Sequence[int], repeats: int) -> Dict[str, Any]:
    task = load_task(spec["data"])
    init = initial_weights(spec, task, seed=INIT_SEED)
    t0 = time.perf_counter()
    # the grid runs from a learner that starts at the default combination (it restores it after)
    with fresh_learner(spec, task, init, 0, DEFAULT["weight_decay"], DEFAULT["momentum"]) as learner:
        result = LRFinder(learner).find_grid(weight_decay=WEIGHT_DECAY, momentum=MOMENTUM,
                                             repeats=repeats, lr_start=1e-5, lr_end=30.0, progress=False)
    grid_seconds = time.perf_counter() - t0
    rows = []
    for row in result.rows:
        if row.lr is None:
            losses = [math.inf]
        else:
            losses = [train(spec, task, init, row.combination, row.lr, s) for s in seeds]
        rows.append({**row.combination, "lr": row.lr, "lowest_loss": row.lowest_loss, "stable_lr": row.stable_lr,
                     "valid_loss": statistics.fmean(losses)})
    order = sorted(range(len(rows)), key=lambda i: rows[i]["valid_loss"])
    best_i = result.best_index
    default_i = next(i for i, r in enumerate(rows)
                     if r["weight_decay"] == DEFAULT["weight_decay"] and r["momentum"] == DEFAULT["momentum"])
    valid = [r["valid_loss"] for r in rows]
    return {
        "task": spec["name"], "rows": rows, "recommended": result.best, "reason": result.reason,
        "recommended_valid": valid[best_i], "default_valid": valid[default_i],
        "best_valid": min(valid), "median_valid": statistics.median(valid),
        "rank": order.index(best_i) + 1, "combinations": len(rows), "grid_seconds": grid_seconds,
    }


def markdown(results: Sequence[Dict[str, Any]]) -> str:
    lines = [
        "| task | recommended (wd, momentum) | valid loss: recommended | default (1e-4, 0.9) | best | median | rank |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rec = r["recommended"]
        lines.append(
            f"| {r['task']} | {rec['weight_decay']:g}, {rec['momentum']:g} | {r['recommended_valid']:.4f} | "
            f"{r['default_valid']:.4f} | {r['best_valid']:.4f} | {r['median_valid']:.4f} | "
            f"{r['rank']} of {r['combinations']} |"
        )
    wins = sum(r["recommended_valid"] <= r["default_valid"] for r in results)
    ratios = [r["recommended_valid"] / r["default_valid"] for r in results if r["default_valid"] > 0]
    lines.append("")
    lines.append(f"Recommended at least as good as the default on {wins} of {len(results)} tasks; "
                 f"validation-loss ratio recommended/default: "
                 + ", ".join(f"{x:.2f}" for x in ratios))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="data orders per training run (default: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="find_grid's data orders per combination (default: 3)")
    parser.add_argument("--quick", action="store_true", help="one task, one seed")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    tasks = TASKS[:1] if args.quick else TASKS
    seeds = list(range(1 if args.quick else args.seeds))
    results = []
    for spec in tasks:
        results.append(run_task(spec, seeds, args.repeats))
        print(f"{spec['name']}: done ({results[-1]['grid_seconds']:.1f} s for the grid)", file=sys.stderr)
    print(markdown(results))
    for r in results:
        print(f"\n{r['task']}: {r['reason']}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"weight_decay": WEIGHT_DECAY, "momentum": MOMENTUM, "seeds": seeds, "repeats": args.repeats,
                   "results": results},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
