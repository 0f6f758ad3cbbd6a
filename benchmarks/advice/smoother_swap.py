"""What if the rules read another smoothed curve? The advice benchmark with the curve swapped.

``score.py``'s scoring (the cached oracle, 127 searches cut where the default stopping rule
stops) with the curve the rules read (``core.smoothing.smoothed_curve``) replaced for each
variant: today's ``zero_phase``, and
``robust_local_linear`` (the faithful LOWESS of ``benchmarks/smoothing_fidelity.py``) at a few
window widths; one more variant holds the first 10 points of the faithful curve at the value of
the 10th (the rules then ignore the sweep's first iterations, as the ``ema_steepest`` baseline
does). Rows: the package's default answers (``suggest_range()`` top, ``suggest()``) and the rule
``score.py`` chooses leaving one family of recipes out (its candidate families re-tuned on the
other families for each family left out); below each, the share of the achievable improvement the
package's answers give up, ``(loss - best) / (untrained - best)`` (``noise_floor.py``, question 7).
No MXNet; about a minute per variant. Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/smoother_swap.py

writes ``benchmarks/results/advice_smoother_swap.md``.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice import noise_floor as NF  # noqa: E402
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import RESULTS as RESULTS_DIR  # noqa: E402
from benchmarks.common import publish  # noqa: E402
from gluon_lrfinder.core import smoothing  # noqa: E402
from gluon_lrfinder.core.smoothing import robust_local_linear, zero_phase  # noqa: E402

RESULTS = os.path.join(RESULTS_DIR, "advice_smoother_swap.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/smoother_swap.py"
SKIP = 10
Curve = Callable[..., np.ndarray]


def faithful(width: float, skip: int = 0) -> Curve:
    def curve(lrs: np.ndarray, losses: np.ndarray, bandwidth: Optional[float] = None) -> np.ndarray:
        if bandwidth is not None:
            return zero_phase(lrs, losses, bandwidth)
        out = robust_local_linear(lrs, losses, width)
        if skip and out.size > skip:
            out[:skip] = out[skip]
        return out
    return curve


VARIANTS: Dict[str, Curve] = {
    "zero_phase (today)": zero_phase,
    "robust_local_linear, 0.1 decades (its defaults)": faithful(0.1),
    "robust_local_linear, 0.5 decades": faithful(0.5),
    "robust_local_linear, 1.0 decades": faithful(1.0),
    f"robust_local_linear, 0.1 decades, first {SKIP} points flat": faithful(0.1, SKIP),
    f"robust_local_linear, 0.5 decades, first {SKIP} points flat": faithful(0.5, SKIP),
}


def lost_cells(bench: SC.Bench) -> List[str]:
    lost: Dict[str, List[float]] = {"one-cycle": [], "constant": []}
    for r in bench.recipes:
        for c, e, raw in bench.curves[r.name]:
            peak, const = bench.package(r, c, e, raw)
            lost["one-cycle"].append(NF.improvement_lost(r.one_cycle, peak))
            if r.constant is not None:
                lost["constant"].append(NF.improvement_lost(r.constant, const))
    return [f"{np.median(v):.4f} / {np.mean(v):.3f} / {int(np.sum(np.asarray(v) > 0.25))}/{len(v)}"
            for v in lost.values()]


def report(started: float) -> str:
    recipes = SC.load_recipes()
    out = ["# The advice benchmark with the rules reading another smoothed curve", "",
           f"`{COMMAND}`; see the module docstring. {len(recipes)} recipes, "
           f"{sum(len(r.searches) for r in recipes)} searches.", ""] + SC.HEAD
    lost_rows = ["", "Share of the achievable improvement the package's answers give up: median / mean / "
                 "searches above 25%.", "", "| curve the rules read | one-cycle | constant | objective: "
                 "package / held out |", "|---|---|---|---|"]
    saved = smoothing.zero_phase  # what smoothing.smoothed_curve, the rules' one curve, calls
    try:
        for name, curve in VARIANTS.items():
            smoothing.zero_phase = curve
            bench = SC.Bench(recipes)
            package = bench.score_answers(bench.package)
            members, per = [], []
            for family in SC.candidate_rules():
                m, p = SC.score_members(bench, [family])
                members += m
                per += p
            held, _, _ = SC.lofo(bench, members, per)
            out += [SC.row(f"{name}: the package's default", package),
                    SC.row(f"{name}: held out (leave one family out)", held)]
            lost_rows.append(f"| {name} | " + " | ".join(lost_cells(bench))
                             + f" | {SC.objective(package):.3f} / {SC.objective(held):.3f} |")
    finally:
        smoothing.zero_phase = saved
    out += lost_rows + ["", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main() -> int:
    publish(RESULTS, report(time.time()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
