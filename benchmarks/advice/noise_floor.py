"""How precise can any advice be on this benchmark? The oracle's own noise floor (issue 17).

``score.py`` judges an answer by the mean validation loss of 3 data orders (seeds 0-2) on a
log-LR grid with 4 points per decade. Two questions decide what its targets mean:

1. **One grid step off.** The regret of the grid points just below and just above the best
   (0.25 decades, a factor of 1.78): how narrow is the target on each recipe?
2. **The oracle against a new data order.** For each seed ``s``, the best grid point chosen on
   the other two seeds, scored on seed ``s`` alone against seed ``s``'s own best: the regret a
   *perfect* adviser, one that trained the whole grid twice, would show a user whose run has a
   different data order. The package's answers are scored the same way (per seed, against that
   seed's best), so the two rows compare like with like. A data order whose best loss is below
   1e-4 of the untrained loss (the task solved to float precision: some wine runs end at
   -1.4e-6) has no meaningful ratio and is left out of this question.
3. **The best any rule can do below the edge.** Issue 17 asks that the range and the suggestion
   stay below the edge of stability (``core.edge``: the first clear rise of the smoothed loss)
   with a margin (``EDGE_MARGIN``). For each search, the lowest loss on the oracle's grid among
   rates at or below ``edge / EDGE_MARGIN`` (interpolated as ``score.py`` does) is the best an
   adviser obeying that rule can reach; its regret is a floor under every such rule.
4. **How precise must an adviser be?** An adviser whose answer is ``best * 10**(sigma * z - low)``
   (``z`` standard normal: unbiased in log-LR when ``low`` is 0, erring low by ``low`` decades
   otherwise), 400 fixed draws per recipe: which ``(low, sigma)`` meet the targets?
5. **Is it the sweep's noise or the rule's factor?** The spread of the package's answer over a
   recipe's 5 sweeps, and the regret of the package's answer times the one factor per recipe
   that suits that recipe best (chosen in-sample, recipe by recipe: a cheat no rule can have).
   If this scores well, the curve's landmarks are precise enough and what is missing is the
   factor between them and the best rate.
6. **Does the budget give the factor?** Short trainings favour higher rates. The package's
   answers times ``(sweep length / budget) ** a``, with ``a`` from -1 to 1 chosen per family
   left out as ``score.py`` chooses its rules (``a = 0`` is the package).
7. **Regret without the ratio.** ``score.py``'s regret divides by the best loss, so where the
   best loss nears 0 (the wine MLPs: 0.001) a loss of 0.01 is "wrecked". The share of the
   achievable improvement an answer gives up, ``(loss - best) / (untrained - best)``, does not
   depend on how close to 0 the best is; the package's answers and the two anchor rules, scored
   that way.
8. **A bracket of full trainings.** A user who can afford 3-5 trainings trains the answer
   times each factor of a bracket at the full budget and keeps the one with the lowest
   validation loss. Picked on data order 0, scored on the mean of orders 1 and 2 against their
   own best (the pick's noise is paid, as a user would).

From the caches only (no MXNet; seconds). Run from the repository root::

    .venv/bin/python benchmarks/advice/noise_floor.py

writes ``benchmarks/results/advice_noise_floor.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import publish  # noqa: E402

RESULTS = common.results_path("advice_noise_floor.md")
COMMAND = ".venv/bin/python benchmarks/advice/noise_floor.py"
KINDS = ("one-cycle", "constant")


def neighbours(table: SC.Table) -> Tuple[Optional[float], Optional[float]]:
    """Regret (mean table) of the grid points one step below and above the best (None past the grid)."""
    def at(j: int) -> Optional[float]:
        return float(table.mean[j] / table.best_loss - 1.0) if 0 <= j < table.mean.size else None

    return at(table.best_index - 1), at(table.best_index + 1)


def seed_count(table: SC.Table) -> int:
    return min(len(v) for v in table.rows.values())


#: A data order whose best loss is below this fraction of the untrained loss is "solved".
SOLVED = 1e-4


def scored_seeds(table: SC.Table) -> List[int]:
    """The data orders with a meaningful loss ratio (not solved to float precision)."""
    return [s for s in range(seed_count(table)) if table.seeds([s]).best_loss > SOLVED * table.untrained]


def per_seed(table: SC.Table, answer: float) -> List[float]:
    """The answer's regret on each data order alone, against that order's own best."""
    return [table.seeds([s]).regret(answer) for s in scored_seeds(table)]


def oracle_per_seed(table: SC.Table) -> List[float]:
    """For each data order: the best grid point of the other orders, scored on this one."""
    n = seed_count(table)
    out = []
    for s in scored_seeds(table):
        pick = table.seeds([t for t in range(n) if t != s]).best_lr
        out.append(table.seeds([s]).regret(pick))
    return out


def below_edge(table: SC.Table, edge: float) -> float:
    """Regret of the best rate at or below ``edge / EDGE_MARGIN`` (no limit when no edge)."""
    if not math.isfinite(edge):
        return 0.0
    top = edge / SC.E.EDGE_MARGIN
    allowed = [10 ** x for x in table.x if 10 ** x <= top * (1 + 1e-9)]
    return min(table.regret(lr) for lr in allowed + [top])


#: Question 4: the error models tried (decades low, log-normal sigma in decades).
LOWS = (0.0, 0.1, 0.2, 0.3)
SIGMAS = (0.0, 0.05, 0.1, 0.15)
DRAWS = 400
#: Question 5: the factors (decades) searched per recipe.
FACTORS = np.arange(-2.5, 1.51, 0.02)


def noisy_adviser(tables: Sequence[SC.Table], low: float, sigma: float) -> List[float]:
    z = np.random.RandomState(0).randn(DRAWS)
    return [t.regret(t.best_lr * 10 ** (sigma * zz - low)) for t in tables for zz in z]


def ideal_factor(table: SC.Table, answers: Sequence[float]) -> List[float]:
    """Regret of ``answer * f`` with the one ``f`` best for this recipe's searches (in-sample)."""
    best = min(FACTORS, key=lambda f: float(np.mean([table.regret(a * 10 ** f) for a in answers])))
    return [table.regret(a * 10 ** best) for a in answers]


