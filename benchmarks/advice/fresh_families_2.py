"""A second fresh, frozen test set for the LR advice: 6 recipes in 6 families no other recipe set has.

As ``fresh_families.py``, these stand for "recipes kept outside the repository": every setting below
was fixed and committed before any of them was trained, and no rule, threshold or package code is
changed because of their results. They are trained by ``new_families.py``'s oracle (``run_oracle``)
with their own cache, ``benchmarks/data/advice_fresh_families_2.json``:

* ``distill``: digits (64 pixels); a teacher MLP (64 - 128 - 128 ReLU - 10, Adam 1e-3, 30 epochs of
  the training split, batch 32, data order seed 0; weights cached in
  ``benchmarks/data/advice_fresh_families_2_teacher.npz``) gives soft targets = softmax(logits / 4);
  the student, an MLP 64 - 32 ReLU - 10, is trained with ``gluon.loss.KLDivLoss(from_logits=False)``
  of its logits / 4 (the loss takes their log_softmax) against those targets; validation loss = that
  KL on the validation split, accuracy = the student's argmax against the true labels; SGD momentum
  0.9; batch 32; 300 iterations;
* ``label_smooth``: digits; the small CNN (``new_families.small_cnn``); 20% of the training labels
  (chosen with seed 1) replaced by labels drawn uniformly from the 10 classes (seed 1), targets one-hot
  smoothed by 0.1 (0.91 / 0.01), ``SoftmaxCrossEntropyLoss(sparse_label=False)``; validation = plain
  cross-entropy on the clean validation labels (one-hot) and accuracy; NAG momentum 0.9, wd 5e-4;
  batch 32; 300 iterations;
* ``poisson``: synthetic counts: 10 Gaussian features, rate = exp(w.x) with w ~ N(0, 0.7^2 / 10),
  scaled to mean 3, counts drawn (generator seed 0; 2500 samples, 500 validate); MLP 10 - 32 - 32 ReLU
  - 1 (the log-rate) with ``gluon.loss.PoissonNLLLoss(from_logits=True)`` (it returns the batch mean;
  the step backwards that, ``trainer.step(1)``); validation = that loss plus the validation mean of
  log(y!), i.e. the exact Poisson NLL (a constant shift, which the share lost does not see; changed
  after the first training, whose plain validation loss went negative near the best rates so that the
  oracle's "every order at least 2 x the best" pruning ended each ascent after one point; training,
  the sweeps and the training loss are unchanged); SGD momentum 0.9; batch 32; 300 iterations;
* ``gaussian``: scikit-learn's diabetes (442 samples, 100 validate by ``split``'s fixed permutation);
  features and target standardised with the training split's mean and SD; MLP 10 - 32 - 32 ReLU - 2
  (mean, log-variance); loss = Gaussian negative log-likelihood 0.5 (logvar + (y - mu)^2 / exp(logvar))
  in Gluon ops; validation = that NLL; Adam; batch 32; 300 iterations;
* ``gru_clip``: digits' 8 rows as a sequence of 8 steps of 8 pixels; a 1-layer GRU (hidden 32, NTC)
  whose last step's output feeds a Dense(10); gradients clipped to global norm 0.5
  (``new_families.clip_grads``); plain SGD (no momentum); batch 32; 400 iterations;
* ``sparse``: synthetic sparse binary classification: 2000 samples of 1000 binary features, each
  nonzero with probability 0.02; a sparse linear teacher (200 of the 1000 weights nonzero, N(0, 1)),
  label = teacher score + noise (SD 0.5) above its median (generator seed 0; 500 validate); logistic
  regression as a Dense(2) (dense arrays), softmax cross-entropy; AdaGrad; batch 64; 300 iterations.

Validation: digits recipes hold out 450 samples (``split``'s fixed permutation, as ``fresh_families``).
Initial weights: Xavier, the oracle's fixed seed (``new_families.INIT_SEED``).

Training does NOT score: unlike ``fresh_families.py``, a training run only fills the cache (``main``
with ``report_after_training=False``), so the set stays unseen until it is scored; ``--score`` alone
re-scores the cache into ``benchmarks/results/advice_fresh_families_2.md``. ``fresh_recipes_2()``
gives the recipes as recipes of the advice benchmark (``benchmarks.advice.score.Recipe``,
i.e. ``oracle_tables.Recipe``).

Run from the repository root (one process, one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_2.py [--only distill] [--score] [--log F]
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Dict, List, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import gluon  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice.fresh_families import DIGITS_VALID, flat_digits, mlp  # noqa: E402
from benchmarks.advice.new_families import (  # noqa: E402
    CTX,
    INIT_SEED,
    Classifier,
    Oracle,
    Recipe,
    digits,
    main,
    pretrain,
    split,
)
from benchmarks.advice.new_families_score import Suite, recipes  # noqa: E402
from benchmarks.common import data_path, results_path  # noqa: E402

TEACHER = data_path("advice_fresh_families_2_teacher.npz")
TEMPERATURE = 4.0
DIABETES_VALID = 100


# ------------------------------------------------------------------------------------ data
def teacher_net() -> gluon.HybridSequential:
    """The distillation teacher, an MLP 64 - 128 - 128 - 10: trained once on the digits training split
    (Adam 1e-3, 30 epochs, batch 32, order seed 0, init seed ``INIT_SEED``), its weights cached."""
    net = mlp(64, [128, 128], 10)
    if os.path.exists(TEACHER):
        weights = dict(np.load(TEACHER))
        for k, p in net.collect_params().items():
            p.set_data(mx.nd.array(weights[k[len(net.prefix):]]))
        return net
    X, y, _, _ = flat_digits()
    mx.random.seed(INIT_SEED)
    net = mlp(64, [128, 128], 10)
    pretrain(net, X, y)
    np.savez(TEACHER, **{k[len(net.prefix):]: p.data().asnumpy() for k, p in net.collect_params().items()})
    return net


def counts(n: int = 2500, features: int = 10, mean: float = 3.0, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian features and Poisson counts of rate exp(w.x) (w ~ N(0, 0.7^2 / features)) scaled to ``mean``."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, features)
    rate = np.exp(X @ (0.7 * rng.randn(features) / math.sqrt(features)))
    y = rng.poisson(rate * mean / rate.mean())
    return X.astype(np.float32), y.astype(np.float32)


def sparse_binary(n: int = 2000, features: int = 1000, density: float = 0.02, active: int = 200,
                  noise: float = 0.5, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Binary features nonzero with probability ``density``; label = (w.x + noise) above its median,
    w nonzero (N(0, 1)) on ``active`` random features."""
    rng = np.random.RandomState(seed)
    X = (rng.rand(n, features) < density).astype(np.float32)
    w = np.zeros(features)
    w[rng.choice(features, active, replace=False)] = rng.randn(active)
    z = X @ w + noise * rng.randn(n)
    return X, (z > np.median(z)).astype(np.float32)


