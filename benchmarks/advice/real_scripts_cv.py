"""The GluonCV real-script recipes of ``real_scripts.py``: ``train_cifar10.py`` and ``train_mixup_cifar10.py``
on digits drawn as 32x32x3 images."""
from __future__ import annotations

import math
import os
from typing import Any, Callable, List, Optional, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import autograd, gluon  # noqa: E402

from gluon_lrfinder import Learner  # noqa: E402

try:  # imported as benchmarks.advice.real_scripts_X, or next to real_script_check.py as a script's module
    from . import real_scripts as base
    from .recipe import LRAt, Recipe, Scores, Sweep
except ImportError:  # pragma: no cover - script use
    import real_scripts as base  # type: ignore[no-redef]
    from recipe import LRAt, Recipe, Scores, Sweep  # type: ignore[no-redef]


def digits_as_cifar(n_train: int = 1000, seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The stand-in for CIFAR-10: scikit-learn's digits as 32x32 colour images.

    Each 8x8 digit is upscaled (bilinear) to 32x32, drawn in a random foreground colour on a
    random darker background colour, with Gaussian noise (sd 8/255), as uint8 HWC images like
    the ones ``gluon.data.vision.CIFAR10`` yields.

    Parameters
    ----------
    n_train : int, default 1000
        Training images; the remaining 797 of the 1797 digits are the validation set.
    seed : int, default 0
        The split, the tints and the noise (fixed: the data is the same for every run).

    Returns
    -------
    tuple of np.ndarray
        ``(train_images, train_labels, valid_images, valid_labels)``; images uint8
        ``(n, 32, 32, 3)``, labels int32.
    """
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X))
    X, y = X[order].reshape(-1, 8, 8) / 16.0, y[order]
    big = np.clip(zoom(X, (1, 4, 4), order=1), 0.0, 1.0)  # (n, 32, 32)
    fg = rng.uniform(0.45, 1.0, size=(len(X), 1, 1, 3))
    bg = rng.uniform(0.0, 0.35, size=(len(X), 1, 1, 3))
    images = bg + (fg - bg) * big[..., None] + rng.normal(0, 8 / 255, size=big.shape + (3,))
    images = np.clip(np.round(images * 255), 0, 255).astype(np.uint8)
    y = y.astype(np.int32)
    return images[:n_train], y[:n_train], images[n_train:], y[n_train:]


class _Pairs(gluon.data.Dataset):
    """(uint8 HWC image NDArray, int label) pairs, as ``gluon.data.vision.CIFAR10`` gives them."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._images = mx.nd.array(images, dtype="uint8")
        self._labels = labels

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, idx: int) -> Tuple[mx.nd.NDArray, np.int32]:
        return self._images[idx], self._labels[idx]


