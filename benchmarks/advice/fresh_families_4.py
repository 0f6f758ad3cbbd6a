"""A fourth fresh, frozen test set for the LR advice: 6 recipes in 6 families no other recipe set has.

As ``fresh_families.py``, ``fresh_families_2.py`` and ``fresh_families_3.py``, these stand for
"recipes kept outside the repository": every setting below was fixed and committed before any of them
was trained, and no rule, threshold or package code is changed because of their results. They are
trained by ``new_families.py``'s oracle (``run_oracle``) with their own cache,
``benchmarks/data/advice_fresh_families_4.json``:

* ``ordinal``: synthetic ordinal data: 3000 samples of 8 Gaussian features, a latent score w.x
  (w ~ N(0, 1 / 8)) plus noise SD 0.5 cut into 5 ordered classes at its 20, 40, 60, 80% quantiles
  (generator seed 0; 500 validate by ``split``'s fixed permutation); an MLP 8 - 32 ReLU - 1 (the
  score) with a cumulative-logit (proportional odds) loss: 4 learned ordered thresholds, the first
  (initially -1.5) plus softplus increments (initially 1 each), P(y <= k) = sigmoid(t_k - score), loss
  = the negative log-likelihood of the observed class (its probability floored at 1e-12), in Gluon
  ops; validation = that NLL, accuracy = the most probable class; SGD momentum 0.9; batch 32; 300
  iterations;
* ``seq_regression``: synthetic sequences: 2000 of 32 steps of sin(2 pi f t / 32 + phase) plus noise
  SD 0.3, f uniform in [0.5, 3] cycles per window, phase uniform in [0, 2 pi) (generator seed 0; 400
  validate by ``split``); target = f standardised with the training split's mean and SD; a 1-layer
  GRU (hidden 32, NTC, input width 1) whose last step's output feeds a Dense(1)
  (``fresh_families_2.GRUClassifier`` with 1 output); ``gluon.loss.L2Loss``; validation = L2; Adam;
  batch 32; 300 iterations;
* ``dropout``: scikit-learn's breast cancer (``fresh_families_3.breast_cancer``: standardised, 120
  validate), labels 0 (malignant) / 1 (benign); an MLP 30 - 64 tanh - Dropout(0.5) - 64 tanh -
  Dropout(0.5) - 2; softmax cross-entropy; validation in predict mode (the forward outside
  ``autograd.record``: dropout off) and accuracy; Adam; batch 32; 300 iterations. Planned with
  AdaDelta, but MXNet 1.9.1's ``AdaDelta.update`` never reads the learning rate (``weight -= delta +
  wd * weight``; checked in the installed source and by two trainings at rates 1e-3 and 10 ending
  with identical weights), so frozen with Adamax; changed after freezing, to fix a crash, to Adam:
  MXNet 1.9.1's Adamax has no epsilon (``weight -= lr * m / u``, ``u = max(beta2 u, |g|)`` from 0),
  and the two stacked dropout masks leave some weight's gradient exactly 0 on the first step of
  some data orders (1 entry on order 1, 2 on order 3 of 0-4), 0 / 0 = NaN weights: the second range
  test stopped after 1 point and ``suggest()`` raised; Adam's epsilon makes a zero gradient a zero
  step (the first range test, with Adamax, was discarded; nothing else was trained);
* ``factorization``: synthetic ratings: 200 users, 150 items, true rank-4 factors (N(0, 0.7^2)
  entries) plus user and item biases (N(0, 0.5^2)) plus noise SD 0.5 on 8000 distinct observed pairs
  (generator seed 0; 1500 validate by ``split``); a factorization model: user and item
  ``Embedding``s of dimension 8 and user and item bias ``Embedding``s of dimension 1 (Xavier, as every
  weight here), prediction = dot + both biases; ``gluon.loss.L2Loss``; validation = L2; FTML;
  batch 64; 400 iterations;
* ``vae``: digits (64 pixels in [0, 1], ``fresh_families.flat_digits``); a tiny VAE: encoder
  64 - 32 ReLU - 8 (the mean and log-variance of a 4-d latent), a reparameterised sample mean +
  exp(logvar / 2) eps with eps ~ N(0, 1) drawn from ``mx.random`` (seeded with the data order by
  the oracle's ``train``) while training, decoder 4 - 32 ReLU - 64 logits (the sigmoid inside the
  loss); loss per sample = binary cross-entropy of the reconstruction summed over the 64 pixels
  (``SigmoidBinaryCrossEntropyLoss`` x 64) + KL(q || N(0, I)), averaged over the batch; validation =
  the same loss with the latent mean (no sampling: a forward outside ``autograd.record``), so it is
  deterministic; positive by construction; Adam; batch 32; 300 iterations;
* ``imbalanced``: synthetic binary classification: 4000 samples of 10 features, 200 (5%) positives
  (chosen with generator seed 0, after the features' noise) drawn from N(0.75, I), the negatives
  from N(0, I) (800 validate by ``split``); an MLP 10 - 32 ReLU - 2 with a focal loss,
  -(1 - p)^2 log p on the softmax probability p of the true class, in Gluon ops; validation = that
  focal loss, accuracy; SGD momentum 0.9; batch 64; 300 iterations.

Every validation loss is positive (a negative log-likelihood of a noisy class, squared errors on noisy
targets, cross-entropies and a focal loss on held-out data, and a cross-entropy against soft targets
plus a KL), so the oracle's "every order at least 2 x the best" pruning is not degenerate. Validation:
digits recipes hold out 450 samples (``split``'s fixed permutation, as ``fresh_families``). Initial
weights: Xavier, the oracle's fixed seed (``new_families.INIT_SEED``).

Training does NOT score: a training run only fills the cache (``main`` with
``report_after_training=False``), so the set stays unseen until it is scored; ``--score`` alone
re-scores the cache into ``benchmarks/results/advice_fresh_families_4.md``. ``fresh_recipes_4()``
gives the recipes as recipes of the advice benchmark (``benchmarks.advice.score.Recipe``,
i.e. ``oracle_tables.Recipe``).

Run from the repository root (one process, one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_4.py [--only vae] [--score] [--log F]
"""
from __future__ import annotations

