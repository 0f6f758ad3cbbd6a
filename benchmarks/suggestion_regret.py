"""Validation-loss regret of the suggestion rules on 14 training recipes.

The tasks and the MXNet work are in ``regret_tasks.py``. Two caches in ``benchmarks/data``:

* ``regret_ground_truth.json``: per task, the validation loss after training at each of 25
  constant LRs (1e-5 .. 10, 4 per decade) for the task's budget, 3 data orders each, measured at
  half the budget and at the end, from one fixed set of initial weights (about 17 minutes
  of CPU on a shared 2-core machine).
* ``regret_curves.json``: per task, 5 real ``LRFinder`` sweeps (the finder's default sweep,
  lr 1e-6 x1.1 per iteration, up to 10) from the same weights, recorded in full; each stopping
  rule is applied afterwards (a stopping rule is a pure function of the losses, so the cut
  curve is exactly what the finder would have returned).

A third cache, ``regret_trials.json``, holds short trials of candidate rates around the
default's suggestion (is a refinement by a few dozen training iterations worth it?).
A task missing from a cache, or whose settings changed, is computed by itself; ``--recompute``
rebuilds both. Scoring reads only the caches (no MXNet import), so it takes seconds.

Regret of one search: ``L(suggested lr) / L_best - 1``, where ``L`` is the mean validation loss
over the 3 data orders, linearly interpolated in log10(LR) between the grid points (clamped at
the ends of the grid), and ``L_best`` the lowest mean on the grid. A run that diverged (or ended
worse than it started) counts as the untrained loss: the higher of the initial validation loss
and the worst mean loss below the best LR. "In the 10% (25%) band" means regret <= 0.10 (0.25).

Run from the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/suggestion_regret.py [--recompute]

The Markdown report is printed and written to ``benchmarks/results/suggestion_regret.md``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

from gluon_lrfinder.core import report as R  # noqa: E402
from gluon_lrfinder.core import rules as S  # noqa: E402
from gluon_lrfinder.core.smoothing import zero_phase  # noqa: E402
from gluon_lrfinder.core.stopping import LRFinderStoppingCriteria, StoppingCriteria  # noqa: E402

GROUND_TRUTH = common.data_path("regret_ground_truth.json")
CURVES = common.data_path("regret_curves.json")
RESULTS = common.results_path("suggestion_regret.md")

Rule = Callable[[Sequence[float], Sequence[float]], float]


# ------------------------------------------------------------------------------- caches
_load = common.load_json


def _save(path: str, data: Dict[str, Any]) -> None:
    common.save_json(path, data, indent=0, sort_keys=False)


def compute(recompute: bool) -> None:
    """Fill the two caches: tasks missing from them, or whose settings changed, are (re)computed."""
    from benchmarks import regret_tasks as rt  # MXNet: only when something must be trained

    for path, job in ((CURVES, rt.search_curves), (GROUND_TRUTH, rt.ground_truth)):
        data = {} if recompute else _load(path)
        data = {spec["name"]: data[spec["name"]] for spec in rt.TASKS
                if spec["name"] in data and data[spec["name"]]["spec"] == spec}
        for spec in rt.TASKS:
            if spec["name"] not in data:
                data[spec["name"]] = job(spec)
                _save(path, data)
                print(f"  {os.path.basename(path)}: {spec['name']}: {data[spec['name']]['seconds']:.0f} s",
                      file=sys.stderr, flush=True)
        _save(path, data)


TRIALS = common.data_path("regret_trials.json")
#: Short-trial refinement: candidates around the default's suggestion, iterations per candidate.
TRIAL_FACTORS = (1 / 3, 1.0, 3.0)
TRIAL_ITERS = 30


def trial_candidates(bench: Bench, name: str) -> List[List[float]]:
    optimizer = bench.truth[name].spec["optimizer"]
    return [[finder_default(lrs, losses, optimizer) * f for f in TRIAL_FACTORS]
            for lrs, losses in bench.searches[name]]


def compute_trials() -> None:
    """Fill the trials cache for tasks whose candidates (the default's suggestions) changed."""
    from benchmarks import regret_tasks as rt

    bench, data = Bench(), _load(TRIALS)
    for spec in rt.TASKS:
        wanted = trial_candidates(bench, spec["name"])
        old = data.get(spec["name"])
        if old is not None and old["spec"] == spec and old["iters"] == TRIAL_ITERS and \
                np.allclose(old["candidates"], wanted, rtol=1e-9):
            continue
        data[spec["name"]] = rt.trials(spec, wanted, TRIAL_ITERS)
        _save(TRIALS, data)
        print(f"  trials: {spec['name']}: {data[spec['name']]['seconds']:.0f} s", file=sys.stderr, flush=True)


def tasks_needing_compute() -> bool:
    try:
        from benchmarks import regret_tasks as rt
    except ImportError:  # no MXNet: score whatever the caches hold
        return False
    gt, cv = _load(GROUND_TRUTH), _load(CURVES)
    return any(spec["name"] not in cache or cache[spec["name"]]["spec"] != spec
               for spec in rt.TASKS for cache in (gt, cv))


# ------------------------------------------------------------------------------- ground truth
class Truth:
    """One task's ground truth: the mean validation loss on the log-LR grid, and regret."""

    def __init__(self, record: Dict[str, Any]) -> None:
        self.spec = record["spec"]
        self.x = np.log10(np.asarray(record["grid"], dtype=np.float64))
        end = self._table(record["valid_loss"])
        half = self._table(record["valid_loss_half"])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows where every run diverged
            row_mean = np.nanmean(end, axis=1)
        best_end = int(np.nanargmin(row_mean))
        # diverged (or worse than untrained): as bad as not training at all
        below = row_mean[:best_end + 1]
        self.untrained = max(float(record["initial_valid_loss"]), float(np.nanmax(below)))
        self.mean = np.nanmean(np.where(np.isnan(end) | (end > self.untrained), self.untrained, end), axis=1)
        self.best_index = int(np.argmin(self.mean))
        self.best_loss = float(self.mean[self.best_index])
        self.best_lr = float(10 ** self.x[self.best_index])
        half_mean = np.nanmean(np.where(np.isnan(half), self.untrained, half), axis=1)
        #: relative change of the best LR's loss over the second half of the budget
        self.plateau_change = float(half_mean[self.best_index] / self.best_loss - 1)
        #: what the grid says about where the best LR may be once trained longer: the best LR at half budget
        self.best_lr_half = float(10 ** self.x[int(np.argmin(half_mean))])

    @staticmethod
    def _table(rows) -> np.ndarray:
        return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)

    def loss_at(self, lr: float) -> float:
        return float(np.interp(math.log10(lr), self.x, self.mean))

    def regret(self, lr: float) -> float:
        return self.loss_at(lr) / self.best_loss - 1.0

    def band(self, tol: float) -> Tuple[float, float]:
        """The contiguous LR range around the best whose interpolated loss is within ``tol``."""
        fine = np.linspace(self.x[0], self.x[-1], 1201)
        ok = np.interp(fine, self.x, self.mean) <= self.best_loss * (1 + tol) + 1e-12
        i = int(np.argmin(np.abs(fine - self.x[self.best_index])))
        lo = hi = i
        while lo > 0 and ok[lo - 1]:
            lo -= 1
        while hi < fine.size - 1 and ok[hi + 1]:
            hi += 1
        return float(10 ** fine[lo]), float(10 ** fine[hi])


