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
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root


# isort: split

# The oracle's tables and recipes; the advice scripts read them as score.<name> too.
from benchmarks.advice.oracle_tables import (  # noqa: E402, F401
    BAND,
    EXTRA_RECIPES,
    OLD_TRUTH,
    ORACLE,
    RESULTS,
    SWEEPS,
    WRECKED,
    Recipe,
    Table,
    complete,
    cut,
    load_recipes,
    old_constant_table,
    oracle_table,
)
from benchmarks.common import publish, suggest_lr  # noqa: E402
from gluon_lrfinder.core import edge as E  # noqa: E402
from gluon_lrfinder.core import rules as S  # noqa: E402
from gluon_lrfinder.core import smoothing as SM  # noqa: E402
from gluon_lrfinder.core.report import diagnose  # noqa: E402


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
        if not SM.enough_points(lrs, losses):
            return cls(lrs, losses, float(lrs[0]), float(lrs[0]), math.inf, False)
        x, s = SM.smoothed_curve(lrs, losses, None)  # the curve the package's rules read
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
    return S.valley(*raw) if SM.enough_points(*raw) else float(raw[0][0])


def min10_rule(c: Curve) -> float:
    return c.minimum / 10


def fall_width(c: Curve) -> float:
    """``core.edge.fall_width`` of the curve up to the minimum the rules read."""
    return E.fall_width(c.lrs, c.smooth, int(np.argmin(np.abs(c.lrs - c.minimum))))


def _top(cur: Curve, f: float, cap: float, margin: float) -> float:
    top = max(cur.steep, min(geo(cur.steep, cur.minimum, f), cur.minimum / cap))
    if math.isfinite(cur.edge):
        top = min(top, cur.edge / margin)
    return top


