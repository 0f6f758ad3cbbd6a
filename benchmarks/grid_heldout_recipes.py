"""The recipes of ``grid_heldout.py``: their data (bundled or generated, no download), models, losses,
fixed initial weights and the grid's constants."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root


# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import gluon  # noqa: E402

from gluon_lrfinder.demo import load_task  # noqa: E402

WEIGHT_DECAY = [0.0, 1e-4, 1e-3, 1e-2]
MOMENTUM = [0.8, 0.9, 0.95, 0.99]
REPEATS = 2
TRAIN_SEEDS = (0, 1, 2, 3, 4)
CONFIRM_SEED = 100
SWEEP = {"lr_start": 1e-5, "lr_end": 30.0}
INIT_SEEDS = (42, 7)
RULES = ("default", "smith", "effective-step", "no-wd", "confirm", "keep")


def _recipe(name: str, family: str, data: str, net: str, optimizer: str, batch_size: int, budget: int,
            loss: str = "softmax", **params: float) -> Dict[str, Any]:
    return {"name": name, "family": family, "data": data, "net": net, "optimizer": optimizer,
            "batch_size": batch_size, "budget": budget, "loss": loss, "params": params}


#: Held-out recipes; families are held out together. None of these model kinds, losses or data
#: sets is one of grid_quality.py's four design tasks (MLP/SGD on digits, CNN+BN/NAG b32 on
#: digit images, logistic regression on breast cancer, MLP+BN/SGD on wine).
RECIPES: List[Dict[str, Any]] = [
    _recipe("digit images / plain CNN / SGD 0.9 / b32", "cnn", "digits_image", "plain_cnn", "sgd", 32, 500,
            momentum=0.9, wd=0.0),
    _recipe("digit images / 3-layer CNN+BN / NAG 0.9, wd 5e-4 / b64", "cnn", "digits_image", "bn_cnn3", "nag",
            64, 400, momentum=0.9, wd=5e-4),
    _recipe("generated 4-class / residual MLP / SGD 0.9, wd 1e-4 / b64", "residual", "classif", "res_mlp",
            "sgd", 64, 500, momentum=0.9, wd=1e-4),
    _recipe("digit images / residual CNN / SGD 0.9, wd 5e-4 / b32", "residual", "digits_image", "res_cnn", "sgd",
            32, 400, momentum=0.9, wd=5e-4),
    _recipe("digit rows / LSTM / Adam / b32", "recurrent", "digits_seq", "lstm", "adam", 32, 600,
            beta1=0.9, wd=0.0),
    _recipe("generated sine sequences / GRU / Adam, wd 1e-4 / b64", "recurrent", "sines", "gru", "adam", 64, 500,
            loss="l2", beta1=0.9, wd=1e-4),
    _recipe("Friedman #1 / MLP, Huber loss / NAG 0.95 / b32", "robust regression", "friedman", "mlp2", "nag", 32,
            500, loss="huber", momentum=0.95, wd=0.0),
    _recipe("diabetes / MLP, Huber loss / NAG 0.9, wd 1e-3 / b16", "robust regression", "diabetes", "mlp2", "nag",
            16, 400, loss="huber", momentum=0.9, wd=1e-3),
    _recipe("digits / autoencoder 64-32-8-32-64 / Adam / b64", "autoencoder", "digits_ae", "autoencoder", "adam",
            64, 500, loss="l2", beta1=0.9, wd=0.0),
]


# ---------------------------------------------------------------------------------- data
class Data:
    """A recipe's arrays: training and validation inputs and targets."""

    def __init__(self, X: np.ndarray, y: np.ndarray, Xv: np.ndarray, yv: np.ndarray, num_outputs: int) -> None:
        self.X, self.y, self.Xv, self.yv = X, y, Xv, yv
        self.num_outputs = num_outputs


def _split(X: np.ndarray, y: np.ndarray, seed: int = 0) -> Tuple[np.ndarray, ...]:
    order = np.random.RandomState(seed).permutation(len(X))
    n_valid = len(X) // 4
    v, t = order[:n_valid], order[n_valid:]
    return X[t], y[t], X[v], y[v]


