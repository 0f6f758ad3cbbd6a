"""The end-to-end check of issue 17 on recipes from real scripts: does the advice train as well as
the script's own default?

For each real-script recipe (:mod:`real_scripts`) and seed: one range test, recorded in full and
cached; the curve a user gets from ``finder.find()`` is that sweep cut where the package's default
stopping rule stops, and the advice is read from it with the **installed** package's rules
(``LRCurve.suggest()``, ``suggest_range()``), so re-running after a rule change re-measures the new
rules and only trains what changed (every training run is cached under its schedule). Then, from
the recipe's fixed initial weights, with the same seed:

* ``default``: the script's default rate, constant (the scripts' step decays start at epoch 40,
  past our budgets; GluonNLP's NT-ASGD is off by default);
* ``apply()``: constant at ``suggest()``;
* ``one-cycle``: ``OneCycleSchedule.from_finder(suggest_range())`` over the whole budget.

It also runs the schedule oracle on the same recipes (``--oracle``): a one-cycle (min = peak / 3,
as :func:`recipe.one_cycle`) at every peak of a half-decade grid and a constant rate at every grid
point, written to ``benchmarks/data/advice_real_scripts.json`` (the layout of the advice
benchmark's oracle, which its ``score.py`` reads).

Run (benchmark venv, one process; 0.6-2.8 s per ResNet-20 iteration at batch 128 on a shared CPU)::

    make bench-venv
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/advice/real_script_check.py --oracle --log real.log

Results: ``benchmarks/results/real_scripts.md``; caches: ``benchmarks/data/real_script_sweeps.json``
and ``benchmarks/data/real_script_runs.json``; the bumpy GluonCV sweep:
``benchmarks/data/gluoncv_bumpy_curve.json``.

``--recipes lm30`` runs only the AWD-LSTM script on the Zipfian corpus (``gluonnlp_awd_lm_zipf()``,
where a constant rate near the default 30 trains best, as on real text), seeds ``--lm-seeds``, with
its own caches ``benchmarks/data/real_script_lm30_{sweeps,runs}.json``, its oracle (constant and
one-cycle at quarter decades 10..100) in ``benchmarks/data/real_script_lm30_oracle.json`` and its
report ``benchmarks/results/real_scripts_lm30.md`` (with every configuration in its run cache)::

    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/advice/real_script_check.py --recipes lm30 --oracle
"""
from __future__ import annotations

import argparse
import calendar
import math
import os
import sys
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # real_scripts and recipe are imported as this folder's modules (after --package)
sys.path.insert(1, os.path.dirname(os.path.dirname(HERE)))  # the repo root, for benchmarks.common

import numpy as np  # noqa: E402
from real_script_lm30 import (  # noqa: E402
    LM30_GRID,
    LM30_INTRO,
    LM30_ORACLE,
    LM30_RESULTS,
    LM30_RUNS,
    LM30_SWEEPS,
    configurations_tried,
)
from recipe import LRAt, Recipe, constant, schedule  # noqa: E402

from benchmarks.common import load_json, save_json  # noqa: E402  (imports no gluon_lrfinder)

DATA = os.path.join(HERE, "..", "data")
SWEEPS = os.path.join(DATA, "real_script_sweeps.json")
RUNS = os.path.join(DATA, "real_script_runs.json")
ORACLE = os.path.join(DATA, "advice_real_scripts.json")  # read by the advice benchmark's score.py
BUMPY = os.path.join(DATA, "gluoncv_bumpy_curve.json")
RESULTS = os.path.join(HERE, "..", "results", "real_scripts.md")
#: Oracle grids: half-decade steps over each recipe's stable range and a little past it.
ORACLE_GRIDS = {
    "gluoncv cifar": [float(10 ** e) for e in np.arange(-2.5, 0.51, 0.5)],
    "language model": [float(10 ** e) for e in np.arange(0.0, 3.01, 0.5)],
}

_LOG: Optional[Any] = None


def log(message: str) -> None:
    """Print with a UTC time stamp, to stdout and the log file."""
    line = f"{time.strftime('%H:%M:%S', time.gmtime())} {message}"
    print(line, flush=True)
    if _LOG is not None:
        _LOG.write(line + "\n")
        _LOG.flush()


