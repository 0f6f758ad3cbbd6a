"""Score the new families of the advice benchmark from their cache only (no MXNet; seconds).

Reads ``benchmarks/data/advice_new_families.json`` (``new_families.py`` fills it: each recipe's
3 range tests, with the package's answers, and its oracle grids) and writes
``benchmarks/results/advice_new_families.md``. Run from the repository root::

    python benchmarks/advice/new_families_score.py
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice.oracle import key  # noqa: E402
from benchmarks.common import DATA, ROOT, load_json, publish  # noqa: E402
from benchmarks.common import RESULTS as RESULTS_DIR

CACHE = os.path.join(DATA, "advice_new_families.json")
#: the AWD-LSTM script where lr 30 trains best (`real_script_check.py --recipes lm30 --oracle`), one more recipe
LM30_ORACLE = os.path.join(DATA, "real_script_lm30_oracle.json")
RESULTS = os.path.join(RESULTS_DIR, "advice_new_families.md")
SWEEP_SEEDS = (0, 1, 2)
COMMAND = "OMP_NUM_THREADS=1 python benchmarks/advice/new_families.py"




def curve_of(sweep: Dict[str, Any], optimizer: str) -> Any:
    """A cached sweep as the package's ``LRCurve`` (the optimizer recorded, as ``find()`` does)."""
    from gluon_lrfinder import LRCurve

    losses = [math.nan if v is None else float(v) for v in sweep["losses"]]
    return LRCurve(lrs=[float(v) for v in sweep["lrs"]], losses=losses, settings={"optimizer": optimizer})


def answers(sweep: Dict[str, Any], optimizer: str) -> Dict[str, Any]:
    """Today's package on a cached sweep: ``suggest()``, ``suggest_range()``, the anchors, the flags."""
    from gluon_lrfinder.core.rules import get_rule

    curve = curve_of(sweep, optimizer)
    low, high = curve.suggest_range(warn=False)
    return {"ours": curve.suggest(warn=False), "ours_peak": high, "ours_low": low,
            "valley": get_rule("valley")(curve), "minimum/10": get_rule("minimum")(curve),
            "flags": [f.split(":")[0] for f in curve.diagnose()]}


#: The rate each recipe's trainer uses when none is given, and where it comes from.
DEFAULTS = {"lm": (30.0, "`--lr` of GluonNLP's word_language_model.py"),
            "cnn_clip": (0.01, "`mx.optimizer.SGD`'s default learning_rate"),
            "ft_sgd": (0.01, "`mx.optimizer.SGD`'s default learning_rate"),
            "ft_sgd_mult": (0.01, "`mx.optimizer.SGD`'s default learning_rate"),
            "ft_adam": (0.001, "`mx.optimizer.Adam`'s default learning_rate")}


@dataclass
class Suite:
    """One set of recipes the oracle of ``new_families.py`` trains: its cache, its report's path,
    title and command, each recipe's trainer default rate (as ``DEFAULTS``), the oracle files of
    more recipes ``recipes()`` adds, and whether the report lists every search losing more than 10%
    with its flags and sums up accuracy points and default rates over all recipes."""

    title: str
    cache: str
    results: str
    command: str
    defaults: Dict[str, Tuple[float, str]]
    more_oracles: Sequence[str] = ()
    summaries: bool = False


NEW_FAMILIES = Suite("Advice benchmark, new families: clipped-SGD word LM, clipped CNN, fine-tuning", CACHE, RESULTS,
                     COMMAND, DEFAULTS, (LM30_ORACLE,))


# ------------------------------------------------------------------------------------ scoring
def tables(entry: Dict[str, Any], kind: str) -> Tuple[Any, Optional[Tuple[np.ndarray, np.ndarray, float]]]:
    """The oracle's loss table (``score.Table``) and, for a classifier, (log-lr grid, mean accuracy,
    untrained accuracy); a diverged, pruned or worse-than-untrained run counts as untrained."""
    from benchmarks.advice.score import Table

    run = entry["runs"][kind]
    rows = {float(k): v for k, v in run["loss"].items()}
    table = Table(rows, entry["untrained"]["loss"], [float(k) for k in run["pruned"]])
    if "accuracy" not in entry["untrained"]:
        return table, None
    acc0 = entry["untrained"]["accuracy"]
    lrs = sorted(set(rows) | {float(k) for k in run["pruned"]})
    accs = []
    for lr in lrs:
        pairs = zip(rows.get(lr, [None]), run["accuracy"].get(key(round(4 * math.log10(lr))), [None]))
        accs.append(np.mean([acc0 if v is None or v > table.untrained or a is None else a for v, a in pairs]))
    return table, (np.log10(lrs), np.asarray(accs), acc0)


def lost(table: Any, acc: Any, lr: float) -> Tuple[float, Optional[float]]:
    share = (table.loss_at(lr) - table.best_loss) / (table.untrained - table.best_loss)
    if acc is None:
        return share, None
    x, a, _ = acc
    return share, 100 * (float(a.max()) - float(np.interp(math.log10(lr), x, a)))


