"""Can any rule that reads the curve's landmarks lose a median of at most 0.5%?

From the caches of the advice benchmark only (no training; seconds). Per search of
``scale_free.py`` (the package's answers, the wide curve's steepest point ``s`` and minimum ``m``
before the edge), two families of rules far wider than the package's:

* **landmarks**: ``s ** (1 - f) * m ** f * 10 ** c``, ``f`` from -0.5 to 1.5 (past either
  landmark), ``c`` from -1.5 to +1 decades in steps of 0.05;
* **the package's answer times a factor**: the range's top (one-cycle) or ``suggest()``
  (constant) times ``10 ** c``.

Each is scored on the share of the achievable improvement lost (one-cycle against the best
peak, constant against the best constant), with the member chosen four ways:

1. in hindsight: the member with the lowest *median* over every search (a bound no rule of the
   family can beat on these recipes);
2. held out: chosen per family left out, on the other families' median;
3. knowing the recipe: the member with the lowest mean on the recipe's *other* sweeps (leave one
   sweep out), i.e. the recipe's own factor between the landmarks and its best rate;
4. knowing the recipe exactly: the member with the lowest mean on all its sweeps.

If (1) misses 0.5% while (3) meets it, the median target needs what the landmarks do not carry:
the per-recipe factor between the curve and the best rate, not a better reading of the curve.

Last, whether the curve's features predict that factor: a ridge regression of
``log10(best / answer)`` on six features of the search (the fall's share and its size in noise
SDs, the fall's width, the optimizer's kind, the decades from the steepest point to the minimum,
the edge's distance above the range's top), fitted per family left out and applied to the
package's answer, in full or halved.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/median_reach.py [--with-new-families]

writes ``benchmarks/results/advice_median_reach.md`` (``..._new_families.md``; the command and
the wall time are in it).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.scale_free import Search, lost_at, table_of  # noqa: E402
from benchmarks.common import publish  # noqa: E402

RESULTS = common.results_path("advice_median_reach.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/median_reach.py"
TARGET = 0.005  # the median share lost the issue asks of each schedule
FRACTIONS = np.arange(-0.5, 1.5 + 1e-9, 0.25)
OFFSETS = np.round(np.arange(-1.5, 1.0 + 1e-9, 0.05), 2)  # decades
KINDS = ("one-cycle", "constant")


class Family:
    """One family of rules: ``lost[name]``, an array (members, searches) of share lost per recipe."""

    def __init__(self, label: str, members: List[str], lost: Dict[str, np.ndarray]) -> None:
        self.label, self.members, self.lost = label, members, lost

    def pooled(self, names: Sequence[str]) -> np.ndarray:
        return np.concatenate([self.lost[n] for n in names], axis=1)


def landmark_family(by: Dict[str, List[Search]], rec: Dict[str, SC.Recipe], kind: str) -> Family:
    members = [f"f = {f:+.2f}, x 10^{c:+.2f}" for f in FRACTIONS for c in OFFSETS]
    lost = {}
    for n, searches in by.items():
        cols = []
        for s in searches:
            if s.e.ok:
                base = np.array([SC.geo(s.e.steep, s.e.minimum, f) for f in FRACTIONS])
            else:  # a curve the rules cannot read: every member answers what the package answers
                base = np.full(FRACTIONS.size, s.top if kind == "one-cycle" else s.const)
            lrs = (base[:, None] * 10.0 ** OFFSETS[None, :]).ravel()
            cols.append(lost_at(table_of(rec[n], kind), lrs))
        lost[n] = np.array(cols).T
    return Family("landmarks: s^(1-f) m^f x 10^c", members, lost)


def factor_family(by: Dict[str, List[Search]], rec: Dict[str, SC.Recipe], kind: str) -> Family:
    members = [f"x 10^{c:+.2f}" for c in OFFSETS]
    lost = {}
    for n, searches in by.items():
        answers = np.array([s.top if kind == "one-cycle" else s.const for s in searches])
        lost[n] = np.array([lost_at(table_of(rec[n], kind), answers * 10.0 ** c) for c in OFFSETS])
    return Family("the package's answer x 10^c", members, lost)


def central_argmin(values: np.ndarray) -> int:
    """The middle one of the members tied at the minimum (a flat bottom picks its centre, not its edge)."""
    ties = np.flatnonzero(values <= values.min() + 1e-12)
    return int(ties[ties.size // 2])


def choices(fam: Family, rec: Dict[str, SC.Recipe], names: Sequence[str]) -> Dict[str, Tuple[np.ndarray, str]]:
    """The share lost per search for the four ways of choosing a member, and what was chosen."""
    out: Dict[str, Tuple[np.ndarray, str]] = {}
    pooled = fam.pooled(names)
    best = central_argmin(np.median(pooled, axis=1))
    out["in hindsight (lowest median over every search)"] = (pooled[best], fam.members[best])
    held: List[np.ndarray] = []
    picks = []
    for family in sorted({rec[n].family for n in names}):
        inside = [n for n in names if rec[n].family == family]
        others = [n for n in names if rec[n].family != family]
        k = central_argmin(np.median(fam.pooled(others), axis=1))
        picks.append(k)
        held += [fam.lost[n][k] for n in inside]
    common_pick = max(set(picks), key=picks.count)
    out["held out (lowest median on the other families)"] = (
        np.concatenate(held), f"{picks.count(common_pick)} of {len(picks)} folds: {fam.members[common_pick]}")
    loo: List[float] = []
    exact: List[np.ndarray] = []
    for n in names:
        m = fam.lost[n]
        for i in range(m.shape[1]):
            rest = np.delete(m, i, axis=1)
            loo.append(float(m[central_argmin(rest.mean(axis=1)), i]) if rest.size else float(m[0, i]))
        exact.append(m[central_argmin(m.mean(axis=1))])
    out["knowing the recipe (chosen on its other sweeps)"] = (np.array(loo), "per recipe")
    out["knowing the recipe exactly (chosen on all its sweeps)"] = (np.concatenate(exact), "per recipe")
    return out


RIDGE = (1.0, 10.0, 30.0)  # penalties of the ridge regression (on standardised features)
SHRINK = (0.5, 1.0)  # share of the predicted correction applied


def features(s: Search) -> Optional[List[float]]:
    """What the curve shows of a search (None when the rules cannot read it)."""
    e = s.e
    if not e.ok:
        return None
    edge = min(math.log10(e.edge / s.top), 2.0) if math.isfinite(e.edge) else 2.0
    return [s.share, math.log10(min(max(s.sds, 0.5), 1e3)), s.width,
            float(SC.kind(s.r.optimizer) == "ema_normalised"), math.log10(e.minimum / e.steep), edge]


def predicted_factor(by: Dict[str, List[Search]], rec: Dict[str, SC.Recipe], names: Sequence[str], kind: str,
                     ridge: float, shrink: float) -> np.ndarray:
    """Share lost at the package's answer times ``10 ** (shrink * prediction)``, the prediction a ridge
    regression of ``log10(best / answer)`` on :func:`features`, fitted per family left out."""
    def answer(s: Search) -> float:
        return s.top if kind == "one-cycle" else s.const

    out: List[float] = []
    for family in sorted({rec[n].family for n in names}):
        train = [(n, s, f) for n in names if rec[n].family != family for s in by[n]
                 for f in [features(s)] if f is not None]
        X = np.array([f for _, _, f in train])
        y = np.array([math.log10(table_of(rec[n], kind).best_lr / answer(s)) for n, s, _ in train])
        mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-9
        Z = np.c_[np.ones(len(X)), (X - mu) / sd]
        w = np.linalg.solve(Z.T @ Z + ridge * np.diag([0.0] + [1.0] * X.shape[1]), Z.T @ y)
        for n in (n for n in names if rec[n].family == family):
            for s in by[n]:
                f = features(s)
                p = 0.0 if f is None else shrink * float(np.r_[1.0, (np.array(f) - mu) / sd] @ w)
                out.append(float(lost_at(table_of(rec[n], kind), np.array([answer(s) * 10 ** p]))[0]))
    return np.array(out)


def cell(v: np.ndarray) -> str:
    return (f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {100 * v.max():.1f}% "
            f"| {int(np.sum(v > 0.10))}/{v.size}")


def load(with_new: bool = False) -> Tuple[Dict[str, List[Search]], Dict[str, SC.Recipe], List[str]]:
    """Every search of the benchmark (``scale_free.Search``) by recipe name, the recipes, their names."""
    recipes = SC.load_recipes()
    if with_new:
        from benchmarks.advice.new_families_score import recipes as new_recipes

        recipes += new_recipes()
    recipes = [r for r in recipes if r.constant is not None]
    bench = SC.Bench(recipes)
    by = {r.name: [Search(r, c, e, raw, bench) for c, e, raw in bench.curves[r.name]] for r in recipes}
    return by, {r.name: r for r in recipes}, [r.name for r in recipes]


def report(started: float, with_new: bool = False) -> str:
    by, rec, names = load(with_new)
    recipes = [rec[n] for n in names]
    n_searches = sum(len(v) for v in by.values())
    out = ["# Can a rule reading the curve's landmarks reach a median of 0.5%?", "",
           f"`{COMMAND}{' --with-new-families' if with_new else ''}` (from the caches; see the module docstring). "
           f"{len(recipes)} recipes in {len({r.family for r in recipes})} families, {n_searches} searches. Share "
           "lost: `(loss - best) / (untrained - best)` at the answer, against the best of its own schedule. "
           f"Target: a median of at most {100 * TARGET:.1f}% for each schedule.", "",
           "| family of rules | member chosen | one-cycle: share lost median / mean / worst | over 10% "
           "| constant: share lost median / mean / worst | over 10% |", "|---|---|---|---|---|---|"]
    per_kind = {kind: {"landmarks": choices(landmark_family(by, rec, kind), rec, names),
                       "factor": choices(factor_family(by, rec, kind), rec, names)} for kind in KINDS}
    labels = {"landmarks": "landmarks `s^(1-f) m^f x 10^c`", "factor": "the package's answer `x 10^c`"}
    for fam in ("landmarks", "factor"):
        for how in per_kind["one-cycle"][fam]:
            (a, pick_a), (b, pick_b) = per_kind["one-cycle"][fam][how], per_kind["constant"][fam][how]
            picked = how if pick_a == "per recipe" else f"{how}: {pick_a}; {pick_b}"
            out.append(f"| {labels[fam]} | {picked} | {cell(a)} | {cell(b)} |")
    pkg = {kind: np.concatenate([lost_at(table_of(rec[n], kind),
                                         np.array([s.top if kind == "one-cycle" else s.const for s in by[n]]))
                                 for n in names]) for kind in KINDS}
    out.append(f"| the package as shipped | - | {cell(pkg['one-cycle'])} | {cell(pkg['constant'])} |")

    # how far the answers lie from the best, in decades, and the same for the recipe's own factor
    dec = {kind: np.concatenate([np.abs(np.log10(np.array([s.top if kind == "one-cycle" else s.const
                                                           for s in by[n]]) / table_of(rec[n], kind).best_lr))
                                 for n in names]) for kind in KINDS}
    spread = {kind: np.concatenate([np.abs(np.log10(np.array([s.top if kind == "one-cycle" else s.const
                                                              for s in by[n]]))
                                           - np.median(np.log10([s.top if kind == "one-cycle" else s.const
                                                                 for s in by[n]])))
                                    for n in names]) for kind in KINDS}
    out += ["", "Decades between the package's answer and the best rate (median / mean): " + "; ".join(
        f"{kind} {np.median(dec[kind]):.2f} / {dec[kind].mean():.2f}" for kind in KINDS)
            + ". Between a search's answer and its recipe's median answer (sweep-to-sweep scatter): " + "; ".join(
        f"{kind} {np.median(spread[kind]):.2f} / {spread[kind].mean():.2f}" for kind in KINDS) + "."]
    reach = {kind: min(float(np.median(v)) for fam in per_kind[kind].values()
                       for how, (v, _) in fam.items() if "hindsight" in how) for kind in KINDS}
    know = {kind: float(np.median(per_kind[kind]["landmarks"]["knowing the recipe (chosen on its other sweeps)"][0]))
            for kind in KINDS}
    out += ["", "Lowest median any member reaches in hindsight: " + "; ".join(
        f"{kind} {100 * reach[kind]:.2f}% ({'meets' if reach[kind] <= TARGET else 'misses'} {100 * TARGET:.1f}%)"
        for kind in KINDS) + ". With the recipe's own factor from its other sweeps: " + "; ".join(
        f"{kind} {100 * know[kind]:.2f}%" for kind in KINDS) + "."]
    out += ["", "## Do the curve's features predict the factor?", "",
            "A ridge regression of `log10(best / answer)` on the search's features (the fall's share and noise "
            "SDs, its width, the optimizer's kind, steepest point to minimum, the edge above the top), fitted per "
            "family left out, applied to the package's answer (in full, or half the correction):", "",
            "| ridge penalty | correction applied | one-cycle: share lost median / mean / worst | over 10% "
            "| constant: share lost median / mean / worst | over 10% |", "|---|---|---|---|---|---|"]
    for ridge in RIDGE:
        for shrink in SHRINK:
            a, b = (predicted_factor(by, rec, names, kind, ridge, shrink) for kind in KINDS)
            out.append(f"| {ridge:g} | {shrink:g} | {cell(a)} | {cell(b)} |")
    out.append(f"| the package as shipped | - | {cell(pkg['one-cycle'])} | {cell(pkg['constant'])} |")
    out += ["", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-new-families", action="store_true",
                        help="add the new families (clipped LM and CNN, fine-tuning) to the recipes")
    args = parser.parse_args(argv)
    path = RESULTS.replace(".md", "_new_families.md") if args.with_new_families else RESULTS
    publish(path, report(time.time(), args.with_new_families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