import math
import os
import sys
from typing import Any, Dict, List, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice.fresh_families import flat_digits, mlp  # noqa: E402
from benchmarks.advice.fresh_families_2 import GRUClassifier, Regressor, standardise  # noqa: E402
from benchmarks.advice.fresh_families_3 import breast_cancer  # noqa: E402
from benchmarks.advice.new_families import CTX, Classifier, Oracle, Recipe, main, split  # noqa: E402
from benchmarks.advice.new_families_score import Suite, recipes  # noqa: E402
from benchmarks.common import data_path, results_path  # noqa: E402

ORDINAL_CLASSES = 5
FIRST_CUT, CUT_STEP = -1.5, 1.0
PROB_FLOOR = 1e-12
DROPOUT = 0.5
LATENT = 4
FOCAL_GAMMA = 2.0


# ------------------------------------------------------------------------------------ data
def ordinal(n: int = 3000, features: int = 8, classes: int = ORDINAL_CLASSES, noise: float = 0.5,
            seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Gaussian features; class = the latent w.x + noise (SD ``noise``; w ~ N(0, 1 / features)) cut at
    its 1 / classes, 2 / classes, ... quantiles (0 lowest)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, features)
    z = X @ (rng.randn(features) / math.sqrt(features)) + noise * rng.randn(n)
    cuts = np.quantile(z, np.arange(1, classes) / classes)
    return X.astype(np.float32), np.searchsorted(cuts, z).astype(np.float32)


