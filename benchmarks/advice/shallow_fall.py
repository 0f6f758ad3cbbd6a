"""Should a shallow fall move the answers towards the bottom? A held-out test of one rule change.

On a curve whose loss falls little before its edge (soft labels, a language model's entropy
floor, clipped SGD), the best rates of the oracle lie near or past the curve's minimum, where the
shipped rules stop well below it (the range's top at most the minimum / 2). Candidate: when the
fall to the minimum ``m`` is under ``share`` of the starting loss, the range's top is
``min(m * g, edge / margin)`` (at least the steepest point) and the constant ``top / k``;
otherwise the shipped answers. Its parameters, "no change" among them, are chosen leaving one
family out on the other families' mean share of the achievable improvement lost (one-cycle +
constant), and scored on the family left out; the advice benchmark's recipes plus the new
families. Cache only, no MXNet; about a minute. Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py [--max-g 3]

Result: not shipped. Held out, the gain is small and not significant, it depends on the grid
searched (``--max-g``), and it costs the clipped CNN's family dearly (``results/advice_shallow_fall.md``).
"""
from __future__ import annotations

import argparse
import itertools
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

OUT = os.path.join(RESULTS, "advice_shallow_fall.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py"
GRID = {"share": [0.2, 0.3, 0.45], "g": [0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0], "margin": [1.0, 1.25, 1.5],
        "k": [1.0, 1.78, 3.0]}
Params = Optional[Dict[str, float]]  # None: the shipped answers


def fall_share(e: SC.Curve) -> float:
    """The fall to the minimum the rules read, as a share of the starting smoothed loss."""
    i = int(np.argmin(np.abs(e.lrs - e.minimum)))
    return float((e.smooth[0] - e.smooth[i]) / max(abs(float(e.smooth[0])), 1e-12))


def answer(p: Params, shipped: Tuple[float, float], e: SC.Curve) -> Tuple[float, float]:
    if p is None or not e.ok or fall_share(e) >= p["share"]:
        return shipped
    top = max(e.steep, min(e.minimum * p["g"], e.edge / p["margin"]))
    return top, top / p["k"]


def lost_pair(r: SC.Recipe, peak: float, const: float) -> Tuple[float, float]:
    return improvement_lost(r.one_cycle, peak), improvement_lost(r.constant, const)


def stats(v: np.ndarray) -> str:
    return f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {int(np.sum(v > 0.10))}"


def report(started: float, max_g: float = 10.0) -> str:
    grid = {**GRID, "g": [g for g in GRID["g"] if g <= max_g]}
    recipes = [r for r in SC.load_recipes() + new_recipes() if r.constant is not None]
    bench = SC.Bench(recipes)
    members: List[Params] = [None] + [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
    # per member, per recipe: the searches' (one-cycle lost, constant lost)
    table: List[Dict[str, np.ndarray]] = []
    for p in members:
        per = {}
        for r in recipes:
            per[r.name] = np.array([lost_pair(r, *answer(p, bench.package(r, c, e, raw), e))
                                    for c, e, raw in bench.curves[r.name]])
        table.append(per)
    families = sorted({r.family for r in recipes})

    def objective(per: Dict[str, np.ndarray], names: Sequence[str]) -> float:
        v = np.concatenate([per[n] for n in names])
        return float(v[:, 0].mean() + v[:, 1].mean())

    held: Dict[str, np.ndarray] = {}
    picks = {}
    for fam in families:
        inside = [r.name for r in recipes if r.family == fam]
        outside = [r.name for r in recipes if r.family != fam]
        best = int(np.argmin([objective(per, outside) for per in table]))
        picks[fam] = members[best]
        held.update({n: table[best][n] for n in inside})
    overall = int(np.argmin([objective(per, [r.name for r in recipes]) for per in table]))
    names = [r.name for r in recipes]

    def row(label: str, per: Dict[str, np.ndarray], subset: Sequence[str] = names) -> str:
        v = np.concatenate([per[n] for n in subset])
        return f"| {label} | {stats(v[:, 0])} | {stats(v[:, 1])} |"

    shallow = [n for n in names if any(fall_share(e) < 0.45 for _, e, _ in bench.curves[n])]
    rng = np.random.RandomState(0)
    diffs = []
    for _ in range(SC.BOOTSTRAP):  # held out - shipped, resampling recipes (paired)
        pick = [names[i] for i in rng.randint(len(names), size=len(names))]
        diffs.append(objective(held, pick) - objective(table[0], pick))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    changed = sorted({r.family for r in recipes for a, b in zip(held[r.name], table[0][r.name]) if np.any(a != b)})
    out = ["# Does a shallow fall call for answers nearer the bottom? (held out)", "",
           f"`{COMMAND} --max-g {max_g:g}`; see the module docstring. {len(recipes)} recipes in "
           f"{len(families)} families, "
           f"{sum(len(r.searches) for r in recipes)} searches. Cells: share of the achievable improvement "
           "lost, median / mean / searches over 10%.", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           row("shipped", table[0]), row("candidate, held out (chosen per family left out)", held),
           row(f"candidate, in-sample ({members[overall]})", table[overall]), "",
           f"Recipes with a search whose fall is under 45% ({len(shallow)}):", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           row("shipped", table[0], shallow), row("candidate, held out", held, shallow), "",
           f"Mean one-cycle + mean constant share lost, held out - shipped: "
           f"{100 * (objective(held, names) - objective(table[0], names)):+.2f} points, 95% interval "
           f"{100 * lo:+.2f} .. {100 * hi:+.2f} (paired bootstrap over recipes, {SC.BOOTSTRAP} resamples). "
           f"Families whose answers changed held out: {', '.join(changed)}.", "",
           "Per family (held out - shipped, mean one-cycle + mean constant share lost): " + "; ".join(
               f"{f}: {100 * (objective(held, fn) - objective(table[0], fn)):+.2f}" for f in families
               for fn in [[r.name for r in recipes if r.family == f]]), "",
           "Picks per family left out: " + "; ".join(f"{f}: {picks[f]}" for f in families), "",
           f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-g", type=float, default=10.0, help="largest factor g over the minimum tried")
    args = parser.parse_args(argv)
    out = OUT if args.max_g == 10.0 else OUT.replace(".md", f"_g{args.max_g:g}.md")
    publish(out, report(time.time(), args.max_g))
    return 0


if __name__ == "__main__":
    sys.exit(main())