def standardise(train: np.ndarray, *others: np.ndarray) -> Tuple[np.ndarray, ...]:
    """``train`` and ``others`` less ``train``'s mean, over its SD (per column), as float32."""
    mean, sd = train.mean(0), train.std(0)
    return tuple(((a - mean) / sd).astype(np.float32) for a in (train,) + others)


def diabetes() -> Tuple[np.ndarray, ...]:
    """scikit-learn's diabetes split by ``split`` (``DIABETES_VALID`` validate), features and target
    standardised with the training split's mean and SD: (train X, train y, validation X, validation y)."""
    from sklearn.datasets import load_diabetes

    X, y, Xv, yv = split(*load_diabetes(return_X_y=True), DIABETES_VALID)
    X, Xv = standardise(X, Xv)
    y, yv = standardise(y, yv)
    return X, y, Xv, yv


# ------------------------------------------------------------------------------------ nets, losses
class TemperedKL(gluon.loss.Loss):
    """``KLDivLoss(from_logits=False)`` of logits / temperature against soft targets."""

    def __init__(self, temperature: float = TEMPERATURE, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)
        self.temperature = temperature
        self.kl = gluon.loss.KLDivLoss(from_logits=False)

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        return self.kl(pred / self.temperature, label)


class GaussianNLL(gluon.loss.Loss):
    """Per-sample 0.5 (logvar + (y - mu)^2 / exp(logvar)) of predictions (mu, logvar)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        mu = F.slice_axis(pred, axis=1, begin=0, end=1)
        logvar = F.slice_axis(pred, axis=1, begin=1, end=2)
        nll = 0.5 * (logvar + F.square(F.reshape(label, shape=(-1, 1)) - mu) / F.exp(logvar))
        return F.mean(nll, axis=1)


class GRUClassifier(gluon.HybridBlock):
    """Sequences (batch, steps, width) -> a 1-layer GRU -> its last step's output -> class scores."""

    def __init__(self, hidden: int = 32, width: int = 8, classes: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.rnn = gluon.rnn.GRU(hidden, layout="NTC", input_size=width)
            self.out = gluon.nn.Dense(classes, in_units=hidden)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        return self.out(F.slice_axis(self.rnn(x), axis=1, begin=-1, end=None))


# ------------------------------------------------------------------------------------ recipes
class Regressor(Classifier):
    """A ``Classifier`` without an accuracy: validation = the loss only."""

    def accuracy(self, out: np.ndarray) -> float:
        return math.nan

    def valid(self, net: gluon.Block) -> Dict[str, float]:
        return {k: v for k, v in super().valid(net).items() if k == "loss"}


class Distill(Classifier):
    name = "digits / MLP 64-32-10 student of an MLP teacher, KL at T 4 / SGD 0.9 / b32"
    family = "distillation"
    params = {"momentum": 0.9}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, labels, Xv, self.labels_v = flat_digits()
        teacher = teacher_net()
        self.X, self.Xv = X, Xv
        self.y, self.yv = (mx.nd.softmax(teacher(mx.nd.array(x)) / TEMPERATURE).asnumpy() for x in (X, Xv))

    def make_net(self) -> gluon.Block:
        return mlp(64, [32], 10)

    def loss_fn(self) -> gluon.loss.Loss:
        return TemperedKL()

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean(out.argmax(1) == self.labels_v))


