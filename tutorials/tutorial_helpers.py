"""Data, models and a short training loop shared by the tutorial notebooks.

The notebooks show the LR finder itself cell by cell; this module keeps the plumbing around
it (which data set, which network, a plain training loop, saving figures) out of the way.

Environment variables the notebooks read:

* ``GLUON_LRFINDER_TUTORIAL_FAST=1``: small budget (fewer epochs, fewer sweep iterations), used
  by the test suite so that each notebook runs in well under a minute on one CPU core.
* ``GLUON_LRFINDER_OFFLINE=1``: do not even try to reach the CIFAR-10 server; use the bundled
  digits data. The test suite sets it, so tests never touch the network.
* ``GLUON_LRFINDER_TUTORIAL_IMG_DIR=path``: also save the notebooks' figures there (this is how
  ``docs/img/tutorial_*.png`` were made).
"""
from __future__ import annotations

import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from gluon_lrfinder.datasets import build_net, load_task

# tqdm.auto (the finder's progress bar) warns in a kernel without ipywidgets and then falls
# back to a text bar, which is all the tutorials need
warnings.filterwarnings("ignore", message="IProgress not found")

FAST = os.environ.get("GLUON_LRFINDER_TUTORIAL_FAST") == "1"
OFFLINE = os.environ.get("GLUON_LRFINDER_OFFLINE") == "1"

#: Where Gluon downloads CIFAR-10 from (``mxnet.gluon.utils._get_repo_url``'s default).
CIFAR10_HOST = "apache-mxnet.s3-accelerate.dualstack.amazonaws.com"


def cifar10_reachable(host: str = CIFAR10_HOST, port: int = 443, timeout: float = 2.0) -> Tuple[bool, str]:
    """Can CIFAR-10 be used here? ``(yes, why)``.

    Yes when the files are already in MXNet's data folder, or when a TCP connection to the
    download server opens within ``timeout`` seconds. No when ``GLUON_LRFINDER_OFFLINE=1``.
    """
    if OFFLINE:
        return False, "GLUON_LRFINDER_OFFLINE=1"
    root = os.path.join(mx.base.data_dir(), "datasets", "cifar10", "cifar-10-batches-bin")
    if os.path.exists(os.path.join(root, "data_batch_1.bin")):
        return True, f"found in {root}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, f"{host} reachable"
    except OSError as err:
        return False, f"{host}:{port} not reachable ({err.__class__.__name__}: {err})"


@dataclass
class Setup:
    """What a tutorial trains: data, a network factory, the loss, the device."""

    name: str
    note: str
    ctx: mx.Context
    train: gluon.data.Dataset
    valid: gluon.data.Dataset
    batch_size: int
    num_classes: int
    build: Callable[[], gluon.HybridBlock]
    loss_fn: gluon.loss.Loss = field(default_factory=gluon.loss.SoftmaxCrossEntropyLoss)

    def make_net(self, seed: int = 0) -> gluon.HybridBlock:
        """A fresh network, initialized the same way for the same seed (shapes resolved)."""
        mx.random.seed(seed)
        net = self.build()
        net.initialize(mx.init.Xavier(), ctx=self.ctx)
        net.hybridize()
        sample = self.train[0][0]
        net(mx.nd.zeros((1,) + tuple(sample.shape), ctx=self.ctx))  # no deferred shapes left
        return net

    def epoch_loader(self, seed: int = 0) -> gluon.data.DataLoader:
        """A finite, shuffled loader: one pass over the training set."""
        np.random.seed(seed)
        return gluon.data.DataLoader(self.train, batch_size=self.batch_size, shuffle=True, last_batch="discard")


def _cifar10(ctx: mx.Context) -> Setup:
    from mxnet.gluon.data.vision import CIFAR10, transforms

    normalize = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])]
    )
    train = CIFAR10(train=True).transform_first(normalize)
    valid = CIFAR10(train=False).transform_first(normalize)
    if FAST or ctx.device_type == "cpu":  # keep a CPU run to minutes: a subset
        train, valid = train.take(2048 if FAST else 10000), valid.take(1000)
    return Setup(
        name="cifar10",
        note=f"CIFAR-10 ({len(train)} training images) with resnet18_v2 from the model zoo on {ctx}",
        ctx=ctx,
        train=train,
        valid=valid,
        batch_size=128,
        num_classes=10,
        build=lambda: gluon.model_zoo.vision.resnet18_v2(classes=10),
    )


