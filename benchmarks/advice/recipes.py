"""The recipes of the advice benchmark made here (issue 17): 24 small real trainings in 8 families.

Fourteen are the regret benchmark's tasks (``benchmarks/regret_tasks.py``): same data, nets,
initial weights and training loop, so that their constant-rate ground truth in
``benchmarks/data/regret_ground_truth.json`` and their five cached sweeps in
``regret_curves.json`` stay valid (the loop below, given a constant rate, performs exactly the
operations of ``regret_tasks.train_at``). Ten are kinds that benchmark lacks: residual nets (an
MLP with LAMB, a BatchNorm CNN with NAG and weight decay), autoencoders (Adam, Nadam), a robust
regression loss (Huber, with FTML and plain SGD), embedding models (digit pixels as tokens with
Signum, a synthetic bag of ids with SGD momentum), LARS on a BatchNorm MLP, and a broad descent
(an MLP with plain SGD). Data: scikit-learn's bundled sets or data made here, offline.

Everything here imports MXNet; ``score.py`` never imports this module.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from benchmarks import regret_tasks as rt  # noqa: E402
from benchmarks.advice.recipe import LRAt, Recipe, Scores, Sweep  # noqa: E402
from gluon_lrfinder import Learner, LRFinder  # noqa: E402
from gluon_lrfinder.demo import load_task  # noqa: E402
from gluon_lrfinder.engine.sampler import make_loader

#: Initial weights of every recipe come from this seed (as in regret_tasks).
INIT_SEED = rt.INIT_SEED
#: The sweep every recipe's search runs (the finder's default sweep, up to 10).
SWEEP = dict(rt.SWEEP)


# ------------------------------------------------------------------------------------ data
def _split(X: np.ndarray, y: np.ndarray, seed: int = 0, valid_fraction: float = 0.25):
    order = np.random.RandomState(seed).permutation(len(X))
    n_valid = int(round(valid_fraction * len(X)))
    return X[order[n_valid:]], y[order[n_valid:]], X[order[:n_valid]], y[order[:n_valid]]


def _autoencoder_arrays(name: str) -> rt.Arrays:
    task = load_task(name)
    X, _ = rt._stack(task.train)
    Xv, _ = rt._stack(task.valid)
    return rt.Arrays(X, X.copy(), Xv, Xv.copy(), True, X.shape[1])


def _digit_tokens() -> rt.Arrays:
    """Each 8x8 digit as 64 tokens: token = pixel position x 5 + intensity bucket (320 ids)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    buckets = np.minimum(X.astype(np.int64) // 4, 4)
    ids = (np.arange(64)[None, :] * 5 + buckets).astype(np.float32)
    Xt, yt, Xv, yv = _split(ids, y.astype(np.float32))
    return rt.Arrays(Xt, yt, Xv, yv, False, 10)


def _bag_of_ids(n: int = 3000, vocab: int = 400, length: int = 24, classes: int = 5) -> rt.Arrays:
    """Documents of ``length`` ids; each class draws 30% of its ids from 40 of its own, the rest
    uniformly from the vocabulary (made here, seed 0)."""
    rng = np.random.RandomState(0)
    own = rng.permutation(vocab)[: classes * 40].reshape(classes, 40)
    y = rng.randint(classes, size=n)
    docs = rng.randint(vocab, size=(n, length))
    mask = rng.rand(n, length) < 0.3
    docs[mask] = own[y[:, None].repeat(length, 1)[mask], rng.randint(40, size=int(mask.sum()))]
    Xt, yt, Xv, yv = _split(docs.astype(np.float32), y.astype(np.float32))
    return rt.Arrays(Xt, yt, Xv, yv, False, classes)


def _huber_arrays() -> rt.Arrays:
    arrays = rt.load_arrays("diabetes")
    return arrays


DATA: Dict[str, Callable[[], rt.Arrays]] = {
    "digits_autoencoder": lambda: _autoencoder_arrays("digits"),
    "breast_cancer_autoencoder": lambda: _autoencoder_arrays("breast_cancer"),
    "digit_tokens": _digit_tokens,
    "bag_of_ids": _bag_of_ids,
    "diabetes_huber": _huber_arrays,
}


# ------------------------------------------------------------------------------------ nets
class ResidualMLP(gluon.HybridBlock):
    """Dense(64) stem, three residual blocks Dense-ReLU-Dense (+ skip, ReLU), Dense head."""

    def __init__(self, num_outputs: int, width: int = 64, blocks: int = 3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.stem = gluon.nn.Dense(width, activation="relu")
            self.inner = gluon.nn.HybridSequential()
            self.outer = gluon.nn.HybridSequential()
            for _ in range(blocks):
                self.inner.add(gluon.nn.Dense(width, activation="relu"))
                self.outer.add(gluon.nn.Dense(width))
            self.head = gluon.nn.Dense(num_outputs)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        h = self.stem(x)
        for inner, outer in zip(self.inner, self.outer):
            h = F.relu(h + outer(inner(h)))
        return self.head(h)


class _ResBlock(gluon.HybridBlock):
    def __init__(self, channels: int, stride: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.body = gluon.nn.HybridSequential()
            self.body.add(gluon.nn.Conv2D(channels, 3, strides=stride, padding=1, use_bias=False),
                          gluon.nn.BatchNorm(), gluon.nn.Activation("relu"),
                          gluon.nn.Conv2D(channels, 3, padding=1, use_bias=False), gluon.nn.BatchNorm())
            self.down: Optional[gluon.nn.HybridSequential] = None
            if stride != 1:
                self.down = gluon.nn.HybridSequential()
                self.down.add(gluon.nn.Conv2D(channels, 1, strides=stride, use_bias=False),
                              gluon.nn.BatchNorm())

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        skip = x if self.down is None else self.down(x)
        return F.relu(self.body(x) + skip)


def residual_cnn(num_outputs: int) -> gluon.HybridBlock:
    """A small ResNet for 1x8x8 digits: stem conv 16, a block of 16, a strided block of 32."""
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        net.add(gluon.nn.Conv2D(16, 3, padding=1, use_bias=False), gluon.nn.BatchNorm(),
                gluon.nn.Activation("relu"), _ResBlock(16, 1), _ResBlock(32, 2),
                gluon.nn.GlobalAvgPool2D(), gluon.nn.Flatten(), gluon.nn.Dense(num_outputs))
    return net


class Autoencoder(gluon.HybridBlock):
    """d -> 32 -> code -> 32 -> d, ReLU inside, linear reconstruction."""

    def __init__(self, dim: int, code: int = 8, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.net = gluon.nn.HybridSequential()
            self.net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(code),
                         gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(dim))

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        return self.net(x)


class EmbeddingBag(gluon.HybridBlock):
    """Embedding of each id, mean over the sequence, a hidden ReLU layer, a Dense head."""

    def __init__(self, vocab: int, num_outputs: int, dim: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.embed = gluon.nn.Embedding(vocab, dim)
            self.hidden = gluon.nn.Dense(64, activation="relu")
            self.head = gluon.nn.Dense(num_outputs)

    def hybrid_forward(self, F, x):  # type: ignore[no-untyped-def]
        return self.head(self.hidden(F.mean(self.embed(x), axis=1)))


NETS: Dict[str, Callable[[rt.Arrays], gluon.HybridBlock]] = {
    "resmlp": lambda a: ResidualMLP(a.num_outputs),
    "rescnn": lambda a: residual_cnn(a.num_outputs),
    "autoencoder": lambda a: Autoencoder(a.num_outputs),
    "embed_digits": lambda a: EmbeddingBag(320, a.num_outputs),
    "embed_bag": lambda a: EmbeddingBag(400, a.num_outputs, dim=16),
}


# ------------------------------------------------------------------------------------ setups
def _spec(name: str, family: str, data: str, net: str, optimizer: str, batch_size: int, budget: int,
          loss: str = "default", **params: Any) -> Dict[str, Any]:
    return {"name": name, "family": family, "data": data, "net": net, "optimizer": optimizer,
            "params": params, "batch_size": batch_size, "budget": budget, "loss": loss}


#: Families of the 14 regret-benchmark tasks, by task name.
OLD_FAMILIES = {
    "digits CNN+BN / NAG 0.9, wd 5e-4 / b32": "batchnorm",
    "digits MLP+BN / SGD 0.9, wd 5e-4 / b256": "batchnorm",
    "noisy blobs / MLP+BN / SGD 0.9, wd 1e-4 / b512": "batchnorm",
    "digits / logistic / SGD / b32": "linear",
    "breast cancer / logistic / SGD / b16": "linear",
    "iris / linear / RMSProp / b16": "linear",
    "diabetes / linear regression / SGD 0.9 / b32": "regression",
    "diabetes / MLP regression / Adam / b16": "regression",
    "digits / MLP / Adam / b32": "mlp",
    "breast cancer / MLP / RMSProp / b32": "mlp",
    "wine / MLP / AdaGrad / b16": "mlp",
    "digits / MLP / SGD / b16": "mlp",
    "digits rows / LSTM / Adam / b32": "recurrent",
    "digits rows / GRU / SGD 0.9 / b64": "recurrent",
}

#: The ten recipes of kinds the regret benchmark lacks.
NEW_SPECS: List[Dict[str, Any]] = [
    _spec("digits ResNet-MLP / LAMB / b64", "residual", "digits", "resmlp", "lamb", 64, 300),
    _spec("digits ResNet-CNN+BN / NAG 0.9, wd 1e-4 / b32", "residual", "digits_image", "rescnn", "nag",
          32, 150, momentum=0.9, wd=1e-4),
    _spec("digits autoencoder (MSE) / Adam / b32", "autoencoder", "digits_autoencoder", "autoencoder",
          "adam", 32, 400),
    _spec("breast cancer autoencoder (MSE) / Nadam / b16", "autoencoder", "breast_cancer_autoencoder",
          "autoencoder", "nadam", 16, 200),
    _spec("diabetes / Huber MLP / FTML / b16", "regression", "diabetes_huber", "mlp", "ftml", 16, 300,
          loss="huber"),
    _spec("diabetes / Huber linear / SGD / b16", "regression", "diabetes_huber", "linear", "sgd", 16, 300,
          loss="huber"),
    _spec("digit pixels as tokens / Embedding bag / Signum / b32", "embedding", "digit_tokens",
          "embed_digits", "signum", 32, 400),
    _spec("bag of ids / Embedding / SGD 0.9 / b32", "embedding", "bag_of_ids", "embed_bag", "sgd", 32, 400,
          momentum=0.9),
    _spec("digits MLP+BN / LARS 0.9, wd 1e-4 / b256", "batchnorm", "digits", "mlp_bn", "lars", 256, 200,
          momentum=0.9, wd=1e-4),
    _spec("wine / MLP / SGD / b16", "mlp", "wine", "mlp", "sgd", 16, 400),
]


def old_specs() -> List[Dict[str, Any]]:
    """The regret benchmark's 14 task specs, each with its family."""
    return [dict(spec, family=OLD_FAMILIES[spec["name"]], loss="default") for spec in rt.TASKS]


def is_old(spec: Dict[str, Any]) -> bool:
    """Whether the recipe is one of regret_tasks' (whose cached ground truth and sweeps are valid)."""
    return spec["name"] in OLD_FAMILIES


def rt_spec(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The spec as regret_tasks wrote it (to compare with its caches)."""
    return {k: spec[k] for k in ("name", "data", "net", "optimizer", "params", "batch_size", "budget")}


class Setup:
    """A recipe's data, loss, net factory and fixed initial weights (built once, lazily)."""

    def __init__(self, spec: Dict[str, Any]) -> None:
        self.spec = spec
        if spec["data"] in DATA:
            self.arrays = DATA[spec["data"]]()
        else:
            self.arrays = rt.load_arrays(spec["data"])
        self.init = self._initial_weights()

    def loss_fn(self) -> gluon.loss.Loss:
        if self.spec["loss"] == "huber":
            return gluon.loss.HuberLoss(rho=1.0)
        return self.arrays.loss_fn()

    def make_net(self) -> gluon.HybridBlock:
        if self.spec["net"] in NETS:
            return NETS[self.spec["net"]](self.arrays)
        return rt.make_net(self.spec, self.arrays)

    def _initial_weights(self) -> List[np.ndarray]:
        mx.random.seed(INIT_SEED)
        np.random.seed(INIT_SEED)
        net = self.make_net()
        net.initialize(mx.init.Xavier(), ctx=mx.cpu())
        net(mx.nd.array(self.arrays.X[:2]))
        return [p.data().asnumpy().copy() for p in net.collect_params().values()]

    def fresh_net(self) -> gluon.HybridBlock:
        net = self.make_net()
        net.initialize(mx.init.Xavier(), ctx=mx.cpu())
        net(mx.nd.array(self.arrays.X[:2]))
        for param, value in zip(net.collect_params().values(), self.init):
            param.set_data(mx.nd.array(value))
        return net

    def valid_loss(self, net: gluon.HybridBlock) -> float:
        return self.valid_scores(net, accuracy=False)["loss"]

    def valid_scores(self, net: gluon.HybridBlock, accuracy: bool = True) -> Scores:
        """``{"loss": validation loss}`` (``math.inf`` when not finite), plus, with ``accuracy``,
        ``"accuracy"`` for a classification recipe whose outputs are finite."""
        with autograd.predict_mode():
            out = net(mx.nd.array(self.arrays.Xv))
            loss = float(self.loss_fn()(out, mx.nd.array(self.arrays.yv)).mean().asscalar())
        scores = {"loss": loss if math.isfinite(loss) else math.inf}
        if accuracy and not self.arrays.regression:
            outputs = out.asnumpy()
            if np.isfinite(outputs).all():
                scores["accuracy"] = float(np.mean(outputs.argmax(axis=1) == self.arrays.yv))
        return scores

    def initial_valid_loss(self) -> float:
        return self.valid_loss(self.fresh_net())

    # -------------------------------------------------------------------------- training
    def train(self, seed: int, lr_at: LRAt, iterations: int) -> Scores:
        """Train ``iterations`` steps at ``lr_at(i)`` (``common.train_steps``, as ``train_at`` trains).

        Returns ``{"loss": final validation loss, "loss_half": at half the iterations}``
        (``math.inf`` when it diverged), and the final ``"accuracy"`` of a classification recipe
        that did not diverge. The run stops at the first non-finite training loss, checked every
        10 iterations.
        """
        spec, arrays = self.spec, self.arrays
        net = self.fresh_net()
        net.hybridize(static_alloc=True, static_shape=True)
        loss_fn = self.loss_fn()
        trainer = gluon.Trainer(net.collect_params(), spec["optimizer"],
                                dict(spec["params"], learning_rate=float(lr_at(0))), kvstore=None)
        finished, half = common.train_steps(net, loss_fn, trainer, arrays.X, arrays.y, spec["batch_size"], seed,
                                            iterations, lr_at=lr_at, check_every=10, at_half=self.valid_loss)
        loss_half = math.inf if half is None else half
        if not finished:
            return {"loss": math.inf, "loss_half": loss_half}
        return {**self.valid_scores(net), "loss_half": loss_half}

    def sweep(self, seed: int, valid_every: Optional[int] = None) -> Sweep:
        """One full range test (the finder's default sweep up to 10, stops only on a non-finite
        loss), as ``regret_tasks.search_curves`` runs it. With ``valid_every``, the finder also
        evaluates the recipe's validation split every ``valid_every`` iterations (its held-out
        signal), returned as ``valid_lrs`` and ``valid_losses``."""
        arrays = self.arrays
        dataset = gluon.data.ArrayDataset(arrays.X, arrays.y)
        net = self.fresh_net()
        loader = make_loader(dataset, self.spec["batch_size"], seed=seed)
        held_out = ({} if valid_every is None else
                    {"valid_data": gluon.data.ArrayDataset(arrays.Xv, arrays.yv), "valid_every": valid_every})
        with Learner(net, loader, ctx=mx.cpu(), loss_fn=self.loss_fn(), optimizer=self.spec["optimizer"],
                     optimizer_params=dict(self.spec["params"], learning_rate=1e-3)) as learner:
            finder = LRFinder(learner)
            finder.find(progress=False, stopping=rt._OnlyNonFinite(), **SWEEP, **held_out)
            out: Sweep = {"seed": seed, "lrs": [float(v) for v in finder.curve.lrs],
                          "losses": [float(v) if math.isfinite(v) else None for v in finder.curve.losses],
                          "optimizer": self.spec["optimizer"], "settings": dict(SWEEP)}
            if valid_every is not None:
                out["valid_lrs"] = [float(v) for v in finder.curve.valid_lrs]
                out["valid_losses"] = [float(v) if math.isfinite(v) else None for v in finder.curve.valid_losses]
            return out


_SETUPS: Dict[str, Setup] = {}


def setup(spec: Dict[str, Any]) -> Setup:
    """The recipe's :class:`Setup`, built on first use."""
    if spec["name"] not in _SETUPS:
        _SETUPS[spec["name"]] = Setup(spec)
    return _SETUPS[spec["name"]]


def make_recipe(spec: Dict[str, Any]) -> Recipe:
    """A :class:`~benchmarks.advice.recipe.Recipe` over ``spec`` (data built on first use)."""
    return Recipe(
        name=spec["name"], family=spec["family"], optimizer=spec["optimizer"], budget=spec["budget"],
        sweep=lambda seed: setup(spec).sweep(seed),
        train=lambda seed, lr_at, iterations: setup(spec).train(seed, lr_at, iterations),
        source="benchmarks/regret_tasks.py" if is_old(spec) else "made here",
        tags=tuple(t for t in (spec["optimizer"], spec["family"]) if t),
    )


SPECS: List[Dict[str, Any]] = old_specs() + NEW_SPECS
RECIPES: List[Recipe] = [make_recipe(spec) for spec in SPECS]
SPEC_BY_NAME: Dict[str, Dict[str, Any]] = {spec["name"]: spec for spec in SPECS}


def timing(iterations: int = 40) -> List[Tuple[str, float]]:
    """Seconds per training iteration of each recipe (a short constant-rate run)."""
    out = []
    for spec in SPECS:
        s = setup(spec)
        start = time.time()
        s.train(0, lambda i: 1e-3, iterations)
        out.append((spec["name"], (time.time() - start) / iterations))
    return out


if __name__ == "__main__":
    for name, per in timing():
        spec = SPEC_BY_NAME[name]
        print(f"{name:<55s} {1e3 * per:6.2f} ms/it  one training {per * spec['budget']:5.2f} s", flush=True)
