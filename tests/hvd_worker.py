"""One rank of the Horovod range-test check (started by tests/engine/test_horovod.py under horovodrun).

    horovodrun --gloo -np 2 -H localhost:2 python tests/hvd_worker.py OUT_DIR SCENARIO

Each rank reads its own shard of the digits data, and rank r's inputs are scaled by (1 + 2r),
so the ranks' losses differ. The trainer is ``hvd.DistributedTrainer`` (SGD with momentum) on
a BatchNorm MLP. Writes OUT_DIR/rank<r>.json.

SCENARIO ``search``: 3 training steps, then two range tests (the second with a validation
set of the rank's own), ``find_repeated``, an Estimator fit with ``LRFinderHandler``, and a
range test with a plain ``gluon.Trainer`` on a kvstore of type ``horovod``; records the
curves, suggestions, whether the state came back bitwise after each, and digests of what must
be identical on all ranks.

SCENARIO ``fault``: rank 1's data loader raises at its 12th batch of the search; each rank
records the error it ended with and whether its state came back, then exits with status 1
(rank 1 first sleeps LINGER seconds, the optional third argument, as a program that caught
the error and went on would: the other rank must not wait for it).
"""
import json
import os
import sys
import time

import mxnet as mx
import numpy as np
from dist_worker import differing, digest, state  # same directory (sys.path[0])
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator

from gluon_lrfinder import Learner, LRFinder, LRFinderHandler
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.engine.reducers import HorovodMeanReducer, is_horovod, loss_reducer_for
from gluon_lrfinder.engine.sampler import make_loader

FAULT_BATCH = 12
hvd = None  # horovod.mxnet, imported in main(): pytest's doctest run imports this file too


class Horovod(mx.kvstore.KVStoreBase):
    """A kvstore of type "horovod" (MXNet 1.9.1 has none built in; later MXNet has one like it):
    broadcast from rank 0 and a summing allreduce, both through Horovod."""

    def broadcast(self, key, value, out, priority=0):
        result = hvd.broadcast(value, root_rank=0, name=f"kv.broadcast.{key}")
        for o in out if isinstance(out, list) else [out]:
            result.copyto(o)

    def pushpull(self, key, value, out=None, priority=0):
        values = value if isinstance(value, list) else [value]
        total = hvd.allreduce(values[0], op=hvd.Sum, name=f"kv.pushpull.{key}")
        for o in (out if isinstance(out, list) else [out]) if out is not None else values:
            total.copyto(o)

    @staticmethod
    def is_capable(capability):
        return False  # no optimizer on the store

    @property
    def type(self):
        return "horovod"

    @property
    def rank(self):
        return hvd.rank()

    @property
    def num_workers(self):
        return hvd.size()


def arrays(task_split, rank, size):
    X = np.stack([task_split[i][0] for i in range(len(task_split))])
    y = np.array([task_split[i][1] for i in range(len(task_split))], dtype=np.float32)
    n = len(X) // size * size  # equal shards: every rank runs the same number of batches
    X, y = X[:n][rank::size], y[:n][rank::size]
    return gluon.data.ArrayDataset(X * (1.0 + 2.0 * rank), y)


class FailingLoader:
    """Yields the loader's batches and raises at batch ``fail_at`` (counted from 1)."""

    def __init__(self, loader, fail_at):
        self.loader, self.fail_at, self.count = loader, fail_at, 0

    def __iter__(self):
        for batch in self.loader:
            self.count += 1
            if self.count == self.fail_at:
                raise RuntimeError(f"injected fault at batch {self.count}")
            yield batch


def curve_record(curve):
    return {"lrs": curve.lrs, "losses": curve.losses, "stop_reason": curve.stop_reason,
            "valid_lrs": curve.valid_lrs, "valid_losses": curve.valid_losses}


