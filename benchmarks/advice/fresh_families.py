"""A fresh, frozen test set for the LR advice: 5 recipes in 5 families the advice benchmark lacks.

These recipes stand for "recipes kept outside the repository": every setting below was fixed and
committed before any of them was trained, and no rule, threshold or package code is changed
because of their results. They are trained and scored by ``new_families.py``'s oracle and report
(``run_oracle``, ``new_families_score.report``), with their own cache and report:

* ``attention``: digits' 8 rows as 8 tokens of 8 pixels; a one-layer pre-LayerNorm self-attention
  encoder in plain Gluon (single head, width 32, learned positions, ``batch_dot`` / ``softmax``
  attention with a residual, a residual ReLU feed-forward of 64, a final LayerNorm, mean-pool, a
  dense classifier); Adam; batch 32; 300 iterations;
* ``conv1d``: synthetic time series, 4 classes of noisy sums of two sines (64 steps, class-dependent
  frequencies with jitter, random phases and amplitudes, noise SD 0.8; generator seed 0; 2000
  series, 500 validate); Conv1D(16, 5) - max-pool 2 - Conv1D(32, 5) - global average pool - Dense;
  SGD momentum 0.9, wd 1e-4; batch 32; 300 iterations;
* ``triplet``: digits (64 pixels); an MLP embedding (64 ReLU - 32) trained with
  ``gluon.loss.TripletLoss`` (margin 1) on anchors drawn per batch with the data-order seed, a
  positive of the anchor's class and a negative of another class; validation loss = the triplet
  loss on fixed validation triplets (each validation sample an anchor), accuracy = nearest
  class-mean (of the training embeddings) on the validation samples; NAG momentum 0.9; batch 64;
  300 iterations;
* ``multilabel``: synthetic, 20 Gaussian features, 5 labels thresholded (at their 50, 60, 70, 80,
  90% quantiles) from random linear maps plus a product of two more linear maps plus noise SD 0.5
  (generator seed 0; 2500 samples, 500 validate); MLP 64 - 64 ReLU - 5 with
  ``SigmoidBinaryCrossEntropyLoss``; accuracy = per-label accuracy; RMSProp; batch 32; 300
  iterations;
* ``deep_plain``: digits; a 10-layer plain MLP (9 Dense(64) ReLU + Dense(10), no normalisation,
  Xavier); plain SGD (no momentum); batch 16; 400 iterations.

Validation: digits recipes hold out 450 samples (``split``'s fixed permutation, as the clipped CNN).
Everything is cached in ``benchmarks/data/advice_fresh_families.json`` as it is made; a rerun skips
what is cached, and ``--score`` only re-scores the cache into
``benchmarks/results/advice_fresh_families.md``. ``fresh_recipes()`` gives them as recipes of the
advice benchmark (``scale_free.py --with-fresh-families``).

Run from the repository root (one process, one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families.py [--only attention] [--score] [--log F]
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Callable, Dict, List, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice.new_families import CTX, Classifier, Oracle, Recipe, digits, main, split  # noqa: E402
from benchmarks.advice.new_families_score import Suite, recipes  # noqa: E402
from benchmarks.common import data_path, results_path  # noqa: E402

DIGITS_VALID = 450


# ------------------------------------------------------------------------------------ data
def flat_digits() -> Tuple[np.ndarray, ...]:
    """Digits as 64 pixels in [0, 1], split (train X, train y, validation X, validation y)."""
    X, y = digits(tuple(range(10)))
    return split(X.reshape(len(X), 64), y, DIGITS_VALID)


def sines(n: int = 2000, steps: int = 64, classes: int = 4, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Series (n, 1, steps) and classes: class c sums a sine of 2 + c cycles per window and one of
    12 - 2c (each jittered by up to 0.4 cycles), random phases, amplitudes in [0.5, 1], noise SD 0.8."""
    rng = np.random.RandomState(seed)
    y = rng.randint(classes, size=n)
    t = np.arange(steps) / steps
    X = np.zeros((n, steps))
    for base in (2.0 + y, 12.0 - 2.0 * y):
        f = base + rng.uniform(-0.4, 0.4, n)
        X += rng.uniform(0.5, 1.0, (n, 1)) * np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    X += 0.8 * rng.randn(n, steps)
    return X.reshape(n, 1, steps).astype(np.float32), y.astype(np.float32)


