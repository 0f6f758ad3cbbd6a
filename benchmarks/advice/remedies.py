"""Do the flags' remedies work? A short bracket of trainings and the median of five sweeps.

The warnings tell a user to train a short bracket around the answer (the answer / 3, the answer,
the answer x 3, "for a few hundred iterations") and keep the best, and on a noisy curve to run
``find_repeated(5)`` and use its median. Per search of the 24 recipes of ``recipes.py`` (the
real-script recipes need their own virtualenv and are left out), with the package's answers
(``suggest()`` for the constant, ``suggest_range()``'s top for the one-cycle):

* **the answer alone**;
* **the median of the recipe's five sweeps** (what ``find_repeated(5)`` answers);
* **a full bracket**: the three rates trained at the recipe's whole budget on data order 0 (the
  oracle's own runs), the lowest validation loss kept;
* **a short bracket**: the three constant rates trained for a quarter or half of the budget on data
  order 0 (``Setup.train``, cached in ``benchmarks/data/advice_remedies.json``), the lowest validation
  loss kept; the factor it picks moves both answers;
* **following the flags**: a bracket (short or full) where ``suggest()`` warns (any flag), the
  answer elsewhere.

Every answer is scored on data orders 1 and 2 only, against their own best (the share of the
achievable improvement lost), so that the bracket's pick on order 0 is not scored on the runs it
read.

Run from the repository root (the short trainings: about 3 minutes of one core, once; then
seconds from the cache)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/remedies.py [--score]

writes ``benchmarks/results/advice_remedies.md`` (the command and the wall time are in it).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import median_reach as MR  # noqa: E402
from benchmarks.advice import recipes as rcp  # noqa: E402
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.advice.noise_floor import improvement_lost  # noqa: E402
from benchmarks.advice.recipe import constant  # noqa: E402
from benchmarks.advice.scale_free import table_of  # noqa: E402
from benchmarks.common import load_json, publish, save_json  # noqa: E402

CACHE = common.data_path("advice_remedies.json")
RESULTS = common.results_path("advice_remedies.md")
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/remedies.py"
FACTORS = (1 / 3, 1.0, 3.0)
SHORTS = (0.25, 0.5)  # shares of the budget a short bracket trains
PICK_ORDER, SCORE_ORDERS = 0, (1, 2)


def short_loss(cache: Dict[str, float], name: str, share: float, lr: float, train: bool) -> float:
    """Validation loss after ``share`` of the recipe's budget at the constant ``lr`` (data order 0)."""
    key = f"{name} | {share:g} | {lr:.5g}"
    if key not in cache:
        if not train:
            raise KeyError(f"not in {CACHE}: {key} (run without --score)")
        spec = rcp.SPEC_BY_NAME[name]
        out = rcp.setup(spec).train(PICK_ORDER, constant(lr), max(1, int(share * spec["budget"])))
        cache[key] = float(out["loss"]) if math.isfinite(out["loss"]) else None  # type: ignore[assignment]
        save_json(CACHE, cache, indent=0)
    value = cache[key]
    return math.inf if value is None else float(value)


def pick(losses: Sequence[float]) -> float:
    """The bracket's factor with the lowest loss (the answer itself when nothing trained)."""
    finite = [(loss, f) for loss, f in zip(losses, FACTORS) if math.isfinite(loss)]
    return min(finite)[1] if finite else 1.0


def cell(v: np.ndarray) -> str:
    return (f"{100 * np.median(v):.2f}% / {100 * v.mean():.2f}% / {100 * v.max():.1f}% "
            f"| {int(np.sum(v > 0.10))}/{v.size}")


def report(started: float, train: bool) -> str:
    by, rec, names = MR.load()
    names = [n for n in names if n in rcp.SPEC_BY_NAME]
    cache = load_json(CACHE)
    rows: Dict[str, Dict[str, List[float]]] = {}
    flagged: List[bool] = []
    factors: Dict[float, List[float]] = {share: [] for share in SHORTS}

    def add(label: str, kind: str, value: float) -> None:
        rows.setdefault(label, {k: [] for k in MR.KINDS})[kind].append(value)

    for n in names:
        r = rec[n]
        tables = {kind: table_of(r, kind) for kind in MR.KINDS}
        scored = {kind: t.seeds(list(SCORE_ORDERS)) for kind, t in tables.items()}
        pick_on = tables["constant"].seeds([PICK_ORDER])
        medians = {"one-cycle": float(np.median([s.top for s in by[n]])),
                   "constant": float(np.median([s.const for s in by[n]]))}
        for s in by[n]:
            answers = {"one-cycle": s.top, "constant": s.const}
            shorts = {share: pick([short_loss(cache, n, share, s.const * f, train) for f in FACTORS])
                      for share in SHORTS}
            full = pick([pick_on.loss_at(s.const * f) for f in FACTORS])
            warned = bool(s.flags)
            flagged.append(warned)
            for share, short in shorts.items():
                factors[share].append(short)
            for kind in MR.KINDS:
                def lost(lr: float, kind: str = kind, scored: Dict[str, SC.Table] = scored) -> float:
                    return improvement_lost(scored[kind], lr)
                a = answers[kind]
                add("the answer alone", kind, lost(a))
                add("the median of the recipe's five sweeps (`find_repeated(5)`)", kind, lost(medians[kind]))
                add("a full bracket (1/3, 1, 3 x the answer at the whole budget, picked on data order 0)", kind,
                    lost(a * full))
                for share, short in shorts.items():
                    add(f"a short bracket ({share:g} of the budget, constant, picked on data order 0)", kind,
                        lost(a * short))
                for share, short in shorts.items():
                    add(f"following the flags (the {share:g} bracket where `suggest()` warns)", kind,
                        lost(a * short) if warned else lost(a))
                add("following the flags (the full bracket where `suggest()` warns)", kind,
                    lost(a * full) if warned else lost(a))
    warned = np.array(flagged)
    out = ["# Do the flags' remedies work?", "",
           f"`{COMMAND}` (see the module docstring). {len(names)} recipes, {warned.size} searches; every answer "
           "scored on data orders 1 and 2 against their own best (share of the achievable improvement lost).", "",
           "| answer | one-cycle: share lost median / mean / worst | over 10% "
           "| constant: share lost median / mean / worst | over 10% |", "|---|---|---|---|---|"]
    for label, got in rows.items():
        out.append(f"| {label} | {cell(np.array(got['one-cycle']))} | {cell(np.array(got['constant']))} |")
    out += ["", f"On the {int(warned.sum())} searches where `suggest()` warns:", "",
            "| answer | one-cycle | over 10% | constant | over 10% |", "|---|---|---|---|---|"]
    for label, got in rows.items():
        out.append(f"| {label} | {cell(np.array(got['one-cycle'])[warned])} "
                   f"| {cell(np.array(got['constant'])[warned])} |")
    out += ["", "The short brackets' picks (the answer / 3, the answer, x 3): " + "; ".join(
        f"{share:g} of the budget " + ", ".join(str(int(np.sum(np.isclose(f, v)))) for v in FACTORS)
        for share, f in ((share, np.array(v)) for share, v in factors.items())) + f" of {warned.size}.",
            "", f"Wall time: {time.time() - started:.0f} s.", ""]
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score", action="store_true", help="only re-score the cache (no training)")
    args = parser.parse_args(argv)
    publish(RESULTS, report(time.time(), not args.score))
    return 0


if __name__ == "__main__":
    sys.exit(main())
