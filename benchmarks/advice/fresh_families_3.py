"""A third fresh, frozen test set for the LR advice: 6 recipes in 6 families no other recipe set has.

As ``fresh_families.py`` and ``fresh_families_2.py``, these stand for "recipes kept outside the
repository": every setting below was fixed and committed before any of them was trained, and no rule,
threshold or package code is changed because of their results. They are trained by
``new_families.py``'s oracle (``run_oracle``) with their own cache,
``benchmarks/data/advice_fresh_families_3.json``:

* ``quantile``: scikit-learn's diabetes (442 samples, 100 validate by ``split``'s fixed permutation;
  features and target standardised with the training split's mean and SD, ``fresh_families_2.diabetes``);
  MLP 10 - 32 - 32 ReLU - 1 trained with the pinball loss at quantile 0.9,
  max(0.9 (y - f), -0.1 (y - f)), in Gluon ops; validation = that loss; SGD momentum 0.9; batch 32;
  300 iterations;
* ``hinge``: scikit-learn's breast cancer (569 samples, 30 features, 120 validate by ``split``'s
  fixed permutation; features standardised with the training split's mean and SD); a linear SVM,
  Dense(1), with ``gluon.loss.HingeLoss`` (margin 1) on labels +-1 (malignant -1, benign +1);
  validation = that hinge loss, accuracy = agreement of the output's sign with the label; plain SGD
  (no momentum), wd 1e-3; batch 16; 300 iterations;
* ``multitask``: digits (64 pixels); a shared trunk Dense(64) ReLU with two heads, Dense(10) (the
  class) and Dense(1) (the digit's mean pixel intensity, standardised with the training split's mean
  and SD); loss per sample = softmax cross-entropy + ``gluon.loss.L2Loss`` (0.5 squared error);
  validation = the same sum, accuracy = the class head's argmax; Adam; batch 32; 300 iterations;
* ``denoise``: digits as 1 x 8 x 8 images in [0, 1] plus Gaussian noise of SD 0.3 (drawn once per
  sample, generator seed 0, not clipped) as inputs, the clean images as targets; a conv net
  Conv2D(16, 3) ReLU - Conv2D(16, 3) ReLU - Conv2D(1, 3), same padding (1), trained with
  ``gluon.loss.L1Loss``; validation = L1 on the held-out noisy / clean pairs; Adam; batch 32; 300
  iterations;
* ``sigmoid``: digits (64 pixels); a 6-layer MLP, 5 Dense(64) sigmoid + Dense(10), Xavier; softmax
  cross-entropy; SGD momentum 0.9; batch 32; 400 iterations;
* ``cosine``: digits (64 pixels); a trunk Dense(64) ReLU whose output and the 10 class weight vectors
  (a 10 x 64 parameter, Xavier) are L2-normalised (``L2Normalization``, instance mode), logits = 10 x
  their cosine similarity; softmax cross-entropy; NAG momentum 0.9, wd 5e-4; batch 32; 300 iterations.

Every validation loss is positive (pinball, hinge, L1 and cross-entropy are nonnegative and do not
reach 0 on held-out data here), so the oracle's "every order at least 2 x the best" pruning is not
degenerate. Validation: digits recipes hold out 450 samples (``split``'s fixed permutation, as
``fresh_families``). Initial weights: Xavier, the oracle's fixed seed (``new_families.INIT_SEED``).

Training does NOT score: a training run only fills the cache (``main`` with
``report_after_training=False``), so the set stays unseen until it is scored; ``--score`` alone
re-scores the cache into ``benchmarks/results/advice_fresh_families_3.md``. ``fresh_recipes_3()``
gives the recipes as recipes of the advice benchmark (``benchmarks.advice.score.Recipe``,
i.e. ``oracle_tables.Recipe``).

Run from the repository root (one process, one thread)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_3.py [--only hinge] [--score] [--log F]
"""
from __future__ import annotations

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
from benchmarks.advice.fresh_families_2 import Regressor, diabetes, standardise  # noqa: E402
from benchmarks.advice.new_families import CTX, Classifier, Oracle, Recipe, digits, main, split  # noqa: E402
from benchmarks.advice.new_families_score import Suite, recipes  # noqa: E402
from benchmarks.common import data_path, results_path  # noqa: E402

QUANTILE = 0.9
BREAST_CANCER_VALID = 120
NOISE_SD = 0.3
COSINE_SCALE = 10.0


