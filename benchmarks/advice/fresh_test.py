"""The frozen test sets scored: recipes in families no rule was chosen on.

``fresh_families.py`` (5 recipes: attention, 1-d conv, metric learning, multi-label, deep plain),
``fresh_families_2.py`` (6: distillation, label smoothing, poisson, gaussian likelihood, clipped
recurrent classifier, sparse features), ``fresh_families_3.py`` (6: quantile regression,
hinge, multi-task, denoising, sigmoid net, cosine classifier) and ``fresh_families_4.py`` (6:
ordinal, sequence regression, dropout, factorization, variational, imbalanced) were each written
and frozen before they were trained; the first was scored with the package as it stood (its 1-d conv and
deep plain MLP led to the shallow reading's SDs threshold, ``edge.BOTTOM_SDS``), the second was
trained before that change and scored only after it was committed, the third and fourth were
written and trained after it (and after the cautious blend below was tried and not shipped). Per set, from
the caches (no training; seconds): share of the achievable improvement lost by the one-cycle
over ``suggest_range()`` (against the best peak) and the constant at ``suggest()`` (against the
best constant), median / mean / over 10%, for

* the package as installed;
* the shallow reading without its SDs threshold (``BOTTOM_SDS = 0``, the rule before);
* no shallow reading at all (``BOTTOM_FALL = 0``);
* fastai's valley and minimum / 10 (peak = constant = the anchor);

and which searches losing more than 10% carry a flag. Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_test.py

writes ``benchmarks/results/advice_fresh_test.md`` (the command and the wall time are in it).
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.noise_floor import improvement_lost  # noqa: E402
from benchmarks.common import publish  # noqa: E402
from gluon_lrfinder import LRCurve  # noqa: E402

RESULTS = common.results_path("advice_fresh_test.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_test.py"
WRECK = 0.10
Pairs = Dict[str, List[Tuple[float, float]]]  # recipe -> per search (one-cycle peak, constant)


def anchor(bench: SC.Bench, rule: Callable[[SC.Curve, Tuple[np.ndarray, np.ndarray]], float]) -> Pairs:
    return {r.name: [(rule(c, raw),) * 2 for c, e, raw in bench.curves[r.name]] for r in bench.recipes}


def cells(bench: SC.Bench, answers: Pairs) -> str:
    out = []
    for i, table in ((0, "one_cycle"), (1, "constant")):
        v = np.array([improvement_lost(getattr(r, table), a[i]) for r in bench.recipes for a in answers[r.name]])
        out.append(f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {int(np.sum(v > WRECK))}")
    return " | ".join(out)


def flags(lrs: np.ndarray, losses: np.ndarray, optimizer: str) -> List[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [f.split(":")[0] for f in LRCurve(lrs=lrs, losses=losses, settings={"optimizer": optimizer}).diagnose()]


def section(title: str, recipes: List[SC.Recipe]) -> List[str]:
    bench = SC.Bench(recipes)
    rows = [("the package as installed", SC.package_answers_with(bench)),
            ("the shallow reading without its SDs threshold (the rule before it)",
             SC.package_answers_with(bench, BOTTOM_SDS=0.0)),
            ("no shallow reading", SC.package_answers_with(bench, BOTTOM_FALL=0.0)),
            ("fastai's valley", anchor(bench, lambda c, raw: SC.valley_rule(raw))),
            ("minimum / 10", anchor(bench, lambda c, raw: SC.min10_rule(c)))]
    out = [f"## {title}", "", f"{len(recipes)} recipes, {sum(len(r.searches) for r in recipes)} searches: "
           + ", ".join(sorted({r.family for r in recipes})) + ".", "",
           "| answers | one-cycle: median / mean / over 10% | constant: median / mean / over 10% |", "|---|---|---|"]
    out += [f"| {label} | {cells(bench, a)} |" for label, a in rows]
    out += ["", "Per recipe, the package as installed (one-cycle / constant mean share lost) and the flags of the "
            "searches losing more than 10%:", "", "| recipe | one-cycle | constant | searches over 10%: flags |",
            "|---|---|---|---|"]
    installed = rows[0][1]
    for r in bench.recipes:
        lost = np.array([(improvement_lost(r.one_cycle, a[0]), improvement_lost(r.constant, a[1]))
                         for a in installed[r.name]])
        bad = [", ".join(flags(lrs, losses, r.optimizer)) or "**none**"
               for (lrs, losses), w in zip(r.searches, lost.max(axis=1)) if w > WRECK]
        out.append(f"| {r.name} | {100 * lost[:, 0].mean():.1f}% | {100 * lost[:, 1].mean():.1f}% "
                   f"| {len(bad)}: {'; '.join(bad) if bad else '-'} |")
    return out + [""]


#: How far (in log-LR) the cautious blend moves the package's answers towards minimum / 10.
TOWARDS_MIN10 = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def cautious_blend(recipes: List[SC.Recipe]) -> List[str]:
    """The package's answers moved ``w`` of the way towards minimum / 10, ``w`` chosen per family
    left out on the other families' mean share lost (each schedule on its own), over ``recipes``."""
    bench = SC.Bench(recipes)
    answers = SC.package_answers_with(bench)
    lost: Dict[float, Dict[str, np.ndarray]] = {}
    for w in TOWARDS_MIN10:
        lost[w] = {r.name: np.array([
            [improvement_lost(r.one_cycle, top ** (1 - w) * SC.min10_rule(c) ** w),
             improvement_lost(r.constant, const ** (1 - w) * SC.min10_rule(c) ** w)]
            for (c, e, raw), (top, const) in zip(bench.curves[r.name], answers[r.name])])
            for r in recipes}
    out = ["## A cautious blend towards minimum / 10, held out", "",
           f"Over {len(recipes)} recipes (the advice benchmark's, the new families, both frozen sets; `w` from "
           f"{TOWARDS_MIN10}, 0 is the package):", "",
           "| answers | one-cycle: median / mean / over 10% | constant | the folds' picks of w |", "|---|---|---|---|"]
    families = sorted({r.family for r in recipes})
    held = {r.name: np.zeros((len(r.searches), 2)) for r in recipes}
    picks: List[str] = []
    for fam in families:
        others = [r.name for r in recipes if r.family != fam]
        for k in (0, 1):
            w = min(TOWARDS_MIN10, key=lambda w: float(np.concatenate([lost[w][n][:, k] for n in others]).mean()))
            picks.append(f"{'one-cycle' if k == 0 else 'constant'} {w:g}")
            for r in recipes:
                if r.family == fam:
                    held[r.name][:, k] = lost[w][r.name][:, k]

    def row(label: str, per: Dict[str, np.ndarray], note: str = "") -> str:
        v = np.concatenate([per[r.name] for r in recipes])
        return "| " + label + " | " + " | ".join(
            f"{100 * np.median(v[:, k]):.2f}% / {100 * v[:, k].mean():.2f}% / {int(np.sum(v[:, k] > WRECK))}"
            for k in (0, 1)) + f" | {note} |"
    counts = {p: picks.count(p) for p in sorted(set(picks))}
    out += [row("the package (w = 0)", lost[0.0]),
            row("the blend, w chosen per family left out", held, ", ".join(f"{p}: {n}" for p, n in counts.items()))]
    return out + [""]


