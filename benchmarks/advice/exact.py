"""How much does the advice benchmark's interpolation move the package's regret? (issue 17)

``score.py`` scores an answer by interpolating the oracle's mean validation loss in log-LR
between the two grid points around it (4 per decade). Next to a cliff (a good point and a
diverged one) that interpolation charges an answer for the diverged neighbour. This script
trains the package's own answers exactly (``suggest_range()``'s top as the one-cycle peak,
``suggest()`` as the constant) on every search of the recipes made here, with the oracle's
schedule, budget and data orders (seeds 0-2), and compares the regret measured there with the
interpolated one. The best loss is the grid's, as in ``score.py`` (an answer off the grid may
beat it: a negative regret). Diverged or worse than untrained counts as untrained.

Every training is cached in ``benchmarks/data/advice_exact.json``; a rerun trains only what is
missing. Run from the repository root (about 30 minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/exact.py

writes ``benchmarks/results/advice_exact.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import load_json, publish, save_json  # noqa: E402

CACHE = common.data_path("advice_exact.json")
RESULTS = common.results_path("advice_exact.md")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/exact.py"
SEEDS = (0, 1, 2)


def exact_loss(cache: Dict[str, Any], spec: Dict[str, Any], kind: str, lr: float) -> List[Optional[float]]:
    from benchmarks.advice import recipes as rcp
    from benchmarks.advice.recipe import schedule

    out = []
    for seed in SEEDS:
        k = f"{spec['name']} | {kind} | {lr:.4g} | seed {seed}"
        if k not in cache:
            budget = spec["budget"]
            lr_at = schedule(kind, lr, budget)
            value = rcp.setup(spec).train(seed, lr_at, budget)["loss"]
            cache[k] = value if math.isfinite(value) else None
            save_json(CACHE, cache, indent=0)
        out.append(cache[k])
    return out


def regret(table: SC.Table, losses: Sequence[Optional[float]]) -> float:
    return table.mean_of(losses) / table.best_loss - 1.0


def main(argv: Optional[Sequence[str]] = None) -> int:
    from benchmarks.advice import recipes as rcp

    started = time.time()
    recipes = [r for r in SC.load_recipes() if r.name in rcp.SPEC_BY_NAME]
    bench = SC.Bench(recipes)
    cache = load_json(CACHE)
    rows: Dict[str, Dict[str, List[float]]] = {}
    for r in recipes:
        spec = rcp.SPEC_BY_NAME[r.name]
        got = rows.setdefault(r.name, {"oc_interp": [], "oc_exact": [], "c_interp": [], "c_exact": []})
        for c, e, raw in bench.curves[r.name]:
            peak, const = bench.package(r, c, e, raw)
            got["oc_interp"].append(r.one_cycle.regret(peak))
            got["oc_exact"].append(regret(r.one_cycle, exact_loss(cache, spec, "one_cycle", peak)))
            if r.constant is not None:
                got["c_interp"].append(r.constant.regret(const))
                got["c_exact"].append(regret(r.constant, exact_loss(cache, spec, "constant", const)))
        print(f"{r.name}: one-cycle {np.mean(got['oc_interp']):.2f} -> {np.mean(got['oc_exact']):.2f}, "
              f"constant {np.mean(got['c_interp'] or [math.nan]):.2f} -> {np.mean(got['c_exact'] or [math.nan]):.2f}"
              f" ({(time.time() - started) / 60:.1f} min)", flush=True)

    def stats(key: str) -> str:
        v = np.concatenate([np.asarray(g[key]) for g in rows.values()])
        return (f"{np.median(v):.3f} / {v.mean():.2f} / {v.max():.2f} | {int(np.sum(v > SC.WRECKED - 1))}/{v.size} | "
                f"{int(np.sum(v <= SC.BAND))}/{v.size}")

    lines = ["# The package's answers trained exactly, against the interpolated score", "",
             f"`{COMMAND}`; see the module docstring. {len(recipes)} recipes made here, "
             f"{sum(len(g['oc_exact']) for g in rows.values())} searches.", "",
             "| answer | regret median / mean / worst | wrecked | in 25% band |", "|---|---|---|---|",
             f"| one-cycle, interpolated (score.py) | {stats('oc_interp')} |",
             f"| one-cycle, trained at the answer | {stats('oc_exact')} |",
             f"| constant, interpolated (score.py) | {stats('c_interp')} |",
             f"| constant, trained at the answer | {stats('c_exact')} |", "",
             "| recipe | one-cycle regret interpolated -> exact (mean) "
             "| constant regret interpolated -> exact (mean) |",
             "|---|---|---|"]
    for name, g in rows.items():
        cm = (f"{np.mean(g['c_interp']):.2f} -> {np.mean(g['c_exact']):.2f}" if g["c_exact"] else "-")
        lines.append(f"| {name} | {np.mean(g['oc_interp']):.2f} -> {np.mean(g['oc_exact']):.2f} | {cm} |")
    lines += ["", f"Wall time: {(time.time() - started) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    publish(RESULTS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
