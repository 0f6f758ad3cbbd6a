"""Advice benchmark, families it lacked: a clipped-SGD word LM, a clipped CNN, fine-tuning.

Recipes (all data made here or scikit-learn's bundled digits, offline):

* ``lm``: an AWD-LSTM-like word LM in plain Gluon (embedding, one LSTM layer, dropout, tied
  decoder) on a synthetic Zipfian corpus with class-Markov and bigram structure; plain SGD,
  gradients clipped to global norm 0.25 (``gluon.utils.clip_global_norm``) after a backward
  of the mean per-token loss, ``trainer.step(1)``, truncated BPTT with the hidden state carried,
  as GluonNLP's ``word_language_model.py`` trains; its default rate there is 30;
* ``cnn_clip``: a small conv net on digits, SGD momentum 0.9, clipped to global norm 1;
* ``ft_sgd``, ``ft_sgd_mult``, ``ft_adam``: a small CNN pretrained on digits 0-4 (weights cached
  in ``benchmarks/data/advice_new_families_pretrained.npz``), fine-tuned body + a new head on 250
  samples of digits 5-9 for 6 epochs: SGD momentum 0.9, the same with ``lr_mult=10`` on the head,
  Adam.

For each recipe: 3 range tests with the package's defaults (``LRFinder(learner).find()``; the
Learner runs the training's own step through ``fit_batch``, clipping included) and their
``suggest()``, ``suggest_range()``, ``report()`` flags and the registry's ``valley`` and
``minimum`` (= minimum / 10) answers; then an oracle grid in quarter decades, one-cycle (peak =
the rate, ``recipe.one_cycle``) and constant, over several data orders. Everything is cached in
``benchmarks/data/advice_new_families.json`` as it is made; a rerun skips what is cached, and
``--score`` only re-scores the cache (seconds) into ``benchmarks/results/advice_new_families.md``.

Run from the repository root (one process, one thread; about 45 minutes of one core)::

    OMP_NUM_THREADS=1 python benchmarks/advice/new_families.py [--only lm] [--score]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))  # the repo root

# isort: split
from benchmarks.advice.new_families_score import NEW_FAMILIES, SWEEP_SEEDS, Suite, answers, report  # noqa: E402
from benchmarks.advice.oracle import ascend, key  # noqa: E402
from benchmarks.advice.recipe import schedule  # noqa: E402
from benchmarks.common import DATA, load_json, publish, save_json  # noqa: E402

PRETRAINED = os.path.join(DATA, "advice_new_families_pretrained.npz")
INIT_SEED = 1234
CTX = mx.cpu()


# ------------------------------------------------------------------------------------ data
def lm_corpus(vocab: int, n_tokens: int, seed: int = 0, classes: int = 32, follow: float = 0.35) -> np.ndarray:
    """Token ids: a hidden class chain (each class has 3 likely successors) emitting words of
    Zipfian frequency from that class; with probability ``follow`` the next word is instead the
    current word's fixed follower (a bigram the model must memorise per word)."""
    rng = np.random.RandomState(seed)
    freq = 1.0 / np.arange(1, vocab + 1)
    word_class = rng.randint(classes, size=vocab)
    emit = [np.flatnonzero(word_class == c) for c in range(classes)]
    emit_p = [freq[w] / freq[w].sum() for w in emit]
    trans = np.zeros((classes, classes))
    for c in range(classes):
        trans[c, rng.choice(classes, 3, replace=False)] = rng.dirichlet(np.ones(3))
    follower = rng.randint(vocab, size=vocab)
    out = np.empty(n_tokens, dtype=np.int64)
    c, w = 0, 0
    u, v = rng.rand(n_tokens), rng.rand(n_tokens)
    for i in range(n_tokens):
        if u[i] < follow:
            w = follower[w]
            c = word_class[w]
        else:
            c = int(np.searchsorted(np.cumsum(trans[c]), v[i] * 0.999999))
            w = int(rng.choice(emit[c], p=emit_p[c]))
        out[i] = w
    return out


def batchify(ids: np.ndarray, batch: int) -> np.ndarray:
    n = len(ids) // batch
    return ids[: n * batch].reshape(batch, n).T.copy()  # (time, batch)


def split(X: np.ndarray, y: np.ndarray, n_valid: int, seed: int = 0) -> Tuple[np.ndarray, ...]:
    """(train X, train y, validation X, validation y): the first ``n_valid`` of a fixed permutation validate."""
    order = np.random.RandomState(seed).permutation(len(X))
    v, t = order[:n_valid], order[n_valid:]
    return X[t], y[t], X[v], y[v]


