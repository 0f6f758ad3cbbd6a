"""Custom training steps through ``fit_batch`` (issue 18): the step's normalisation is declared, never
guessed; no forward of the Learner's own; sources that cannot restart say so."""
import math

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_lrfinder import Learner, LRFinder

VOCAB, EMBED, HIDDEN = 24, 16, 32
STEPS, COLUMNS = 12, 8  # BPTT length (T) and batch size (N); different, so a mix-up shows


class LanguageModel(gluon.HybridBlock):
    """Embedding -> LSTM -> decoder, called as ``model(X, hidden)`` like GluonNLP's LMs."""

    def __init__(self, layout="TNC", deferred=False, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.embedding = gluon.nn.Embedding(VOCAB, EMBED)
            self.rnn = gluon.rnn.LSTM(HIDDEN, layout=layout, input_size=0 if deferred else EMBED)
            self.decoder = gluon.nn.Dense(VOCAB, flatten=False, in_units=0 if deferred else HIDDEN)

    def hybrid_forward(self, F, x, hidden):
        out, hidden = self.rnn(self.embedding(x), hidden)
        return self.decoder(out), hidden


def corpus(length=4000, seed=0):
    """A token stream from a sparse random Markov chain: learnable, so the loss falls then diverges."""
    rng = np.random.RandomState(seed)
    successors = rng.randint(0, VOCAB, size=(VOCAB, 3))
    tokens = [0]
    for _ in range(length - 1):
        tokens.append(successors[tokens[-1], rng.randint(3)])
    return np.array(tokens, dtype="float32")


def bptt_batches(time_major=True):
    """A callable source: each call gives a fresh pass of (X, Y) BPTT batches, GluonNLP-style."""
    stream = corpus()
    columns = stream[: len(stream) // COLUMNS * COLUMNS].reshape(COLUMNS, -1).T  # (L, N), time-major

    def fresh():
        for start in range(0, columns.shape[0] - 1 - STEPS, STEPS):
            x, y = columns[start:start + STEPS], columns[start + 1:start + 1 + STEPS]
            if not time_major:
                x, y = x.T, y.T
            yield mx.nd.array(x), mx.nd.array(y)

    return fresh


def lm_fit_batch(model, pre_normalised, time_major, declare):
    """The LM's training step: hidden state carried and detached across batches, the loss either per
    sequence (trainer.step(N)) or already normalised by the script (trainer.step(1))."""
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    state = {"hidden": model.rnn.begin_state(batch_size=COLUMNS)}

    def fit_batch(batch):
        x, y = batch
        hidden = [h.detach() for h in state["hidden"]]
        with autograd.record():
            output, hidden = model(x, hidden)
            tokens = loss_fn(output.reshape((-1, VOCAB)), y.reshape((-1,)))  # one loss per token
            if pre_normalised:
                loss = tokens.sum() / (STEPS * COLUMNS)  # GluonNLP: the script normalises, steps with 1
            else:
                axis = 0 if time_major else 1
                loss = tokens.reshape(x.shape).mean(axis=axis)  # one loss per sequence: (N,)
        loss.backward()
        state["hidden"] = hidden
        if not declare:
            return [x], [y], [loss]
        return [x], [y], [loss], 1 if pre_normalised else COLUMNS

    return fit_batch


def lm_search(pre_normalised, time_major, declare=True):
    mx.random.seed(0)
    model = LanguageModel(layout="TNC" if time_major else "NTC")
    model.initialize(mx.init.Xavier())
    trainer = gluon.Trainer(model.collect_params(), "sgd", {"learning_rate": 1.0})
    learner = Learner(model, bptt_batches(time_major), trainer=trainer,
                      fit_batch=lm_fit_batch(model, pre_normalised, time_major, declare))
    finder = LRFinder(learner)
    finder.find(lr_start=1e-2, lr_end=1e3, num_iter=120, progress=False)
    learner.close()
    return finder


def test_a_language_model_suggests_the_same_rate_whatever_its_normalisation_and_layout():
    variants = {
        "per sequence, time-major (declared N)": lm_search(pre_normalised=False, time_major=True),
        "per sequence, batch-major (inferred)": lm_search(pre_normalised=False, time_major=False, declare=False),
        "pre-normalised, time-major (declared 1)": lm_search(pre_normalised=True, time_major=True),
        "pre-normalised, batch-major (declared 1)": lm_search(pre_normalised=True, time_major=False),
    }
    suggestions = {name: finder.suggest(warn=False) for name, finder in variants.items()}
    for finder in variants.values():
        assert finder.curve.stop_reason == "diverged", finder.curve.stop_reason
    low, high = min(suggestions.values()), max(suggestions.values())
    assert high / low < 1.5, suggestions


def test_a_pre_normalised_loss_without_a_declared_batch_size_is_refused_not_guessed():
    """Today's silent factor: the step took the sequence length (T=12) as the batch size."""
    with pytest.raises(ValueError, match=r"cannot tell how many samples.*4th element.*batch_size.*1 for a loss"):
        lm_search(pre_normalised=True, time_major=True, declare=False)
    with pytest.raises(ValueError, match="cannot tell how many samples"):  # (N,) losses, (T, N) inputs
        lm_search(pre_normalised=False, time_major=True, declare=False)


def test_a_declared_batch_size_is_what_the_trainer_steps_with():
    steps = []
    net = gluon.nn.Dense(2, in_units=3)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    real_step = trainer.step
    trainer.step = lambda size, **kw: (steps.append(size), real_step(size, **kw))
    batch = (mx.nd.ones((5, 3)), mx.nd.zeros((5, 2)))

    def fit_batch(b):
        with autograd.record():
            loss = gluon.loss.L2Loss()(net(b[0]), b[1]).mean()
        loss.backward()
        return [b[0]], [b[1]], [loss], 1

    Learner(net, [batch], trainer=trainer, fit_batch=fit_batch).iteration(lr=0.1)
    assert steps == [1]
    for bad in (0, 2.5, True):
        learner = Learner(net, [batch], trainer=trainer, fit_batch=lambda b, bad=bad: fit_batch(b)[:3] + (bad,))
        with pytest.raises(ValueError, match="4th element, batch_size, must be an int >= 1"):
            learner.iteration(lr=0.1)


def test_with_fit_batch_the_learner_runs_no_forward_of_its_own():
    """A hybridized model called as model(X, hidden), with deferred shapes: a clear error before any
    forward, and the user's own model(X, hidden) still works afterwards (no cached graph built on X alone)."""
    mx.random.seed(0)
    model = LanguageModel(deferred=True)
    model.initialize()
    model.hybridize()
    source = bptt_batches()
    fit_batch = lm_fit_batch(model, pre_normalised=True, time_major=True, declare=True)
    calls = []
    learner = Learner(model, source, fit_batch=lambda b: calls.append(1) or fit_batch(b))
    with pytest.raises(ValueError, match=r"deferred shape.*with fit_batch the Learner runs no forward.*predict_mode"):
        LRFinder(learner).find(lr_start=1e-2, lr_end=1.0, num_iter=20, progress=False)
    assert calls == []
    x, _ = next(source())
    output, _ = model(x, model.rnn.begin_state(batch_size=COLUMNS))
    assert output.shape == (STEPS, COLUMNS, VOCAB)


def test_predict_batch_resolves_deferred_shapes_through_the_users_call():
    mx.random.seed(0)
    model = LanguageModel(deferred=True)
    model.initialize()
    model.hybridize()

    def predict_batch(batch):
        model(batch[0], model.rnn.begin_state(batch_size=COLUMNS))

    learner = Learner(model, bptt_batches(), predict_batch=predict_batch,
                      fit_batch=lm_fit_batch(model, pre_normalised=True, time_major=True, declare=True))
    finder = LRFinder(learner)
    finder.find(lr_start=1e-2, lr_end=1.0, num_iter=20, progress=False)
    assert len(finder.curve) == 20 and all(math.isfinite(x) for x in finder.curve.losses)


def test_a_generator_says_it_cannot_restart_and_what_to_pass():
    def batches(n):
        for _ in range(n):
            yield mx.nd.random.uniform(shape=(8, 4)), mx.nd.array(np.arange(8) % 3)

    learner = Learner(gluon.nn.Dense(3, in_units=4), batches(30))
    with pytest.raises(ValueError, match=r"one-shot iterator \(generator\) and ran out after 30 batches: it cannot "
                                         r"restart.*DataLoader, a list of batches, or a callable"):
        LRFinder(learner).find(lr_start=1e-4, lr_end=1.0, num_iter=50, progress=False)


def test_a_callable_source_is_called_for_every_pass():
    passes = []

    def batches():
        passes.append(1)
        for _ in range(10):
            yield mx.nd.random.uniform(shape=(8, 4)), mx.nd.array(np.arange(8) % 3)

    finder = LRFinder(Learner(gluon.nn.Dense(3, in_units=4), batches))
    finder.find(lr_start=1e-4, lr_end=1.0, num_iter=35, progress=False)
    assert len(finder.curve) == 35 and len(passes) >= 4
