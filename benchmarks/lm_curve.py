"""Record a language-model range test whose loss falls only a few percent before it diverges.

The early fall of a word-level language model's range test is mostly the unigram distribution
being learnt, on top of a large entropy floor: GluonNLP's AWD-LSTM fell 4.9% before diverging
normally (issue 18). This script reproduces that shape on a synthetic corpus (Zipf-distributed
tokens over a vocabulary of 2000, a weak bigram structure), with GluonNLP's loop: time-major BPTT
batches, the hidden state carried and detached, the loss normalised by the script, SGD,
``trainer.step(1)`` (declared through ``fit_batch``). The curves are written to
``benchmarks/data/lm_curves.json``, where ``tests/core/test_flags.py`` reads them to check that no
flag cries wolf on them.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lm_curve.py
"""
from __future__ import annotations

import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repo root

from benchmarks import common  # noqa: E402  (first: it sets OMP_NUM_THREADS and MPLBACKEND)

# isort: split

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_lrfinder import Learner, LRFinder  # noqa: E402

VOCAB, T, N = 2000, 35, 32


def corpus(length: int = 60000, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    zipf = 1.0 / np.arange(1, VOCAB + 1) ** 1.1
    zipf /= zipf.sum()
    successor = rng.permutation(VOCAB)
    tokens = np.empty(length, dtype="float32")
    tokens[0] = 0
    draws = rng.choice(VOCAB, size=length, p=zipf)
    follow = rng.rand(length) < 0.3
    for i in range(1, length):
        tokens[i] = successor[int(tokens[i - 1])] if follow[i] else draws[i]
    return tokens


class LanguageModel(gluon.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.embedding = gluon.nn.Embedding(VOCAB, 32)
            self.rnn = gluon.rnn.LSTM(64, layout="TNC", input_size=32)
            self.decoder = gluon.nn.Dense(VOCAB, flatten=False, in_units=64)

    def hybrid_forward(self, F, x, hidden):
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.decoder(out), hidden


def record(seed: int, warm: int = 0) -> dict:
    """One range test, after ``warm`` training steps at lr 1: 0, from the initial weights (the
    smoothed loss falls 10-14%); 50 or 100, most of the unigram distribution learnt (it falls
    1-6%, some of it within the noise of the batches: 0.9-1.3% against a noise of 0.07-0.1)."""
    stream = corpus(seed=seed)
    columns = stream[: len(stream) // N * N].reshape(N, -1).T

    def batches():
        for i in range(0, columns.shape[0] - 1 - T, T):
            yield mx.nd.array(columns[i:i + T]), mx.nd.array(columns[i + 1:i + 1 + T])

    mx.random.seed(seed)
    model = LanguageModel()
    model.initialize(mx.init.Xavier())
    model.hybridize()
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 1.0})
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    carried = {"hidden": model.rnn.begin_state(batch_size=N)}

    def fit_batch(batch):
        x, target = batch
        hidden = [h.detach() for h in carried["hidden"]]
        with autograd.record():
            output, hidden = model(x, hidden)
            loss = loss_fn(output.reshape((-1, VOCAB)), target.reshape((-1,))).sum() / (T * N)
        loss.backward()
        grads = [p.grad() for p in model.collect_params().values() if p.grad_req != "null"]
        gluon.utils.clip_global_norm(grads, 0.25 * 100)  # clipping as GluonNLP does (loose here)
        carried["hidden"] = hidden
        return [x], [target], [loss], 1

    with Learner(model, batches, trainer=trainer, fit_batch=fit_batch) as learner:
        for _ in range(warm):
            learner.iteration()
        finder = LRFinder(learner)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            finder.find(lr_start=1e-3, lr_end=1e4, progress=False)
    curve = finder.curve
    smooth = [s for s in curve.smoothed if s is not None]
    print(f"seed {seed}, warm {warm}: {len(curve)} points, {curve.stop_reason}, fell "
          f"{(smooth[0] - min(smooth)) / smooth[0]:.1%}, suggestion {finder.suggest(warn=False):.3g}, "
          f"flags {finder.curve.diagnose()}", flush=True)
    return {"seed": seed, "warm": warm, "lrs": list(curve.lrs), "losses": list(curve.losses)}


def main() -> None:
    curves = [record(seed, warm) for seed in range(3) for warm in (0, 50, 100)]
    with open(common.data_path("lm_curves.json"), "w", encoding="utf-8") as f:
        json.dump({"spec": {"vocab": VOCAB, "bptt": T, "batch_size": N, "optimizer": "sgd", "step": 1},
                   "curves": curves}, f)


if __name__ == "__main__":
    main()
