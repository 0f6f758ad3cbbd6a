"""The advice in scale-free terms: the share of the achievable improvement lost, each answer for
its own schedule, and the flags that should mark every search that loses much (issue 19).

From the caches of the advice benchmark only (no training; seconds). Per search of
``score.py``'s 127:

1. **Share lost**, ``(loss - best) / (untrained - best)`` (``noise_floor.improvement_lost``), of
   the one-cycle run over the range (peak = ``suggest_range()``'s top, against the best one-cycle
   peak) and of the constant rate at ``suggest()`` (against the best constant); the loss ratio
   ``score.py`` reports (regret) stays printed beside it. On the classification recipes, the
   accuracy points lost, from ``accuracy.py``'s cache (only answers it trained are scored).
2. **Held out, each answer for its own schedule.** The range's parameters (the shipped family,
   ``score.py``'s "by optimizer, and a broad fall by its shape") are chosen per family left out
   on the other families' mean one-cycle share lost; then the constant, with that fold's range,
   among candidate families each chosen on the other families' mean *constant* share lost: the
   blend (fraction by optimizer kind) clipped into the range (the shipped ``blend_in_range``),
   the blend unclipped (``blend``), the range's top / k (``range``). A paired bootstrap over
   recipes compares them.
3. **Flags.** A search is *wrecked* here when either answer loses more than 10%. Recall: the
   share of wrecked searches on which ``suggest()`` warns (any flag; and per flag); false alarms:
   the share of the other searches on which it does. A new flag, "shallow or noisy fall"
   (``core.edge.fall_size``: the fall to the minimum before the edge, as a share of the starting
   loss and in noise SDs), its two thresholds chosen per family left out for the largest
   recall - false-alarm share of all the warnings together, on the other families.
4. **The oracle's own floor** in the same measure: the best grid point of two data orders,
   scored on the third.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/scale_free.py

writes ``benchmarks/results/advice_scale_free.md`` (the command and the wall time are in it).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice import shallow_fall  # noqa: E402
from benchmarks.advice.noise_floor import improvement_lost  # noqa: E402
from benchmarks.common import load_json, publish, suggest_lr  # noqa: E402
from gluon_lrfinder.core import edge as E  # noqa: E402
from gluon_lrfinder.core import smoothing as SM  # noqa: E402
from gluon_lrfinder.core.curve import LRCurve  # noqa: E402

RESULTS = common.results_path("advice_scale_free.md")
ACCURACY = common.data_path("advice_accuracy.json")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/scale_free.py"
WRECK = 0.10  # a search losing more than this share of the achievable improvement must be flagged
NEW_FLAG = "shallow or noisy fall"
CLIPPED = "blend clipped into the range (`blend_in_range`)"
PRECISION_SIGMAS = (0.05, 0.1, 0.2, 0.3)  # decades, for "how precise must an adviser be?"
PRECISION_DRAWS = 200
Answers = Dict[str, np.ndarray]  # recipe name -> one answer per search


class Search:
    """One search: its recipe, curves, the package's answers and the warnings ``suggest()`` emits."""

    def __init__(self, r: SC.Recipe, c: SC.Curve, e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray],
                 bench: SC.Bench) -> None:
        self.r, self.c, self.e, self.raw = r, c, e, raw
        self.top, self.const = bench.package(r, c, e, raw)
        self.width = SC.fall_width(e) if e.ok else 0.0
        self.flags: List[str] = []
        self.share, self.sds = 0.0, 0.0
        if SM.enough_points(*raw):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                LRCurve(lrs=raw[0], losses=raw[1], settings={"optimizer": r.optimizer}).suggest(warn=True)
            heads = {str(w.message).split(": ", 1)[1].split(":")[0] for w in caught}
            self.flags = sorted({"rules disagree" if h.startswith("rules disagree") else h for h in heads})
            x, s = SM.smoothed_curve(*raw, None)
            self.share, self.sds = E.fall_size(SM.sorted_finite(*raw)[1], s)


def table_of(r: SC.Recipe, kind: str) -> SC.Table:
    """The recipe's oracle table for the schedule ``kind`` ("one-cycle" or "constant")."""
    return r.one_cycle if kind == "one-cycle" else r.constant


