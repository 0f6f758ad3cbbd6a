"""A search leaves the script's randomness as it found it (issue 18): a seeded script trains bitwise
the same with and without a search before it, whatever kind of search, also after a fault."""
import random

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd, gluon

from gluon_lrfinder import Learner, LRFinder, LRFinderHandler

SEARCH = dict(lr_start=1e-4, lr_end=1.0, num_iter=15, progress=False)


class NoisyDigits(gluon.data.Dataset):
    """Digits with an augmentation that draws from Python's ``random`` (as GluonCV's transforms do)."""

    def __init__(self, task):
        self.task = task

    def __len__(self):
        return len(self.task.train)

    def __getitem__(self, i):
        x, y = self.task.train[i]
        return (np.asarray(x, dtype="float32") * (1 + 0.1 * random.random())).astype("float32"), y


def _seeded_setup(digits):
    random.seed(1)
    np.random.seed(1)
    mx.random.seed(1)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(10))  # no random operator
    net.initialize(mx.init.Xavier())
    loader = gluon.data.DataLoader(NoisyDigits(digits), batch_size=64, shuffle=True)  # NumPy's global RNG
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.05, "momentum": 0.9})
    return net, loader, trainer


def _train(net, loader, trainer, epochs=2):
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(epochs):
        for x, y in loader:
            with autograd.record():
                loss = loss_fn(net(x), y)
            loss.backward()
            trainer.step(x.shape[0])
    return [p.data().asnumpy() for p in net.collect_params().values()]  # in order (names count up)


def _search(kind, net, loader, trainer):
    learner = Learner(net, loader, trainer=trainer)
    finder = LRFinder(learner)
    if kind == "find":
        finder.find(**SEARCH)
    elif kind == "find_repeated":
        finder.find_repeated(repeats=2, **SEARCH)
    elif kind == "find_grid":
        finder.find_grid(weight_decay=[0, 1e-3], **SEARCH)
    elif kind == "fault":
        learner.loss_fn = lambda out, label: 1 / 0
        with pytest.raises(ZeroDivisionError):
            finder.find(**SEARCH)
    learner.close()


@pytest.mark.parametrize("kind", ["find", "find_repeated", "find_grid", "fault"])
def test_a_seeded_script_trains_bitwise_the_same_after_a_search(digits, kind):
    reference = _train(*_seeded_setup(digits))
    net, loader, trainer = _seeded_setup(digits)
    _search(kind, net, loader, trainer)
    after = _train(net, loader, trainer)
    assert len(reference) == len(after) == 4
    for k, value in enumerate(reference):
        assert np.array_equal(value.view(np.uint8), after[k].view(np.uint8)), k


def test_the_estimator_handler_leaves_the_global_rngs_alone(digits):
    from mxnet.gluon.contrib.estimator import Estimator

    net, loader, trainer = _seeded_setup(digits)
    est = Estimator(net, gluon.loss.SoftmaxCrossEntropyLoss(), trainer=trainer, context=mx.cpu())
    est.logger.setLevel("WARNING")
    numpy_state, python_state = np.random.get_state()[1].copy(), random.getstate()
    LRFinderHandler(loader, find_kwargs=SEARCH).run(est)
    assert np.array_equal(np.random.get_state()[1], numpy_state) and random.getstate() == python_state
