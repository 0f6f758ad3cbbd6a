"""The MXNet "Learning Rate Finder" tutorial's client code runs unchanged against the package.

The tutorial defines ``Learner``, ``ContinuousBatchSampler`` and ``LRFinder`` in the notebook and
then calls them as below; only the data differ (scikit-learn's digits, offline, instead of
CIFAR-10) and the network is smaller. Nothing is initialised or configured beforehand: the
Learner does that, as the tutorial's did.
"""
import mxnet as mx
import numpy as np
from sklearn.datasets import load_digits

from gluon_lrfinder import ContinuousBatchSampler, Learner, LRFinder


def test_the_tutorials_client_code_runs_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written to the working directory
    X, y = load_digits(return_X_y=True)
    dataset = mx.gluon.data.ArrayDataset(X.reshape(-1, 1, 8, 8).astype("float32") / 16, y.astype("float32"))
    ctx = mx.cpu()
    net = mx.gluon.nn.HybridSequential()
    net.add(mx.gluon.nn.Conv2D(8, 3, activation="relu"), mx.gluon.nn.Flatten(), mx.gluon.nn.Dense(10))
    mx.random.seed(0)
    np.random.seed(0)

    # --- the tutorial's client code, as written there ---
    batch_size = 128
    sampler = mx.gluon.data.RandomSampler(len(dataset))
    batch_sampler = ContinuousBatchSampler(sampler, batch_size=batch_size)
    data_loader = mx.gluon.data.DataLoader(dataset, batch_sampler=batch_sampler)

    learner = Learner(net=net, data_loader=data_loader, ctx=ctx)
    lr_finder = LRFinder(learner)
    lr_finder.find(lr_start=1e-6)
    lr_finder.plot()
    # --- end of the tutorial's code ---

    curve = lr_finder.curve
    assert curve.lrs[0] == 1e-6 and len(curve) > 20
    assert all(b > a for a, b in zip(curve.lrs, curve.lrs[1:]))  # the rate rose every iteration
    assert 1e-6 < lr_finder.suggest(warn=False) < curve.lrs[-1]
    assert list(tmp_path.iterdir()) == []
    learner.close()
