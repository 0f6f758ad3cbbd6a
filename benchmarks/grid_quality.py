"""Is the weight-decay / momentum recommendation of ``LRFinder.find_grid`` worth following?

For each task: one ``find_grid`` over weight decay x momentum from fixed initial weights, then
every combination is trained from those same weights at *its own* suggested learning rate for a
fixed budget, and its validation loss is measured. Each combination is trained with several
data orders (seeds), and the mean validation loss is reported. The table says, per task, the
validation loss of the recommended combination, of the usual default (wd=1e-4, momentum 0.9),
of the best and the median combination. Two rules pick: ``find_grid``'s default, which keeps
the trainer's own values unless another combination is clearly better (``keep_current``, with
margins 0 to 0.2 and a leave-one-task-out choice of the margin), and Smith's rule alone
(``keep_current=False``).

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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.common import make_learner, validation_loss  # noqa: E402
from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.core.grid_rows import DEFAULT_MARGIN, GridRow, recommend  # noqa: E402
from gluon_lrfinder.demo import load_task  # noqa: E402

#: Seed of the fixed initial weights of every task (the figures in the docs were measured with it).
INIT_SEED = 42

WEIGHT_DECAY = [0.0, 1e-4, 1e-3, 1e-2]
MOMENTUM = [0.8, 0.9, 0.95]
DEFAULT = {"weight_decay": 1e-4, "momentum": 0.9}
#: The margins of the keep-current rule the benchmark compares (and chooses among, leave one out).
MARGINS = [0.0, 0.05, 0.10, 0.20]

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
        if not common.learner_steps(learner, spec["budget"], check_every=50):
            return math.inf
        return validation_loss(learner, task.valid)


def run_task(spec: Dict[str, Any], seeds: Sequence[int], repeats: int) -> Dict[str, Any]:
    """One find_grid from the default combination, then every combination trained at its own rate."""
    task = load_task(spec["data"])
    init = common.task_weights(spec, task, INIT_SEED)
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
                     "lowest_losses": row.lowest_losses, "valid_loss": statistics.fmean(losses)})
    return {"task": spec["name"], "rows": rows, "current": result.current_index, "reason": result.reason,
            "grid_seconds": grid_seconds}


def pick(task: Dict[str, Any], margin: Optional[float]) -> int:
    """The row a rule picks: keep-the-current-values with ``margin``, or Smith's rule (None)."""
    rows = [GridRow({"weight_decay": r["weight_decay"], "momentum": r["momentum"]}, r["lr"], r["lowest_loss"],
                    r["stable_lr"], lowest_losses=r["lowest_losses"]) for r in task["rows"]]
    if margin is None:
        return recommend(rows)["index"]
    return recommend(rows, current=task["current"], margin=margin)["index"]


def ratio(task: Dict[str, Any], index: int) -> float:
    valid = [r["valid_loss"] for r in task["rows"]]
    return valid[index] / valid[task["current"]]


def _name(task: Dict[str, Any], index: int) -> str:
    row = task["rows"][index]
    return f"{row['weight_decay']:g}, {row['momentum']:g}"


def markdown(results: Sequence[Dict[str, Any]]) -> str:
    lines = [
        "| task | default (1e-4, 0.9): valid loss | keep-current pick (margin 0.10) | its valid loss | "
        "Smith's pick | its valid loss | best of 12 | median of 12 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        valid = [row["valid_loss"] for row in r["rows"]]
        keep, smith = pick(r, DEFAULT_MARGIN), pick(r, None)

        lines.append(
            f"| {r['task']} | {valid[r['current']]:.4f} | {_name(r, keep)} | {valid[keep]:.4f} | {_name(r, smith)} | "
            f"{valid[smith]:.4f} | {min(valid):.4f} | {statistics.median(valid):.4f} |"
        )
    lines.append("")
    for label, margin in [("Smith's rule alone", None)] + [(f"keep-current, margin {m:g}", m) for m in MARGINS]:
        ratios = [ratio(r, pick(r, margin)) for r in results]
        lines.append(f"- {label}: validation loss / default's = " + ", ".join(f"{x:.2f}" for x in ratios)
                     + f" (geometric mean {math.exp(statistics.fmean(math.log(x) for x in ratios)):.2f})")
    # leave one task out: the margin that does best on the other tasks, scored on the one left out
    held = []
    for k, r in enumerate(results):
        others = [t for j, t in enumerate(results) if j != k]
        score = {m: statistics.fmean(math.log(ratio(t, pick(t, m))) for t in others) for m in MARGINS}
        chosen = min(MARGINS, key=lambda m: (score[m], abs(m - DEFAULT_MARGIN)))
        held.append((chosen, ratio(r, pick(r, chosen))))
    lines.append("- leave one task out (margin chosen on the other tasks): "
                 + ", ".join(f"{x:.2f} (margin {m:g})" for m, x in held))
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
