"""How close does each suggestion rule land to the learning rate that actually trains best?

Superseded for rule quality by ``suggestion_regret.py`` (14 tasks, validation-loss regret, the
default rule told the optimizer); kept for the cost of the held-out signal it measures.

Ground truth, per task: from one fixed set of initial weights, train for a fixed budget at every
LR of a log grid (several data orders each) and record the validation loss. The best LR is the
grid point (refined by a parabola in log-LR) with the lowest mean validation loss; the 10% and
25% bands are the LRs around it whose loss stays within 10% / 25% of the best. The ground truth
is cached in ``benchmarks/data/suggestion_ground_truth.json`` (``--recompute`` rebuilds it, 8-13
minutes on one core; a task whose settings changed is recomputed by itself).

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

from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.core import rules as suggest_mod
from gluon_lrfinder.core.repeated import stability_score  # noqa: E402
from gluon_lrfinder.demo import build_net, load_task, loss_for  # noqa: E402
from gluon_lrfinder.engine.sampler import make_loader

HERE = os.path.dirname(os.path.abspath(__file__))
GROUND_TRUTH = os.path.join(HERE, "data", "suggestion_ground_truth.json")
RESULTS = os.path.join(HERE, "results", "suggestion_quality.md")
PLOT = os.path.join(HERE, "results", "suggestion_bands.png")

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

#: Ground-truth grid: 25 LRs, 4 per decade, over 1e-5 .. 10.
GRID = np.logspace(-5, 1, 25)
GT_SEEDS = (0, 1, 2)
INIT_SEED = 1234


# ---------------------------------------------------------------------- training helpers
def noisy_blobs(seed: int = 0, n: int = 2000, dim: int = 20, classes: int = 4):
    """A synthetic task with a loss floor: Gaussian blobs that overlap (the bundled ``synthetic``
    blobs are separable, so every LR above 1e-3 reaches a validation loss of 0 and "within 10%
    of the best" means nothing)."""
    from gluon_lrfinder.demo import Task

    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=0.35, size=(classes, dim))
    y = rng.randint(classes, size=n)
    X = (centers[y] + rng.normal(size=(n, dim))).astype(np.float32)
    split = n // 4
    X = (X - X[split:].mean(axis=0)) / X[split:].std(axis=0)
    y = y.astype(np.float32)
    return Task("noisy_blobs", "classification", gluon.data.ArrayDataset(X[split:], y[split:]),
                gluon.data.ArrayDataset(X[:split], y[:split]), classes, (dim,))


def get_task(spec: Dict[str, Any]):
    return noisy_blobs() if spec["data"] == "noisy_blobs" else load_task(spec["data"])


def initial_weights(spec: Dict[str, Any], task, seed: int = INIT_SEED) -> List[np.ndarray]:
    """The task's fixed initial weights (every run and every sweep starts from these)."""
    mx.random.seed(seed)
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
            loss = learner.queue_iteration()
            if it % 25 == 24 and not math.isfinite(float(loss.asscalar())):
                return math.inf
        return validation_loss(learner, task.valid)


