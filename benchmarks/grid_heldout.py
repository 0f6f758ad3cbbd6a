"""Does the weight-decay / momentum advice of ``find_grid`` hold on recipes it was not designed on?

``grid_quality.py`` measures the grid's recommendation on the four tasks the rule was designed
after. This benchmark scores it, and the candidate rules of issue 20, on held-out recipes of
other kinds: other models (plain and BatchNorm CNNs, a residual MLP, an LSTM and a GRU, a
Huber-loss regression MLP, an autoencoder), other optimizers (SGD, NAG, Adam) and other data
(bundled scikit-learn sets and data the code generates). The recipes and their families were
fixed, and the rules below written down, before any rule was scored on them; no rule has a
parameter chosen on these recipes (every margin is the library's 0.10).

Per recipe (from fixed initial weights, the trainer holding the recipe's own values):

1. the real ``LRFinder.find_grid`` over weight decay {0, 1e-4, 1e-3, 1e-2} plus the recipe's own
   x momentum (or Adam's ``beta1``) {0.8, 0.9, 0.95, 0.99} plus its own, ``repeats=2``;
2. every rule below picks a combination and a learning rate from the same grid;
3. each pick is trained from the same initial weights at that constant learning rate for the
   recipe's budget, over 5 data orders, and its mean validation loss is compared with that of
   the recipe's own values trained at the finder's suggestion for them (the "current values").

Rules (``RULES``):

``default``
    ``find_grid``'s default today: keep the current values unless another combination's lowest
    smoothed loss is lower by more than 10 % in every data order and stable as far.
``smith``
    Smith's rule alone (``keep_current=False``).
``effective-step``
    Momenta compared at equal effective step ``lr / (1 - m)``: the default rule with the highest
    stable rate read as an effective step, and a pick that changes the momentum trained at the
    current values' suggested effective step (``lr_cur * (1 - m) / (1 - m_cur)``) when that is
    lower than its own suggestion. For Adam-family optimizers ``beta1`` does not scale the step,
    so this is the default rule.
``no-wd``
    The default rule over the rows at the current weight decay only: weight decay is never
    ranked by a sweep.
``confirm``
    Smith's pick, kept only if a short training (a quarter of the budget, one data order) from
    the same initial weights, on 80 % of the training set, reaches a loss on the other 20 % lower
    by more than 10 % than the current values' at their suggestion. Costs two short trainings.
``keep``
    Never change (the diagnostic the library falls back to when no rule passes).

Run from the repository root (resumable: finished units are read back from the cache)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/grid_heldout.py --log /tmp/grid_heldout.log
    python benchmarks/grid_heldout.py --estimate       # time one sweep and one training
    python benchmarks/grid_heldout.py --report-only    # the tables from the cache

Caches: ``benchmarks/data/grid_heldout.json`` (every sweep's curve, to score other rules without
sweeping again, and the trainings at the rates of the sweep) and ``grid_heldout_RULE.json`` per
re-scoring rule. The report for today's default rule (``--method blend_in_range``) is
``benchmarks/results/grid_heldout.md``; without ``--method`` the report is ``grid_heldout_sweep.md``.
The recipes, data and models are in ``grid_heldout_recipes.py``, the report in ``grid_heldout_report.py``.

The learning rates of ``grid_heldout.json`` are those ``find_grid`` suggested at the time (the
rule ``blend``); a rerun reads them back with the rows. ``--method RULE`` re-scores with another
suggestion rule instead, with no new sweep: every row's learning rate is recomputed with the
package's ``RULE`` from the curves cached in ``--sweeps`` (the median over the data orders, as
``find_grid`` takes it), the picks follow, and only the (combination, lr, seed) points not yet
trained are trained; the cache is ``grid_heldout_RULE.json``. A row whose
new rate equals the cached one to 1e-4 (the cached curves keep 6 digits) keeps the cached rate,
and so its trainings. The best-in-hindsight row is redone on the runs that had it only::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/grid_heldout.py --method blend_in_range --log /tmp/gh.log
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from benchmarks.grid_heldout_recipes import (  # noqa: E402
    CONFIRM_SEED,
    INIT_SEEDS,
    MOMENTUM,
    RECIPES,
    REPEATS,
    RULES,
    SWEEP,
    TRAIN_SEEDS,
    WEIGHT_DECAY,
    Cache,
    Data,
    _key,
    _mom_key,
    _params,
    _sgd_like,
    fresh_net,
    initial_weights,
    load_data,
    loss_fn,
)
from benchmarks.grid_heldout_report import (  # noqa: E402
    report,
)
from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.core.curve import LRCurve  # noqa: E402
from gluon_lrfinder.core.grid import summarize_grid  # noqa: E402
from gluon_lrfinder.core.grid_rows import DEFAULT_MARGIN, GridRow, recommend  # noqa: E402
from gluon_lrfinder.core.rules import DEFAULT_METHOD, get_rule  # noqa: E402
from gluon_lrfinder.engine.sampler import make_loader  # noqa: E402

CACHE = common.data_path("grid_heldout.json")
RESULTS = common.results_path("grid_heldout.md")


# ---------------------------------------------------------------------------------- the work
def run_grid(spec: Dict[str, Any], data: Data, init: Sequence[np.ndarray]) -> Dict[str, Any]:
    """The real find_grid from the recipe's own values; its rows in full."""
    start = time.time()
    net = fresh_net(spec, data, init)
    loader = make_loader(gluon.data.ArrayDataset(data.X, data.y), spec["batch_size"], seed=0)
    own_wd, own_m = spec["params"]["wd"], spec["params"][_mom_key(spec)]
    wds = sorted(set(WEIGHT_DECAY) | {own_wd})
    moms = sorted(set(MOMENTUM) | {own_m})
    with Learner(net, loader, ctx=mx.cpu(), loss_fn=loss_fn(spec["loss"]), optimizer=spec["optimizer"],
                 optimizer_params=_params(spec, own_wd, own_m, 1e-3)) as learner:
        finder = LRFinder(learner)
        result = finder.find_grid(weight_decay=wds, momentum=moms, repeats=REPEATS, progress=False, **SWEEP)
    iterations = sum(len(cv) for run in result.runs for cv in run)
    rows = [{"weight_decay": r.combination["weight_decay"], "momentum": r.combination["momentum"], "lr": r.lr,
             "lowest_loss": r.lowest_loss, "stable_lr": r.stable_lr, "lowest_losses": r.lowest_losses}
            for r in result.rows]
    # every curve, so that other rules can be scored later without sweeping again
    curves = [[{"lrs": [float(f"{x:.6g}") for x in cv.lrs],
                "losses": [float(f"{x:.6g}") if math.isfinite(x) else None for x in cv.losses]} for cv in run]
              for run in result.runs]
    return {"rows": rows, "current": result.current_index, "reason": result.reason, "iterations": iterations,
            "seconds": time.time() - start, "curves": curves}


