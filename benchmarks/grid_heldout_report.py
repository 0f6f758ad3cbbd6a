"""The Markdown report of ``grid_heldout.py`` from its cache."""
from __future__ import annotations

import math
import os
import statistics
import sys
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root


# isort: split


from benchmarks.grid_heldout_recipes import (  # noqa: E402
    MOMENTUM,
    RECIPES,
    REPEATS,
    RULES,
    SWEEP,
    TRAIN_SEEDS,
    WEIGHT_DECAY,
    Cache,
    _key,
    _sgd_like,
)


# ---------------------------------------------------------------------------------- report
def _mean_loss(unit: Dict[str, Any], index: int, lr: Optional[float]) -> float:
    """Mean validation loss over the data orders; a diverged run counts as the untrained model's loss."""
    values = []
    for s in TRAIN_SEEDS:
        value = unit["train"].get(_key(unit["rows"][index], lr, s))
        if value is None and _key(unit["rows"][index], lr, s) not in unit["train"]:
            return math.nan  # not trained yet
        values.append(unit["initial_loss"] if value is None else value)
    return statistics.fmean(values)


def _diverged(unit: Dict[str, Any], index: int, lr: Optional[float]) -> int:
    return sum(unit["train"].get(_key(unit["rows"][index], lr, s), 0.0) is None for s in TRAIN_SEEDS)


def _describe(row: Dict[str, Any]) -> str:
    return f"{row['weight_decay']:g}, {row['momentum']:g}"


