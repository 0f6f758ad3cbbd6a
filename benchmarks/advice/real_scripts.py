"""Recipes of the advice benchmark taken from real training scripts (issue 17).

Three :class:`~recipe.Recipe` objects, each modelled on a public script and trained the way that
script trains, on offline stand-in data of the same shapes that this module makes itself:

* ``gluoncv_cifar()``: GluonCV's ``scripts/classification/cifar/train_cifar10.py``:
  ``cifar_resnet20_v1`` from GluonCV's model zoo (Xavier init), GluonCV's ``RandomCrop(32, pad=4)``
  and Gluon's ``RandomFlipLeftRight`` / ``ToTensor`` / ``Normalize`` with the CIFAR-10 means and
  standard deviations, ``gluon.Trainer`` with NAG (momentum 0.9, wd 1e-4), batch 128,
  ``trainer.step(batch_size)``, default lr 0.1. Stand-in: scikit-learn's digits upscaled to
  32x32x3 uint8 (HWC, as ``gluon.data.vision.CIFAR10`` yields them) with a random tint and noise,
  1000 train / 797 validation images. ``download=True`` trains on the real CIFAR-10 instead.
* ``gluoncv_cifar_mixup()``: ``train_mixup_cifar10.py``: the same with mixup (lambda ~ Beta(1, 1),
  the batch mixed with its reverse, one-hot labels mixed alike), mixup switched off for the last
  10% of training (the script's last 20 of 200 epochs), ``SoftmaxCrossEntropyLoss(sparse_label=False)``.
  Its range test goes through the Learner's ``fit_batch``.
* ``gluonnlp_awd_lm()``: GluonNLP v0.10.x ``scripts/language_model/word_language_model.py``:
  ``gluonnlp.model.train.AWDRNN`` (3 LSTM layers, weight-dropped h2h, embedding and locked
  dropouts, tied decoder, the script's dropout rates) at small sizes (embedding 64, hidden 128),
  time-major BPTT batches from ``gluonnlp.data.batchify.CorpusBatchify``, the hidden state carried
  and detached across batches (reset each epoch), the script's random BPTT length with the
  learning rate scaled by ``seq_len / bptt``, its loss plus activation (alpha 2) and temporal
  activation (beta 1) regularisation, ``clip_global_norm`` 0.25, SGD (no momentum, wd 1.2e-6),
  default lr 30. Batch 20, BPTT 35 (the script's README commands for the smaller models) on a
  stand-in corpus of 40k tokens from a small random grammar. Its range test goes through the
  Learner's ``fit_batch``. Validation loss: log-perplexity on 4k held-out tokens.

Each recipe starts every sweep and every training run from one fixed set of initial weights; the
``seed`` sets the data order, the augmentation (Python's ``random``: GluonCV's crop; NumPy's:
shuffling and mixup; MXNet's: flips, dropout) and nothing else.

Needs the benchmark venv (``make bench-venv``: GluonCV and GluonNLP with their pins).
"""
from __future__ import annotations

import math
import os
import random
from typing import Any, Dict, List, Optional, Sequence

os.environ.setdefault("OMP_NUM_THREADS", "1")

import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from mxnet import gluon  # noqa: E402

from gluon_lrfinder import Learner, LRFinder  # noqa: E402

try:  # run as benchmarks/advice/real_scripts.py or imported as benchmarks.advice.real_scripts
    from .recipe import LRAt, Recipe, Scores, Sweep  # noqa: F401
except ImportError:  # pragma: no cover - script use
    from recipe import Sweep  # type: ignore[no-redef]

INIT_SEED = 1234
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)

#: The range tests of the CIFAR recipes (the finder's default multiplier 1.1: 122 iterations).
CIFAR_SWEEP = {"lr_start": 1e-4, "lr_end": 10.0}
#: The range tests of the language model (1.1 per iteration: 121 iterations).
LM_SWEEP = {"lr_start": 1e-2, "lr_end": 1e3}


def seed_everything(seed: int) -> None:
    """Seed the three generators the scripts draw from: Python's, NumPy's and MXNet's."""
    random.seed(seed)
    np.random.seed(seed)
    mx.random.seed(seed)


class OnlyNonFinite:
    """A stopping rule that stops only on a NaN/inf loss (as in ``benchmarks/regret_tasks.py``),
    so a sweep is recorded in full and any stopping rule can be replayed on it afterwards."""

    reason: Optional[str] = None
    smoothed_loss: Optional[float] = None

    def reset(self) -> None:
        """Forget the last sweep."""
        self.reason = None

    def settings(self) -> Dict[str, Any]:
        """What a curve records about this rule."""
        return {"stopping": "only on a non-finite loss (recorded in full)"}

    def __call__(self, loss: float) -> bool:
        if not math.isfinite(loss):
            self.reason = "non-finite loss"
            return True
        return False


def _finder_sweep(learner: Learner, settings: Dict[str, float], optimizer: str) -> Sweep:
    """One recorded-in-full range test; the curve as the interface wants it plus the LRCurve dict."""
    finder = LRFinder(learner)
    finder.find(progress=False, stopping=OnlyNonFinite(), **settings)
    curve = finder.curve
    return {
        "lrs": [float(x) for x in curve.lrs],
        "losses": [float(x) if math.isfinite(x) else None for x in curve.losses],
        "optimizer": optimizer,
        "settings": dict(curve.settings),
        "stop_reason": curve.stop_reason,
        "curve": curve.to_dict(),  # as LRCurve.save writes it (smoothed: NaN, no stopping rule ran)
    }


def _weights(net: gluon.Block) -> List[np.ndarray]:
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def _load_weights(net: gluon.Block, weights: Sequence[np.ndarray]) -> None:
    params = list(net.collect_params().values())
    if len(params) != len(weights):
        raise RuntimeError(f"{len(params)} parameters, {len(weights)} saved arrays")
    for param, value in zip(params, weights):
        param.set_data(mx.nd.array(value, dtype=param.dtype))
