"""Shared fixtures: seeded tiny nets on real (scikit-learn) data, and exact state capture."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_lrfinder import Learner
from gluon_lrfinder.demo import build_net, load_task, loss_for
from gluon_lrfinder.engine.sampler import make_loader

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption(
        "--np-mode", action="store_true", default=False,
        help="run every test under npx.set_np() (NumPy-mode Gluon); tests using array_mode run both anyway",
    )


@pytest.fixture(autouse=True)
def _array_mode_does_not_leak(request):
    """Each test starts in NDArray mode (NumPy mode with --np-mode) and leaves the mode as it found it."""
    from mxnet.util import is_np_array

    wanted = request.config.getoption("--np-mode")
    if wanted:
        mx.npx.set_np()
    try:
        yield
        leaked = is_np_array() != wanted
    finally:
        mx.npx.reset_np()
    assert not leaked, "the test changed MXNet's array mode (npx.set_np / npx.reset_np) and did not put it back"


@pytest.fixture(params=["ndarray", "numpy"])
def array_mode(request):
    """Run the test in NDArray mode and again in NumPy mode (``npx.set_np()``, ``mx.np`` arrays)."""
    if request.param == "numpy":
        mx.npx.set_np()
    try:
        yield request.param
    finally:
        if request.param == "numpy" and not request.config.getoption("--np-mode"):
            mx.npx.reset_np()


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's handwritten digits, standardized, as flat 64-vectors."""
    return load_task("digits")


@pytest.fixture(scope="session")
def digits_image():
    """The same digits as 1x8x8 images."""
    return load_task("digits_image")


@pytest.fixture
def make_learner(digits):
    """Factory: a seeded Learner on digits. Keyword arguments go to Learner."""
    made = []

    def factory(net="mlp", ctx=None, seed=0, batch_size=32, task=None, hybridize=False,
                optimizer="sgd", optimizer_params=None, warm_steps=0, **kwargs):
        task = task or digits
        mx.random.seed(seed)
        np.random.seed(seed)
        block = build_net(net, task.num_outputs) if isinstance(net, str) else net
        if hybridize:
            block.hybridize(static_alloc=True, static_shape=True)
        loader = make_loader(task.train, batch_size, seed=seed)
        if optimizer_params is None:
            optimizer_params = {"learning_rate": 0.05, "momentum": 0.9} if optimizer == "sgd" else {
                "learning_rate": 0.001}
        learner = Learner(block, loader, ctx=ctx, loss_fn=loss_for(task), optimizer=optimizer,
                          optimizer_params=optimizer_params, **kwargs)
        for _ in range(warm_steps):  # some momentum / Adam moments / BN statistics to restore
            learner.iteration()
        made.append(learner)
        return learner

    yield factory
    for learner in made:
        learner.close()


def capture_params(net):
    """Every context's copy of every parameter, as NumPy arrays."""
    return {name: [d.asnumpy().copy() for d in p.list_data()] for name, p in net.collect_params().items()}


def _canonical(value):
    """A comparable, order-independent form of unpickled trainer state (arrays by their bytes)."""
    if isinstance(value, mx.nd.NDArray):
        value = value.asnumpy()
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return ("dict", tuple(sorted((repr(k), _canonical(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_canonical(v) for v in value))
    if isinstance(value, (mx.optimizer.Optimizer, mx.lr_scheduler.LRScheduler)):
        fields = {k: v for k, v in vars(value).items() if k != "param_dict"}
        return (type(value).__name__, _canonical(fields))
    return value


def trainer_state_bytes(trainer):
    """The trainer's full state as MXNet serialises it (optimizer states, update counters, lr,
    lr_scheduler), in a canonical form: equal exactly when every state array is bitwise equal."""
    import pickle

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "states")
        trainer.save_states(path)
        with open(path, "rb") as f:
            return _canonical(pickle.loads(f.read()))


def assert_params_equal(before, after):
    assert before.keys() == after.keys()
    for name in before:
        assert len(before[name]) == len(after[name]), name
        for k, (a, b) in enumerate(zip(before[name], after[name])):
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{name} on context {k} differs"


@pytest.fixture
def state_checker():
    """Capture a learner's model and trainer state; ``check()`` asserts both are bitwise back."""

    class Checker:
        def __init__(self, learner):
            self.learner = learner
            self.params = capture_params(learner.net)
            self.states = trainer_state_bytes(learner.trainer)
            self.lr = learner.trainer.learning_rate
            self.num_update = learner.trainer.optimizer.num_update

        def check(self):
            assert_params_equal(self.params, capture_params(self.learner.net))
            assert self.learner.trainer.learning_rate == self.lr
            assert self.learner.trainer.optimizer.num_update == self.num_update
            assert trainer_state_bytes(self.learner.trainer) == self.states

    return Checker


@pytest.fixture
def no_temp_leftovers(tmp_path, monkeypatch):
    """Points the default temp folder at a private one and asserts nothing is left in it."""
    private = tmp_path / "system-temp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    yield private
    assert [p.name for p in private.iterdir()] == []


def tiny_loader(n=8, features=4, classes=3, batch_size=4, seed=0):
    """A small finite DataLoader (not endless) over random data, for learner plumbing tests."""
    rng = np.random.RandomState(seed)
    ds = gluon.data.ArrayDataset(rng.rand(n, features).astype("float32"), (np.arange(n) % classes).astype("float32"))
    return gluon.data.DataLoader(ds, batch_size=batch_size, shuffle=False)


def pack_digits_rec(folder, count=None):
    """Pack scikit-learn's digits as 8x8 grayscale PNGs into ``folder/digits.rec`` + ``.idx``.

    Uses ``mx.recordio`` and Pillow (no OpenCV). Returns ``(rec_path, idx_path, images, labels)``
    with the uint8 images (N, 8, 8) and float labels exactly as packed.
    """
    import io

    from PIL import Image
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    count = len(X) if count is None else count
    images = (X[:count].reshape(-1, 8, 8) * 15).astype(np.uint8)  # 0..16 -> 0..240
    labels = y[:count].astype("float32")
    rec, idx = os.path.join(str(folder), "digits.rec"), os.path.join(str(folder), "digits.idx")
    writer = mx.recordio.MXIndexedRecordIO(idx, rec, "w")
    for i, (image, label) in enumerate(zip(images, labels)):
        buf = io.BytesIO()
        Image.fromarray(image, mode="L").save(buf, format="PNG")
        writer.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(label), i, 0), buf.getvalue()))
    writer.close()
    return rec, idx, images, labels


