"""Does a one-cycle run over ``lr_range()`` train better than a constant rate at the suggestion?

Six small tasks (those of the first suggestion benchmark, ``suggestion_quality.py``, since
superseded by ``suggestion_regret.py``: data, nets, optimizers, batch sizes, budgets, fixed initial
weights), and two of them again mid-training (range test and runs
from weights already trained for 60 iterations, as ``LRFinderHandler`` at a later epoch sees
them). Per task, one range test per data order gives the curve; from it:

* the suggestion ``s`` (the default rule) and the LR ``m`` at the smoothed loss minimum;
* a constant run at ``s`` for the task's budget;
* one-cycle runs (``OneCycleSchedule``, defaults: 45% up, 45% down, 10% cool-down to
  ``min_lr / 100``) for the budget over several candidate ranges: the shipped
  :func:`gluon_lrfinder.core.rules.lr_range` (top ``min(3 s, m / 2)``), the rule it replaced, and
  others between the suggestion and the minimum.

Every run starts from the task's starting weights with the same data order as its sweep. The
table prints the validation loss (whole held-out split, predict mode) after the budget, mean
over the data orders, and its ratio to the constant run (below 1: the one-cycle run is better).

Run from the repository root (about 6 minutes on one core)::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/range_vs_constant.py [--seeds 3]

The Markdown table is printed and written to ``benchmarks/results/range_vs_constant.md``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.common import make_learner, validation_loss  # noqa: E402
from benchmarks.regret_tasks import noisy_blobs  # noqa: E402
from gluon_lrfinder import LRFinder  # noqa: E402
from gluon_lrfinder.core import rules as suggest_mod  # noqa: E402
from gluon_lrfinder.demo import load_task  # noqa: E402
from gluon_lrfinder.schedules.cycles import OneCycleSchedule  # noqa: E402

Range = Tuple[float, float]
RESULTS = common.results_path("range_vs_constant.md")

#: The benchmark tasks: data set, net, optimizer, batch size and training budget (iterations).
TASKS: List[Dict[str, Any]] = [
    {"name": "digits / MLP / SGD", "data": "digits", "net": "mlp", "optimizer": "sgd",
     "params": {}, "batch_size": 32, "budget": 200},
    {"name": "digits 1x8x8 / CNN+BN / SGD momentum", "data": "digits_image", "net": "cnn",
     "optimizer": "sgd", "params": {"momentum": 0.9}, "batch_size": 32, "budget": 200},
    {"name": "breast cancer / MLP / Adam", "data": "breast_cancer", "net": "mlp", "optimizer": "adam",
     "params": {}, "batch_size": 32, "budget": 150},
    {"name": "iris / linear / RMSProp", "data": "iris", "net": "linear", "optimizer": "rmsprop",
     "params": {}, "batch_size": 16, "budget": 150},
    {"name": "diabetes (regression) / MLP / SGD momentum", "data": "diabetes", "net": "mlp",
     "optimizer": "sgd", "params": {"momentum": 0.9}, "batch_size": 32, "budget": 200},
    {"name": "synthetic overlapping blobs / MLP+BN / Adam", "data": "noisy_blobs", "net": "mlp_bn",
     "optimizer": "adam", "params": {}, "batch_size": 64, "budget": 200},
]

INIT_SEED = 1234
#: The range test each rule reads: 1e-5 .. 10 in 100 iterations, default stopping rule.
SWEEP = {"lr_start": 1e-5, "lr_end": 10.0, "num_iter": 100}


def get_task(spec: Dict[str, Any]):
    return noisy_blobs() if spec["data"] == "noisy_blobs" else load_task(spec["data"])


def initial_weights(spec: Dict[str, Any], task) -> List[np.ndarray]:
    return common.task_weights(spec, task, INIT_SEED)

#: Candidate ranges from the suggestion ``s`` and the LR ``m`` at the smoothed minimum; the
#: shipped rule is ``lr_range`` itself.
def previous_range(s: float, m: float) -> Range:
    """The rule before this benchmark: steepest and m/10 sorted, low at most high/3."""
    low, high = sorted((s, m / 10))
    return min(low, high / 3), high


def capped(s: float, m: float, divisor: float) -> Range:
    """``s .. 3s`` with the top at most ``m / divisor``, then a factor of 3 below the top."""
    high = min(3 * s, m / divisor)
    return min(s, high / 3), high


CANDIDATES: Dict[str, Callable[[float, float, Sequence[float], Sequence[float]], Range]] = {
    "lr_range() (shipped)": lambda s, m, lrs, losses: suggest_mod.lr_range(lrs, losses),
    "previous lr_range()": lambda s, m, lrs, losses: previous_range(s, m),
    "s .. 3s, top <= m": lambda s, m, lrs, losses: capped(s, m, 1.0),
    "s .. sqrt(s m)": lambda s, m, lrs, losses: (s, math.sqrt(s * m)),
    "s .. m/3": lambda s, m, lrs, losses: (s, m / 3),
    "s .. m": lambda s, m, lrs, losses: (s, m),
    "m/10 .. m/3": lambda s, m, lrs, losses: (m / 10, m / 3),
}

#: The suggestion benchmark's tasks, and two of them searched mid-training (as the Estimator
#: handler does at a later epoch): the range test and every run start from the weights after
#: ``warm`` iterations at a constant rate.
RANGE_TASKS: List[Dict[str, Any]] = TASKS + [
    dict(TASKS[0], name="digits / MLP / SGD, after 60 iterations at 0.05", warm=(60, 0.05)),
    dict(TASKS[1], name="digits 1x8x8 / CNN+BN / SGD momentum, after 60 iterations at 0.01", warm=(60, 0.01)),
]


def start_weights(spec, task) -> List[np.ndarray]:
    """The task's initial weights, trained ``spec["warm"]`` iterations first when it has that."""
    init = initial_weights(spec, task)
    if "warm" not in spec:
        return init
    iterations, lr = spec["warm"]
    with make_learner(spec, task, init, seed=1000, lr=lr) as learner:
        for _ in range(iterations):
            learner.queue_iteration()
        return [p.data().asnumpy().copy() for p in learner.net.collect_params().values()]


