import os
import signal

import mxnet as mx
import numpy as np
import pytest
from conftest import assert_params_equal, capture_params, mode_array, trainer_state_bytes
from mxnet import autograd

from gluon_lrfinder.engine.state import RestoreError, StateSnapshot, trainer_kvstore_config


def scramble(learner, steps=3, lr=0.5):
    for _ in range(steps):
        learner.iteration(lr=lr)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_restore_is_bitwise(array_mode, make_learner, state_checker, tmp_path, optimizer):
    learner = make_learner(net="mlp_bn", optimizer=optimizer, warm_steps=3)
    checker = state_checker(learner)
    snap = StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)).save()
    assert snap.directory.startswith(str(tmp_path))
    names = sorted(os.path.basename(f) for f in snap.files)
    assert names == ["params-ctx0.nd", "trainer.states"]  # one context: nothing per device
    scramble(learner)
    with pytest.raises(AssertionError):  # the check can fail: the detour changed the state
        checker.check()
    snap.restore()
    snap.cleanup()
    checker.check()
    assert os.listdir(tmp_path) == []


def test_context_manager_restores_after_an_exception(array_mode, make_learner, state_checker, tmp_path):
    learner = make_learner(net="mlp_bn", warm_steps=2)
    checker = state_checker(learner)
    with pytest.raises(ZeroDivisionError):
        with StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)):
            scramble(learner)
            raise ZeroDivisionError("fault inside the block")
    checker.check()
    assert os.listdir(tmp_path) == []


def test_per_context_copies_that_differ_are_restored(array_mode, make_learner, tmp_path):
    ctx = [mx.cpu(0), mx.cpu(1)]
    learner = make_learner(net="mlp_bn", ctx=ctx, warm_steps=3)
    before = capture_params(learner.net)
    differs = [n for n, copies in before.items() if not np.array_equal(copies[0], copies[1])]
    assert differs and all("running" in n for n in differs)  # BatchNorm statistics per device
    states = trainer_state_bytes(learner.trainer)
    with StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)) as snap:
        assert sorted(os.path.basename(f) for f in snap.files) == ["params-ctx0.nd", "params-ctx1.nd",
                                                                   "trainer.states"]
        scramble(learner)
    assert_params_equal(before, capture_params(learner.net))
    assert trainer_state_bytes(learner.trainer) == states


def test_failed_save_leaves_nothing_behind(make_learner, tmp_path, monkeypatch):
    learner = make_learner(warm_steps=1)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(learner.trainer, "save_states", disk_full)
    with pytest.raises(OSError, match="No space left"):
        StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)).save()
    assert os.listdir(tmp_path) == []


def test_failed_restore_keeps_the_files_and_names_them(make_learner, tmp_path):
    learner = make_learner(warm_steps=1)
    snap = StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)).save()
    with open(os.path.join(snap.directory, "params-ctx0.nd"), "wb") as f:
        f.write(b"garbage")
    with pytest.raises(RestoreError, match=snap.directory):
        snap.restore()
    assert os.path.isdir(snap.directory)
    snap.cleanup()
    assert os.listdir(tmp_path) == []


def test_ctrl_c_during_restore_is_held_until_the_restore_is_done(make_learner, state_checker, tmp_path,
                                                                  monkeypatch):
    learner = make_learner(net="mlp_bn", warm_steps=2)
    checker = state_checker(learner)
    snap = StateSnapshot(learner.net, learner.trainer, tmp_dir=str(tmp_path)).save()
    scramble(learner)
    original = mx.nd.load

    def load_then_interrupt(path):
        os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the restore
        return original(path)

    monkeypatch.setattr(mx.nd, "load", load_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        snap.restore()
    monkeypatch.undo()
    checker.check()
    snap.cleanup()


def test_deferred_parameters_cannot_be_saved(digits):
    from mxnet import gluon

    net = gluon.nn.Dense(3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(mx.base.MXNetError):
        StateSnapshot(net, trainer).save()
    with autograd.predict_mode():
        net(mode_array(np.zeros((1, 4))))
    StateSnapshot(net, trainer).save().cleanup()


def test_arguments_and_order():
    from mxnet import gluon

    net = gluon.nn.Dense(3, in_units=2)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd")
    with pytest.raises(TypeError, match="net must be a gluon.Block"):
        StateSnapshot("net", trainer)
    with pytest.raises(TypeError, match="trainer must be a gluon.Trainer"):
        StateSnapshot(net, "trainer")
    with pytest.raises(RuntimeError, match="call save"):
        StateSnapshot(net, trainer).restore()
    assert trainer_kvstore_config(trainer) == {"kvstore": "device", "update_on_kvstore": None}


class _FailingForward(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        raise RuntimeError("injected engine failure")

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):  # pragma: no cover
        pass


@mx.operator.register("gluon_lrfinder_test_fail")
class _FailingForwardProp(mx.operator.CustomOpProp):
    def list_arguments(self):
        return ["data"]

    def infer_shape(self, in_shape):
        return in_shape, in_shape, []

    def create_operator(self, ctx, shapes, dtypes):
        return _FailingForward()


@pytest.mark.parametrize("drop_errors", [True, False])
def test_restore_after_a_fault_that_left_failed_operations_queued(monkeypatch, drop_errors):
    """A fault can leave failed asynchronous operations behind (e.g. Horovod collectives after
    a rank shut Horovod down), which poison the arrays they write. The restore after an
    exception drops those errors first, so it still puts everything back."""
    import gluon_lrfinder.engine.state as state_module

    if not drop_errors:  # shows what the drop is for
        monkeypatch.setattr(state_module, "_drop_engine_errors", lambda: None)
    net = mx.gluon.nn.Dense(3, in_units=4)
    net.initialize()
    trainer = mx.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    before = capture_params(net)
    with pytest.raises(RuntimeError if drop_errors else RestoreError):
        with StateSnapshot(net, trainer):
            failed = mx.nd.Custom(net.weight.data(), op_type="gluon_lrfinder_test_fail")
            net.weight.data()[:] = failed  # the weight's array now carries the engine error
            raise RuntimeError("the fault")
    if drop_errors:
        assert_params_equal(before, capture_params(net))