def stats(values: List[float], digits: int = 3) -> str:
    v = np.asarray(values)
    return f"{np.median(v):.{digits}f} / {v.mean():.{digits}f} / {v.max():.{digits}f}"


def curve_place(sweep: Dict[str, Any], lr: float, optimizer: str) -> str:
    """Where ``lr`` sits on a sweep, as the package's report says it (``core.placement``)."""
    from gluon_lrfinder.core.placement import place_rate

    curve = curve_of(sweep, optimizer)
    placement = place_rate(curve.lrs, curve.losses, lr, suggestion=curve.suggest(warn=False))
    return f"sweep seed {sweep['seed']}: {placement.zone}"


def recipes(suite: Suite = NEW_FAMILIES) -> List[Any]:
    """The new families as recipes of the advice benchmark (``oracle_tables.Recipe``: the oracle's
    one-cycle and constant tables, the sweeps cut where the default stopping rule stops), for
    ``scale_free.py --with-new-families``; with them the AWD-LSTM script where lr 30 trains best, from
    ``real_script_check.py --recipes lm30 --oracle``'s oracle file. Another ``suite``: its recipes."""
    from benchmarks.advice.oracle_tables import Recipe, cut, load_oracle_file

    out = []
    for entry in load_json(suite.cache).values():
        if not all(k in entry.get("runs", {}) for k in ("one_cycle", "constant")):
            continue
        one_cycle, _ = tables(entry, "one_cycle")
        constant, _ = tables(entry, "constant")
        out.append(Recipe(entry["name"], entry["family"], entry["optimizer"], [cut(s) for s in entry["sweeps"]],
                          one_cycle, constant, {}, int(entry["budget"])))
    return out + [r for path in suite.more_oracles for r in load_oracle_file(path)]


def untrained_text(scores: Dict[str, float]) -> str:
    return f"loss {scores['loss']:.4f}" + (f", accuracy {scores['accuracy']:.3f}" if "accuracy" in scores else "")