def lost_at(table: SC.Table, lrs: Sequence[float]) -> np.ndarray:
    """``noise_floor.improvement_lost`` at each of ``lrs``."""
    return np.array([improvement_lost(table, lr) for lr in lrs])


def lost(r: SC.Recipe, kind: str, lrs: Sequence[float]) -> np.ndarray:
    return lost_at(table_of(r, kind), lrs)


def regret(r: SC.Recipe, kind: str, lrs: Sequence[float]) -> np.ndarray:
    return np.array([table_of(r, kind).regret(lr) for lr in lrs])


def mean_over(values: Dict[str, np.ndarray], names: Sequence[str]) -> float:
    return float(np.concatenate([values[n] for n in names]).mean())


def lofo(recipes: List[SC.Recipe], members: List[Dict[str, np.ndarray]]) -> Tuple[Dict[str, int], int]:
    """Per family left out, the member with the lowest mean on the other families; and on all."""
    picks = {}
    for fam in sorted({r.family for r in recipes}):
        others = [r.name for r in recipes if r.family != fam]
        picks[fam] = int(np.argmin([mean_over(m, others) for m in members]))
    overall = int(np.argmin([mean_over(m, [r.name for r in recipes]) for m in members]))
    return picks, overall


def stats(values: Sequence[float], rg: Sequence[float]) -> str:
    v, g = np.asarray(values), np.asarray(rg)
    return (f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {100 * v.max():.1f}% "
            f"| {int(np.sum(v > WRECK))}/{v.size} "
            f"| {np.median(g):.3f} / {g.mean():.2f}")


def bootstrap(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray], seed: int = 0) -> Tuple[float, float, float]:
    """Mean of a - mean of b over searches, and its 95% interval resampling recipes."""
    names = sorted(set(a) & set(b))
    rng = np.random.RandomState(seed)
    diffs = []
    for _ in range(SC.BOOTSTRAP):
        pick = [names[i] for i in rng.randint(len(names), size=len(names))]
        diffs.append(mean_over(a, pick) - mean_over(b, pick))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(lo), mean_over(a, names) - mean_over(b, names), float(hi)


# ------------------------------------------------------------------------------- candidates
RANGE_GRID = SC.expand({"width": [2.0, 2.5, 3.0], "f_broad": [0.45, 0.6, 0.75], "f_ema": [0.0, 0.1, 0.2],
                        "f_other": [0.45, 0.6, 0.75, 0.9], "cap": [2.0, 3.0], "margin": [1.25, 1.5, 2.0]})
