"""Does the finder's held-out signal give better advice than the training curve? (issue 17)

``find(valid_data=..., valid_every=k)`` evaluates a fixed held-out set every ``k`` iterations of
the sweep (``docs/suggestions.md``, "The held-out signal"), and ``suggest(source="valid")``
reads the rules on that curve. Nothing had judged it against the advice benchmark's oracle.

This script repeats every sweep of the recipes made here (``recipes.py``: 24 recipes, 5 data
orders, the cached sweeps' settings) with the recipe's validation split as ``valid_data``,
every iteration (``valid_every=1``) and, read every 5th point, as the default ``valid_every=5``
would give it. The training curve should come out as the cached one (the signal does not touch
training, up to the float rounding of convolutional nets under oneDNN); the script lists the
sweeps where it does not. It then scores, on the
oracle of ``score.py`` (interpolated regret against the best one-cycle peak and the best
constant):

* the package on the training curve (what ships);
* the package's rules on the held-out curve (``suggest_range(source="valid")``,
  ``suggest(source="valid")``), every iteration and every 5th;
* the training curve's answers moved by where the held-out curve's minimum lies against the
  training curve's: ``answer * (m_valid / m_train) ** b``, ``b`` chosen per family left out.

The held-out set is the validation split the oracle scores on, as a user would pass the set
they judge training by: an optimistic setting for the signal.

Every sweep is cached in ``benchmarks/data/advice_valid_sweeps.json``; a rerun sweeps only
what is missing. Run from the repository root (the sweeps: about 2 minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/valid_signal.py

writes ``benchmarks/results/advice_valid_signal.md``.
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import numpy as np  # noqa: E402

from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import load_json, publish, save_json  # noqa: E402

CACHE = common.data_path("advice_valid_sweeps.json")
RESULTS = common.results_path("advice_valid_signal.md")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/valid_signal.py"
#: ``b`` of the moved answers, chosen per family left out.
EXPONENTS = (0.0, 0.25, 0.5, 0.75, 1.0)

Answer = Callable[..., Tuple[float, float]]


def fill(names: Sequence[str]) -> Dict[str, Any]:
    """Every sweep of ``names`` with the held-out signal every iteration (cached)."""
    from benchmarks.advice import recipes as rcp

    cache = load_json(CACHE)
    sweeps = load_json(SC.SWEEPS)
    for name in names:
        seeds = [c["seed"] for c in sweeps[name]["curves"]]
        if name in cache and [c["seed"] for c in cache[name]["curves"]] == seeds:
            continue
        started = time.time()
        curves = [rcp.setup(rcp.SPEC_BY_NAME[name]).sweep(seed, valid_every=1) for seed in seeds]
        cache[name] = {"curves": curves, "seconds": time.time() - started}
        save_json(CACHE, cache, indent=0)
        print(f"{name}: {time.time() - started:.0f} s", flush=True)
    return cache


def same_training_curve(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    return a["lrs"] == b["lrs"] and a["losses"] == b["losses"]


def held_out_curve(sweep: Dict[str, Any], cut_lrs: np.ndarray, every: int) -> Tuple[np.ndarray, np.ndarray]:
    """The held-out curve up to where the training curve was cut, every ``every``-th point."""
    lrs = np.asarray(sweep["valid_lrs"][every - 1::every], dtype=np.float64)
    losses = np.asarray([math.nan if v is None else v for v in sweep["valid_losses"][every - 1::every]],
                        dtype=np.float64)
    keep = lrs <= cut_lrs[-1] * (1 + 1e-9)
    return lrs[keep], losses[keep]


def on_held_out(every: int, valid: Dict[str, List[Dict[str, Any]]], bench: SC.Bench) -> Answer:
    """The package's rules read on the held-out curve (``source="valid"``); the training curve's
    answer where the held-out curve has too few points."""

    def answer(r: SC.Recipe, c: SC.Curve, e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
        sweep = valid[r.name][_index(r, raw)]
        lrs, losses = held_out_curve(sweep, raw[0], every)
        if not SC.SM.enough_points(lrs, losses):
            return bench.package(r, c, e, raw)
        v = SC.Curve.of(lrs, losses, True)
        return SC.package_advice(v, v, r.optimizer, (lrs, losses))
    return answer


def moved(b: float, valid: Dict[str, List[Dict[str, Any]]], bench: SC.Bench) -> Answer:
    """The training curve's answers times ``(m_valid / m_train) ** b``."""

    def answer(r: SC.Recipe, c: SC.Curve, e: SC.Curve, raw: Tuple[np.ndarray, np.ndarray]) -> Tuple[float, float]:
        peak, const = bench.package(r, c, e, raw)
        lrs, losses = held_out_curve(valid[r.name][_index(r, raw)], raw[0], 1)
        if b == 0.0 or not SC.SM.enough_points(lrs, losses):
            return peak, const
        factor = (SC.Curve.of(lrs, losses, True).minimum / e.minimum) ** b
        return peak * factor, const * factor
    return answer