def report(cache: Dict[str, Any], suite: Suite = NEW_FAMILIES) -> str:
    seconds = sum(e.get("seconds", 0.0) for e in cache.values())
    out = [f"# {suite.title}", "",
           f"Made by `{suite.command}` (trainings cached in `{os.path.relpath(suite.cache, ROOT)}`; "
           f"wall time of the runs that filled it, summed from the cache: {seconds / 60:.1f} min of one core "
           f"(2 cores shared with other work); the {sum(len(e['sweeps']) for e in cache.values())} sweeps took "
           f"{sum(s['seconds'] for e in cache.values() for s in e['sweeps']) / 60:.1f} min of that or before it).", "",
           "Lost = share of the achievable improvement given up, (loss at the answer - best) / (untrained "
           "- best), validation loss interpolated in log-lr on the oracle grid (mean over data orders; "
           "diverged / pruned / worse than untrained = untrained; an answer off the grid takes the nearest "
           "end). Accuracy points lost: best mean accuracy on the grid - accuracy at the answer. Answers "
           "per sweep: ours = `suggest()` (scored on the constant grid) and `suggest_range()[1]` (on the "
           "one-cycle grid, peak / 3 .. peak); valley and minimum/10 (the registry's `valley` and "
           "`minimum`) are scored on both.", ""]
    intro, n_recipes = len(out), 0
    pooled: Dict[str, Tuple[List[float], List[float]]] = {}
    points: Dict[str, Tuple[List[float], List[float]]] = {}  # accuracy points lost, pooled likewise
    over: List[str] = []  # the searches losing more than 10% with either of ours
    placed: List[str] = []  # where each default rate lies
    for name, entry in cache.items():
        if not all(k in entry.get("runs", {}) for k in ("one_cycle", "constant")):
            continue
        n_recipes += 1
        oc, oc_acc = tables(entry, "one_cycle")
        co, co_acc = tables(entry, "constant")
        out += [f"## {entry['name']}", "", f"family {entry['family']}, {entry['optimizer']}, {entry['budget']} "
                f"iterations; untrained validation {untrained_text(entry['untrained'])}. Grid: mean over data "
                "orders (each order's loss; div = diverged; pruned = not trained, above an ascent's end).", "",
                "| lr | one-cycle loss | acc | per order | constant loss | acc | per order |", "|" + "---|" * 7]
        top = math.log10(max(oc.stable_top, co.stable_top)) + 0.3  # rows far above every stable rate left out
        for x in sorted(set(np.round(oc.x, 6)) | set(np.round(co.x, 6))):
            cells = []
            for kind, table, acc in (("one_cycle", oc, oc_acc), ("constant", co, co_acc)):
                i = np.flatnonzero(np.abs(table.x - x) < 1e-6)
                row = entry["runs"][kind]["loss"].get(key(round(4 * x)))
                cells += ["", "", ""] if not i.size else [
                    f"{table.mean[i[0]]:.4f}", "" if acc is None else f"{acc[1][i[0]]:.3f}",
                    "pruned" if row is None else ", ".join("div" if v is None else f"{v:.3f}" for v in row)]
            if x <= top:
                out.append(f"| {10 ** x:.4g} | " + " | ".join(cells) + " |")
        out += ["", f"Best one-cycle peak {oc.best_lr:.4g} (loss {oc.best_loss:.4f}); best constant {co.best_lr:.4g} "
                f"(loss {co.best_loss:.4f}).", "",
                "| sweep | points | suggest() | suggest_range() | valley | minimum/10 | flags |", "|" + "---|" * 7]
        for s in entry["sweeps"]:
            a = answers(s, entry["optimizer"])
            out.append(f"| {s['seed']} | {len(s['lrs'])} (to {s['lrs'][-1]:.3g}) | {a['ours']:.3g} | "
                       f"{a['ours_low']:.3g} - {a['ours_peak']:.3g} | {a['valley']:.3g} | {a['minimum/10']:.3g} | "
                       f"{'; '.join(a['flags']) or '-'} |")
        out += ["", "| answer | one-cycle lost median / mean / worst | acc pts lost (mean / worst) | "
                "constant lost median / mean / worst | acc pts lost (mean / worst) |", "|---|---|---|---|---|"]
        for label, peak_of, const_of in (("ours", "ours_peak", "ours"), ("valley", "valley", "valley"),
                                         ("minimum/10", "minimum/10", "minimum/10")):
            cells = []
            for table, acc, which in ((oc, oc_acc, peak_of), (co, co_acc, const_of)):
                res = [lost(table, acc, answers(s, entry["optimizer"])[which]) for s in entry["sweeps"]]
                pooled.setdefault(label, ([], []))[0 if table is oc else 1].extend(r for r, _ in res)
                pts = [p for _, p in res if p is not None]
                points.setdefault(label, ([], []))[0 if table is oc else 1].extend(pts)
                cells += [stats([r for r, _ in res]),
                          f"{np.mean(pts):.1f} / {max(pts):.1f}" if pts else "-"]
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        for s in entry["sweeps"]:
            a = answers(s, entry["optimizer"])
            (l1, p1), (l2, p2) = lost(oc, oc_acc, a["ours_peak"]), lost(co, co_acc, a["ours"])
            if max(l1, l2) > 0.1:
                over.append(f"| {entry['name']} | {s['seed']} | {l1:.3f}" + ("" if p1 is None else f" ({p1:.1f})") +
                            f" | {l2:.3f}" + ("" if p2 is None else f" ({p2:.1f})") +
                            f" | {'; '.join(a['flags']) or '**none**'} |")
        d, source = suite.defaults[name]
        (l1, p1), (l2, p2) = lost(oc, oc_acc, d), lost(co, co_acc, d)
        placed.append(f"| {entry['name']} | {d:g} | {oc.best_lr:.4g} | {math.log10(d / oc.best_lr):+.2f} | {l1:.3f} | "
                      f"{co.best_lr:.4g} | {math.log10(d / co.best_lr):+.2f} | {l2:.3f} |")
        out += ["", f"The default rate {d:g} ({source}): one-cycle lost {l1:.3f}" +
                ("" if p1 is None else f" ({p1:.1f} acc pts)") + f", constant lost {l2:.3f}" +
                ("" if p2 is None else f" ({p2:.1f} acc pts)") + "; on the sweeps: " +
                "; ".join(curve_place(s, d, entry["optimizer"]) for s in entry["sweeps"]) + ".", ""]
    summary = ["## All recipes: share of the improvement lost per sweep", "",
               f"{n_recipes} recipes x {len(SWEEP_SEEDS)} sweeps. Cells: median / mean / worst; wrecked = lost > 0.5.",
               "", "| answer | one-cycle lost | wrecked | constant lost | wrecked |", "|---|---|---|---|---|"]
    for label, (one, const) in pooled.items():
        summary.append(f"| {label} | {stats(one)} | {sum(v > 0.5 for v in one)}/{len(one)} | {stats(const)} | "
                       f"{sum(v > 0.5 for v in const)}/{len(const)} |")
    if suite.summaries:
        summary += ["", "Accuracy points lost per sweep, where the recipe has an accuracy (median / mean / worst): " +
                    "; ".join(f"{label} one-cycle {stats(one, 1)}, constant {stats(const, 1)}"
                              for label, (one, const) in points.items() if one) + ".",
                    "", "Searches where ours (`suggest_range()` top on one-cycle, `suggest()` on constant) loses more "
                    "than 10% on either schedule, with the flags `report()` gave on that sweep (share lost, accuracy "
                    "points lost in brackets):", "",
                    "| recipe | sweep | one-cycle lost | constant lost | flags |", "|---|---|---|---|---|"] + (
                        over or ["| none | | | | |"])
        summary += ["", "Each trainer's default rate against the best of each schedule (decades = log10(default / "
                    "best)):", "", "| recipe | default | best one-cycle peak | decades | one-cycle lost "
                    "| best constant | decades | constant lost |", "|---|---|---|---|---|---|---|---|"] + placed
    return "\n".join(out[:intro] + summary + [""] + out[intro:])


if __name__ == "__main__":
    publish(RESULTS, report(load_json(CACHE)))
