"""Per-iteration cost of the cross-worker loss average under dist_sync (loopback).

    PYTHONPATH=. python benchmarks/dist_allreduce.py [--workers 2 4] [--iters 300]

Starts a local job per worker count (scheduler, 1 server, N workers on 127.0.0.1) with the
package's launcher. Every worker trains the digits MLP with a Learner over a dist_sync trainer
(update_on_kvstore=False) at a fixed learning rate, in the finder's pattern (iteration k's
loss is read after iteration k+1 is queued), in rotating blocks: without an average, with the
KVStoreMeanReducer (one pushpull), and with a push-then-pull alternative. Prints, per job, the
median over workers of: ms per iteration without and with the average, the difference, the
ratio, the bare pushpull of one scalar read at once, and ms per iteration with push+pull.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time


def time_iterations(learner, n: int, reduce=None, lr: float = 0.01) -> float:
    """Seconds per iteration of ``n`` iterations in the finder's pattern (iteration k's loss,
    through ``reduce`` when given, is read after iteration k+1 is queued)."""
    start = time.perf_counter()
    pending = None
    for _ in range(n):
        loss = learner.queue_iteration(lr).mean()
        if reduce is not None:
            loss = reduce(loss)
        if pending is not None:
            float(pending.asscalar())
        pending = loss
    float(pending.asscalar())
    return (time.perf_counter() - start) / n


def worker(out_dir: str, iters: int, block: int) -> None:
    import mxnet as mx
    import numpy as np
    from mxnet import gluon

    from gluon_lrfinder import Learner
    from gluon_lrfinder.demo import build_net, load_task
    from gluon_lrfinder.engine.reducers import KVStoreMeanReducer
    from gluon_lrfinder.engine.sampler import make_loader

    kv = mx.kv.create("dist_sync")
    rank, nw = kv.rank, kv.num_workers
    task = load_task("digits")
    X = np.stack([task.train[i][0] for i in range(len(task.train))])
    y = np.array([task.train[i][1] for i in range(len(task.train))], dtype=np.float32)
    shard = gluon.data.ArrayDataset(X[rank::nw], y[rank::nw])
    mx.random.seed(0)
    net = build_net("mlp", task.num_outputs, hidden=64)
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01},
                            kvstore=kv, update_on_kvstore=False)
    reduce = KVStoreMeanReducer(trainer)

    def reduce_push_pull(loss):  # the alternative: a push then a pull instead of one pushpull
        total = mx.nd.zeros((1,))
        kv.push(199_999, loss.reshape((1,)))
        kv.pull(199_999, out=total)
        return total / nw
    learner = Learner(net, make_loader(shard, 64, seed=rank), trainer=trainer)

    variants = {"plain": None, "reducer": reduce, "push_pull": reduce_push_pull}

    def run(n: int, variant: str) -> float:
        return time_iterations(learner, n, variants[variant])

    run(20, "reducer")  # warm-up (sets the kvstore and the reserved key up)
    times = {v: [] for v in variants}
    names = list(variants)
    for b in range(max(1, iters // block)):
        for v in names[b % 3:] + names[:b % 3]:  # rotate the order between blocks
            times[v].append(run(block, v))
    out = mx.nd.zeros((1,))
    trips = []
    for _ in range(200):
        t = time.perf_counter()
        kv.pushpull(199_999, mx.nd.array([1.0]), out=out)
        out.asscalar()
        trips.append(time.perf_counter() - t)
    res = {
        "rank": rank,
        "plain_ms": 1e3 * statistics.median(times["plain"]),
        "reduced_ms": 1e3 * statistics.median(times["reducer"]),
        "push_pull_ms": 1e3 * statistics.median(times["push_pull"]),
        "scalar_roundtrip_ms": 1e3 * statistics.median(trips),
    }
    learner.close()
    with open(os.path.join(out_dir, f"worker{rank}.json"), "w") as f:
        json.dump(res, f)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--iters", type=int, default=200, help="iterations per variant")
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--_worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._worker:
        worker(args._worker[0], int(args._worker[1]), int(args._worker[2]))
        return 0

    from gluon_lrfinder.integrations.launcher import launch

    env = dict(os.environ, OMP_NUM_THREADS="1", MXNET_CPU_WORKER_NTHREADS="1")
    status = 0
    print(f"{'workers':>7} {'plain ms/it':>11} {'avg ms/it':>10} {'cost ms/it':>10} "
          f"{'ratio':>6} {'scalar rt ms':>12} {'push+pull ms/it':>15}")
    for n in args.workers:
        out = tempfile.mkdtemp(prefix="dist-allreduce-")
        cmd = [sys.executable, os.path.abspath(__file__), "--_worker", out, str(args.iters),
               str(args.block)]
        result = launch(cmd, num_workers=n, timeout=args.timeout, env=env,
                        log_dir=os.path.join(out, "logs"))
        if not result.ok:
            print(f"{n:>7} job failed: {result.returncodes} (logs in {out}/logs)")
            status = 1
            continue
        rows = [json.load(open(os.path.join(out, f"worker{r}.json"))) for r in range(n)]
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("plain_ms", "reduced_ms", "scalar_roundtrip_ms", "push_pull_ms")}
        cost = med["reduced_ms"] - med["plain_ms"]
        print(f"{n:>7} {med['plain_ms']:>11.2f} {med['reduced_ms']:>10.2f} {cost:>10.2f} "
              f"{med['reduced_ms'] / med['plain_ms']:>6.3f} {med['scalar_roundtrip_ms']:>12.2f} "
              f"{med['push_pull_ms']:>15.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
