"""Small real data sets that ship offline (scikit-learn's bundled ones) and matching tiny nets.

Used by ``make demo``, the command line's defaults and the tutorials' offline path, so that all
of them train on the same real data without a download.

Examples
--------
>>> task = load_task("digits")
>>> task.num_outputs, task.kind, task.train[0][0].shape
(10, 'classification', (64,))
>>> net = build_net("mlp", task.num_outputs)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Tuple

from . import _mxnet  # noqa: F401 (first: checks the MXNet install, see _mxnet.py)

# isort: split
import numpy as np
from mxnet import gluon

from .core._validate import check_choice, check_int
from .engine.sampler import make_loader
from .engine.sources import DataSource

__all__ = ["Task", "TASKS", "NETS", "load_task", "build_net", "loss_for", "source"]


@dataclass
class Task:
    """A data set ready for Gluon: standardized features, a train/validation split."""

    name: str
    kind: str  # "classification" or "regression"
    train: gluon.data.ArrayDataset
    valid: gluon.data.ArrayDataset
    num_outputs: int
    input_shape: Tuple[int, ...]


def _sklearn(name: str) -> Tuple[np.ndarray, np.ndarray, str]:
    try:  # the one place the package needs scikit-learn: its bundled data sets
        from sklearn import datasets as skd
    except ImportError as err:
        raise ImportError(f"the bundled data set {name!r} comes with scikit-learn, which is not installed: "
                          "pip install 'gluon-lrfinder[demo]' (or scikit-learn), or use --npz/--rec "
                          "with data of your own") from err

    loaders: Dict[str, Tuple[Callable[..., Any], str]] = {
        "digits": (skd.load_digits, "classification"),
        "digits_image": (skd.load_digits, "classification"),
        "breast_cancer": (skd.load_breast_cancer, "classification"),
        "wine": (skd.load_wine, "classification"),
        "iris": (skd.load_iris, "classification"),
        "diabetes": (skd.load_diabetes, "regression"),
    }
    loader, kind = loaders[name]
    X, y = loader(return_X_y=True)
    return X.astype(np.float32), y, kind


def _synthetic(seed: int = 0, n: int = 2000, dim: int = 20, classes: int = 4):
    """Gaussian blobs with a random rotation: a data set the code makes itself."""
    rng = np.random.RandomState(seed)
    centers = rng.normal(scale=2.0, size=(classes, dim))
    y = rng.randint(classes, size=n)
    X = centers[y] + rng.normal(size=(n, dim))
    return X.astype(np.float32), y, "classification"


#: The task names :func:`load_task` accepts.
TASKS = ("digits", "digits_image", "breast_cancer", "wine", "iris", "diabetes", "synthetic")


def load_task(name: str = "digits", valid_fraction: float = 0.25, seed: int = 0) -> Task:
    """Load a bundled data set, standardized with the training split's statistics.

    Parameters
    ----------
    name : str, default "digits"
        One of :data:`TASKS`. ``digits_image`` gives 1x8x8 images for a CNN; ``diabetes`` is a
        regression (target standardized); ``synthetic`` is made by the code.
    valid_fraction : float, default 0.25
        Share of the samples held out, in (0, 1).
    seed : int, default 0
        Seed of the split.
    """
    check_choice("name", name, TASKS)
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction!r}")
    X, y, kind = _synthetic() if name == "synthetic" else _sklearn(name)
    order = np.random.RandomState(seed).permutation(len(X))
    n_valid = max(1, int(round(valid_fraction * len(X))))
    valid_idx, train_idx = order[:n_valid], order[n_valid:]
    mean, std = X[train_idx].mean(axis=0), X[train_idx].std(axis=0) + 1e-6
    if name == "digits_image":  # keep pixel structure: scale globally, not per pixel
        mean, std = X[train_idx].mean(), X[train_idx].std()
    X = (X - mean) / std
    if kind == "regression":
        y = (y - y[train_idx].mean()) / y[train_idx].std()
        y = y.astype(np.float32).reshape(-1, 1)
        num_outputs = 1
    else:
        y = y.astype(np.float32)
        num_outputs = int(y.max()) + 1
    if name == "digits_image":
        X = X.reshape(-1, 1, 8, 8)
    X = X.astype(np.float32)
    return Task(
        name=name,
        kind=kind,
        train=gluon.data.ArrayDataset(X[train_idx], y[train_idx]),
        valid=gluon.data.ArrayDataset(X[valid_idx], y[valid_idx]),
        num_outputs=num_outputs,
        input_shape=tuple(X.shape[1:]),
    )


#: The network names :func:`build_net` accepts.
NETS = ("linear", "mlp", "mlp_bn", "cnn")


def build_net(name: str = "mlp", num_outputs: int = 10, hidden: int = 64) -> gluon.HybridBlock:
    """A tiny, uninitialized Gluon network.

    ``linear`` (one Dense layer), ``mlp`` (Dense-ReLU-Dense), ``mlp_bn`` (with BatchNorm), and
    ``cnn`` (two 3x3 convolutions with BatchNorm, for 1x8x8 digit images).
    """
    check_choice("name", name, NETS)
    num_outputs = check_int("num_outputs", num_outputs, 1)
    hidden = check_int("hidden", hidden, 1)
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        if name == "mlp":
            net.add(gluon.nn.Dense(hidden, activation="relu"))
        elif name == "mlp_bn":
            net.add(gluon.nn.Dense(hidden), gluon.nn.BatchNorm(), gluon.nn.Activation("relu"))
        elif name == "cnn":
            net.add(
                gluon.nn.Conv2D(16, 3, padding=1), gluon.nn.BatchNorm(), gluon.nn.Activation("relu"),
                gluon.nn.Conv2D(32, 3, padding=1, strides=2), gluon.nn.BatchNorm(),
                gluon.nn.Activation("relu"), gluon.nn.GlobalAvgPool2D(), gluon.nn.Flatten(),
            )
        net.add(gluon.nn.Dense(num_outputs))
    return net


def loss_for(task: Task) -> gluon.loss.Loss:
    """Softmax cross-entropy for classification, L2 for regression."""
    if task.kind == "regression":
        return gluon.loss.L2Loss()
    return gluon.loss.SoftmaxCrossEntropyLoss()


def source(name: str = "digits", batch_size: int = 64, seed: int = 0) -> DataSource:
    """A bundled data set of :data:`TASKS` as a :class:`~gluon_lrfinder.DataSource`, shuffled endlessly.

    Examples
    --------
    >>> source("iris", batch_size=16).kind
    'classification'
    """
    task = load_task(name, seed=seed)
    default = "l2" if task.kind == "regression" else "softmax-ce"
    classes = task.num_outputs if task.kind == "classification" else None
    return DataSource(make_loader(task.train, batch_size, seed=seed), name, task.kind, task.input_shape, classes,
                      task.num_outputs if task.kind == "regression" else 1, default, {"dataset": name})
