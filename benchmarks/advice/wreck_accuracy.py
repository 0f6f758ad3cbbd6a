"""Are the wrecked searches wrecked in accuracy too? (issue 17)

The advice benchmark calls a search *wrecked* when the validation loss at its answer is more than
twice the best on the oracle's grid. On a classification recipe whose best validation loss is
near zero, twice a tiny loss may still be a perfect classifier. This script retrains, for every
classification recipe with a wrecked search (package advice, ``score.py``'s caches), the
package's answer of each wrecked search and the oracle's best point, with the oracle's schedule,
budget and data orders (seeds 0-2), and reports the validation accuracy next to the loss.

Run from the repository root (about 15 minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/wreck_accuracy.py

writes ``benchmarks/results/advice_wreck_accuracy.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import recipes as rcp  # noqa: E402
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.recipe import schedule  # noqa: E402
from benchmarks.common import publish  # noqa: E402

RESULTS = common.results_path("advice_wreck_accuracy.md")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/wreck_accuracy.py"
SEEDS = (0, 1, 2)


def train(spec: Dict[str, object], kind: str, lr: float) -> Tuple[float, float]:
    """Mean validation loss and accuracy over the oracle's data orders (accuracy: NaN when every
    run diverged; a diverged run does not count)."""
    setup = rcp.setup(spec)
    budget = int(spec["budget"])  # type: ignore[call-overload]
    runs = [setup.train(seed, schedule(kind, lr, budget), budget) for seed in SEEDS]
    accs = [run.get("accuracy", math.nan) if math.isfinite(run["loss"]) else math.nan for run in runs]
    accuracy = float(np.nanmean(accs)) if not all(np.isnan(accs)) else math.nan
    return float(np.mean([run["loss"] for run in runs])), accuracy


def main(argv: Optional[Sequence[str]] = None) -> int:
    started = time.time()
    recipes = SC.load_recipes()
    bench = SC.Bench(recipes)
    lines = ["# Are the wrecked searches wrecked in accuracy too?", "",
             f"`{COMMAND}`; see the module docstring. Validation loss and accuracy: mean over the "
             "oracle's 3 data orders, at the recipe's budget, from its fixed initial weights.", "",
             "| recipe | answer | lr | regret (oracle cache) | validation loss | validation accuracy |",
             "|---|---|---|---|---|---|"]
    for r in recipes:
        spec = rcp.SPEC_BY_NAME.get(r.name)
        if spec is None or rcp.setup(spec).arrays.regression or spec["loss"] != "default":
            continue  # real scripts (their own check reports accuracy) and regression / autoencoders
        wrecked: List[Tuple[str, float, float]] = []
        for c, e, raw in bench.curves[r.name]:
            peak, const = bench.package(r, c, e, raw)
            if r.one_cycle.regret(peak) > SC.WRECKED - 1:
                wrecked.append(("one_cycle", peak, r.one_cycle.regret(peak)))
            if r.constant is not None and r.constant.regret(const) > SC.WRECKED - 1:
                wrecked.append(("constant", const, r.constant.regret(const)))
        if not wrecked:
            continue
        done: Dict[Tuple[str, str], Tuple[float, float]] = {}
        for kind in ("one_cycle", "constant"):
            table = r.one_cycle if kind == "one_cycle" else r.constant
            if table is None or not any(w[0] == kind for w in wrecked):
                continue
            best = table.best_lr
            loss, acc = train(spec, kind, best)
            lines.append(f"| {r.name} | best {kind.replace('_', '-')} | {best:.3g} | 0 | {loss:.4f} | {acc:.3f} |")
            for k, lr, regret in wrecked:
                if k != kind or (k, f"{lr:.3g}") in done:
                    continue
                done[(k, f"{lr:.3g}")] = train(spec, kind, lr)
                loss, acc = done[(k, f"{lr:.3g}")]
                lines.append(f"| {r.name} | package {kind.replace('_', '-')} | {lr:.3g} | {regret:.2f} | "
                             f"{loss:.4f} | {acc:.3f} |")
            print("\n".join(lines[-1 - sum(1 for d in done if d[0] == kind):]), flush=True)
    lines += ["", f"Wall time: {(time.time() - started) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    publish(RESULTS, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