@pytest.fixture(scope="session")
def digits_rec(tmp_path_factory):
    """``(rec_path, idx_path, images, labels)``: 512 digits packed once per session."""
    return pack_digits_rec(tmp_path_factory.mktemp("rec"), count=512)


def mode_array(values, ctx=None):
    """An MXNet array of the current mode: ``mx.np.array`` under ``npx.set_np()``, else ``mx.nd.array``
    (float64 input becomes float32 in both, as ``mx.nd.array`` does)."""
    from mxnet.util import is_np_array

    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        values = values.astype(np.float32)
    return (mx.np.array if is_np_array() else mx.nd.array)(values, ctx=ctx)


# ---------------------------------------------------------------------- the fast path
TESTS = Path(__file__).resolve().parent
#: Test folders and files whose tests train for long, start processes or run notebooks: marked
#: ``slow``, so that ``pytest -m "not slow"`` runs the core and the quick engine tests in seconds.
#: ``make test`` runs everything. A test elsewhere can carry ``@pytest.mark.slow`` itself.
SLOW_FOLDERS = {"studies", "integrations"}
SLOW_FILES = {
    "test_finder.py", "test_tutorials.py", "test_readme.py", "test_training_code_docs.py",  # notebooks, docs
    "test_distributed.py", "test_horovod.py", "test_amp.py", "test_performance.py",  # processes, timing
    "test_multidevice.py", "test_accumulation.py", "test_validation.py", "test_datacheck.py",
    "test_plotting.py", "test_schedules.py", "test_one_rule_path.py",  # top level: beyond core and engine
    "test_custom_steps.py", "test_rng_isolation.py", "test_mid_training.py", "test_rescale.py",  # whole trainings
}


def pytest_collection_modifyitems(config, items):
    slow = pytest.mark.slow
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if TESTS in path.parents:
            parts = path.relative_to(TESTS).parts
            if parts[0] in SLOW_FOLDERS or parts[-1] in SLOW_FILES:
                item.add_marker(slow)
        elif "core" not in path.parts or "plot" in item.name:  # doctests: the core's are quick, the rest train
            item.add_marker(slow)


# ---------------------------------------------------------------------- rules on two arrays
#: The built-in rules, by name (the registry holds them: ``get_rule(name)``).
BUILTIN_RULES = ("range", "blend_in_range", "blend", "steepest", "valley", "minimum", "raw_steepest", "ema_steepest")


def _curve(lrs, losses, optimizer=None):
    from gluon_lrfinder import LRCurve

    return LRCurve(lrs=[float(v) for v in lrs], losses=[float(v) for v in losses],
                   settings={} if optimizer is None else {"optimizer": optimizer})


def suggest(lrs, losses, method=None, bandwidth=None, warn=True, optimizer=None):
    """A curve's suggestion from two arrays, the way a user gets it (``LRCurve(...).suggest``)."""
    from gluon_lrfinder.core.rules import DEFAULT_METHOD

    return _curve(lrs, losses, optimizer).suggest(method=method or DEFAULT_METHOD, bandwidth=bandwidth, warn=warn)


def report(lrs, losses, method=None, bandwidth=None, valid_lrs=None, valid_losses=None, optimizer=None):
    """A curve's report from arrays (``LRCurve(...).report``), with an optional validation signal."""
    from gluon_lrfinder.core.rules import DEFAULT_METHOD

    curve = _curve(lrs, losses, optimizer)
    if valid_lrs is not None:
        curve.valid_lrs, curve.valid_losses = [float(v) for v in valid_lrs], [float(v) for v in valid_losses]
    return curve.report(method=method or DEFAULT_METHOD, bandwidth=bandwidth)


def array_rule(name):
    """The registered rule ``name`` as a function of two arrays, ``rule(lrs, losses, bandwidth=None)``."""
    from gluon_lrfinder.core.registry import CurvePoints
    from gluon_lrfinder.core.rules import get_rule

    rule = get_rule(name)
    return lambda lrs, losses, bandwidth=None: rule(CurvePoints(lrs, losses), bandwidth)
