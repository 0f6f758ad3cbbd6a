"""How close does each suggestion rule land to the learning rate that actually trains best?

Ground truth, per task: from one fixed set of initial weights, train for a fixed budget at every
LR of a log grid (several data orders each) and record the validation loss. The best LR is the
grid point (refined by a parabola in log-LR) with the lowest mean validation loss; the 10% and
25% bands are the LRs around it whose loss stays within 10% / 25% of the best. The ground truth
is cached in ``benchmarks/data/suggestion_ground_truth.json`` (``--recompute`` rebuilds it, about
5 minutes on one core).

Then, per task and seed, the real :class:`~gluon_lrfinder.LRFinder` sweeps from the same initial
weights, and every rule suggests an LR from that curve. The table reports, per rule, the mean
distance to the best LR in decades (|log10(suggested / best)|) over tasks, its spread over
seeds, and on how many tasks the (median over seeds) suggestion lands in the 10% and 25% bands.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/suggestion_quality.py [--recompute]

The Markdown report is printed and written to ``benchmarks/results/suggestion_quality.md``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_lrfinder import Learner, LRFinder, suggest as suggest_mod  # noqa: E402
from gluon_lrfinder.datasets import build_net, load_task, loss_for, make_loader  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GROUND_TRUTH = os.path.join(HERE, "data", "suggestion_ground_truth.json")
RESULTS = os.path.join(HERE, "results", "suggestion_quality.md")

#: The benchmark tasks: data set, net, optimizer, batch size and training budget (iterations).
TASKS: List[Dict[str, Any]] = [
    {"name": "digits / MLP / SGD", "data": "digits", "net": "mlp", "optimizer": "sgd",
     "params": {}, "batch_size": 32, "budget": 200},
    {"name": "digits 1x8x8 / CNN+BN / SGD momentum", "data": "digits_image", "net": "cnn",
     "optimizer": "sgd", "params": {"momentum": 0.9}, "batch_size": 32, "budget": 200},
    {"name": "breast cancer / MLP / Adam", "data": "breast_cancer", "net": "mlp", "optimizer": "adam",
     "params": {}, "batch_size": 32, "budget": 150},
    {"name": "wine / MLP / RMSProp", "data": "wine", "net": "mlp", "optimizer": "rmsprop",
     "params": {}, "batch_size": 16, "budget": 150},
    {"name": "diabetes (regression) / MLP / SGD momentum", "data": "diabetes", "net": "mlp",
     "optimizer": "sgd", "params": {"momentum": 0.9}, "batch_size": 32, "budget": 200},
    {"name": "synthetic blobs / MLP+BN / Adam", "data": "synthetic", "net": "mlp_bn", "optimizer": "adam",
     "params": {}, "batch_size": 64, "budget": 200},
]

#: Ground-truth grid: 25 LRs, 4 per decade, over 1e-5 .. 10.
GRID = np.logspace(-5, 1, 25)
GT_SEEDS = (0, 1, 2)
INIT_SEED = 1234


# ---------------------------------------------------------------------- training helpers
def initial_weights(spec: Dict[str, Any], task) -> List[np.ndarray]:
    """The task's fixed initial weights (every run and every sweep starts from these)."""
    mx.random.seed(INIT_SEED)
    net = build_net(spec["net"], task.num_outputs)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mx.nd.zeros((2,) + task.input_shape))
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def make_learner(spec: Dict[str, Any], task, init: Sequence[np.ndarray], seed: int, lr: float = 1e-3) -> Learner:
    """A Learner over a fresh net holding ``init``, with the data order given by ``seed``."""
    net = build_net(spec["net"], task.num_outputs)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mx.nd.zeros((2,) + task.input_shape))
    for param, value in zip(net.collect_params().values(), init):
        param.set_data(mx.nd.array(value))
    loader = make_loader(task.train, spec["batch_size"], seed=seed)
    return Learner(net, loader, ctx=mx.cpu(), loss_fn=loss_for(task), optimizer=spec["optimizer"],
                   optimizer_params=dict(spec["params"], learning_rate=lr))


def validation_loss(learner: Learner, dataset) -> float:
    """Mean loss over the whole validation set, predict mode, no gradient."""
    X = mx.nd.array(np.stack([dataset[i][0] for i in range(len(dataset))]))
    y = mx.nd.array(np.stack([dataset[i][1] for i in range(len(dataset))]))
    with autograd.predict_mode():
        loss = float(learner.loss_fn(learner.net(X), y).mean().asscalar())
    return loss if math.isfinite(loss) else math.inf


def train_at(spec, task, init, lr: float, seed: int) -> float:
    """Validation loss after ``budget`` iterations at a constant ``lr`` (inf if it diverged)."""
    with make_learner(spec, task, init, seed, lr) as learner:
        for it in range(spec["budget"]):
            loss = learner.iteration_async()
            if it % 25 == 24 and not math.isfinite(float(loss.asscalar())):
                return math.inf
        return validation_loss(learner, task.valid)


def compute_ground_truth(tasks, grid=GRID, seeds=GT_SEEDS) -> Dict[str, Any]:
    out: Dict[str, Any] = {"grid": [float(x) for x in grid], "seeds": list(seeds), "tasks": {}}
    for spec in tasks:
        start = time.time()
        task = load_task(spec["data"])
        init = initial_weights(spec, task)
        losses = [[train_at(spec, task, init, float(lr), s) for s in seeds] for lr in grid]
        out["tasks"][spec["name"]] = {
            "spec": spec,
            "valid_loss": [[v if math.isfinite(v) else None for v in row] for row in losses],
        }
        print(f"  ground truth {spec['name']}: {time.time() - start:.1f} s", file=sys.stderr, flush=True)
    return out