def train(spec, task, init, seed: int, rate: Callable[[int], float]) -> float:
    """Validation loss after ``budget`` iterations at ``rate(update)`` (inf when it diverged)."""
    with make_learner(spec, task, init, seed) as learner:
        if not common.learner_steps(learner, spec["budget"], lr_at=rate, check_every=25):
            return math.inf
        return validation_loss(learner, task.valid)


def sweep(spec, task, init, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    with make_learner(spec, task, init, seed) as learner:
        finder = LRFinder(learner)
        finder.find(progress=False, **SWEEP)
    return np.asarray(finder.curve.lrs), np.asarray(finder.curve.losses)


def run_task(spec, seeds: Sequence[int]) -> Dict[str, List[float]]:
    task = get_task(spec)
    init = start_weights(spec, task)
    out: Dict[str, List[float]] = {"constant at s": [], "s": [], "m": []}
    out.update({name: [] for name in CANDIDATES})
    ranges: Dict[str, List[Range]] = {name: [] for name in CANDIDATES}
    for seed in seeds:
        lrs, losses = sweep(spec, task, init, seed)
        s = common.rule_lr(suggest_mod.DEFAULT_METHOD, lrs, losses)
        m = 10 * suggest_mod.minimum(lrs, losses)
        out["s"].append(s)
        out["m"].append(m)
        out["constant at s"].append(train(spec, task, init, seed, lambda n, s=s: s))
        for name, rule in CANDIDATES.items():
            low, high = rule(s, m, lrs, losses)
            if not high > low:  # a degenerate candidate: the constant run stands in
                high = low * 1.0001
            schedule = OneCycleSchedule(max_lr=high, total_steps=spec["budget"], min_lr=low)
            ranges[name].append((low, high))
            out[name].append(train(spec, task, init, seed, schedule))
    out["ranges"] = ranges  # type: ignore[assignment]
    return out


def geo(values: Sequence[float]) -> float:
    return float(10 ** np.mean(np.log10(values)))


def report(results: Dict[str, Dict[str, list]], seeds: Sequence[int]) -> str:
    names = [spec["name"] for spec in RANGE_TASKS if spec["name"] in results]
    lines = ["# One-cycle over the range against a constant rate at the suggestion", "",
             f"Validation loss after the task's budget, mean over {len(seeds)} data orders; in brackets the "
             "ratio to the constant run at the suggestion s (below 1: better than constant). "
             "m: LR at the smoothed loss minimum.", ""]
    lines.append("| task | s | m | constant at s | " + " | ".join(CANDIDATES) + " |")
    lines.append("|---|---|---|---|" + "---|" * len(CANDIDATES))
    wins = {name: 0 for name in CANDIDATES}
    ratios: Dict[str, List[float]] = {name: [] for name in CANDIDATES}
    for name in names:
        r = results[name]
        base = float(np.mean(r["constant at s"]))
        cells = []
        for cand in CANDIDATES:
            value = float(np.mean(r[cand]))
            ratio = value / base
            ratios[cand].append(ratio)
            wins[cand] += ratio < 1.0
            cells.append(f"{value:.3f} ({ratio:.2f})")
        lines.append(f"| {name} | {geo(r['s']):.2g} | {geo(r['m']):.2g} | {base:.3f} | " + " | ".join(cells) + " |")
    lines.append("| **tasks better than constant** | | | | "
                 + " | ".join(f"**{wins[c]}/{len(names)}**" for c in CANDIDATES) + " |")
    lines.append("| **geometric mean ratio** | | | | "
                 + " | ".join(f"**{geo(ratios[c]):.2f}**" if all(map(math.isfinite, ratios[c])) else "inf"
                              for c in CANDIDATES) + " |")
    shipped = "lr_range() (shipped)"
    lines += ["", "Ranges of `lr_range()` per task (geometric mean over the data orders):", ""]
    for name in names:
        lows, highs = zip(*results[name]["ranges"][shipped])
        lines.append(f"- {name}: {geo(lows):.3g} .. {geo(highs):.3g}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="data orders (sweeps and runs) per task")
    parser.add_argument("--tasks", type=int, default=len(RANGE_TASKS), help="the first N tasks")
    parser.add_argument("--out", default=RESULTS, help="where to write the Markdown table ('' for nowhere)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or not 2 <= args.tasks <= len(RANGE_TASKS):
        parser.error(f"--seeds must be >= 1 and --tasks in [2, {len(RANGE_TASKS)}]")
    seeds = tuple(range(args.seeds))
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spec in RANGE_TASKS[: args.tasks]:
            results[spec["name"]] = run_task(spec, seeds)
            print(f"  {spec['name']}: done", file=sys.stderr, flush=True)
    text = report(results, seeds)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