def _order(rng: np.random.RandomState, n: int, bs: int) -> Callable[[], np.ndarray]:
    state: Dict[str, Any] = {"order": rng.permutation(n), "pos": 0}

    def next_batch() -> np.ndarray:
        if state["pos"] + bs > n:
            state["order"], state["pos"] = rng.permutation(n), 0
        idx = state["order"][state["pos"]:state["pos"] + bs]
        state["pos"] += bs
        return idx

    return next_batch


def train(spec: Dict[str, Any], data: Data, init: Sequence[np.ndarray], wd: float, mom: float, lr: float,
          seed: int, iterations: int, confirm: bool = False) -> float:
    """Validation loss after ``iterations`` at a constant ``lr`` (inf when it diverged).

    ``confirm``: train on the first 80 % of the training set and score on the other 20 % (the
    confirmation check of the ``confirm`` rule never sees the validation set).
    """
    X, y, Xv, yv = data.X, data.y, data.Xv, data.yv
    if confirm:
        cut = int(0.8 * len(X))
        X, y, Xv, yv = X[:cut], y[:cut], X[cut:], y[cut:]
    net = fresh_net(spec, data, init)
    net.hybridize(static_alloc=True, static_shape=True)
    lf = loss_fn(spec["loss"])
    trainer = gluon.Trainer(net.collect_params(), spec["optimizer"], _params(spec, wd, mom, lr), kvstore=None)
    bs = spec["batch_size"]
    batch = _order(np.random.RandomState(seed), len(X), bs)
    for it in range(iterations):
        idx = batch()
        xb, yb = mx.nd.array(X[idx]), mx.nd.array(y[idx])
        with autograd.record():
            loss = lf(net(xb), yb)
        loss.backward()
        trainer.step(bs)
        if it % 50 == 49 and not math.isfinite(float(loss.mean().asscalar())):
            return math.inf
    with autograd.predict_mode():
        value = float(lf(net(mx.nd.array(Xv)), mx.nd.array(yv)).mean().asscalar())
    return value if math.isfinite(value) else math.inf