# ------------------------------------------------------------------------------- searches
def cut(curve: Dict[str, Any], stopping) -> Tuple[List[float], List[float]]:
    """The curve the finder returns with ``stopping``: the full curve up to where it stops."""
    losses = [math.nan if x is None else float(x) for x in curve["losses"]]
    stopping.reset()
    for i, loss in enumerate(losses):
        if stopping(loss):
            return curve["lrs"][: i + 1], losses[: i + 1]
    return list(curve["lrs"]), losses


STOPPING = {"robust (default StoppingCriteria)": StoppingCriteria,
            "tutorial (LRFinderStoppingCriteria)": LRFinderStoppingCriteria}


class Bench:
    """The caches, read once: per task its truth and its searches cut by a stopping rule."""

    def __init__(self, stopping=StoppingCriteria) -> None:
        gt, cv = _load(GROUND_TRUTH), _load(CURVES)
        self.names = [n for n in cv if n in gt]
        self.truth = {n: Truth(gt[n]) for n in self.names}
        self.searches = {n: [cut(c, stopping()) for c in cv[n]["curves"]] for n in self.names}
        self.full = {n: cv[n]["curves"] for n in self.names}

    def regrets(self, rule: Rule, names: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        out = {}
        for name in names or self.names:
            truth, rows = self.truth[name], []
            extra = {"optimizer": truth.spec["optimizer"]} if getattr(rule, "reads_optimizer", False) else {}
            for lrs, losses in self.searches[name]:
                try:
                    lr = float(rule(lrs, losses, **extra))
                except ValueError:  # too few points: the user is left with lr_start
                    lr = float(lrs[0])
                rows.append(truth.regret(lr))
            out[name] = np.asarray(rows)
        return out


def stats(regrets: Dict[str, np.ndarray]) -> Dict[str, float]:
    allr = np.concatenate(list(regrets.values()))
    return {"mean": float(allr.mean()), "median": float(np.median(allr)), "worst": float(allr.max()),
            "in10": float(np.mean(allr <= 0.10)), "in25": float(np.mean(allr <= 0.25)),
            "over1": int(np.sum(allr > 1.0)), "n": int(allr.size)}


# ------------------------------------------------------------------------------- rules
def finder_default(lrs: Sequence[float], losses: Sequence[float], optimizer: Optional[str] = None) -> float:
    """What ``LRFinder.suggest()`` returns: the default rule, told the trainer's optimizer."""
    return common.suggest_lr(lrs, losses, optimizer=optimizer)


finder_default.reads_optimizer = True  # type: ignore[attr-defined]


#: The registered rules whose answer depends on the trainer's optimizer (they read
#: ``curve.settings["optimizer"]`` when ``suggest(method=...)`` applies them).
OPTIMIZER_RULES = ("range", "blend_in_range", "blend")


def _as_suggest_applies(key: str) -> Rule:
    """The rule ``key`` through ``suggest(method=key)``, told the optimizer the sweep recorded."""
    def told(lrs: Sequence[float], losses: Sequence[float], optimizer: Optional[str] = None) -> float:
        return common.suggest_lr(lrs, losses, method=key, optimizer=optimizer)

    told.reads_optimizer = True  # type: ignore[attr-defined]
    return told


def rule_table() -> Dict[str, Rule]:
    """Every registered rule (``common.RULE_NAMES``), labelled; the anchors say whose idea they follow. A rule of
    OPTIMIZER_RULES is scored twice: as ``suggest(method=...)`` applies it, and without the optimizer."""
    labels = {"valley": "valley (fastai-style anchor)", "minimum": "minimum / 10 (anchor)",
              "ema_steepest": "EMA steepest (Lightning-style anchor)",
              "raw_steepest": "raw steepest (the tutorial's plain plot)",
              "blend": f"blend without the optimizer (fraction {S.BLEND_FRACTION:g})"}
    table = {f"**{S.DEFAULT_METHOD} (default), as LRFinder.suggest() applies it (reads the optimizer)**":
             finder_default}
    for key in common.RULE_NAMES:
        rule = common.array_rule(key)
        if key in OPTIMIZER_RULES:
            if key != S.DEFAULT_METHOD:
                table[f"{key}, as suggest(method='{key}') applies it (reads the optimizer)"] = _as_suggest_applies(key)
            table[labels.get(key, f"{key} without the optimizer")] = rule
        else:
            table[labels.get(key, key)] = rule
    return table


def families() -> Dict[str, Tuple[Sequence[float], Callable[[float], Rule]]]:
    """One-parameter rule families tuned by leave-one-task-out: name -> (values, make(value))."""
    return {
        "minimum / k": ([2, 2.5, 3, 4, 5, 6, 8, 10, 15], lambda k: lambda a, b: S.minimum(a, b) * 10 / k),
        "steepest x m": ([1, 1.5, 2, 3, 4, 6], lambda m: lambda a, b: S.steepest(a, b) * m),
        "blend, fraction f": (
            [0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0],
            lambda f: lambda a, b: S.blend(a, b, fraction=f)),
        "max(steepest, minimum / k)": (
            [3, 4, 5, 6, 8, 10, 12], lambda k: lambda a, b: max(S.steepest(a, b), S.minimum(a, b) * 10 / k)),
    }


def loto(bench: Bench, candidates: Dict[str, Rule], criterion: str = "mean") -> Dict[str, Any]:
    """Leave one task out: pick the candidate with the best ``criterion`` on the other tasks,
    score it on the task left out. Returns the held-out regrets and the picks."""
    per = {label: bench.regrets(rule) for label, rule in candidates.items()}
    held, picks = {}, {}
    for name in bench.names:
        others = [n for n in bench.names if n != name]
        pick = min(candidates, key=lambda label, others=others: stats({n: per[label][n] for n in others})[criterion])
        picks[name] = pick
        held[name] = per[pick][name]
    return {"regrets": held, "picks": picks}


def loto_by_optimizer(bench: Bench, fractions: Sequence[float], group=S.EMA_NORMALISED) -> Dict[str, Any]:
    """The optimizer as a signal: blend with one fraction for the optimizers in ``group`` and one
    for the rest, each tuned (lowest mean regret) on the other tasks of its kind."""
    per = {f: bench.regrets(lambda a, b, f=f: S.blend(a, b, fraction=f)) for f in fractions}

    def kind(name: str) -> bool:
        return bench.truth[name].spec["optimizer"] in group

    held, picks = {}, {}
    for name in bench.names:
        others = [n for n in bench.names if n != name and kind(n) == kind(name)]
        pick = min(fractions, key=lambda f: float(np.mean(np.concatenate([per[f][n] for n in others]))))
        held[name], picks[name] = per[pick][name], (kind(name), pick)
    return {"regrets": held, "picks": picks}


# ------------------------------------------------------------------------------- report
def fmt(x: float) -> str:
    return f"{x:.2g}"


def rule_rows(table: Dict[str, Dict[str, np.ndarray]]) -> List[str]:
    rows = ["| rule | mean regret | median | worst | searches > 1.0 | in 10% band | in 25% band |",
            "|---|---|---|---|---|---|---|"]
    for label, regrets in table.items():
        s = stats(regrets)
        rows.append(f"| {label} | {s['mean']:.2f} | {s['median']:.3f} | {s['worst']:.2f} | "
                    f"{s['over1']}/{s['n']} | {s['in10']:.0%} | {s['in25']:.0%} |")
    return rows


def fractions_text() -> str:
    kinds = S.BLEND_FRACTION_BY_KIND
    return f"{kinds['ema_normalised']:g} for Adam-like optimizers, {kinds['other']:g} for the others"


def report() -> str:
    bench = Bench()
    rules = rule_table()
    table = {label: bench.regrets(rule) for label, rule in rules.items()}
    n_search = len(next(iter(bench.searches.values())))
    out = ["# Suggestion regret", "",
           f"Default: `{S.DEFAULT_METHOD}`: `blend` with fraction {fractions_text()} (the optimizer the "
           f"sweep recorded; {S.BLEND_FRACTION:g} when it is unknown), clipped into `suggest_range()`. "
           f"{len(bench.names)} tasks, {n_search} finder searches each (robust default stopping rule). "
           "Regret of a search: validation loss after training at the suggested LR (interpolated in "
           "log-LR on the ground-truth grid) / the best grid loss - 1. See the module docstring.", "",
           "## Ground truth", "",
           "| task | budget (it x batch) | best LR | best val loss | 10% band | 25% band | "
           "loss change over the 2nd half of the budget | best LR at half budget |",
           "|---|---|---|---|---|---|---|---|"]
    for name in bench.names:
        t = bench.truth[name]
        b10, b25 = t.band(0.10), t.band(0.25)
        out.append(f"| {name} | {t.spec['budget']} x {t.spec['batch_size']} | {fmt(t.best_lr)} | "
                   f"{t.best_loss:.3f} | {fmt(b10[0])} .. {fmt(b10[1])} | {fmt(b25[0])} .. {fmt(b25[1])} | "
                   f"{-t.plateau_change / (1 + t.plateau_change):+.0%} | {fmt(t.best_lr_half)} |")

    out += ["", "## Every rule, all searches", ""] + rule_rows(table)

    out += ["", "## Mean regret per task", "", "| task | " + " | ".join(table) + " |",
            "|---|" + "---|" * len(table)]
    for name in bench.names:
        out.append(f"| {name} | " + " | ".join(f"{table[label][name].mean():.2f}" for label in table) + " |")

    out += ["", "## Leave one task out", "",
            "Each family's parameter (and, last row, the choice among every rule and every family "
            "member) is picked by the lowest mean regret on 13 tasks and scored on the 14th; the "
            "figures are over the held-out searches only.", ""]
    held = {}
    everything = {label: rule for label, rule in rules.items() if rule is not finder_default}
    for fam, (values, make) in families().items():
        members = {f"{fam} = {v:g}": make(v) for v in values}
        everything.update(members)
        result = loto(bench, members)
        picked = sorted(set(result["picks"].values()))
        held[f"{fam}, tuned held out (picked: {', '.join(p.split(' = ')[1] for p in picked)})"] = result["regrets"]
    fractions = families()["blend, fraction f"][0]
    groupings = ((S.EMA_NORMALISED, "Adam, RMSProp"), (S.EMA_NORMALISED | {"adagrad"}, "Adam, RMSProp, AdaGrad"))
    for group, what in groupings:
        result = loto_by_optimizer(bench, fractions, group)
        ema = ", ".join(f"{f:g}" for f in sorted({f for k, f in result["picks"].values() if k}))
        rest = ", ".join(f"{f:g}" for f in sorted({f for k, f in result["picks"].values() if not k}))
        held[f"blend by optimizer kind ({what} / the rest), fractions tuned held out (picked: {ema} / {rest})"] = \
            result["regrets"]
    result = loto(bench, everything)
    held[f"any rule, chosen held out (picked: {', '.join(sorted(set(result['picks'].values())))})"] = \
        result["regrets"]
    default_label = next(label for label in table if label.startswith("**"))
    held[f"{default_label}: as shipped (blend fractions {fractions_text()} chosen on these 14 tasks, "
         "the range's constants on the advice benchmark, which includes them: in-sample)"] = \
        table[default_label]
    out += rule_rows(held)

    out += ["", "## Stopping rules", "",
            "The same full curves cut by each stopping rule; 'stopped before the minimum' counts searches "
            "that ended before the LR where the full curve's smoothed loss is lowest.", "",
            "| stopping rule | searches stopped before the minimum | shortest search (iterations) | "
            "default rule's mean regret | worst |", "|---|---|---|---|---|"]
    for label, factory in STOPPING.items():
        b = Bench(factory)
        early, shortest = 0, math.inf
        for name in b.names:
            for (lrs, _), full in zip(b.searches[name], b.full[name]):
                full_lrs = [x for x, y in zip(full["lrs"], full["losses"]) if y is not None]
                full_losses = [y for y in full["losses"] if y is not None]
                lowest = full_lrs[int(np.argmin(zero_phase(full_lrs, full_losses)))]
                early += lrs[-1] < lowest
                shortest = min(shortest, len(lrs))
        s = stats(b.regrets(finder_default))
        out.append(f"| {label} | {early}/{s['n']} | {shortest} | {s['mean']:.2f} | {s['worst']:.2f} |")

    trial_data = _load(TRIALS)
    if all(name in trial_data for name in bench.names):
        out += ["", "## Short trials from the saved state (measured, not built)", "",
                f"Per search, {len(TRIAL_FACTORS)} candidates (the default's suggestion x "
                f"{', '.join(f'{f:.3g}' for f in TRIAL_FACTORS)}) trained {TRIAL_ITERS} iterations each "
                "from the search's starting weights; the candidate with the lowest training loss over "
                "the last third of its trial is kept. Cost per search: "
                f"{len(TRIAL_FACTORS) * TRIAL_ITERS} training iterations, against the sweep's "
                f"{np.mean([len(c) for n in bench.names for c, _ in bench.searches[n]]):.0f} on average.", "",
                "| rule | mean regret | median | worst | searches > 1.0 | in 10% band | in 25% band |",
                "|---|---|---|---|---|---|---|"]
        picked = {}
        for name in bench.names:
            rec, truth = trial_data[name], bench.truth[name]
            picked[name] = np.asarray([
                truth.regret(lrs[int(np.argmin([math.inf if v is None else v for v in row]))])
                for lrs, row in zip(rec["candidates"], rec["train_loss"])])
        default_label = next(label for label in table if label.startswith("**"))
        for label, regrets in ((default_label, table[default_label]), ("default + short trials", picked)):
            st = stats(regrets)
            out.append(f"| {label} | {st['mean']:.2f} | {st['median']:.3f} | {st['worst']:.2f} | "
                       f"{st['over1']}/{st['n']} | {st['in10']:.0%} | {st['in25']:.0%} |")
        out += ["", "| task | default | default + short trials |", "|---|---|---|"]
        out += [f"| {name} | {table[default_label][name].mean():.2f} | {picked[name].mean():.2f} |"
                for name in bench.names]

    out += ["", "## Saying when unsure", "",
            f"`suggest()` warns and the report flags when {', '.join(R.COMPARED)} disagree by more than "
            f"{R.DISAGREE_DECADES:g} decade. Is the flag informative? Regret of the default on the "
            "searches it flags and on the others:", "",
            "| rules compared | searches flagged | default's mean regret, flagged | not flagged |",
            "|---|---|---|---|"]
    for compared in (R.COMPARED, tuple(R.COMPARED) + ("valley",)):
        flagged, quiet = [], []
        for name in bench.names:
            for lrs, losses in bench.searches[name]:
                optimizer = bench.truth[name].spec["optimizer"]
                answers = {key: common.rule_lr(key, lrs, losses) for key in compared}
                answers[S.DEFAULT_METHOD] = finder_default(lrs, losses, optimizer)
                r = bench.truth[name].regret(answers[S.DEFAULT_METHOD])
                (flagged if _spread(answers, compared) > R.DISAGREE_DECADES else quiet).append(r)
        mean = f"{np.mean(flagged):.2f}" if flagged else "-"
        out.append(f"| {', '.join(compared)} | {len(flagged)}/{len(flagged) + len(quiet)} | {mean} | "
                   f"{np.mean(quiet):.2f} |")
    return "\n".join(out) + "\n"


def _spread(answers: Dict[str, float], names: Sequence[str]) -> float:
    values = [answers[n] for n in names]
    return math.log10(max(values) / min(values))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recompute", action="store_true",
                        help="retrain the ground truth and redo the searches (about 18 min)")
    parser.add_argument("--compute-only", action="store_true", help="fill the caches and stop")
    parser.add_argument("--no-trials", action="store_true", help="do not fill the short-trial cache")
    parser.add_argument("--out", default=RESULTS, help="where to write the Markdown report")
    args = parser.parse_args(argv)
    if args.recompute or tasks_needing_compute():
        compute(args.recompute)
    if not args.no_trials:
        try:
            import mxnet  # noqa: F401
        except ImportError:
            pass
        else:
            compute_trials()
    if args.compute_only:
        return 0
    text = report()
    common.publish(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
