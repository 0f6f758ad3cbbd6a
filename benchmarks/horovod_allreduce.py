"""Per-iteration cost of the cross-rank loss average under Horovod (Gloo, loopback).

    PYTHONPATH=. python benchmarks/horovod_allreduce.py [--ranks 2] [--iters 300]

Needs Horovod (``make test-horovod`` builds it into .venv). Starts one ``horovodrun --gloo``
job per rank count. Every rank trains the digits MLP (64-64-10, batch 64 per rank) with a
Learner over ``hvd.DistributedTrainer`` at a fixed learning rate, in the finder's pattern
(iteration k's loss is read after iteration k+1 is queued), in alternating blocks: without an
average and with the HorovodMeanReducer (one ``hvd.allreduce`` of one value). Prints, per job,
the median over ranks of: ms per iteration without and with the average, the difference, the
ratio, and the bare allreduce of one scalar read at once. Compare with
``benchmarks/dist_allreduce.py``, the same measurement under dist_sync.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def rank_main(out_dir: str, iters: int, block: int) -> None:
    import horovod.mxnet as hvd
    import mxnet as mx
    import numpy as np
    from dist_allreduce import time_iterations  # this script's folder is on sys.path
    from mxnet import gluon

    from gluon_lrfinder import Learner
    from gluon_lrfinder.demo import build_net, load_task
    from gluon_lrfinder.engine.reducers import HorovodMeanReducer
    from gluon_lrfinder.engine.sampler import make_loader

    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    task = load_task("digits")
    X = np.stack([task.train[i][0] for i in range(len(task.train))])
    y = np.array([task.train[i][1] for i in range(len(task.train))], dtype=np.float32)
    shard = gluon.data.ArrayDataset(X[rank::size], y[rank::size])
    mx.random.seed(0)
    net = build_net("mlp", task.num_outputs, hidden=64)
    net.initialize(mx.init.Xavier())
    net(mx.nd.array(X[:2]))
    hvd.broadcast_parameters(net.collect_params(), root_rank=0)
    trainer = hvd.DistributedTrainer(net.collect_params(), "sgd", {"learning_rate": 0.01})
    learner = Learner(net, make_loader(shard, 64, seed=rank), trainer=trainer)
    variants = {"plain": None, "reducer": HorovodMeanReducer()}

    def run(n: int, variant: str) -> float:
        return time_iterations(learner, n, variants[variant])

    run(20, "reducer")  # warm-up
    times = {v: [] for v in variants}
    for b in range(max(1, iters // block)):
        for v in (("plain", "reducer") if b % 2 == 0 else ("reducer", "plain")):
            times[v].append(run(block, v))
    trips = []
    for i in range(200):
        start = time.perf_counter()
        hvd.allreduce(mx.nd.array([1.0]), op=hvd.Average, name=f"bench.scalar.{i % 4}").asscalar()
        trips.append(time.perf_counter() - start)
    learner.close()
    res = {"rank": rank,
           "plain_ms": 1e3 * statistics.median(times["plain"]),
           "reduced_ms": 1e3 * statistics.median(times["reducer"]),
           "scalar_roundtrip_ms": 1e3 * statistics.median(trips)}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(res, f)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[2])
    parser.add_argument("--iters", type=int, default=300, help="iterations per variant")
    parser.add_argument("--block", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--_rank", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._rank:
        rank_main(args._rank[0], int(args._rank[1]), int(args._rank[2]))
        return 0

    env = dict(os.environ, OMP_NUM_THREADS="1", MXNET_CPU_WORKER_NTHREADS="1",
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    horovodrun = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    status = 0
    print(f"{'ranks':>5} {'plain ms/it':>11} {'avg ms/it':>10} {'cost ms/it':>10} {'ratio':>6} "
          f"{'scalar allreduce ms':>19}")
    for n in args.ranks:
        out = tempfile.mkdtemp(prefix="horovod-allreduce-")
        cmd = [horovodrun if os.path.exists(horovodrun) else "horovodrun", "--gloo", "-np", str(n),
               "-H", f"localhost:{n}", sys.executable, os.path.abspath(__file__),
               "--_rank", out, str(args.iters), str(args.block)]
        job = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        try:
            failed = job.wait(timeout=args.timeout) != 0
        except subprocess.TimeoutExpired:  # stop the whole job, ranks included
            os.killpg(job.pid, signal.SIGKILL)
            job.wait()
            failed = True
        if failed:
            print(f"{n:>5} job failed or timed out (output files in {out})")
            status = 1
            continue
        rows = [json.load(open(os.path.join(out, f"rank{r}.json"))) for r in range(n)]
        med = {k: statistics.median(r[k] for r in rows)
               for k in ("plain_ms", "reduced_ms", "scalar_roundtrip_ms")}
        cost = med["reduced_ms"] - med["plain_ms"]
        print(f"{n:>5} {med['plain_ms']:>11.2f} {med['reduced_ms']:>10.2f} {cost:>10.2f} "
              f"{med['reduced_ms'] / med['plain_ms']:>6.3f} {med['scalar_roundtrip_ms']:>19.2f}")
    return status


if __name__ == "__main__":
    sys.exit(main())
