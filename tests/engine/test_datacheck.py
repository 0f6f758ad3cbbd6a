"""Errors and diagnoses that point at the cause: loss_fn misfits and non-finite data."""
import warnings

import mxnet as mx
import numpy as np
import pytest
from conftest import mode_array
from mxnet import gluon

from gluon_lrfinder import ContinuousBatchSampler, Learner, LRFinder
from gluon_lrfinder.core.rules import SuggestionWarning
from gluon_lrfinder.engine.datacheck import bad_data_message, nonfinite_parts, params_are_finite

SWEEP = {"lr_start": 1e-6, "lr_end": 10.0, "progress": False}


def _digits(nan_at=None, one_hot=False):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype("float32")
    if nan_at is not None:
        X[nan_at, 3] = np.nan
    labels = np.eye(10, dtype="float32")[y] if one_hot else y.astype("float32")
    return gluon.data.ArrayDataset(X, labels)


def _learner(ds, activation="relu", batch_size=64, **kwargs):
    mx.random.seed(0)
    np.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(32, activation=activation), gluon.nn.Dense(10))
    loader = gluon.data.DataLoader(ds, batch_sampler=ContinuousBatchSampler(gluon.data.RandomSampler(len(ds)),
                                                                            batch_size))
    return Learner(net, loader, optimizer_params={"learning_rate": 0.01, "momentum": 0.9}, **kwargs)


def _find_is_refused(learner, state_checker, match):
    """find() raises ValueError(match) and leaves the state bitwise as it was; returns the checker."""
    learner.prepare()
    checker = state_checker(learner)
    with pytest.raises(ValueError, match=match):
        LRFinder(learner).find(**SWEEP)
    checker.check()
    return checker


def test_one_hot_labels_with_the_default_loss_name_loss_fn_shapes_and_fix(state_checker):
    learner = _learner(_digits(one_hot=True))
    checker = _find_is_refused(learner, state_checker, r"loss_fn \(SoftmaxCrossEntropyLoss\).*output shape "
                               r"\(64, 10\), label shape \(64, 10\).*sparse_label=False")
    learner.loss_fn = gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)  # the fix it names works
    LRFinder(learner).find(num_iter=10, **SWEEP)
    checker.check()


def test_other_shape_misfits_name_loss_fn_and_both_shapes():
    learner = _learner(_digits(), loss_fn=lambda out, y: gluon.loss.L2Loss()(out, y.reshape((-1, 1, 1))))
    with pytest.raises(ValueError, match=r"loss_fn \(function\).*output shape \(64, 10\), label shape \(64,\)"
                                         r".*Check that loss_fn fits"):
        learner.iteration()


def test_a_batch_mean_loss_is_refused_naming_loss_fn(state_checker):
    learner = _learner(_digits(), loss_fn=lambda out, y: gluon.loss.SoftmaxCrossEntropyLoss()(out, y).mean())
    _find_is_refused(learner, state_checker,
                     r"loss_fn must return one loss per sample \(shape \(64, \.\.\.\)\), got shape \((1,)?\)")


def test_a_python_float_loss_is_a_type_error():
    learner = _learner(_digits(), loss_fn=lambda out, y: float(
        gluon.loss.SoftmaxCrossEntropyLoss()(out, y).mean().asnumpy().item()))
    with pytest.raises(TypeError, match=r"loss_fn must return an MXNet array of per-sample losses.*got float"):
        learner.iteration()


def test_nan_in_the_inputs_is_diagnosed_not_suggested(state_checker):
    learner = _learner(_digits(nan_at=5), activation="tanh")  # tanh passes the NaN on to the loss
    learner.prepare()
    checker = state_checker(learner)
    finder = LRFinder(learner)
    with pytest.warns(SuggestionWarning, match=r"holds NaN or inf in its inputs.*check the data"):
        finder.find(**SWEEP)
    checker.check()
    first_nan = next(i for i, x in enumerate(finder.curve.losses) if not np.isfinite(x))
    assert finder.curve.lrs[first_nan] < 1e-4  # long before any learning rate could diverge
    assert finder.curve.diagnose()[0].startswith(f"non-finite data: the batch of iteration {first_nan + 1} ")
    with pytest.raises(ValueError, match=r"no suggestion from this curve: non-finite data"):
        finder.suggest()
    report = finder.report()
    assert np.isnan(report.lr) and "check the data" in str(report)


def test_nan_hidden_by_relu_is_found_in_the_parameters():
    finder = LRFinder(_learner(_digits(nan_at=5)))
    with pytest.warns(SuggestionWarning, match=r"parameters became NaN or inf.*loss never diverged"):
        finder.find(**SWEEP)
    assert all(np.isfinite(finder.curve.losses))  # the loss alone would not have told
    with pytest.raises(ValueError, match=r"no suggestion"):
        finder.suggest()


def test_clean_data_that_diverges_is_not_flagged():
    finder = LRFinder(_learner(_digits(), activation="tanh"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SuggestionWarning)
        finder.find(lr_start=1e-4, lr_end=1e4, progress=False)
    assert "data_problem" not in finder.curve.settings
    assert not any(flag.startswith("non-finite") for flag in finder.curve.diagnose())
    assert 1e-4 < finder.suggest() < 1e4


def test_helpers():
    assert nonfinite_parts([mx.nd.ones((2, 2))], [mode_array(np.array([0, np.inf]))]) == ["labels"]
    assert nonfinite_parts((mx.nd.ones(2), mx.nd.ones(2)), mx.nd.ones(2)) == []
    net = gluon.nn.Dense(2, in_units=2)
    net.initialize()
    assert params_are_finite(net)
    net.weight.set_data(mode_array(np.array([[0, np.nan], [1, 1]])))
    assert not params_are_finite(net)
    assert "iteration 7 (lr=0.001)" in bad_data_message(1e-3, 7, ["inputs"])
