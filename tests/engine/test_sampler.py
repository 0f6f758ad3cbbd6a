import itertools

import numpy as np
import pytest
from mxnet import gluon

from gluon_lrfinder import ContinuousBatchSampler


def test_batches_carry_over_epoch_boundaries():
    batches = list(itertools.islice(ContinuousBatchSampler(gluon.data.SequentialSampler(10), 4), 5))
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5], [6, 7, 8, 9]]


def test_random_sampler_covers_every_index_each_epoch_and_reshuffles():
    np.random.seed(0)
    sampler = ContinuousBatchSampler(gluon.data.RandomSampler(12), 4)
    flat = list(itertools.chain.from_iterable(itertools.islice(sampler, 9)))  # 3 epochs
    epochs = [flat[i * 12:(i + 1) * 12] for i in range(3)]
    assert all(sorted(e) == list(range(12)) for e in epochs)
    assert epochs[0] != epochs[1] or epochs[1] != epochs[2]


def test_batch_larger_than_dataset():
    batches = list(itertools.islice(ContinuousBatchSampler([0, 1, 2], 5), 2))
    assert batches == [[0, 1, 2, 0, 1], [2, 0, 1, 2, 0]]


def test_with_dataloader_and_worker_processes(digits):
    sampler = ContinuousBatchSampler(gluon.data.RandomSampler(len(digits.train)), 500)
    loader = gluon.data.DataLoader(digits.train, batch_sampler=sampler, num_workers=2)
    it = iter(loader)
    shapes = [next(it)[0].shape for _ in range(4)]  # 2000 samples > one epoch of 1348
    assert shapes == [(500, 64)] * 4
    del it


@pytest.mark.parametrize("bad, exc, match", [
    (0, ValueError, r"batch_size must be an integer >= 1, got 0"),
    (-3, ValueError, r"batch_size must be an integer >= 1, got -3"),
    (2.0, TypeError, r"batch_size must be an integer >= 1, got 2\.0"),
])
def test_bad_batch_size(bad, exc, match):
    with pytest.raises(exc, match=match):
        ContinuousBatchSampler(gluon.data.SequentialSampler(4), bad)


def test_empty_data_set():
    with pytest.raises(ValueError, match=r"sampler is empty \(length 0\)"):
        ContinuousBatchSampler(gluon.data.RandomSampler(0), 4)

    class Empty:  # an iterable without a length that yields nothing
        def __iter__(self):
            return iter(())

    with pytest.raises(ValueError, match="sampler yielded no indices"):
        next(iter(ContinuousBatchSampler(Empty(), 4)))


def test_not_a_sampler():
    with pytest.raises(TypeError, match="sampler must be a gluon.data.Sampler or an iterable"):
        ContinuousBatchSampler(42, 4)


def test_has_no_length():
    with pytest.raises(TypeError, match="endless"):
        len(ContinuousBatchSampler([0, 1], 1))
