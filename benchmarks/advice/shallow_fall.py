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
the new families (and the AWD-LSTM script where lr 30 trains best). The baseline ("before") is
the package with the shallow reading switched off (``edge.BOTTOM_FALL = 0``). Cache only, no
MXNet; seconds. Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py             # 4 s
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/shallow_fall.py --variants  # 35 s

The pool: the advice benchmark's recipes, the new families (with the AWD-LSTM script where lr 30
trains best) and the first fresh families (``fresh_families.py``). A further parameter, ``sds``:
the reading applies only when the fall is at least that many noise SDs (``edge.fall_size``); the
report judges the candidate families with it fixed or free ("How clear must the fall be?").

Result: the faithful bottom ships (``edge.shallow_top``), read only on a fall of at least 10 noise
SDs (``edge.BOTTOM_SDS``): with the fresh families in the pool, the reading without it loses
held out (it reads the bottom of falls that are noise), and the folds cannot choose the threshold
themselves (one recipe whose loss never fell pulls them to 0); the alternatives (the wide
bottom, no rise, a window, the right end of a broad bottom, an earlier edge) lost held out.
``results/advice_shallow_fall.md``, ``advice_shallow_fall_variants.md``.
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
        "k": [1.0, 1.78, 3.0], "sds": [0.0, 3.0, 5.0, 10.0, 20.0]}
#: ``g`` for the faithful bottom, which lies nearer the best rates than the wide curve's minimum
FAITHFUL_G = [0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]
#: ``--broad``: how near the lowest point (a share of the fall) the bottom's right end may be
BROAD_Q = [0.0, 0.05, 0.1, 0.2]
Params = Optional[Dict[str, float]]  # None: the answers before (the wide curve everywhere)
Answers = Dict[str, List[Tuple[float, float]]]  # per recipe, per search: (range top, constant)


def fall_share(e: SC.Curve) -> float:
    """The fall to the minimum the rules read, as a share of the starting smoothed loss."""
    return E.fall_share(e.smooth)


def faithful_bottom(e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray], rise_fall: Optional[float],
                    q: float = 0.0, window: Optional[float] = None) -> Tuple[float, float, float]:
    """The LR of the faithful curve's lowest point before the wide curve's first clear rise once
    it has fallen by ``rise_fall`` of its start (so never in a dip past a bump; None: anywhere
    below the edge), within ``window`` decades of the wide minimum if given; with ``q > 0``,
    the largest LR there within ``q`` of the fall (start - lowest) of that lowest point: the right
    end of a broad bottom. Returned with the LR of that rise (inf when none) and the fall's size in
    noise SDs (``edge.fall_size``)."""
    lrs, losses = SMOOTH.sorted_finite(*raw)
    fit = SMOOTH.robust_local_linear(lrs, losses)
    keep = np.isfinite(fit) & (lrs < e.edge)
    k = None if rise_fall is None else E.edge_index(e.smooth, fall=rise_fall)
    if k is not None:
        keep &= lrs <= e.lrs[k]
    if window is not None:  # only this many decades either side of the wide curve's minimum
        keep &= np.abs(np.log10(lrs / e.minimum)) <= window
    rise = math.inf if k is None else float(e.lrs[k])
    sds = E.fall_size(losses, e.smooth)[1]
    if not keep.any():
        return e.minimum, rise, sds
    x, f = lrs[keep], fit[keep]
    i = int(np.argmin(f))
    if q <= 0:
        return float(x[i]), rise, sds
    near = np.flatnonzero(f <= f[i] + q * max(float(e.smooth[0]) - float(f[i]), 0.0))
    return float(x[near[-1]]), rise, sds


def answer(p: Params, before: Tuple[float, float], e: SC.Curve,
           bottom: Tuple[float, float, float]) -> Tuple[float, float]:
    """``before`` unless the fall is shallow and clear (at least ``sds`` noise SDs); then the top is
    ``g`` times the bottom, below ``edge / margin``, at least the steepest point if that lies before
    the bottom's rise, and the constant ``top / k``."""
    lr, rise, sds = bottom
    if p is None or not e.ok or fall_share(e) >= p["share"] or sds < p.get("sds", 0.0):
        return before
    top = min(lr * p["g"], e.edge / p["margin"])
    if e.steep <= rise:
        top = max(top, e.steep)
    return top, top / p["k"]


def lost_pair(r: SC.Recipe, peak: float, const: float) -> Tuple[float, float]:
    return improvement_lost(r.one_cycle, peak), improvement_lost(r.constant, const)


def stats(v: np.ndarray) -> str:
    return f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {int(np.sum(v > 0.10))}"