def initial_loss(spec: Dict[str, Any], data: Data, init: Sequence[np.ndarray]) -> float:
    """Validation loss of the untrained model (what a diverged run is counted as)."""
    net = fresh_net(spec, data, init)
    with autograd.predict_mode():
        return float(loss_fn(spec["loss"])(net(mx.nd.array(data.Xv)), mx.nd.array(data.yv)).mean().asscalar())


# ---------------------------------------------------------------------------------- rules
def _grid_rows(unit: Dict[str, Any], effective: bool = False) -> List[GridRow]:
    rows = []
    for r in unit["rows"]:
        scale = 1.0 / (1.0 - r["momentum"]) if effective else 1.0
        rows.append(GridRow({"weight_decay": r["weight_decay"], "momentum": r["momentum"]}, r["lr"],
                            r["lowest_loss"], r["stable_lr"] * scale, lowest_losses=list(r["lowest_losses"])))
    return rows


def pick(rule: str, spec: Dict[str, Any], unit: Dict[str, Any]) -> Tuple[int, Optional[float]]:
    """The row and the learning rate that ``rule`` recommends (before any confirmation)."""
    cur = unit["current"]
    rows = unit["rows"]
    if rule == "keep":
        return cur, rows[cur]["lr"]
    if rule in ("smith", "confirm"):
        index = recommend(_grid_rows(unit))["index"]
        return index, rows[index]["lr"]
    if rule == "default":
        index = recommend(_grid_rows(unit), current=cur, margin=DEFAULT_MARGIN)["index"]
        return index, rows[index]["lr"]
    if rule == "no-wd":
        keep = [i for i, r in enumerate(rows) if r["weight_decay"] == rows[cur]["weight_decay"]]
        sub = [_grid_rows(unit)[i] for i in keep]
        index = keep[recommend(sub, current=keep.index(cur), margin=DEFAULT_MARGIN)["index"]]
        return index, rows[index]["lr"]
    if rule == "effective-step":
        effective = _sgd_like(spec)
        index = recommend(_grid_rows(unit, effective=effective), current=cur, margin=DEFAULT_MARGIN)["index"]
        lr = rows[index]["lr"]
        m, m_cur, lr_cur = rows[index]["momentum"], rows[cur]["momentum"], rows[cur]["lr"]
        if effective and lr is not None and lr_cur is not None and m != m_cur:
            lr = min(lr, lr_cur * (1 - m) / (1 - m_cur))
        return index, lr
    raise ValueError(f"unknown rule {rule!r}")


def run_unit(spec: Dict[str, Any], init_seed: int, cache: Cache, log: Callable[[str], None]) -> None:
    """Grid, picks, confirmation checks and trainings of one recipe and one set of initial weights."""
    name = f"{spec['name']} (init {init_seed})"
    unit = cache.unit(name)
    unit.setdefault("spec", spec)
    data = load_data(spec["data"])
    init = initial_weights(spec, data, init_seed)
    if "initial_loss" not in unit:
        unit["initial_loss"] = initial_loss(spec, data, init)
    if "rows" not in unit:
        unit.update(run_grid(spec, data, init))
        cache.save()
        log(f"{name}: grid {unit['iterations']} iterations in {unit['seconds']:.0f} s")
    trainings = unit.setdefault("train", {})
    seconds = unit.setdefault("train_seconds", {})
    rows, cur = unit["rows"], unit["current"]

    def run(row: Dict[str, Any], lr: Optional[float], seed: int, confirm: bool = False) -> float:
        key = _key(row, lr, seed, confirm)
        if key not in trainings:
            t = time.time()
            iterations = spec["budget"] // 4 if confirm else spec["budget"]
            value = math.inf if lr is None else train(spec, data, init, row["weight_decay"], row["momentum"], lr,
                                                        seed, iterations, confirm=confirm)
            trainings[key] = value if math.isfinite(value) else None
            seconds[key] = time.time() - t
            cache.save()
        value = trainings[key]
        return math.inf if value is None else value

    picks: Dict[str, Any] = {}
    for rule in RULES:
        index, lr = pick(rule, spec, unit)
        entry: Dict[str, Any] = {"index": index, "lr": lr}
        if rule == "confirm" and index != cur:
            candidate = run(rows[index], lr, CONFIRM_SEED, confirm=True)
            current = run(rows[cur], rows[cur]["lr"], CONFIRM_SEED, confirm=True)
            entry["check"] = {"candidate": candidate, "current": current}
            if not candidate < (1 - DEFAULT_MARGIN) * current:
                index, lr = cur, rows[cur]["lr"]
                entry.update(index=index, lr=lr, rejected=True)
        picks[rule] = entry
    unit["picks"] = picks
    cache.save()
    done = set()
    for rule in RULES:
        index, lr = picks[rule]["index"], picks[rule]["lr"]
        if (index, lr) in done:
            continue
        done.add((index, lr))
        t = time.time()
        losses = [run(rows[index], lr, s) for s in TRAIN_SEEDS]
        log(f"{name}: {rule}: wd={rows[index]['weight_decay']:g} m={rows[index]['momentum']:g} lr={lr} -> "
            f"{statistics.fmean(losses):.4g} ({time.time() - t:.0f} s)")


