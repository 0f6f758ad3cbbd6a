"""The optional validation signal: ValidationSignal, find(valid_data=...), its record and plot."""
import json

import numpy as np
import pytest
from conftest import mode_array, suggest
from mxnet import autograd, gluon

from gluon_lrfinder import LRCurve, LRFinder
from gluon_lrfinder.core.plotting import plot_curve, pyplot
from gluon_lrfinder.engine.validation import ValidationSignal

SWEEP = {"lr_start": 1e-4, "lr_end": 3.0, "num_iter": 40, "progress": False}


def params_of(net):
    return {n: [d.asnumpy().copy() for d in p.list_data()] for n, p in net.collect_params().items()}


def test_evaluate_is_the_mean_held_out_loss_and_touches_nothing(array_mode, make_learner, digits):
    learner = make_learner(net="mlp_bn", warm_steps=2)
    before = params_of(learner.net)
    signal = ValidationSignal(learner, digits.valid, every=3, batch_size=100)
    X = mode_array(np.stack([digits.valid[i][0] for i in range(len(digits.valid))]))
    y = mode_array(np.stack([digits.valid[i][1] for i in range(len(digits.valid))]))
    with autograd.predict_mode():
        expected = learner.loss_fn(learner.net(X), y).mean().asnumpy().item()
    assert signal.num_samples == len(digits.valid)
    assert signal.evaluate() == pytest.approx(float(expected), rel=1e-5)
    after = params_of(learner.net)
    for name in before:  # BatchNorm running statistics included
        assert all(np.array_equal(a, b) for a, b in zip(before[name], after[name])), name


def test_signal_accepts_a_list_of_batches_and_caps_an_endless_loader(make_learner, digits):
    learner = make_learner()
    batches = [(mode_array(np.stack([digits.valid[i][0] for i in range(k, k + 20)])),
                mode_array(np.stack([digits.valid[i][1] for i in range(k, k + 20)]))) for k in (0, 20)]
    assert ValidationSignal(learner, batches).num_samples == 40
    endless = learner.data_loader  # a ContinuousBatchSampler loader never ends
    assert ValidationSignal(learner, endless, max_batches=3).num_samples == 3 * 32


def test_signal_rejects_bad_input(make_learner):
    learner = make_learner()
    with pytest.raises(ValueError, match="valid_every must be an integer >= 1, got 0"):
        ValidationSignal(learner, [], every=0)
    with pytest.raises(TypeError, match="valid_data must be a gluon.data.Dataset or an iterable"):
        ValidationSignal(learner, 5)
    with pytest.raises(ValueError, match="valid_data yielded no batches"):
        ValidationSignal(learner, [])
    with pytest.raises(ValueError, match="valid_data is an empty Dataset"):
        ValidationSignal(learner, gluon.data.ArrayDataset(np.zeros((0, 64), "float32"), np.zeros(0, "float32")))


def test_find_with_validation_records_it_without_changing_the_sweep(array_mode, make_learner, digits):
    plain = LRFinder(make_learner(seed=3))
    plain.find(**SWEEP)
    learner = make_learner(seed=3)
    learner.prepare()  # resolve deferred shapes so the parameters can be read
    before = params_of(learner.net)
    finder = LRFinder(learner)
    finder.find(valid_data=digits.valid, valid_every=4, **SWEEP)
    curve = finder.curve
    assert curve.losses == plain.curve.losses  # evaluating the held-out set changes no training step
    assert curve.settings["valid_every"] == 4 and "valid_every" not in plain.curve.settings
    assert curve.valid_lrs == curve.lrs[3::4][: len(curve.valid_lrs)]
    assert len(curve.valid_lrs) == len(curve) // 4
    assert np.all(np.isfinite(curve.valid_losses[:5]))
    after = params_of(learner.net)
    for name in before:
        assert all(np.array_equal(a, b) for a, b in zip(before[name], after[name])), name
    assert finder.suggest(source="valid", method="steepest", warn=False) == suggest(
        curve.valid_lrs, curve.valid_losses, method="steepest", warn=False)
    assert finder.report(method="steepest").valid_lr == finder.suggest(source="valid", method="steepest", warn=False)
    with pytest.raises(RuntimeError, match=r"source='valid' needs a validation signal"):
        plain.suggest(source="valid")
    with pytest.raises(ValueError, match="source must be one of"):
        plain.suggest(source="test")
    with pytest.raises(ValueError, match="valid_every must be an integer >= 1"):
        finder.find(valid_data=digits.valid, valid_every=0, **SWEEP)


def test_on_a_conv_net_the_signal_changes_training_by_rounding_at_most(make_learner, digits_image):
    # Under MXNet's oneDNN (MKLDNN) CPU backend a predict-mode forward of a convolutional net can
    # change the rounding of later training steps by an ulp (docs: "The held-out signal"); it
    # must never change them by more: no BatchNorm statistic or parameter moves.
    sweep = {"lr_start": 1e-4, "lr_end": 1.0, "num_iter": 60, "progress": False}
    plain = LRFinder(make_learner(net="cnn", task=digits_image, seed=3))
    plain.find(**sweep)
    finder = LRFinder(make_learner(net="cnn", task=digits_image, seed=3))
    finder.find(valid_data=digits_image.valid, valid_every=5, **sweep)
    assert len(finder.curve) == len(plain.curve) == 60
    np.testing.assert_allclose(finder.curve.losses, plain.curve.losses, rtol=1e-5)
    assert np.all(np.isfinite(finder.curve.valid_losses))


def test_validation_round_trips_through_csv_and_json_and_old_files_are_unchanged(tmp_path):
    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    curve = LRCurve(lrs=list(lrs), losses=[2.0, 1.5, 1.0, 3.0], smoothed=[2.0, 1.8, 1.4, 2.0])
    old_csv, old_json = curve.to_csv(tmp_path / "old.csv"), curve.to_json(tmp_path / "old.json")
    assert "valid_loss" not in open(old_csv).read()
    assert "valid_lrs" not in json.load(open(old_json))
    assert LRCurve.load(old_csv).valid_lrs == [] and LRCurve.load(old_json).valid_losses == []
    curve.append_valid(1e-2, 1.7)
    curve.append_valid(1.0, float("nan"))
    for suffix in ("csv", "json"):
        back = LRCurve.load(curve.save(tmp_path / f"new.{suffix}"))
        assert back.valid_lrs == [1e-2, 1.0]
        assert back.valid_losses[0] == 1.7 and np.isnan(back.valid_losses[1])
        assert back.losses == curve.losses


def test_plot_overlays_the_held_out_loss_and_its_suggestion():
    lrs = np.logspace(-4, 0, 60)
    x = np.log10(lrs)
    losses = 2 - np.tanh(2 * (x + 2)) + np.exp(4 * (x + 0.3))
    curve = LRCurve(lrs=list(lrs), losses=list(losses))
    for lr, loss in zip(lrs[4::5], losses[4::5] + 0.2):
        curve.append_valid(lr, loss)
    ax = plot_curve(curve, method="steepest")
    labels = [line.get_label() for line in ax.get_lines()]
    assert "held-out loss" in labels
    assert any(label.startswith("held-out suggestion") for label in labels)
    pyplot().close(ax.figure)
