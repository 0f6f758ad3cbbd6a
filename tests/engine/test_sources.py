"""Learner and LRFinder on mx.io.DataIter sources (NDArrayIter, ImageRecordIter, CSVIter, ...)."""
from __future__ import annotations

import mxnet as mx
import numpy as np
import pytest
from conftest import capture_params, mode_array, trainer_state_bytes
from mxnet import gluon
from mxnet.util import is_np_array

from gluon_lrfinder import Learner, LRFinder
from gluon_lrfinder.engine.sources import split_data_batch


def _mlp(seed=0, outputs=10):
    mx.random.seed(seed)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(outputs))
    return net


def _digits_arrays(n=None):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    n = len(X) if n is None else n
    return (X[:n] / 16).astype("float32"), y[:n].astype("float32")


def _search_restores(learner, **find_kwargs):
    """Run a search; assert params and trainer state came back bitwise; return the finder."""
    learner.prepare()  # resolve deferred shapes so the state can be read
    params, states = capture_params(learner.net), trainer_state_bytes(learner.trainer)
    finder = LRFinder(learner)
    finder.find(progress=False, **find_kwargs)
    after = capture_params(learner.net)
    for name in params:
        for a, b in zip(params[name], after[name]):
            assert np.array_equal(a, b), name
    assert trainer_state_bytes(learner.trainer) == states
    return finder


def test_ndarrayiter_without_batch_fn_spans_many_passes(array_mode):
    X, y = _digits_arrays(200)
    it = mx.io.NDArrayIter(X, y, batch_size=64, shuffle=True)  # 4 batches per pass, the last padded
    with Learner(_mlp(), it, optimizer_params={"learning_rate": 0.01, "momentum": 0.9}) as learner:
        learner.iteration()  # some momentum to restore
        finder = _search_restores(learner, lr_start=1e-4, lr_end=10, num_iter=40)
    assert len(finder.curve) > 12  # more than 3 passes over the iterator: it was reset each time
    assert finder.curve.losses[0] > min(finder.curve.losses[:30])  # it learned
    assert 1e-4 <= finder.suggest(warn=False) <= 10


def test_padded_samples_of_the_last_batch_are_not_trained_on():
    X, y = _digits_arrays(10)
    it = mx.io.NDArrayIter(X, y, batch_size=4, last_batch_handle="pad")  # batches of 4, 4, 2 (+2 pad)
    net = _mlp()
    with Learner(net, it) as learner:
        sizes, losses = [], []
        for _ in range(4):  # the 4th batch comes from the next pass, after a reset
            queued = learner.queue_iteration(take_step=False)
            sizes.append(queued.size)
            losses.append(queued.asscalar())
        expected = gluon.loss.SoftmaxCrossEntropyLoss()(net(mode_array(X[8:10])), mode_array(y[8:10]))
    assert sizes == [4, 4, 2, 4]
    assert losses[2] == pytest.approx(float(expected.asnumpy().astype(np.float64).mean()), rel=1e-6)
    assert losses[3] == pytest.approx(losses[0], rel=1e-6)  # a new pass starts from sample 0


def test_padding_is_dropped_on_every_context():
    batch = mx.io.DataBatch([mx.nd.arange(10).reshape((5, 2))], [mx.nd.arange(5)], pad=2)
    data, label = split_data_batch(batch, [mx.cpu(0), mx.cpu(1)])
    assert [d.shape[0] for d in data] == [2, 1]
    assert np.concatenate([y.asnumpy() for y in label]).tolist() == [0, 1, 2]


class TwoInputs(gluon.nn.HybridBlock):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = gluon.nn.Dense(16, activation="relu")
        self.b = gluon.nn.Dense(16, activation="relu")
        self.out_a = gluon.nn.Dense(10)
        self.out_b = gluon.nn.Dense(10)

    def hybrid_forward(self, F, x1, x2):  # no F.concat: the same code runs in both array modes
        return self.out_a(self.a(x1)) + self.out_b(self.b(x2))


