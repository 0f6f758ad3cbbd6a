"""Score the LR advice against the schedule oracle, from the caches only (no MXNet; seconds).

Reads ``benchmarks/data/advice_oracle.json`` and ``advice_sweeps.json`` (``oracle.py`` fills
them) and, for the regret benchmark's 14 tasks, their constant-rate ground truth in
``regret_ground_truth.json``. For every recipe and each of its 5 sweeps (cut where the finder's
default stopping rule would have stopped), each rule gives

* a **one-cycle peak**: the top of its range; the run is ``one_cycle(peak, budget)``, the
  schedule ``OneCycleSchedule.from_finder`` builds from a ``(peak / 3, peak)`` range;
* a **constant rate** (what ``finder.apply()`` sets).

Regret of a search: the validation loss at its answer, interpolated in log-LR on the oracle's
grid (mean of 3 data orders; a run that diverged, was pruned, or ended worse than untrained
counts as untrained), divided by the grid's best loss, minus 1. A search is **wrecked** when its
loss is more than twice the best. "In band": regret <= 0.25. "Decades off": ``|log10(answer /
best)|``.

Rules compared: ours (the package's ``suggest_range()`` top and ``suggest()``), and the range
from fastai's valley and from "minimum / 10" (peak and constant at the anchor, as users of
those tools pass it to ``fit_one_cycle(lr_max=...)``). Rule parameters are chosen by **leave one
family out**: for each family, the parameters with the lowest mean regret on the other
families' recipes, scored on the family left out (the families were fixed before any rule
changed, ``recipes.py``); in-sample figures choose on all recipes.

Run from the repository root::

    .venv/bin/python benchmarks/advice/score.py

writes ``benchmarks/results/advice.md`` (the command and the wall time are in it).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
for _path in (BENCH, ROOT):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from gluon_lrfinder import edge as E  # noqa: E402
from gluon_lrfinder import suggest as S  # noqa: E402
from gluon_lrfinder.smoothing import zero_phase  # noqa: E402
from gluon_lrfinder.stopping import StoppingCriteria  # noqa: E402

DATA = os.path.join(BENCH, "data")
ORACLE = os.path.join(DATA, "advice_oracle.json")
SWEEPS = os.path.join(DATA, "advice_sweeps.json")
OLD_TRUTH = os.path.join(DATA, "regret_ground_truth.json")
EXTRA_RECIPES = os.path.join(DATA, "advice_real_scripts.json")
RESULTS = os.path.join(BENCH, "results", "advice.md")
WRECKED = 2.0
BAND = 0.25


def _load(path: str) -> Dict[str, Any]:
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


# ------------------------------------------------------------------------------- oracle tables
class Table:
    """Mean validation loss over a log-LR grid (one recipe, one schedule kind, one budget)."""

    def __init__(self, rows: Dict[float, List[Optional[float]]], initial: float, pruned: Sequence[float] = ()) -> None:
        lrs = sorted(set(rows) | set(pruned))
        raw = np.array([[np.nan if v is None else v for v in rows.get(lr, [None])] for lr in lrs], dtype=object)
        means_raw = []
        for lr in lrs:
            values = rows.get(lr, [None])
            means_raw.append([math.nan if v is None else float(v) for v in values])
        del raw
        finite = [np.nanmean(m) if np.isfinite(m).any() else math.nan for m in means_raw]
        best = int(np.nanargmin(finite))
        below = [v for v in finite[: best + 1] if np.isfinite(v)]
        self.untrained = max(float(initial), max(below))
        self.x = np.log10(np.asarray(lrs, dtype=np.float64))
        self.mean = np.array([np.mean([self.untrained if (not np.isfinite(v) or v > self.untrained) else v
                                       for v in m]) for m in means_raw])
        self.best_index = int(np.argmin(self.mean))
        self.best_loss = float(self.mean[self.best_index])
        self.best_lr = float(10 ** self.x[self.best_index])
        self.stable_top = float(10 ** self.x[max(i for i, m in enumerate(self.mean) if m < self.untrained)])

    def loss_at(self, lr: float) -> float:
        return float(np.interp(math.log10(lr), self.x, self.mean))

    def regret(self, lr: float) -> float:
        return self.loss_at(lr) / self.best_loss - 1.0

    def below_grid(self, lr: float) -> bool:
        return math.log10(lr) < self.x[0] - 1e-9

    def band(self, tol: float = BAND) -> Tuple[float, float]:
        ok = self.mean <= self.best_loss * (1 + tol)
        lo = hi = self.best_index
        while lo > 0 and ok[lo - 1]:
            lo -= 1
        while hi < ok.size - 1 and ok[hi + 1]:
            hi += 1
        return float(10 ** self.x[lo]), float(10 ** self.x[hi])


def oracle_table(entry: Dict[str, Any], label: str) -> Optional[Table]:
    run = entry.get("runs", {}).get(label)
    if not run or not run["losses"]:
        return None
    rows = {float(k): v for k, v in run["losses"].items() if len(v) >= 1}
    return Table(rows, entry["initial_valid_loss"], [float(k) for k in run.get("pruned", [])])


def old_constant_table(record: Dict[str, Any]) -> Table:
    rows = {float(lr): row for lr, row in zip(record["grid"], record["valid_loss"])}
    return Table(rows, record["initial_valid_loss"])


# ------------------------------------------------------------------------------- searches
def cut(curve: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """The curve the finder returns with its default stopping rule."""
    losses = [math.nan if v is None else float(v) for v in curve["losses"]]
    rule = StoppingCriteria()
    rule.reset()
    for i, loss in enumerate(losses):
        if rule(loss):
            return np.asarray(curve["lrs"][: i + 1]), np.asarray(losses[: i + 1])
    return np.asarray(curve["lrs"]), np.asarray(losses)


@dataclass
class Recipe:
    name: str
    family: str
    optimizer: str
    searches: List[Tuple[np.ndarray, np.ndarray]]
    one_cycle: Table
    constant: Optional[Table]
    extra: Dict[str, Table]


def load_recipes(require_constant: bool = False) -> List[Recipe]:
    oracle, sweeps, old = _load(ORACLE), _load(SWEEPS), _load(OLD_TRUTH)
    extra = _load(EXTRA_RECIPES)  # real-script recipes, when their cache is present
    oracle.update({k: v for k, v in extra.get("oracle", {}).items() if k not in oracle})
    sweeps.update({k: v for k, v in extra.get("sweeps", {}).items() if k not in sweeps})
    out = []
    for name, entry in oracle.items():
        spec = entry["spec"]
        if name not in sweeps:
            continue
        label = f"one_cycle@{spec['budget']}"
        oc = oracle_table(entry, label)
        if oc is None or not complete(entry, label):
            continue
        const = oracle_table(entry, f"constant@{spec['budget']}")
        if const is None and name in old:
            const = old_constant_table(old[name])
        if const is None and require_constant:
            continue
        extras = {k: t for k in entry["runs"] if k not in (label, f"constant@{spec['budget']}")
                  for t in [oracle_table(entry, k)] if t is not None and complete(entry, k)}
        out.append(Recipe(name, spec["family"], spec["optimizer"],
                          [cut(c) for c in sweeps[name]["curves"]], oc, const, extras))
    return out


def complete(entry: Dict[str, Any], label: str) -> bool:
    """A grid is complete once its ascent ended (pruned points recorded, or the top reached)."""
    run = entry["runs"][label]
    if run.get("pruned"):
        return True
    return any(float(k) >= 99 for k in run["losses"])


# ------------------------------------------------------------------------------- rules
@dataclass
class Curve:
    """A search's smoothed curve and the points every rule reads."""

    lrs: np.ndarray
    smooth: np.ndarray
    steep: float  # steepest point before the minimum
    minimum: float  # LR at the minimum (before the edge when ``edge`` rules)
    edge: float  # LR at the edge of stability (inf when none)
    ok: bool

    @classmethod
    def of(cls, lrs: np.ndarray, losses: np.ndarray, use_edge: bool) -> Curve:
        if not S.enough_points(lrs, losses):
            return cls(lrs, losses, float(lrs[0]), float(lrs[0]), math.inf, False)
        x, y = S._finite_curve(lrs, losses)
        s = zero_phase(x, y)
        end = E.descent_end(s) if use_edge else int(np.nanargmin(s))
        k = E.edge_index(s)
        if end < 1:
            steep = 0
        else:
            steep = int(np.argmin(np.gradient(s[: end + 1], np.log10(x[: end + 1]))))
        return cls(x, s, float(x[steep]), float(x[end]), math.inf if k is None else float(x[k]), True)


