"""Recipes of the advice benchmark taken from real training scripts (issue 17).

Three :class:`~recipe.Recipe` objects, each modelled on a public script and trained the way that
script trains, on offline stand-in data of the same shapes that this module makes itself:

* ``gluoncv_cifar()``: GluonCV's ``scripts/classification/cifar/train_cifar10.py``:
  ``cifar_resnet20_v1`` from GluonCV's model zoo (Xavier init), GluonCV's ``RandomCrop(32, pad=4)``
  and Gluon's ``RandomFlipLeftRight`` / ``ToTensor`` / ``Normalize`` with the CIFAR-10 means and
  standard deviations, ``gluon.Trainer`` with NAG (momentum 0.9, wd 1e-4), batch 128,
  ``trainer.step(batch_size)``, default lr 0.1. Stand-in: scikit-learn's digits upscaled to
  32x32x3 uint8 (HWC, as ``gluon.data.vision.CIFAR10`` yields them) with a random tint and noise,
  1000 train / 797 validation images. ``download=True`` trains on the real CIFAR-10 instead.
* ``gluoncv_cifar_mixup()``: ``train_mixup_cifar10.py``: the same with mixup (lambda ~ Beta(1, 1),
  the batch mixed with its reverse, one-hot labels mixed alike), mixup switched off for the last
  10% of training (the script's last 20 of 200 epochs), ``SoftmaxCrossEntropyLoss(sparse_label=False)``.
  Its range test goes through the Learner's ``fit_batch``.
* ``gluonnlp_awd_lm()``: GluonNLP v0.10.x ``scripts/language_model/word_language_model.py``:
  ``gluonnlp.model.train.AWDRNN`` (3 LSTM layers, weight-dropped h2h, embedding and locked
  dropouts, tied decoder, the script's dropout rates) at small sizes (embedding 64, hidden 128),
  time-major BPTT batches from ``gluonnlp.data.batchify.CorpusBatchify``, the hidden state carried
  and detached across batches (reset each epoch), the script's random BPTT length with the
  learning rate scaled by ``seq_len / bptt``, its loss plus activation (alpha 2) and temporal
  activation (beta 1) regularisation, ``clip_global_norm`` 0.25, SGD (no momentum, wd 1.2e-6),
  default lr 30. Batch 20, BPTT 35 (the script's README commands for the smaller models) on a
  stand-in corpus of 40k tokens from a small random grammar. Its range test goes through the
  Learner's ``fit_batch``. Validation loss: log-perplexity on 4k held-out tokens.

Each recipe starts every sweep and every training run from one fixed set of initial weights; the
``seed`` sets the data order, the augmentation (Python's ``random``: GluonCV's crop; NumPy's:
shuffling and mixup; MXNet's: flips, dropout) and nothing else.

Needs the benchmark venv (``make bench-venv``: GluonCV and GluonNLP with their pins).
"""
from __future__ import annotations

import math
import os
import random
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_lrfinder import Learner, LRFinder  # noqa: E402

try:  # run as benchmarks/advice/real_scripts.py or imported as benchmarks.advice.real_scripts
    from .recipe import LRAt, Recipe, Scores, Sweep
except ImportError:  # pragma: no cover - script use
    from recipe import LRAt, Recipe, Scores, Sweep  # type: ignore[no-redef]

INIT_SEED = 1234
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)

#: The range tests of the CIFAR recipes (the finder's default multiplier 1.1: 122 iterations).
CIFAR_SWEEP = {"lr_start": 1e-4, "lr_end": 10.0}
#: The range tests of the language model (1.1 per iteration: 121 iterations).
LM_SWEEP = {"lr_start": 1e-2, "lr_end": 1e3}