# ------------------------------------------------------------------------------------ data
def breast_cancer() -> Tuple[np.ndarray, ...]:
    """scikit-learn's breast cancer split by ``split`` (``BREAST_CANCER_VALID`` validate), features
    standardised with the training split's mean and SD, labels +-1 (float32)."""
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X, y, Xv, yv = split(X, (2 * y - 1).astype(np.float32), BREAST_CANCER_VALID)
    X, Xv = standardise(X, Xv)
    return X, y, Xv, yv


def noisy_digits(sd: float = NOISE_SD, seed: int = 0) -> Tuple[np.ndarray, ...]:
    """Digits images (1 x 8 x 8, in [0, 1]) plus Gaussian noise of SD ``sd`` fixed per sample, split:
    (train noisy, train clean, validation noisy, validation clean)."""
    clean, _ = digits(tuple(range(10)))
    noisy = (clean + sd * np.random.RandomState(seed).randn(*clean.shape)).astype(np.float32)
    return split(noisy, clean, DIGITS_VALID)


# ------------------------------------------------------------------------------------ nets, losses
class Pinball(gluon.loss.Loss):
    """Per-sample pinball loss at ``quantile``: max(q (y - f), (q - 1) (y - f))."""

    def __init__(self, quantile: float = QUANTILE, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)
        self.quantile = quantile

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        diff = F.reshape(label, shape=(-1, 1)) - pred
        return F.mean(F.maximum(self.quantile * diff, (self.quantile - 1) * diff), axis=1)


