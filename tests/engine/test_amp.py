"""AMP (mxnet.contrib.amp): the sweep scales the loss as an AMP loop does, and the loss scaler's
state comes back with everything else. ``amp.init`` is process-global and irreversible, so the
real check runs in a subprocess (tests/amp_worker.py), with bfloat16 on CPU."""
import json
import os
import subprocess
import sys

import pytest
from mxnet import gluon
from mxnet.contrib.amp.loss_scaler import LossScaler

from gluon_lrfinder.engine.state import StateSnapshot, amp_state

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/, where the workers live


@pytest.fixture(scope="module")
def amp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("amp") / "result.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, os.path.join(HERE, "amp_worker.py"), str(out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_an_iteration_is_exactly_one_amp_loop_iteration(amp_run):
    assert amp_run["same_after_3_steps"]  # the reference itself is deterministic
    assert amp_run["iteration_matches_amp_loop"]


def test_search_with_an_overflow_restores_params_optimizer_and_loss_scaler(amp_run):
    assert amp_run["overflow_during_search"] and amp_run["scale_halved_during_search"]
    assert amp_run["params_restored"] and amp_run["optimizer_restored"]
    assert amp_run["amp_restored"]
    assert amp_run["scaler_after"] == amp_run["scaler_before"]
    assert amp_run["scaler_after"]["_unskipped"] == amp_run["unskipped_before"] == 4
    assert amp_run["continuation_matches"]  # training goes on as if never searched


def _amp_like_trainer():
    """A trainer carrying a loss scaler as amp.init_trainer attaches it (without amp.init)."""
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    trainer._amp_loss_scaler, trainer._amp_original_scale = LossScaler(), trainer._scale
    return net, trainer


def test_amp_state_reads_and_puts_back_the_scaler_and_the_scale(tmp_path):
    net, trainer = _amp_like_trainer()
    trainer._amp_loss_scaler._unskipped = 3
    before = amp_state(trainer)
    with StateSnapshot(net, trainer, tmp_dir=str(tmp_path)):
        trainer._amp_loss_scaler._next_loss_scale /= 2  # what an overflow does
        trainer._amp_loss_scaler._unskipped = 0
        trainer._scale = 1 / 65536
    assert amp_state(trainer) == before
    assert amp_state(gluon.Trainer(net.collect_params(), "sgd")) is None


def test_amp_state_is_restored_after_a_fault(tmp_path):
    net, trainer = _amp_like_trainer()
    before = amp_state(trainer)
    with pytest.raises(RuntimeError, match="mid-search"):
        with StateSnapshot(net, trainer, tmp_dir=str(tmp_path)):
            trainer._amp_loss_scaler._loss_scale = 1.0
            raise RuntimeError("a fault mid-search")
    assert amp_state(trainer) == before
