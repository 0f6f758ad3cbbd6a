"""Should a shallow fall move the answers towards the bottom? A held-out test of one rule change.

On a curve whose loss falls little before its edge (soft labels, a language model's entropy
floor, clipped SGD), the best rates of the oracle lie near or past the curve's minimum, where the
wide-curve rules stop well below it (the range's top at most the minimum / 2). Candidate: when the
fall to the minimum is under ``share`` of the starting loss, the range's top is ``min(b * g,
edge / margin)`` (at least the steepest point) and the constant ``top / k``, where ``b`` is the
bottom: the wide curve's minimum (``--bottom wide``) or the LR of the faithful (plotted) curve's
lowest point before the wide curve's first clear rise (``--bottom faithful``, the default);
otherwise the answers of the wide curve. Its parameters, "no change" among them, are chosen
leaving one family out on the other families' mean share of the achievable improvement lost
(one-cycle + constant), and scored on the family left out; the advice benchmark's recipes plus
the new families. The baseline ("before") is the package with the shallow reading switched off
(``edge.BOTTOM_FALL = 0``). Cache only, no MXNet; seconds. Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py [--bottom wide] [--max-g 3]

Result: the faithful bottom ships (``edge.shallow_top``, its constants the folds' pick); the wide
bottom did not (a small gain that depends on the grid searched and costs the clipped CNN's
family). ``results/advice_shallow_fall.md`` and ``advice_shallow_fall_wide*.md``.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.new_families_score import recipes as new_recipes  # noqa: E402
from benchmarks.advice.noise_floor import improvement_lost  # noqa: E402
from benchmarks.common import RESULTS, publish  # noqa: E402
from gluon_lrfinder.core import edge as E  # noqa: E402
from gluon_lrfinder.core import smoothing as SMOOTH  # noqa: E402

OUT = os.path.join(RESULTS, "advice_shallow_fall.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py"
GRID = {"share": [0.2, 0.3, 0.45], "g": [0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0], "margin": [1.0, 1.25, 1.5],
        "k": [1.0, 1.78, 3.0]}
#: ``g`` for the faithful bottom, which lies nearer the best rates than the wide curve's minimum
FAITHFUL_G = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]
#: ``--broad``: how near the lowest point (a share of the fall) the bottom's right end may be
BROAD_Q = [0.0, 0.05, 0.1, 0.2]
Params = Optional[Dict[str, float]]  # None: the answers before (the wide curve everywhere)
Answers = Dict[str, List[Tuple[float, float]]]  # per recipe, per search: (range top, constant)


def fall_share(e: SC.Curve) -> float:
    """The fall to the minimum the rules read, as a share of the starting smoothed loss."""
    i = int(np.argmin(np.abs(e.lrs - e.minimum)))
    return float((e.smooth[0] - e.smooth[i]) / max(abs(float(e.smooth[0])), 1e-12))


def faithful_bottom(e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray], rise_fall: float,
                    q: float = 0.0) -> Tuple[float, float]:
    """The LR of the faithful curve's lowest point before the wide curve's first clear rise once
    it has fallen by ``rise_fall`` of its start (so never in a dip past a bump); with ``q > 0``,
    the largest LR there within ``q`` of the fall (start - lowest) of that lowest point: the right
    end of a broad bottom. Returned with the LR of that rise (inf when none)."""
    lrs, losses = SMOOTH.sorted_finite(*raw)
    fit = SMOOTH.robust_local_linear(lrs, losses)
    keep = np.isfinite(fit) & (lrs < e.edge)
    k = E.edge_index(e.smooth, fall=rise_fall)
    if k is not None:
        keep &= lrs <= e.lrs[k]
    rise = math.inf if k is None else float(e.lrs[k])
    if not keep.any():
        return e.minimum, rise
    x, f = lrs[keep], fit[keep]
    i = int(np.argmin(f))
    if q <= 0:
        return float(x[i]), rise
    near = np.flatnonzero(f <= f[i] + q * max(float(e.smooth[0]) - float(f[i]), 0.0))
    return float(x[near[-1]]), rise


def answer(p: Params, before: Tuple[float, float], e: SC.Curve, bottom: Tuple[float, float]) -> Tuple[float, float]:
    """``before`` unless the fall is shallow; then the top is ``g`` times the bottom, below ``edge /
    margin``, at least the steepest point if that lies before the bottom's rise, and the constant ``top / k``."""
    if p is None or not e.ok or fall_share(e) >= p["share"]:
        return before
    lr, rise = bottom
    top = min(lr * p["g"], e.edge / p["margin"])
    if e.steep <= rise:
        top = max(top, e.steep)
    return top, top / p["k"]