def _fmt(x: float) -> str:
    return f"{x:.4g}"


# ------------------------------------------------------------------------------- the user's view
def user_curve(sweep: Dict[str, Any]) -> Any:
    """The curve ``finder.find(lr_start, lr_end)`` returns: the full sweep cut where the installed
    package's default stopping rule stops, with its smoothed losses and stop reason."""
    from gluon_lrfinder import LRCurve, StoppingCriteria

    rule = StoppingCriteria()
    rule.reset()
    lrs, losses, smoothed = [], [], []
    reason = sweep.get("stop_reason")
    for lr, loss in zip(sweep["lrs"], sweep["losses"]):
        value = math.nan if loss is None else float(loss)
        stop = bool(rule(value))
        lrs.append(float(lr))
        losses.append(value)
        smoothed.append(rule.smoothed_loss if math.isfinite(value) and rule.smoothed_loss is not None else math.nan)
        if stop:
            reason = rule.reason or "stopping rule"
            break
    settings = dict(sweep["curve"]["settings"])
    settings.update(rule.settings() if callable(getattr(rule, "settings", None)) else {"stopping": repr(rule)})
    return LRCurve(lrs=lrs, losses=losses, smoothed=smoothed, settings=settings, stop_reason=reason)


def advice(sweep: Dict[str, Any]) -> Dict[str, Any]:
    """What the installed package tells a user from this sweep (suggest, range, flags)."""
    curve = user_curve(sweep)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lr = float(curve.suggest())
        low, high = (float(v) for v in curve.suggest_range())
        report = curve.report()
    finite = [(lr_, loss) for lr_, loss in zip(sweep["lrs"], sweep["losses"]) if loss is not None]
    best = min(finite, key=lambda p: p[1])
    return {
        "suggest": lr, "range": [low, high], "stop_reason": curve.stop_reason, "points": len(curve),
        "full_points": len(sweep["lrs"]), "raw_min_lr": float(best[0]), "flags": list(report.flags),
        "warnings": [str(w.message) for w in caught],
    }


def curve_shape(sweep: Dict[str, Any], bins: int = 2) -> str:
    """A one-line shape of a full sweep: loss (median of a moving window) at each half decade."""
    lrs = np.asarray(sweep["lrs"], dtype=float)
    losses = np.asarray([np.nan if v is None else v for v in sweep["losses"]], dtype=float)
    parts = []
    for e in np.arange(math.floor(np.log10(lrs[0]) * bins) / bins, np.log10(lrs[-1]) + 1e-9, 1 / bins):
        mask = np.abs(np.log10(lrs) - e) <= 0.5 / bins / 2 + 0.06
        if mask.any():
            window = losses[mask]
            value = np.nanmedian(window) if np.isfinite(window).any() else math.nan
            parts.append(f"{10 ** e:.3g}:{value:.2f}")
    return " ".join(parts)


