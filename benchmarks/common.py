"""What the benchmark scripts share: environment, paths, caches, reports, rules, weights, training.

Import it first (``from benchmarks import common``); a script run by file
(``python benchmarks/x.py``) needs two lines before that import, which put the repository root
on ``sys.path``::

    import os, sys  # noqa: E401
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

Importing this module sets ``OMP_NUM_THREADS=1`` and ``MPLBACKEND=Agg`` (unless already set)
before MXNet or matplotlib load. Nothing here imports MXNet or the package at module level: the
cache-only scorers run without MXNet.
"""
from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

#: The ``benchmarks/`` folder, the repository root, and the folders of the caches and reports.
BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
DATA = os.path.join(BENCH, "data")
RESULTS = os.path.join(BENCH, "results")
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

#: The package's default rule (``gluon_lrfinder.core.rules.DEFAULT_METHOD``; the package is imported
#: only when a rule is applied, so that ``advice/real_script_check.py --package`` can pick another copy).
DEFAULT_METHOD = "default"


def data_path(name: str) -> str:
    """``benchmarks/data/<name>``: a JSON cache."""
    return os.path.join(DATA, name)


def results_path(name: str) -> str:
    """``benchmarks/results/<name>``: a published report."""
    return os.path.join(RESULTS, name)


# ------------------------------------------------------------------------------- caches, reports
def load_json(path: str) -> Dict[str, Any]:
    """The cache at ``path``, or ``{}`` when there is none yet."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    return {}


def save_json(path: str, data: Dict[str, Any], indent: int = 1, sort_keys: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file, so a killed run never leaves half a cache."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent, sort_keys=sort_keys)
    os.replace(tmp, path)


def publish(path: str, text: str) -> None:
    """Print a benchmark's report and write it to ``path`` (its folder made if needed)."""
    print(text)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def command(script: str, *args: str) -> str:
    """The command line a report names: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/<script> ...``."""
    return " ".join(["OMP_NUM_THREADS=1 .venv/bin/python", f"benchmarks/{script}", *args])


# ------------------------------------------------------------------------------- rules on two arrays
#: Every registered rule, in the order the reports list them (the order of the rule tables
#: before the registry: the optimizer-reading rules first, then the array rules and baselines).
RULE_NAMES: Tuple[str, ...] = ("range", "blend_in_range", "blend", "steepest", "valley", "minimum",
                               "raw_steepest", "ema_steepest")


def _method(method: str) -> str:
    from gluon_lrfinder.core.rules import DEFAULT_METHOD as package_default

    return package_default if method == DEFAULT_METHOD else method


def _settings(optimizer: Optional[str]) -> Dict[str, Any]:
    return {} if optimizer is None else {"optimizer": optimizer}


def suggest_lr(lrs: Sequence[float], losses: Sequence[float], method: str = DEFAULT_METHOD,
               optimizer: Optional[str] = None, bandwidth: Optional[float] = None) -> float:
    """``LRCurve.suggest(method)`` of two arrays, the sweep's optimizer (class name) told, no warnings.

    A ``ValueError`` when the curve has too few finite points, as ``suggest()`` raises it.
    """
    from gluon_lrfinder.core.curve import LRCurve

    curve = LRCurve(lrs=lrs, losses=losses, settings=_settings(optimizer))
    return float(curve.suggest(method=_method(method), bandwidth=bandwidth, warn=False))


def report_lr(lrs: Sequence[float], losses: Sequence[float], method: str = DEFAULT_METHOD,
              optimizer: Optional[str] = None) -> Any:
    """``LRCurve.report(method)`` (a ``SuggestionReport``) of two arrays, the sweep's optimizer told."""
    from gluon_lrfinder.core.curve import LRCurve

    return LRCurve(lrs=lrs, losses=losses, settings=_settings(optimizer)).report(method=_method(method))


def rule_lr(name: str, lrs: Sequence[float], losses: Sequence[float], optimizer: Optional[str] = None) -> float:
    """The registered rule ``name`` on two arrays (``get_rule(name)(CurvePoints(...))``), no flags read."""
    from gluon_lrfinder.core.registry import CurvePoints
    from gluon_lrfinder.core.rules import get_rule

    return get_rule(_method(name))(CurvePoints(lrs, losses, _settings(optimizer)))


def array_rule(name: str) -> Callable[[Sequence[float], Sequence[float]], float]:
    """``rule(lrs, losses) -> lr``: the registered rule ``name``, told no optimizer."""
    def rule(lrs: Sequence[float], losses: Sequence[float]) -> float:
        return rule_lr(name, lrs, losses)

    rule.__name__ = name
    return rule


# ------------------------------------------------------------------------------- MXNet: weights, training
def initial_weights(make_net: Callable[[], Any], sample: Any, seed: int, seed_numpy: bool = False) -> List[Any]:
    """The fixed initial weights every run of a task starts from: the parameters of ``make_net()``
    after Xavier initialisation under ``mx.random.seed(seed)`` (and ``np.random.seed(seed)``
    with ``seed_numpy``) and one forward pass of ``sample`` (an NDArray), as NumPy copies."""
    import mxnet as mx
    import numpy as np

    mx.random.seed(seed)
    if seed_numpy:
        np.random.seed(seed)
    net = make_net()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(sample)
    return [p.data().asnumpy().copy() for p in net.collect_params().values()]