def lost_pair(r: SC.Recipe, peak: float, const: float) -> Tuple[float, float]:
    return improvement_lost(r.one_cycle, peak), improvement_lost(r.constant, const)


def stats(v: np.ndarray) -> str:
    return f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {int(np.sum(v > 0.10))}"


def package_answers(bench: SC.Bench, shallow: bool) -> Answers:
    """The installed package's answers on every search, with or without the shallow reading."""
    saved = E.BOTTOM_FALL
    E.BOTTOM_FALL = saved if shallow else 0.0  # a fall's share is never below 0: never shallow
    try:
        return {r.name: [SC.package_advice(c, e, r.optimizer, raw) for c, e, raw in bench.curves[r.name]]
                for r in bench.recipes}
    finally:
        E.BOTTOM_FALL = saved


def objective(per: Dict[str, np.ndarray], names: Sequence[str]) -> float:
    """Mean one-cycle + mean constant share lost over the searches of these recipes."""
    v = np.concatenate([per[n] for n in names])
    return float(v[:, 0].mean() + v[:, 1].mean())


class Fit:
    """Every grid member scored on every search, and the member each family left out picks."""

    def __init__(self, bench: SC.Bench, max_g: float = 10.0, faithful: bool = True, broad: bool = False) -> None:
        grid = {**GRID, "g": [g for g in (FAITHFUL_G if faithful else GRID["g"]) if g <= max_g]}
        if broad:
            grid["q"] = BROAD_Q
        recipes = bench.recipes
        self.before = package_answers(bench, False)
        bottoms = {(r.name, q): [faithful_bottom(e, raw, E.BOTTOM_EDGE_FALL, q) if faithful and e.ok
                                 else (e.minimum, math.inf) for _, e, raw in bench.curves[r.name]]
                   for r in recipes for q in grid.get("q", [0.0])}
        self.members: List[Params] = [None] + [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
        #: per member, per recipe, per search: the answers (range top, constant)
        self.answers: List[Answers] = [
            {r.name: [answer(p, b, e, bottom) for (_, e, _), b, bottom
                      in zip(bench.curves[r.name], self.before[r.name],
                             bottoms[r.name, 0.0 if p is None else p.get("q", 0.0)])] for r in recipes}
            for p in self.members]
        #: per member, per recipe: the searches' (one-cycle lost, constant lost)
        self.table: List[Dict[str, np.ndarray]] = [
            {r.name: np.array([lost_pair(r, *a) for a in per[r.name]]) for r in recipes} for per in self.answers]
        self.picks: Dict[str, int] = {}
        for fam in sorted({r.family for r in recipes}):
            outside = [r.name for r in recipes if r.family != fam]
            self.picks[fam] = int(np.argmin([objective(per, outside) for per in self.table]))

    def held_out_answers(self, recipe: SC.Recipe) -> List[Tuple[float, float]]:
        """The answers for this recipe's searches at the member its family left out picked."""
        return self.answers[self.picks[recipe.family]][recipe.name]


def report(started: float, max_g: float = 10.0, faithful: bool = True, broad: bool = False) -> str:
    recipes = [r for r in SC.load_recipes() + new_recipes() if r.constant is not None]
    bench = SC.Bench(recipes)
    fit = Fit(bench, max_g, faithful, broad)
    members, table = fit.members, fit.table
    shipped = package_answers(bench, True)
    as_shipped = {r.name: np.array([lost_pair(r, *a) for a in shipped[r.name]]) for r in recipes}
    families = sorted({r.family for r in recipes})
    held = {r.name: table[fit.picks[r.family]][r.name] for r in recipes}
    picks = {f: members[i] for f, i in fit.picks.items()}
    overall = int(np.argmin([objective(per, [r.name for r in recipes]) for per in table]))
    names = [r.name for r in recipes]
    ship = {"share": E.BOTTOM_FALL, "g": E.BOTTOM_FACTOR, "margin": 1.0, "k": E.SUGGEST_DIVISOR,
            **({"q": 0.0} if broad else {})}
    agree = ship in members and faithful and all(
        np.allclose(as_shipped[n], table[members.index(ship)][n]) for n in names)

    def row(label: str, per: Dict[str, np.ndarray], subset: Sequence[str] = names) -> str:
        v = np.concatenate([per[n] for n in subset])
        return f"| {label} | {stats(v[:, 0])} | {stats(v[:, 1])} |"

    shallow = [n for n in names if any(fall_share(e) < 0.45 for _, e, _ in bench.curves[n])]
    rng = np.random.RandomState(0)
    diffs = []
    for _ in range(SC.BOOTSTRAP):  # held out - before, resampling recipes (paired)
        pick = [names[i] for i in rng.randint(len(names), size=len(names))]
        diffs.append(objective(held, pick) - objective(table[0], pick))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    changed = sorted({r.family for r in recipes for a, b in zip(held[r.name], table[0][r.name]) if np.any(a != b)})
    flags = "".join([" --bottom wide" if not faithful else "", " --broad" if broad else "",
                     f" --max-g {max_g:g}" if max_g != 10.0 else ""])
    out = ["# Does a shallow fall call for answers nearer the bottom? (held out)", "",
           f"`{COMMAND}{flags}`; the bottom: "
           f"{'the faithful (plotted) curve' if faithful else 'the wide (rules) curve'}'s lowest point; see the "
           f"module docstring. {len(recipes)} recipes in {len(families)} families, "
           f"{sum(len(r.searches) for r in recipes)} searches. Cells: share of the achievable improvement "
           "lost, median / mean / searches over 10%.", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           row("before (the wide curve everywhere)", table[0]),
           row("candidate, held out (chosen per family left out)", held),
           row(f"candidate, in-sample ({members[overall]})", table[overall]),
           row("the package as installed", as_shipped), "",
           f"The installed package's answers equal the candidate's at its constants {ship}: {agree}.", "",
           f"Recipes with a search whose fall is under 45% ({len(shallow)}):", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           row("before", table[0], shallow), row("candidate, held out", held, shallow), "",
           f"Mean one-cycle + mean constant share lost, held out - before: "
           f"{100 * (objective(held, names) - objective(table[0], names)):+.2f} points, 95% interval "
           f"{100 * lo:+.2f} .. {100 * hi:+.2f} (paired bootstrap over recipes, {SC.BOOTSTRAP} resamples). "
           f"Families whose answers changed held out: {', '.join(changed)}.", "",
           "Per family (held out - before, mean one-cycle + mean constant share lost): " + "; ".join(
               f"{f}: {100 * (objective(held, fn) - objective(table[0], fn)):+.2f}" for f in families
               for fn in [[r.name for r in recipes if r.family == f]]), "",
           "Picks per family left out: " + "; ".join(f"{f}: {picks[f]}" for f in families), "",
           f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bottom", choices=("faithful", "wide"), default="faithful",
                        help="which curve's lowest point g scales: the plotted faithful one, or the rules' wide one")
    parser.add_argument("--broad", action="store_true",
                        help="also try the right end of a broad bottom (BROAD_Q) instead of its lowest point")
    parser.add_argument("--max-g", type=float, default=10.0, help="largest factor g over the bottom tried")
    args = parser.parse_args(argv)
    out = OUT if args.bottom == "faithful" else OUT.replace(".md", "_wide.md")
    if args.broad:
        out = out.replace(".md", "_broad.md")
    if args.max_g != 10.0:
        out = out.replace(".md", f"_g{args.max_g:g}.md")
    publish(out, report(time.time(), args.max_g, args.bottom == "faithful", args.broad))
    return 0


if __name__ == "__main__":
    sys.exit(main())
