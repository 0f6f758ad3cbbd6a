"""The AWD-LSTM script on a corpus where lr 30 trains best (``real_script_check.py --recipes lm30``):
its caches, oracle grid and the report's text. NumPy only."""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")

#: ``--recipes lm30``: the AWD-LSTM script on the Zipfian corpus, where a constant rate near the
#: script's default 30 trains best; its own caches, oracle file and report.
LM30_SWEEPS = os.path.join(DATA, "real_script_lm30_sweeps.json")
LM30_RUNS = os.path.join(DATA, "real_script_lm30_runs.json")
LM30_ORACLE = os.path.join(DATA, "real_script_lm30_oracle.json")
LM30_RESULTS = os.path.join(HERE, "..", "results", "real_scripts_lm30.md")
#: Its oracle grid: quarter decades 10..100 (constant and one-cycle peaks).
LM30_GRID = [float(10 ** e) for e in np.arange(1.0, 2.01, 0.25)]

LM30_NOTES = [
    "Notes on the choice. At 3 epochs (924 iterations, ~40 s a run) the shape is there on the mean (31.6 best, "
    "10 worse by 0.67) but the models are far from trained (log-perplexity 5.1-5.3 at the best rate, 7.57 "
    "untrained) and seed 1 ranks 56.2 (5.296) just ahead of 31.6 (5.319). At 8 epochs (2464 iterations, "
    "~100 s a run on one core) 31.6 is the best constant rate on every seed, 17.8 and 56.2 are 0.05-0.18 "
    "worse, 10 is 0.31-0.36 worse and 100 is 0.8-1.5 worse: the shape \"best near 30, 10 clearly worse\" of the "
    "script on real text. That configuration is `gluonnlp_awd_lm_zipf()` (`ZIPF_CONFIG` in "
    "`real_scripts_nlp.py`). Its range tests do not depend on the budget (the 3- and 8-epoch sweeps are the "
    "same numbers). Seed-to-seed noise at one rate: the default 30 gives 4.463 / 4.596 / 4.471, and 30 against "
    "30.58 on seed 1 gives 4.596 against 4.567, so differences below ~0.05-0.1 are noise. The sweeps' raw "
    "minimum sits at 44 / 44 / 78, above the best constant rate 31.6; the constant grid at 56.2 (+0.13 on the "
    "mean) and 100 (+1.07) says what an answer moved toward that bottom costs here.",
    "",
    "Cost of the caches (one core): the 3- and 8-epoch constant grids (seeds 0-1, with the sweeps) 7 and 18 min; "
    "the first `--recipes lm30 --oracle` (the three arms on seeds 0-2, the one-cycle grid on seeds 0-1) 31 min; "
    "`--oracle-seeds 0 1 2` (seed 2's grids) 17 min. After a change of the package's rules the same command "
    "(`OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/advice/real_script_check.py --recipes lm30 --oracle "
    "--oracle-seeds 0 1 2`) trains only the `apply()` and one-cycle runs whose rates moved (at most 6, ~100 s "
    "each) and rewrites this page; with nothing moved it takes seconds.",
    "",
]


LM30_INTRO = [
    "Recipe (`benchmarks/advice/real_scripts_nlp.py`, `gluonnlp_awd_lm_zipf()`): GluonNLP "
    "`word_language_model.py` (AWD-LSTM 3x128, emb 64, tied, the script's dropouts, AR/TAR, clip 0.25, "
    "plain SGD, batch 20, BPTT 35 with the script's random lengths, `fit_batch` through the Learner), as "
    "`gluonnlp_awd_lm()`, but on the Zipfian class-Markov corpus with per-word bigram followers of "
    "`benchmarks/advice/new_families.py` (`lm_corpus`, seed 0; 90% train, 10% validation), where, as on real "
    "text and unlike the grammar corpus (best near 10), a constant rate near the script's default 30 trains "
    "best. Every configuration tried to get there is listed at the end with its constant-rate grid.",
    "",
]


def configurations_tried(runs_cache: Dict[str, Dict[str, Any]]) -> List[str]:
    """Every recipe in the run cache with its constant-rate grid (``LM30_GRID`` and 30) per seed."""
    by_name: Dict[str, Dict[Tuple[str, int], Dict[str, Any]]] = {}
    budgets: Dict[str, str] = {}
    for key, run in runs_cache.items():
        name, what, seed, its = key.split(" | ")
        if what.startswith("constant "):
            by_name.setdefault(name, {})[(what, int(seed.split()[1]))] = run
            budgets[name] = its
    lines = ["## Configurations tried", "",
             "Validation log-perplexity of a constant rate, per seed, for every configuration in the run cache "
             "(`benchmarks/data/real_script_lm30_runs.json`); the goal: best at 31.6 (or within noise of the best), "
             "10 clearly worse.", ""]
    for name, runs in by_name.items():
        seeds_run = sorted({seed for _, seed in runs})
        rates = [f"constant {lr:.4g}" for lr in LM30_GRID] + ["constant 30"]
        rates = [w for w in rates if any((w, seed) in runs for seed in seeds_run)]
        if not rates:
            continue
        secs = [r.get("seconds") or 0 for r in runs.values()]
        lines += [f"### {name}", "", f"Budget {budgets[name]}; {np.mean(secs):.0f} s per training run here.", "",
                  "| constant lr | " + " | ".join(f"seed {s}" for s in seeds_run) + " | mean |",
                  "|---|" + "---|" * (len(seeds_run) + 1)]
        means: Dict[str, float] = {}
        for what in rates:
            vals = [runs.get((what, seed), {}).get("loss", "-") for seed in seeds_run]
            cells = ["-" if v == "-" else ("diverged" if v is None else f"{v:.3f}") for v in vals]
            done = [math.inf if v is None else v for v in vals if v != "-"]
            if len(done) == len(seeds_run):
                means[what] = float(np.mean(done))
            mean = (f"{means[what]:.3f}" if what in means
                    else f"{np.mean(done):.3f} ({len(done)} seeds)" if done else "-")
            lines.append(f"| {what.split()[1]} | " + " | ".join(cells) + f" | {mean} |")
        grid_means = {w: v for w, v in means.items() if w != "constant 30"}
        if grid_means:
            best = min(grid_means, key=grid_means.get)
            lines += ["", f"Best constant rate on the grid (mean over seeds): {best.split()[1]} "
                          f"({grid_means[best]:.3f})" + "".join(
                              f"; {w.split()[1]}: {grid_means[w] - grid_means[best]:+.3f}"
                              for w in ("constant 10", "constant 31.62") if w in grid_means and w != best) + "."]
        lines.append("")
    return lines + LM30_NOTES