def seed_everything(seed: int) -> None:
    """Seed the three generators the scripts draw from: Python's, NumPy's and MXNet's."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


class OnlyNonFinite:
    """A stopping rule that stops only on a NaN/inf loss (as in ``benchmarks/regret_tasks.py``),
    so a sweep is recorded in full and any stopping rule can be replayed on it afterwards."""

    reason: Optional[str] = None
    smoothed_loss: Optional[float] = None

    def reset(self) -> None:
        """Forget the last sweep."""
        self.reason = None

    def settings(self) -> Dict[str, Any]:
        """What a curve records about this rule."""
        return {"stopping": "only on a non-finite loss (recorded in full)"}

    def __call__(self, loss: float) -> bool:
        if not math.isfinite(loss):
            self.reason = "non-finite loss"
            return True
        return False


def _finder_sweep(learner: Learner, settings: Dict[str, float], optimizer: str) -> Sweep:
    """One recorded-in-full range test; the curve as the interface wants it plus the LRCurve dict."""
    finder = LRFinder(learner)
    finder.find(progress=False, stopping=OnlyNonFinite(), **settings)
    curve = finder.curve
    return {
        "lrs": [float(x) for x in curve.lrs],
        "losses": [float(x) if math.isfinite(x) else None for x in curve.losses],
        "optimizer": optimizer,
        "settings": dict(curve.settings),
        "stop_reason": curve.stop_reason,
        "curve": curve.to_dict(),  # as LRCurve.save writes it (smoothed: NaN, no stopping rule ran)
    }


def _weights(net: gluon.Block) -> List[np.ndarray]:
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def _load_weights(net: gluon.Block, weights: Sequence[np.ndarray]) -> None:
    params = list(net.collect_params().values())
    if len(params) != len(weights):
        raise RuntimeError(f"{len(params)} parameters, {len(weights)} saved arrays")
    for param, value in zip(params, weights):
        param.set_data(mx.nd.array(value, dtype=param.dtype))


# ====================================================================================== CIFAR
def digits_as_cifar(n_train: int = 1000, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stand-in for CIFAR-10: scikit-learn's digits as 32x32 colour images.

    Each 8x8 digit is upscaled (bilinear) to 32x32, drawn in a random foreground colour on a
    random darker background colour, with Gaussian noise (sd 8/255), as uint8 HWC images like
    the ones ``gluon.data.vision.CIFAR10`` yields.

    Parameters
    ----------
    n_train : int, default 1000
        Training images; the remaining 797 of the 1797 digits are the validation set.
    seed : int, default 0
        The split, the tints and the noise (fixed: the data is the same for every run).

    Returns
    -------
    tuple of np.ndarray
        ``(train_images, train_labels, valid_images, valid_labels)``; images uint8
        ``(n, 32, 32, 3)``, labels int32.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X))
    X, y = X[order].reshape(-1, 8, 8) / 16.0, y[order]
    big = np.clip(zoom(X, (1, 4, 4), order=1), 0.0, 1.0)  # (n, 32, 32)
    fg = rng.uniform(0.45, 1.0, size=(len(X), 1, 1, 3))
    bg = rng.uniform(0.0, 0.35, size=(len(X), 1, 1, 3))
    images = bg + (fg - bg) * big[..., None] + rng.normal(0, 8 / 255, size=big.shape + (3,))
    images = np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
    y = y.astype(np.int32)
    return images[:n_train], y[:n_train], images[n_train:], y[n_train:]


class _Pairs(gluon.data.Dataset):
    """(uint8 HWC image NDArray, int label) pairs, as ``gluon.data.vision.CIFAR10`` gives them."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images = mx.nd.array(images, dtype="uint8")
        self._labels = labels

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, idx: int) -> Tuple[mx.nd.NDArray, np.int32]:
        return self._images[idx], self._labels[idx]


