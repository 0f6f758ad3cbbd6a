"""The advice benchmark's oracle: the validation-loss tables of ``oracle.py``'s caches, the recipes
and their searches (cut where the default stopping rule stops), read once (no MXNet)."""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

from benchmarks.common import load_json  # noqa: E402
from gluon_lrfinder.core.stopping import StoppingCriteria  # noqa: E402

ORACLE = common.data_path("advice_oracle.json")
SWEEPS = common.data_path("advice_sweeps.json")
OLD_TRUTH = common.data_path("regret_ground_truth.json")
EXTRA_RECIPES = common.data_path("advice_real_scripts.json")
RESULTS = common.results_path("advice.md")
WRECKED = 2.0
BAND = 0.25


# ------------------------------------------------------------------------------- oracle tables
class Table:
    """Mean validation loss over a log-LR grid (one recipe, one schedule kind, one budget)."""

    def __init__(self, rows: Dict[float, List[Optional[float]]], initial: float, pruned: Sequence[float] = ()) -> None:
        self.rows, self.initial, self.pruned = rows, float(initial), tuple(pruned)
        lrs = sorted(set(rows) | set(pruned))
        means_raw = []
        for lr in lrs:
            values = rows.get(lr, [None])
            means_raw.append([math.nan if v is None else float(v) for v in values])
        finite = [np.nanmean(m) if np.isfinite(m).any() else math.nan for m in means_raw]
        best = int(np.nanargmin(finite))
        below = [v for v in finite[: best + 1] if np.isfinite(v)]
        self.untrained = max(float(initial), max(below))
        self.x = np.log10(np.asarray(lrs, dtype=np.float64))
        self.mean = np.array([self.mean_of(m) for m in means_raw])
        self.best_index = int(np.argmin(self.mean))
        self.best_loss = float(self.mean[self.best_index])
        self.best_lr = float(10 ** self.x[self.best_index])
        self.stable_top = float(10 ** self.x[max(i for i, m in enumerate(self.mean) if m < self.untrained)])

    def mean_of(self, values: Sequence[Optional[float]]) -> float:
        """Mean over data orders; a run that diverged (None, not finite) or ended worse than
        untrained counts as untrained."""
        return float(np.mean([self.untrained if v is None or not np.isfinite(v) or v > self.untrained else v
                              for v in values]))

    def seeds(self, keep: Sequence[int]) -> Table:
        """The same grid scored on the data orders ``keep`` only (indices into each row)."""
        return Table({lr: [v[i] for i in keep] for lr, v in self.rows.items()}, self.initial, self.pruned)

    def loss_at(self, lr: float) -> float:
        return float(np.interp(math.log10(lr), self.x, self.mean))

    def regret(self, lr: float) -> float:
        return self.loss_at(lr) / self.best_loss - 1.0

    def below_grid(self, lr: float) -> bool:
        return math.log10(lr) < self.x[0] - 1e-9

    def band(self, tol: float = BAND) -> Tuple[float, float]:
        ok = self.mean <= self.best_loss * (1 + tol)
        lo = hi = self.best_index
        while lo > 0 and ok[lo - 1]:
            lo -= 1
        while hi < ok.size - 1 and ok[hi + 1]:
            hi += 1
        return float(10 ** self.x[lo]), float(10 ** self.x[hi])


def oracle_table(entry: Dict[str, Any], label: str) -> Optional[Table]:
    run = entry.get("runs", {}).get(label)
    if not run or not run["losses"]:
        return None
    rows = {float(k): v for k, v in run["losses"].items() if len(v) >= 1}
    return Table(rows, entry["initial_valid_loss"], [float(k) for k in run.get("pruned", [])])


def old_constant_table(record: Dict[str, Any]) -> Table:
    rows = {float(lr): row for lr, row in zip(record["grid"], record["valid_loss"])}
    return Table(rows, record["initial_valid_loss"])


# ------------------------------------------------------------------------------- searches
def cut(curve: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """The curve the finder returns with its default stopping rule."""
    losses = [math.nan if v is None else float(v) for v in curve["losses"]]
    rule = StoppingCriteria()
    rule.reset()
    for i, loss in enumerate(losses):
        if rule(loss):
            return np.asarray(curve["lrs"][: i + 1]), np.asarray(losses[: i + 1])
    return np.asarray(curve["lrs"]), np.asarray(losses)


@dataclass
class Recipe:
    name: str
    family: str
    optimizer: str
    searches: List[Tuple[np.ndarray, np.ndarray]]
    one_cycle: Table
    constant: Optional[Table]
    extra: Dict[str, Table]
    budget: int = 0  # iterations of the oracle's trainings


def load_recipes(require_constant: bool = False) -> List[Recipe]:
    oracle, sweeps, old = load_json(ORACLE), load_json(SWEEPS), load_json(OLD_TRUTH)
    extra = load_json(EXTRA_RECIPES)  # real-script recipes, when their cache is present
    oracle.update({k: v for k, v in extra.get("oracle", {}).items() if k not in oracle})
    sweeps.update({k: v for k, v in extra.get("sweeps", {}).items() if k not in sweeps})
    return _recipes(oracle, sweeps, old, require_constant)


def load_oracle_file(path: str, require_constant: bool = True) -> List[Recipe]:
    """The recipes of one oracle file in ``advice_real_scripts.json``'s layout (``{"oracle", "sweeps"}``),
    e.g. ``real_script_check.py --recipes lm30``'s; none when the file is absent."""
    data = load_json(path)
    return _recipes(data.get("oracle", {}), data.get("sweeps", {}), {}, require_constant)


def _recipes(oracle: Dict[str, Any], sweeps: Dict[str, Any], old: Dict[str, Any],
             require_constant: bool) -> List[Recipe]:
    out = []
    for name, entry in oracle.items():
        spec = entry["spec"]
        if name not in sweeps:
            continue
        label = f"one_cycle@{spec['budget']}"
        oc = oracle_table(entry, label)
        if oc is None or not complete(entry, label):
            continue
        const = oracle_table(entry, f"constant@{spec['budget']}")
        if const is None and name in old:
            const = old_constant_table(old[name])
        if const is None and require_constant:
            continue
        extras = {k: t for k in entry["runs"] if k not in (label, f"constant@{spec['budget']}")
                  for t in [oracle_table(entry, k)] if t is not None and complete(entry, k)}
        out.append(Recipe(name, spec["family"], spec["optimizer"],
                          [cut(c) for c in sweeps[name]["curves"]], oc, const, extras, int(spec["budget"])))
    return out


def complete(entry: Dict[str, Any], label: str) -> bool:
    """A grid is complete once its ascent ended (pruned points recorded, or the top reached)."""
    run = entry["runs"][label]
    if run.get("pruned"):
        return True
    return any(float(k) >= 99 for k in run["losses"])
