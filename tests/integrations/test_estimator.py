import logging
import math

import mxnet as mx
import numpy as np
import pytest
from conftest import assert_params_equal, capture_params, mode_array, trainer_state_bytes
from mxnet import autograd, gluon
from mxnet.gluon.contrib.estimator import BatchProcessor, Estimator
from mxnet.gluon.contrib.estimator.event_handler import EpochBegin, TrainBegin
from mxnet.util import is_np_array

from gluon_lrfinder import LRFinderHandler
from gluon_lrfinder.demo import build_net, loss_for
from gluon_lrfinder.integrations.estimator import find_lr_with_estimator, learner_from_estimator
from gluon_lrfinder.schedules.cycles import OneCycleSchedule
from gluon_lrfinder.schedules.wrappers import OffsetSchedule

FIND = {"lr_start": 1e-4, "lr_end": 20.0, "num_iter": 60}


class Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class Spy(TrainBegin, EpochBegin):
    """Records the parameters at every train_begin / epoch_begin it sees."""

    def __init__(self, priority):
        self.priority = priority
        self.seen = []

    def train_begin(self, estimator, *args, **kwargs):
        self.seen.append(("train", capture_params(estimator.net), estimator.trainer.learning_rate))

    def epoch_begin(self, estimator, *args, **kwargs):
        self.seen.append(("epoch", capture_params(estimator.net), estimator.trainer.learning_rate))


class NumpyModeLoss(mx.metric.EvalMetric):
    """Mean loss for NumPy-mode Gluon: reads the mx.np arrays on the host."""

    def __init__(self):
        super().__init__("loss")

    def update(self, _, preds):
        for pred in preds if isinstance(preds, (list, tuple)) else [preds]:
            values = pred.asnumpy()
            self.sum_metric += float(values.sum())
            self.global_sum_metric += float(values.sum())
            self.num_inst += values.size
            self.global_num_inst += values.size


class ScaledLoss(BatchProcessor):
    """A custom batch processor: the loss is ``scale`` times the estimator's, and calls are counted."""

    def __init__(self, scale):
        super().__init__()
        self.scale = scale
        self.calls = 0

    def fit_batch(self, estimator, train_batch, batch_axis=0):
        self.calls += 1
        data, label = self._get_data_and_label(train_batch, estimator.context, batch_axis)
        with autograd.record():
            pred = [estimator.net(x) for x in data]
            loss = [estimator.loss(y_hat, y) * self.scale for y_hat, y in zip(pred, label)]
        for part in loss:
            part.backward()
        return data, label, pred, loss


def make_estimator(digits, lr=1e-5, seed=0, scheduler=None, batch_processor=None):
    mx.random.seed(seed)
    np.random.seed(seed)
    net = build_net("mlp", digits.num_outputs)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(mode_array(np.zeros((1,) + digits.input_shape)))  # resolve the deferred shapes (for the spies)
    params = {"momentum": 0.9}
    params.update({"learning_rate": lr} if scheduler is None else {"lr_scheduler": scheduler})
    trainer = gluon.Trainer(net.collect_params(), "sgd", params)
    # MXNet 1.9.1's default Estimator metrics (Accuracy, Loss) call legacy operators, which refuse
    # mx.np arrays: in NumPy mode the user passes a metric that reads them (as here)
    metrics = [NumpyModeLoss()] if is_np_array() else None
    est = Estimator(net, loss_for(digits), train_metrics=metrics, trainer=trainer, context=mx.cpu(),
                    batch_processor=batch_processor)
    messages = Messages()
    est.logger.addHandler(messages)
    est.logger.setLevel(logging.INFO)
    est.logger.handlers = [h for h in est.logger.handlers if isinstance(h, Messages)]  # keep stdout quiet
    return est, messages


def loader(digits, seed=0, batch_size=64):
    np.random.seed(seed)
    return gluon.data.DataLoader(digits.train, batch_size=batch_size, shuffle=True)


def mean_loss(est, dataset):
    X = mode_array(np.stack([dataset[i][0] for i in range(len(dataset))]))
    y = mode_array(np.array([dataset[i][1] for i in range(len(dataset))]))
    return float(est.loss(est.net(X), y).mean().asnumpy().item())


def test_find_lr_with_estimator_restores_and_suggests(array_mode, digits):
    est, _ = make_estimator(digits)
    data = loader(digits)
    est.fit(data, batches=3)  # some momentum to keep
    params, states = capture_params(est.net), trainer_state_bytes(est.trainer)
    finder = find_lr_with_estimator(est, data, progress=False, **FIND)
    assert finder.learner.trainer is est.trainer and finder.learner.net is est.net
    assert len(finder.curve.pairs) >= 20 and finder.curve.settings["contexts"] == ["cpu(0)"]
    lr = finder.suggest(warn=False)
    assert math.isfinite(lr) and FIND["lr_start"] <= lr <= FIND["lr_end"]
    assert_params_equal(params, capture_params(est.net))
    assert trainer_state_bytes(est.trainer) == states
    assert est.trainer.learning_rate == 1e-5