def candidate_rules() -> Dict[str, Tuple[Dict[str, Any], Callable[..., Tuple[float, float]]]]:
    """Parameterised advice: name -> (parameter grid, make(params) -> advice).

    Every candidate reads the curve only up to its edge of stability. The range's top goes
    ``f`` of the way (in log-LR) from the steepest point ``s`` to the minimum ``m``, at most
    ``m / cap`` and ``edge / margin``, at least ``s``; the range is ``(top / 3, top)``. The
    constant is ``top / k`` (inside the range for ``k <= 3``) or the blend (clipped into it).
    """

    def by_optimizer(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            f = p["f_ema"] if kind(optimizer) == "ema_normalised" else p["f_other"]
            top = _top(e, f, p["cap"], p["margin"])
            return top, top / p["k"]
        return advise

    def by_shape(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            f = p["f_cliff"] if fall_width(e) < p["width"] else p["f_broad"]
            top = _top(e, f, p["cap"], p["margin"])
            return top, top / p["k"]
        return advise

    def one_fraction(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            top = _top(e, p["f"], p["cap"], p["margin"])
            return top, top / p["k"]
        return advise

    def blend_constant(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            ema = kind(optimizer) == "ema_normalised"
            top = _top(e, p["f_ema"] if ema else p["f_other"], p["cap"], p["margin"])
            const = geo(e.steep, e.minimum, S.BLEND_FRACTION_BY_KIND["ema_normalised" if ema else "other"])
            return top, min(max(const, top / 3), top)
        return advise

    def kind_and_shape(p: Dict[str, Any]) -> Advice:
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            if fall_width(e) >= p["width"]:
                f = p["f_broad"]
            else:
                f = p["f_ema"] if kind(optimizer) == "ema_normalised" else p["f_other"]
            top = _top(e, f, p["cap"], p["margin"])
            return top, top / p["k"]
        return advise

    def kind_and_shape_blend(p: Dict[str, Any]) -> Advice:
        """The shipped range (``kind_and_shape``), constant = blend by optimizer clipped into it
        (``core.rules.blend_in_range``)."""
        def advise(c: Curve, e: Curve, optimizer: str) -> Tuple[float, float]:
            ema = kind(optimizer) == "ema_normalised"
            if fall_width(e) >= p["width"]:
                f = p["f_broad"]
            else:
                f = p["f_ema"] if ema else p["f_other"]
            top = _top(e, f, p["cap"], p["margin"])
            const = geo(e.steep, e.minimum, S.BLEND_FRACTION_BY_KIND["ema_normalised" if ema else "other"])
            return top, min(max(const, top / 3), top)
        return advise

    common = {"cap": [2.0, 3.0], "margin": [1.25, 1.5, 2.0, 3.0]}
    return {
        "by optimizer": ({"f_ema": [0.0, 0.1, 0.2, 0.3, 0.45], "f_other": [0.3, 0.45, 0.6, 0.75, 0.9, 1.0],
                          **common, "k": [1.5, 1.78, 2.5, 3.0]}, by_optimizer),
        "by curve shape (fall width)": ({"width": [1.25, 1.5, 1.75, 2.0], "f_cliff": [0.0, 0.2, 0.45],
                                         "f_broad": [0.45, 0.6, 0.75, 0.9, 1.0], **common,
                                         "k": [1.5, 1.78, 2.5, 3.0]}, by_shape),
        "one fraction for all": ({"f": [0.0, 0.2, 0.3, 0.45, 0.6, 0.75, 1.0], **common,
                                  "k": [1.5, 1.78, 2.5, 3.0]}, one_fraction),
        "by optimizer, and a broad fall by its shape": (
            {"width": [2.0, 2.5, 3.0], "f_broad": [0.45, 0.6, 0.75], "f_ema": [0.0, 0.1, 0.2],
             "f_other": [0.45, 0.6, 0.75, 0.9], "cap": [2.0, 3.0], "margin": [1.25, 1.5, 2.0],
             "k": [1.78, 2.5, 3.0]}, kind_and_shape),
        "by optimizer, and a broad fall by its shape; constant = blend clipped into the range": (
            {"width": [2.0, 2.5, 3.0], "f_broad": [0.45, 0.6, 0.75], "f_ema": [0.0, 0.1, 0.2],
             "f_other": [0.45, 0.6, 0.75, 0.9], "cap": [2.0, 3.0], "margin": [1.25, 1.5, 2.0]},
            kind_and_shape_blend),
        "by optimizer, constant = today's blend clipped into the range": (
            {"f_ema": [0.0, 0.1, 0.2, 0.3, 0.45], "f_other": [0.3, 0.45, 0.6, 0.75, 0.9, 1.0], **common},
            blend_constant),
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
        self._package: Dict[Tuple[str, int], Tuple[float, float]] = {}

    def package(self, r: Recipe, c: Curve, e: Curve, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
        """The package's default answer for one search of :attr:`curves` (``package_advice``), computed
        once per search; an ``answer`` for :meth:`score_answers`."""
        key = (r.name, id(raw[0]))  # the search's LR array, held by self.curves for the bench's lifetime
        if key not in self._package:
            self._package[key] = package_advice(c, e, r.optimizer, raw)
        return self._package[key]

    def score(self, advise: Callable[..., Tuple[float, float]], names: Optional[Sequence[str]] = None,
              raw: bool = False) -> Dict[str, Scored]:
        """``advise(c, e, optimizer)`` (or ``advise((lrs, losses))`` with ``raw``) -> (peak, constant)."""
        if raw:
            return self.score_answers(lambda r, c, e, curve: advise(curve), names)
        return self.score_answers(lambda r, c, e, curve: advise(c, e, r.optimizer), names)

    def score_answers(self, answer: Callable[..., Tuple[float, float]], names: Optional[Sequence[str]] = None
                      ) -> Dict[str, Scored]:
        """Every search's ``answer(recipe, c, e, (lrs, losses)) -> (peak, constant)``, scored."""
        out = {}
        for r in self.recipes:
            if names is not None and r.name not in names:
                continue
            pr, cr, pd, cd, below = [], [], [], [], 0
            for c, e, curve in self.curves[r.name]:
                peak, const = answer(r, c, e, curve)
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


#: Resamples of the paired bootstrap in :func:`objective_difference`.
BOOTSTRAP = 2000


def objective_difference(a: Dict[str, Scored], b: Dict[str, Scored], seed: int = 0) -> Tuple[float, float, float]:
    """``objective(a) - objective(b)`` and its 95% interval, resampling recipes (a recipe's searches
    share their oracle and their curve shape, so they are not independent)."""
    names = sorted(set(a) & set(b))
    rng = np.random.RandomState(seed)
    diffs = []
    for _ in range(BOOTSTRAP):
        pick = [names[i] for i in rng.randint(len(names), size=len(names))]
        diffs.append(objective({f"{n}#{j}": a[n] for j, n in enumerate(pick)})
                     - objective({f"{n}#{j}": b[n] for j, n in enumerate(pick)}))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), objective(a) - objective(b), float(hi)


Member = Tuple[str, Dict[str, Any]]  # (candidate family, parameters)


def score_members(bench: Bench, family_names: Sequence[str]) -> Tuple[List[Member], List[Dict[str, Scored]]]:
    """Every member of the named candidate families, scored on every recipe."""
    members: List[Member] = []
    per: List[Dict[str, Scored]] = []
    for name in family_names:
        grid, make = candidate_rules()[name]
        for params in expand(grid):
            members.append((name, params))
            per.append(bench.score(make(params)))
    return members, per


def lofo(bench: Bench, members: List[Member], per: List[Dict[str, Scored]]
         ) -> Tuple[Dict[str, Scored], Dict[str, Member], Dict[str, Scored]]:
    """Leave one family out: for each family of recipes, the member with the lowest objective on
    the other families, scored on the family left out. Returns the held-out scores, the picks
    (per family left out, and "(all recipes)") and the in-sample scores of the overall pick."""
    families = sorted({r.family for r in bench.recipes})
    held: Dict[str, Scored] = {}
    picks: Dict[str, Member] = {}
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


def package_advice(c: Curve, e: Curve, optimizer: str, raw: Tuple[np.ndarray, np.ndarray],
                   method: Optional[str] = None) -> Tuple[float, float]:
    """The package's ``suggest_range()`` top and ``suggest(method)`` (default: the package default)."""
    lrs, losses = raw
    if not SM.enough_points(lrs, losses):
        return float(lrs[0]), float(lrs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        const = suggest_lr(lrs, losses, method or S.DEFAULT_METHOD, optimizer=optimizer)
        return S.lr_range(lrs, losses, optimizer=optimizer)[1], const


def package_answers_with(bench: Bench, **constants: float) -> Dict[str, List[Tuple[float, float]]]:
    """The installed package's answers (``package_advice``) on every search of ``bench``, with some
    of ``core.edge``'s constants replaced for the call (``BOTTOM_FALL=0.0``: no shallow reading)."""
    saved = {k: getattr(E, k) for k in constants}
    for k, v in constants.items():
        setattr(E, k, v)
    try:
        return {r.name: [package_advice(c, e, r.optimizer, raw) if constants else bench.package(r, c, e, raw)
                         for c, e, raw in bench.curves[r.name]] for r in bench.recipes}
    finally:
        for k, v in saved.items():
            setattr(E, k, v)


#: The two answers for the constant rate compared (issue 17): suggest_range()'s top / 1.78, and
#: blend by optimizer clipped into suggest_range(); the range is the same.
PACKAGE_METHODS = ("range", "blend_in_range")


COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/score.py"


def flag_rows(bench: Bench) -> List[str]:
    """Is each flag informative? The package's advice on flagged and unflagged searches."""
    groups: Dict[str, Tuple[List[float], List[float]]] = {}
    for r in bench.recipes:
        for c, e, (lrs, losses) in bench.curves[r.name]:
            peak, _ = bench.package(r, c, e, (lrs, losses))
            regret = r.one_cycle.regret(peak)
            flags = {f.split(":")[0] for f in diagnose(lrs, losses)} if SM.enough_points(lrs, losses) else set()
            for name in ("never diverged", "second dip after the edge of stability", "bumpy curve", "loss never fell"):
                flagged, quiet = groups.setdefault(name, ([], []))
                (flagged if name in flags else quiet).append(regret)
    rows = ["| flag | searches flagged | one-cycle regret, flagged: median / mean | not flagged |", "|---|---|---|---|"]
    for name, (flagged, quiet) in groups.items():
        f = f"{np.median(flagged):.3f} / {np.mean(flagged):.2f}" if flagged else "-"
        rows.append(f"| {name} | {len(flagged)}/{len(flagged) + len(quiet)} | {f} | "
                    f"{np.median(quiet):.3f} / {np.mean(quiet):.2f} |")
    return rows


def package_constants() -> str:
    """The constants of ``core.edge`` that ``suggest_range()`` and ``suggest()`` use."""
    names = ("RANGE_FRACTION_BY_KIND", "RANGE_FRACTION", "BROAD_FALL_DECADES", "RANGE_FRACTION_BROAD",
             "RANGE_CAP", "EDGE_MARGIN", "RANGE_SPAN", "SUGGEST_DIVISOR")
    return ", ".join(f"{name} = {getattr(E, name)}" for name in names)


def report(started: float) -> str:
    recipes = load_recipes()
    bench = Bench(recipes)
    fams = sorted({r.family for r in recipes})
    n_search = sum(len(r.searches) for r in recipes)
    out = ["# Advice benchmark: the one-cycle and the constant rate users run, against the best", "",
           f"`{COMMAND}` (re-scores the cached oracle; the oracle itself: `benchmarks/advice/oracle.py`). "
           f"{len(recipes)} recipes in {len(fams)} families ({', '.join(fams)}), {n_search} searches "
           "(5 sweeps per recipe, 2-3 for the real scripts of `advice_real_scripts.json`, cut where the "
           "default stopping rule stops). Regret: validation loss at the "
           "answer / the best on the oracle's grid - 1 (one-cycle: against the best peak; constant: against "
           f"the best constant); wrecked: loss > {WRECKED:g}x the best; band: regret <= {BAND:g}. "
           "See the module docstring of `benchmarks/advice/score.py`.", ""]

    main_before = bench.score(main_rules)
    valley = bench.score(lambda raw: (valley_rule(raw), valley_rule(raw)), raw=True)
    min10 = bench.score(lambda c, e, o: (min10_rule(c), min10_rule(c)))
    packages: Dict[str, Dict[str, Scored]] = {}
    for method in PACKAGE_METHODS:
        packages[method] = bench.score_answers(
            lambda r, c, e, raw, method=method: package_advice(c, e, r.optimizer, raw, method))
    package = packages[S.DEFAULT_METHOD]
    results = {}
    all_members: List[Member] = []
    all_per: List[Dict[str, Scored]] = []
    for name in candidate_rules():
        members, per = score_members(bench, [name])
        results[name] = lofo(bench, members, per)
        all_members += members
        all_per += per
    held, picks, insample = lofo(bench, all_members, all_per)

    out += ["## Headline", "", "Ours: the candidate rule (family and parameters, among every member of every "
            "family under 'Every candidate family tried') with the lowest objective (mean one-cycle regret + "
            "mean constant regret), chosen on the other families of recipes for each family left out (held "
            "out) or on all recipes (in-sample); the package row is what `suggest_range()` and `suggest()` of "
            "this branch answer.", ""]
    out += HEAD + [row("**ours, held out (leave one family out)**", held), row("ours, in-sample", insample),
                   *[row(f"the package, suggest(method='{m}')" + (" (**default**)" if m == S.DEFAULT_METHOD else ""),
                         packages[m]) for m in PACKAGE_METHODS],
                   row("main before issue 17 (top min(3 s, m/2), blend by optimizer, whole curve)", main_before),
                   row("range from fastai's valley (peak = constant = valley)", valley),
                   row("range from minimum / 10 (peak = constant = min / 10)", min10)]
    out += ["", "### The constant rate: `range` (top / k) against `blend_in_range` (blend clipped into the range)", "",
            "The same range family (the shipped one); held out: its parameters chosen per family left out "
            "on the other families; objective: mean one-cycle + mean constant regret.", ""] + HEAD
    compared = [("by optimizer, and a broad fall by its shape", "range"),
                ("by optimizer, and a broad fall by its shape; constant = blend clipped into the range",
                 "blend_in_range")]
    for fam_name, method in compared:
        held_f, _, insample_f = results[fam_name]
        out += [row(f"{method}: held out", held_f), row(f"{method}: in-sample", insample_f),
                row(f"{method}: the package", packages[method])]
    out += [""] + [f"- {method}: held out objective {objective(results[f][0]):.3f}, package objective "
                   f"{objective(packages[method]):.3f}" for f, method in compared]
    lo, mid, hi = objective_difference(results[compared[0][0]][0], results[compared[1][0]][0])
    out += [f"- held out objective, `range` - `blend_in_range`: {mid:+.3f}, 95% interval {lo:+.3f} .. {hi:+.3f} "
            f"(paired bootstrap over recipes, {BOOTSTRAP} resamples)"]
    out += ["", "Picks (per family left out): " + "; ".join(f"{k}: {v[0]} {v[1]}" for k, v in picks.items())]
    out += ["", "The package's constants (`gluon_lrfinder.core.edge`): " + package_constants()]

    out += ["", "## Held out, per family", "", "| family | recipes | one-cycle regret median / mean / worst | "
            "constant regret median / mean / worst | main before: one-cycle / constant mean |", "|---|---|---|---|---|"]
    for fam in fams:
        names = [r.name for r in recipes if r.family == fam]
        h = {n: held[n] for n in names}
        mb = {n: main_before[n] for n in names}
        p, c = summary(h, "peak"), summary(h, "const")
        pb, cb = summary(mb, "peak"), summary(mb, "const")
        cc = f"{c['median']:.3f} / {c['mean']:.2f} / {c['worst']:.2f}" if c.get("n") else "-"
        cbm = f"{cb['mean']:.2f}" if cb.get("n") else "-"
        out.append(f"| {fam} | {len(names)} | {p['median']:.3f} / {p['mean']:.2f} / {p['worst']:.2f} | {cc} | "
                   f"{pb['mean']:.2f} / {cbm} |")

    out += ["", "## Per recipe: the oracle, the edge of stability, the answers", "",
            "Edge: median over the 5 sweeps of the first clear rise of the smoothed loss (`core.edge`). "
            "Margin: decades between the edge and the best peak (and the top of the peak's 25% band; "
            "negative: the band reaches past the edge).", "",
            "| recipe | family | optimizer | best one-cycle peak (25% band) | best constant (25% band) | edge | "
            "margin to best peak / band top | package top (median) | one-cycle regret (mean) | "
            "constant regret (mean) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in recipes:
        oc, ct = r.one_cycle, r.constant
        b = oc.band()
        cb = ct.band() if ct else (math.nan, math.nan)
        edge = float(np.median([e.edge for _, e, _ in bench.curves[r.name]]))
        tops = [bench.package(r, c, e, raw)[0] for c, e, raw in bench.curves[r.name]]
        margin = (f"{math.log10(edge / oc.best_lr):+.2f} / {math.log10(edge / b[1]):+.2f}"
                  if math.isfinite(edge) else "none")
        ctext = f"{ct.best_lr:.3g} ({cb[0]:.3g} .. {cb[1]:.3g})" if ct else "-"
        creg = f"{package[r.name].const_regret.mean():.2f}" if ct else "-"
        out.append(f"| {r.name} | {r.family} | {r.optimizer} | {oc.best_lr:.3g} ({b[0]:.3g} .. {b[1]:.3g}) | "
                   f"{ctext} | {edge:.3g} | {margin} | {np.median(tops):.3g} | "
                   f"{package[r.name].peak_regret.mean():.2f} | {creg} |")

    triples = [(r, k) for r in recipes for k in r.extra if k.startswith("one_cycle@")]
    if triples:
        out += ["", "## How budget-dependent are the targets?", "",
                "| recipe | budget | best one-cycle peak | at 3x the budget | best constant | at 3x the budget |",
                "|---|---|---|---|---|---|"]
        for r, k in triples:
            budget3 = k.split("@")[1]
            c3 = r.extra.get(f"constant@{budget3}")
            out.append(f"| {r.name} | {int(budget3) // 3} | {r.one_cycle.best_lr:.3g} | {r.extra[k].best_lr:.3g} | "
                       f"{r.constant.best_lr if r.constant else math.nan:.3g} | "
                       f"{c3.best_lr if c3 else math.nan:.3g} |")

    out += ["", "## Every candidate family tried", "",
            "Each family's parameters chosen per held-out family on the other families (held out) and on "
            "all recipes (in-sample).", ""] + HEAD
    for name, (held_f, _, insample_f) in results.items():
        out += [row(f"{name}, held out", held_f), row(f"{name}, in-sample", insample_f)]
    out += [""]
    for name, (_, picks_f, _) in results.items():
        out += [f"- {name}: in-sample pick {picks_f['(all recipes)'][1]}"]

    out += ["", "## Flags: do they mark the searches to distrust?", ""] + flag_rows(bench)

    inside = total = 0
    for r in recipes:
        for _, _, raw in bench.curves[r.name]:
            if SM.enough_points(*raw):
                low, high = S.lr_range(*raw, optimizer=r.optimizer)
                lr = suggest_lr(*raw, optimizer=r.optimizer)
                inside += low * (1 - 1e-9) <= lr <= high * (1 + 1e-9)
                total += 1
    out += ["", f"Contract: `suggest()` lies inside `suggest_range()` on {inside} of {total} searches.", ""]
    out += [f"Wall time of this scoring: {time.time() - started:.0f} s (`{COMMAND}`).", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    started = time.time()
    text = report(started)
    publish(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