def multilabel(n: int = 2500, features: int = 20, labels: int = 5, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian features; label j = 1 where w_j.x + (u_j.x)(v_j.x) + noise (SD 0.5) exceeds its
    (50 + 10 j)% quantile."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, features)
    W, U, V = (rng.randn(features, labels) / math.sqrt(features) for _ in range(3))
    z = X @ W + (X @ U) * (X @ V) + 0.5 * rng.randn(n, labels)
    q = np.array([np.quantile(z[:, j], 0.5 + 0.1 * j) for j in range(labels)])
    return X.astype(np.float32), (z > q).astype(np.float32)


# ------------------------------------------------------------------------------------ nets
class SelfAttention(gluon.HybridBlock):
    """Tokens (batch, tokens, width) -> one pre-LayerNorm encoder layer (single-head attention and a
    ReLU feed-forward, each with a residual) -> LayerNorm -> mean over tokens -> class scores."""

    def __init__(self, tokens: int = 8, width: int = 8, size: int = 32, hidden: int = 64, classes: int = 10,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = 1.0 / math.sqrt(size)
        with self.name_scope():
            self.embed = gluon.nn.Dense(size, flatten=False, in_units=width)
            self.pos = self.params.get("pos", shape=(1, tokens, size), init=mx.init.Normal(0.02))
            self.norm1 = gluon.nn.LayerNorm(in_channels=size)
            self.query = gluon.nn.Dense(size, flatten=False, use_bias=False, in_units=size)
            self.key = gluon.nn.Dense(size, flatten=False, use_bias=False, in_units=size)
            self.value = gluon.nn.Dense(size, flatten=False, use_bias=False, in_units=size)
            self.proj = gluon.nn.Dense(size, flatten=False, in_units=size)
            self.norm2 = gluon.nn.LayerNorm(in_channels=size)
            self.ffn = gluon.nn.HybridSequential()
            self.ffn.add(gluon.nn.Dense(hidden, activation="relu", flatten=False, in_units=size),
                         gluon.nn.Dense(size, flatten=False, in_units=hidden))
            self.norm3 = gluon.nn.LayerNorm(in_channels=size)
            self.out = gluon.nn.Dense(classes, in_units=size)

    def hybrid_forward(self, F, x, pos):  # type: ignore[no-untyped-def]
        h = F.broadcast_add(self.embed(x), pos)
        a = self.norm1(h)
        weights = F.softmax(F.batch_dot(self.query(a), self.key(a), transpose_b=True) * self.scale, axis=-1)
        h = h + self.proj(F.batch_dot(weights, self.value(a)))
        h = h + self.ffn(self.norm2(h))
        return self.out(F.mean(self.norm3(h), axis=1))


def mlp(inputs: int, hidden: List[int], outputs: int, activation: str = "relu",
        dropout: float = 0.0) -> gluon.HybridSequential:
    """Dense layers of widths ``hidden`` (``activation``, ReLU unless told; with ``dropout`` > 0 each
    followed by a ``Dropout(dropout)``), a linear Dense of ``outputs``; Xavier."""
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        for width, fan_in in zip(hidden, [inputs] + hidden):
            net.add(gluon.nn.Dense(width, activation=activation, in_units=fan_in))
            if dropout > 0:
                net.add(gluon.nn.Dropout(dropout))
        net.add(gluon.nn.Dense(outputs, in_units=hidden[-1] if hidden else inputs))
    net.initialize(mx.init.Xavier(), ctx=CTX)
    return net


# ------------------------------------------------------------------------------------ recipes
class Attention(Classifier):
    name = "digits rows as 8 tokens / 1-layer self-attention encoder / Adam / b32"
    family = "attention"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, y = digits(tuple(range(10)))
        self.X, self.y, self.Xv, self.yv = split(X.reshape(len(X), 8, 8), y, DIGITS_VALID)

    def make_net(self) -> gluon.Block:
        net = SelfAttention()
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net


class Conv1D(Classifier):
    name = "synthetic sines, 4 classes, 64 steps / Conv1D x2 + global pool / SGD 0.9 wd 1e-4 / b32"
    family = "1-d conv"
    params = {"momentum": 0.9, "wd": 1e-4}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*sines(), 500)

    def make_net(self) -> gluon.Block:
        net = gluon.nn.HybridSequential()
        with net.name_scope():
            net.add(gluon.nn.Conv1D(16, 5, padding=2, activation="relu", in_channels=1), gluon.nn.MaxPool1D(2),
                    gluon.nn.Conv1D(32, 5, padding=2, activation="relu", in_channels=16),
                    gluon.nn.GlobalAvgPool1D(), gluon.nn.Dense(4, in_units=32))
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net


class Triplet(Classifier):
    name = "digits / MLP embedding, triplet loss / NAG 0.9 / b64"
    family = "metric learning"
    optimizer = "nag"
    params = {"momentum": 0.9}
    batch = 64
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = flat_digits()
        self.members = [np.flatnonzero(self.y == c) for c in range(10)]
        # fixed validation triplets: each validation sample an anchor, a positive and a negative from the validation set
        rng = np.random.RandomState(1)
        self.pv, self.nv = self.triplets(self.yv, np.arange(len(self.yv)), rng)

    def triplets(self, y: np.ndarray, anchors: np.ndarray, rng: np.random.RandomState) -> Tuple[np.ndarray, ...]:
        """A positive (the anchor's class, not the anchor) and a negative (another class) per anchor."""
        members = [np.flatnonzero(y == c) for c in range(10)]
        pos, neg = [], []
        for a in anchors:
            same = members[int(y[a])]
            pos.append(rng.choice(same[same != a]))
            neg.append(rng.choice(members[(int(y[a]) + rng.randint(1, 10)) % 10]))
        return np.asarray(pos), np.asarray(neg)

    def make_net(self) -> gluon.Block:
        return mlp(64, [64], 32)

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.TripletLoss(margin=1.0)

    def batches(self, seed: int) -> Callable[[], Any]:
        X, y, batch = self.X, self.y, self.batch

        def forever() -> Any:
            rng = np.random.RandomState(seed)
            while True:
                anchors = rng.randint(len(X), size=batch)
                pos, neg = self.triplets(y, anchors, rng)
                yield mx.nd.array(X[anchors]), mx.nd.array(X[pos]), mx.nd.array(X[neg])
        return forever

    def fit_batch(self, net: gluon.Block) -> Callable[[Any], Tuple[Any, ...]]:
        loss_fn = self.loss_fn()

        def fit(batch: Any) -> Tuple[Any, ...]:
            A, P, N = batch
            with autograd.record():
                losses = loss_fn(net(A), net(P), net(N))
                mean = losses.mean()
            mean.backward()
            return [A], [P], [losses], 1
        return fit

    def valid(self, net: gluon.Block) -> Dict[str, float]:
        emb = net(mx.nd.array(self.Xv))
        loss = float(self.loss_fn()(emb, emb[mx.nd.array(self.pv)], emb[mx.nd.array(self.nv)]).mean().asscalar())
        if not math.isfinite(loss):
            return {"loss": math.inf}
        train = net(mx.nd.array(self.X)).asnumpy()
        means = np.stack([train[m].mean(0) for m in self.members])
        dist = ((emb.asnumpy()[:, None, :] - means[None]) ** 2).sum(-1)
        return {"loss": loss, "accuracy": float(np.mean(dist.argmin(1) == self.yv))}


class MultiLabel(Classifier):
    name = "synthetic 20 features, 5 labels / MLP, sigmoid BCE / RMSProp / b32"
    family = "multi-label"
    optimizer = "rmsprop"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*multilabel(), 500)

    def make_net(self) -> gluon.Block:
        return mlp(20, [64, 64], 5)

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.SigmoidBinaryCrossEntropyLoss()

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean((out > 0) == (self.yv > 0.5)))


