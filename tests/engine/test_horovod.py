"""The range test under Horovod.

The first tests need no Horovod: detection (without importing it), the reducer's contract, and
what the finder does after a fault. The job tests run ``tests/hvd_worker.py`` under
``horovodrun --gloo -np 2 -H localhost:2`` when ``horovod.mxnet`` imports, and are skipped
otherwise: ``make test-horovod`` builds Horovod into .venv once and runs them. Every job runs in
its own process group with a deadline; a job that hangs is killed and fails its test.
"""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import types

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon
from test_distributed import _FakeKV, _processes_in_groups

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.engine.reducers import (
    HorovodMeanReducer,
    KVStoreMeanReducer,
    check_trainer,
    is_distributed,
    is_horovod,
    loss_reducer_for,
)
from gluon_lrfinder.engine.sampler import make_loader

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/, where the workers live
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "hvd_worker.py")
JOB_TIMEOUT = 300.0
HOW_TO_RUN = ("horovod.mxnet does not import here; `make test-horovod` builds Horovod 0.28.1 "
              "into .venv once (about 7 minutes on 2 cores) and runs these tests")


# ---------------------------------------------------------------------------- no Horovod needed
def _net():
    net = gluon.nn.Dense(3, in_units=4)
    net.initialize(mx.init.Xavier())
    return net


@pytest.fixture
def fake_hvd(monkeypatch):
    """A stand-in ``horovod.mxnet`` in sys.modules: a DistributedTrainer class (a Trainer with
    kvstore=None, as Horovod's is), and allreduce / shutdown that record their calls."""
    calls = {"allreduce": [], "shutdown": 0}

    class DistributedTrainer(gluon.Trainer):
        def __init__(self, params, optimizer, optimizer_params=None):
            super().__init__(params, optimizer, optimizer_params, kvstore=None)

    def allreduce(tensor, op=None, name=None):
        calls["allreduce"].append((name, op))
        return tensor * 1

    def shutdown():
        calls["shutdown"] += 1

    module = types.SimpleNamespace(DistributedTrainer=DistributedTrainer, allreduce=allreduce,
                                   shutdown=shutdown, Average="Average", rank=lambda: 0,
                                   size=lambda: 1)
    monkeypatch.setitem(sys.modules, "horovod.mxnet", module)
    return module, calls


def test_detection_of_a_distributed_trainer(fake_hvd):
    hvd, _ = fake_hvd
    net = _net()
    trainer = hvd.DistributedTrainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    assert is_horovod(trainer) and is_distributed(trainer)
    check_trainer(trainer)  # accepted
    assert isinstance(loss_reducer_for(trainer), HorovodMeanReducer)
    local = gluon.Trainer(net.collect_params(), "sgd")
    assert not is_horovod(local) and loss_reducer_for(local) is None


def test_detection_of_a_horovod_kvstore():
    net = _net()
    trainer = gluon.Trainer(net.collect_params(), "sgd", kvstore=_FakeKV("horovod"),
                            update_on_kvstore=False)
    assert is_horovod(trainer) and is_distributed(trainer)
    check_trainer(trainer)
    assert isinstance(loss_reducer_for(trainer), HorovodMeanReducer)
    dist = gluon.Trainer(net.collect_params(), "sgd", kvstore="dist_sync", update_on_kvstore=False)
    assert not is_horovod(dist) and isinstance(loss_reducer_for(dist), KVStoreMeanReducer)