class LabelSmooth(Classifier):
    name = "digits, 20% random labels / CNN, label smoothing 0.1 / NAG 0.9 wd 5e-4 / b32"
    family = "label smoothing"
    optimizer = "nag"
    params = {"momentum": 0.9, "wd": 5e-4}
    batch = 32
    budget = 300
    noisy, smoothing = 0.2, 0.1

    def build(self) -> None:
        X, y, self.Xv, yv = split(*digits(tuple(range(10))), DIGITS_VALID)
        rng = np.random.RandomState(1)
        y = y.astype(np.int64)
        flip = rng.choice(len(y), int(round(self.noisy * len(y))), replace=False)
        y[flip] = rng.randint(10, size=len(flip))
        eye = np.eye(10, dtype=np.float32)
        self.X, self.y = X, eye[y] * (1 - self.smoothing) + self.smoothing / 10
        self.yv = eye[yv.astype(np.int64)]  # clean, one-hot: the validation loss is plain cross-entropy

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean(out.argmax(1) == self.yv.argmax(1)))


class Poisson(Regressor):
    name = "synthetic counts, 10 features / MLP 32-32, Poisson NLL / SGD 0.9 / b32"
    family = "poisson"
    params = {"momentum": 0.9}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*counts(), 500)
        self.log_factorial = float(np.mean([math.lgamma(v + 1) for v in self.yv]))

    def make_net(self) -> gluon.Block:
        return mlp(10, [32, 32], 1)

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.PoissonNLLLoss(from_logits=True)

    def valid(self, net: gluon.Block) -> Dict[str, float]:
        """The loss plus the validation mean of log(y!): the exact Poisson NLL, positive (fix after the
        first training: the plain loss is negative near the best rates, and the oracle's ascent, which
        stops where every order is at least 2 x the best, then stopped after one point)."""
        return {"loss": super().valid(net)["loss"] + self.log_factorial}


class Gaussian(Regressor):
    name = "diabetes / MLP 32-32, Gaussian NLL (mean, log-variance) / Adam / b32"
    family = "gaussian likelihood"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = diabetes()

    def make_net(self) -> gluon.Block:
        return mlp(10, [32, 32], 2)

    def loss_fn(self) -> gluon.loss.Loss:
        return GaussianNLL()


class GRUClip(Classifier):
    name = "digits rows as 8 steps / GRU 32 + dense, clip 0.5 / SGD / b32"
    family = "clipped recurrent classifier"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 400
    clip = 0.5

    def build(self) -> None:
        X, y = digits(tuple(range(10)))
        self.X, self.y, self.Xv, self.yv = split(X.reshape(len(X), 8, 8), y, DIGITS_VALID)

    def make_net(self) -> gluon.Block:
        net = GRUClassifier()
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net


class Sparse(Classifier):
    name = "synthetic sparse binary, 1000 features / logistic regression / AdaGrad / b64"
    family = "sparse features"
    optimizer = "adagrad"
    params: Dict[str, Any] = {}
    batch = 64
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*sparse_binary(), 500)

    def make_net(self) -> gluon.Block:
        return mlp(1000, [], 2)


RECIPES: Dict[str, Recipe] = {"distill": Distill(), "label_smooth": LabelSmooth(), "poisson": Poisson(),
                              "gaussian": Gaussian(), "gru_clip": GRUClip(), "sparse": Sparse()}

_DEFAULT = "`Optimizer`'s learning_rate=None -> 0.01"
#: The rate each recipe's trainer uses when none is given (MXNet 1.9.1), and where it comes from.
DEFAULTS = {"distill": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "label_smooth": (0.01, f"`mx.optimizer.NAG`'s default: {_DEFAULT}"),
            "poisson": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "gaussian": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "gru_clip": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "sparse": (0.01, f"`mx.optimizer.AdaGrad`'s default: {_DEFAULT}")}

FRESH_FAMILIES_2 = Suite("Advice benchmark, fresh families 2 (a frozen test set): distillation, label smoothing, "
                         "poisson, gaussian likelihood, clipped recurrent classifier, sparse features",
                         data_path("advice_fresh_families_2.json"), results_path("advice_fresh_families_2.md"),
                         "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_2.py --score", DEFAULTS,
                         summaries=True)
#: Grid settings per recipe (as ``new_families.MAX_POINTS`` etc.): the defaults, 16 points from one
#: quarter decade below the lowest answer, data orders 0, 1, 2.
MAX_POINTS: Dict[str, int] = {}
FRESH_2 = Oracle(RECIPES, FRESH_FAMILIES_2, MAX_POINTS)


def fresh_recipes_2() -> List[Any]:
    """The second fresh families as recipes of the advice benchmark (as ``fresh_families.fresh_recipes()``)."""
    return recipes(FRESH_FAMILIES_2)


if __name__ == "__main__":
    sys.exit(main(None, FRESH_2, __doc__ or "", report_after_training=False))