def report(cache: Cache) -> str:
    order = {spec["name"]: k for k, spec in enumerate(RECIPES)}
    units = sorted(((name, u) for name, u in cache.data.items() if "picks" in u  # finished units only
                    and all(math.isfinite(_mean_loss(u, p["index"], p["lr"])) for p in u["picks"].values())),
                   key=lambda item: (order.get(item[1]["spec"]["name"], len(order)), item[0]))
    lines = ["# Held-out benchmark of the weight-decay / momentum advice (issue 20)", "",
             f"Grid: weight decay {WEIGHT_DECAY} plus the recipe's own x momentum/beta1 {MOMENTUM} plus its own, "
             f"repeats={REPEATS}, sweep {SWEEP['lr_start']:g} .. {SWEEP['lr_end']:g}; each pick trained at a "
             f"constant rate for the recipe's budget over {len(TRAIN_SEEDS)} data orders; ratio = mean validation "
             "loss of the pick / that of the current values at the finder's suggestion for them. A diverged "
             "training counts as the untrained model's loss.", ""]
    froms = [u["rows_from"] for _, u in units if "rows_from" in u]
    if froms:
        lines += [f"Learning rates: every row's suggestion recomputed with the rule `{froms[0]['method']}` from the "
                  f"sweep curves cached in `{froms[0]['cache']}` (no new sweep); "
                  f"{sum(f['changed'] for f in froms)} of {sum(len(u['rows']) for _, u in units)} rows moved, the "
                  "others kept their cached rate and its trainings.", ""]
    for run in cache.data.get("_invocations", []):
        lines += [f"Command: `{run['command']}` ({run['date']}). Wall time {run['seconds'] / 60:.1f} min, "
                  f"{run['trainings']} new trainings.", ""]
    lines += ["| recipe | family | current (wd, m) | finder's lr | valid loss | "
              + " | ".join(f"{r}: pick, ratio" for r in RULES if r != "keep") + " |",
              "|---|---|---|---|---|" + "---|" * (len(RULES) - 1)]
    ratios: Dict[str, List[float]] = {r: [] for r in RULES}
    changed: Dict[str, int] = {r: 0 for r in RULES}
    for name, u in units:
        cur = u["current"]
        base = _mean_loss(u, cur, u["rows"][cur]["lr"])
        cells = []
        for rule in RULES:
            p = u["picks"][rule]
            value = _mean_loss(u, p["index"], p["lr"])
            ratio = value / base
            ratios[rule].append(ratio)
            changed[rule] += p["index"] != cur
            if rule == "keep":
                continue
            div = _diverged(u, p["index"], p["lr"])
            lr = "-" if p["lr"] is None else f"{p['lr']:.3g}"
            note = " (rejected)" if p.get("rejected") else ""
            cells.append(f"{_describe(u['rows'][p['index']])} @ {lr}{note}: **{ratio:.2f}**"
                         + (f" ({div}/{len(TRAIN_SEEDS)} diverged)" if div else ""))
        spec = u["spec"]
        lr_cur = u["rows"][cur]["lr"]
        lines.append(f"| {name} | {spec['family']} | {_describe(u['rows'][cur])} | "
                     f"{'-' if lr_cur is None else f'{lr_cur:.3g}'} | {base:.4g} | " + " | ".join(cells) + " |")
    hindsight = []
    for _, u in units:
        if u.get("hindsight_done"):
            cur = u["current"]
            base = _mean_loss(u, cur, u["rows"][cur]["lr"])
            hindsight.append(min(_mean_loss(u, i, r["lr"]) for i, r in enumerate(u["rows"])) / base)
    lines += ["", "| rule | changed the values | geometric mean | worst | runs worse than 1.10 | "
              "geometric mean over the runs it changed |", "|---|---|---|---|---|---|"]

    def gmean(xs: Sequence[float]) -> str:
        return f"{math.exp(statistics.fmean(math.log(x) for x in xs)):.2f}" if xs else "-"

    for rule in RULES:
        xs = [x for x in ratios[rule] if math.isfinite(x)]
        if not xs:
            continue
        moved = [x for x, (_, u) in zip(ratios[rule], units)
                 if math.isfinite(x) and u["picks"][rule]["index"] != u["current"]]
        lines.append(f"| {rule} | {changed[rule]} of {len(xs)} | {gmean(xs)} | {max(xs):.2f} | "
                     f"{sum(x > 1.10 for x in xs)} | {gmean(moved)} |")
    if hindsight:
        lines.append(f"| best combination in hindsight (each trained at its own suggestion; {len(hindsight)} of "
                     f"{len(units)} runs) | - | {gmean(hindsight)} | {max(hindsight):.2f} | - | - |")
    families = sorted({u["spec"]["family"] for _, u in units})
    lines += ["", "Per family (geometric mean of the ratio over its runs):", "",
              "| rule | " + " | ".join(families) + " |", "|---|" + "---|" * len(families)]
    for rule in RULES:
        cells = [gmean([x for x, (_, u) in zip(ratios[rule], units) if u["spec"]["family"] == fam
                        and math.isfinite(x)]) for fam in families]
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    # what the sweep said about momentum: lowest loss and suggested lr against the current momentum
    lines += ["", "## What the sweep says about momentum at the current weight decay", "",
              "| recipe | momentum | suggested lr | x current's | effective step x current's "
              "| lowest loss x current's |",
              "|---|---|---|---|---|---|"]
    for name, u in units:
        cur = u["rows"][u["current"]]
        for r in u["rows"]:
            if r["weight_decay"] != cur["weight_decay"] or r is cur or r["lr"] is None or cur["lr"] is None:
                continue
            eff = (r["lr"] / (1 - r["momentum"])) / (cur["lr"] / (1 - cur["momentum"]))
            effective = f"{eff:.2f}" if _sgd_like(u["spec"]) else "n/a (Adam: beta1 does not scale the step)"
            lines.append(f"| {name} | {r['momentum']:g} (current {cur['momentum']:g}) | {r['lr']:.3g} | "
                         f"{r['lr'] / cur['lr']:.2f} | {effective} | {r['lowest_loss'] / cur['lowest_loss']:.2f} |")
    # costs
    lines += ["", "## Cost", ""]
    for name, u in units:
        budget = u["spec"]["budget"]
        confirm = [v for k, v in u["train_seconds"].items() if k.startswith("confirm")]
        full = [v for k, v in u["train_seconds"].items() if not k.startswith("confirm")]
        lines.append(f"- {name}: grid {u['iterations']} iterations ({u['seconds']:.0f} s); one training "
                     f"{budget} iterations (~{statistics.fmean(full):.0f} s)"
                     + (f"; confirmation check 2 x {budget // 4} iterations (~{sum(confirm):.0f} s, "
                        f"{2 * (budget // 4) / u['iterations']:.0%} of the grid's iterations)" if confirm else
                        "; no confirmation check needed (Smith's pick was the current values)"))
    for name, u in units:
        check = u["picks"]["confirm"].get("check")
        if check:
            lines.append(f"- confirm, {name}: candidate {check['candidate']:.4g} vs current {check['current']:.4g}"
                         f" -> {'rejected' if u['picks']['confirm'].get('rejected') else 'accepted'}")
    return "\n".join(lines) + "\n"