class TwoHeads(gluon.HybridBlock):
    """A shared trunk Dense(hidden) ReLU, a class head Dense(classes) and a value head Dense(1);
    outputs (batch, classes + 1): the class scores, then the value."""

    def __init__(self, inputs: int = 64, hidden: int = 64, classes: int = 10, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.trunk = gluon.nn.Dense(hidden, activation="relu", in_units=inputs)
            self.classes = gluon.nn.Dense(classes, in_units=hidden)
            self.value = gluon.nn.Dense(1, in_units=hidden)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        h = self.trunk(x)
        return F.concat(self.classes(h), self.value(h), dim=1)


class MultiTaskLoss(gluon.loss.Loss):
    """Per-sample softmax cross-entropy of the class scores + ``L2Loss`` of the value; labels
    (batch, 2): the class, then the value's target."""

    def __init__(self, classes: int = 10, **kwargs: Any) -> None:
        super().__init__(None, 0, **kwargs)
        self.classes = classes
        self.ce = gluon.loss.SoftmaxCrossEntropyLoss()
        self.l2 = gluon.loss.L2Loss()

    def hybrid_forward(self, F, pred, label):  # type: ignore[no-untyped-def]
        scores = F.slice_axis(pred, axis=1, begin=0, end=self.classes)
        value = F.slice_axis(pred, axis=1, begin=self.classes, end=self.classes + 1)
        cls = F.reshape(F.slice_axis(label, axis=1, begin=0, end=1), shape=(-1,))
        return self.ce(scores, cls) + self.l2(value, F.slice_axis(label, axis=1, begin=1, end=2))


class CosineClassifier(gluon.HybridBlock):
    """A trunk Dense(hidden) ReLU; logits = ``scale`` x the cosine similarity of its output with each
    class's weight vector (both L2-normalised)."""

    def __init__(self, inputs: int = 64, hidden: int = 64, classes: int = 10, scale: float = COSINE_SCALE,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale, self.n_classes = scale, classes
        with self.name_scope():
            self.trunk = gluon.nn.Dense(hidden, activation="relu", in_units=inputs)
            self.weight = self.params.get("weight", shape=(classes, hidden))

    def hybrid_forward(self, F, x, weight):  # type: ignore[no-untyped-def]
        h = F.L2Normalization(self.trunk(x), mode="instance")
        w = F.L2Normalization(weight, mode="instance")
        return self.scale * F.FullyConnected(h, w, no_bias=True, num_hidden=self.n_classes)


# ------------------------------------------------------------------------------------ recipes
class Quantile(Regressor):
    name = "diabetes / MLP 32-32, pinball loss at q 0.9 / SGD 0.9 / b32"
    family = "quantile regression"
    params = {"momentum": 0.9}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = diabetes()

    def make_net(self) -> gluon.Block:
        return mlp(10, [32, 32], 1)

    def loss_fn(self) -> gluon.loss.Loss:
        return Pinball()


class Hinge(Classifier):
    name = "breast cancer / linear SVM, hinge loss / SGD wd 1e-3 / b16"
    family = "hinge"
    params = {"wd": 1e-3}
    batch = 16
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = breast_cancer()

    def make_net(self) -> gluon.Block:
        return mlp(30, [], 1)

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.HingeLoss()

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean(np.sign(out[:, 0]) == self.yv))


class MultiTask(Classifier):
    name = "digits / MLP trunk 64 + class and mean-intensity heads, CE + L2 / Adam / b32"
    family = "multi-task"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        X, y, Xv, yv = flat_digits()
        m, mv = standardise(X.mean(1), Xv.mean(1))
        self.X, self.Xv = X, Xv
        self.y, self.yv = np.stack([y, m], 1).astype(np.float32), np.stack([yv, mv], 1).astype(np.float32)

    def make_net(self) -> gluon.Block:
        net = TwoHeads()
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def loss_fn(self) -> gluon.loss.Loss:
        return MultiTaskLoss()

    def accuracy(self, out: np.ndarray) -> float:
        return float(np.mean(out[:, :10].argmax(1) == self.yv[:, 0]))


class Denoise(Regressor):
    name = "digits + Gaussian noise SD 0.3 / conv denoiser 16-16-1, L1 / Adam / b32"
    family = "denoising"
    optimizer = "adam"
    params: Dict[str, Any] = {}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = noisy_digits()

    def make_net(self) -> gluon.Block:
        net = gluon.nn.HybridSequential()
        with net.name_scope():
            net.add(gluon.nn.Conv2D(16, 3, padding=1, activation="relu", in_channels=1),
                    gluon.nn.Conv2D(16, 3, padding=1, activation="relu", in_channels=16),
                    gluon.nn.Conv2D(1, 3, padding=1, in_channels=16))
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def loss_fn(self) -> gluon.loss.Loss:
        return gluon.loss.L1Loss()


class Sigmoid(Classifier):
    name = "digits / 6-layer sigmoid MLP, width 64 / SGD 0.9 / b32"
    family = "sigmoid net"
    params = {"momentum": 0.9}
    batch = 32
    budget = 400

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = flat_digits()

    def make_net(self) -> gluon.Block:
        return mlp(64, [64] * 5, 10, activation="sigmoid")


class Cosine(Classifier):
    name = "digits / MLP trunk 64, cosine classifier scale 10 / NAG 0.9 wd 5e-4 / b32"
    family = "cosine classifier"
    optimizer = "nag"
    params = {"momentum": 0.9, "wd": 5e-4}
    batch = 32
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = flat_digits()

    def make_net(self) -> gluon.Block:
        net = CosineClassifier()
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net


RECIPES: Dict[str, Recipe] = {"quantile": Quantile(), "hinge": Hinge(), "multitask": MultiTask(),
                              "denoise": Denoise(), "sigmoid": Sigmoid(), "cosine": Cosine()}

_DEFAULT = "`Optimizer`'s learning_rate=None -> 0.01"
#: The rate each recipe's trainer uses when none is given (MXNet 1.9.1), and where it comes from.
DEFAULTS = {"quantile": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "hinge": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "multitask": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "denoise": (0.001, "`mx.optimizer.Adam`'s default learning_rate"),
            "sigmoid": (0.01, f"`mx.optimizer.SGD`'s default: {_DEFAULT}"),
            "cosine": (0.01, f"`mx.optimizer.NAG`'s default: {_DEFAULT}")}

FRESH_FAMILIES_3 = Suite("Advice benchmark, fresh families 3 (a frozen test set): quantile regression, hinge, "
                         "multi-task, denoising, sigmoid net, cosine classifier",
                         data_path("advice_fresh_families_3.json"), results_path("advice_fresh_families_3.md"),
                         "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/advice/fresh_families_3.py --score", DEFAULTS,
                         summaries=True)
#: Grid settings per recipe (as ``new_families.MAX_POINTS`` etc.): the defaults, 16 points from one
#: quarter decade below the lowest answer, data orders 0, 1, 2.
MAX_POINTS: Dict[str, int] = {}
FRESH_3 = Oracle(RECIPES, FRESH_FAMILIES_3, MAX_POINTS)


def fresh_recipes_3() -> List[Any]:
    """The third fresh families as recipes of the advice benchmark (as ``fresh_families.fresh_recipes()``)."""
    return recipes(FRESH_FAMILIES_3)


if __name__ == "__main__":
    sys.exit(main(None, FRESH_3, __doc__ or "", report_after_training=False))