def sine_frequencies(n: int = 2000, steps: int = 32, low: float = 0.5, high: float = 3.0, noise: float = 0.3,
                     seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Sequences (n, steps, 1) of sin(2 pi f t / steps + phase) plus noise (SD ``noise``), f uniform in
    [low, high] cycles per window, phase uniform in [0, 2 pi); and their f."""
    rng = np.random.RandomState(seed)
    f = rng.uniform(low, high, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    t = np.arange(steps) / steps
    X = np.sin(2 * np.pi * f[:, None] * t + phase[:, None]) + noise * rng.randn(n, steps)
    return X.reshape(n, steps, 1).astype(np.float32), f.astype(np.float32)


def ratings(users: int = 200, items: int = 150, n: int = 8000, rank: int = 4, noise: float = 0.5,
            seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` distinct (user, item) pairs (float ids, (n, 2)) and their ratings: a dot of rank-``rank``
    factors (N(0, 0.7^2)) + a user and an item bias (N(0, 0.5^2)) + noise (SD ``noise``)."""
    rng = np.random.RandomState(seed)
    U, V = 0.7 * rng.randn(users, rank), 0.7 * rng.randn(items, rank)
    bu, bi = 0.5 * rng.randn(users), 0.5 * rng.randn(items)
    u, i = np.divmod(rng.choice(users * items, n, replace=False), items)
    r = (U[u] * V[i]).sum(1) + bu[u] + bi[i] + noise * rng.randn(n)
    return np.stack([u, i], 1).astype(np.float32), r.astype(np.float32)


def imbalanced(n: int = 4000, features: int = 10, positive: float = 0.05, shift: float = 0.75,
               seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Binary labels, round(``positive`` n) positives at random; features N(0, I), shifted by
    ``shift`` in every feature for the positives. (The noise is drawn first: a first draw of
    ``choice(n, k, replace=False)`` from seed 0 is the first k of ``split``'s permutation, which would
    put every positive in the validation split.)"""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, features)
    y = np.zeros(n)
    y[rng.choice(n, int(round(positive * n)), replace=False)] = 1
    X += shift * y[:, None]
    return X.astype(np.float32), y.astype(np.float32)


# ------------------------------------------------------------------------------------ nets, losses
class OrdinalNet(gluon.HybridBlock):
    """An MLP score and ``classes - 1`` ordered thresholds (the first, then softplus increments);
    outputs (batch, classes): the score, then the thresholds."""

    def __init__(self, inputs: int = 8, hidden: int = 32, classes: int = ORDINAL_CLASSES, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cuts = classes - 1
        with self.name_scope():
            self.score = mlp(inputs, [hidden], 1)
            self.first = self.params.get("first", shape=(1,), init=mx.init.Constant(FIRST_CUT))
            # softplus(log(e^step - 1)) = step
            self.steps = self.params.get("steps", shape=(classes - 2,),
                                         init=mx.init.Constant(math.log(math.expm1(CUT_STEP))))
        self.first.initialize(ctx=CTX)
        self.steps.initialize(ctx=CTX)

    def hybrid_forward(self, F, x, first, steps):  # type: ignore[no-untyped-def]
        score = self.score(x)
        steps = F.Activation(steps, act_type="softrelu")
        cuts = [first]
        for j in range(self.cuts - 1):
            cuts.append(cuts[-1] + F.slice_axis(steps, axis=0, begin=j, end=j + 1))
        cuts = F.broadcast_add(F.zeros_like(score), F.reshape(F.concat(*cuts, dim=0), shape=(1, -1)))
        return F.concat(score, cuts, dim=1)


def ordinal_probs(F: Any, pred: Any) -> Any:
    """Class probabilities of the proportional-odds model from ``OrdinalNet``'s (score, thresholds):
    P(y <= k) = sigmoid(t_k - score), P(y = k) = P(y <= k) - P(y <= k - 1)."""
    score = F.slice_axis(pred, axis=1, begin=0, end=1)
    below = F.sigmoid(F.broadcast_sub(F.slice_axis(pred, axis=1, begin=1, end=None), score))
    return F.concat(below, F.ones_like(score), dim=1) - F.concat(F.zeros_like(score), below, dim=1)


class CumulativeLogit(gluon.loss.Loss):
    """Per-sample negative log-likelihood of the observed class under ``ordinal_probs`` (floored at
    ``PROB_FLOOR``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        return -F.log(F.maximum(F.pick(ordinal_probs(F, pred), label, axis=1), PROB_FLOOR))


class Factorization(gluon.HybridBlock):
    """Pairs (batch, 2) of (user, item) ids -> the dot of their embeddings + a user and an item bias, (batch, 1)."""

    def __init__(self, users: int = 200, items: int = 150, dim: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.user = gluon.nn.Embedding(users, dim)
            self.item = gluon.nn.Embedding(items, dim)
            self.user_bias = gluon.nn.Embedding(users, 1)
            self.item_bias = gluon.nn.Embedding(items, 1)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        u = F.reshape(F.slice_axis(x, axis=1, begin=0, end=1), shape=(-1,))
        i = F.reshape(F.slice_axis(x, axis=1, begin=1, end=2), shape=(-1,))
        dot = F.sum(self.user(u) * self.item(i), axis=1, keepdims=True)
        return dot + self.user_bias(u) + self.item_bias(i)


class VAE(gluon.Block):
    """Encoder MLP -> (mean, log-variance) of a ``latent``-d code; the code = mean + exp(logvar / 2) eps,
    eps ~ N(0, 1) from ``mx.random`` while training (inside ``autograd.record``), the mean otherwise;
    decoder MLP -> pixel logits. Outputs (batch, inputs + 2 latent): logits, mean, log-variance."""

    def __init__(self, inputs: int = 64, hidden: int = 32, latent: int = LATENT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latent = latent
        with self.name_scope():
            self.encoder = mlp(inputs, [hidden], 2 * latent)
            self.decoder = mlp(latent, [hidden], inputs)

    def forward(self, x):  # type: ignore[no-untyped-def]
        h = self.encoder(x)
        mean = mx.nd.slice_axis(h, axis=1, begin=0, end=self.latent)
        logvar = mx.nd.slice_axis(h, axis=1, begin=self.latent, end=None)
        code = mean
        if autograd.is_training():
            code = mean + mx.nd.exp(0.5 * logvar) * mx.nd.random.normal(shape=mean.shape, ctx=CTX)
        return mx.nd.concat(self.decoder(code), mean, logvar, dim=1)


class VAELoss(gluon.loss.Loss):
    """Per-sample binary cross-entropy of the pixel logits against the pixels, summed over the pixels,
    + KL(N(mean, exp(logvar)) || N(0, I)); predictions as ``VAE``'s outputs."""

    def __init__(self, inputs: int = 64, latent: int = LATENT, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)
        self.inputs, self.latent = inputs, latent
        self.bce = gluon.loss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=False)

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        logits = F.slice_axis(pred, axis=1, begin=0, end=self.inputs)
        mean = F.slice_axis(pred, axis=1, begin=self.inputs, end=self.inputs + self.latent)
        logvar = F.slice_axis(pred, axis=1, begin=self.inputs + self.latent, end=None)
        kl = -0.5 * F.sum(1 + logvar - F.square(mean) - F.exp(logvar), axis=1)
        return self.inputs * self.bce(logits, label) + kl


class FocalLoss(gluon.loss.Loss):
    """Per-sample focal loss -(1 - p)^gamma log p, p = the softmax probability of the true class."""

    def __init__(self, gamma: float = FOCAL_GAMMA, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)
        self.gamma = gamma

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        logp = F.pick(F.log_softmax(pred, axis=1), label, axis=1)
        return -((1 - F.exp(logp)) ** self.gamma) * logp


# ------------------------------------------------------------------------------------ recipes
class Ordinal(Classifier):
    name = "synthetic ordinal, 8 features, 5 classes / MLP 32 score, cumulative logit / SGD 0.9 / b32"
    family = "ordinal"
    params = {"momentum": 0.9}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*ordinal(), 500)

    def make_net(self) -> gluon.Block:
        return OrdinalNet()

    def loss_fn(self) -> gluon.loss.Loss:
        return CumulativeLogit()

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean(ordinal_probs(mx.nd, mx.nd.array(out)).asnumpy().argmax(1) == self.yv))


class SeqRegression(Regressor):
    name = "synthetic noisy sines, 32 steps / GRU 32 + dense, frequency regression L2 / Adam / b32"
    family = "sequence regression"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, y, self.Xv, yv = split(*sine_frequencies(), 400)
        self.X = X
        self.y, self.yv = standardise(y, yv)

    def make_net(self) -> gluon.Block:
        net = GRUClassifier(hidden=32, width=1, classes=1)
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.L2Loss()


class Dropout(Classifier):
    name = "breast cancer / MLP 64-64 tanh, dropout 0.5 / Adam / b32"
    family = "dropout"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, y, Xv, yv = breast_cancer()
        self.X, self.y, self.Xv, self.yv = X, (y + 1) / 2, Xv, (yv + 1) / 2

    def make_net(self) -> gluon.Block:
        return mlp(30, [64, 64], 2, activation="tanh", dropout=DROPOUT)


class MatrixFactorization(Regressor):
    name = "synthetic ratings, 200 users x 150 items / factorization dim 8 + biases, L2 / FTML / b64"
    family = "factorization"
    optimizer = "ftml"
    params: Dict[str, Any] = {}
    batch = 64
    budget = 400

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*ratings(), 1500)

    def make_net(self) -> gluon.Block:
        net = Factorization()
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.L2Loss()


class Variational(Regressor):
    name = "digits / VAE 64-32-4-32-64, BCE + KL / Adam / b32"
    family = "variational"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, _, Xv, _ = flat_digits()
        self.X, self.y, self.Xv, self.yv = X, X, Xv, Xv

    def make_net(self) -> gluon.Block:
        return VAE()

    def loss_fn(self) -> gluon.loss.Loss:
        return VAELoss()


class Imbalanced(Classifier):
    name = "synthetic imbalanced binary, 5% positives / MLP 32, focal loss gamma 2 / SGD 0.9 / b64"
    family = "imbalanced"
    params = {"momentum": 0.9}
    batch = 64
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*imbalanced(), 800)

    def make_net(self) -> gluon.Block:
        return mlp(10, [32], 2)

    def loss_fn(self) -> gluon.loss.Loss:
        return FocalLoss()


