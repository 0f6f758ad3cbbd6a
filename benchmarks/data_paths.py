"""Is an ``mx.io.DataIter`` or NumPy-mode Gluon as fast per iteration as the DataLoader path?

The same tiny model (MLP 64-64-10, SGD with momentum) on the same data (scikit-learn's digits,
batch 64) is driven through :class:`gluon_lrfinder.Learner` the way ``LRFinder.find`` drives it
(queue iteration k, then read the loss of iteration k-1), from three data paths:

dataloader
    ``gluon.data.DataLoader`` over a ``ContinuousBatchSampler`` (NDArray mode): the reference.
ndarrayiter
    ``mx.io.NDArrayIter(X, y, 64, shuffle=True)`` given as it is (no ``batch_fn``): DataBatch
    split, padding dropped, ``reset()`` at the end of every pass.
numpy
    NumPy-mode Gluon (``npx.set_np()``, ``mx.np`` arrays), same DataLoader as the reference.

and, to tell the finder's cost from MXNet's, the plain Gluon loop (next batch, forward and
backward under ``autograd.record``, ``trainer.step``, the loss read one iteration behind) over
the same DataLoader in each mode: ``raw-ndarray`` and ``raw-numpy``.

Repeats are interleaved (dataloader, ndarrayiter, numpy, then the next repeat) in one process
so that a slow spell of a shared machine hits all three alike; reported are the per-iteration
medians and the medians of the per-repeat ratios to the DataLoader path.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/data_paths.py            # about 30 s
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/data_paths.py --quick    # about 10 s
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable, Dict, List

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon, npx
from sklearn.datasets import load_digits

from gluon_lrfinder import ContinuousBatchSampler, Learner

BATCH = 64
PATHS = ("dataloader", "ndarrayiter", "numpy", "raw-ndarray", "raw-numpy")


def _data():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype("float32"), y.astype("float32")


def _learner(path: str, X: np.ndarray, y: np.ndarray) -> Learner:
    mx.random.seed(0)
    np.random.seed(0)
    if path == "ndarrayiter":
        source = mx.io.NDArrayIter(X, y, BATCH, shuffle=True)
    else:
        ds = gluon.data.ArrayDataset(X, y)
        source = gluon.data.DataLoader(ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(len(ds)),
                                                                                BATCH))
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(10))
    return Learner(net, source, optimizer_params={"learning_rate": 0.01, "momentum": 0.9})


def _time_raw(learner: Learner, n: int) -> float:
    """Seconds per iteration of the plain Gluon loop on the learner's net, trainer and loader."""
    net, trainer, loss_fn = learner.net, learner.trainer, learner.loss_fn
    batches = iter(learner.data_loader)

    def step() -> Any:
        data, label = next(batches)
        with autograd.record():
            loss = loss_fn(net(data), label)
        loss.backward()
        trainer.step(data.shape[0])
        return loss

    pending = step()
    start = time.perf_counter()
    for _ in range(n):
        queued = step()
        pending.asnumpy()
        pending = queued
    pending.asnumpy()
    return (time.perf_counter() - start) / n


def _time_iterations(learner: Learner, n: int) -> float:
    """Seconds per iteration for ``n`` iterations run as LRFinder runs them (read one behind)."""
    pending = learner.queue_iteration(1e-3)
    start = time.perf_counter()
    for _ in range(n):
        queued = learner.queue_iteration(1e-3)
        pending.asscalar()
        pending = queued
    pending.asscalar()
    return (time.perf_counter() - start) / n


def _in_mode(path: str, fn: Callable[[], float]) -> float:
    if path.endswith("numpy"):
        npx.set_np()
    try:
        return fn()
    finally:
        npx.reset_np()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations and repeats")
    args = parser.parse_args()
    iterations, repeats = (100, 3) if args.quick else (300, 7)
    X, y = _data()
    times: Dict[str, List[float]] = {p: [] for p in PATHS}
    for _ in range(repeats):
        for path in PATHS:
            def run(path: str = path) -> float:
                learner = _learner("dataloader" if path.startswith("raw") else path, X, y)
                timer = _time_raw if path.startswith("raw") else _time_iterations
                timer(learner, 20)  # warm-up: first-call allocations
                seconds = timer(learner, iterations)
                learner.close()
                return seconds

            times[path].append(_in_mode(path, run))
    print(f"per-iteration time, MLP 64-64-10, digits, batch {BATCH}; {repeats} interleaved repeats of "
          f"{iterations} iterations, mxnet {mx.__version__}\n")
    print("| path | median ms / iteration | median ratio to dataloader |")
    print("|---|---|---|")
    for path in PATHS:
        ratio = statistics.median(t / r for t, r in zip(times[path], times["dataloader"]))
        print(f"| {path} | {1e3 * statistics.median(times[path]):.3f} | {ratio:.2f} |")
    raw = statistics.median(t / r for t, r in zip(times["raw-numpy"], times["raw-ndarray"]))
    print(f"\nplain Gluon loop, NumPy mode / NDArray mode: {raw:.2f}")


if __name__ == "__main__":
    main()
