"""Score confirmed answers: candidates from the curve, each trained short, the best kept (no MXNet).

Reads the oracle (``score.py``'s caches) and ``benchmarks/data/advice_confirm.json``
(``confirm_oracle.py``: every grid point trained ``budget // 4`` iterations on 80% of the
training set and scored on the other 20%, the recipe's validation set never seen). For every
search (the same 5 sweeps per recipe, cut where the default stopping rule stops) a candidate
rule proposes learning rates from the curve; the confirmed one-cycle peak is the candidate whose
short one-cycle run had the lowest held-out loss, the confirmed constant the candidate whose
short constant run did. Both are scored like ``score.py`` scores any answer: regret against the
full-budget oracle on the recipe's validation set, wrecked when worse than twice the best.

A candidate above the highest point the confirmation grid reached ended worse than untrained
(the grid stops there) and counts as such; no candidate falls below the grid (checked).

Run from the repository root::

    .venv/bin/python benchmarks/advice/score_confirm.py

writes ``benchmarks/results/advice_confirm.md``.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import load_json  # noqa: E402
from gluon_lrfinder.core import rules as S  # noqa: E402
from gluon_lrfinder.core import smoothing as SM  # noqa: E402

CONFIRM = common.data_path("advice_confirm.json")
RESULTS = common.results_path("advice_confirm.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/score_confirm.py"

Candidates = Callable[[np.ndarray, np.ndarray, str], List[float]]


class Confirmation:
    """The short runs of one recipe: held-out loss by grid lr, per schedule kind."""

    def __init__(self, entry: Dict[str, Any]) -> None:
        self.untrained = float(entry["untrained"])
        self.iterations = int(entry["iterations"])
        self.tables = {}
        for kind, table in entry["runs"].items():
            self.tables[kind] = {float(k): (math.inf if v is None else float(v)) for k, v in table.items()}

    def loss(self, kind: str, lr: float) -> float:
        table = self.tables[kind]
        lrs = np.array(sorted(table))
        i = int(np.argmin(np.abs(np.log10(lrs) - math.log10(lr))))
        if abs(math.log10(lrs[i]) - math.log10(lr)) > 0.01:
            if lr > lrs[-1]:
                return math.inf  # above where the grid stopped: worse than untrained there
            raise KeyError(f"{lr:g} is not on the confirmation grid ({lrs[0]:g} .. {lrs[-1]:g})")
        return table[float(lrs[i])]

    def pick(self, kind: str, candidates: Sequence[float], how: str = "argmin", tol: float = 0.0) -> float:
        """``argmin``: the lowest held-out loss (ties: the lower lr); ``smooth``: the lowest of the
        losses averaged with both neighbours (the ends with their one neighbour); ``within``: the
        lowest lr whose loss is within ``tol`` of the lowest."""
        losses = np.array([self.loss(kind, lr) for lr in candidates])
        capped = np.minimum(losses, self.untrained)
        if how == "smooth" and len(candidates) >= 3:
            padded = np.concatenate([[capped[0]], capped, [capped[-1]]])
            capped = (padded[:-2] + padded[1:-1] + padded[2:]) / 3
            capped[~np.isfinite(losses)] = np.inf
        if how == "within":
            ok = np.nonzero(capped <= capped.min() * (1 + tol))[0]
            return float(candidates[int(ok[0])])
        return float(candidates[int(np.argmin(capped))])  # ties: the lower lr (candidates ascend)


# ------------------------------------------------------------------------------- candidate rules
def snap_down(lr: float, per_decade: int) -> int:
    return int(math.floor(per_decade * math.log10(lr) + 1e-9))


def ceiling(lrs: np.ndarray, losses: np.ndarray) -> float:
    """The highest lr at which the smoothed loss is still below its first value."""
    x, y = SM.sorted_finite(lrs, losses)
    s = SM.zero_phase(x, y)
    below = np.nonzero(s <= s[0])[0]
    return float(x[below[-1]]) if below.size else float(x[0])


def grid_rule(per_decade: int = 2, max_candidates: int = 6, low: str = "range") -> Candidates:
    """Grid points from the range's bottom (or the steepest point / 10) up to the ceiling."""

    def rule(lrs: np.ndarray, losses: np.ndarray, optimizer: str) -> List[float]:
        if not SM.enough_points(lrs, losses):
            return [float(lrs[0])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bottom = S.lr_range(lrs, losses, optimizer=optimizer)[0] if low == "range" else S.steepest(lrs, losses) / 10
        lo, hi = snap_down(bottom, per_decade), snap_down(ceiling(lrs, losses), per_decade)
        lo = min(lo, hi - 1)
        ks = list(range(lo, hi + 1))[-max_candidates:]
        return [10 ** (k / per_decade) for k in ks]

    return rule


def around_top(per_decade: int = 2, below: int = 2, above: int = 2) -> Candidates:
    """Grid points around the range's top: ``below`` under it, ``above`` over it (capped at the ceiling)."""

    def rule(lrs: np.ndarray, losses: np.ndarray, optimizer: str) -> List[float]:
        if not SM.enough_points(lrs, losses):
            return [float(lrs[0])]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            top = S.lr_range(lrs, losses, optimizer=optimizer)[1]
        k = int(round(per_decade * math.log10(top)))
        hi = snap_down(ceiling(lrs, losses), per_decade)
        ks = [j for j in range(k - below, k + above + 1) if j <= hi] or [min(k, hi)]
        return [10 ** (j / per_decade) for j in ks]

    return rule


PICKS = (("argmin", 0.0), ("smooth", 0.0), ("within", 0.1), ("within", 0.25))

RULES: Dict[str, Candidates] = {
    "range bottom .. ceiling, 2/decade, <= 6": grid_rule(2, 6),
    "range bottom .. ceiling, 2/decade, <= 4": grid_rule(2, 4),
    "range bottom .. ceiling, 2/decade, <= 8": grid_rule(2, 8),
    "range bottom .. ceiling, 4/decade, <= 8": grid_rule(4, 8),
    "steepest / 10 .. ceiling, 2/decade, <= 6": grid_rule(2, 6, low="steep"),
    "range top x 10^(-1 .. +1), 2/decade": around_top(2, 2, 2),
    "range top x 10^(-0.5 .. +1), 2/decade": around_top(2, 1, 2),
}


def score(bench: SC.Bench, confirms: Dict[str, Confirmation], rule: Candidates, how: str = "argmin",
          tol: float = 0.0, factor: float = 1.0) -> Tuple[Dict[str, SC.Scored], List[int]]:
    """The confirmed answers of every confirmed recipe's searches (each pick divided by
    ``factor``), and the number of candidates of each search."""
    counts: List[int] = []

    def answer(r: SC.Recipe, c: SC.Curve, e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
        cands = rule(raw[0], raw[1], r.optimizer)
        counts.append(len(cands))
        conf = confirms[r.name]
        return conf.pick("one_cycle", cands, how, tol) / factor, conf.pick("constant", cands, how, tol) / factor

    return bench.score_answers(answer, list(confirms)), counts


#: Factors the budget correction divides the short-run pick by.
FACTORS = (1.0, 1.78, 3.16, 5.62, 10.0)


def corrected_held_out(bench: SC.Bench, confirms: Dict[str, Confirmation], rule: Candidates
                       ) -> Tuple[Dict[str, SC.Scored], Dict[str, Tuple[str, float]]]:
    """Leave one family out over (pick, factor): each family scored with the choice that has the
    lowest objective on the other families."""
    recipes = [r for r in bench.recipes if r.name in confirms]
    per = {(how, factor): score(bench, confirms, rule, how, factor=factor)[0]
           for how in ("argmin", "smooth") for factor in FACTORS}
    held: Dict[str, SC.Scored] = {}
    chosen: Dict[str, Tuple[str, float]] = {}
    for fam in sorted({r.family for r in recipes}):
        inside = {r.name for r in recipes if r.family == fam}
        best = min(per, key=lambda k: SC.objective({n: v for n, v in per[k].items() if n not in inside}))
        chosen[fam] = best
        held.update({n: v for n, v in per[best].items() if n in inside})
    return held, chosen


def report(started: float, path: str = CONFIRM) -> str:
    recipes = SC.load_recipes()
    bench = SC.Bench(recipes)
    cache = load_json(path)
    confirms = {n: Confirmation(e) for n, e in cache.items() if {"one_cycle", "constant"} <= set(e["runs"])}
    names = [r.name for r in recipes if r.name in confirms]
    missing = [r.name for r in recipes if r.name not in confirms]
    n_search = sum(len(r.searches) for r in recipes if r.name in confirms)
    lines = ["# Confirmed answers: short trainings of candidates from the curve", "",
             f"`{COMMAND}{'' if path == CONFIRM else ' --fraction 2'}`. {len(names)} recipes, {n_search} "
             f"searches; each candidate trained budget // {4 if path == CONFIRM else 2} iterations "
             "on 80% of the training set and compared on the other 20% "
             "(`confirm_oracle.py`), scored against the full-budget oracle on the validation set "
             "(`score.py`'s regret). " + (f"Not confirmed (no short runs cached): {', '.join(missing)}."
                                          if missing else ""), "",
             "| rule | one-cycle regret median / mean / worst | wrecked | in 25% band | decades off | "
             "constant regret median / mean / worst | wrecked | in 25% band | decades off | candidates (mean) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    # the package's curve-only answers on the same searches
    pkg_scores = bench.score_answers(bench.package, names)
    lines.append(SC.row("the package's curve-only advice (same searches)", pkg_scores) + " - |")
    per_rule = {}
    for label, rule in RULES.items():
        for how, tol in PICKS:
            scored, counts = score(bench, confirms, rule, how, tol)
            per_rule.setdefault(label, scored)
            name = how if how != "within" else f"lowest within {tol:.0%}"
            lines.append(SC.row(f"confirmed: {label}; pick {name}", scored) + f" {np.mean(counts):.1f} |")
    lines += ["", "## Per recipe (first rule)", "",
              "| recipe | family | package one-cycle / constant regret (mean) "
              "| confirmed one-cycle / constant regret (mean) |",
              "|---|---|---|---|"]
    first = per_rule[next(iter(RULES))]
    for r in recipes:
        if r.name not in confirms:
            continue
        p, q = pkg_scores[r.name], first[r.name]
        cm = lambda a: f"{a.mean():.2f}" if a.size else "-"  # noqa: E731
        lines.append(f"| {r.name} | {r.family} | {cm(p.peak_regret)} / {cm(p.const_regret)} | "
                     f"{cm(q.peak_regret)} / {cm(q.const_regret)} |")
    lines += ["", "## A budget correction, held out", "",
              "A short run favours higher rates than the full budget. Here the pick (first candidate set, "
              "lowest loss or neighbour-averaged) is divided by a factor in "
              f"{', '.join(f'{f:g}' for f in FACTORS)}, the pick and factor chosen per family left out on "
              "the other families (objective: mean one-cycle + mean constant regret).", "",
              SC.HEAD[0] + " candidates (mean) |", SC.HEAD[1] + "---|"]
    held, chosen = corrected_held_out(bench, confirms, RULES[next(iter(RULES))])
    lines.append(SC.row("confirmed, pick / factor, held out", held) + " - |")
    lines += ["", "Choices (family left out: pick, factor): "
              + "; ".join(f"{fam}: {how} / {f:g}" for fam, (how, f) in chosen.items())]
    lines += ["", f"Wall time of this scoring: {time.time() - started:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--print-only", action="store_true", help="print, do not write the results file")
    parser.add_argument("--fraction", type=int, default=4, help="score the confirmation runs of budget // FRACTION")
    args = parser.parse_args(argv)
    started = time.time()
    text = report(started, CONFIRM if args.fraction == 4 else CONFIRM.replace(".json", f"_f{args.fraction}.json"))
    print(text)
    if not args.print_only:
        with open(RESULTS if args.fraction == 4 else RESULTS.replace(".md", f"_f{args.fraction}.md"), "w",
                  encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