def report(started: float) -> str:
    from benchmarks.advice.fresh_families import fresh_recipes
    from benchmarks.advice.fresh_families_2 import fresh_recipes_2

    out = ["# The frozen test sets", "", f"`{COMMAND}` (from the caches; see the module docstring). Cells: share of "
           "the achievable improvement lost, median / mean / searches over 10%.", ""]
    out += section("Fresh families 1 (seen: the SDs threshold was chosen with it in the pool)", fresh_recipes())
    out += section("Fresh families 2 (trained before the SDs threshold, scored after it was committed)",
                   fresh_recipes_2())
    from benchmarks.advice.fresh_families_3 import fresh_recipes_3

    out += section("Fresh families 3 (frozen and trained after every rule change of this study, then scored)",
                   fresh_recipes_3())
    from benchmarks.advice.fresh_families_4 import fresh_recipes_4

    out += section("Fresh families 4 (frozen and trained after every rule change of this study, then scored)",
                   fresh_recipes_4())
    unseen = fresh_recipes_2() + fresh_recipes_3() + fresh_recipes_4()
    out += section("The unseen sets together (2, 3 and 4)", unseen)[:11] + [""]
    out += section("All four sets together", fresh_recipes() + unseen)[:11] + [""]
    from benchmarks.advice.new_families_score import recipes as new_recipes

    out += cautious_blend([r for r in SC.load_recipes() + new_recipes() + fresh_recipes() + fresh_recipes_2()
                           if r.constant is not None])
    out += [f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main() -> int:
    publish(RESULTS, report(time.time()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
