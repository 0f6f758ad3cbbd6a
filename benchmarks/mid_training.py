"""A range test in the middle of training, with and without ``reset_optimizer_state`` (issue 18).

Recipe, per task and seed: train ``--warm`` steps (default 300) at lr 0.1 with SGD momentum 0.9
(batch 64), as a run would before someone searches mid-training; then run the same range test
(1e-5 .. 10, default stopping) from that state twice: as the trainer stands (its momentum buffer
built at lr 0.1), and with ``find(reset_optimizer_state=True)`` (a new trainer's state at the
current weights). Both searches restore the state bitwise, so they start from the same point.

What is reported per search: the blend suggestion, the curve's shape (first smoothed loss, lowest
smoothed loss and where, the rate it stopped at and why, the diagnosis flags). As a yardstick, the
run is continued from the mid-training state for ``--budget`` steps at a grid of constant rates
(momentum 0.9, the real optimizer state) and at each suggestion, and the validation loss after
it is compared with the best on the grid.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/mid_training.py

It prints a Markdown table, writes ``benchmarks/results/mid_training.md`` and ``.json``, and the
curves of the first seed of each task to ``docs/img/mid_training.png``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.common import validation_loss  # noqa: E402
from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.demo import build_net, load_task, loss_for  # noqa: E402
from gluon_lrfinder.engine.sampler import make_loader  # noqa: E402
from gluon_lrfinder.engine.state import StateSnapshot  # noqa: E402

TASKS = [("diabetes", "mlp"), ("breast_cancer", "mlp_bn"), ("digits", "mlp_bn"), ("digits_image", "cnn")]
GRID = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
SEARCH = dict(lr_start=1e-5, lr_end=10, progress=False)


def mid_training_learner(task, net_name: str, seed: int, warm: int) -> Learner:
    """A learner ``warm`` steps into training at lr 0.1, momentum 0.9."""
    mx.random.seed(seed)
    net = build_net(net_name, task.num_outputs)
    net.initialize(mx.init.Xavier())
    learner = Learner(net, make_loader(task.train, 64, seed=seed), loss_fn=loss_for(task), optimizer="sgd",
                      optimizer_params={"learning_rate": 0.1, "momentum": 0.9})
    for _ in range(warm):
        learner.queue_iteration()
    learner.iteration()  # one read: everything queued has run
    return learner


def continue_at(learner: Learner, task, lr: float, budget: int) -> float:
    """Validation loss after ``budget`` more steps at ``lr`` from the current state (then restored)."""
    with StateSnapshot(learner.net, learner.trainer):
        learner.trainer.set_learning_rate(lr)
        if not common.learner_steps(learner, budget, check_every=25):
            return math.inf
        result = validation_loss(learner, task.valid)
        learner.trainer.set_learning_rate(0.1)
    return result


def shape_of(finder: LRFinder) -> Dict[str, Any]:
    curve = finder.curve
    smooth = np.array([np.nan if s is None else s for s in curve.smoothed], dtype=float)
    low = int(np.nanargmin(smooth))
    return {
        "suggested_lr": finder.suggest(warn=False),
        "first_smoothed": float(smooth[0]),
        "lowest_smoothed": float(smooth[low]),
        "lowest_at_lr": float(curve.lrs[low]),
        "rise_before_fall": float(np.nanmax(smooth[: max(low, 1)]) / smooth[0]),
        "last_lr": float(curve.lrs[-1]),
        "stop_reason": curve.stop_reason,
        "flags": [flag.split(":")[0] for flag in finder.curve.diagnose()],
        "lrs": list(curve.lrs),
        "losses": [float(x) for x in curve.losses],
        "smoothed": [None if math.isnan(x) else float(x) for x in smooth],
    }


def run(seeds: List[int], warm: int, budget: int) -> Dict[str, Any]:
    results: Dict[str, Any] = {}
    for task_name, net_name in TASKS:
        task = load_task(task_name)
        rows = []
        for seed in seeds:
            learner = mid_training_learner(task, net_name, seed, warm)
            row: Dict[str, Any] = {"seed": seed, "valid_loss_at_mid_point": validation_loss(learner, task.valid)}
            for label, reset in (("as it stands", False), ("reset_optimizer_state", True)):
                finder = LRFinder(learner)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    finder.find(reset_optimizer_state=reset, **SEARCH)
                row[label] = shape_of(finder)
            grid = {lr: continue_at(learner, task, lr, budget) for lr in GRID}
            row["grid"] = grid
            best_lr = min(grid, key=lambda lr: grid[lr])
            row["best_grid_lr"], row["best_grid_loss"] = best_lr, grid[best_lr]
            for label in ("as it stands", "reset_optimizer_state"):
                lr = row[label]["suggested_lr"]
                row[label]["valid_loss_after"] = continue_at(learner, task, lr, budget)
            rows.append(row)
            learner.close()
        results[f"{task_name}/{net_name}"] = rows
    return results


def report(results: Dict[str, Any], warm: int, budget: int) -> str:
    lines = [
        f"# A range test mid-training ({warm} steps at lr 0.1, SGD momentum 0.9)",
        "",
        f"Continued {budget} steps from the mid-training state at the suggestion (real optimizer state); "
        "the yardstick is the best rate of the grid " + ", ".join(f"{g:g}" for g in GRID) + ".",
        "",
        "| task | seed | search | suggestion | curve: first -> lowest (at lr) | rise before the fall | stop | flags "
        "| valid loss after | best on grid (lr) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task, rows in results.items():
        for row in rows:
            for label in ("as it stands", "reset_optimizer_state"):
                s = row[label]
                lines.append(
                    f"| {task} | {row['seed']} | {label} | {s['suggested_lr']:.3g} | {s['first_smoothed']:.3f} -> "
                    f"{s['lowest_smoothed']:.3f} ({s['lowest_at_lr']:.3g}) | x{s['rise_before_fall']:.2f} | "
                    f"{s['stop_reason']} at {s['last_lr']:.3g} | {', '.join(s['flags']) or '-'} | "
                    f"{s['valid_loss_after']:.4f} | {row['best_grid_loss']:.4f} ({row['best_grid_lr']:g}) |"
                )
    return "\n".join(lines) + "\n"


def plot(results: Dict[str, Any], path: str) -> None:
    from gluon_lrfinder.core.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(results), figsize=(4.5 * len(results), 3.8))
    for ax, (task, rows) in zip(np.atleast_1d(axes), results.items()):
        row = rows[0]
        for label, style in (("as it stands", "C3"), ("reset_optimizer_state", "C0")):
            s = row[label]
            ax.plot(s["lrs"], s["smoothed"], color=style, label=f"{label}: suggests {s['suggested_lr']:.3g}")
            ax.axvline(s["suggested_lr"], color=style, ls=":")
        ax.axvline(row["best_grid_lr"], color="k", ls="--", lw=0.8, label=f"best on grid {row['best_grid_lr']:g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("smoothed training loss")
        ax.set_title(f"{task}, mid-training")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--budget", type=int, default=200)
    args = parser.parse_args()
    results = run(list(range(args.seeds)), args.warm, args.budget)
    text = report(results, args.warm, args.budget)
    common.publish(common.results_path("mid_training.md"), text)
    with open(common.results_path("mid_training.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=str)
    plot(results, os.path.join(common.ROOT, "docs", "img", "mid_training.png"))


if __name__ == "__main__":
    main()