def digits(classes: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    keep = np.isin(y, classes)
    X = (X[keep] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y[keep] - min(classes)
    return X, y.astype(np.float32)


# ------------------------------------------------------------------------------------ nets
class WordLM(gluon.Block):
    """Embedding -> dropout -> LSTM -> dropout -> decoder tied to the embedding."""

    def __init__(self, vocab: int, size: int, layers: int = 1, dropout: float = 0.4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.name_scope():
            self.embed = gluon.nn.Embedding(vocab, size, weight_initializer=mx.init.Uniform(0.1))
            self.drop = gluon.nn.Dropout(dropout)
            self.rnn = gluon.rnn.LSTM(size, num_layers=layers, input_size=size, dropout=dropout if layers > 1 else 0)
            self.decoder = gluon.nn.Dense(vocab, in_units=size, flatten=False, params=self.embed.params)

    def forward(self, x, hidden):  # type: ignore[no-untyped-def]
        out, hidden = self.rnn(self.drop(self.embed(x)), hidden)
        return self.decoder(self.drop(out)), hidden


def small_cnn(outputs: int) -> gluon.HybridSequential:
    net = gluon.nn.HybridSequential()
    with net.name_scope():
        body = gluon.nn.HybridSequential(prefix="body_")
        with body.name_scope():
            body.add(gluon.nn.Conv2D(16, 3, padding=1, activation="relu", in_channels=1), gluon.nn.MaxPool2D(2),
                     gluon.nn.Conv2D(32, 3, padding=1, activation="relu", in_channels=16), gluon.nn.MaxPool2D(2),
                     gluon.nn.Flatten(), gluon.nn.Dense(64, activation="relu", in_units=128))
        net.add(body, gluon.nn.Dense(outputs, in_units=64, prefix="head_"))
    return net


def clip_grads(net: gluon.Block, max_norm: Optional[float]) -> None:
    if max_norm is not None:
        grads = [p.grad(CTX) for p in net.collect_params().values() if p.grad_req != "null"]
        gluon.utils.clip_global_norm(grads, max_norm)


# ------------------------------------------------------------------------------------ recipes
class Recipe:
    """Data, net with fixed initial weights, one training step, validation; ``train`` and ``sweep``."""

    name = ""
    optimizer = "sgd"
    params: Dict[str, Any] = {}
    budget = 0

    def __init__(self) -> None:
        self.ready = False

    # subclasses: build(), make_net(), batches(seed) -> a callable returning an endless iterator,
    # fit_batch(net) -> the step Learner(fit_batch=) takes, valid(net) -> {"loss", ["accuracy"]}
    def setup(self) -> Recipe:
        if not self.ready:
            self.build()
            mx.random.seed(INIT_SEED)
            np.random.seed(INIT_SEED)
            net = self.make_net()
            self.init = [p.data().asnumpy().copy() for p in net.collect_params().values()]
            self.ready = True
        return self

    def fresh(self, lr: float) -> Tuple[gluon.Block, gluon.Trainer]:
        net = self.make_net()
        for p, value in zip(net.collect_params().values(), self.init):
            p.set_data(mx.nd.array(value))
        self.configure(net)
        trainer = gluon.Trainer(net.collect_params(), self.optimizer, dict(self.params, learning_rate=lr),
                                kvstore=None)
        return net, trainer

    def configure(self, net: gluon.Block) -> None:
        pass

    def train(self, seed: int, kind: str, lr: float) -> Dict[str, float]:
        self.setup()
        mx.random.seed(seed)
        lr_at = schedule(kind, lr, self.budget)
        net, trainer = self.fresh(lr_at(0))
        fit = self.fit_batch(net)
        it = self.batches(seed)()
        for i in range(self.budget):
            trainer.set_learning_rate(lr_at(i))
            _, _, losses, size = fit(next(it))
            trainer.step(size)
            if i % 10 == 9 and not np.isfinite(losses[0].asnumpy()).all():
                return {"loss": math.inf}
        return self.valid(net)

    def sweep(self, seed: int) -> Dict[str, Any]:
        from gluon_lrfinder import Learner, LRFinder

        self.setup()
        mx.random.seed(seed)
        net, trainer = self.fresh(1e-3)
        t = time.time()
        with Learner(net=net, data_loader=self.batches(seed), ctx=CTX, trainer=trainer,
                     fit_batch=self.fit_batch(net)) as learner:
            finder = LRFinder(learner)
            finder.find(progress=False)
            report = finder.report()
            out = {"seed": seed, "lrs": [float(v) for v in finder.curve.lrs],
                   "losses": [float(v) if math.isfinite(v) else None for v in finder.curve.losses],
                   "suggest": float(finder.suggest(warn=False)),
                   "range": [float(v) for v in finder.suggest_range(warn=False)],
                   "flags": list(report.flags), "rules": {k: float(v) for k, v in report.lrs.items()},
                   "seconds": time.time() - t}
        return out


class LM(Recipe):
    name = "synthetic Zipf LM / LSTM tied / SGD clip 0.25 / bptt 35 b32"
    family = "language model"
    vocab, size, bptt, batch = 2000, 200, 35, 32
    budget = 300

    def build(self) -> None:
        ids = lm_corpus(self.vocab, 240_000)
        self.train_ids, self.valid_ids = ids[:220_000], ids[220_000:]
        self.valid_data = mx.nd.array(batchify(self.valid_ids, 10))

    def make_net(self) -> gluon.Block:
        net = WordLM(self.vocab, self.size)
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def batches(self, seed: int) -> Callable[[], Any]:
        # the data order: the corpus rotated by a seed-dependent offset before batchify
        offset = int(np.random.RandomState(seed).randint(len(self.train_ids)))
        data = batchify(np.roll(self.train_ids, -offset), self.batch)

        def epoch() -> Any:
            self.hidden = None
            for i in range(0, len(data) - 1 - self.bptt, self.bptt):
                yield mx.nd.array(data[i: i + self.bptt]), mx.nd.array(data[i + 1: i + 1 + self.bptt])

        def forever() -> Any:
            while True:
                yield from epoch()
        return forever

    def fit_batch(self, net: gluon.Block) -> Callable[[Any], Tuple[Any, ...]]:
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        self.hidden = None

        def fit(batch: Any) -> Tuple[Any, ...]:
            X, Y = batch
            if self.hidden is None:
                self.hidden = net.rnn.begin_state(batch_size=X.shape[1], ctx=CTX)
            hidden = [h.detach() for h in self.hidden]
            with autograd.record():
                out, hidden = net(X, hidden)
                losses = loss_fn(out.reshape((-3, -1)), Y.reshape((-1,)))
                mean = losses.mean()
            mean.backward()
            self.hidden = hidden
            clip_grads(net, 0.25)
            return [X], [Y], [losses], 1
        return fit

    def valid(self, net: gluon.Block) -> Dict[str, float]:
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        hidden = net.rnn.begin_state(batch_size=self.valid_data.shape[1], ctx=CTX)
        total, count = 0.0, 0
        for i in range(0, self.valid_data.shape[0] - 1, self.bptt):
            X = self.valid_data[i: min(i + self.bptt, self.valid_data.shape[0] - 1)]
            Y = self.valid_data[i + 1: i + 1 + X.shape[0]]
            out, hidden = net(X, hidden)
            total += float(loss_fn(out.reshape((-3, -1)), Y.reshape((-1,))).sum().asscalar())
            count += Y.size
        loss = total / count
        return {"loss": loss if math.isfinite(loss) else math.inf}


class Classifier(Recipe):
    """A digits CNN: per-sample losses, mean backward, optional clipping, ``trainer.step(1)``."""

    family = "cnn"
    batch = 32
    clip: Optional[float] = None
    outputs = 10

    def make_net(self) -> gluon.Block:
        net = small_cnn(self.outputs)
        net.initialize(mx.init.Xavier(), ctx=CTX)
        return net

    def batches(self, seed: int) -> Callable[[], Any]:
        X, y, batch = self.X, self.y, self.batch

        def forever() -> Any:
            rng = np.random.RandomState(seed)
            while True:
                order = rng.permutation(len(X))
                for i in range(0, len(X) - batch + 1, batch):
                    j = order[i: i + batch]
                    yield mx.nd.array(X[j]), mx.nd.array(y[j])
        return forever

    def loss_fn(self) -> gluon.loss.Loss:
        """The per-sample loss of training and validation."""
        return gluon.loss.SoftmaxCrossEntropyLoss()

    def accuracy(self, out: np.ndarray) -> float:
        """Validation accuracy of the outputs ``out`` (one row per validation sample)."""
        return float(np.mean(out.argmax(1) == self.yv))

    def fit_batch(self, net: gluon.Block) -> Callable[[Any], Tuple[Any, ...]]:
        loss_fn = self.loss_fn()

        def fit(batch: Any) -> Tuple[Any, ...]:
            X, Y = batch
            with autograd.record():
                losses = loss_fn(net(X), Y)
                mean = losses.mean()
            mean.backward()
            clip_grads(net, self.clip)
            return [X], [Y], [losses], 1
        return fit

    def valid(self, net: gluon.Block) -> Dict[str, float]:
        out = net(mx.nd.array(self.Xv))
        loss = float(self.loss_fn()(out, mx.nd.array(self.yv)).mean().asscalar())
        if not math.isfinite(loss):
            return {"loss": math.inf}
        return {"loss": loss, "accuracy": self.accuracy(out.asnumpy())}


class ClippedCNN(Classifier):
    name = "digits CNN / SGD 0.9 clip 1.0 / b32"
    params = {"momentum": 0.9}
    clip = 1.0
    budget = 300

    def build(self) -> None:
        self.X, self.y, self.Xv, self.yv = split(*digits(tuple(range(10))), 450)


def pretrain(net: gluon.Block, X: np.ndarray, y: np.ndarray, epochs: int = 30, batch: int = 32) -> None:
    """Train ``net`` as a classifier with Adam 1e-3 (softmax cross-entropy, data order seed 0): how
    the fine-tuning's body and the distillation's teacher are made."""
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 1e-3}, kvstore=None)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    rng = np.random.RandomState(0)
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch):
            j = order[i: i + batch]
            with autograd.record():
                loss = loss_fn(net(mx.nd.array(X[j])), mx.nd.array(y[j]))
            loss.backward()
            trainer.step(len(j))