def load_ground_truth(recompute: bool, tasks) -> Dict[str, Any]:
    if not recompute and os.path.exists(GROUND_TRUTH):
        with open(GROUND_TRUTH, encoding="utf-8") as f:
            data = json.load(f)
        if all(spec["name"] in data["tasks"] and data["tasks"][spec["name"]]["spec"] == spec for spec in tasks):
            return data
        print("ground truth is stale (task settings changed): recomputing", file=sys.stderr)
    data = compute_ground_truth(tasks)
    os.makedirs(os.path.dirname(GROUND_TRUTH), exist_ok=True)
    with open(GROUND_TRUTH, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    return data


# ---------------------------------------------------------------------- ground-truth summary
def summarize(grid: Sequence[float], valid_loss: Sequence[Sequence[Optional[float]]]) -> Dict[str, Any]:
    """Best LR and the 10% / 25% bands from the mean validation loss over seeds."""
    x = np.log10(np.asarray(grid, dtype=np.float64))
    table = np.array([[math.inf if v is None else v for v in row] for row in valid_loss], dtype=np.float64)
    mean = table.mean(axis=1)  # inf when any seed diverged: an LR that sometimes blows up is not "good"
    i = int(np.argmin(mean))
    best_x = float(x[i])
    if 0 < i < len(x) - 1 and np.all(np.isfinite(mean[i - 1:i + 2])):
        y0, y1, y2 = mean[i - 1:i + 2]
        denom = y0 - 2 * y1 + y2
        if denom > 0:  # vertex of the parabola through the three points, within half a step
            step = x[i + 1] - x[i]
            best_x += float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5)) * step
    bands = {}
    for tol in (0.10, 0.25):
        limit = mean[i] * (1 + tol)
        lo = i
        while lo > 0 and mean[lo - 1] <= limit:
            lo -= 1
        hi = i
        while hi < len(x) - 1 and mean[hi + 1] <= limit:
            hi += 1

        def edge(inside: int, outside: int) -> float:
            if not (0 <= outside < len(x)):
                return float(x[inside])
            a, b = mean[inside], mean[outside]
            if not math.isfinite(b):
                return float(x[inside] + 0.5 * (x[outside] - x[inside]))
            t = (limit - a) / (b - a) if b != a else 0.0
            return float(x[inside] + t * (x[outside] - x[inside]))

        bands[f"{int(tol * 100)}%"] = (10 ** edge(lo, lo - 1), 10 ** edge(hi, hi + 1))
    return {"best_lr": 10 ** best_x, "best_loss": float(mean[i]), "bands": bands, "mean": mean.tolist()}


# ---------------------------------------------------------------------- finder sweeps
#: The range test each rule reads: 1e-5 .. 10 in 100 iterations, default stopping rule.
SWEEP = {"lr_start": 1e-5, "lr_end": 10.0, "num_iter": 100}
FINDER_SEEDS = (0, 1, 2, 3, 4)


def finder_curves(spec, seeds=FINDER_SEEDS, valid: bool = False, valid_every: int = 5):
    """One LRFinder sweep per seed (data order) from the task's initial weights.

    Returns the curves and the sweep times in seconds.
    """
    task = load_task(spec["data"])
    init = initial_weights(spec, task)
    curves, times = [], []
    for seed in seeds:
        with make_learner(spec, task, init, seed) as learner:
            finder = LRFinder(learner)
            extra = {"valid_data": task.valid, "valid_every": valid_every} if valid else {}
            start = time.perf_counter()
            finder.find(progress=False, **SWEEP, **extra)
            times.append(time.perf_counter() - start)
            curves.append(finder.curve)
    return curves, times


# ---------------------------------------------------------------------- scoring
#: The rules compared: ours, then what other finders do (name in the table -> SUGGESTERS key).
RULES = {
    "steepest (zero-phase)": "steepest",
    "valley (fastai-style)": "valley",
    "minimum / 10": "minimum",
    "raw steepest (tutorial plot)": "raw_steepest",
    "EMA steepest (Lightning-style)": "ema_steepest",
}


def in_band(lr: float, band) -> bool:
    return band[0] * (1 - 1e-9) <= lr <= band[1] * (1 + 1e-9)


def score_rule(rule, curves, truth) -> Dict[str, Any]:
    """Distance to the best LR (decades) per seed, and band hits of the per-seed suggestions."""
    lrs = []
    for curve in curves:
        try:
            lrs.append(float(rule(curve.lrs, curve.losses)))
        except ValueError:
            lrs.append(math.nan)
    lrs = np.asarray(lrs)
    dist = np.abs(np.log10(lrs) - math.log10(truth["best_lr"]))
    return {
        "lrs": lrs.tolist(),
        "dist": dist.tolist(),
        "mean_dist": float(np.nanmean(dist)),
        "hit10": float(np.mean([in_band(x, truth["bands"]["10%"]) for x in lrs])),
        "hit25": float(np.mean([in_band(x, truth["bands"]["25%"]) for x in lrs])),
        "median_lr": float(10 ** np.nanmedian(np.log10(lrs))),
    }