def test_several_data_arrays_become_the_net_inputs_in_order():
    X, y = _digits_arrays(256)
    it = mx.io.NDArrayIter({"left": X[:, :32], "right": X[:, 32:]}, y, batch_size=32)
    mx.random.seed(0)
    with Learner(TwoInputs(), it) as learner:
        finder = _search_restores(learner, lr_start=1e-4, lr_end=10, num_iter=30)
        batch = mx.io.DataBatch([mx.nd.ones((3, 32)), mx.nd.zeros((3, 32))], [mx.nd.zeros(3)])
        data, _ = split_data_batch(batch, learner.ctx)
    assert isinstance(data[0], tuple) and data[0][0].asnumpy().min() == 1 and data[0][1].asnumpy().max() == 0
    assert np.isfinite(finder.curve.losses[:10]).all()


def test_image_record_iter_over_a_packed_rec(array_mode, digits_rec):
    rec, idx, images, labels = digits_rec
    it = mx.io.ImageRecordIter(path_imgrec=rec, path_imgidx=idx, data_shape=(1, 8, 8), batch_size=64,
                               shuffle=False, preprocess_threads=1, scale=1 / 240)
    first = next(iter(it))
    np.testing.assert_allclose(first.data[0].asnumpy()[:, 0], images[:64] / 240, rtol=1e-6)  # decoded as packed
    assert np.array_equal(first.label[0].asnumpy(), labels[:64])
    it.reset()
    net = gluon.nn.HybridSequential()
    mx.random.seed(0)
    net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.Dense(10))
    with Learner(net, it) as learner:
        finder = _search_restores(learner, lr_start=1e-4, lr_end=1, num_iter=24)  # 8 batches per pass
    assert len(finder.curve) == 24
    assert min(finder.curve.losses) < finder.curve.losses[0]


def test_prefetching_and_csv_iterators(tmp_path):
    X, y = _digits_arrays(128)
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    np.savetxt(tmp_path / "y.csv", y, delimiter=",")
    csv = mx.io.CSVIter(data_csv=str(tmp_path / "x.csv"), data_shape=(64,), label_csv=str(tmp_path / "y.csv"),
                        label_shape=(1,), batch_size=32)
    prefetch = mx.io.PrefetchingIter(mx.io.NDArrayIter(X, y, batch_size=32))
    for source in (csv, prefetch):
        with Learner(_mlp(), source) as learner:
            finder = _search_restores(learner, lr_start=1e-3, lr_end=1, num_iter=12)  # 3 passes
        assert len(finder.curve) == 12 and np.isfinite(finder.curve.losses).all()


def test_a_user_subclass_of_dataiter():
    X, y = _digits_arrays(96)

    class Halves(mx.io.DataIter):
        """Yields the data in two fixed batches per pass."""

        def __init__(self):
            super().__init__(48)
            self.cursor = 0

        def reset(self):
            self.cursor = 0

        def next(self):
            if self.cursor >= 96:
                raise StopIteration
            s = slice(self.cursor, self.cursor + 48)
            self.cursor += 48
            return mx.io.DataBatch([mx.nd.array(X[s])], [mx.nd.array(y[s])], pad=0)

    with Learner(_mlp(), Halves()) as learner:
        finder = _search_restores(learner, lr_start=1e-3, lr_end=1, num_iter=9)
    assert len(finder.curve) == 9


def test_a_dataiter_without_labels_is_refused():
    it = mx.io.NDArrayIter(np.zeros((8, 4), dtype="float32"), None, batch_size=4)
    with Learner(gluon.nn.Dense(3), it) as learner:
        with pytest.raises(ValueError, match=r"DataBatch must hold a label"):
            learner.iteration()


def test_dataiter_as_validation_data():
    X, y = _digits_arrays(256)
    train = mx.io.NDArrayIter(X[:192], y[:192], batch_size=32, shuffle=True)
    valid = mx.io.NDArrayIter(X[192:], y[192:], batch_size=20)  # 64 samples: 20, 20, 20, 4 (+16 pad)
    with Learner(_mlp(), train) as learner:
        finder = LRFinder(learner)
        finder.find(lr_start=1e-4, lr_end=1, num_iter=20, valid_data=valid, valid_every=5, progress=False)
        from gluon_lrfinder.engine.validation import ValidationSignal

        signal = ValidationSignal(learner, valid)
        assert signal.num_samples == 64
        expected = gluon.loss.SoftmaxCrossEntropyLoss()(learner.net(mode_array(X[192:])), mode_array(y[192:]))
        assert signal.evaluate() == pytest.approx(float(expected.asnumpy().mean()), rel=1e-5)
    assert len(finder.curve.valid_losses) == 4


