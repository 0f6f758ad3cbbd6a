"""What a curve-reading rule could see on the searches the advice wrecks (no MXNet; seconds).

For every search of the advice benchmark (``score.py``'s caches), the shape features the rules
read from the curve, next to the package's one-cycle and constant regret and the flags
``report()`` raises:

* ``width``: the fall width in decades (``core.edge.fall_width``);
* ``min / top``: decades from the range's top to the curve's minimum;
* ``loss(top) / loss(min)``: how much further the smoothed loss falls above the range's top;
* ``edge / top``: how far the edge of stability lies above the top (inf: no edge).

It then asks whether any single feature separates the recipes whose best peak sits far above the
range (too low) from those where the range is right: for each feature, the best threshold's
count of misclassified searches among the package's non-wrecked and too-low-wrecked searches.
And it counts the wrecked searches that no flag marks (a user following the advice gets no
warning there).

Run from the repository root::

    .venv/bin/python benchmarks/advice/features.py

writes ``benchmarks/results/advice_features.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import publish  # noqa: E402
from gluon_lrfinder.core.report import diagnose  # noqa: E402
from gluon_lrfinder.core.smoothing import enough_points  # noqa: E402

RESULTS = common.results_path("advice_features.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/features.py"
FEATURES = ("width", "min / top", "loss(top) / loss(min)", "edge / top")


def rows() -> List[Dict[str, object]]:
    recipes = SC.load_recipes()
    bench = SC.Bench(recipes)
    out: List[Dict[str, object]] = []
    for r in recipes:
        for c, e, (lrs, losses) in bench.curves[r.name]:
            peak, const = bench.package(r, c, e, (lrs, losses))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                flags = [f.split(":")[0] for f in diagnose(lrs, losses)] if enough_points(lrs, losses) else []
            row: Dict[str, object] = {
                "recipe": r.name, "family": r.family, "optimizer": r.optimizer,
                "one_cycle": r.one_cycle.regret(peak),
                "constant": r.constant.regret(const) if r.constant is not None else math.nan,
                "direction": "low" if peak < r.one_cycle.best_lr else "high", "flags": flags,
            }
            if e.ok:
                i_top = int(np.argmin(np.abs(np.log10(e.lrs) - math.log10(peak))))
                i_min = int(np.argmin(np.abs(e.lrs - e.minimum)))
                row.update({"width": SC.fall_width(e), "min / top": math.log10(e.minimum / peak),
                            "loss(top) / loss(min)": float(e.smooth[i_top] / e.smooth[i_min]),
                            "edge / top": e.edge / peak})
            out.append(row)
    return out


def wrecked(row: Dict[str, object]) -> bool:
    return max(float(row["one_cycle"]), float(np.nan_to_num(row["constant"]))) > SC.WRECKED - 1


def separability(data: Sequence[Dict[str, object]], feature: str) -> str:
    """Fewest searches misclassified by one threshold on ``feature`` (either direction), between
    the searches wrecked with the range too low and the searches not wrecked."""
    pos = [float(d[feature]) for d in data if feature in d and wrecked(d) and d["direction"] == "low"]
    neg = [float(d[feature]) for d in data if feature in d and not wrecked(d)]
    values = sorted(set(v for v in pos + neg if math.isfinite(v)))
    best = len(pos) + len(neg)
    for t in values:
        above = sum(v >= t for v in pos) + sum(v < t for v in neg)
        below = sum(v < t for v in pos) + sum(v >= t for v in neg)
        best = min(best, len(pos) + len(neg) - max(above, below))
    return f"{best} of {len(pos) + len(neg)} ({len(pos)} too low and wrecked, {len(neg)} not wrecked)"


def relaxed_caps() -> List[str]:
    """The shipped family ("by optimizer, and a broad fall by its shape") at its shipped parameters,
    with the caps relaxed; rows in ``score.row``'s layout."""
    from gluon_lrfinder.core import edge as E

    bench = SC.Bench(SC.load_recipes())
    _, make = SC.candidate_rules()["by optimizer, and a broad fall by its shape"]
    shipped = {"width": E.BROAD_FALL_DECADES, "f_broad": E.RANGE_FRACTION_BROAD,
               "f_ema": E.RANGE_FRACTION_BY_KIND["ema_normalised"], "f_other": E.RANGE_FRACTION_BY_KIND["other"],
               "cap": E.RANGE_CAP, "margin": E.EDGE_MARGIN, "k": E.SUGGEST_DIVISOR}
    out = []
    for cap, margin, f_broad in ((E.RANGE_CAP, E.EDGE_MARGIN, E.RANGE_FRACTION_BROAD), (2.0, 1.25, 0.75),
                                 (1.5, 1.25, 0.45), (1.5, 0.8, 0.75), (1.0, 1.25, 0.45), (1.0, 1.0, 0.75),
                                 (1.0, 0.8, 1.0)):
        params = dict(shipped, cap=cap, margin=margin, f_broad=f_broad)
        row = SC.row("", bench.score(make(params)))
        out.append(f"| {cap:g} | {margin:g} | {f_broad:g} " + row[len("| "):].lstrip())
    return out