class GluonCVCifar:
    """GluonCV's CIFAR-10 training script (``train_cifar10.py`` or ``train_mixup_cifar10.py``).

    Parameters
    ----------
    mixup : bool, default False
        ``train_mixup_cifar10.py``: mixup (alpha 1) off for the last ``mixup_off`` of training,
        one-hot mixed labels, ``SoftmaxCrossEntropyLoss(sparse_label=False)``.
    epochs : int, default 10
        Passes over the training set of one run at the recipe's budget.
    batch_size : int, default 128
        As the script's README commands (the script's argparse default is 32 per device).
    download : bool, default False
        Train and validate on the real CIFAR-10 (``gluon.data.vision.CIFAR10``, downloaded on first
        use) instead of the offline stand-in.
    mixup_off : float, default 0.1
        Fraction of the iterations at the end trained without mixup (the script: the last 20
        epochs, of 200 in its training commands).
    """

    def __init__(self, mixup: bool = False, epochs: int = 10, batch_size: int = 128, download: bool = False,
                 mixup_off: float = 0.1) -> None:
        self.mixup = mixup
        self.epochs = epochs
        self.batch_size = batch_size
        self.download = download
        self.mixup_off = mixup_off
        self.optimizer_params = {"momentum": 0.9, "wd": 1e-4}
        self._data: Optional[Tuple[gluon.data.Dataset, gluon.data.Dataset]] = None
        self._valid: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self._init: Optional[List[np.ndarray]] = None

    # ---------------------------------------------------------------- data
    @staticmethod
    def transforms() -> Tuple[Any, Any]:
        """The script's ``transform_train`` and ``transform_test``."""
        from gluoncv.data import transforms as gcv_transforms
        from mxnet.gluon.data.vision import transforms

        train = transforms.Compose([
            gcv_transforms.RandomCrop(32, pad=4),
            transforms.RandomFlipLeftRight(),
            transforms.ToTensor(),
            transforms.Normalize(list(base.CIFAR_MEAN), list(base.CIFAR_STD)),
        ])
        normalize = transforms.Normalize(list(base.CIFAR_MEAN), list(base.CIFAR_STD))
        test = transforms.Compose([transforms.ToTensor(), normalize])
        return train, test

    def datasets(self) -> Tuple[gluon.data.Dataset, gluon.data.Dataset]:
        """(train, validation) datasets of (uint8 HWC image, label) pairs."""
        if self._data is None:
            if self.download:
                self._data = (gluon.data.vision.CIFAR10(train=True), gluon.data.vision.CIFAR10(train=False))
            else:
                Xt, yt, Xv, yv = digits_as_cifar()
                self._data = (_Pairs(Xt, yt), _Pairs(Xv, yv))
        return self._data

    def iterations_per_epoch(self) -> int:
        """Batches of one pass (the script's ``last_batch='discard'``)."""
        return len(self.datasets()[0]) // self.batch_size

    @property
    def budget(self) -> int:
        """Iterations of a run at the recipe's budget."""
        return self.epochs * self.iterations_per_epoch()

    def train_loader(self) -> gluon.data.DataLoader:
        """The script's training loader (shuffled, last batch discarded; no worker processes)."""
        train, _ = self.transforms()
        return gluon.data.DataLoader(self.datasets()[0].transform_first(train), batch_size=self.batch_size,
                                     shuffle=True, last_batch="discard", num_workers=0)

    def _valid_arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        if self._valid is None:
            _, test = self.transforms()
            valid = self.datasets()[1]
            xs = [test(valid[i][0]).asnumpy() for i in range(len(valid))]
            self._valid = (np.stack(xs), np.asarray([valid[i][1] for i in range(len(valid))], dtype=np.float32))
        return self._valid

    # ---------------------------------------------------------------- model
    def fresh_net(self) -> gluon.HybridBlock:
        """``get_model("cifar_resnet20_v1")`` at the recipe's fixed initial weights, hybridized."""
        from gluoncv.model_zoo import get_model

        net = get_model("cifar_resnet20_v1", classes=10)
        if self._init is None:
            mx.random.seed(base.INIT_SEED)
            net.initialize(mx.init.Xavier(), ctx=mx.cpu())
            net(mx.nd.zeros((1, 3, 32, 32)))
            self._init = base._weights(net)
        else:
            net.initialize(mx.init.Xavier(), ctx=mx.cpu())
            net(mx.nd.zeros((1, 3, 32, 32)))
            base._load_weights(net, self._init)
        net.hybridize()
        return net

    def trainer(self, net: gluon.Block, lr: float) -> gluon.Trainer:
        """The script's trainer: NAG, momentum 0.9, wd 1e-4."""
        return gluon.Trainer(net.collect_params(), "nag", dict(self.optimizer_params, learning_rate=lr))

    def loss_fn(self) -> gluon.loss.Loss:
        """The script's loss (one-hot labels for mixup)."""
        return gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=not self.mixup)

    def mixup_fit_batch(self, net: gluon.Block, loss_fn: gluon.loss.Loss,
                        mixing: Callable[[], bool]) -> Callable[[Any], Tuple[list, list, list]]:
        """One batch as ``train_mixup_cifar10.py`` trains it, for ``Learner(fit_batch=...)``."""

        def fit_batch(batch: Any) -> Tuple[list, list, list]:
            X, Y = batch[0], batch[1]
            lam = float(np.random.beta(1.0, 1.0)) if mixing() else 1.0
            data = lam * X + (1 - lam) * X[::-1]
            y1 = mx.nd.one_hot(Y.astype("float32"), 10)
            label = lam * y1 + (1 - lam) * y1[::-1]
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            return [data], [label], [loss]

        return fit_batch

    # ---------------------------------------------------------------- the interface
    def sweep(self, seed: int) -> Sweep:
        """A range test from the fixed initial weights (the finder's own Learner; mixup through
        ``fit_batch``), recorded in full up to ``base.CIFAR_SWEEP['lr_end']``."""
        base.seed_everything(seed)
        net = self.fresh_net()
        loss_fn = self.loss_fn()
        fit_batch = self.mixup_fit_batch(net, loss_fn, lambda: True) if self.mixup else None
        with Learner(net, self.train_loader(), ctx=mx.cpu(), loss_fn=loss_fn,
                     trainer=self.trainer(net, 0.1), fit_batch=fit_batch) as learner:
            return base._finder_sweep(learner, base.CIFAR_SWEEP, "nag")

    def evaluate(self, net: gluon.Block) -> Scores:
        """Validation cross-entropy and accuracy (predict mode, as the script's ``test``)."""
        X, y = self._valid_arrays()
        total, correct = 0.0, 0
        loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
        for start in range(0, len(X), 256):
            out = net(mx.nd.array(X[start:start + 256]))
            label = mx.nd.array(y[start:start + 256])
            total += float(loss_fn(out, label).sum().asscalar())
            correct += int((out.argmax(axis=1) == label).sum().asscalar())
        loss = total / len(X)
        return {"loss": loss if math.isfinite(loss) else math.inf, "accuracy": correct / len(X)}

    def train(self, seed: int, lr_at: LRAt, iterations: int) -> Scores:
        """The script's training loop for ``iterations`` batches, the rate ``lr_at(i)`` set with
        ``trainer.set_learning_rate`` before batch ``i`` (as the script's step decay does)."""
        base.seed_everything(seed)
        net = self.fresh_net()
        loss_fn = self.loss_fn()
        trainer = self.trainer(net, lr_at(0))
        no_mix_from = int(round(iterations * (1 - self.mixup_off)))
        done = 0
        state = {"i": 0}
        fit_batch = self.mixup_fit_batch(net, loss_fn, lambda: state["i"] < no_mix_from)
        loader = self.train_loader()
        while done < iterations:
            for batch in loader:
                if done >= iterations:
                    break
                state["i"] = done
                trainer.set_learning_rate(lr_at(done))
                if self.mixup:
                    fit_batch(batch)
                else:
                    with autograd.record():
                        loss = loss_fn(net(batch[0]), batch[1])
                    loss.backward()
                trainer.step(self.batch_size)
                done += 1
        return self.evaluate(net)

    def recipe(self) -> Recipe:
        """This script as a :class:`~recipe.Recipe`."""
        script = "train_mixup_cifar10.py" if self.mixup else "train_cifar10.py"
        name = (f"GluonCV CIFAR-10 {'mixup ' if self.mixup else ''}script / cifar_resnet20_v1 / NAG 0.9, wd 1e-4 / "
                f"b{self.batch_size}")
        return Recipe(
            name=name, family="gluoncv cifar", optimizer="nag", budget=self.budget,
            sweep=self.sweep, train=self.train, default_lr=0.1,
            source=f"dmlc/gluon-cv scripts/classification/cifar/{script}",
            tags=("real-script", "batchnorm", "momentum", "resnet") + (("mixup",) if self.mixup else ()),
        )


def gluoncv_cifar(**kwargs: Any) -> Recipe:
    """GluonCV's ``train_cifar10.py`` recipe (see :class:`GluonCVCifar`)."""
    return GluonCVCifar(mixup=False, **kwargs).recipe()


def gluoncv_cifar_mixup(**kwargs: Any) -> Recipe:
    """GluonCV's ``train_mixup_cifar10.py`` recipe (see :class:`GluonCVCifar`)."""
    return GluonCVCifar(mixup=True, **kwargs).recipe()


# ====================================================================================== LM