def pretrained_body() -> Dict[str, np.ndarray]:
    """The body of a small CNN trained on digits 0-4 (:func:`pretrain`, 30 epochs, batch 32), cached."""
    if os.path.exists(PRETRAINED):
        return dict(np.load(PRETRAINED))
    X, y = digits((0, 1, 2, 3, 4))
    mx.random.seed(INIT_SEED)
    net = small_cnn(5)
    net.initialize(mx.init.Xavier(), ctx=CTX)
    pretrain(net, X, y)
    body = {k[len(net.prefix):]: p.data().asnumpy() for k, p in net[0].collect_params().items()}
    np.savez(PRETRAINED, **body)
    return body


class FineTune(Classifier):
    family = "fine-tuning"
    outputs = 5
    batch = 25
    budget = 60  # 6 epochs of 250 samples

    def __init__(self, name: str, optimizer: str, params: Dict[str, Any], head_mult: Optional[float] = None) -> None:
        super().__init__()
        self.name, self.optimizer, self.params, self.head_mult = name, optimizer, params, head_mult

    def build(self) -> None:
        X, y = digits((5, 6, 7, 8, 9))
        order = np.random.RandomState(0).permutation(len(X))
        t, v = order[:250], order[250:]
        self.X, self.y, self.Xv, self.yv = X[t], y[t], X[v], y[v]
        self.body = pretrained_body()

    def make_net(self) -> gluon.Block:
        net = super().make_net()
        for k, p in net[0].collect_params().items():
            p.set_data(mx.nd.array(self.body[k[len(net.prefix):]]))
        return net

    def configure(self, net: gluon.Block) -> None:
        if self.head_mult is not None:
            net[1].collect_params().setattr("lr_mult", self.head_mult)