def report(started: float) -> str:
    data = rows()
    lines = ["# What the curve shows on the wrecked searches", "", f"`{COMMAND}`; see the module docstring.", "",
             "## The wrecked searches (one-cycle or constant regret > 1)", "",
             "| recipe | one-cycle / constant regret | range | " + " | ".join(FEATURES) + " | flags |",
             "|---|---|---|" + "---|" * len(FEATURES) + "---|"]
    for d in data:
        if not wrecked(d):
            continue
        feats = " | ".join(f"{float(d[f]):.2f}" if f in d else "-" for f in FEATURES)
        lines.append(f"| {d['recipe']} | {float(d['one_cycle']):.2f} / {float(d['constant']):.2f} | "
                     f"too {d['direction']} | {feats} | {', '.join(d['flags']) or 'none'} |")
    silent = [d for d in data if wrecked(d) and not d["flags"]]
    n_wrecked = sum(wrecked(d) for d in data)
    flagged = sum(bool(d["flags"]) for d in data)
    lines += ["", f"Wrecked searches: {n_wrecked} of {len(data)}; with no flag: {len(silent)} "
              f"({', '.join(sorted({str(d['recipe']) for d in silent}))}). Searches flagged at all: {flagged}.", "",
              "## Feature ranges per recipe (min .. max over its searches)", "",
              "| recipe | optimizer | one-cycle regret (mean) | " + " | ".join(FEATURES) + " |",
              "|---|---|---|" + "---|" * len(FEATURES)]
    names: List[str] = []
    for d in data:
        if d["recipe"] not in names:
            names.append(str(d["recipe"]))
    for name in names:
        group = [d for d in data if d["recipe"] == name]
        cells = []
        for f in FEATURES:
            vals = [float(d[f]) for d in group if f in d]
            cells.append(f"{min(vals):.2f} .. {max(vals):.2f}" if vals else "-")
        lines.append(f"| {name} | {group[0]['optimizer']} | {np.mean([float(d['one_cycle']) for d in group]):.2f} | "
                     + " | ".join(cells) + " |")
    lines += ["", "## Does one feature separate the too-low wrecks from the rest?", "",
              "| feature | fewest misclassified by one threshold |", "|---|---|"]
    for f in FEATURES:
        lines.append(f"| {f} | {separability(data, f)} |")
    lines += ["", "## Relaxing the caps (the too-low wrecks sit at the cap m / 2)", "",
              "The shipped range family and parameters, with the cap at the minimum (`m / cap`), the margin",
              "below the edge (`edge / margin`; below 1: past the edge) and the broad fall's fraction varied",
              "(in-sample: the point is whether any relaxation lowers the wrecked count at all).", "",
              "| cap | margin | f_broad | one-cycle regret median / mean / worst | wrecked | in 25% band | "
              "decades off | constant regret median / mean / worst | wrecked | in 25% band | decades off |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += relaxed_caps()
    lines += ["", f"Wall time: {time.time() - started:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    started = time.time()
    text = report(started)
    publish(RESULTS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