def compute_ground_truth(tasks, grid=GRID, seeds=GT_SEEDS, out: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Train every task at every grid LR and seed; tasks already in ``out`` are kept."""
    if out is None:
        out = {"grid": [float(x) for x in grid], "seeds": list(seeds), "tasks": {}}
    for spec in tasks:
        if spec["name"] in out["tasks"]:
            continue
        start = time.time()
        task = get_task(spec)
        init = initial_weights(spec, task)
        losses = [[train_at(spec, task, init, float(lr), s) for s in seeds] for lr in grid]
        out["tasks"][spec["name"]] = {
            "spec": spec,
            "valid_loss": [[v if math.isfinite(v) else None for v in row] for row in losses],
        }
        print(f"  ground truth {spec['name']}: {time.time() - start:.1f} s", file=sys.stderr, flush=True)
    return out


def load_ground_truth(recompute: bool, tasks) -> Dict[str, Any]:
    """The cached ground truth; tasks missing from it or whose settings changed are (re)computed."""
    data = None
    if not recompute and os.path.exists(GROUND_TRUTH):
        with open(GROUND_TRUTH, encoding="utf-8") as f:
            data = json.load(f)
        if data["grid"] != [float(x) for x in GRID] or data["seeds"] != list(GT_SEEDS):
            data = None
        else:
            names = {spec["name"]: spec for spec in tasks}
            data["tasks"] = {k: v for k, v in data["tasks"].items() if names.get(k) == v["spec"]}
            if len(data["tasks"]) == len(tasks):
                return data
            print("computing the ground truth of new or changed tasks", file=sys.stderr)
    data = compute_ground_truth(tasks, out=data)
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

        def edge(inside: int, outside: int, limit: float = limit) -> float:
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


def finder_curves(spec, seeds=FINDER_SEEDS, valid_every: int = 5):
    """Per seed (data order), two LRFinder sweeps from the task's initial weights: one plain, one
    with the held-out signal (the training curves are identical: the evaluation changes nothing).

    Returns the plain curves, the curves with the held-out signal, and the CPU time per iteration
    (seconds, all threads of the process, so that other processes on the machine matter less) of
    each kind of sweep, the two kinds interleaved so that both see the same conditions.
    """
    task = get_task(spec)
    init = initial_weights(spec, task)
    plain, with_valid, t_plain, t_valid = [], [], [], []
    for seed in seeds:
        for valid in (False, True):
            with make_learner(spec, task, init, seed) as learner:
                finder = LRFinder(learner)
                extra = {"valid_data": task.valid, "valid_every": valid_every} if valid else {}
                start = time.process_time()
                finder.find(progress=False, **SWEEP, **extra)
                per_iter = (time.process_time() - start) / len(finder.curve)
            (with_valid if valid else plain).append(finder.curve)
            (t_valid if valid else t_plain).append(per_iter)
    return plain, with_valid, t_plain, t_valid


# ---------------------------------------------------------------------- scoring
#: The rules compared: ours, then what other finders do (name in the table -> SUGGESTERS key).
RULES = {
    "blend (no optimizer given: the steepest point)": "blend",
    "steepest on the zero-phase curve": "steepest",
    "valley (fastai-style)": "valley",
    "minimum / 10": "minimum",
    "raw steepest (tutorial's plain curve)": "raw_steepest",
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


def score_valid(method: str, curves, truth) -> Dict[str, Any]:
    """``method`` applied to each sweep's held-out signal instead of its training curve."""

    valid_curves = [type(c)(lrs=c.valid_lrs, losses=c.valid_losses) for c in curves]
    return score_rule(suggest_mod.SUGGESTERS[method], valid_curves, truth)


# ---------------------------------------------------------------------- report
def fmt_lr(x: float) -> str:
    return f"{x:.2g}"


def plot_tasks(curves: Dict[str, list], truths: Dict[str, Any], path: str) -> None:
    """One panel per task: the sweeps' median curve and bands, the suggestions, the true 10% band."""
    from gluon_lrfinder.core.plotting import plot_bands, pyplot
    from gluon_lrfinder.core.repeated import summarize_sweeps

    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    for ax, spec in zip(axes.ravel(), TASKS):
        truth = truths[spec["name"]]
        result = summarize_sweeps(curves[spec["name"]], method=suggest_mod.DEFAULT_METHOD)
        plot_bands(result, ax=ax, title=spec["name"])
        low, high = truth["bands"]["10%"]
        ax.axvspan(low, high, color="C2", alpha=0.2, label="true 10% band")
        ax.axvline(truth["best_lr"], color="C2", linewidth=2, label=f"best LR = {truth['best_lr']:.2g}")
        ax.legend(loc="upper left", fontsize="x-small")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(recompute: bool = False, seeds=FINDER_SEEDS, valid_every: int = 5, plot: Optional[str] = None) -> str:
    gt = load_ground_truth(recompute, TASKS)
    truths, scores, times, all_curves = {}, {}, {}, {}
    default = suggest_mod.DEFAULT_METHOD
    valid_name = f"{default} on the held-out signal"
    for spec in TASKS:
        name = spec["name"]
        truths[name] = summarize(gt["grid"], gt["tasks"][name]["valid_loss"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plain, with_valid, t_plain, t_valid = finder_curves(spec, seeds, valid_every)
        times[name] = (float(np.min(t_plain)), float(np.min(t_valid)))
        all_curves[name] = plain
        scores[name] = {label: score_rule(suggest_mod.SUGGESTERS[key], plain, truths[name])
                        for label, key in rule_table().items()}
        scores[name][valid_name] = score_valid(default, with_valid, truths[name])
        print(f"  {name}: sweeps done", file=sys.stderr, flush=True)

    if plot is not None:
        plot_tasks(all_curves, truths, plot)
    labels = list(rule_table()) + [valid_name]
    out = ["# Suggestion quality", ""]
    out.append(
        f"Ground truth: per task, {len(gt['grid'])} LRs from {gt['grid'][0]:g} to {gt['grid'][-1]:g} (log grid), "
        f"{len(gt['seeds'])} data orders each, fixed budget, one fixed set of initial weights; the best LR "
        "minimises the mean validation loss. Suggestions: the real `LRFinder` "
        f"(lr {SWEEP['lr_start']:g} to {SWEEP['lr_end']:g}, {SWEEP['num_iter']} iterations, default stopping) "
        f"from the same weights, {len(seeds)} data orders per task. Default rule: `{default}`."
    )
    out += ["", "## Ground truth", "",
            "| task | budget (iterations x batch) | best LR | best val loss | 10% band | 25% band |",
            "|---|---|---|---|---|---|"]
    for spec in TASKS:
        t = truths[spec["name"]]
        b10, b25 = t["bands"]["10%"], t["bands"]["25%"]
        out.append(f"| {spec['name']} | {spec['budget']} x {spec['batch_size']} | {fmt_lr(t['best_lr'])} | "
                   f"{t['best_loss']:.3f} | {fmt_lr(b10[0])} .. {fmt_lr(b10[1])} | "
                   f"{fmt_lr(b25[0])} .. {fmt_lr(b25[1])} |")
    out += ["", "## Rules", "",
            "Distance: |log10(suggested / best)| in decades, mean over seeds then over tasks. Spread: standard "
            "deviation of log10(suggestion) over seeds, mean over tasks. Stability: the stability score "
            "of the seeds' suggestions (1 - their range in decades, at least 0), mean over tasks. Band hits: "
            "tasks whose median suggestion (over seeds) lands in the band; in brackets the share of single "
            "sweeps that do.", "",
            "| rule | mean distance (decades) | worst task | spread over seeds | stability | in 10% band | "
            "in 25% band |",
            "|---|---|---|---|---|---|---|"]
    n = len(TASKS)
    for label in labels:
        per = [scores[spec["name"]][label] for spec in TASKS]
        dist = [p["mean_dist"] for p in per]
        spread = [float(np.nanstd(np.log10(p["lrs"]))) for p in per]
        hit10 = sum(in_band(p["median_lr"], truths[s["name"]]["bands"]["10%"]) for p, s in zip(per, TASKS))
        hit25 = sum(in_band(p["median_lr"], truths[s["name"]]["bands"]["25%"]) for p, s in zip(per, TASKS))
        sweeps10 = np.mean([p["hit10"] for p in per])
        sweeps25 = np.mean([p["hit25"] for p in per])
        stability = np.mean([stability_score(p["lrs"]) for p in per])
        out.append(f"| {label} | {np.mean(dist):.2f} | {max(dist):.2f} | {np.mean(spread):.2f} | {stability:.2f} | "
                   f"{hit10}/{n} ({sweeps10:.0%}) | {hit25}/{n} ({sweeps25:.0%}) |")
    out += ["", "## Distance per task (decades, mean over seeds)", "",
            "| rule | " + " | ".join(s["name"] for s in TASKS) + " |",
            "|---|" + "---|" * n]
    for label in labels:
        cells = []
        for spec in TASKS:
            p = scores[spec["name"]][label]
            mark = "**" if in_band(p["median_lr"], truths[spec["name"]]["bands"]["10%"]) else ""
            cells.append(f"{mark}{p['mean_dist']:.2f}{mark} ({fmt_lr(p['median_lr'])})")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Bold: the median suggestion lands in the 10% band; in brackets the median suggestion.", ""]
    out += ["## Cost of the held-out signal", "",
            f"Held-out set evaluated every {valid_every} iterations (whole validation split, predict mode, "
            "no gradient), its one-off set-up included. CPU time of the process per sweep iteration, the "
            "lowest over the seeds, the two kinds of sweep interleaved in one run on a shared 2-core "
            "machine (the ratios are more telling than the times).", "",
            "| task | held-out samples | CPU ms / iteration | with held-out | ratio |",
            "|---|---|---|---|---|"]
    for spec in TASKS:
        a, b = times[spec["name"]]
        out.append(f"| {spec['name']} | {len(get_task(spec).valid)} | {1e3 * a:.2f} | {1e3 * b:.2f} | {b / a:.2f} |")
    return "\n".join(out) + "\n"


def rule_table() -> Dict[str, str]:
    """Table label -> SUGGESTERS key, the default rule first."""
    default = suggest_mod.DEFAULT_METHOD
    table = {f"{label} (default)" if key == default else label: key for label, key in RULES.items()}
    return dict(sorted(table.items(), key=lambda kv: kv[1] != default))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recompute", action="store_true", help="retrain the ground truth (8-13 minutes on one core)")
    parser.add_argument("--seeds", type=int, default=len(FINDER_SEEDS), help="finder sweeps per task")
    parser.add_argument("--out", default=RESULTS, help="where to write the Markdown report")
    parser.add_argument("--plot", default=PLOT, help="where to draw the per-task bands figure ('' for none)")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    text = run(args.recompute, seeds=tuple(range(args.seeds)), plot=args.plot or None)
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