def run_hindsight(spec: Dict[str, Any], init_seed: int, cache: Cache, log: Callable[[str], None],
                  redo_only: bool = False) -> None:
    """Every combination of the grid trained at its own suggestion: the best pick in hindsight.

    ``redo_only``: only on the runs that have it already, or had it before ``--method`` (the flag is False).
    """
    name = f"{spec['name']} (init {init_seed})"
    unit = cache.unit(name)
    if "picks" not in unit or unit.get("hindsight_done") or (redo_only and "hindsight_done" not in unit):
        return
    data = load_data(spec["data"])
    init = initial_weights(spec, data, init_seed)
    t = time.time()
    for row in unit["rows"]:
        for seed in TRAIN_SEEDS:
            key = _key(row, row["lr"], seed)
            if key in unit["train"]:
                continue
            value = math.inf if row["lr"] is None else train(spec, data, init, row["weight_decay"],
                                                               row["momentum"], row["lr"], seed, spec["budget"])
            unit["train"][key] = value if math.isfinite(value) else None
        cache.save()
    unit["hindsight_done"] = True
    cache.save()
    log(f"{name}: every combination trained ({time.time() - t:.0f} s)")


# ---------------------------------------------------------------------------------- another rule
SAME_LR = 1e-4  # relative: a recomputed rate this close to the cached one is the same rate (6-digit curves)


def rescore(cache: Cache, sweeps: Cache, method: str, log: Callable[[str], None]) -> None:
    """Start each run of ``cache`` from the finished grid of ``sweeps``, its rows' rates from ``method``.

    The rates are recomputed with the package's rule from the cached curves, through
    ``summarize_grid`` (what ``find_grid`` calls); the lowest losses and stable rates, which no
    rule changes, stay as cached. Trainings already in ``sweeps`` are kept (their keys hold the
    rate); the curves are not copied.
    """
    for name, source in sweeps.data.items():
        if "curves" not in source or cache.data.get(name, {}).get("rows_from", {}).get("method") == method:
            continue
        unit = {k: v for k, v in source.items() if k not in ("curves", "picks", "hindsight_done")}
        unit["train"], unit["train_seconds"] = dict(source["train"]), dict(source["train_seconds"])
        optimizer = type(mx.optimizer.create(source["spec"]["optimizer"])).__name__  # what the sweep records
        runs = [[LRCurve(lrs=cv["lrs"], losses=[math.nan if x is None else x for x in cv["losses"]],
                         settings={"optimizer": optimizer}) for cv in run] for run in source["curves"]]
        combinations = [{"weight_decay": r["weight_decay"], "momentum": r["momentum"]} for r in source["rows"]]
        new = summarize_grid(combinations, runs, method=method, current=source["current"], margin=DEFAULT_MARGIN)
        rows, changed = [], 0
        for row, fresh in zip(source["rows"], new.rows):
            lr = fresh.lr
            if lr is not None and row["lr"] is not None and abs(lr / row["lr"] - 1) < SAME_LR:
                lr = row["lr"]
            changed += lr != row["lr"]
            rows.append(dict(row, lr=lr))
        unit["rows"] = rows
        unit["rows_from"] = {"cache": os.path.basename(sweeps.path), "method": method, "changed": changed}
        if "hindsight_done" in source:
            unit["hindsight_done"] = source["hindsight_done"] and not changed
        cache.data[name] = unit
        log(f"{name}: {method}: {changed} of {len(rows)} rows at another learning rate")
    cache.save()