class SparseLinear(gluon.HybridBlock):
    """A linear model on CSR input (what LibSVMIter yields)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = self.params.get("w", shape=(64, 10))
        self.b = self.params.get("b", shape=(10,), init="zeros")

    def hybrid_forward(self, F, x, w, b):
        return F.broadcast_add(F.sparse.dot(x, w), b)


def test_libsvm_iter_with_sparse_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
    X, y = _digits_arrays(200)  # 200 = 3 batches of 64 + 8 samples (+56 padding)
    path = tmp_path / "digits.libsvm"
    path.write_text("".join(f"{int(label)} " + " ".join(f"{j}:{v:.4f}" for j, v in enumerate(row) if v) + "\n"
                            for row, label in zip(X, y)))
    it = mx.io.LibSVMIter(data_libsvm=str(path), data_shape=(64,), batch_size=64)
    mx.random.seed(0)
    if is_np_array():  # --np-mode: MXNet's mx.np has no sparse arrays
        with Learner(SparseLinear(), it) as learner, pytest.raises(TypeError, match=r"csr \(sparse\) batch.*"
                                                                                      r"cannot be used in NumPy mode"):
            learner.iteration()
        return
    with Learner(SparseLinear(), it) as learner:
        sizes = [learner.queue_iteration(take_step=False).size for _ in range(5)]
        finder = _search_restores(learner, lr_start=1e-3, lr_end=1, num_iter=12)
    assert sizes == [64, 64, 64, 8, 64]  # the padded 4th batch trains on its 8 real samples
    assert len(finder.curve) == 12 and np.isfinite(finder.curve.losses).all()


def test_dataiter_over_two_contexts_restores_every_copy():
    X, y = _digits_arrays(300)
    it = mx.io.NDArrayIter(X, y, batch_size=64, shuffle=True)  # last batch: 44 real samples, split 22/22
    ctx = [mx.cpu(0), mx.cpu(1)]
    net = gluon.nn.HybridSequential()
    mx.random.seed(0)
    net.add(gluon.nn.Dense(32, activation="relu"), gluon.nn.BatchNorm(), gluon.nn.Dense(10))
    with Learner(net, it, ctx=ctx, optimizer_params={"learning_rate": 0.05, "momentum": 0.9}) as learner:
        for _ in range(3):
            learner.iteration()  # per-device BatchNorm statistics and momentum to restore
        finder = _search_restores(learner, lr_start=1e-4, lr_end=10, num_iter=30)
    assert len(finder.curve) > 5


def test_close_restarts_a_dataiter_at_its_next_read():
    X, y = _digits_arrays(96)
    it = mx.io.NDArrayIter(X, y, batch_size=32)
    with Learner(_mlp(), it) as learner:
        first = [learner.queue_iteration(take_step=False).asscalar() for _ in range(2)]
        learner.close()  # as find_repeated does between runs
        again = learner.queue_iteration(take_step=False).asscalar()
    assert again == first[0] != first[1]


def test_a_dataiter_with_a_batch_fn_is_reset_too():
    X, y = _digits_arrays(64)
    it = mx.io.NDArrayIter(X, y, batch_size=32)  # 2 batches per pass

    def batch_fn(batch, ctx):  # the pre-DataIter-support workaround: read batch.data[0] by hand
        return [batch.data[0].as_in_context(ctx[0])], [batch.label[0].as_in_context(ctx[0])]

    with Learner(_mlp(), it, batch_fn=batch_fn) as learner:
        finder = _search_restores(learner, lr_start=1e-3, lr_end=1, num_iter=7)
    assert len(finder.curve) == 7