# ------------------------------------------------------------------------------- caching runner
class Bench:
    """The caches and the one-at-a-time work on them."""

    def __init__(self, recipes: Sequence[Recipe], deadline: Optional[float] = None, sweeps_path: str = SWEEPS,
                 runs_path: str = RUNS, grids: Optional[Dict[str, List[float]]] = None) -> None:
        self.recipes = {r.name: r for r in recipes}
        self.sweeps_path, self.runs_path = sweeps_path, runs_path
        self.sweeps = load_json(sweeps_path)
        self.runs = load_json(runs_path)
        self.deadline = deadline
        self.grids = dict(grids or {})  # oracle grid by recipe name; else ORACLE_GRIDS by family
        self.computed_seconds = 0.0

    def grid(self, recipe: Recipe) -> List[float]:
        """The oracle grid of a recipe."""
        return self.grids.get(recipe.name, ORACLE_GRIDS[recipe.family])

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.time() > self.deadline

    def sweep(self, recipe: Recipe, seed: int) -> Dict[str, Any]:
        entry = self.sweeps.setdefault(recipe.name, {})
        if str(seed) not in entry:
            t = time.time()
            result = recipe.sweep(seed)
            result["seconds"] = time.time() - t
            self.computed_seconds += result["seconds"]
            entry[str(seed)] = result
            save_json(self.sweeps_path, self.sweeps, indent=1)
            log(f"sweep {recipe.name} seed {seed}: {len(result['lrs'])} its in {result['seconds']:.0f}s "
                f"({1e3 * result['seconds'] / len(result['lrs']):.0f} ms/it); shape {curve_shape(result)}")
        return entry[str(seed)]

    def train(self, recipe: Recipe, what: str, lr_at: LRAt, seed: int,
              iterations: Optional[int] = None) -> Dict[str, Any]:
        iterations = recipe.budget if iterations is None else iterations
        key = f"{recipe.name} | {what} | seed {seed} | {iterations} its"
        if key not in self.runs:
            t = time.time()
            scores = dict(recipe.train(seed, lr_at, iterations))
            scores["seconds"] = time.time() - t
            self.computed_seconds += scores["seconds"]
            self.runs[key] = {k: (v if math.isfinite(v) else None) for k, v in scores.items()}
            save_json(self.runs_path, self.runs, indent=1)
            log(f"train {key}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return {k: (math.inf if v is None else v) for k, v in self.runs[key].items()}


def one_cycle_from_range(low: float, high: float, iterations: int) -> LRAt:
    """``OneCycleSchedule.from_finder((low, high), total_steps=iterations)``."""
    from gluon_lrfinder import OneCycleSchedule

    cycle = OneCycleSchedule.from_finder((low, high), total_steps=iterations)
    return lambda i: float(cycle(i))


def arms(recipe: Recipe, adv: Dict[str, Any]) -> List[Tuple[str, str, LRAt]]:
    """(label, cache key, schedule) of the three ways to train."""
    low, high = adv["range"]
    return [
        ("default", f"constant {_fmt(recipe.default_lr)}", constant(recipe.default_lr)),
        ("apply()", f"constant {_fmt(adv['suggest'])}", constant(adv["suggest"])),
        ("one-cycle", f"one-cycle from_finder {_fmt(low)}-{_fmt(high)}",
         one_cycle_from_range(low, high, recipe.budget)),
    ]


def save_bumpy(sweep: Dict[str, Any]) -> None:
    """The full sweep as ``LRCurve.save`` writes it, smoothed by the default rule's moving average."""
    from gluon_lrfinder import LRCurve, StoppingCriteria

    curve = LRCurve.from_dict(sweep["curve"])
    rule = StoppingCriteria()
    rule.reset()
    smoothed = []
    for loss in curve.losses:
        rule(loss)
        smoothed.append(rule.smoothed_loss if math.isfinite(loss) and rule.smoothed_loss is not None else math.nan)
    curve.smoothed = smoothed
    curve.save(BUMPY)
    log(f"saved {BUMPY}")


# ------------------------------------------------------------------------------- the work
def group_of(recipe: Recipe) -> str:
    """The seed group of a recipe: its family, or "mixup"."""
    return "mixup" if "mixup" in recipe.tags else recipe.family


def run_check(bench: Bench, seeds: Dict[str, Sequence[int]]) -> None:
    """Train the three arms of every recipe and seed (the cheap language model first)."""
    for recipe in sorted(bench.recipes.values(), key=lambda r: r.family != "language model"):
        for seed in seeds[group_of(recipe)]:
            if bench.out_of_time():
                log("deadline reached: check stopped")
                return
            adv = advice(bench.sweep(recipe, seed))
            for _label, what, lr_at in arms(recipe, adv):
                bench.train(recipe, what, lr_at, seed)


def run_oracle(bench: Bench, seeds: Sequence[int], kinds: Sequence[str] = ("one_cycle", "constant")) -> None:
    """One-cycle at every peak, then constant at every rate, of each recipe's grid; seed-major and
    the cheap language model first, so that a deadline leaves whole grids (the advice benchmark
    scores a grid only once its ascent is complete). ``kinds``: which of the two to run."""
    for seed in seeds:
        for recipe in sorted(bench.recipes.values(), key=lambda r: r.family != "language model"):
            grid = bench.grid(recipe)
            for label, prefix, suffix in _kinds():
                if label not in kinds:
                    continue
                for lr in grid:
                    if bench.out_of_time():
                        log("deadline reached: oracle stopped")
                        return
                    lr_at = schedule(label, lr, recipe.budget)
                    bench.train(recipe, f"{prefix}{_fmt(lr)}{suffix}", lr_at, seed)


def _run(bench: Bench, recipe: Recipe, what: str, seed: int) -> Optional[Dict[str, Any]]:
    return bench.runs.get(f"{recipe.name} | {what} | seed {seed} | {recipe.budget} its")


def _kinds() -> Tuple[Tuple[str, str, str], ...]:
    """(the advice benchmark's run label, our cache prefix, suffix) of the two oracle schedules."""
    return (("one_cycle", "one-cycle peak ", " min peak/3"), ("constant", "constant ", ""))


def initial_valid_loss(bench: Bench, recipe: Recipe) -> float:
    """Validation loss of the untrained net (no step: ``train`` for 0 iterations), cached."""
    return bench.train(recipe, "untrained", constant(0.0), 0, iterations=0)["loss"]


def oracle_table(bench: Bench, seeds: Sequence[int]) -> Dict[str, Any]:
    """The oracle and the sweeps in the layout of the advice benchmark's ``oracle.py`` /
    ``score.py`` (``advice_oracle.json`` / ``advice_sweeps.json``), which reads this file as
    ``benchmarks/data/advice_real_scripts.json``: per recipe ``{"spec", "initial_valid_loss",
    "runs": {"one_cycle@<budget>" | "constant@<budget>": {"losses": {"%.4g" lr: [loss per seed
    0, 1, ...]}, "pruned": [...]}}}``; only the runs in the cache, in seed order, each row as far
    as its seeds go without a gap. ``pruned`` (scored as diverged) lists the advice grid's points
    (10 ** (k / 4), up to 100) above ours only when our top point is wrecked on every seed run
    (diverged or worse than twice the best), as that benchmark prunes its own ascent.
    Extra per-run figures (accuracy, perplexity) are kept under ``"scores"``."""
    oracle: Dict[str, Any] = {}
    sweeps: Dict[str, Any] = {}
    for recipe in bench.recipes.values():
        grid = bench.grid(recipe)
        spec = {"name": recipe.name, "family": recipe.family, "optimizer": recipe.optimizer,
                "budget": recipe.budget, "source": recipe.source, "default_lr": recipe.default_lr,
                "tags": list(recipe.tags), "grid": grid}
        runs: Dict[str, Any] = {}
        for label, prefix, suffix in _kinds():
            losses: Dict[str, List[Optional[float]]] = {}
            scores: Dict[str, List[Dict[str, Any]]] = {}
            for lr in grid:
                row, extra = [], []
                for seed in seeds:
                    run = _run(bench, recipe, f"{prefix}{_fmt(lr)}{suffix}", seed)
                    if run is None:
                        break
                    row.append(run.get("loss"))
                    extra.append(run)
                if row:
                    losses[_fmt(lr)], scores[_fmt(lr)] = row, extra
            pruned: List[str] = []
            top = losses.get(_fmt(grid[-1]))
            finite = [v for row in losses.values() for v in row if v is not None]
            if top and finite and all(v is None or v >= 2 * min(finite) for v in top):
                pruned = [f"{10 ** (k / 4):.4g}" for k in range(-24, 9) if 10 ** (k / 4) > grid[-1] * 1.01]
            if losses:
                runs[f"{label}@{recipe.budget}"] = {"losses": losses, "pruned": pruned, "scores": scores}
        if runs:
            oracle[recipe.name] = {"spec": spec, "initial_valid_loss": initial_valid_loss(bench, recipe),
                                   "runs": runs}
        curves = [dict(bench.sweeps[recipe.name][k], seed=int(k)) for k in sorted(bench.sweeps.get(recipe.name, {}))]
        if curves:
            sweeps[recipe.name] = {"spec": spec, "curves": curves}
    return {"oracle": oracle, "sweeps": sweeps, "seeds": list(seeds)}


# ------------------------------------------------------------------------------- the report
def _mean_sd(values: Sequence[float]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{np.mean(vals):.3f} ± {np.std(vals, ddof=1):.3f}"


def _checkout(module: Any) -> str:
    """Where a package was imported from: its git branch and commit when it is a checkout."""
    import subprocess

    folder = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__)))
    try:
        out = subprocess.run(["git", "-C", folder, "log", "-1", "--format=%h %s"], capture_output=True,
                             text=True, check=True).stdout.strip()
        branch = subprocess.run(["git", "-C", folder, "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        return f"branch `{branch}` at `{out[:60]}`"
    except (OSError, subprocess.CalledProcessError):
        return folder




#: What the configurations above showed (the constant-rate grids depend on no rule of the package).


def report(bench: Bench, seeds: Dict[str, Sequence[int]], command: str, wall: float, lm30: bool = False,
           oracle_path: str = ORACLE) -> str:
    import gluon_lrfinder

    compute = (sum(s.get("seconds", 0) for e in bench.sweeps.values() for s in e.values())
               + sum(r.get("seconds") or 0 for r in bench.runs.values()))
    title = ("# The AWD-LSTM script where a constant rate near 30 trains best: its default against the advice"
             if lm30 else "# Real-script recipes: the script's default against the advice (issue 17)")
    lines = [
        title,
        "",
        f"Command: `{command}` (benchmark venv: `make bench-venv`). Wall time of this invocation "
        f"{wall / 60:.1f} min; compute behind the cached figures "
        f"{compute / 60:.0f} min "
        "(one process, 2 shared CPU cores). Advice from the imported package "
        f"(gluon_lrfinder {getattr(gluon_lrfinder, '__version__', '?')} from {_checkout(gluon_lrfinder)}, "
        "its default `suggest()` and "
        "`suggest_range()`), read from each sweep cut where the default stopping rule stops.",
        "",
        "Recipes (`benchmarks/advice/real_scripts.py`): GluonCV `train_cifar10.py` / `train_mixup_cifar10.py` "
        "(cifar_resnet20_v1, the script's transforms, NAG 0.9, wd 1e-4, batch 128; stand-in: digits as "
        "32x32x3, 1000 train / 797 validation; 10 epochs = 70 iterations) and GluonNLP "
        "`word_language_model.py` (AWD-LSTM 3x128, emb 64, tied, the script's dropouts, AR/TAR, clip 0.25, "
        "SGD, batch 20, BPTT 35; stand-in grammar corpus of 40k tokens; 8 epochs).",
        "",
    ]
    if lm30:
        lines = lines[:-2] + LM30_INTRO
    for recipe in bench.recipes.values():
        group = group_of(recipe)
        metric = "accuracy" if recipe.family == "gluoncv cifar" else "loss"
        done = list(bench.sweeps.get(recipe.name, {}).values())
        speed = (f"; {1e3 * sum(d['seconds'] for d in done) / sum(len(d['lrs']) for d in done):.0f} ms per "
                 "range-test iteration here" if done else "")
        lines += [f"## {recipe.name}", "", f"Source: {recipe.source}; budget {recipe.budget} iterations{speed}.", ""]
        lines += ["| seed | sweep | stop (default rule) | raw min at | suggest() | suggest_range() | flags |",
                  "|---|---|---|---|---|---|---|"]
        results: Dict[str, List[Optional[float]]] = {"default": [], "apply()": [], "one-cycle": []}
        losses: Dict[str, List[Optional[float]]] = {"default": [], "apply()": [], "one-cycle": []}
        rows = []
        for seed in seeds[group]:
            sweep = bench.sweeps.get(recipe.name, {}).get(str(seed))
            if sweep is None:
                continue
            adv = advice(sweep)
            lines.append(
                f"| {seed} | {len(sweep['lrs'])} its {_fmt(sweep['lrs'][0])}-{_fmt(sweep['lrs'][-1])} | "
                f"{adv['stop_reason']} after {adv['points']} | {_fmt(adv['raw_min_lr'])} | {_fmt(adv['suggest'])} | "
                f"{_fmt(adv['range'][0])}-{_fmt(adv['range'][1])} | {'; '.join(adv['flags']) or 'none'} |")
            row = [str(seed)]
            for label, what, _ in arms(recipe, adv):
                run = bench.runs.get(f"{recipe.name} | {what} | seed {seed} | {recipe.budget} its")
                value = None if run is None else run.get(metric)
                results[label].append(value)
                losses[label].append(None if run is None else run.get("loss"))
                row.append("-" if value is None else f"{value:.3f}")
            rows.append(row)
        lines += ["", "Full-sweep shapes (loss near each half decade):", ""]
        for seed in seeds[group]:
            sweep = bench.sweeps.get(recipe.name, {}).get(str(seed))
            if sweep is not None:
                lines.append(f"- seed {seed}: {curve_shape(sweep)}")
        what = "validation accuracy" if metric == "accuracy" else "validation log-perplexity"
        lines += ["", f"{what} after training:", "", "| seed | default " + _fmt(recipe.default_lr) +
                  " | apply() | one-cycle over suggest_range() |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("| mean ± sd | " + " | ".join(_mean_sd(results[k]) for k in results) + " |")
        lines.append("")
        base = [v for v in results["default"] if v is not None]
        if metric == "accuracy" and len(base) >= 2:
            spread = max(base) - min(base)
            for label in ("apply()", "one-cycle"):
                vals = [v for v in results[label] if v is not None]
                if vals:
                    ok = min(vals) >= min(base) - spread
                    lines.append(f"- {label}: worst seed {min(vals):.3f} against the default's worst "
                                 f"{min(base):.3f} and its seed-to-seed spread {spread:.3f}: "
                                 f"{'within' if ok else 'OUTSIDE'} the spread.")
        if metric == "loss" and base:
            ref = float(np.mean(base))
            for label in ("apply()", "one-cycle"):
                vals = [v for v in results[label] if v is not None]
                if vals:
                    worst = max(vals)
                    lines.append(f"- {label}: worst log-perplexity {worst:.3f} against the default's mean {ref:.3f} "
                                 f"({100 * (worst / ref - 1):+.1f}%): "
                                 f"{'within' if worst <= 1.1 * ref else 'NOT within'} 10%.")
                    pairs = [(a, b) for a, b in zip(results[label], results["default"])
                             if a is not None and b is not None]
                    if lm30 and pairs:
                        lines.append("  Per seed against that seed's default: " + ", ".join(
                            f"{100 * (a / b - 1):+.1f}%" for a, b in pairs) + ".")
        lines.append("")
    oracle = load_json(oracle_path).get("oracle", {})
    if oracle:
        lines += ["## Schedule oracle on these recipes", "",
                  "Validation loss of a one-cycle (min = peak / 3, 45/45/10) at each peak and of a constant rate, "
                  f"per seed (`benchmarks/data/{os.path.basename(oracle_path)}`, in the layout of the advice "
                  "benchmark's "
                  "oracle; `-`: not run within the CPU budget).", ""]
        for name, entry in oracle.items():
            runs = entry["runs"]
            budget = entry["spec"]["budget"]
            lines += [f"### {name}", "", f"Untrained validation loss {entry['initial_valid_loss']:.3f}.", "",
                      "| lr | one-cycle peak: val loss per seed | constant: val loss per seed |", "|---|---|---|"]

            def cell(label: str, lr: float, runs: Dict[str, Any] = runs, budget: int = budget) -> str:
                row = runs.get(f"{label}@{budget}", {}).get("losses", {}).get(_fmt(lr))
                return "-" if not row else " / ".join("diverged" if v is None else f"{v:.3f}" for v in row)

            for lr in entry["spec"]["grid"]:
                lines.append(f"| {_fmt(lr)} | {cell('one_cycle', lr)} | {cell('constant', lr)} |")
            lines.append("")
    if lm30:
        lines += configurations_tried(bench.runs)
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    global _LOG
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cifar-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mixup-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--lm-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--oracle", action="store_true", help="also run the schedule oracle (after the check)")
    parser.add_argument("--oracle-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--deadline", help="UTC HH:MM after which no new run starts (the report is still written)")
    parser.add_argument("--report-only", action="store_true", help="write the report from the caches, train nothing")
    parser.add_argument("--log", help="append progress to this file")
    parser.add_argument("--results", help="where the report goes (markdown; default by --recipes)")
    parser.add_argument("--recipes", choices=("scripts", "lm30"), default="scripts",
                        help="scripts: the GluonCV and GluonNLP recipes (default); lm30: only the AWD-LSTM script on "
                             "the Zipfian corpus (gluonnlp_awd_lm_zipf), seeds --lm-seeds, its own caches "
                             "real_script_lm30_{sweeps,runs,oracle}.json, oracle grid 10..100 in quarter decades, "
                             "report real_scripts_lm30.md")
    parser.add_argument("--lm30-config", nargs="+", default=[], metavar="KEY=VALUE",
                        help="with --recipes lm30: override the recipe's configuration (e.g. epochs=6 vocab=5000; "
                             "a new configuration is a new recipe name in the caches)")
    parser.add_argument("--oracle-kinds", nargs="+", choices=("one_cycle", "constant"),
                        default=["one_cycle", "constant"], help="which oracle schedules --oracle trains")
    parser.add_argument("--no-check", action="store_true",
                        help="train no default / apply() / one-cycle arm (sweeps and --oracle only)")
    parser.add_argument("--package", help="import gluon_lrfinder from this checkout instead of the installed one "
                                          "(e.g. a branch's worktree: its rules, re-scored on the cached sweeps)")
    args = parser.parse_args(argv)
    if args.package:
        sys.path.insert(0, os.path.abspath(args.package))
    start = time.time()
    if args.log:
        _LOG = open(args.log, "a", encoding="utf-8")
    deadline = None
    if args.deadline:
        hh, mm = (int(x) for x in args.deadline.split(":"))
        now = time.gmtime()
        deadline = calendar.timegm((now.tm_year, now.tm_mon, now.tm_mday, hh, mm, 0, 0, 0, 0))
    lm30 = args.recipes == "lm30"
    oracle_path = LM30_ORACLE if lm30 else ORACLE
    results = args.results or (LM30_RESULTS if lm30 else RESULTS)
    if lm30:
        from real_scripts_nlp import gluonnlp_awd_lm_zipf

        overrides = {k: int(v) for k, v in (item.split("=", 1) for item in args.lm30_config)}
        recipe = gluonnlp_awd_lm_zipf(**overrides)
        bench = Bench([recipe], deadline, LM30_SWEEPS, LM30_RUNS, {recipe.name: LM30_GRID})
    else:
        from real_scripts_cv import gluoncv_cifar, gluoncv_cifar_mixup
        from real_scripts_nlp import gluonnlp_awd_lm

        bench = Bench([gluoncv_cifar(), gluoncv_cifar_mixup(), gluonnlp_awd_lm()], deadline)
    seeds = {"gluoncv cifar": args.cifar_seeds, "mixup": args.mixup_seeds, "language model": args.lm_seeds}
    if not args.report_only and not lm30:
        cifar = next(r for r in bench.recipes.values() if r.family == "gluoncv cifar")
        bench.sweep(cifar, seeds["gluoncv cifar"][0])
        if not os.path.exists(BUMPY):
            save_bumpy(bench.sweeps[cifar.name][str(seeds["gluoncv cifar"][0])])
    if not args.report_only:
        for recipe in bench.recipes.values():  # all sweeps first: they are what the rules read
            for seed in seeds[group_of(recipe)]:
                if not bench.out_of_time():
                    bench.sweep(recipe, seed)
        if not args.no_check:
            run_check(bench, seeds)
        if args.oracle:
            run_oracle(bench, args.oracle_seeds, args.oracle_kinds)
    if not args.report_only and (args.oracle or os.path.exists(oracle_path)):  # --report-only writes no cache
        save_json(oracle_path, oracle_table(bench, args.oracle_seeds), indent=1)
    command = "python benchmarks/advice/real_script_check.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(bench, seeds, command.strip(), time.time() - start, lm30, oracle_path)
    with open(results, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    log(f"done in {(time.time() - start) / 60:.1f} min (computed {bench.computed_seconds / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