def where_held_out_is_lowest(recipes: List[SC.Recipe], valid: Dict[str, List[Dict[str, Any]]],
                             bench: SC.Bench) -> List[str]:
    """Per recipe, the held-out curve's minimum (every iteration; median over the sweeps) against
    the package's ``suggest()`` and the best constant rate: does a sweep's held-out loss see a
    best rate set by overfitting over the whole training run?"""
    out = ["## Where a sweep's held-out loss is lowest", "",
           "| recipe | held-out minimum (median) | `suggest()` (median) | best constant | held-out minimum / best |",
           "|---|---|---|---|---|"]
    for r in recipes:
        lows, answers = [], []
        for c, e, raw in bench.curves[r.name]:
            lrs, losses = held_out_curve(valid[r.name][_index(r, raw)], raw[0], 1)
            if SC.SM.enough_points(lrs, losses):
                lows.append(SC.Curve.of(lrs, losses, True).minimum)
            answers.append(bench.package(r, c, e, raw)[1])
        if lows and r.constant is not None:
            low = float(np.median(lows))
            out.append(f"| {r.name} | {low:.3g} | {float(np.median(answers)):.3g} | {r.constant.best_lr:.3g} "
                       f"| {low / r.constant.best_lr:.2g} |")
    return out + [""]


def _index(r: SC.Recipe, raw: Tuple[np.ndarray, np.ndarray]) -> int:
    """Which of the recipe's searches ``raw`` is (the benchmark keeps them in seed order)."""
    for i, (lrs, _losses) in enumerate(r.searches):
        if lrs is raw[0]:
            return i
    raise KeyError(r.name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from benchmarks.advice import recipes as rcp

    started = time.time()
    recipes = [r for r in SC.load_recipes() if r.name in rcp.SPEC_BY_NAME]
    cache = fill([r.name for r in recipes])
    sweeps = load_json(SC.SWEEPS)
    differ = [r.name for r in recipes for a, b in zip(cache[r.name]["curves"], sweeps[r.name]["curves"])
              if not same_training_curve(a, b)]
    valid = {r.name: cache[r.name]["curves"] for r in recipes}
    bench = SC.Bench(recipes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = {"the package, training curve (shipped)": bench.score_answers(bench.package),
                "the package's rules on the held-out curve, every iteration": bench.score_answers(
                    on_held_out(1, valid, bench)),
                "the package's rules on the held-out curve, every 5th (valid_every=5)": bench.score_answers(
                    on_held_out(5, valid, bench))}
        members = [("moved", {"b": b}) for b in EXPONENTS]
        per = [bench.score_answers(moved(b, valid, bench)) for b in EXPONENTS]
    held, picks, inside = SC.lofo(bench, members, per)
    rows["training answers moved by the held-out minimum, held out"] = held
    rows["training answers moved by the held-out minimum, in-sample"] = inside
    chosen = sorted({p[1]["b"] for f, p in picks.items() if f != "(all recipes)"})

    lines = ["# The held-out signal against the advice oracle", "",
             f"`{COMMAND}`; see the module docstring. {len(recipes)} recipes made here, "
             f"{sum(len(r.searches) for r in recipes)} searches. Training curves that differ from the cached "
             f"sweeps: {len(differ)} ({', '.join(sorted(set(differ))) or 'none'}: under MXNet's oneDNN backend the "
             "held-out forward passes of a convolutional net change the rounding of later training steps, "
             "`docs/suggestions.md`, \"The held-out signal\"). The answers below read the training curves of the "
             "cached sweeps, and the held-out curves of these.", ""] + SC.HEAD
    lines += [SC.row(label, scored) for label, scored in rows.items()]
    lines += ["", f"Exponent `b` chosen per family left out: {', '.join(str(b) for b in chosen)}; on all "
              f"recipes: {picks['(all recipes)'][1]['b']}.", ""]
    lines += where_held_out_is_lowest(recipes, valid, bench)
    lines += [f"Wall time: {(time.time() - started) / 60:.1f} min.", ""]
    publish(RESULTS, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