def test_detection_never_imports_horovod():
    probe = (
        "import sys, mxnet as mx\n"
        "from mxnet import gluon\n"
        "from gluon_lrfinder.engine.reducers import is_horovod, loss_reducer_for\n"
        "net = gluon.nn.Dense(2, in_units=3); net.initialize()\n"
        "for kv in ('device', None):\n"
        "    t = gluon.Trainer(net.collect_params(), 'sgd', kvstore=kv)\n"
        "    assert not is_horovod(t) and loss_reducer_for(t) is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'horovod'))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_reducer_names_cycle_and_abort_shuts_horovod_down(fake_hvd):
    _, calls = fake_hvd
    reduce = HorovodMeanReducer(slots=3)
    start = HorovodMeanReducer._calls
    out = [float(reduce(mx.nd.array([2.5])).asscalar()) for _ in range(4)]
    assert out == [2.5] * 4
    names = [name for name, _ in calls["allreduce"]]
    assert names == [f"gluon_lrfinder.mean.{(start + i) % 3}" for i in range(4)]
    assert all(op == "Average" for _, op in calls["allreduce"])
    reduce.abort()
    assert calls["shutdown"] == 1
    HorovodMeanReducer(shutdown_on_error=False).abort()
    assert calls["shutdown"] == 1


@pytest.mark.parametrize(
    "kwargs,error,match",
    [({"slots": 1}, ValueError, "slots must be an int >= 2, got 1"),
     ({"slots": True}, ValueError, "slots must be an int >= 2, got True"),
     ({"shutdown_on_error": 1}, TypeError, "shutdown_on_error must be a bool, got int")],
)
def test_reducer_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        HorovodMeanReducer(**kwargs)


class _AbortRecorder:
    """A reducer with the abort hook: records the state of the model when abort is called."""

    def __init__(self, net):
        self.net, self.calls, self.at_abort = net, 0, None

    def __call__(self, loss):
        self.calls += 1
        return loss

    def abort(self):
        self.at_abort = {k: p.data().asnumpy().copy() for k, p in self.net.collect_params().items()}


class _FailingLoader:
    def __init__(self, loader, fail_at):
        self.loader, self.fail_at = loader, fail_at

    def __iter__(self):
        for i, batch in enumerate(self.loader, start=1):
            if i == self.fail_at:
                raise RuntimeError(f"injected fault at batch {i}")
            yield batch


@pytest.mark.parametrize("fail", [False, True])
def test_finder_aborts_after_the_restore_on_a_fault_only(fail):
    task = load_task("digits")
    mx.random.seed(0)
    net = build_net("mlp", task.num_outputs, hidden=16)
    loader = make_loader(task.train, 32, seed=0)
    with Learner(net, _FailingLoader(loader, 8) if fail else loader) as learner:
        learner.prepare()
        before = {k: p.data().asnumpy().copy() for k, p in net.collect_params().items()}
        reduce = _AbortRecorder(net)
        finder = LRFinder(learner, loss_reducer=reduce)
        if fail:
            with pytest.raises(RuntimeError, match="injected fault at batch 8"):
                finder.find(lr_start=1e-3, lr_end=10.0, num_iter=30, progress=False)
            # abort came after the restore: the model was already back
            assert reduce.at_abort is not None
            for k, value in before.items():
                assert np.array_equal(reduce.at_abort[k], value)
        else:
            finder.find(lr_start=1e-3, lr_end=10.0, num_iter=30, progress=False)
            assert reduce.at_abort is None
        assert reduce.calls > 0


def test_validation_losses_go_through_the_reducer():
    """The held-out losses are averaged like the training loss (here: a factor 3 stands for
    the average over workers)."""
    task = load_task("digits")
    losses = {}
    for factor in (1, 3):
        mx.random.seed(0)
        net = build_net("mlp", task.num_outputs, hidden=16)
        with Learner(net, make_loader(task.train, 32, seed=0)) as learner:
            finder = LRFinder(learner, loss_reducer=lambda x, f=factor: x * f)
            finder.find(lr_start=1e-4, lr_end=1.0, num_iter=20, progress=False,
                        valid_data=task.valid, valid_every=5)
            losses[factor] = np.array(finder.curve.valid_losses)
    assert len(losses[1]) == 4
    assert np.allclose(losses[3], 3 * losses[1], rtol=1e-6)


# ---------------------------------------------------------------------------- horovodrun jobs
def _horovod_mxnet_imports():
    if importlib.util.find_spec("horovod") is None:  # fast path: a fresh clone's venv
        return False
    out = subprocess.run([sys.executable, "-c", "import horovod.mxnet"], capture_output=True,
                         timeout=120)
    return out.returncode == 0


def _horovodrun():
    beside = os.path.join(os.path.dirname(sys.executable), "horovodrun")
    return beside if os.path.exists(beside) else "horovodrun"


@pytest.fixture(scope="module")
def horovod_available():
    if not _horovod_mxnet_imports():
        pytest.skip(HOW_TO_RUN)


def _run_job(out_dir, *args):
    """Run the worker on 2 ranks; kill the whole process group if it outlives JOB_TIMEOUT."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MXNET_CPU_WORKER_NTHREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    cmd = [_horovodrun(), "--gloo", "-np", "2", "-H", "localhost:2", "--start-timeout", "120",
           sys.executable, WORKER, str(out_dir), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=JOB_TIMEOUT)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        hung = True
    # horovodrun sends SIGTERM to the ranks it stops and may return before they are gone:
    # give them a bounded while to exit, then kill what is left (and report it)
    left = []
    for _ in range(300):
        left = _processes_in_groups({proc.pid}) if os.path.isdir("/proc") else []
        if not left:
            break
        time.sleep(0.1)
    if left:
        os.killpg(proc.pid, signal.SIGKILL)
    ranks = []
    for r in range(2):
        path = os.path.join(out_dir, f"rank{r}.json")
        ranks.append(json.load(open(path)) if os.path.exists(path) else None)
    return {"returncode": proc.returncode, "hung": hung, "log": log[-4000:], "ranks": ranks,
            "left": left}


@pytest.fixture(scope="module")
def search_job(horovod_available, tmp_path_factory):
    job = _run_job(tmp_path_factory.mktemp("hvd-search"), "search")
    assert not job["hung"], f"the job hung and was killed:\n{job['log']}"
    assert job["returncode"] == 0 and all(job["ranks"]), job["log"]
    assert job["left"] == []
    return job["ranks"]


def _same_curve(a, b):
    assert len(a["lrs"]) == len(b["lrs"]) and a["stop_reason"] == b["stop_reason"]
    assert a["lrs"] == b["lrs"]
    for key in ("losses", "valid_losses"):
        x, y = np.array(a[key]), np.array(b[key])
        assert x.shape == y.shape
        assert np.all(np.abs(x - y) <= 1e-5 * np.abs(x)), key  # relative difference < 1e-5


def test_ranks_with_different_data_record_the_same_curve_and_stop(search_job):
    r0, r1 = search_job
    assert r0["is_horovod"] and r0["reducer"] == "HorovodMeanReducer" and r0["size"] == 2
    assert r0["mean_of_rank_plus_1"] == r1["mean_of_rank_plus_1"] == 1.5
    assert abs(r0["own_loss"] - r1["own_loss"]) > 1e-3  # each rank's own loss differs
    for c0, c1 in zip(r0["curves"], r1["curves"]):
        _same_curve(c0, c1)
        # the search diverged and stopped early, on the same iteration on both ranks
        assert c0["stop_reason"] == "diverged" and len(c0["lrs"]) < 60
    assert r0["suggestion"] == r1["suggestion"]


def test_each_rank_restores_its_state_and_training_goes_on_in_step(search_job):
    r0, r1 = search_job
    for r in search_job:  # after find, find with validation, find_repeated
        assert r["restored"] == [[], [], []]
        assert r["digest"] == r["digest_before_find"]
    for key in ("digest_before_find", "digest", "digest_after_step", "digest_after_fit"):
        assert r0[key] == r1[key], key


def test_validation_signal_is_the_same_on_every_rank(search_job):
    r0, r1 = search_job
    c0, c1 = r0["curves"][1], r1["curves"][1]
    assert len(c0["valid_lrs"]) >= 5 and c0["valid_lrs"] == c1["valid_lrs"]
    _same_curve(c0, c1)
    assert r0["valid_suggestion"] == r1["valid_suggestion"]


def test_find_repeated_agrees_across_ranks(search_job):
    r0, r1 = search_job
    assert len(r0["repeated"]["curves"]) == 2
    for c0, c1 in zip(r0["repeated"]["curves"], r1["repeated"]["curves"]):
        _same_curve(c0, c1)
    assert r0["repeated"]["suggestions"] == r1["repeated"]["suggestions"]
    assert r0["repeated"]["lr"] == r1["repeated"]["lr"]


def test_handler_applies_the_same_rate_on_every_rank(search_job):
    r0, r1 = search_job
    _same_curve(r0["handler"]["curve"], r1["handler"]["curve"])
    assert r0["handler"]["suggested_lr"] == r1["handler"]["suggested_lr"]
    assert r0["handler"]["learning_rate"] == r0["handler"]["suggested_lr"] == r1["handler"]["learning_rate"]


def test_trainer_on_a_horovod_kvstore(search_job):
    k0, k1 = (r["kvstore"] for r in search_job)
    assert k0["is_horovod"] and k1["is_horovod"]
    _same_curve(k0["curve"], k1["curve"])
    assert k0["curve"]["stop_reason"] == "diverged"
    assert k0["restored"] == [] and k1["restored"] == []
    assert k0["suggestion"] == k1["suggestion"]


def test_a_fault_on_one_rank_ends_every_rank_with_an_error(horovod_available, tmp_path):
    """Rank 1's data fails mid-search, then rank 1 stays alive far beyond the job's deadline
    (as a program that caught the error would). Rank 0, waiting for rank 1 in a collective,
    must still end with an error (Horovod shut down by rank 1's finder), with its state
    restored; the job must end well before the deadline (it is killed, and this test fails,
    otherwise)."""
    job = _run_job(tmp_path, "fault", str(10 * JOB_TIMEOUT))
    assert not job["hung"], f"a rank was left waiting; the job was killed:\n{job['log']}"
    assert job["returncode"] != 0 and job["left"] == []
    r0, r1 = job["ranks"]
    assert r0 is not None and r1 is not None, job["log"]
    assert r1["error"] == "RuntimeError: injected fault at batch 12"
    assert r0["error"] is not None and "Horovod has been shut down" in r0["error"]
    assert r0["restored"] == [] and r1["restored"] == []  # both states came back bitwise