def _digits(reason: str) -> Setup:
    task = load_task("digits_image")
    return Setup(
        name="digits",
        note=(
            f"CIFAR-10 is not available ({reason}): using scikit-learn's bundled 8x8 digits "
            f"({len(task.train)} training images) with a small CNN on cpu(0) instead"
        ),
        ctx=mx.cpu(),
        train=task.train,
        valid=task.valid,
        batch_size=64,
        num_classes=task.num_outputs,
        build=lambda: build_net("cnn", task.num_outputs),
    )


def choose_setup() -> Setup:
    """CIFAR-10 + resnet18_v2 (on ``mx.gpu()`` when there is one) if CIFAR-10 is available,
    else the offline digits + small CNN."""
    ok, reason = cifar10_reachable()
    if ok:
        ctx = mx.gpu() if mx.context.num_gpus() > 0 else mx.cpu()
        try:
            return _cifar10(ctx)
        except Exception as err:  # noqa: BLE001 - a failed download falls back like no network
            reason = f"loading it failed: {err}"
    return _digits(reason)


def evaluate(setup: Setup, net: gluon.Block) -> Tuple[float, float]:
    """Mean loss and accuracy on the validation set."""
    loader = gluon.data.DataLoader(setup.valid, batch_size=256)
    total, correct, count = 0.0, 0.0, 0
    for data, label in loader:
        data, label = data.as_in_context(setup.ctx), label.as_in_context(setup.ctx)
        out = net(data)
        total += float(setup.loss_fn(out, label).sum().asscalar())
        correct += float((out.argmax(axis=1) == label.astype("float32")).sum().asscalar())
        count += data.shape[0]
    return total / count, correct / count


@dataclass
class History:
    """Per-epoch numbers of one training run (index 0: before training)."""

    label: str
    train_loss: List[float] = field(default_factory=list)
    valid_loss: List[float] = field(default_factory=list)
    valid_acc: List[float] = field(default_factory=list)
    lrs: List[float] = field(default_factory=list)
    seconds: float = 0.0

    def row(self) -> Dict[str, Any]:
        return {
            "run": self.label,
            "valid loss before": round(self.valid_loss[0], 4),
            "valid loss after": round(self.valid_loss[-1], 4),
            "valid accuracy after": round(self.valid_acc[-1], 4),
        }


def train(
    setup: Setup,
    label: str,
    epochs: int,
    optimizer_params: Dict[str, Any],
    optimizer: str = "sgd",
    seed: int = 0,
) -> History:
    """Train a fresh network (same initial weights for the same seed) and record its progress.

    ``train_loss[k]`` is the mean training loss of epoch k (``train_loss[0]`` is the
    validation-set loss before training, so every list starts at the same point).
    """
    net = setup.make_net(seed)
    trainer = gluon.Trainer(net.collect_params(), optimizer, optimizer_params)
    history = History(label)
    loss0, acc0 = evaluate(setup, net)
    history.train_loss.append(loss0)
    history.valid_loss.append(loss0)
    history.valid_acc.append(acc0)
    start = time.time()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for data, target in setup.epoch_loader(seed + 1 + epoch):
            data, target = data.as_in_context(setup.ctx), target.as_in_context(setup.ctx)
            with autograd.record():
                loss = setup.loss_fn(net(data), target)
            loss.backward()
            trainer.step(data.shape[0])
            history.lrs.append(trainer.learning_rate)
            total += float(loss.sum().asscalar())
            count += data.shape[0]
        history.train_loss.append(total / count)
        valid_loss, valid_acc = evaluate(setup, net)
        history.valid_loss.append(valid_loss)
        history.valid_acc.append(valid_acc)
    history.seconds = time.time() - start
    return history


def show_table(rows: List[Dict[str, Any]]) -> None:
    """Print rows of equal keys as an aligned text table."""
    keys = list(rows[0])
    widths = [max(len(str(k)), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(str(k).ljust(w) for k, w in zip(keys, widths)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths)))


def save_figure(fig: Any, name: str) -> Optional[str]:
    """Save ``fig`` as ``<GLUON_LRFINDER_TUTORIAL_IMG_DIR>/<name>.png`` when that is set."""
    folder = os.environ.get("GLUON_LRFINDER_TUTORIAL_IMG_DIR")
    if not folder:
        return None
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}.png")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path