RECIPES: Dict[str, Recipe] = {"ordinal": Ordinal(), "seq_regression": SeqRegression(), "dropout": Dropout(),
                              "factorization": MatrixFactorization(), "vae": Variational(),
                              "imbalanced": Imbalanced()}

_DEFAULT = "`Optimizer`'s learning_rate=None -> 0.01"
#: The rate each recipe's trainer uses when none is given (MXNet 1.9.1), and where it comes from.
DEFAULTS = {"ordinal": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "seq_regression": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "dropout": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "factorization": (0.01, f"`mx.optimizer.FTML`'s default: {_DEFAULT}"),
            "vae": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "imbalanced": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}")}

FRESH_FAMILIES_4 = Suite("Advice benchmark, fresh families 4 (a frozen test set): ordinal, sequence regression, "
                         "dropout, factorization, variational, imbalanced",
                         data_path("advice_fresh_families_4.json"), results_path("advice_fresh_families_4.md"),
                         "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_4.py --score", DEFAULTS,
                         summaries=True)
#: Grid settings per recipe (as ``new_families.MAX_POINTS`` etc.): the defaults, 16 points from one
#: quarter decade below the lowest answer, data orders 0, 1, 2.
MAX_POINTS: Dict[str, int] = {}
FRESH_4 = Oracle(RECIPES, FRESH_FAMILIES_4, MAX_POINTS)


def fresh_recipes_4() -> List[Any]:
    """The fourth fresh families as recipes of the advice benchmark (as ``fresh_families.fresh_recipes()``)."""
    return recipes(FRESH_FAMILIES_4)


if __name__ == "__main__":
    sys.exit(main(None, FRESH_4, __doc__ or "", report_after_training=False))