_FT = "fine-tune digits 0-4 -> 5-9 / "
RECIPES: Dict[str, Recipe] = {
    "lm": LM(), "cnn_clip": ClippedCNN(),
    "ft_sgd": FineTune(_FT + "SGD 0.9 / b25", "sgd", {"momentum": 0.9}),
    "ft_sgd_mult": FineTune(_FT + "SGD 0.9, head lr_mult 10 / b25", "sgd", {"momentum": 0.9}, head_mult=10.0),
    "ft_adam": FineTune(_FT + "Adam / b25", "adam", {})}


# ------------------------------------------------------------------------------------ oracle
#: Data orders of the oracle's trainings where not (0, 1, 2).
ORACLE_SEEDS: Dict[str, Tuple[int, ...]] = {}
#: Most grid points of one ascent (the ascent stops earlier where every order diverged / got worse
#: than untrained or 2x the best so far), per recipe.
MAX_POINTS = {"lm": 14}
#: Lowest grid index per recipe: the LM's grid starts at lr 1 (one step below its sweeps' lowest
#: answer would be 0.56; lr 1 already ends near untrained); an answer below the grid takes its lowest point.
GRID_FLOOR = {"lm": 0}


@dataclass
class Oracle:
    """What ``run_oracle`` trains and where it caches: a recipe table, its suite (cache, report) and
    the grid's settings per recipe (as ``MAX_POINTS``, ``GRID_FLOOR``, ``ORACLE_SEEDS``)."""

    recipes: Dict[str, Recipe]
    suite: Suite
    max_points: Dict[str, int] = field(default_factory=dict)
    grid_floor: Dict[str, int] = field(default_factory=dict)
    seeds: Dict[str, Tuple[int, ...]] = field(default_factory=dict)


