"""The tutorial notebooks: stored clean, public API only, and run top to bottom (small budget,
offline) with their results checked here rather than in the notebooks.

Each run appends one cell to the in-memory notebook that prints the values to check as JSON;
the assertions below read them. The CIFAR-10 path is run on a stand-in data set with CIFAR-10's
item layout (no network here).
"""
import json
import math
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = ["learning_rate_finder.ipynb", "lr_schedules.ipynb", "estimator.ipynb"]
MARK = "CHECKS:"


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
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }
    saved = {k: os.environ.get(k) for k in [*env, "MPLBACKEND"]}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend, as in Jupyter
    yield "gluon-lrfinder-tests"
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def read(name):
    return nbformat.read(TUTORIALS / name, as_version=4)


def run(cells, kernel_name):
    """Execute ``cells`` in a fresh kernel; return all text output and the JSON after MARK."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=cells)
    client = NotebookClient(nb, kernel_name=kernel_name, timeout=300,
                            resources={"metadata": {"path": str(TUTORIALS)}})
    client.execute()  # raises CellExecutionError, with the failing cell and traceback, on any error
    text = "".join(out.get("text", "") for cell in nb.cells for out in cell.get("outputs", []))
    checks = [line[len(MARK):] for line in text.splitlines() if line.startswith(MARK)]
    return text, json.loads(checks[-1]) if checks else None


def checks_cell(expression):
    return new_code_cell(f"import json as _json\nprint({MARK!r} + _json.dumps({expression}))")


def _floats(pairs):
    return f"[[float(a), float(b)] for a, b in {pairs}]"


CHECKS = {
    "learning_rate_finder.ipynb": (
        "{'suggested': suggested, 'low': low, 'high': high, 'range': [LR_START, LR_END],"
        " 'runs': {k: " + _floats("v") + " for k, v in runs.items()}}"
    ),
    "lr_schedules.ipynb": (
        "{'suggested': suggested, 'min_lr': min_lr, 'max_lr': max_lr, 'range': [LR_START, LR_END],"
        " 'knots': [one(0) == min_lr, one(one.up_steps) == max_lr, one(total) == one.final_lr,"
        "           one(10 * total) == one.final_lr],"
        " 'followed': {name: bool(np.allclose(runs[name][1], [s(n) for n in range(1, len(runs[name][1]) + 1)]))"
        "              for name, s in schedules.items()},"
        " 'updates': {name: len(lrs) for name, (_, lrs) in runs.items()}, 'total': total,"
        " 'runs': {k: " + _floats("v[0]") + " for k, v in runs.items()}}"
    ),
    "estimator.ipynb": (
        "{'unchanged': unchanged, 'lr': finder.suggest(), 'handler_lr': handler.suggested_lr,"
        " 'range': [FIND['lr_start'], FIND['lr_end']],"
        " 'offset_ok': scheduler.offset == steps_per_epoch,"
        " 'starts_at_min_lr': scheduler(steps_per_epoch) == handler.finder.suggest_range()[0],"
        " 'epoch0': recorder.lrs[:steps_per_epoch] == [0.01] * steps_per_epoch,"
        " 'followed': recorder.lrs[steps_per_epoch:] == [scheduler(n) for n in"
        "             range(steps_per_epoch + 1, len(recorder.lrs) + 1)],"
        " 'losses': [float(start_loss), float(tuned_loss), float(mid_loss), float(base_loss)]}"
    ),
}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stored_clean_and_uses_the_public_api(name):
    nb = read(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{name} has no code cells"
    source = "\n".join(c.source for c in code)
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, f"{name}: stored with outputs"
    assert "tutorial_helpers" not in source
    assert "from gluon_lrfinder." not in source and "import gluon_lrfinder." not in source  # public names only
    assert "from gluon_lrfinder import" in source
    assert "assert " not in source, f"{name}: checks belong in tests/test_tutorials.py"
    # the data, the network and the training loop are written out in the notebook
    assert "def build_net" in source and "load_digits" in source and "CIFAR10(train=True)" in source
    if name != "estimator.ipynb":
        assert "autograd.record()" in source and "trainer.step(" in source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_results_make_sense(name, kernel_env):
    text, got = run(read(name).cells + [checks_cell(CHECKS[name])], kernel_env)
    # offline here: the fallback is detected and said in the output
    assert "CIFAR-10 is not available (GLUON_LRFINDER_OFFLINE=1)" in text and "bundled 8x8 digits" in text
    if name == "learning_rate_finder.ipynb":
        start, end = got["range"]
        assert math.isfinite(got["suggested"]) and start <= got["suggested"] <= end
        assert start <= got["low"] < got["high"] <= end
        history = got["runs"]["suggested"]  # [(valid loss, accuracy)] before and after each epoch
        assert len(history) == 4 and history[-1][0] < history[0][0] and history[-1][1] > history[0][1]
    elif name == "lr_schedules.ipynb":
        start, end = got["range"]
        assert start <= got["suggested"] <= end and start <= got["min_lr"] < got["max_lr"] <= end
        assert all(got["knots"])
        # the trainer used schedule(n) at its n-th update, for every schedule
        assert got["followed"] == {name: True for name in got["followed"]} and len(got["followed"]) == 3
        assert set(got["updates"].values()) == {got["total"]}
        for run_name, history in got["runs"].items():
            assert history[-1][0] < history[0][0], run_name  # the short training lowered the loss
    else:
        start, end = got["range"]
        assert got["unchanged"] and start <= got["lr"] <= end and start <= got["handler_lr"] <= end
        assert got["offset_ok"] and got["starts_at_min_lr"] and got["epoch0"] and got["followed"]
        start_loss, tuned_loss, mid_loss, base_loss = got["losses"]
        assert tuned_loss < start_loss and mid_loss < start_loss and tuned_loss < base_loss


def test_cifar10_path_builds_resnet18_v2_and_trains(kernel_env, tmp_path):
    """The online path without the network: CIFAR-10 "found" in a private MXNET_HOME, the CIFAR10
    class replaced by a stand-in with the same item layout (HWC uint8 image, int label), then
    the notebook's own setup, network and one epoch of its training loop."""
    (tmp_path / "datasets" / "cifar10" / "cifar-10-batches-bin").mkdir(parents=True)
    (tmp_path / "datasets" / "cifar10" / "cifar-10-batches-bin" / "data_batch_1.bin").write_bytes(b"")
    cells = read("learning_rate_finder.ipynb").cells
    imports = next(c for c in cells if "import mxnet as mx" in c.source)
    setup = next(c for c in cells if "def cifar10_available" in c.source)
    loop = next(c for c in cells if "def train(" in c.source)
    stand_in = new_code_cell(f"""
import os
os.environ["GLUON_LRFINDER_OFFLINE"] = "0"
os.environ["MXNET_HOME"] = {str(tmp_path)!r}
import mxnet as mx, numpy as np
from mxnet.gluon.data import ArrayDataset, vision
_rng = np.random.RandomState(0)
def _cifar10(train=True):
    n = 16 if train else 8
    images = mx.nd.array(_rng.randint(0, 256, size=(n, 32, 32, 3)), dtype="uint8")
    return ArrayDataset(images, _rng.randint(0, 10, size=n).astype("int32"))
vision.CIFAR10 = _cifar10
""")
    probe = new_code_cell(
        "batch_size = 8  # keep resnet18_v2's CPU time small\n"
        "_net = make_net(0)\n"
        "_history, _lrs = train({'learning_rate': 0.05, 'momentum': 0.9}, epochs=1)\n"
        "import json as _json\n"
        f"print({MARK!r} + _json.dumps({{'net': type(_net).__name__, "
        "'out': list(_net(mx.nd.zeros((2, 3, 32, 32), ctx=CTX)).shape), 'item': list(train_data[0][0].shape), "
        "'dtype': np.dtype(train_data[0][0].dtype).name, 'updates': len(_lrs), "
        "'losses': [float(loss) for loss, _ in _history]}))"
    )
    text, got = run([stand_in, imports, setup, loop, probe], kernel_env)
    assert "CIFAR-10 (found in" in text and "resnet18_v2 on cpu(0)" in text
    assert got["net"] == "ResNetV2" and got["out"] == [2, 10]
    assert got["item"] == [3, 32, 32] and got["dtype"] == "float32"
    assert got["updates"] == 2 and all(math.isfinite(v) for v in got["losses"])
