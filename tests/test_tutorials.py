"""Run every tutorial notebook top to bottom (small budget, offline) and check how it is stored.

Each notebook ends with an ``assert`` cell on the sanity of its result, so a notebook that runs
through has also produced a sensible learning rate and a training run that lowered the loss.
"""
import json
import math
import os
import socket
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = ["learning_rate_finder.ipynb", "lr_schedules.ipynb", "estimator.ipynb"]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec running this test's interpreter, and the environment the notebooks need."""
    spec_root = tmp_path_factory.mktemp("jupyter")
    spec = spec_root / "kernels" / "gluon-lrfinder-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "gluon-lrfinder tests",
        "language": "python",
    }))
    env = {
        "JUPYTER_PATH": str(spec_root),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "GLUON_LRFINDER_TUTORIAL_FAST": "1",
        "GLUON_LRFINDER_OFFLINE": "1",  # never touch the network from a test
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    env.pop("GLUON_LRFINDER_TUTORIAL_IMG_DIR", None)
    saved = {k: os.environ.get(k) for k in [*env, "GLUON_LRFINDER_TUTORIAL_IMG_DIR"]}
    os.environ.update(env)
    os.environ.pop("GLUON_LRFINDER_TUTORIAL_IMG_DIR", None)
    yield "gluon-lrfinder-tests"
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean(name):
    nb = nbformat.read(TUTORIALS / name, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: stored with outputs"
    last = code[-1].source
    assert "assert " in last and "sanity" in last, f"{name} must end with the sanity-check cell"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, kernel_env):
    from nbclient import NotebookClient

    nb = nbformat.read(TUTORIALS / name, as_version=4)
    client = NotebookClient(
        nb, kernel_name=kernel_env, timeout=300, resources={"metadata": {"path": str(TUTORIALS)}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell and traceback, on any error
    text = "".join(
        out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
    )
    assert "sanity checks passed" in text
    if name == "learning_rate_finder.ipynb":
        # offline here: the fallback is detected and said in the output
        assert "CIFAR-10 is not available (GLUON_LRFINDER_OFFLINE=1)" in text
        assert "bundled 8x8 digits" in text


def test_cifar10_probe_falls_back_when_unreachable(monkeypatch):
    sys.path.insert(0, str(TUTORIALS))
    try:
        import tutorial_helpers as th
    finally:
        sys.path.remove(str(TUTORIALS))
    monkeypatch.setattr(th, "OFFLINE", False)
    with socket.socket() as s:  # a local port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    probe = th.cifar10_reachable
    ok, reason = probe(host="127.0.0.1", port=port, timeout=1.0)
    assert not ok and f"127.0.0.1:{port} not reachable" in reason
    monkeypatch.setattr(th, "cifar10_reachable", lambda: (False, reason))
    setup = th.choose_setup()
    assert setup.name == "digits" and reason in setup.note and str(setup.ctx) == "cpu(0)"
    monkeypatch.setattr(th, "OFFLINE", True)
    assert probe() == (False, "GLUON_LRFINDER_OFFLINE=1")


def test_cifar10_path_builds_resnet18_v2_and_trains(monkeypatch):
    """The online path, without the network: a stand-in for the CIFAR10 class with the same item
    layout (HWC uint8 image, int label), then one training epoch of resnet18_v2 on it."""
    import mxnet as mx
    import numpy as np
    from mxnet.gluon.data import ArrayDataset, vision

    sys.path.insert(0, str(TUTORIALS))
    try:
        import tutorial_helpers as th
    finally:
        sys.path.remove(str(TUTORIALS))
    rng = np.random.RandomState(0)

    def fake_cifar10(train=True):
        n = 16 if train else 8
        images = mx.nd.array(rng.randint(0, 256, size=(n, 32, 32, 3)), dtype="uint8")
        return ArrayDataset(images, rng.randint(0, 10, size=n).astype("int32"))

    monkeypatch.setattr(vision, "CIFAR10", fake_cifar10)
    monkeypatch.setattr(th, "cifar10_reachable", lambda: (True, "stand-in"))
    setup = th.choose_setup()
    assert setup.name == "cifar10" and "resnet18_v2" in setup.note and setup.batch_size == 128
    assert setup.ctx == (mx.gpu() if mx.context.num_gpus() > 0 else mx.cpu())
    assert setup.train[0][0].shape == (3, 32, 32) and setup.train[0][0].dtype == np.float32
    net = setup.make_net(seed=0)
    assert type(net).__name__ == "ResNetV2" and net(mx.nd.zeros((2, 3, 32, 32), ctx=setup.ctx)).shape == (2, 10)
    setup.batch_size = 8  # keep the CPU time of resnet18_v2 small
    history = th.train(setup, "stand-in", epochs=1, optimizer_params={"learning_rate": 0.05, "momentum": 0.9})
    assert len(history.lrs) == 2 and all(math.isfinite(v) for v in history.valid_loss)