class GluonCVCifar:
    """GluonCV's CIFAR-10 training script (``train_cifar10.py`` or ``train_mixup_cifar10.py``).

    Parameters
    ----------
    mixup : bool, default False
        ``train_mixup_cifar10.py``: mixup (alpha 1) off for the last ``mixup_off`` of training,
        one-hot mixed labels, ``SoftmaxCrossEntropyLoss(sparse_label=False)``.
    epochs : int, default 10
        Passes over the training set of one run at the recipe's budget.
    batch_size : int, default 128
        As the script's README commands (the script's argparse default is 32 per device).
    download : bool, default False
        Train and validate on the real CIFAR-10 (``gluon.data.vision.CIFAR10``, downloaded on first
        use) instead of the offline stand-in.
    mixup_off : float, default 0.1
        Fraction of the iterations at the end trained without mixup (the script: the last 20
        epochs, of 200 in its training commands).
    """

    def __init__(self, mixup: bool = False, epochs: int = 10, batch_size: int = 128, download: bool = False,
                 mixup_off: float = 0.1) -> None:
        self.mixup = mixup
        self.epochs = epochs
        self.batch_size = batch_size
        self.download = download
        self.mixup_off = mixup_off
        self.optimizer_params = {"momentum": 0.9, "wd": 1e-4}
        self._data: Optional[Tuple[gluon.data.Dataset, gluon.data.Dataset]] = None
        self._valid: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._init: Optional[List[np.ndarray]] = None

    # ---------------------------------------------------------------- data
    @staticmethod
    def transforms() -> Tuple[Any, Any]:
        """The script's ``transform_train`` and ``transform_test``."""
        from gluoncv.data import transforms as gcv_transforms
        from mxnet.gluon.data.vision import transforms

        train = transforms.Compose([
            gcv_transforms.RandomCrop(32, pad=4),
            transforms.RandomFlipLeftRight(),
            transforms.ToTensor(),
            transforms.Normalize(list(CIFAR_MEAN), list(CIFAR_STD)),
        ])
        test = transforms.Compose([transforms.ToTensor(), transforms.Normalize(list(CIFAR_MEAN), list(CIFAR_STD))])
        return train, test

    def datasets(self) -> Tuple[gluon.data.Dataset, gluon.data.Dataset]:
        """(train, validation) datasets of (uint8 HWC image, label) pairs."""
        if self._data is None:
            if self.download:
                self._data = (gluon.data.vision.CIFAR10(train=True), gluon.data.vision.CIFAR10(train=False))
            else:
                Xt, yt, Xv, yv = digits_as_cifar()
                self._data = (_Pairs(Xt, yt), _Pairs(Xv, yv))
        return self._data

    def iterations_per_epoch(self) -> int:
        """Batches of one pass (the script's ``last_batch='discard'``)."""
        return len(self.datasets()[0]) // self.batch_size

    @property
    def budget(self) -> int:
        """Iterations of a run at the recipe's budget."""
        return self.epochs * self.iterations_per_epoch()

    def train_loader(self) -> gluon.data.DataLoader:
        """The script's training loader (shuffled, last batch discarded; no worker processes)."""
        train, _ = self.transforms()
        return gluon.data.DataLoader(self.datasets()[0].transform_first(train), batch_size=self.batch_size,
                                     shuffle=True, last_batch="discard", num_workers=0)

    def _valid_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        if self._valid is None:
            _, test = self.transforms()
            valid = self.datasets()[1]
            xs = [test(valid[i][0]).asnumpy() for i in range(len(valid))]
            self._valid = (np.stack(xs), np.asarray([valid[i][1] for i in range(len(valid))], dtype=np.float32))
        return self._valid

    # ---------------------------------------------------------------- model
    def fresh_net(self) -> gluon.HybridBlock:
        """``get_model("cifar_resnet20_v1")`` at the recipe's fixed initial weights, hybridized."""
        from gluoncv.model_zoo import get_model

        net = get_model("cifar_resnet20_v1", classes=10)
        if self._init is None:
            mx.random.seed(INIT_SEED)
            net.initialize(mx.init.Xavier(), ctx=mx.cpu())
            net(mx.nd.zeros((1, 3, 32, 32)))
            self._init = _weights(net)
        else:
            net.initialize(mx.init.Xavier(), ctx=mx.cpu())
            net(mx.nd.zeros((1, 3, 32, 32)))
            _load_weights(net, self._init)
        net.hybridize()
        return net

    def trainer(self, net: gluon.Block, lr: float) -> gluon.Trainer:
        """The script's trainer: NAG, momentum 0.9, wd 1e-4."""
        return gluon.Trainer(net.collect_params(), "nag", dict(self.optimizer_params, learning_rate=lr))

    def loss_fn(self) -> gluon.loss.Loss:
        """The script's loss (one-hot labels for mixup)."""
        return gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=not self.mixup)

    def mixup_fit_batch(self, net: gluon.Block, loss_fn: gluon.loss.Loss,
                        mixing: Callable[[], bool]) -> Callable[[Any], Tuple[list, list, list]]:
        """One batch as ``train_mixup_cifar10.py`` trains it, for ``Learner(fit_batch=...)``."""

        def fit_batch(batch: Any) -> Tuple[list, list, list]:
            X, Y = batch[0], batch[1]
            lam = float(np.random.beta(1.0, 1.0)) if mixing() else 1.0
            data = lam * X + (1 - lam) * X[::-1]
            y1 = mx.nd.one_hot(Y.astype("float32"), 10)
            label = lam * y1 + (1 - lam) * y1[::-1]
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            return [data], [label], [loss]

        return fit_batch

    # ---------------------------------------------------------------- the interface
    def sweep(self, seed: int) -> Sweep:
        """A range test from the fixed initial weights (the finder's own Learner; mixup through
        ``fit_batch``), recorded in full up to ``CIFAR_SWEEP['lr_end']``."""
        seed_everything(seed)
        net = self.fresh_net()
        loss_fn = self.loss_fn()
        fit_batch = self.mixup_fit_batch(net, loss_fn, lambda: True) if self.mixup else None
        with Learner(net, self.train_loader(), ctx=mx.cpu(), loss_fn=loss_fn,
                     trainer=self.trainer(net, 0.1), fit_batch=fit_batch) as learner:
            return _finder_sweep(learner, CIFAR_SWEEP, "nag")

    def evaluate(self, net: gluon.Block) -> Scores:
        """Validation cross-entropy and accuracy (predict mode, as the script's ``test``)."""
        X, y = self._valid_arrays()
        total, correct = 0.0, 0
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        for start in range(0, len(X), 256):
            out = net(mx.nd.array(X[start:start + 256]))
            label = mx.nd.array(y[start:start + 256])
            total += float(loss_fn(out, label).sum().asscalar())
            correct += int((out.argmax(axis=1) == label).sum().asscalar())
        loss = total / len(X)
        return {"loss": loss if math.isfinite(loss) else math.inf, "accuracy": correct / len(X)}

    def train(self, seed: int, lr_at: LRAt, iterations: int) -> Scores:
        """The script's training loop for ``iterations`` batches, the rate ``lr_at(i)`` set with
        ``trainer.set_learning_rate`` before batch ``i`` (as the script's step decay does)."""
        seed_everything(seed)
        net = self.fresh_net()
        loss_fn = self.loss_fn()
        trainer = self.trainer(net, lr_at(0))
        no_mix_from = int(round(iterations * (1 - self.mixup_off)))
        done = 0
        state = {"i": 0}
        fit_batch = self.mixup_fit_batch(net, loss_fn, lambda: state["i"] < no_mix_from)
        loader = self.train_loader()
        while done < iterations:
            for batch in loader:
                if done >= iterations:
                    break
                state["i"] = done
                trainer.set_learning_rate(lr_at(done))
                if self.mixup:
                    fit_batch(batch)
                else:
                    with autograd.record():
                        loss = loss_fn(net(batch[0]), batch[1])
                    loss.backward()
                trainer.step(self.batch_size)
                done += 1
        return self.evaluate(net)

    def recipe(self) -> Recipe:
        """This script as a :class:`~recipe.Recipe`."""
        script = "train_mixup_cifar10.py" if self.mixup else "train_cifar10.py"
        name = (f"GluonCV CIFAR-10 {'mixup ' if self.mixup else ''}script / cifar_resnet20_v1 / NAG 0.9, wd 1e-4 / "
                f"b{self.batch_size}")
        return Recipe(
            name=name, family="gluoncv cifar", optimizer="nag", budget=self.budget,
            sweep=self.sweep, train=self.train, default_lr=0.1,
            source=f"dmlc/gluon-cv scripts/classification/cifar/{script}",
            tags=("real-script", "batchnorm", "momentum", "resnet") + (("mixup",) if self.mixup else ()),
        )