Advice = Callable[[Curve, Curve, str], Tuple[float, float]]  # (classic, edge-aware, optimizer) -> (peak, const)


def geo(a: float, b: float, f: float) -> float:
    return float(a ** (1 - f) * b ** f)


def kind(optimizer: str) -> str:
    return "ema_normalised" if optimizer.lower() in S.EMA_NORMALISED else "other"


def main_rules(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
    """Today's main: range top min(3 s, m / 2), blend 0 / 0.3 by optimizer, whole curve."""
    peak = min(3 * c.steep, c.minimum / 2)
    return peak, geo(c.steep, c.minimum, S.BLEND_FRACTION_BY_KIND[kind(optimizer)])


def valley_rule(raw: Tuple[np.ndarray, np.ndarray]) -> float:
    return S.valley(*raw) if S.enough_points(*raw) else float(raw[0][0])


def min10_rule(c: Curve) -> float:
    return c.minimum / 10


def candidate_rules() -> Dict[str, Tuple[Dict[str, Any], Callable[..., Tuple[float, float]]]]:
    """Parameterised advice: name -> (parameter grid, make(params) -> advice)."""

    def shape(p: Dict[str, Any]) -> Advice:
        # range top: blend between steepest and minimum by ``top_f``, capped at minimum / top_cap,
        # and below the edge by ``margin``; constant: ``top / const_k`` (inside the range)
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            cur = e if p["edge"] else c
            top = min(geo(cur.steep, cur.minimum, p["top_f"]) * p["top_m"], cur.minimum / p["top_cap"])
            top = max(top, cur.steep)
            if p["edge"] and math.isfinite(cur.edge):
                top = min(top, cur.edge / p["margin"])
            return top, top / p["const_k"]
        return advise

    def by_kind(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            cur = e if p["edge"] else c
            f = p["f_ema"] if kind(optimizer) == "ema_normalised" else p["f_other"]
            top = min(geo(cur.steep, cur.minimum, f) * 3, cur.minimum / p["top_cap"])
            top = max(top, cur.steep)
            if p["edge"] and math.isfinite(cur.edge):
                top = min(top, cur.edge / p["margin"])
            return top, top / p["const_k"]
        return advise

    return {
        "shape": ({"edge": [True], "top_f": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0], "top_m": [1.0, 2.0, 3.0],
                   "top_cap": [1.0, 1.5, 2.0, 3.0], "margin": [1.5, 2.0, 3.0], "const_k": [1.0, 1.5, 2.0, 3.0]},
                  shape),
        "by optimizer": ({"edge": [True], "f_ema": [0.0, 0.3], "f_other": [0.0, 0.3, 0.6, 1.0],
                          "top_cap": [1.0, 2.0], "margin": [2.0], "const_k": [1.0, 2.0, 3.0]}, by_kind),
    }


def expand(grid: Dict[str, Sequence[Any]]) -> List[Dict[str, Any]]:
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


# ------------------------------------------------------------------------------- scoring
@dataclass
class Scored:
    peak_regret: np.ndarray
    const_regret: np.ndarray
    peak_decades: np.ndarray
    const_decades: np.ndarray
    below_grid: int


class Bench:
    def __init__(self, recipes: List[Recipe]) -> None:
        self.recipes = recipes
        self.curves = {r.name: [(Curve.of(lrs, losses, False), Curve.of(lrs, losses, True), (lrs, losses))
                                for lrs, losses in r.searches] for r in recipes}

    def score(self, advise: Callable[..., Tuple[float, float]], names: Optional[Sequence[str]] = None,
              raw: bool = False) -> Dict[str, Scored]:
        out = {}
        for r in self.recipes:
            if names is not None and r.name not in names:
                continue
            pr, cr, pd, cd, below = [], [], [], [], 0
            for c, e, curve in self.curves[r.name]:
                peak, const = advise(curve) if raw else advise(c, e, r.optimizer)
                pr.append(r.one_cycle.regret(peak))
                pd.append(abs(math.log10(peak / r.one_cycle.best_lr)))
                below += r.one_cycle.below_grid(peak)
                if r.constant is not None:
                    cr.append(r.constant.regret(const))
                    cd.append(abs(math.log10(const / r.constant.best_lr)))
            out[r.name] = Scored(np.array(pr), np.array(cr), np.array(pd), np.array(cd), below)
        return out


def summary(scored: Dict[str, Scored], what: str = "peak") -> Dict[str, float]:
    reg = np.concatenate([getattr(s, f"{what}_regret") for s in scored.values()] + [np.zeros(0)])
    dec = np.concatenate([getattr(s, f"{what}_decades") for s in scored.values()] + [np.zeros(0)])
    if reg.size == 0:
        return {"n": 0}
    return {"n": int(reg.size), "median": float(np.median(reg)), "mean": float(reg.mean()),
            "worst": float(reg.max()), "wrecked": int(np.sum(reg > WRECKED - 1)),
            "band": int(np.sum(reg <= BAND)), "decades": float(dec.mean())}


def objective(scored: Dict[str, Scored]) -> float:
    """What the leave-one-family-out choice minimises: mean one-cycle + mean constant regret."""
    p, c = summary(scored, "peak"), summary(scored, "const")
    return (p["mean"] if p.get("n") else 0.0) + (c["mean"] if c.get("n") else 0.0)


def lofo(bench: Bench, family_name: str) -> Tuple[Dict[str, Scored], Dict[str, Any], Dict[str, Scored]]:
    """Leave one family out over one candidate family: held-out scores, picks, in-sample scores."""
    grid, make = candidate_rules()[family_name]
    members = expand(grid)
    per = [bench.score(make(p)) for p in members]
    families = sorted({r.family for r in bench.recipes})
    held: Dict[str, Scored] = {}
    picks: Dict[str, Any] = {}
    for fam in families:
        inside = {r.name for r in bench.recipes if r.family == fam}
        scores = [objective({n: s for n, s in sc.items() if n not in inside}) for sc in per]
        best = int(np.argmin(scores))
        picks[fam] = members[best]
        held.update({n: s for n, s in per[best].items() if n in inside})
    overall = int(np.argmin([objective(sc) for sc in per]))
    picks["(all recipes)"] = members[overall]
    return held, picks, per[overall]


# ------------------------------------------------------------------------------- report
def row(label: str, scored: Dict[str, Scored]) -> str:
    p, c = summary(scored, "peak"), summary(scored, "const")
    cells = [label]
    for s in (p, c):
        if not s.get("n"):
            cells += ["-"] * 5
            continue
        cells += [f"{s['median']:.3f} / {s['mean']:.2f} / {s['worst']:.2f}", f"{s['wrecked']}/{s['n']}",
                  f"{s['band']}/{s['n']}", f"{s['decades']:.2f}", ""]
        cells.pop()
    return "| " + " | ".join(cells) + " |"


HEAD = ["| rule | one-cycle regret median / mean / worst | wrecked | in 25% band | decades off | "
        "constant regret median / mean / worst | wrecked | in 25% band | decades off |",
        "|---|---|---|---|---|---|---|---|---|"]


def package_advice(c: Curve, e: Curve, optimizer: str, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
    lrs, losses = raw
    if not S.enough_points(lrs, losses):
        return float(lrs[0]), float(lrs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return S.lr_range(lrs, losses)[1], S.suggest(lrs, losses, warn=False, optimizer=optimizer)


def report(started: float) -> str:
    recipes = load_recipes()
    bench = Bench(recipes)
    fams = sorted({r.family for r in recipes})
    out = ["# Advice benchmark: the one-cycle and the constant rate users run, against the best", ""]
    out += [f"{len(recipes)} recipes in {len(fams)} families ({', '.join(fams)}), "
            f"{sum(len(r.searches) for r in recipes)} searches; see `benchmarks/advice/score.py`.", ""]
    out += ["## Oracle", "", "| recipe | family | best one-cycle peak | 25% band | best constant | "
            "25% band | stable up to (one-cycle) | peak / constant |", "|---|---|---|---|---|---|---|---|"]
    for r in recipes:
        oc, ct = r.one_cycle, r.constant
        b = oc.band()
        cb = ct.band() if ct else (math.nan, math.nan)
        out.append(f"| {r.name} | {r.family} | {oc.best_lr:.3g} | {b[0]:.3g} .. {b[1]:.3g} | "
                   f"{ct.best_lr if ct else math.nan:.3g} | {cb[0]:.3g} .. {cb[1]:.3g} | {oc.stable_top:.3g} | "
                   f"{oc.best_lr / ct.best_lr if ct else math.nan:.2g} |")

    def per_search(c: Curve, e: Curve, opt: str) -> Tuple[float, float]:
        return main_rules(c, e, opt)

    table = {"main before this change (range top min(3 s, m/2), blend by optimizer)": bench.score(per_search),
             "range from fastai's valley (peak = constant = valley)":
                 bench.score(lambda raw: (valley_rule(raw), valley_rule(raw)), raw=True),
             "range from minimum / 10 (peak = constant = min / 10)":
                 bench.score(lambda c, e, o: (min10_rule(c), min10_rule(c)))}
    out += ["", "## In-sample: every rule on every recipe", ""] + HEAD + [row(k, v) for k, v in table.items()]
    for fam_name in candidate_rules():
        held, picks, insample = lofo(bench, fam_name)
        out += ["", f"### Candidate family '{fam_name}'", "", "Held out (leave one family out):", ""]
        out += HEAD + [row(f"{fam_name}, held out", held), row(f"{fam_name}, in-sample", insample)]
        out += ["", "Picks: " + "; ".join(f"{k}: {v}" for k, v in picks.items())]
    out += ["", f"Wall time of this scoring: {time.time() - started:.1f} s", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    started = time.time()
    text = report(started)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
