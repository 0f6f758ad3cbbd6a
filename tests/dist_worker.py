"""One worker of the distributed range-test check (started by tests/engine/test_distributed.py).

    python tests/dist_worker.py OUT_DIR OPTIMIZER KVSTORE_FORM NUM_CONTEXTS

runs under a launcher that set the DMLC_* variables: trains 3 steps on its shard of the digits
data, runs two range tests, and writes OUT_DIR/worker<rank>.json with the curves, whether the
state (parameters, optimizer state, counters, learning rate) came back bitwise after each, and
digests of what must be identical on all workers.
"""
import hashlib
import json
import os
import sys

import mxnet as mx
import numpy as np
from mxnet import gluon

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.engine.reducers import KVStoreMeanReducer
from gluon_lrfinder.engine.sampler import make_loader

OPTIMIZERS = {
    "sgd": ("sgd", {"learning_rate": 0.05, "momentum": 0.9}),
    "adam": ("adam", {"learning_rate": 0.01}),
}


def state(net, trainer):
    """Every array and counter a range test may change (private access: test only)."""
    out = {}
    for i, param in enumerate(net.collect_params().values()):
        for k, copy in enumerate(param.list_data()):
            out[f"param/{i}/{k}"] = (param.grad_req != "null", copy.asnumpy().copy())
    for u, updater in enumerate(trainer._updaters):
        for index, st in sorted(updater.states.items()):
            arrays = st if isinstance(st, (list, tuple)) else [st]
            for j, arr in enumerate(a for a in arrays if a is not None):
                out[f"state/{u}/{index}/{j}"] = (True, arr.asnumpy().copy())
    opt = trainer.optimizer
    counts = {k: sorted(v.items()) for k, v in sorted(opt._all_index_update_counts.items())}
    out["counters"] = (True, [opt.num_update, repr(counts), trainer.learning_rate])
    return out


def differing(a, b):
    keys = sorted(set(a) | set(b))
    bad = []
    for k in keys:
        if k not in a or k not in b:
            bad.append(k)
            continue
        x, y = a[k][1], b[k][1]
        same = (np.array_equal(x.view(np.uint8), y.view(np.uint8)) and x.shape == y.shape
                if isinstance(x, np.ndarray) else x == y)
        if not same:
            bad.append(k)
    return bad


def digest(st):
    """Hash of what every worker must hold identically (not the BatchNorm statistics)."""
    h = hashlib.sha256()
    for k in sorted(st):
        shared, value = st[k]
        if shared:
            h.update(k.encode())
            h.update(value.tobytes() if isinstance(value, np.ndarray) else repr(value).encode())
    return h.hexdigest()


def main():
    out_dir, optimizer, form = sys.argv[1], sys.argv[2], sys.argv[3]
    ctx = [mx.cpu(i) for i in range(int(sys.argv[4]))]
    if form == "object":
        kv = mx.kv.create("dist_sync")
        rank, nw = kv.rank, kv.num_workers
    else:  # the trainer creates the kvstore (a second one would hang): shard by launch index
        kv = "dist_sync"
        rank = int(os.environ["GLUON_LRFINDER_WORKER_INDEX"])
        nw = int(os.environ["DMLC_NUM_WORKER"])
    task = load_task("digits")
    X = np.stack([task.train[i][0] for i in range(len(task.train))])
    y = np.array([task.train[i][1] for i in range(len(task.train))], dtype=np.float32)
    shard = gluon.data.ArrayDataset(X[rank::nw], y[rank::nw])
    Xv = np.stack([task.valid[i][0] for i in range(len(task.valid))])
    yv = np.array([task.valid[i][1] for i in range(len(task.valid))], dtype=np.float32)
    n = len(Xv) // nw * nw  # held-out shards of one size: the average is a plain mean
    valid = gluon.data.ArrayDataset(Xv[:n][rank::nw], yv[:n][rank::nw])

    mx.random.seed(100 + rank)  # different initial weights: the trainer broadcasts rank 0's
    net = build_net("mlp_bn", task.num_outputs, hidden=32)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    opt, params = OPTIMIZERS[optimizer]
    trainer = gluon.Trainer(net.collect_params(), opt, dict(params),
                            kvstore=kv,
                            update_on_kvstore=False)
    res = {"rank": rank, "num_workers": nw, "curves": [], "restored": []}
    with Learner(net, make_loader(shard, 32, seed=rank), ctx=ctx, trainer=trainer) as learner:
        for _ in range(3):
            learner.iteration()
        res["digest_before_find"] = digest(state(net, trainer))
        reducer = KVStoreMeanReducer(trainer)
        res["mean_of_rank_plus_1"] = float(reducer(mx.nd.array([reducer.rank + 1.0])).asscalar())
        finder = LRFinder(learner)
        for run in range(2):  # twice: the reserved key must be set up only once
            before = state(net, trainer)
            # the second run with a held-out set of this worker's own, averaged like the loss
            kwargs = {"valid_data": valid, "valid_every": 5} if run == 1 else {}
            finder.find(lr_start=1e-3, lr_end=100.0, num_iter=60, progress=False, **kwargs)
            after = state(net, trainer)
            res["restored"].append(differing(before, after))
            curve = finder.curve
            res["curves"].append({"lrs": curve.lrs, "losses": curve.losses,
                                  "stop_reason": curve.stop_reason,
                                  "valid_lrs": curve.valid_lrs, "valid_losses": curve.valid_losses})
        kvstore = KVStoreMeanReducer(trainer).kvstore
        res.update(kv_rank=kvstore.rank, kv_type=kvstore.type, kv_workers=kvstore.num_workers)
        res["digest"] = digest(state(net, trainer))
        learner.iteration()  # training goes on in step after the search
        res["digest_after_step"] = digest(state(net, trainer))
    with open(os.path.join(out_dir, f"worker{res['kv_rank']}.json"), "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
