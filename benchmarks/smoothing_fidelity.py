"""Does the smoothed curve the suggestions read pass through the raw losses' bottom?

From the cached sweeps only (NumPy, no MXNet; seconds). Every sweep of
``benchmarks/data/{advice_sweeps,regret_curves,real_script_sweeps,advice_real_scripts,lm_curves,
gluoncv_bumpy_curve}.json`` and the demo's curve (``tests/data/demo_curve.json``, ``make demo``),
each cut where the finder's default stopping rule stops (as ``benchmarks/advice/score.py`` cuts
them) and kept once when two caches hold the same losses. For each smoother and sweep:

* **ratio**: the smoothed curve's minimum / the minimum of the running median of 7 raw losses
  (1 is faithful; above 1 the curve floats above the bottom);
* **offset**: log10 of the LR at the smoothed minimum minus that at the running median's minimum
  (decades; negative: to the left);
* **bottom residual**: the mean of ``(raw - smooth) / noise_sd`` over the 15 raw losses centred on
  the smoothed minimum (0 is faithful; negative: the curve floats above them);
* **roughness**: median ``|log(raw / smooth)|`` over the whole curve / the same for the running
  median of 7 (about 1: it follows the curve as closely as the running median; much above 1: it
  misses the shape, as at a blow-up it flattens; well below 1: it follows the noise).

``noise_sd`` is one number per sweep, the same for every smoother: 1.4826 times the median
absolute deviation of each raw loss from the mean of its two neighbours (the straight line
through them, the most local fit there is), divided by sqrt(1.5) (that residual's standard
deviation for independent noise of SD 1), over the 31 points centred on the running median's
minimum. (The residuals from the running median itself are no measure: on a monotone stretch,
a steep descent or the blow-up, a running median returns the raw losses, residuals 0.)

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/smoothing_fidelity.py [--plain]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from gluon_lrfinder.core.smoothing import robust_local_linear, zero_phase  # noqa: E402
from gluon_lrfinder.core.stopping import StoppingCriteria  # noqa: E402

DATA = os.path.join(BENCH, "data")
DEMO = os.path.join(ROOT, "tests", "data", "demo_curve.json")
MEDIAN_WIDTH = 7
BOTTOM_POINTS = 15
NOISE_POINTS = 31
Sweep = Tuple[str, np.ndarray, np.ndarray]
Smoother = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _load(name: str) -> dict:
    path = os.path.join(DATA, name)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def raw_sweeps() -> Iterator[Tuple[str, Sequence[float], Sequence[Optional[float]]]]:
    """(label, lrs, losses) of every cached sweep, before the cut."""
    for cache in ("advice_sweeps.json", "regret_curves.json"):
        for name, entry in _load(cache).items():
            for i, c in enumerate(entry["curves"]):
                yield f"{name} #{i}", c["lrs"], c["losses"]
    for name, seeds in _load("real_script_sweeps.json").items():
        for seed, c in seeds.items():
            yield f"{name} #{seed}", c["lrs"], c["losses"]
    for name, entry in _load("advice_real_scripts.json").get("sweeps", {}).items():
        for i, c in enumerate(entry["curves"]):
            yield f"{name} #{i}", c["lrs"], c["losses"]
    for c in _load("lm_curves.json").get("curves", []):
        yield f"LM curve seed {c['seed']} warm {c['warm']}", c["lrs"], c["losses"]
    bumpy = _load("gluoncv_bumpy_curve.json")
    if bumpy:
        yield "GluonCV bumpy curve", bumpy["lrs"], bumpy["losses"]
    if os.path.exists(DEMO):
        with open(DEMO, encoding="utf-8") as f:
            demo = json.load(f)
        yield "demo (make demo)", demo["lrs"], demo["losses"]


def cut(lrs: Sequence[float], losses: Sequence[Optional[float]]) -> Tuple[np.ndarray, np.ndarray]:
    """The curve the finder returns with its default stopping rule, finite points in LR order."""
    y = np.array([math.nan if v is None else float(v) for v in losses])
    x = np.asarray(lrs, dtype=np.float64)
    rule = StoppingCriteria()
    rule.reset()
    for i, loss in enumerate(y):
        if rule(loss):
            x, y = x[: i + 1], y[: i + 1]
            break
    keep = np.isfinite(y) & (x > 0)
    order = np.argsort(x[keep], kind="stable")
    return x[keep][order], y[keep][order]


def sweeps() -> List[Sweep]:
    out, seen = [], set()
    for label, lrs, losses in raw_sweeps():
        x, y = cut(lrs, losses)
        key = hashlib.sha1(np.round(y, 6).tobytes()).hexdigest()
        if x.size >= 2 * MEDIAN_WIDTH and key not in seen:
            seen.add(key)
            out.append((label, x, y))
    return out


def running_median(y: np.ndarray, width: int = MEDIAN_WIDTH) -> np.ndarray:
    """Centred running median, the window narrower (and still centred) near the ends."""
    h = width // 2
    return np.array([np.median(y[i - k: i + k + 1]) for i, k in ((i, min(h, i, y.size - 1 - i))
                                                                  for i in range(y.size))])


def window(centre: int, size: int, n: int) -> slice:
    start = min(max(centre - size // 2, 0), max(n - size, 0))
    return slice(start, min(start + size, n))


def noise_sd(y: np.ndarray, med: np.ndarray) -> float:
    w = window(int(np.argmin(med)), NOISE_POINTS, y.size)
    part = y[max(w.start - 1, 0): w.stop + 1]
    return float(1.4826 * np.median(np.abs(part[1:-1] - 0.5 * (part[:-2] + part[2:]))) / math.sqrt(1.5))


def measures(x: np.ndarray, y: np.ndarray, smooth: np.ndarray) -> Optional[Dict[str, float]]:
    med = running_median(y)
    sd = noise_sd(y, med)
    if not sd > 0 or not np.isfinite(smooth).all():
        return None
    low, raw_low = int(np.argmin(smooth)), int(np.argmin(med))
    w = window(low, BOTTOM_POINTS, y.size)
    out = {"ratio": float(smooth[low] / med[raw_low]),
           "offset": float(math.log10(x[low] / x[raw_low])),
           "residual": float(np.mean((y[w] - smooth[w]) / sd))}
    if (y > 0).all() and (smooth > 0).all() and np.median(np.abs(np.log(y / med))) > 0:
        out["roughness"] = float(np.median(np.abs(np.log(y / smooth))) / np.median(np.abs(np.log(y / med))))
    return out


def smoothers(plain: bool) -> Dict[str, Smoother]:
    out: Dict[str, Smoother] = {
        "current: zero_phase (Gaussian, span/20, despike)": zero_phase,
        "local linear, 0.1 decades, no robustness": lambda x, y: robust_local_linear(x, y, 0.1, 3, 0),
        "robust_local_linear defaults (0.1 dec, >= 9 pts, 3 it)": robust_local_linear,
    }
    if plain:
        return out
    for width, points, it in ((0.1, 5, 3), (0.1, 7, 3), (0.1, 13, 3), (0.1, 17, 3), (0.3, 9, 3),
                              (0.5, 9, 3), (0.1, 9, 0), (0.1, 9, 2), (0.1, 9, 4)):
        out[f"robust_local_linear({width}, {points}, {it})"] = (
            lambda x, y, a=(width, points, it): robust_local_linear(x, y, *a))
    lowess = statsmodels_lowess()
    if lowess is not None:
        out["statsmodels lowess, log(loss), 9 points, it=2"] = lowess
    return out


def statsmodels_lowess() -> Optional[Smoother]:
    """statsmodels' LOWESS on the same log scale, for comparison only (not a dependency)."""
    try:
        from statsmodels.nonparametric.smoothers_lowess import lowess
    except Exception:
        return None

    def smooth(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        logy = np.log(y) if (y > 0).all() else y
        fit = lowess(logy, np.log10(x), frac=min(1.0, 9 / x.size), it=2, delta=0.0, return_sorted=False)
        return np.exp(fit) if (y > 0).all() else fit
    return smooth


def stats(values: Sequence[float]) -> str:
    v = np.asarray(values, dtype=np.float64)
    return f"{np.median(v):+.2f} / {np.percentile(v, 90):+.2f} ({v.min():+.2f} .. {v.max():+.2f})"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", action="store_true", help="only the current smoother, the plain "
                        "local-linear fit and robust_local_linear's defaults")
    parser.add_argument("--per-sweep", action="store_true", help="one line per sweep and smoother")
    args = parser.parse_args(argv)
    started = time.time()
    data = sweeps()
    print(f"{len(data)} distinct sweeps (cut where the default stopping rule stops)\n")
    print("| smoother | ratio: median / p90 (range) | offset, decades: median / p90 | "
          "bottom residual / noise SD: median / p90 of |.| | roughness: median / p90 | ms |")
    print("|---|---|---|---|---|---|")
    for name, smooth in smoothers(args.plain).items():
        got: Dict[str, List[float]] = {"ratio": [], "offset": [], "residual": [], "roughness": []}
        spent, skipped = 0.0, 0
        for label, x, y in data:
            t = time.time()
            s = smooth(x, y)
            spent += time.time() - t
            m = measures(x, y, s)
            if m is None:
                skipped += 1
                continue
            for k, v in m.items():
                got[k].append(v)
            if args.per_sweep:
                print(f"    {label}: " + ", ".join(f"{k} {v:+.2f}" for k, v in m.items()))
        r = np.asarray(got["residual"])
        print(f"| {name} | {stats(got['ratio'])} | {stats(got['offset'])} | {np.median(r):+.2f} / "
              f"{np.percentile(np.abs(r), 90):.2f} (|.| median {np.median(np.abs(r)):.2f}) | "
              f"{stats(got['roughness'])} | {1000 * spent / len(data):.1f} |"
              + (f" ({skipped} sweeps without noise left out)" if skipped else ""))
    demo = [d for d in data if d[0].startswith("demo")]
    if demo:
        _, x, y = demo[0]
        med = running_median(y)
        i = int(np.argmin(med))
        print(f"\ndemo curve: running median of 7 lowest {med[i]:.3f} at lr {x[i]:.3g}; raw losses "
              f"{y[window(i, BOTTOM_POINTS, y.size)].min():.2f}-{y[window(i, BOTTOM_POINTS, y.size)].max():.2f} "
              f"over the 15 points around it")
        for name, smooth in smoothers(True).items():
            s = smooth(x, y)
            j = int(np.argmin(s))
            print(f"  {name}: smoothed minimum {s[j]:.3f} at lr {x[j]:.3g}")
    print(f"\nwall time {time.time() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