def gluoncv_cifar(**kwargs: Any) -> Recipe:
    """GluonCV's ``train_cifar10.py`` recipe (see :class:`GluonCVCifar`)."""
    return GluonCVCifar(mixup=False, **kwargs).recipe()


def gluoncv_cifar_mixup(**kwargs: Any) -> Recipe:
    """GluonCV's ``train_mixup_cifar10.py`` recipe (see :class:`GluonCVCifar`)."""
    return GluonCVCifar(mixup=True, **kwargs).recipe()


# ====================================================================================== LM
def _pseudo_words(rng: np.random.RandomState, n: int, syllables: Sequence[str], used: set) -> List[str]:
    words: List[str] = []
    while len(words) < n:
        word = "".join(rng.choice(syllables, size=rng.randint(1, 4)))
        if word not in used:
            used.add(word)
            words.append(word)
    return words


def grammar_corpus(n_tokens: int = 40000, seed: int = 0) -> List[str]:
    """A stand-in corpus: sentences of a small random grammar, ``<eos>`` after each.

    Made-up words in classes (determiners, adjectives, nouns of 5 kinds, verbs that take a
    subject of one kind, adverbs, prepositions, names), chosen with Zipf-like frequencies;
    sentences ``NP VP [PP] [and NP VP]``, with subject-verb agreement by kind and a few fixed
    phrases, so that a word-level model has both frequent and long-range structure to learn.

    Parameters
    ----------
    n_tokens : int, default 40000
        Tokens to make (whole sentences; the corpus stops at the first sentence past it).
    seed : int, default 0
        The grammar and the sentences.

    Returns
    -------
    list of str
        The tokens.
    """
    rng = np.random.RandomState(seed)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    used: set = set()
    dets = ["the", "a", "every", "some", "this", "that", "no"]
    preps = ["in", "on", "under", "near", "with", "behind", "over", "into"]
    adjs = _pseudo_words(rng, 60, syll, used)
    nouns = [_pseudo_words(rng, 40, syll, used) for _ in range(5)]
    verbs_t = [_pseudo_words(rng, 15, syll, used) for _ in range(5)]
    verbs_i = [_pseudo_words(rng, 6, syll, used) for _ in range(5)]
    advs = _pseudo_words(rng, 25, syll, used)
    names = _pseudo_words(rng, 30, syll, used)

    def zipf(items: Sequence[str]) -> str:
        weights = 1.0 / np.arange(1, len(items) + 1)
        return items[rng.choice(len(items), p=weights / weights.sum())]

    def noun_phrase(kind: int) -> List[str]:
        if kind == 0 and rng.rand() < 0.3:
            return [zipf(names)]
        words = [zipf(dets)]
        if rng.rand() < 0.4:
            words.append(zipf(adjs))
        return words + [zipf(nouns[kind])]

    def clause() -> List[str]:
        kind = rng.randint(5)
        words = noun_phrase(kind)
        if rng.rand() < 0.7:
            words += [zipf(verbs_t[kind])] + noun_phrase((kind + 1 + rng.randint(2)) % 5)
        else:
            words += [zipf(verbs_i[kind])] + ([zipf(advs)] if rng.rand() < 0.5 else [])
        if rng.rand() < 0.35:
            words += [zipf(preps)] + noun_phrase(rng.randint(5))
        return words

    tokens: List[str] = []
    while len(tokens) < n_tokens:
        sentence = clause()
        if rng.rand() < 0.25:
            sentence += ["and"] + clause()
        tokens += sentence + ["<eos>"]
    return tokens


