"""The advice in accuracy points: classification recipes, the package's answers against the best.

The advice benchmark scores validation *loss*. For the classification recipes made here (the
14 regret tasks and the new recipes with a cross-entropy loss) this script trains, with the
oracle's schedule, budget and data orders (seeds 0-2), the package's answers of every search
(``suggest_range()``'s top as the one-cycle peak, ``suggest()`` as the constant) and the oracle's
best-loss point of each schedule, and reports the validation accuracy the answers give up
against that best point (in accuracy points; negative: the answer classifies better).

Every training is cached in ``benchmarks/data/advice_accuracy.json``. Run from the repository
root (about 15 minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/accuracy.py

writes ``benchmarks/results/advice_accuracy.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import recipes as rcp  # noqa: E402
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.wreck_accuracy import train  # noqa: E402
from benchmarks.common import load_json, publish, save_json  # noqa: E402

CACHE = common.data_path("advice_accuracy.json")
RESULTS = common.results_path("advice_accuracy.md")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/accuracy.py"


def measured(cache: Dict[str, List[float]], spec: Dict[str, object], kind: str, lr: float) -> float:
    """Mean validation accuracy over the oracle's data orders (cached)."""
    key = f"{spec['name']} | {kind} | {lr:.4g}"
    if key not in cache:
        loss, acc = train(spec, kind, lr)
        cache[key] = [loss, acc]
        save_json(CACHE, cache, indent=0)
    return float(cache[key][1])


def main(argv: Optional[Sequence[str]] = None) -> int:
    started = time.time()
    recipes = [r for r in SC.load_recipes() if r.name in rcp.SPEC_BY_NAME]
    bench = SC.Bench(recipes)
    cache = load_json(CACHE)
    lost: Dict[str, List[float]] = {"one_cycle": [], "constant": []}
    lines = ["# The advice in accuracy points", "", f"`{COMMAND}`; see the module docstring.", "",
             "| recipe | best one-cycle accuracy | answers: points lost (mean, worst) | best constant accuracy | "
             "answers: points lost (mean, worst) |", "|---|---|---|---|---|"]
    for r in recipes:
        spec = rcp.SPEC_BY_NAME[r.name]
        if rcp.setup(spec).arrays.regression or spec["loss"] != "default" or r.constant is None:
            continue
        cells = [r.name]
        for kind, table in (("one_cycle", r.one_cycle), ("constant", r.constant)):
            best = measured(cache, spec, kind, table.best_lr)
            points = []
            for c, e, raw in bench.curves[r.name]:
                peak, const = bench.package(r, c, e, raw)
                acc = measured(cache, spec, kind, peak if kind == "one_cycle" else const)
                points.append(100 * (best - (0.0 if math.isnan(acc) else acc)))
            lost[kind] += points
            cells += [f"{best:.3f}", f"{np.mean(points):+.1f}, {max(points):+.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines += ["", "| answer | searches | accuracy points lost: median / mean / worst | more than 5 points | "
              "more than 20 points |", "|---|---|---|---|---|"]
    for kind, pts in lost.items():
        v = np.asarray(pts)
        lines.append(f"| {kind.replace('_', '-')} | {v.size} | {np.median(v):+.1f} / {v.mean():+.1f} / "
                     f"{v.max():+.1f} | {int(np.sum(v > 5))} | {int(np.sum(v > 20))} |")
    lines += ["", f"Wall time: {(time.time() - started) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    publish(RESULTS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