def net_with(make_net: Callable[[], Any], sample: Any, init: Sequence[Any]) -> Any:
    """A fresh ``make_net()`` holding the weights ``init`` (from :func:`initial_weights`)."""
    import mxnet as mx

    net = make_net()
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net(sample)
    for param, value in zip(net.collect_params().values(), init):
        param.set_data(mx.nd.array(value))
    return net


def train_steps(net: Any, loss_fn: Any, trainer: Any, X: Any, y: Any, batch_size: int, seed: int,
                iterations: int, lr_at: Optional[Callable[[int], float]] = None, check_every: int = 50,
                at_half: Optional[Callable[[Any], float]] = None) -> Tuple[bool, Optional[float]]:
    """The benchmarks' training loop: ``iterations`` steps over the NumPy arrays ``X, y`` in the
    data order of ``seed`` (reshuffled each pass), at ``lr_at(i)`` when given (else the trainer's rate).

    Returns ``(finished, half)``: ``finished`` is False when a training loss, checked every
    ``check_every`` iterations, was not finite (the run stops there); ``half`` is ``at_half(net)``
    after ``iterations // 2`` steps, or None when that was not reached or not asked for.
    """
    import mxnet as mx
    import numpy as np
    from mxnet import autograd

    rng = np.random.RandomState(seed)
    n, bs = len(X), batch_size
    order, pos = rng.permutation(n), 0
    lr, half = trainer.learning_rate, None
    for it in range(iterations):
        if pos + bs > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + bs]
        pos += bs
        xb, yb = mx.nd.array(X[idx]), mx.nd.array(y[idx])
        step_lr = lr if lr_at is None else float(lr_at(it))
        if step_lr != lr:
            trainer.set_learning_rate(step_lr)
            lr = step_lr
        with autograd.record():
            loss = loss_fn(net(xb), yb)
        loss.backward()
        trainer.step(bs)
        if it % check_every == check_every - 1 and not math.isfinite(float(loss.mean().asscalar())):
            return False, half
        if at_half is not None and it + 1 == iterations // 2:
            half = at_half(net)
    return True, half


def valid_loss(net: Any, loss_fn: Any, X: Any, y: Any) -> float:
    """Mean loss over the whole held-out set (NumPy arrays or NDArrays), predict mode, no gradient;
    ``inf`` when not finite."""
    import mxnet as mx
    from mxnet import autograd

    with autograd.predict_mode():
        loss = float(loss_fn(net(mx.nd.array(X)), mx.nd.array(y)).mean().asscalar())
    return loss if math.isfinite(loss) else math.inf


def stack(dataset: Any) -> Tuple[Any, Any]:
    """A Gluon dataset's samples and labels as two float32 NumPy arrays."""
    import numpy as np

    return (np.stack([dataset[i][0] for i in range(len(dataset))]).astype(np.float32),
            np.stack([dataset[i][1] for i in range(len(dataset))]).astype(np.float32))


# ------------------------------------------------------------------------------- MXNet: through a Learner
def task_weights(spec: Dict[str, Any], task: Any, seed: int) -> List[Any]:
    """:func:`initial_weights` of the demo net ``spec["net"]`` for a demo ``task`` (``gluon_lrfinder.demo``)."""
    import mxnet as mx

    from gluon_lrfinder.demo import build_net

    return initial_weights(lambda: build_net(spec["net"], task.num_outputs), mx.nd.zeros((2,) + task.input_shape),
                           seed)


def make_learner(spec: Dict[str, Any], task: Any, init: Sequence[Any], seed: int, lr: float = 1e-3) -> Any:
    """A ``Learner`` over a fresh demo net holding ``init``, with the data order given by ``seed``."""
    import mxnet as mx

    from gluon_lrfinder import Learner
    from gluon_lrfinder.demo import build_net, loss_for
    from gluon_lrfinder.engine.sampler import make_loader

    net = net_with(lambda: build_net(spec["net"], task.num_outputs), mx.nd.zeros((2,) + task.input_shape), init)
    loader = make_loader(task.train, spec["batch_size"], seed=seed)
    return Learner(net, loader, ctx=mx.cpu(), loss_fn=loss_for(task), optimizer=spec["optimizer"],
                   optimizer_params=dict(spec["params"], learning_rate=lr))


def learner_steps(learner: Any, iterations: int, lr_at: Optional[Callable[[int], float]] = None,
                  check_every: int = 25) -> bool:
    """:func:`train_steps` for a ``Learner`` (its loader's data order): ``iterations`` of
    ``learner.queue_iteration(lr=lr_at(n))`` (``n`` from 1; the trainer's rate when ``lr_at`` is
    None). False when a training loss, checked every ``check_every`` iterations, was not finite."""
    for n in range(1, iterations + 1):
        loss = learner.queue_iteration() if lr_at is None else learner.queue_iteration(lr=lr_at(n))
        if n % check_every == 0 and not math.isfinite(float(loss.asscalar())):
            return False
    return True


def validation_loss(learner: Any, dataset: Any) -> float:
    """Mean loss over the whole validation ``dataset`` for a ``Learner``, predict mode, no gradient."""
    import mxnet as mx
    import numpy as np
    from mxnet import autograd

    X = mx.nd.array(np.stack([dataset[i][0] for i in range(len(dataset))]))
    y = mx.nd.array(np.stack([dataset[i][1] for i in range(len(dataset))]))
    with autograd.predict_mode():
        loss = float(learner.loss_fn(learner.net(X), y).mean().asscalar())
    return loss if math.isfinite(loss) else math.inf
