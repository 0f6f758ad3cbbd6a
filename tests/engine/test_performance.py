"""The finder's speed-ups change nothing it computes.

* ``LRFinder._sweep`` reads iteration k's loss only after iteration k+1 is queued. Against a
  reference loop written here with ``Learner.iteration`` (read at once, nothing queued ahead),
  from identical initial state and identical batches, the lagged sweep must give the same
  (lr, loss) pairs bit for bit, stop at the same iteration for the same reason, and leave the
  same restored state (parameters on every context, BatchNorm statistics, momentum and update
  counters, the last checked by training on from it).
* ``Learner.queue_iteration`` averages the per-sample losses on the host; its value matches the
  device-side mean of ``QueuedLoss.mean``.
* The snapshot keeps no NDArray (no second copy of the parameters in memory).

Determinism: MXNet on CPU with OMP_NUM_THREADS=1 and fixed seeds gives bitwise repeatable
training; ``test_reference_loop_is_deterministic`` checks that premise, so a failure of the lag
test cannot come from run-to-run noise.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Dict, List, Tuple

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_lrfinder.core import plan as sweep
from gluon_lrfinder.core.stopping import StoppingCriteria
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.engine.learner import Learner
from gluon_lrfinder.engine.state import StateSnapshot
from gluon_lrfinder.engine.steps import QueuedLoss
from gluon_lrfinder.finder import LRFinder

CONTEXTS = {"one": [mx.cpu()], "two": [mx.cpu(0), mx.cpu(1)]}
BATCH = 32


@pytest.fixture(scope="module")
def digit_batches() -> List[Tuple[mx.nd.NDArray, mx.nd.NDArray]]:
    """A fixed list of digit batches: every learner sees them in the same order."""
    task = load_task("digits")
    x = np.stack([task.train[i][0] for i in range(len(task.train))])
    y = np.array([task.train[i][1] for i in range(len(task.train))], dtype="float32")
    order = np.random.RandomState(0).permutation(len(x))
    return [
        (mx.nd.array(x[order[i : i + BATCH]]), mx.nd.array(y[order[i : i + BATCH]]))
        for i in range(0, len(x) - BATCH + 1, BATCH)
    ]


def make_learner(batches: List[Any], ctx_name: str, hybrid: bool = False) -> Learner:
    """mlp_bn (BatchNorm: per-context running statistics), SGD with momentum, seeded init."""
    mx.random.seed(42)
    ctx = CONTEXTS[ctx_name]
    net = build_net("mlp_bn", 10, hidden=32)
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if hybrid:
        net.hybridize(static_alloc=True, static_shape=True)
    learner = Learner(
        net, list(batches), ctx=ctx, optimizer="sgd",
        optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 1e-4},
    )
    for _ in range(3):  # some training first, so momentum and BatchNorm statistics are non-trivial
        learner.iteration()
    return learner


def param_state(learner: Learner) -> Dict[str, List[np.ndarray]]:
    """Every context's copy of every parameter (BatchNorm running statistics included)."""
    return {
        name[len(learner.net.prefix):]: [d.asnumpy() for d in p.list_data()]
        for name, p in learner.net.collect_params().items()
    }


def fixed_steps(learner: Learner, batch: Tuple[mx.nd.NDArray, mx.nd.NDArray], steps: int = 3) -> List[float]:
    """Train on from the current state with one fixed batch and fixed LR; return the losses.

    Two learners that agree here agree on parameters *and* optimizer state (momentum, update
    counters, learning rate), which the next updates read.
    """
    out = []
    for _ in range(steps):
        data = gluon.utils.split_and_load(batch[0], learner.ctx, even_split=False)
        label = gluon.utils.split_and_load(batch[1], learner.ctx, even_split=False)
        with autograd.record():
            losses = [learner.loss_fn(learner.net(x), y) for x, y in zip(data, label)]
        autograd.backward(losses)
        learner.trainer.step(batch[0].shape[0])  # the LR is whatever the restore left
        out.append(QueuedLoss(losses, batch[0].shape[0]).asscalar())
    return out


def reference_sweep(learner: Learner, lrs: List[float], stopping: StoppingCriteria) -> Tuple[list, str]:
    """The unlagged loop: read each loss at once, stop before queuing anything more."""
    pairs = []
    reason = "num_iter reached"
    with StateSnapshot(learner.net, learner.trainer):
        for lr in lrs:
            loss = learner.iteration(lr)
            pairs.append((lr, loss))
            if stopping(loss):
                reason = stopping.reason
                break
    return pairs, reason