class GluonNLPWordLM:
    """GluonNLP's word-level language model script (v0.10.x), AWD-LSTM, at small sizes.

    Parameters
    ----------
    epochs : int, default 8
        Passes over the training corpus of one run at the recipe's budget.
    batch_size, bptt : int
        20 and 35 (the script's defaults are 80 and 70, for WikiText-2's 2M tokens).
    emsize, nhid, nlayers : int
        64, 128, 3 (the script: 400, 1150, 3).
    n_tokens : int, default 40000
        Size of the stand-in corpus (90% train, 10% validation).
    """

    def __init__(self, epochs: int = 8, batch_size: int = 20, bptt: int = 35, emsize: int = 64, nhid: int = 128,
                 nlayers: int = 3, n_tokens: int = 40000) -> None:
        self.epochs, self.batch_size, self.bptt = epochs, batch_size, bptt
        self.emsize, self.nhid, self.nlayers = emsize, nhid, nlayers
        self.n_tokens = n_tokens
        # the script's defaults: dropout 0.4, weight_drop 0.5, drop_h 0.2, drop_i 0.65, drop_e 0.1
        self.dropouts = (0.4, 0.5, 0.2, 0.65, 0.1)
        self.clip = 0.25
        self.alpha, self.beta = 2.0, 1.0
        self.optimizer_params = {"momentum": 0.0, "wd": 1.2e-6}
        self._data: Optional[Tuple[mx.nd.NDArray, mx.nd.NDArray, int]] = None
        self._init: Optional[List[np.ndarray]] = None

    def data(self) -> Tuple[mx.nd.NDArray, mx.nd.NDArray, int]:
        """``(train (T, 20), valid (T, 10), vocabulary size)``, batchified as the script does."""
        if self._data is None:
            import gluonnlp as nlp

            tokens = grammar_corpus(self.n_tokens)
            cut = int(0.9 * len(tokens))
            train, valid = tokens[:cut], tokens[cut:]
            vocab = nlp.Vocab(counter=nlp.data.Counter(train), padding_token=None, bos_token=None)
            train_data = nlp.data.batchify.CorpusBatchify(vocab, self.batch_size)(train)
            valid_data = nlp.data.batchify.CorpusBatchify(vocab, 10)(valid)
            self._data = (train_data[:], valid_data[:], len(vocab))
        return self._data

    def iterations_per_epoch(self) -> int:
        """BPTT batches of one pass (random lengths averaging about ``bptt``)."""
        return int((len(self.data()[0]) - 2) / self.bptt)

    @property
    def budget(self) -> int:
        """Iterations of a run at the recipe's budget."""
        return self.epochs * self.iterations_per_epoch()

    def _model(self, train: bool, params: Any = None) -> gluon.HybridBlock:
        import gluonnlp as nlp

        cls = nlp.model.train.AWDRNN if train else nlp.model.AWDRNN
        kwargs = {"params": params} if params is not None else {}
        return cls("lstm", self.data()[2], self.emsize, self.nhid, self.nlayers, True, *self.dropouts, **kwargs)

    def fresh_model(self) -> gluon.HybridBlock:
        """``gluonnlp.model.train.AWDRNN`` at the fixed initial weights, hybridized as the script."""
        model = self._model(train=True)
        if self._init is None:
            mx.random.seed(INIT_SEED)
        model.initialize(mx.init.Xavier(), ctx=mx.cpu())
        model(mx.nd.zeros((2, self.batch_size)), model.begin_state(self.batch_size, func=mx.nd.zeros))
        if self._init is None:
            self._init = _weights(model)
        else:
            _load_weights(model, self._init)
        model.hybridize(static_alloc=True)
        return model

    def batches(self, seed: int) -> Iterator[Tuple[mx.nd.NDArray, mx.nd.NDArray, bool, int]]:
        """One pass of ``(data, target, first_of_pass, seq_len)`` with the script's random BPTT
        length (``bptt`` with probability 0.95, else ``bptt / 2``; then ~N(that, 5), at least 5)."""
        train = self.data()[0]
        rng = np.random.RandomState(seed)
        i = 0
        while i < len(train) - 1 - 1:
            bptt = self.bptt if rng.uniform() < 0.95 else self.bptt / 2
            seq_len = max(5, int(rng.normal(bptt, 5)))
            seq_len = min(seq_len, len(train) - 1 - i)
            yield train[i:i + seq_len], train[i + 1:i + 1 + seq_len], i == 0, seq_len
            i += seq_len

    def _loader(self, seed: int) -> _Passes:
        return _Passes(self, seed)

    def fit_batch(self, model: gluon.Block) -> Callable[[Any], Tuple[list, list, list]]:
        """The script's batch: detach the carried state, forward, joint loss with activation
        regularisation, backward, ``clip_global_norm`` 0.25, the ``seq_len / bptt`` rate scaling.

        For ``Learner(fit_batch=...)``, which then calls ``trainer.step(number of tokens)``: the
        per-token losses are back-propagated as a sum, clipped at 0.25 times the token count and
        scaled by ``seq_len / bptt``, so the update is the script's (loss / tokens, step(1),
        clip at 0.25, lr times ``seq_len / bptt``) exactly, but for the weight decay term, which
        the script scales by ``seq_len / bptt`` too (wd 1.2e-6).
        """
        import gluonnlp as nlp

        ce = gluon.loss.SoftmaxCrossEntropyLoss()
        ar = nlp.loss.ActivationRegularizationLoss(self.alpha)
        tar = nlp.loss.TemporalActivationRegularizationLoss(self.beta)
        params = [p for p in model.collect_params().values() if p.grad_req != "null"]
        state: Dict[str, Any] = {"hidden": None}

        def fit_batch(batch: Any) -> Tuple[list, list, list]:
            data, target, first, seq_len = batch
            if first or state["hidden"] is None:
                state["hidden"] = model.begin_state(self.batch_size, func=mx.nd.zeros)
            hidden = [[h.detach() for h in layer] for layer in state["hidden"]]
            with autograd.record():
                output, hidden, enc, dropped = model(data, hidden)
                loss = ce(output.reshape(-3, -1), target.reshape(-1)) + ar(*dropped) + tar(*enc)
            loss.backward()
            state["hidden"] = hidden
            tokens = loss.shape[0]
            grads = [p.grad() for p in params]
            gluon.utils.clip_global_norm(grads, self.clip * tokens)
            scale = seq_len / self.bptt
            if scale != 1.0:
                for g in grads:
                    g *= scale
            flat = target.reshape(-1)
            return [flat], [flat], [loss]

        return fit_batch

    def trainer(self, model: gluon.Block, lr: float) -> gluon.Trainer:
        """The script's trainer: SGD without momentum, wd 1.2e-6, ``update_on_kvstore=False``."""
        return gluon.Trainer(model.collect_params(), "sgd", dict(self.optimizer_params, learning_rate=lr),
                             update_on_kvstore=False)

    def sweep(self, seed: int) -> Sweep:
        """A range test through the Learner's ``fit_batch``, recorded in full up to ``LM_SWEEP['lr_end']``."""
        seed_everything(seed)
        model = self.fresh_model()
        with Learner(model, self._loader(seed), ctx=mx.cpu(), trainer=self.trainer(model, 30.0),
                     fit_batch=self.fit_batch(model)) as learner:
            return _finder_sweep(learner, LM_SWEEP, "sgd")

    def evaluate(self, model: gluon.Block) -> Scores:
        """Validation log-perplexity, as the script's ``evaluate`` (batch 10, hidden carried)."""
        valid = self.data()[1]
        model_eval = self._model(train=False, params=model.collect_params())
        hidden = model_eval.begin_state(batch_size=10, func=mx.nd.zeros)
        ce = gluon.loss.SoftmaxCrossEntropyLoss()
        total, count, i = 0.0, 0, 0
        while i < len(valid) - 1 - 1:
            seq_len = min(self.bptt, len(valid) - 1 - i)
            output, hidden = model_eval(valid[i:i + seq_len], hidden)
            loss = ce(output.reshape(-3, -1), valid[i + 1:i + 1 + seq_len].reshape(-1))
            total += float(loss.sum().asscalar())
            count += loss.shape[0]
            i += self.bptt
        value = total / count
        if not math.isfinite(value):
            return {"loss": math.inf, "perplexity": math.inf}
        return {"loss": value, "perplexity": math.exp(min(value, 700.0))}

    def train(self, seed: int, lr_at: LRAt, iterations: int) -> Scores:
        """The script's loop (through the same ``fit_batch`` as the sweep) for ``iterations`` batches."""
        seed_everything(seed)
        model = self.fresh_model()
        trainer = self.trainer(model, lr_at(0))
        fit_batch = self.fit_batch(model)
        done, pass_seed = 0, seed
        while done < iterations:
            for batch in self.batches(pass_seed):
                if done >= iterations:
                    break
                trainer.set_learning_rate(lr_at(done))
                _, label, losses = fit_batch(batch)
                trainer.step(label[0].shape[0])
                done += 1
                if done % 50 == 0 and not math.isfinite(float(losses[0].mean().asscalar())):
                    return {"loss": math.inf, "perplexity": math.inf}
            pass_seed += 1000
        return self.evaluate(model)

    def recipe(self) -> Recipe:
        """This script as a :class:`~recipe.Recipe`."""
        return Recipe(
            name=(f"GluonNLP word LM script / AWD-LSTM {self.nlayers}x{self.nhid} / SGD, clip 0.25 / "
                  f"b{self.batch_size} bptt{self.bptt}"),
            family="language model", optimizer="sgd", budget=self.budget,
            sweep=self.sweep, train=self.train, default_lr=30.0,
            source="dmlc/gluon-nlp v0.10.x scripts/language_model/word_language_model.py",
            tags=("real-script", "lstm", "clipping", "stateful", "weight-dropout"),
        )


class _Passes:
    """Endless passes of :meth:`GluonNLPWordLM.batches` (a new random BPTT draw each pass)."""

    def __init__(self, lm: GluonNLPWordLM, seed: int) -> None:
        self.lm, self.seed, self.passes = lm, seed, 0

    def __iter__(self) -> Iterator[Tuple[mx.nd.NDArray, mx.nd.NDArray, bool, int]]:
        self.passes += 1
        return self.lm.batches(self.seed + 1000 * (self.passes - 1))


def gluonnlp_awd_lm(**kwargs: Any) -> Recipe:
    """GluonNLP's ``word_language_model.py`` recipe (see :class:`GluonNLPWordLM`)."""
    return GluonNLPWordLM(**kwargs).recipe()


def recipes() -> List[Recipe]:
    """The three real-script recipes."""
    return [gluoncv_cifar(), gluoncv_cifar_mixup(), gluonnlp_awd_lm()]