def estimate(log: Callable[[str], None]) -> None:
    """Time one sweep and one training of each recipe, and project the whole run."""
    total = 0.0
    for spec in RECIPES:
        data = load_data(spec["data"])
        init = initial_weights(spec, data, INIT_SEEDS[0])
        t = time.time()
        train(spec, data, init, spec["params"]["wd"], spec["params"][_mom_key(spec)], 1e-3, 0, 100)
        per_it = (time.time() - t) / 100
        grids = len(set(WEIGHT_DECAY) | {spec["params"]["wd"]}) * len(set(MOMENTUM) | {spec["params"][_mom_key(spec)]})
        sweep_its = grids * REPEATS * 130  # a sweep of 1e-5..30 stops near 100-150 iterations
        train_its = 4 * len(TRAIN_SEEDS) * spec["budget"]  # about 4 distinct picks per recipe
        seconds = 1.3 * per_it * (sweep_its + train_its)  # the finder's loop is a little slower
        total += seconds
        log(f"{spec['name']}: {1e3 * per_it:.1f} ms/it, ~{seconds / 60:.1f} min")
    log(f"total ~{total / 60:.0f} min per set of initial weights")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default=None, help=f"default {CACHE}, with --method grid_heldout_METHOD.json")
    parser.add_argument("--out", default=None, help=f"default {RESULTS}, with --method grid_heldout_METHOD.md")
    parser.add_argument("--method", default=None, help="re-pick every row's learning rate with this rule from the "
                        "cached curves of --sweeps (no new sweep)")
    parser.add_argument("--sweeps", default=CACHE, help="with --method: the cache whose sweeps are re-read")
    parser.add_argument("--log", default=None, help="append progress here (default: stderr)")
    parser.add_argument("--estimate", action="store_true", help="time one training per recipe and stop")
    parser.add_argument("--report-only", action="store_true", help="write the report from the cache")
    parser.add_argument("--inits", type=int, nargs="*", default=list(INIT_SEEDS), help="initial-weight seeds")
    parser.add_argument("--only", default=None, help="recipes whose name contains this")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        if args.log:
            with open(args.log, "a") as f:
                f.write(line + "\n")
        else:
            print(line, file=sys.stderr, flush=True)

    if args.estimate:
        estimate(log)
        return 0
    start, suffix = time.time(), "" if args.method is None else f"_{args.method}"
    args.cache = args.cache or CACHE.replace(".json", f"{suffix}.json")
    # the report of today's default rule is grid_heldout.md; the sweep-time rates' one grid_heldout_sweep.md
    default_out = RESULTS if args.method == DEFAULT_METHOD else RESULTS.replace(".md", f"{suffix or '_sweep'}.md")
    args.out = args.out or default_out
    cache = Cache(args.cache)
    if args.method is not None and not args.report_only:
        get_rule(args.method)
        if os.path.abspath(args.cache) == os.path.abspath(args.sweeps):
            parser.error("--method writes its own cache: give --cache another file than --sweeps")
        rescore(cache, Cache(args.sweeps), args.method, log)
    trained = sum(len(u["train"]) for u in cache.data.values() if "train" in u)  # after rescore's copies
    if not args.report_only:
        for init_seed in args.inits:
            for spec in RECIPES:
                if args.only and args.only not in spec["name"]:
                    continue
                run_unit(spec, init_seed, cache, log)
                with open(args.out, "w") as f:
                    f.write(report(cache))
        for init_seed in args.inits:  # the costly part last: every combination trained
            for spec in RECIPES:
                if args.only and args.only not in spec["name"]:
                    continue
                run_hindsight(spec, init_seed, cache, log, redo_only=args.method is not None)
                with open(args.out, "w") as f:
                    f.write(report(cache))
        if args.method is not None:  # the invocation, for the report
            command = (f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')} nice -n {os.nice(0)} python "
                       + " ".join(["benchmarks/grid_heldout.py", *(sys.argv[1:] if argv is None else argv)]))
            cache.data.setdefault("_invocations", []).append({
                "command": command, "date": time.strftime("%Y-%m-%d %H:%M"), "seconds": time.time() - start,
                "trainings": sum(len(u["train"]) for u in cache.data.values() if "train" in u) - trained})
            cache.save()
    text = report(cache)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