def assert_same_state(a: Dict[str, List[np.ndarray]], b: Dict[str, List[np.ndarray]]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert len(a[name]) == len(b[name])
        for x, y in zip(a[name], b[name]):
            assert np.array_equal(x, y), name


# (lr_start, lr_multiplier, min_iter, expected stop reason): a divergence stop and a NaN stop,
# both well before the end of the sweep, so the lagged finder has queued one iteration past it.
SWEEPS = {
    "diverged": (1e-3, 1.25, 5, "diverged"),
    "nan": (10.0, 100.0, 20, "non-finite loss"),
}


def test_reference_loop_is_deterministic(digit_batches):
    """The premise: two identical learners running the same loop agree bit for bit."""
    lrs = list(sweep.exponential(1e-3, 1.25, None, 40))
    runs = []
    for _ in range(2):
        learner = make_learner(digit_batches, "two")
        pairs, _ = reference_sweep(learner, lrs, StoppingCriteria(min_iter=5))
        runs.append((pairs, param_state(learner)))
    assert runs[0][0] == runs[1][0]
    assert_same_state(runs[0][1], runs[1][1])


@pytest.mark.parametrize("ctx_name,hybrid", [("one", False), ("one", True), ("two", False)])
@pytest.mark.parametrize("case", sorted(SWEEPS))
def test_lagged_read_matches_unlagged_reference(digit_batches, ctx_name, hybrid, case):
    lr_start, multiplier, min_iter, expected_reason = SWEEPS[case]
    num_iter = 60
    lrs = list(sweep.exponential(lr_start, multiplier, None, num_iter))

    ref = make_learner(digit_batches, ctx_name, hybrid)
    before = param_state(ref)
    ref_pairs, ref_reason = reference_sweep(ref, lrs, StoppingCriteria(min_iter=min_iter))
    ref_after = param_state(ref)

    lagged = make_learner(digit_batches, ctx_name, hybrid)
    assert_same_state(param_state(lagged), before)  # identical starting points
    finder = LRFinder(lagged)
    pairs = finder.find(lr_start, lr_multiplier=multiplier, num_iter=num_iter, min_iter=min_iter, progress=False)

    # The stop came early, so the lagged sweep had one more iteration queued when it decided.
    assert ref_reason == expected_reason
    assert 3 <= len(ref_pairs) < num_iter
    if case == "nan":
        assert not math.isfinite(ref_pairs[-1][1])
    # Same pairs, bit for bit (NaN compared as NaN), same stop iteration and reason.
    assert len(pairs) == len(ref_pairs)
    assert [lr for lr, _ in pairs] == [lr for lr, _ in ref_pairs]
    assert np.array_equal(
        np.array([loss for _, loss in pairs]), np.array([loss for _, loss in ref_pairs]), equal_nan=True
    )
    assert finder.curve.stop_reason == ref_reason
    # Same restored state: the initial one, on every context.
    assert_same_state(ref_after, before)
    assert_same_state(param_state(lagged), ref_after)
    # ... and the same optimizer state: training on gives identical losses and parameters.
    assert fixed_steps(lagged, digit_batches[0]) == fixed_steps(ref, digit_batches[0])
    assert_same_state(param_state(lagged), param_state(ref))


def test_lagged_read_full_sweep_without_stop(digit_batches):
    """No stop: the last iteration's loss is read after the loop, nothing extra is run."""
    lrs = list(sweep.exponential(1e-4, None, 1e-2, 12))
    ref = make_learner(digit_batches, "one")
    ref_pairs, ref_reason = reference_sweep(ref, lrs, StoppingCriteria())
    lagged = make_learner(digit_batches, "one")
    finder = LRFinder(lagged)
    pairs = finder.find(1e-4, lr_end=1e-2, num_iter=12, progress=False)
    assert ref_reason == "num_iter reached" and len(ref_pairs) == 12
    assert pairs == ref_pairs
    assert finder.curve.stop_reason == "lr_end reached"
    assert fixed_steps(lagged, digit_batches[1]) == fixed_steps(ref, digit_batches[1])


@pytest.mark.parametrize("ctx_name", ["one", "two"])
def test_host_mean_matches_device_mean(digit_batches, ctx_name):
    """queue_iteration's host-side mean equals QueuedLoss.mean's MXNet mean (float32 rounding)."""
    learner = make_learner(digit_batches[:1], ctx_name)
    host = learner.queue_iteration(take_step=False).asscalar()
    device = float(learner.queue_iteration(take_step=False).mean().asscalar())
    assert host == pytest.approx(device, rel=1e-6)
    # the mean is over samples, not over devices: uneven parts weigh by their size
    parts = [mx.nd.array([1.0, 2.0, 3.0]), mx.nd.array([10.0])]
    assert QueuedLoss(parts, 4).asscalar() == 4.0


def test_snapshot_keeps_no_ndarray(digit_batches):
    """The saved state lives in files only: the snapshot holds no array after save()."""
    learner = make_learner(digit_batches, "two")
    snap = StateSnapshot(learner.net, learner.trainer).save()
    try:
        held = [name for name, value in vars(snap).items() if _holds_ndarray(value)]
        held = [name for name in held if name not in ("net", "trainer")]  # the user's own objects
        assert held == []
        assert snap.files  # ... and the files exist
    finally:
        snap.cleanup()


def _holds_ndarray(value: Any, depth: int = 0) -> bool:
    if isinstance(value, mx.nd.NDArray):
        return True
    if depth > 3:
        return False
    if isinstance(value, dict):
        return any(_holds_ndarray(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple, set)):
        return any(_holds_ndarray(v, depth + 1) for v in value)
    return False


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_snapshot_round_trip_leaves_no_copy_resident():
    """A save + restore of a 32 MB model (plus 32 MB of momentum) leaves the process no larger.

    Without handing freed memory back after ``save_states``/``load_states`` the process stays
    about one to two state-sizes larger (the pickling buffers), for the rest of the search and
    after it. What remains is MXNet's per-thread serialization buffer, which keeps the bytes of
    the last array pickled (here 4 MB, one layer's momentum).
    """
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    for _ in range(8):
        net.add(gluon.nn.Dense(1024, in_units=1024))
    net.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.01, "momentum": 0.9})
    x = mx.nd.random.uniform(shape=(8, 1024))
    with autograd.record():
        loss = net(x).mean()
    loss.backward()
    trainer.step(8)  # momentum state exists now
    weights = [p.data().asnumpy() for p in net.collect_params().values()]
    state_mb = 2 * sum(w.nbytes for w in weights) / 2**20
    mx.nd.waitall()
    before = _rss_mb()
    with StateSnapshot(net, trainer):
        for p in net.collect_params().values():
            p.data()[:] = 0
    grown = _rss_mb() - before
    assert all(np.array_equal(p.data().asnumpy(), w) for p, w in zip(net.collect_params().values(), weights))
    assert grown < 0.25 * state_mb, f"RSS grew by {grown:.0f} MB for a {state_mb:.0f} MB state"