def package_answers(bench: SC.Bench, shallow: bool) -> Answers:
    """The installed package's answers on every search, with or without the shallow reading (a
    fall's share is never below 0: with ``BOTTOM_FALL = 0`` no fall is shallow)."""
    return SC.package_answers_with(bench) if shallow else SC.package_answers_with(bench, BOTTOM_FALL=0.0)


def objective(per: Dict[str, np.ndarray], names: Sequence[str]) -> float:
    """Mean one-cycle + mean constant share lost over the searches of these recipes."""
    v = np.concatenate([per[n] for n in names])
    return float(v[:, 0].mean() + v[:, 1].mean())


class Fit:
    """Every grid member scored on every search, and the member each family left out picks."""

    def __init__(self, bench: SC.Bench, max_g: float = 10.0, faithful: bool = True, broad: bool = False,
                 rise: Optional[float] = E.BOTTOM_EDGE_FALL, window: Optional[float] = None,
                 fixed: Optional[Dict[str, List[float]]] = None) -> None:
        grid = {**GRID, "g": [g for g in (FAITHFUL_G if faithful else GRID["g"]) if g <= max_g], **(fixed or {})}
        if broad:
            grid["q"] = BROAD_Q
        recipes = bench.recipes
        self.before = package_answers(bench, False)
        bottoms = {(r.name, q): [faithful_bottom(e, raw, rise, q, window) if faithful and e.ok
                                 else (e.minimum, math.inf, math.inf) for _, e, raw in bench.curves[r.name]]
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


class Result:
    """A :class:`Fit` judged held out: the answers each family left out picks, against "before"."""

    def __init__(self, bench: SC.Bench, fit: Fit) -> None:
        recipes = bench.recipes
        self.names = [r.name for r in recipes]
        self.families = sorted({r.family for r in recipes})
        self.before = fit.table[0]
        self.held = {r.name: fit.table[fit.picks[r.family]][r.name] for r in recipes}
        self.picks = {f: fit.members[i] for f, i in fit.picks.items()}
        self.overall = int(np.argmin([objective(per, self.names) for per in fit.table]))
        self.delta = objective(self.held, self.names) - objective(self.before, self.names)
        rng = np.random.RandomState(0)
        diffs = []
        for _ in range(SC.BOOTSTRAP):  # held out - before, resampling recipes (paired)
            pick = [self.names[i] for i in rng.randint(len(self.names), size=len(self.names))]
            diffs.append(objective(self.held, pick) - objective(self.before, pick))
        self.lo, self.hi = (float(v) for v in np.percentile(diffs, [2.5, 97.5]))
        self.by_family = {f: objective(self.held, fn) - objective(self.before, fn) for f in self.families
                          for fn in [[r.name for r in recipes if r.family == f]]}

    def row(self, label: str, per: Dict[str, np.ndarray], subset: Optional[Sequence[str]] = None) -> str:
        v = np.concatenate([per[n] for n in (self.names if subset is None else subset)])
        return f"| {label} | {stats(v[:, 0])} | {stats(v[:, 1])} |"

    def families_text(self) -> str:
        return "; ".join(f"{f}: {100 * d:+.2f}" for f, d in self.by_family.items())


def load_bench() -> SC.Bench:
    """The advice benchmark's recipes, the new families and the first fresh families."""
    from benchmarks.advice.fresh_families import fresh_recipes

    return SC.Bench([r for r in SC.load_recipes() + new_recipes() + fresh_recipes() if r.constant is not None])


def report(started: float, max_g: float = 10.0, faithful: bool = True, broad: bool = False,
           rise: Optional[float] = E.BOTTOM_EDGE_FALL, window: Optional[float] = None, flags: str = "") -> str:
    bench = load_bench()
    fit = Fit(bench, max_g, faithful, broad, rise, window)
    res = Result(bench, fit)
    shipped = package_answers(bench, True)
    as_shipped = {r.name: np.array([lost_pair(r, *a) for a in shipped[r.name]]) for r in bench.recipes}
    ship = {"share": E.BOTTOM_FALL, "g": E.BOTTOM_FACTOR, "margin": 1.0, "k": E.SUGGEST_DIVISOR, "sds": E.BOTTOM_SDS,
            **({"q": 0.0} if broad else {})}
    agree = ship in fit.members and faithful and all(
        np.allclose(as_shipped[n], fit.table[fit.members.index(ship)][n]) for n in res.names)
    shallow = [n for n in res.names if any(fall_share(e) < 0.45 for _, e, _ in bench.curves[n])]
    changed = sorted({r.family for r in bench.recipes for a, b in zip(res.held[r.name], res.before[r.name])
                      if np.any(a != b)})
    sds_rows = []
    for label, fixed in SDS_FAMILIES:
        r = Result(bench, Fit(bench, max_g, faithful, broad, rise, window, fixed))
        picks = sorted({str(p.get("sds") if p else None) for p in r.picks.values()})
        sds_rows.append(f"| {label} | {r.row('', r.held).split(' | ', 1)[1].rstrip(' |')} | {100 * r.delta:+.2f} "
                        f"({100 * r.lo:+.2f} .. {100 * r.hi:+.2f}) | {', '.join(picks)} |")
    out = ["# Does a shallow fall call for answers nearer the bottom? (held out)", "",
           f"`{COMMAND}{flags}`; the bottom: "
           f"{'the faithful (plotted) curve' if faithful else 'the wide (rules) curve'}'s lowest point; see the "
           f"module docstring. {len(bench.recipes)} recipes in {len(res.families)} families, "
           f"{sum(len(r.searches) for r in bench.recipes)} searches. Cells: share of the achievable improvement "
           "lost, median / mean / searches over 10%.", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           res.row("before (the wide curve everywhere)", res.before),
           res.row("candidate, held out (chosen per family left out)", res.held),
           res.row(f"candidate, in-sample ({fit.members[res.overall]})", fit.table[res.overall]),
           res.row("the package as installed", as_shipped), "",
           f"The installed package's answers equal the candidate's at its constants {ship}: {agree}.", "",
           f"Recipes with a search whose fall is under 45% ({len(shallow)}):", "",
           "| answers | one-cycle | constant |", "|---|---|---|",
           res.row("before", res.before, shallow), res.row("candidate, held out", res.held, shallow), "",
           f"Mean one-cycle + mean constant share lost, held out - before: {100 * res.delta:+.2f} points, 95% "
           f"interval {100 * res.lo:+.2f} .. {100 * res.hi:+.2f} (paired bootstrap over recipes, {SC.BOOTSTRAP} "
           f"resamples). Families whose answers changed held out: {', '.join(changed)}.", "",
           "Per family (held out - before, mean one-cycle + mean constant share lost): " + res.families_text(), "",
           "Picks per family left out: " + "; ".join(f"{f}: {res.picks[f]}" for f in res.families), "",
           "## How clear must the fall be? (the SDs threshold)", "",
           "Each family of candidates judged held out as above: the parameters not fixed chosen per family left "
           "out. Change: held out - before, mean one-cycle + mean constant share lost, points (95% interval).", "",
           "| candidates | held out: one-cycle | held out: constant | change | SDs picked by the folds |",
           "|---|---|---|---|---|", *sds_rows, "",
           f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


#: The SDs threshold's candidate families in the report: every parameter free; the SDs fixed, the
#: share free; the SDs and the share fixed (the shipped share).
SDS_FAMILIES: List[Tuple[str, Dict[str, List[float]]]] = [
    ("every parameter free (the SDs among 0, 3, 5, 10, 20)", {}),
    ("no SDs threshold (the reading before it), share free", {"sds": [0.0]}),
    ("no SDs threshold, share 0.3", {"sds": [0.0], "share": [0.3]}),
    ("SDs 3 (the noisy flag's), share 0.3", {"sds": [3.0], "share": [0.3]}),
    ("SDs 5, share 0.3", {"sds": [5.0], "share": [0.3]}),
    ("SDs 10, share free", {"sds": [10.0]}),
    ("**SDs 10, share 0.3 (shipped: edge.BOTTOM_SDS, BOTTOM_FALL)**", {"sds": [10.0], "share": [0.3]}),
    ("SDs 20, share 0.3", {"sds": [20.0], "share": [0.3]}),
]

#: ``--variants`` judge each alternative with the shipped share and SDs threshold fixed, the other
#: parameters chosen per family left out (the shipped row is the report's shipped family).
SHIPPED_CLEARANCE = {"share": [E.BOTTOM_FALL], "sds": [E.BOTTOM_SDS]}

#: ``--variants``: the alternatives tried, each judged held out like the shipped reading
VARIANTS: List[Tuple[str, Dict[str, object]]] = [
    ("shipped: the faithful lowest point before the 5% rise", {}),  # share 0.3 and 10 SDs in every row
    ("the faithful lowest point anywhere below the edge", {"rise": None}),
    ("... before the first clear rise, armed at once (0%)", {"rise": 0.0}),
    ("... armed after a 10% fall", {"rise": 0.1}),
    ("... within 0.5 decades of the wide minimum", {"window": 0.5}),
    ("the right end of a broad bottom (within 5-20% of the fall)", {"broad": True}),
    ("the wide curve's minimum, g up to 10", {"faithful": False}),
    ("the wide curve's minimum, g up to 3", {"faithful": False, "max_g": 3.0}),
    ("every rule's edge armed after a 15% fall (not 20%)", {"edge_fall": 0.15}),
    ("every rule's edge armed after a 10% fall", {"edge_fall": 0.1}),
]


def variants(started: float) -> str:
    out = ["# The shallow reading's alternatives, held out", "",
           f"`{COMMAND} --variants`; each row as `{COMMAND}` with that change (see the module docstring), the "
           f"share ({E.BOTTOM_FALL:g}) and the SDs threshold ({E.BOTTOM_SDS:g}) fixed as shipped, the other "
           "parameters chosen per family left out, scored on it. Cells: share of the achievable improvement lost, "
           "median / mean / searches over 10%; the change: held out - before in mean one-cycle + mean constant "
           "share lost, points, with its 95% interval (paired bootstrap over recipes).", "",
           "| variant | before: one-cycle | before: constant | held out: one-cycle | held out: constant | change "
           "| families moved more than 1 point |", "|---|---|---|---|---|---|---|"]
    saved = E.edge_index.__defaults__
    try:
        for label, kw in VARIANTS:
            edge_fall = kw.pop("edge_fall", None) if "edge_fall" in kw else None
            E.edge_index.__defaults__ = (E.EDGE_FALL if edge_fall is None else edge_fall, E.EDGE_RISE, E.EDGE_FLOOR)
            bench = load_bench()
            res = Result(bench, Fit(bench, **kw, fixed=SHIPPED_CLEARANCE))  # type: ignore[arg-type]
            b, h = (res.row("", t).split(" | ")[1:] for t in (res.before, res.held))
            moved = "; ".join(f"{f} {100 * d:+.1f}" for f, d in res.by_family.items() if abs(d) > 0.01) or "none"
            out.append(f"| {label} | {b[0]} | {b[1].rstrip(' |')} | {h[0]} | {h[1].rstrip(' |')} | "
                       f"{100 * res.delta:+.2f} ({100 * res.lo:+.2f} .. {100 * res.hi:+.2f}) | {moved} |")
            if edge_fall is not None:
                kw["edge_fall"] = edge_fall
    finally:
        E.edge_index.__defaults__ = saved
    out += ["", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bottom", choices=("faithful", "wide"), default="faithful",
                        help="which curve's lowest point g scales: the plotted faithful one, or the rules' wide one")
    parser.add_argument("--broad", action="store_true",
                        help="also try the right end of a broad bottom (BROAD_Q) instead of its lowest point")
    parser.add_argument("--max-g", type=float, default=10.0, help="largest factor g over the bottom tried")
    parser.add_argument("--rise", default=str(E.BOTTOM_EDGE_FALL),
                        help="look for the faithful lowest point before the wide curve's first clear rise once it "
                             "has fallen by this share ('none': anywhere below the edge)")
    parser.add_argument("--window", type=float, help="and only this many decades either side of the wide minimum")
    parser.add_argument("--edge-fall", type=float, help="arm the edge of every rule after this fall instead of "
                        f"edge.EDGE_FALL = {E.EDGE_FALL} (the answers 'before' change too)")
    parser.add_argument("--out", help="where the report goes (default by the options)")
    parser.add_argument("--variants", action="store_true",
                        help="judge every alternative of VARIANTS held out, one table "
                             "(results/advice_shallow_fall_variants.md)")
    args = parser.parse_args(argv)
    if args.variants:
        publish(args.out or OUT.replace(".md", "_variants.md"), variants(time.time()))
        return 0
    if args.edge_fall is not None:
        E.edge_index.__defaults__ = (args.edge_fall, E.EDGE_RISE, E.EDGE_FLOOR)
    rise = None if args.rise == "none" else float(args.rise)
    argv_text = " ".join(argv if argv is not None else sys.argv[1:])
    out = args.out or OUT
    if not args.out:
        suffix = "".join([
            "_wide" if args.bottom == "wide" else "", "_broad" if args.broad else "",
            f"_g{args.max_g:g}" if args.max_g != 10.0 else ""])
        if rise != E.BOTTOM_EDGE_FALL or args.window is not None or args.edge_fall is not None:
            suffix += "_" + "_".join(f"{k}{v}" for k, v in (("rise", args.rise), ("window", args.window),
                                                            ("edge", args.edge_fall)) if v is not None
                                     and not (k == "rise" and rise == E.BOTTOM_EDGE_FALL))
        out = OUT.replace(".md", f"{suffix}.md")
    publish(out, report(time.time(), args.max_g, args.bottom == "faithful", args.broad, rise, args.window,
                        f" {argv_text}" if argv_text else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
