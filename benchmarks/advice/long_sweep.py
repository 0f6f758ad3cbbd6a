"""Does "sweep again with more iterations" help where the loss never fell? (issue 17)

The bag-of-ids embedding recipe's loss never falls within the default sweep (1e-6 to 10, 170
iterations): every rule answers 10-50x too low and ``report()`` flags "loss never fell", whose
text suggests a longer sweep for slowly learning models. This script follows that advice: the
same range test from the same weights with ``num_iter`` 5x the default sweep's length, 5 data
orders, and scores the package's answers on the oracle (interpolated, as ``score.py``).

Run from the repository root (a few minutes of one core)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/long_sweep.py

writes ``benchmarks/results/advice_long_sweep.md``.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import gluon  # noqa: E402

from benchmarks.advice import recipes as rcp  # noqa: E402
from benchmarks.advice import score as SC  # noqa: E402
from benchmarks.common import load_json  # noqa: E402
from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.core import rules as S  # noqa: E402
from gluon_lrfinder.core.report import diagnose  # noqa: E402
from gluon_lrfinder.engine.sampler import make_loader  # noqa: E402

RECIPE = "bag of ids / Embedding / SGD 0.9 / b32"
LENGTH = 5
RESULTS = common.results_path("advice_long_sweep.md")
COMMAND = "OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/advice/long_sweep.py"


def main(argv: Optional[Sequence[str]] = None) -> int:
    started = time.time()
    spec = rcp.SPEC_BY_NAME[RECIPE]
    setup = rcp.setup(spec)
    recipe = next(r for r in SC.load_recipes() if r.name == RECIPE)
    default_len = len(next(iter(load_json(SC.SWEEPS)[RECIPE]["curves"]))["lrs"])
    lines = ["# A longer sweep where the loss never fell", "",
             f"`{COMMAND}`; see the module docstring. Recipe: {RECIPE}; best one-cycle peak "
             f"{recipe.one_cycle.best_lr:.3g}, best constant {recipe.constant.best_lr:.3g}.", "",
             "| sweep | seed | iterations | range | suggest() | one-cycle regret | constant regret | flags |",
             "|---|---|---|---|---|---|---|---|"]
    for label, num_iter in (("default", None), (f"num_iter {LENGTH}x", LENGTH * default_len)):
        for seed in range(5):
            net = setup.fresh_net()
            loader = make_loader(gluon.data.ArrayDataset(setup.arrays.X, setup.arrays.y), spec["batch_size"],
                                 seed=seed)
            with Learner(net, loader, ctx=mx.cpu(), loss_fn=setup.loss_fn(), optimizer=spec["optimizer"],
                         optimizer_params=dict(spec["params"], learning_rate=1e-3)) as learner:
                finder = LRFinder(learner)
                finder.find(progress=False, lr_start=1e-6, lr_end=10.0, num_iter=num_iter)
                lrs, losses = np.asarray(finder.curve.lrs), np.asarray(finder.curve.losses)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                low, high = S.lr_range(lrs, losses, optimizer=spec["optimizer"])
                const = common.suggest_lr(lrs, losses, optimizer=spec["optimizer"])
                flags = [f.split(":")[0] for f in diagnose(lrs, losses)]
            lines.append(f"| {label} | {seed} | {lrs.size} | {low:.3g} .. {high:.3g} | {const:.3g} | "
                         f"{recipe.one_cycle.regret(high):.2f} | {recipe.constant.regret(const):.2f} | "
                         f"{', '.join(flags) or 'none'} |")
            print(lines[-1], flush=True)
    lines += ["", f"Wall time: {(time.time() - started) / 60:.1f} min."]
    text = "\n".join(lines) + "\n"
    with open(RESULTS, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