#: Question 6: the exponents tried.
BUDGET_EXPONENTS = np.round(np.arange(-1.0, 1.01, 0.1), 2) + 0.0  # + 0.0: no "-0.0"


def budget_rule(a: float, bench: SC.Bench) -> Callable[..., Tuple[float, float]]:
    """The package's answers times ``(sweep length / budget) ** a``."""

    def answer(r: SC.Recipe, c: SC.Curve, e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
        peak, const = bench.package(r, c, e, raw)
        factor = (len(raw[0]) / r.budget) ** a
        return peak * factor, const * factor
    return answer


def improvement_lost(table: SC.Table, lr: float) -> float:
    """Share of the improvement from untrained to the best that training at ``lr`` gives up."""
    return (table.loss_at(lr) - table.best_loss) / (table.untrained - table.best_loss)


#: Question 7: the anchor rules compared with the package, ``(recipe, c, e, raw) -> (peak, constant)``.
ANCHORS: Dict[str, Callable[..., Tuple[float, float]]] = {
    "fastai's valley": lambda r, c, e, raw: (SC.valley_rule(raw),) * 2,
    "minimum / 10": lambda r, c, e, raw: (SC.min10_rule(c),) * 2,
}
PACKAGE = "the package (`suggest_range()` top, `suggest()`)"


def lost_stats(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return (f"{np.median(v):.4f} / {v.mean():.3f} | {int(np.sum(v > 0.1))} | {int(np.sum(v > 0.25))} "
            f"| {int(np.sum(v > 0.5))} / {v.size}")


#: Question 8: the brackets tried (factors times the package's answer).
BRACKETS = {"the answer alone": (1.0,), "1/3, 1, 3": (1 / 3, 1.0, 3.0), "1/2, 1, 2, 4": (0.5, 1.0, 2.0, 4.0),
            "1/3, 1, 3, 9": (1 / 3, 1.0, 3.0, 9.0), "1/10 .. 10 in steps of 3.16": (0.1, 0.316, 1.0, 3.16, 10.0)}


def bracket_regret(table: SC.Table, answer: float, factors: Sequence[float]) -> float:
    """Regret on data orders 1-2 of the bracket member with the lowest loss on order 0."""
    pick_on, score_on = table.seeds([0]), table.seeds([1, 2])
    pick = min((answer * f for f in factors), key=pick_on.loss_at)
    return score_on.regret(pick)


def stats(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return (f"{np.median(v):.3f} / {v.mean():.2f} / {v.max():.2f} | {int(np.sum(v > SC.WRECKED - 1))}/{v.size} "
            f"| {int(np.sum(v <= SC.BAND))}/{v.size}")


def report(started: float) -> str:
    recipes = SC.load_recipes()
    bench = SC.Bench(recipes)
    got: Dict[str, Dict[str, List[float]]] = {k: {"below": [], "above": [], "oracle": [], "package": [],
                                                  "package_mean": [], "edge": [], "ideal": []} for k in KINDS}
    left_out = 0
    spread: List[float] = []
    per_recipe = []
    for r in recipes:
        answers = [bench.package(r, c, e, raw) for c, e, raw in bench.curves[r.name]]
        cells = [r.name]
        for label, table, index in ((KINDS[0], r.one_cycle, 0), (KINDS[1], r.constant, 1)):
            if table is None:
                cells += ["-", "-", "-", "-"]
                continue
            g = got[label]
            below, above = neighbours(table)
            step = [v for v in (below, above) if v is not None]
            g["below"] += [] if below is None else [below]
            g["above"] += [] if above is None else [above]
            left_out += seed_count(table) - len(scored_seeds(table))
            edged = [below_edge(table, e.edge) for c, e, raw in bench.curves[r.name]]
            g["edge"] += edged
            oracle = oracle_per_seed(table)
            g["oracle"] += oracle
            pkg = [v for a in answers for v in per_seed(table, a[index])]
            g["package"] += pkg
            g["package_mean"] += [table.regret(a[index]) for a in answers]
            g["ideal"] += ideal_factor(table, [a[index] for a in answers])
            if index == 0:
                spread.append(float(np.std(np.log10([a[0] for a in answers]))))
            cells += [" / ".join(f"{v:.2f}" for v in step), f"{np.mean(oracle):.2f}" if oracle else "solved",
                      f"{np.mean(pkg):.2f}" if pkg else "solved", f"{np.mean(edged):.2f}"]
        per_recipe.append("| " + " | ".join(cells) + " |")

    out = ["# The oracle's noise floor: how precise can advice be on the advice benchmark?", "",
           f"`{COMMAND}` (from the caches of `oracle.py`; see the module docstring). {len(recipes)} recipes, "
           f"{sum(len(bench.curves[r.name]) for r in recipes)} searches, 3 data orders each. Regret as in "
           "`score.py` (diverged or worse than untrained counts as untrained); wrecked: regret > 1; "
           f"band: regret <= 0.25. Data orders left out of the per-order rows as solved to float precision: "
           f"{left_out}.", "",
           "| what is scored | regret median / mean / worst | wrecked | in 25% band |", "|---|---|---|---|"]
    for label in KINDS:
        g = got[label]
        out += [f"| {label}: grid point one step (0.25 decades) **below** the best, mean of 3 orders "
                f"| {stats(g['below'])} |",
                f"| {label}: grid point one step **above** the best | {stats(g['above'])} |",
                f"| {label}: **the oracle** (best of 2 data orders) on the third order | {stats(g['oracle'])} |",
                f"| {label}: the package's answer on one data order | {stats(g['package'])} |",
                f"| {label}: the package's answer, mean of 3 orders (score.py) | {stats(g['package_mean'])} |",
                f"| {label}: **the best rate below the edge** / EDGE_MARGIN, mean of 3 orders "
                f"| {stats(g['edge'])} |"]
    out += ["", "## How precise must an adviser be?", "",
            f"The answer is `best * 10**(sigma * z - low)`, z standard normal, {DRAWS} fixed draws per recipe "
            "(question 4 of the module docstring). Cells: regret median / mean / share wrecked. Targets: one-cycle "
            "median <= 0.05 and mean <= 0.15, constant median <= 0.05 and mean <= 0.20, none wrecked.", "",
            "| sigma (decades) | low by (decades) | one-cycle | constant |", "|---|---|---|---|"]
    for sigma in SIGMAS:
        for low in LOWS:
            cells = []
            for table_of in (lambda r: r.one_cycle, lambda r: r.constant):
                v = np.asarray(noisy_adviser([t for t in map(table_of, recipes) if t is not None], low, sigma))
                cells.append(f"{np.median(v):.3f} / {v.mean():.2f} / {100 * np.mean(v > SC.WRECKED - 1):.1f}%")
            out.append(f"| {sigma:.2f} | {low:.2f} | {cells[0]} | {cells[1]} |")
    out += ["", "## The sweep's noise against the rule's factor", "",
            f"Spread of the package's one-cycle peak over a recipe's sweeps (std of log10): median "
            f"{np.median(spread):.2f}, worst {np.max(spread):.2f} decades.", "",
            "| the package's answer times the best factor for its recipe (in-sample per recipe) "
            "| regret median / mean / worst | wrecked | in 25% band |", "|---|---|---|---|"]
    for label in KINDS:
        out.append(f"| {label} | {stats(got[label]['ideal'])} |")
    members = [("budget", {"a": float(a)}) for a in BUDGET_EXPONENTS]
    per = [bench.score_answers(budget_rule(a, bench)) for a in BUDGET_EXPONENTS]
    held, picks, inside = SC.lofo(bench, members, per)
    chosen = sorted({m[1]["a"] for f, m in picks.items() if f != "(all recipes)"})
    overall = picks["(all recipes)"][1]["a"]
    out += ["", "## Does the budget give the factor?", "",
            "The package's answers times `(sweep length / budget) ** a` (question 6); `a` chosen per family left "
            f"out: {', '.join(f'{a:+.1f}' for a in chosen)}; on all recipes: {overall:+.1f}.",
            ""] + SC.HEAD + [SC.row("budget factor, held out", held), SC.row("budget factor, in-sample", inside),
                             SC.row("the package (a = 0)", per[int(np.argmin(np.abs(BUDGET_EXPONENTS)))])]
    out += ["", "## Regret without the ratio: the share of the achievable improvement given up", "",
            "`(loss - best) / (untrained - best)` at each answer (question 7), interpolated as in `score.py`.", "",
            "| answer | schedule | median / mean | more than 10% lost | more than 25% | more than 50% |",
            "|---|---|---|---|---|---|"]
    worst: Counter[Tuple[str, str]] = Counter()
    for label, answer in {PACKAGE: bench.package, **ANCHORS}.items():
        lost: Dict[str, List[float]] = {"one-cycle": [], "constant": []}
        for r in recipes:
            for c, e, raw in bench.curves[r.name]:
                peak, const = answer(r, c, e, raw)
                for kind, table, lr in (("one-cycle", r.one_cycle, peak), ("constant", r.constant, const)):
                    if table is None:
                        continue
                    share = improvement_lost(table, lr)
                    lost[kind].append(share)
                    if label == PACKAGE and share > 0.25:
                        worst[(r.name, kind)] += 1
        for kind, values in lost.items():
            out.append(f"| {label} | {kind} | {lost_stats(values)} |")
    out += ["", "The package's searches giving up more than 25%: "
            + "; ".join(f"{name}, {kind}: {n}" for (name, kind), n in worst.items()) + "."]
    out += ["", "## A bracket of full trainings around the answer", "",
            "Each factor of the bracket times the package's answer, trained at the full budget; the lowest "
            "validation loss on data order 0 kept, scored on orders 1-2 against their best (question 8).", "",
            "| bracket | trainings | one-cycle regret median / mean / worst | wrecked | in 25% band "
            "| constant regret median / mean / worst | wrecked | in 25% band |", "|---|---|---|---|---|---|---|---|"]
    for label, factors in BRACKETS.items():
        cells = []
        for index, table_of in ((0, lambda r: r.one_cycle), (1, lambda r: r.constant)):
            values = [bracket_regret(table_of(r), bench.package(r, c, e, raw)[index], factors)
                      for r in recipes if table_of(r) is not None for c, e, raw in bench.curves[r.name]]
            cells.append(stats(values))
        out.append(f"| {label} | {len(factors)} | {cells[0]} | {cells[1]} |")
    out += ["", "## Per recipe", "",
            "| recipe | one-cycle: one step below / above | oracle on a new order (mean) | package per order "
            "(mean) | best below the edge (mean) | constant: one step below / above | oracle on a new order (mean) "
            "| package per order (mean) | best below the edge (mean) |",
            "|---|---|---|---|---|---|---|---|---|"] + per_recipe
    out += ["", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    text = report(time.time())
    publish(RESULTS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