def test_handler_at_train_begin_applies_the_suggestion_in_fit(array_mode, digits):
    est, messages = make_estimator(digits)
    data = loader(digits)
    start_loss = mean_loss(est, digits.valid)
    before, after = Spy(priority=999), Spy(priority=1001)  # around the handler (priority 1000)
    handler = LRFinderHandler(data, find_kwargs=FIND)
    est.fit(data, epochs=2, event_handlers=[handler, before, after])
    # the search left the model as it found it, then set the rate it logged
    assert before.seen[0][0] == after.seen[0][0] == "train"
    assert_params_equal(before.seen[0][1], after.seen[0][1])
    assert before.seen[0][2] == 1e-5 and after.seen[0][2] == handler.suggested_lr
    assert est.trainer.learning_rate == handler.suggested_lr
    assert FIND["lr_start"] <= handler.suggested_lr <= FIND["lr_end"]
    assert handler.finder is not None and len(handler.finder.curve.pairs) >= 20
    assert any(f"suggested lr {handler.suggested_lr:.4g}" in m and "set learning rate 1e-05 ->" in m
               for m in messages.messages), messages.messages
    assert any("current learning rate" in m and f"{handler.suggested_lr:.4f}" in m
               for m in messages.messages)  # the Estimator's own log shows the new rate
    # the short training at the suggested rate learned something; at 1e-5 it would not have
    trained_loss = mean_loss(est, digits.valid)
    twin, _ = make_estimator(digits)
    twin.fit(loader(digits), epochs=2)
    assert trained_loss < 0.5 * start_loss
    assert mean_loss(twin, digits.valid) > 0.9 * start_loss


def test_handler_mid_training_attaches_an_offset_schedule(array_mode, digits):
    est, messages = make_estimator(digits, lr=0.05)
    data = loader(digits)
    batches_per_epoch = len(data)
    before, after = Spy(priority=999), Spy(priority=1001)
    handler = LRFinderHandler(
        data, epoch=1, method="steepest", find_kwargs=FIND,
        schedule=lambda finder: OneCycleSchedule.from_finder(finder, total_steps=2 * batches_per_epoch),
    )
    est.fit(data, epochs=3, event_handlers=[handler, before, after])
    kinds = [kind for kind, _, _ in before.seen]
    assert kinds == ["train", "epoch", "epoch", "epoch"]
    # at epoch 1's begin (index 2): the model is as the first epoch left it
    assert_params_equal(before.seen[2][1], after.seen[2][1])
    assert before.seen[1][2] == after.seen[1][2] == 0.05  # epoch 0: no search yet
    scheduler = est.trainer.optimizer.lr_scheduler
    assert isinstance(scheduler, OffsetSchedule) and scheduler.offset == batches_per_epoch
    low, high = handler.finder.suggest_range()
    assert (scheduler.schedule.min_lr, scheduler.schedule.max_lr) == (low, high)
    assert after.seen[2][2] == low and after.seen[3][2] == pytest.approx(scheduler(2 * batches_per_epoch))
    assert est.trainer.optimizer.num_update == 3 * batches_per_epoch
    assert est.trainer.learning_rate == scheduler.schedule.final_lr  # the cycle is over
    assert sum("LRFinderHandler: suggested lr" in m for m in messages.messages) == 1
    assert not any("never ran" in m for m in messages.messages)
    assert any("attached OffsetSchedule(" in m for m in messages.messages)


def test_handler_with_an_existing_scheduler_sets_its_base_lr(digits):
    schedule = OneCycleSchedule(max_lr=1e-3, total_steps=100)
    est, messages = make_estimator(digits, scheduler=schedule)
    handler = LRFinderHandler(loader(digits), find_kwargs=FIND)
    handler.train_begin(est)
    assert est.trainer.optimizer.lr_scheduler is schedule
    assert schedule.base_lr == handler.suggested_lr and schedule(45) == handler.suggested_lr
    assert est.trainer.learning_rate == pytest.approx(handler.suggested_lr / 10)  # s(0) = peak / 10
    assert any("rescaled OneCycleSchedule around lr=" in m for m in messages.messages)


def test_handler_without_a_usable_curve_keeps_the_rate(digits):
    est, messages = make_estimator(digits, lr=0.01)
    handler = LRFinderHandler(loader(digits), find_kwargs={"lr_start": 1e-3, "lr_end": 1e-2, "num_iter": 3})
    assert handler.run(est) is None
    assert handler.suggested_lr is None and est.trainer.learning_rate == 0.01
    assert any("no suggestion" in m and "left at 0.01" in m for m in messages.messages)