def _standardize(X: np.ndarray, Xv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
    return ((X - mean) / std).astype(np.float32), ((Xv - mean) / std).astype(np.float32)


def _stack(dataset: Any) -> Tuple[np.ndarray, np.ndarray]:
    return (np.stack([dataset[i][0] for i in range(len(dataset))]).astype(np.float32),
            np.stack([dataset[i][1] for i in range(len(dataset))]).astype(np.float32))


def load_data(name: str) -> Data:
    """The arrays of data set ``name`` (bundled or generated; no download)."""
    if name in ("digits_image", "digits_seq", "digits_ae"):
        task = load_task("digits_image" if name != "digits_ae" else "digits")
        X, y = _stack(task.train)
        Xv, yv = _stack(task.valid)
        if name == "digits_seq":  # 8 rows of 8 pixels: a sequence of 8 steps
            X, Xv = X.reshape(-1, 8, 8), Xv.reshape(-1, 8, 8)
        if name == "digits_ae":  # reconstruct the (standardized) input
            return Data(X, X.copy(), Xv, Xv.copy(), X.shape[1])
        return Data(X, y, Xv, yv, 10)
    if name == "diabetes":
        task = load_task("diabetes")
        X, y = _stack(task.train)
        Xv, yv = _stack(task.valid)
        return Data(X, y, Xv, yv, 1)
    if name == "classif":
        from sklearn.datasets import make_classification

        X, y = make_classification(n_samples=3000, n_features=20, n_informative=10, n_redundant=4, n_classes=4,
                                   n_clusters_per_class=2, flip_y=0.05, random_state=0)
        X, y, Xv, yv = _split(X, y)
        X, Xv = _standardize(X, Xv)
        return Data(X, y.astype(np.float32), Xv, yv.astype(np.float32), 4)
    if name == "friedman":
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
        X, y, Xv, yv = _split(X, y)
        X, Xv = _standardize(X, Xv)
        mean, std = y.mean(), y.std()
        return Data(X, ((y - mean) / std).astype(np.float32).reshape(-1, 1), Xv,
                    ((yv - mean) / std).astype(np.float32).reshape(-1, 1), 1)
    if name == "sines":  # noisy sines of 16 steps: regress the frequency
        rng = np.random.RandomState(0)
        n = 2400
        freq = rng.uniform(0.5, 3.0, size=n)
        phase = rng.uniform(0, 2 * np.pi, size=n)
        t = np.linspace(0, 2 * np.pi, 16)
        X = np.sin(freq[:, None] * t[None, :] + phase[:, None]) + 0.3 * rng.normal(size=(n, 16))
        y = (freq - freq.mean()) / freq.std()
        X, y, Xv, yv = _split(X[:, :, None].astype(np.float32), y.astype(np.float32).reshape(-1, 1))
        return Data(X, y, Xv, yv, 1)
    raise ValueError(f"unknown data set {name!r}")


# ---------------------------------------------------------------------------------- models
class _ResMLP(gluon.HybridBlock):
    def __init__(self, num_outputs: int, width: int = 64, blocks: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.inp = gluon.nn.Dense(width, activation="relu")
            self.blocks = gluon.nn.HybridSequential()
            for _ in range(blocks):
                block = gluon.nn.HybridSequential()
                block.add(gluon.nn.Dense(width, activation="relu"), gluon.nn.Dense(width))
                self.blocks.add(block)
            self.out = gluon.nn.Dense(num_outputs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        h = self.inp(x)
        for block in self.blocks:
            h = F.relu(h + block(h))
        return self.out(h)


class _ResCNN(gluon.HybridBlock):
    def __init__(self, num_outputs: int, channels: int = 16, blocks: int = 2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.stem = gluon.nn.Conv2D(channels, 3, padding=1, activation="relu")
            self.blocks = gluon.nn.HybridSequential()
            for _ in range(blocks):
                block = gluon.nn.HybridSequential()
                block.add(gluon.nn.Conv2D(channels, 3, padding=1), gluon.nn.BatchNorm(), gluon.nn.Activation("relu"),
                          gluon.nn.Conv2D(channels, 3, padding=1), gluon.nn.BatchNorm())
                self.blocks.add(block)
            self.head = gluon.nn.HybridSequential()
            self.head.add(gluon.nn.GlobalAvgPool2D(), gluon.nn.Flatten(), gluon.nn.Dense(num_outputs))

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        h = self.stem(x)
        for block in self.blocks:
            h = F.relu(h + block(h))
        return self.head(h)


class _Recurrent(gluon.HybridBlock):
    def __init__(self, cell: str, num_outputs: int, hidden: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.rnn = (gluon.rnn.LSTM if cell == "lstm" else gluon.rnn.GRU)(hidden, layout="NTC")
            self.out = gluon.nn.Dense(num_outputs)

    def hybrid_forward(self, F: Any, x: Any) -> Any:
        h = self.rnn(x)
        return self.out(F.squeeze(F.slice_axis(h, axis=1, begin=-1, end=None), axis=1))


def make_net(kind: str, num_outputs: int) -> gluon.HybridBlock:
    """A fresh, uninitialized network of ``kind``."""
    if kind == "res_mlp":
        return _ResMLP(num_outputs)
    if kind == "res_cnn":
        return _ResCNN(num_outputs)
    if kind in ("lstm", "gru"):
        return _Recurrent(kind, num_outputs)
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        if kind == "plain_cnn":
            net.add(gluon.nn.Conv2D(16, 3, padding=1, activation="relu"), gluon.nn.MaxPool2D(2),
                    gluon.nn.Conv2D(32, 3, padding=1, activation="relu"), gluon.nn.Flatten(),
                    gluon.nn.Dense(num_outputs))
        elif kind == "bn_cnn3":
            for channels, stride in ((16, 1), (32, 2), (32, 1)):
                net.add(gluon.nn.Conv2D(channels, 3, padding=1, strides=stride), gluon.nn.BatchNorm(),
                        gluon.nn.Activation("relu"))
            net.add(gluon.nn.GlobalAvgPool2D(), gluon.nn.Flatten(), gluon.nn.Dense(num_outputs))
        elif kind == "mlp2":
            net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(64, activation="relu"),
                    gluon.nn.Dense(num_outputs))
        elif kind == "autoencoder":
            net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(8), gluon.nn.Dense(32, activation="relu"),
                    gluon.nn.Dense(num_outputs))
        else:
            raise ValueError(f"unknown network {kind!r}")
    return net


def loss_fn(kind: str) -> gluon.loss.Loss:
    return {"softmax": gluon.loss.SoftmaxCrossEntropyLoss, "l2": gluon.loss.L2Loss,
            "huber": gluon.loss.HuberLoss}[kind]()


def initial_weights(spec: Dict[str, Any], data: Data, seed: int) -> List[np.ndarray]:
    mx.random.seed(seed)
    np.random.seed(seed)
    net = make_net(spec["net"], data.num_outputs)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mx.nd.array(data.X[:2]))
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def fresh_net(spec: Dict[str, Any], data: Data, init: Sequence[np.ndarray]) -> gluon.HybridBlock:
    net = make_net(spec["net"], data.num_outputs)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mx.nd.array(data.X[:2]))
    for param, value in zip(net.collect_params().values(), init):
        param.set_data(mx.nd.array(value))
    return net


def _mom_key(spec: Dict[str, Any]) -> str:
    return "beta1" if "beta1" in spec["params"] else "momentum"


def _params(spec: Dict[str, Any], wd: float, mom: float, lr: float) -> Dict[str, float]:
    return dict(spec["params"], wd=wd, learning_rate=lr, **{_mom_key(spec): mom})



def _sgd_like(spec: Dict[str, Any]) -> bool:
    return _mom_key(spec) == "momentum"


def _key(row: Dict[str, Any], lr: Optional[float], seed: int, confirm: bool = False) -> str:
    return f"{'confirm ' if confirm else ''}wd={row['weight_decay']:g} m={row['momentum']:g} lr={lr!r} seed={seed}"


class Cache:
    """The JSON cache: one entry per recipe and initial weights, saved after every unit."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.data: Dict[str, Any] = {}
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)

    def unit(self, name: str) -> Dict[str, Any]:
        return self.data.setdefault(name, {})

    def save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, separators=(",", ":"), sort_keys=True)  # compact: it holds every curve
        os.replace(tmp, self.path)
