"""AMP check in its own process (started by tests/engine/test_amp.py): ``amp.init`` is process-global
and cannot be undone, so it must not run inside the pytest process.

    python tests/amp_worker.py OUT_JSON

With ``amp.init(target_dtype="bfloat16")`` on CPU: trains a digits MLP 3 AMP steps, checks that
one Learner iteration equals one hand-written AMP iteration bitwise, runs a range test up to a
learning rate that overflows, and writes OUT_JSON with what the test asserts: whether
parameters, optimizer state, the loss scaler's fields and the trainer's scale came back bitwise,
and whether an overflow (a halved loss scale) happened during the search.
"""
import json
import os
import sys

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from mxnet.contrib import amp

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.demo import build_net, load_task, loss_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import trainer_state_bytes  # noqa: E402


def params_of(net):
    """Every parameter's bytes in order (two nets' parameter names differ)."""
    return [[d.asnumpy().tobytes() for d in p.list_data()] for p in net.collect_params().values()]


def optimizer_state(trainer):
    return repr(trainer_state_bytes(trainer))


def amp_fields(trainer):  # private on purpose: this is what the finder must put back
    return {"scaler": dict(vars(trainer._amp_loss_scaler)), "scale": trainer._scale}


def main(out):
    amp.init(target_dtype="bfloat16")
    task = load_task("digits")
    X = np.stack([task.train[i][0] for i in range(256)]).astype("float32")
    y = np.array([task.train[i][1] for i in range(256)], dtype="float32")
    batches = [(mx.nd.array(X[i:i + 32]), mx.nd.array(y[i:i + 32])) for i in range(0, 256, 32)]

    def setup():
        mx.random.seed(0)
        net = build_net("mlp", 10)
        net.initialize(mx.init.Xavier())
        net(batches[0][0])
        trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9})
        amp.init_trainer(trainer)
        return net, trainer

    def amp_step(net, trainer, batch, lr):  # the AMP training loop of MXNet's tutorial
        trainer.set_learning_rate(lr)
        with autograd.record():
            loss = loss_for(task)(net(batch[0]), batch[1])
            with amp.scale_loss(loss, trainer) as scaled:
                autograd.backward(scaled)
        trainer.step(batch[0].shape[0])

    result = {}
    # 1. one Learner iteration == one hand-written AMP iteration, bitwise
    net_a, trainer_a = setup()
    net_b, trainer_b = setup()
    for k in range(3):
        amp_step(net_a, trainer_a, batches[k], 0.05)
        amp_step(net_b, trainer_b, batches[k], 0.05)
    result["same_after_3_steps"] = params_of(net_a) == params_of(net_b)
    learner_b = Learner(net_b, [batches[3]], loss_fn=loss_for(task), trainer=trainer_b)
    amp_step(net_a, trainer_a, batches[3], 0.1)
    learner_b.iteration(lr=0.1)
    result["iteration_matches_amp_loop"] = params_of(net_a) == params_of(net_b)
    result["unskipped_before"] = trainer_b._amp_loss_scaler._unskipped

    # 2. a search up to an overflowing LR restores everything
    before = (params_of(net_b), optimizer_state(trainer_b), amp_fields(trainer_b))
    scaler = trainer_b._amp_loss_scaler
    seen_scales = []
    original = scaler.has_overflow

    def spy(params):
        overflow = original(params)
        seen_scales.append((overflow, scaler._next_loss_scale))
        return overflow

    scaler.has_overflow = spy
    learner = Learner(net_b, batches, loss_fn=loss_for(task), trainer=trainer_b)
    finder = LRFinder(learner)
    finder.find(lr_start=1e-4, lr_end=1e8, num_iter=60, min_iter=60, progress=False)
    del scaler.has_overflow
    after = (params_of(net_b), optimizer_state(trainer_b), amp_fields(trainer_b))
    result["overflow_during_search"] = any(o for o, _ in seen_scales)
    result["scale_halved_during_search"] = min(s for _, s in seen_scales) < before[2]["scaler"]["_next_loss_scale"]
    result["params_restored"] = before[0] == after[0]
    result["optimizer_restored"] = before[1] == after[1]
    result["amp_restored"] = before[2] == after[2]
    result["scaler_after"] = after[2]["scaler"]
    result["scaler_before"] = before[2]["scaler"]
    # 3. training continues as if never searched
    amp_step(net_a, trainer_a, batches[4], 0.05)
    amp_step(net_b, trainer_b, batches[4], 0.05)
    result["continuation_matches"] = params_of(net_a) == params_of(net_b)
    result["losses"] = finder.curve.losses[:5]
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