def main():
    global hvd
    import horovod.mxnet

    hvd = horovod.mxnet
    mx.kvstore.KVStoreBase.register(Horovod)
    out_dir, scenario = sys.argv[1], sys.argv[2]
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    task = load_task("digits")
    train, valid = arrays(task.train, rank, size), arrays(task.valid, rank, size)

    mx.random.seed(100 + rank)  # different initial weights: broadcast_parameters makes them rank 0's
    net = build_net("mlp_bn", task.num_outputs, hidden=32)
    net.initialize(mx.init.Xavier())
    net(mx.nd.array(train[:2][0]))  # resolve deferred shapes before the broadcast
    params = net.collect_params()
    hvd.broadcast_parameters(params, root_rank=0)
    trainer = hvd.DistributedTrainer(params, "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    res = {"rank": rank, "size": size, "is_horovod": is_horovod(trainer),
           "reducer": type(loss_reducer_for(trainer)).__name__}
    res["mean_of_rank_plus_1"] = float(HorovodMeanReducer()(mx.nd.array([rank + 1.0])).asscalar())
    loader = make_loader(train, 32, seed=rank)
    path = os.path.join(out_dir, f"rank{rank}.json")

    if scenario == "fault":
        learner = Learner(net, loader, trainer=trainer)
        for _ in range(3):
            learner.iteration()
        before = state(net, trainer)
        if rank == 1:
            learner.close()
            learner.data_loader = FailingLoader(loader, FAULT_BATCH)
        started = time.monotonic()
        try:
            LRFinder(learner).find(lr_start=1e-3, lr_end=100.0, num_iter=60, progress=False)
            res["error"] = None
        except Exception as err:  # every rank must end here, in bounded time
            res["error"] = f"{type(err).__name__}: {err}"[:2000]
        res["seconds_to_error"] = time.monotonic() - started
        try:
            res["restored"] = differing(before, state(net, trainer))
        except Exception as err:  # the failed collective may poison arrays (see test_horovod)
            res["restored"] = f"unreadable: {type(err).__name__}: {err}"[:2000]
        with open(path, "w") as f:
            json.dump(res, f)
        if rank == 1:  # stay alive a while, as a program that catches the error would
            time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0.0)
        sys.exit(1 if res["error"] else 0)

    res.update(curves=[], restored=[])
    with Learner(net, loader, trainer=trainer) as learner:
        for _ in range(3):
            learner.iteration()
        res["own_loss"] = learner.iteration(take_step=False)  # this rank's alone: they differ
        res["digest_before_find"] = digest(state(net, trainer))
        finder = LRFinder(learner)
        for run in range(2):
            kwargs = {"valid_data": valid, "valid_every": 5} if run == 1 else {}
            before = state(net, trainer)
            finder.find(lr_start=1e-3, lr_end=100.0, num_iter=60, progress=False, **kwargs)
            res["restored"].append(differing(before, state(net, trainer)))
            res["curves"].append(curve_record(finder.curve))
        res["suggestion"] = finder.suggest(warn=False)
        res["valid_suggestion"] = finder.suggest(source="valid", warn=False)
        before = state(net, trainer)
        repeated = finder.find_repeated(repeats=2, lr_start=1e-3, lr_end=100.0, num_iter=60)
        res["restored"].append(differing(before, state(net, trainer)))
        res["repeated"] = {"suggestions": repeated.suggestions, "lr": repeated.lr,
                           "curves": [curve_record(c) for c in repeated.curves]}
        res["digest"] = digest(state(net, trainer))
        learner.iteration()  # training goes on in step after the searches
        res["digest_after_step"] = digest(state(net, trainer))

    # LRFinderHandler inside Estimator.fit: the search at train begin, then one epoch
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer=trainer, context=mx.cpu())
    est.logger.setLevel("WARNING")
    handler = LRFinderHandler(make_loader(train, 32, seed=rank),
                              find_kwargs={"lr_start": 1e-3, "lr_end": 100.0, "num_iter": 60})
    fit_data = gluon.data.DataLoader(train, batch_size=32, last_batch="discard")
    est.fit(fit_data, epochs=1, event_handlers=[handler])
    res["handler"] = {"suggested_lr": handler.suggested_lr, "learning_rate": trainer.learning_rate,
                      "curve": curve_record(handler.finder.curve)}
    res["digest_after_fit"] = digest(state(net, trainer))

    # a plain gluon.Trainer on a kvstore of type "horovod" (update_on_kvstore=False: the
    # store has no optimizer, and a kvstore object that holds weights cannot be restored)
    trainer = gluon.Trainer(params, "adam", {"learning_rate": 0.01},
                            kvstore=mx.kv.create("horovod"), update_on_kvstore=False)
    with Learner(net, make_loader(train, 32, seed=rank), trainer=trainer) as learner:
        learner.iteration()
        before = state(net, trainer)
        finder = LRFinder(learner)
        finder.find(lr_start=1e-4, lr_end=10.0, num_iter=60, progress=False)
        res["kvstore"] = {"is_horovod": is_horovod(trainer), "curve": curve_record(finder.curve),
                          "restored": differing(before, state(net, trainer)),
                          "suggestion": finder.suggest(warn=False)}
    with open(path, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    main()