class DeepPlain(Classifier):
    name = "digits / 10-layer plain MLP, width 64 / SGD / b16"
    family = "deep plain"
    params: Dict[str, Any] = {}
    batch = 16
    budget = 400

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = flat_digits()

    def make_net(self) -> gluon.Block:
        return mlp(64, [64] * 9, 10)


RECIPES: Dict[str, Recipe] = {"attention": Attention(), "conv1d": Conv1D(), "triplet": Triplet(),
                              "multilabel": MultiLabel(), "deep_plain": DeepPlain()}

#: The rate each recipe's trainer uses when none is given (MXNet 1.9.1), and where it comes from.
DEFAULTS = {"attention": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "conv1d": (0.01, "`mx.optimizer.SGD`'s default: `Optimizer`'s learning_rate=None -> 0.01"),
            "triplet": (0.01, "`mx.optimizer.NAG`'s default: `Optimizer`'s learning_rate=None -> 0.01"),
            "multilabel": (0.001, "`mx.optimizer.RMSProp`'s default learning_rate"),
            "deep_plain": (0.01, "`mx.optimizer.SGD`'s default: `Optimizer`'s learning_rate=None -> 0.01")}

FRESH_FAMILIES = Suite("Advice benchmark, fresh families (a frozen test set): attention, 1-d conv, metric learning, "
                       "multi-label, deep plain", data_path("advice_fresh_families.json"),
                       results_path("advice_fresh_families.md"),
                       "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families.py", DEFAULTS,
                       summaries=True)
#: Grid settings per recipe (as ``new_families.MAX_POINTS`` etc.): the defaults, 16 points from one
#: quarter decade below the lowest answer, data orders 0, 1, 2.
MAX_POINTS: Dict[str, int] = {}
FRESH = Oracle(RECIPES, FRESH_FAMILIES, MAX_POINTS)


def fresh_recipes() -> List[Any]:
    """The fresh families as recipes of the advice benchmark (as ``new_families_score.recipes()``)."""
    return recipes(FRESH_FAMILIES)


if __name__ == "__main__":
    sys.exit(main(None, FRESH, __doc__ or ""))