#: The new families' oracle.
NEW = Oracle(RECIPES, NEW_FAMILIES, MAX_POINTS, GRID_FLOOR, ORACLE_SEEDS)


def run_oracle(name: str, cache: Dict[str, Any], log: Callable[[str], None], oracle: Oracle = NEW) -> None:
    path = oracle.suite.cache
    recipe = oracle.recipes[name].setup()
    entry = cache.setdefault(name, {"name": recipe.name, "family": recipe.family, "optimizer": recipe.optimizer,
                                    "budget": recipe.budget, "runs": {}})
    sweeps = entry.setdefault("sweeps", [])
    while len(sweeps) < len(SWEEP_SEEDS):
        sweeps.append(recipe.sweep(SWEEP_SEEDS[len(sweeps)]))
        s = sweeps[-1]
        log(f"sweep {name} seed {s['seed']}: {len(s['lrs'])} pts, suggest {s['suggest']:.3g}, range "
            f"{s['range'][0]:.3g}-{s['range'][1]:.3g}, flags {s['flags']} ({s['seconds']:.0f} s)")
        save_json(path, cache, indent=0)
    if "untrained" not in entry:
        net, _ = recipe.fresh(1.0)
        entry["untrained"] = recipe.valid(net)
        save_json(path, cache, indent=0)
    seeds = oracle.seeds.get(name, (0, 1, 2))
    low = min(v for s in sweeps for k, v in answers(s, entry["optimizer"]).items()
              if k in ("ours", "ours_peak", "valley", "minimum/10") and v > 0)
    start = entry["grid_start"] = max(oracle.grid_floor.get(name, -40), int(math.floor(4 * math.log10(low))) - 1)
    top = start + oracle.max_points.get(name, 16)
    untrained = entry["untrained"]["loss"]
    for kind in ("one_cycle", "constant"):
        table = entry["runs"].setdefault(kind, {"loss": {}, "accuracy": {}, "pruned": []})

        def point(k: int, table: Dict[str, Any] = table, kind: str = kind) -> List[Optional[float]]:
            row = table["loss"].setdefault(key(k), [])
            accs = table["accuracy"].setdefault(key(k), [])
            while len(row) < len(seeds):
                t = time.time()
                out = recipe.train(seeds[len(row)], kind, 10 ** (k / 4))
                row.append(out["loss"] if math.isfinite(out["loss"]) else None)
                accs.append(out.get("accuracy"))
                save_json(path, cache, indent=0)
                log(f"{kind:>9s} {name} lr {key(k)} seed {seeds[len(row) - 1]}: {row[-1]} acc {accs[-1]} "
                    f"({time.time() - t:.1f} s)")
            return row

        ascend(point, table["loss"], table, untrained, start, top, start - 6,
               lambda: save_json(path, cache, indent=0))


def main(argv: Optional[List[str]] = None, oracle: Oracle = NEW, description: str = __doc__,
         report_after_training: bool = True) -> int:
    """Train what ``oracle`` lacks (unless ``--score``), then write its report; with
    ``report_after_training=False`` only ``--score`` scores and writes the report (a training run does not)."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help=f"recipe keys ({', '.join(oracle.recipes)})")
    parser.add_argument("--score", action="store_true", help="only re-score the cache (seconds)")
    parser.add_argument("--log", default=None)
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        line = f"{time.strftime('%H:%M:%S', time.gmtime())} {text}"
        print(line, flush=True)
        if args.log:
            with open(args.log, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    cache = load_json(oracle.suite.cache)
    if not args.score:
        for name in args.only or list(oracle.recipes):
            t = time.time()
            run_oracle(name, cache, log, oracle)
            cache[name]["seconds"] = cache[name].get("seconds", 0.0) + time.time() - t
            save_json(oracle.suite.cache, cache, indent=0)
            log(f"done {name} ({time.time() - t:.0f} s)")
    if args.score or report_after_training:
        publish(oracle.suite.results, report(cache, oracle.suite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