def test_handler_set_for_a_later_epoch_than_fit_reaches_warns(digits):
    est, messages = make_estimator(digits, lr=0.01)
    handler = LRFinderHandler(loader(digits), epoch=5, find_kwargs=FIND)
    est.fit(loader(digits), batches=3, event_handlers=[handler])
    assert handler.finder is None and est.trainer.learning_rate == 0.01
    assert any("LRFinderHandler never ran: it was set for epoch 5, but training ended after 1 epoch(s)" in m
               for m in messages.messages), messages.messages


def test_learner_from_estimator_uses_its_parts(digits):
    est, _ = make_estimator(digits)
    learner = learner_from_estimator(est, loader(digits))
    assert learner.net is est.net and learner.trainer is est.trainer and learner.loss_fn is est.loss
    assert learner.ctx == [mx.cpu()]
    assert math.isfinite(learner.iteration(lr=None, take_step=False))
    learner.close()


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda d: LRFinderHandler(d, epoch=-1), ValueError, r"epoch must be an integer >= 0, got -1"),
        (lambda d: LRFinderHandler(d, method="best"), ValueError, r"method must be one of .*got 'best'"),
        (lambda d: LRFinderHandler(d, schedule=3), TypeError, r"schedule must be a callable"),
        (lambda d: LRFinderHandler(d, find_kwargs=[1]), TypeError, r"find_kwargs must be a dict, got list"),
        (lambda d: LRFinderHandler(5), TypeError, r"train_data must be iterable .* got int"),
        (lambda d: find_lr_with_estimator("est", d), TypeError, r"estimator must be an mxnet.gluon.contrib"),
    ],
)
def test_bad_arguments(digits, call, error, match):
    with pytest.raises(error, match=match):
        call(loader(digits))


def test_schedule_factory_must_return_a_scheduler(digits):
    est, _ = make_estimator(digits)
    params = capture_params(est.net)
    handler = LRFinderHandler(loader(digits), find_kwargs=FIND, schedule=lambda finder: 0.1)
    with pytest.raises(TypeError, match=r"schedule\(finder\) must return an mx.lr_scheduler.LRScheduler, got float"):
        handler.train_begin(est)
    assert_params_equal(params, capture_params(est.net))
    assert est.trainer.learning_rate == 1e-5


def test_ctrl_c_during_the_handlers_search_stops_fit_and_restores(digits):
    """Ctrl-C inside fit(): the search restores, keeps its curve on handler.finder and stops fit."""
    est, _ = make_estimator(digits)
    data = loader(digits)
    est.fit(data, batches=3)
    params, states = capture_params(est.net), trainer_state_bytes(est.trainer)
    inner, calls = est.loss, []

    def interrupted_loss(output, label):
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt
        return inner(output, label)

    est.loss = interrupted_loss
    handler = LRFinderHandler(data, find_kwargs=FIND)
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        est.fit(data, epochs=2, event_handlers=[handler])
    assert len(calls) == 12 and len(handler.finder.curve.pairs) == 11  # the curve is kept
    assert handler.suggested_lr is None and est.trainer.learning_rate == 1e-5  # nothing applied
    assert_params_equal(params, capture_params(est.net))
    assert trainer_state_bytes(est.trainer) == states


def test_the_search_trains_through_a_custom_batch_processor_and_restores(array_mode, digits):
    data = gluon.data.DataLoader(digits.train, batch_size=64)  # no shuffling: the search starts at batch 0
    est, _ = make_estimator(digits, batch_processor=ScaledLoss(3.0))
    est.fit(data, batches=3)  # some momentum to keep
    params, states = capture_params(est.net), trainer_state_bytes(est.trainer)
    x, y = next(iter(data))
    own_loss = float(est.loss(est.net(x), y).asnumpy().mean(dtype=np.float64))  # the estimator's loss
    calls = est.batch_processor.calls
    finder = find_lr_with_estimator(est, data, lr_start=1e-5, lr_end=1e-3, num_iter=10, progress=False)
    assert est.batch_processor.calls - calls == len(finder.curve.pairs) == 10  # one call per iteration
    # the first iteration's loss is the processor's: three times the estimator's own
    assert finder.curve.losses[0] == pytest.approx(3.0 * own_loss, rel=1e-5)
    assert_params_equal(params, capture_params(est.net))
    assert trainer_state_bytes(est.trainer) == states


def test_the_handler_searches_through_the_custom_batch_processor(digits):
    processor = ScaledLoss(2.0)
    est, _ = make_estimator(digits, batch_processor=processor)
    data = loader(digits)
    before, after = Spy(priority=999), Spy(priority=1001)  # around the handler (priority 1000)
    handler = LRFinderHandler(data, find_kwargs=FIND)
    est.fit(data, batches=5, event_handlers=[handler, before, after])
    searched = len(handler.finder.curve.pairs)
    # every search iteration (plus at most the one queued after a stop) and the 5 fit batches
    assert processor.calls - 5 in (searched, searched + 1)
    assert_params_equal(before.seen[0][1], after.seen[0][1])
