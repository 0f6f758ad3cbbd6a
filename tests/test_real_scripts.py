"""The offline parts of the real-script recipes (benchmarks/advice/real_scripts.py) and the way the
end-to-end check reads a recorded sweep as a user's curve (benchmarks/advice/real_script_check.py).

GluonCV and GluonNLP live in the benchmark venv only (``make bench-venv``); nothing here needs them.
"""
import math

import numpy as np
import pytest

from benchmarks.advice import real_script_check as check
from benchmarks.advice import real_scripts, real_scripts_cv, real_scripts_nlp
from gluon_lrfinder import StoppingCriteria


def test_digits_stand_in_has_cifar_shapes_and_is_fixed():
    Xt, yt, Xv, yv = real_scripts_cv.digits_as_cifar()
    assert Xt.shape == (1000, 32, 32, 3) and Xv.shape == (797, 32, 32, 3)
    assert Xt.dtype == np.uint8 and yt.dtype == np.int32
    assert set(np.unique(yt)) == set(range(10)) and set(np.unique(yv)) == set(range(10))
    again = real_scripts_cv.digits_as_cifar()
    assert np.array_equal(Xt, again[0]) and np.array_equal(yv, again[3])
    assert Xt.std() > 20  # images, not a constant


def test_grammar_corpus_size_and_determinism():
    tokens = real_scripts_nlp.grammar_corpus(5000)
    assert 5000 <= len(tokens) < 5100 and tokens[-1] == "<eos>"
    assert tokens == real_scripts_nlp.grammar_corpus(5000)
    assert 200 < len(set(tokens)) < 500


def _sweep(losses):
    lrs = [1e-4 * 1.1**i for i in range(len(losses))]
    return {"lrs": lrs, "losses": losses, "stop_reason": "num_iter reached",
            "curve": {"settings": {"optimizer": "NAG", "lr_end": 10.0}}}


def test_user_curve_cuts_where_the_default_rule_stops():
    losses = [2.0 - 0.01 * i for i in range(60)] + [5.0 + i for i in range(40)]
    curve = check.user_curve(_sweep(losses))
    rule = StoppingCriteria()
    rule.reset()
    stop = next(i for i, loss in enumerate(losses) if rule(loss))
    assert len(curve) == stop + 1 and curve.stop_reason == "diverged"
    assert curve.settings["optimizer"] == "NAG"
    assert all(math.isfinite(s) for s in curve.smoothed)


def test_user_curve_keeps_a_sweep_that_never_diverges():
    losses = [2.0 - 0.01 * i for i in range(80)]
    curve = check.user_curve(_sweep(losses))
    assert len(curve) == 80 and curve.stop_reason == "num_iter reached"


def test_advice_reads_the_installed_rules():
    losses = [2.3 - 0.5 * math.tanh(math.log10(1e-4 * 1.1**i) + 2) for i in range(100)] + [50.0] * 20
    adv = check.advice(_sweep(losses))
    low, high = adv["range"]
    assert 0 < low < high and adv["suggest"] > 0
    assert adv["points"] <= adv["full_points"] == 120


@pytest.mark.parametrize("lr", [0.1, 30.0])
def test_arm_keys_are_stable(lr):
    # the cache keys of the runs: a rule change re-trains only the arms whose rate changed
    recipe = real_scripts.Recipe("r", "f", "sgd", 10, sweep=None, train=None, default_lr=lr)
    labels = [a[0] for a in check.arms(recipe, {"suggest": 0.05, "range": [0.01, 0.03]})]
    keys = [a[1] for a in check.arms(recipe, {"suggest": 0.05, "range": [0.01, 0.03]})]
    assert labels == ["default", "apply()", "one-cycle"]
    assert keys == [f"constant {lr:.4g}", "constant 0.05", "one-cycle from_finder 0.01-0.03"]


def test_lm_fit_batch_makes_the_scripts_update():
    """Through the Learner (per-token losses, ``trainer.step(tokens)``), one batch moves the weights
    as word_language_model.py's loop does (loss / tokens, clip 0.25, ``step(1)``, lr * seq_len / bptt)."""
    pytest.importorskip("gluonnlp")
    import gluonnlp as nlp
    import mxnet as mx
    from mxnet import autograd, gluon

    lm = real_scripts_nlp.GluonNLPWordLM(batch_size=4, bptt=10, emsize=16, nhid=16, n_tokens=3000)
    batch = next(b for b in lm.batches(3) if b[3] != lm.bptt)  # a batch whose rate is rescaled
    data, target, _, seq_len = batch

    model = lm.fresh_model()
    trainer = lm.trainer(model, 30.0)
    mx.random.seed(5)
    _, label, _ = lm.fit_batch(model)(batch)
    trainer.step(label[0].shape[0])
    ours = [p.data().asnumpy() for p in model.collect_params().values()]

    model = lm.fresh_model()
    trainer = lm.trainer(model, 30.0)
    ce = gluon.loss.SoftmaxCrossEntropyLoss()
    ar, tar = nlp.loss.ActivationRegularizationLoss(2.0), nlp.loss.TemporalActivationRegularizationLoss(1.0)
    mx.random.seed(5)
    with autograd.record():
        output, _, enc, dropped = model(data, model.begin_state(4, func=mx.nd.zeros))
        loss = (ce(output.reshape(-3, -1), target.reshape(-1)) + ar(*dropped) + tar(*enc)) / data.size
    loss.backward()
    gluon.utils.clip_global_norm([p.grad() for p in model.collect_params().values() if p.grad_req != "null"], 0.25)
    trainer.set_learning_rate(30.0 * seq_len / lm.bptt)
    trainer.step(1)
    script = [p.data().asnumpy() for p in model.collect_params().values()]
    for a, b in zip(ours, script):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