BLEND_GRID = SC.expand({"f_ema": [0.0, 0.1, 0.2, 0.3], "f_other": [0.0, 0.15, 0.3, 0.45, 0.6, 0.75]})
DIVISORS = [1.5, 1.78, 2.5, 3.0]
SHALLOW = [0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
NOISY = [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]
#: The flag's thresholds maximise recall - weight x false alarms (1: Youden's J, the choice; 0.5: a check).
FALSE_ALARM_WEIGHTS = (1.0, 0.5)
NEW_FAMILIES = common.data_path("advice_new_families.json")


def range_top(s: Search, p: Dict[str, float]) -> float:
    if not s.e.ok:
        return s.top
    ema = SC.kind(s.r.optimizer) == "ema_normalised"
    f = p["f_broad"] if s.width >= p["width"] else (p["f_ema"] if ema else p["f_other"])
    return SC._top(s.e, f, p["cap"], p["margin"])


def blend_lr(s: Search, p: Dict[str, float]) -> float:
    if not s.e.ok:
        return s.const
    return SC.geo(s.e.steep, s.e.minimum, p["f_ema"] if SC.kind(s.r.optimizer) == "ema_normalised" else p["f_other"])


def clip(lr: float, top: float) -> float:
    return min(max(lr, top / E.RANGE_SPAN), top)


def report(started: float, with_new: bool = False, with_fresh: bool = False) -> str:
    recipes = SC.load_recipes()
    if with_new:  # the new families, never tuned on, as more families to leave out in turn
        from benchmarks.advice.new_families_score import recipes as new_recipes

        recipes += new_recipes()
    if with_fresh:  # the fresh families, frozen before they were trained (``fresh_families.py``), likewise
        from benchmarks.advice.fresh_families import fresh_recipes

        recipes += fresh_recipes()
    recipes = [r for r in recipes if r.constant is not None]
    command = COMMAND + " --with-new-families" * with_new + " --with-fresh-families" * with_fresh
    bench = SC.Bench(recipes)
    names = [r.name for r in recipes]
    fams = sorted({r.family for r in recipes})
    by = {r.name: [Search(r, c, e, raw, bench) for c, e, raw in bench.curves[r.name]] for r in recipes}
    rec = {r.name: r for r in recipes}

    def answers(f: Callable[[Search], float]) -> Answers:
        return {n: np.array([f(s) for s in by[n]]) for n in names}

    def lost_of(kind: str, a: Answers) -> Dict[str, np.ndarray]:
        return {n: lost(rec[n], kind, a[n]) for n in a}

    def sched(kind: str, a: Answers) -> str:
        return stats(np.concatenate([lost(rec[n], kind, a[n]) for n in names]),
                     np.concatenate([regret(rec[n], kind, a[n]) for n in names]))

    # the range: the shipped family held out, on the one-cycle share lost
    tops = [answers(lambda s, p=p: range_top(s, p)) for p in RANGE_GRID]
    tops_lost = [lost_of("one-cycle", t) for t in tops]
    range_picks, range_all = lofo(recipes, tops_lost)
    held_top = {n: tops[range_picks[rec[n].family]][n] for n in names}
    in_top = tops[range_all]

    # the constant, each candidate family held out on the constant share lost, with its fold's range
    blends = [answers(lambda s, p=p: blend_lr(s, p)) for p in BLEND_GRID]
    cands: Dict[str, Callable[[int, int], Answers]] = {
        CLIPPED:
            lambda m, rg: {n: np.array([clip(b, t) for b, t in zip(blends[m][n], tops[rg][n])]) for n in names},
        "blend, unclipped (`blend`)": lambda m, rg: blends[m],
        "the range's top / k (`range`)": lambda m, rg: {n: tops[rg][n] / DIVISORS[m] for n in names},
    }
    sizes = {k: len(DIVISORS) if "top / k" in k else len(BLEND_GRID) for k in cands}
    held_const: Dict[str, Answers] = {}
    in_const: Dict[str, Answers] = {}
    const_picks: Dict[str, Dict[str, int]] = {}
    for label, make in cands.items():
        held_const[label], const_picks[label] = {}, {}
        for fam in fams:
            members = [lost_of("constant", make(m, range_picks[fam])) for m in range(sizes[label])]
            others = [r.name for r in recipes if r.family != fam]
            best = int(np.argmin([mean_over(v, others) for v in members]))
            const_picks[label][fam] = best
            chosen = make(best, range_picks[fam])
            held_const[label].update({n: chosen[n] for n in names if rec[n].family == fam})
        members = [lost_of("constant", make(m, range_all)) for m in range(sizes[label])]
        in_const[label] = make(int(np.argmin([mean_over(v, names) for v in members])), range_all)
    ours_held: Answers = {}
    for fam in fams:  # the family of constant rules chosen held out too (on their held-out-range answers)
        others = [r.name for r in recipes if r.family != fam]
        label = min(cands, key=lambda k: mean_over(lost_of("constant", held_const[k]), others))
        ours_held.update({n: held_const[label][n] for n in names if rec[n].family == fam})

    # the shallow reading (edge.shallow_top), its factor, margin and divisor chosen per family left
    # out as in shallow_fall.py (its share and SDs threshold fixed as shipped: chosen on the wider
    # pool there), over each fold's answers: a search it reads at the bottom takes its answers
    fit = shallow_fall.Fit(bench, fixed=shallow_fall.SHIPPED_CLEARANCE)
    held_top, in_top = {n: held_top[n].copy() for n in names}, {n: in_top[n].copy() for n in names}
    held_const[CLIPPED] = {n: held_const[CLIPPED][n].copy() for n in names}
    in_const[CLIPPED] = {n: in_const[CLIPPED][n].copy() for n in names}
    in_pick = int(np.argmin([shallow_fall.objective(per, names) for per in fit.table]))
    for n in names:
        for i, (held, inside, before) in enumerate(zip(fit.held_out_answers(rec[n]), fit.answers[in_pick][n],
                                                       fit.before[n])):
            if held != before:
                held_top[n][i], held_const[CLIPPED][n][i] = held
            if inside != before:
                in_top[n][i], in_const[CLIPPED][n][i] = inside

    def shipped(method: str) -> Answers:
        def one(s: Search) -> float:
            if not SM.enough_points(*s.raw):
                return s.const
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return suggest_lr(*s.raw, method, optimizer=s.r.optimizer)
        return answers(one)

    pkg_top, pkg_const = answers(lambda s: s.top), answers(lambda s: s.const)
    valley = answers(lambda s: SC.valley_rule(s.raw))
    min10 = answers(lambda s: SC.min10_rule(s.c))
    rows = [("**the package, held out** (range and constant chosen on the other families)", held_top,
             held_const[CLIPPED]),
            ("the package, in-sample (chosen on all families)", in_top,
             in_const[CLIPPED]),
            ("the package as shipped (`suggest_range()` top, `suggest()`)", pkg_top, pkg_const),
            ("fastai's valley (peak = constant = valley)", valley, valley),
            ("minimum / 10 (peak = constant)", min10, min10)]
    out = ["# The advice in scale-free terms: share of the achievable improvement lost", "",
           f"`{command}` (from the caches; see the module docstring). {len(recipes)} recipes in {len(fams)} "
           f"families, {sum(len(v) for v in by.values())} searches. Share lost: `(loss - best) / (untrained - best)` "
           "at the answer, against the best of its own schedule (one-cycle: the best peak; constant: the best "
           "constant); regret: `loss / best - 1` as in `score.py`.", "",
           "Targets (held out): each schedule median <= 0.5% and mean <= 1.5% lost, no search over 10%, both means "
           "below the two anchors'.", "",
           "## Headline", "",
           "| answer | one-cycle: share lost median / mean / worst | over 10% | regret median / mean "
           "| constant: share lost median / mean / worst | over 10% | regret median / mean |",
           "|---|---|---|---|---|---|---|"]
    for label, top, const in rows:
        out.append(f"| {label} | {sched('one-cycle', top)} | {sched('constant', const)} |")
    wrecked_names = [r.name for r in recipes if r.name in ("bag of ids / Embedding / SGD 0.9 / b32",)]
    keep = [n for n in names if n not in wrecked_names]
    top_l = np.concatenate([lost(rec[n], "one-cycle", held_top[n]) for n in keep])
    const_l = np.concatenate([lost(rec[n], "constant", held_const[CLIPPED][n])
                              for n in keep])
    out += ["", f"Without the recipe whose loss never falls in the sweep (the bag of ids, {len(by[wrecked_names[0]])} "
            f"searches, all flagged 'loss never fell'), held out: one-cycle mean {100 * top_l.mean():.2f}%, "
            f"constant mean {100 * const_l.mean():.2f}%." if wrecked_names else ""]

    # oracle floor
    floor: Dict[str, List[float]] = {"one-cycle": [], "constant": []}
    for r in recipes:
        for kind, table in (("one-cycle", r.one_cycle), ("constant", r.constant)):
            n = min(len(v) for v in table.rows.values())
            for s in range(n):
                pick = table.seeds([t for t in range(n) if t != s]).best_lr
                floor[kind].append(improvement_lost(table.seeds([s]), pick))
    per_order: Dict[str, List[float]] = {"one-cycle": [], "constant": []}
    for n in names:
        r = rec[n]
        for kind, table, lrs in (("one-cycle", r.one_cycle, held_top[n]),
                                 ("constant", r.constant, held_const[CLIPPED][n])):
            k = min(len(v) for v in table.rows.values())
            per_order[kind] += [improvement_lost(table.seeds([s]), lr) for lr in lrs for s in range(k)]

    def line(d: Dict[str, List[float]]) -> str:
        return "; ".join(f"{k} median {100 * np.median(v):.2f}% / mean {100 * np.mean(v):.2f}% / worst "
                         f"{100 * np.max(v):.1f}%, {int(np.sum(np.asarray(v) > WRECK))}/{len(v)} over 10%"
                         for k, v in d.items())
    out += ["", "The oracle's own floor (the best grid point of two data orders, scored on the third against that "
            f"order's own best): {line(floor)}. The package held out, scored the same way (each data order "
            f"alone, against its own best): {line(per_order)}."]

    # how precise must an adviser be to meet the targets? an answer best * 10 ** (sigma * z), z ~ N(0, 1)
    z = np.random.RandomState(0).randn(PRECISION_DRAWS)
    out += ["", "## How precise must an adviser be?", "",
            "Share lost by answers one grid step (0.25 decades) off each recipe's best, and by an unbiased "
            f"adviser answering `best * 10 ** (sigma * z)` ({PRECISION_DRAWS} fixed standard normal draws `z` per "
            "recipe), over the recipes: median / mean / share of answers over 10%.", "",
            "| answer | one-cycle | constant |", "|---|---|---|"]

    def spread(lrs_of: Callable[[SC.Table], np.ndarray]) -> Dict[str, str]:
        cells = {}
        for kind in ("one-cycle", "constant"):
            v = np.concatenate([np.array([improvement_lost(t, lr) for lr in lrs_of(t)])
                                for r in recipes for t in [r.one_cycle if kind == "one-cycle" else r.constant]])
            cells[kind] = f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {100 * np.mean(v > WRECK):.0f}%"
        return cells
    for label, f in [("one step below the best", lambda t: np.array([t.best_lr / 10 ** 0.25])),
                     ("one step above the best", lambda t: np.array([t.best_lr * 10 ** 0.25]))] + [
            (f"sigma = {sg:g} decades", lambda t, sg=sg: t.best_lr * 10 ** (sg * z)) for sg in PRECISION_SIGMAS]:
        cells = spread(f)
        out.append(f"| {label} | {cells['one-cycle']} | {cells['constant']} |")

    out += ["", "## Held out, per family (the package held out)", "",
            "| family | recipes | one-cycle share lost median / mean / worst "
            "| constant share lost median / mean / worst |",
            "|---|---|---|---|"]
    for fam in fams:
        ns = [n for n in names if rec[n].family == fam]
        a = np.concatenate([lost(rec[n], "one-cycle", held_top[n]) for n in ns])
        b = np.concatenate([lost(rec[n], "constant", held_const[CLIPPED][n])
                            for n in ns])
        out.append(f"| {fam} | {len(ns)} | {100 * np.median(a):.2f}% / {100 * a.mean():.2f}% / {100 * a.max():.1f}% "
                   f"| {100 * np.median(b):.2f}% / {100 * b.mean():.2f}% / {100 * b.max():.1f}% |")
    out += ["", "Range picks per family left out: " + "; ".join(f"{f}: {RANGE_GRID[i]}" for f, i in range_picks.items())
            + f"; on all families: {RANGE_GRID[range_all]}."]

    # the constant
    out += ["", "## The constant rate, chosen against the best constant", "",
            "Each family of constant rules held out (its parameters chosen per family left out on the other "
            "families' mean constant share lost, with that fold's held-out range); the shipped rules as the "
            "package answers them.", "",
            "| constant rule | share lost median / mean / worst | over 10% | regret median / mean |",
            "|---|---|---|---|"]
    for label in cands:
        out.append(f"| {label}, held out | {sched('constant', held_const[label])} |")
    out.append(f"| the best of the three families, chosen held out | {sched('constant', ours_held)} |")
    shipped_const = {m: shipped(m) for m in ("blend_in_range", "blend", "range", "steepest", "minimum", "valley")}
    for m, a in shipped_const.items():
        out.append(f"| `suggest(method='{m}')` as shipped | {sched('constant', a)} |")
    clipped, plain = (lost_of("constant", held_const[k]) for k in list(cands)[:2])
    lo, mid, hi = bootstrap(clipped, plain)
    lo2, mid2, hi2 = bootstrap(lost_of("constant", shipped_const["blend_in_range"]),
                               lost_of("constant", shipped_const["blend"]))
    lo3, mid3, hi3 = bootstrap(clipped, lost_of("constant", held_const[list(cands)[2]]))
    out += ["", f"- mean constant share lost, clipped - unclipped, held out: {100 * mid:+.2f} points, 95% interval "
            f"{100 * lo:+.2f} .. {100 * hi:+.2f} (paired bootstrap over recipes, {SC.BOOTSTRAP} resamples)",
            f"- the same as shipped (`blend_in_range` - `blend`): {100 * mid2:+.2f}, "
            f"{100 * lo2:+.2f} .. {100 * hi2:+.2f}",
            f"- clipped - `range` (top / k), held out: {100 * mid3:+.2f}, {100 * lo3:+.2f} .. {100 * hi3:+.2f}",
            "- picks per family left out: " + "; ".join(
                f"{label.split(' (')[0]}: " + ", ".join(
                    f"{f} {DIVISORS[i] if 'top / k' in label else BLEND_GRID[i]}" for f, i in p.items())
                for label, p in const_picks.items())]
    inside = sum(int(s.top / E.RANGE_SPAN * (1 - 1e-9) <= b <= s.top * (1 + 1e-9))
                 for n in names for s, b in zip(by[n], shipped_const["blend"][n]))
    out += [f"- the unclipped blend lies inside `suggest_range()` on {inside} of {sum(len(v) for v in by.values())} "
            "searches; where it does not, the clip moves it"]

    # accuracy
    cache = load_json(ACCURACY)
    acc = [("one-cycle at the shipped top", "one_cycle", pkg_top),
           ("constant at the shipped `suggest()`", "constant", pkg_const),
           ("constant at the unclipped `blend`", "constant", shipped_const["blend"])]
    out += ["", "## Accuracy points lost (classification recipes, `accuracy.py`'s cache)", "",
            "| answer | searches scored | points lost median / mean / worst | more than 1 point |", "|---|---|---|---|"]
    for label, kind, a, skip in [(lb, k, a, ()) for lb, k, a in acc] + [
            (lb + ", without the bag of ids", k, a, tuple(wrecked_names)) for lb, k, a in acc[:2]]:
        pts = []
        missing = 0
        for n in (n for n in names if n not in skip):
            best_key = f"{n} | {kind} | {(rec[n].one_cycle if kind == 'one_cycle' else rec[n].constant).best_lr:.4g}"
            if best_key not in cache:
                continue
            for lr in a[n]:
                key = f"{n} | {kind} | {lr:.4g}"
                if key not in cache:
                    missing += 1
                    continue
                got = cache[key][1]
                pts.append(100 * (cache[best_key][1] - (0.0 if got is None or math.isnan(got) else got)))
        p = np.asarray(pts)
        out.append(f"| {label} | {p.size} (not trained: {missing}) | {np.median(p):+.2f} / {p.mean():+.2f} / "
                   f"{p.max():+.1f} | {int(np.sum(p > 1))} |")

    # flags
    searches = [s for n in names for s in by[n]]
    worst = np.array([max(improvement_lost(s.r.one_cycle, s.top), improvement_lost(s.r.constant, s.const))
                      for s in searches])
    bad = worst > WRECK
    base = [set(s.flags) - {NEW_FLAG} for s in searches]
    fam_of = np.array([s.r.family for s in searches])

    def rates(flagged: np.ndarray, mask: Optional[np.ndarray] = None) -> Tuple[float, float]:
        m = np.ones(bad.size, bool) if mask is None else mask
        return float(flagged[bad & m].mean()), float(flagged[~bad & m].mean())

    def new_flag(sh: float, nz: float) -> np.ndarray:
        return np.array([bool(s.share > 0 and (s.share < sh or s.sds < nz)) and "loss never fell" not in b
                         for s, b in zip(searches, base)])

    anyb = np.array([bool(b) for b in base])
    out += ["", "## Flags: recall (share of the searches losing more than 10% that are flagged) and false alarms",
            "", f"Searches losing more than 10% (either answer, the shipped package): {int(bad.sum())} of "
            f"{bad.size}.", "",
            "| flag (what `suggest()` warns) | recall | false alarms |", "|---|---|---|"]
    for name in sorted({f for b in base for f in b}):
        rc, fa = rates(np.array([name in b for b in base]))
        out.append(f"| {name} | {100 * rc:.0f}% | {100 * fa:.0f}% |")
    rc, fa = rates(anyb)
    out.append(f"| **any, before the new flag** | {100 * rc:.0f}% ({int((anyb & bad).sum())}/{int(bad.sum())}) | "
               f"{100 * fa:.0f}% ({int((anyb & ~bad).sum())}/{int((~bad).sum())}) |")
    grid = [(sh, nz) for sh in SHALLOW for nz in NOISY]
    all_picks: Dict[float, Dict[str, Tuple[float, float]]] = {}
    for weight in FALSE_ALARM_WEIGHTS:
        held = np.zeros(bad.size, bool)
        picks = all_picks.setdefault(weight, {})
        for fam in fams:
            train = fam_of != fam

            def j(g: Tuple[float, float], train: np.ndarray = train, weight: float = weight) -> float:
                rc_, fa_ = rates(anyb | new_flag(*g), train)
                return rc_ - weight * fa_
            picks[fam] = max(grid, key=j)
            held[~train] = (anyb | new_flag(*picks[fam]))[~train]
        rc, fa = rates(held)
        out.append(f"| **any, with '{NEW_FLAG}' held out** (thresholds per family left out, for the largest recall - "
                   f"{weight:g} x false alarms) | {100 * rc:.0f}% ({int((held & bad).sum())}/{int(bad.sum())}) | "
                   f"{100 * fa:.0f}% ({int((held & ~bad).sum())}/{int((~bad).sum())}) |")
    picks = all_picks[1.0]
    overall = max(grid, key=lambda g: rates(anyb | new_flag(*g))[0] - rates(anyb | new_flag(*g))[1])
    ins = anyb | new_flag(*overall)
    rc, fa = rates(ins)
    out.append(f"| any, with '{NEW_FLAG}' in-sample (share < {overall[0]:g} or SDs < {overall[1]:g}) | {100 * rc:.0f}% "
               f"({int((ins & bad).sum())}/{int(bad.sum())}) | {100 * fa:.0f}% "
               f"({int((ins & ~bad).sum())}/{int((~bad).sum())}) |")
    shipped_new = np.array([NEW_FLAG in s.flags for s in searches])
    rc, fa = rates(anyb | shipped_new)
    out.append(f"| any, with '{NEW_FLAG}' as shipped (share < {E.SHALLOW_FALL:g} or SDs < {E.NOISY_FALL_SDS:g}) "
               f"| {100 * rc:.0f}% | {100 * fa:.0f}% |")
    for weight, p in all_picks.items():
        out += ["", f"Thresholds (share of the starting loss, noise SDs) per family left out, weight {weight:g}: "
                + "; ".join(f"{f}: {v}" for f, v in p.items()) + "."]
    alone = new_flag(*overall)
    rc, fa = rates(alone)
    out += ["", f"'{NEW_FLAG}' alone (in-sample thresholds): recall {100 * rc:.0f}%, false alarms {100 * fa:.0f}%; "
            f"the searches it adds to the other flags: {int((alone & ~anyb & bad).sum())} losing more than 10%, "
            f"{int((alone & ~anyb & ~bad).sum())} fine."]
    out += ["", "Searches losing more than 10% and not flagged by the shipped flags: " + "; ".join(
        f"{s.r.name} ({100 * w:.0f}%, fall {100 * s.share:.0f}%, {s.sds:.1f} SDs)"
        for s, w, f in zip(searches, worst, anyb | shipped_new) if w > WRECK and not f) + "."]
    out += ["", "The fall of every search losing more than 10%: " + "; ".join(
        f"{s.r.name.split(' /')[0]} {100 * w:.0f}% ({100 * s.share:.0f}%, {s.sds:.1f} SDs)"
        for s, w in zip(searches, worst) if w > WRECK) + "."]
    out += ["", "New families (`data/advice_new_families.json`, clipped LM and CNN, fine-tuning): " + (
        "included as more families (`--with-new-families`)." if with_new else
        "not included here; `--with-new-families` adds them (`results/advice_scale_free_new_families.md`).")]
    if with_fresh:
        out += ["", "Fresh families (`data/advice_fresh_families.json`, frozen before training: attention, 1-d conv, "
                "metric learning, multi-label, deep plain): included as more families (`--with-fresh-families`)."]
    out += ["", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--with-new-families", action="store_true",
                        help="add the new families (clipped LM and CNN, fine-tuning) to the recipes")
    parser.add_argument("--with-fresh-families", action="store_true",
                        help="add the fresh families (fresh_families.py, a frozen test set) to the recipes")
    args = parser.parse_args(argv)
    tail = "_new" * args.with_new_families + "_fresh" * args.with_fresh_families
    path = RESULTS.replace(".md", f"{tail}_families.md") if tail else RESULTS
    publish(path, report(time.time(), args.with_new_families, args.with_fresh_families))
    return 0


if __name__ == "__main__":
    sys.exit(main())
