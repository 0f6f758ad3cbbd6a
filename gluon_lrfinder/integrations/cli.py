"""The ``gluon-lrfinder`` command: run the range test from the shell and report.

``gluon-lrfinder`` (or ``python -m gluon_lrfinder``) trains a network on a data set, prints the
suggested learning rate and range, and writes the plot, the curve (CSV and JSON) and a
``summary.json`` to an output folder. The network is a bundled one (``--net mlp``), the user's
own exported model (``--model net-symbol.json --params net-0000.params``) or a factory function
(``--net package.module:function``); the data is a bundled scikit-learn set (``--dataset``), a
NumPy archive (``--npz data.npz`` with arrays ``X`` and ``y``) or a RecordIO image file
(``--rec train.rec --data-shape 3,224,224``). ``gluon-lrfinder launch ...`` starts a local
distributed run (see :mod:`gluon_lrfinder.distributed`).

Every user error (a bad option, a missing file, data that does not fit the model) ends the
command with one line on stderr and exit status 2; ``--traceback`` shows the whole traceback.
See ``docs/cli.md``.

Examples
--------
>>> from gluon_lrfinder.cli import main
>>> main(["--lr-start", "-1"])  # doctest: +SKIP
gluon-lrfinder: error: argument --lr-start: --lr-start must be a finite number > 0, got -1.0
2
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import math
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

from ..core._validate import check_greater, check_int, check_nonnegative, check_positive, check_unit_interval

__all__ = ["main", "build_parser", "parse_ctx", "CLIError", "LOSSES", "optimizer_names"]

PROG = "gluon-lrfinder"

#: ``--loss`` choices: name -> (gluon loss class name, description).
LOSSES: Dict[str, Tuple[str, str]] = {
    "softmax-ce": ("SoftmaxCrossEntropyLoss", "softmax cross-entropy; y holds class indices"),
    "l2": ("L2Loss", "squared error (regression); y has the output's shape"),
    "sigmoid-bce": ("SigmoidBinaryCrossEntropyLoss", "sigmoid binary cross-entropy on logits; y in {0, 1}"),
}


class CLIError(Exception):
    """A user error: ``main`` prints ``gluon-lrfinder: error: <message>`` and returns 2."""


# ---------------------------------------------------------------------- option types
def _number_type(check: Callable[..., Any], name: str, *bounds: Any, kind: Callable[[str], Any] = float):
    """An argparse ``type``: parse ``kind`` from the text, then apply a ``_validate`` check."""

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"{name} must be {what}, got {text!r}") from None
        try:
            return check(name, value, *bounds)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def _number_list(check: Callable[..., Any], name: str, *bounds: Any):
    """An argparse ``type``: one number or several separated by commas, each checked."""
    single = _number_type(check, name, *bounds)

    def convert(text: str) -> Tuple[float, ...]:
        return tuple(single(part.strip()) for part in text.split(","))

    return convert


def _shape(text: str) -> Tuple[int, ...]:
    """``"3,224,224"`` -> ``(3, 224, 224)``."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape):
        raise argparse.ArgumentTypeError(
            f"--data-shape must be positive integers separated by commas (e.g. 3,224,224), got {text!r}"
        )
    return shape


def _floats(name: str):
    def convert(text: str) -> Tuple[float, ...]:
        try:
            values = tuple(float(part) for part in text.split(","))
        except ValueError:
            values = ()
        if len(values) not in (1, 3) or not all(math.isfinite(v) for v in values):
            raise argparse.ArgumentTypeError(f"{name} must be 1 or 3 numbers separated by commas, got {text!r}")
        return values

    return convert


def parse_ctx(text: str, check_devices: bool = True):
    """``"cpu"``, ``"gpu:0"``, ``"cpu:0,cpu:1"`` or ``"gpu:0,gpu:1"`` -> a Context or a list.

    With ``check_devices`` a GPU that this MXNet build cannot see (a CPU-only build, or an index
    past ``mx.context.num_gpus()``) is refused here rather than deep inside the first forward.

    Examples
    --------
    >>> parse_ctx("cpu:0,cpu:1")
    [cpu(0), cpu(1)]
    >>> parse_ctx("gpu:1", check_devices=False)
    gpu(1)
    """
    import mxnet as mx

    out = []
    for part in text.split(","):
        kind, _, index = part.strip().partition(":")
        if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
            raise argparse.ArgumentTypeError(
                f"--ctx must look like 'cpu', 'gpu:0' or 'cpu:0,cpu:1', got {text!r}"
            )
        out.append(getattr(mx, kind)(int(index) if index else 0))
    gpus = [c.device_id for c in out if c.device_type == "gpu"]
    if check_devices and gpus:
        available = mx.context.num_gpus()
        if available == 0:
            raise argparse.ArgumentTypeError(
                f"--ctx {text}: this MXNet build sees no GPU (CPU-only, or no CUDA device); use --ctx cpu"
            )
        if max(gpus) >= available:
            raise argparse.ArgumentTypeError(
                f"--ctx {text}: gpu:{max(gpus)} does not exist, this machine has {available} GPU(s) "
                f"(gpu:0 .. gpu:{available - 1})"
            )
    return out[0] if len(out) == 1 else out


def optimizer_names() -> List[str]:
    """The optimizer names MXNet accepts (``mx.optimizer.Optimizer.opt_registry``).

    Examples
    --------
    >>> "adam" in optimizer_names()
    True
    """
    import mxnet as mx

    return sorted(name for name in mx.optimizer.Optimizer.opt_registry if name != "test")


def _optimizer_options(name: str) -> List[str]:
    """The keyword options optimizer ``name`` takes (its own and the base class's)."""
    import mxnet as mx

    cls = mx.optimizer.Optimizer.opt_registry[name]
    options = set()
    for klass in (cls, mx.optimizer.Optimizer):
        for pname, param in inspect.signature(klass.__init__).parameters.items():
            if pname != "self" and param.kind not in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                options.add(pname)
    return sorted(options - {"param_idx2name", "param_dict", "sym", "begin_num_update"})


def _optimizer_params(args: argparse.Namespace) -> Dict[str, float]:
    """Check ``--optimizer`` and the options given for it; the ``optimizer_params`` dict."""
    names = optimizer_names()
    name = args.optimizer.lower()
    if name not in names:
        raise CLIError(f"--optimizer must be one of {', '.join(names)}; got {args.optimizer!r}")
    params = {"learning_rate": args.lr_start}
    given = {"momentum": args.momentum, "wd": args.wd}
    accepted = _optimizer_options(name)
    args.grid = {}
    for key, values in given.items():
        if values is None:
            continue
        if len(values) > 1:  # several values: a find_grid over this knob
            args.grid[key] = list(values)
            if key == "momentum":
                import mxnet as mx

                from ..finder import momentum_attribute

                try:
                    attribute = momentum_attribute(mx.optimizer.create(name))
                except ValueError as err:
                    raise CLIError(f"--momentum with several values needs {err.args[0].split(': ', 1)[1]}") from None
                if attribute == "momentum":  # create the trainer with momentum buffers
                    params["momentum"] = max(values)
            else:
                params[key] = values[0]
            continue
        value = values[0]
        if key not in accepted:
            raise CLIError(
                f"--{key} is not an option of --optimizer {name} (it takes: {', '.join(accepted)}); "
                f"leave --{key} out or pick an optimizer that has it (e.g. sgd, nag)"
            )
        params[key] = value
    args.optimizer = name
    return params


# ---------------------------------------------------------------------- parser
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after each option's help, except where there is no default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or "%(default)" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action) or ""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) and a :class:`CLIError`."""

    def error(self, message: str) -> NoReturn:
        # "argument --ctx: --ctx must look like ..." -> the message names the option already
        message = re.sub(r"^argument (\S+): (?=\1\b)", "", message)
        raise CLIError(f"{message} (see {self.prog} --help)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gluon-lrfinder`` command.

    Examples
    --------
    >>> args = build_parser().parse_args(["--lr-start", "1e-5", "--optimizer", "adam"])
    >>> args.lr_start, args.optimizer, args.lr_end
    (1e-05, 'adam', 10.0)
    """
    from ..core.rules import DEFAULT_METHOD, RULES
    from ..engine.datasets import NETS, TASKS

    p = _Parser(
        prog=PROG,
        formatter_class=_HelpFormatter,
        description="Learning-rate range test for an MXNet Gluon network: on a bundled data set and net, "
        "or on your own exported model (--model/--params) or net factory (--net module:function) with your "
        "own data (--npz, --rec). Writes the plot, the curve and summary.json to --out. "
        "Use 'gluon-lrfinder launch -h' for local distributed runs. Full guide: docs/cli.md.",
    )
    net = p.add_argument_group("network (one of)")
    net.add_argument("--net", default=None, metavar="NAME|MODULE:FUNCTION",
                     help=f"a bundled net ({', '.join(NETS)}; default: cnn for digits_image, mlp otherwise) "
                     "or the import path of a function taking no arguments that returns a gluon.Block, "
                     "e.g. mypackage.models:build_net (the current folder is importable)")
    net.add_argument("--model", default=None, metavar="SYMBOL.json",
                     help="a net saved with HybridBlock.export (net-symbol.json); needs --params")
    net.add_argument("--params", default=None, metavar="FILE.params",
                     help="the parameters saved with it (net-0000.params)")

    data = p.add_argument_group("data (one of)")
    data.add_argument("--dataset", choices=TASKS, default=None,
                      help="a bundled data set (scikit-learn's, no download; default: digits)")
    data.add_argument("--npz", default=None, metavar="FILE.npz",
                      help="a NumPy archive with arrays X (samples first) and y (labels or targets)")
    data.add_argument("--rec", default=None, metavar="FILE.rec",
                      help="a RecordIO image file (im2rec / mx.recordio), read with mx.io.ImageRecordIter; "
                      "needs --data-shape")
    data.add_argument("--data-shape", type=_shape, default=None, metavar="C,H,W",
                      help="image shape the --rec images are decoded and resized to, e.g. 3,224,224")
    data.add_argument("--mean", type=_floats("--mean"), default=None, metavar="R,G,B",
                      help="--rec only: per-channel mean subtracted from the pixels (0..255 scale)")
    data.add_argument("--std", type=_floats("--std"), default=None, metavar="R,G,B",
                      help="--rec only: per-channel standard deviation the pixels are divided by")
    data.add_argument("--loss", choices=sorted(LOSSES), default=None,
                      help="loss: " + "; ".join(f"{k}: {v[1]}" for k, v in LOSSES.items())
                      + " (default: l2 for the diabetes regression, softmax-ce otherwise)")
    data.add_argument("--batch-size", type=_number_type(check_int, "--batch-size", 1, kind=int), default=64,
                      help="samples per iteration")

    opt = p.add_argument_group("optimizer")
    opt.add_argument("--optimizer", default="sgd", help="an MXNet optimizer name (sgd, nag, adam, rmsprop, ...)")
    opt.add_argument("--momentum", type=_number_list(check_unit_interval, "--momentum"), default=None,
                     metavar="M[,M...]",
                     help="momentum, in [0, 1), for optimizers that take one (sgd, nag, ...); several values "
                          "(0.85,0.9,0.95) run one range test per value (for Adam-like optimizers: beta1) "
                          "and show them side by side: a diagnostic, whose pick is not validated by training, "
                          "see docs/weight_decay_momentum.md")
    opt.add_argument("--wd", "--weight-decay", dest="wd", type=_number_list(check_nonnegative, "--wd"), default=None,
                     metavar="WD[,WD...]",
                     help="weight decay, >= 0; several values (0,1e-4,1e-3) run one range test per value")
    opt.add_argument("--repeats", type=_number_type(check_int, "--repeats", 1, kind=int), default=1,
                     help="with several --momentum / --wd values: data orders per combination (3 or more "
                          "make the recommendation steadier)")

    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--lr-start", type=_number_type(check_positive, "--lr-start"), default=1e-6,
                       help="first learning rate of the sweep, > 0")
    sweep.add_argument("--lr-end", type=_number_type(check_positive, "--lr-end"), default=10.0,
                       help="highest learning rate, > --lr-start; the sweep usually stops earlier, "
                       "when the loss diverges")
    sweep.add_argument("--lr-multiplier", type=_number_type(check_greater, "--lr-multiplier", 1.0), default=None,
                       help="factor between consecutive rates, > 1 (default: 1.1, or derived from "
                       "--lr-end and --num-iter when --num-iter is given)")
    sweep.add_argument("--num-iter", type=_number_type(check_int, "--num-iter", 2, kind=int), default=None,
                       help="number of iterations from --lr-start to --lr-end, >= 2 (default: as many as "
                       "--lr-multiplier needs; 100 in linear mode)")
    sweep.add_argument("--mode", choices=("exponential", "linear"), default="exponential",
                       help="how the rate rises: by a constant factor or by a constant step")
    sweep.add_argument("--smoothing", type=_number_type(check_unit_interval, "--smoothing"), default=0.3,
                       help="history weight of the moving average the stopping rule reads, in [0, 1)")
    sweep.add_argument("--min-iter", type=_number_type(check_int, "--min-iter", 1, kind=int), default=20,
                       help="iterations before the stopping rule may stop the sweep, >= 1")
    sweep.add_argument("--threshold", type=_number_type(check_greater, "--threshold", 1.0), default=2.0,
                       help="stop when the smoothed loss exceeds this many times the first loss, > 1")
    sweep.add_argument("--method", choices=sorted(RULES), default=DEFAULT_METHOD,
                       help="rule that picks the suggested rate from the curve (see docs/suggestions.md)")
    sweep.add_argument("--curve", default=None, metavar="FILE.json|FILE.csv",
                       help="no training: re-read a curve saved by an earlier run (lr_finder.json or .csv) "
                       "and report its suggestion, range and plot")

    run = p.add_argument_group("run and output")
    run.add_argument("--ctx", type=parse_ctx, default="cpu", help="devices: 'cpu', 'gpu:0', 'cpu:0,cpu:1', ...")
    run.add_argument("--hybridize", action="store_true", help="hybridize the network (static graph)")
    run.add_argument("--seed", type=_number_type(check_int, "--seed", 0, kind=int), default=0,
                     help="seed of MXNet's and NumPy's random numbers: initial weights, data order, split")
    run.add_argument("--out", default="lrfinder-output", help="output folder (created if missing)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    run.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")
    return p


# ---------------------------------------------------------------------- inputs
@dataclass
class _Data:
    """What the sweep reads: an iterable of batches and what is known about it."""

    loader: Any
    name: str
    kind: str  # "classification", "regression" or "unknown"
    input_shape: Optional[Tuple[int, ...]]
    classes: Optional[int]  # outputs of a bundled net under softmax-ce (None: unknown)
    target_size: Optional[int]  # its outputs under l2 / sigmoid-bce
    default_loss: str
    settings: Dict[str, Any] = field(default_factory=dict)
    labels: Any = None  # the labels as an array, when they are all known up front (--npz)

    def num_outputs(self, loss: str) -> Optional[int]:
        return self.classes if loss == "softmax-ce" else self.target_size


def _check_file(option: str, path: str) -> str:
    if not os.path.isfile(path):
        what = "is a folder, not a file" if os.path.isdir(path) else "does not exist"
        raise CLIError(f"{option} {path}: {what}")
    return path


def _bundled_data(args: argparse.Namespace) -> _Data:
    from ..engine.datasets import load_task, make_loader

    name = args.dataset or "digits"
    task = load_task(name, seed=args.seed)
    default = "l2" if task.kind == "regression" else "softmax-ce"
    classes = task.num_outputs if task.kind == "classification" else None
    return _Data(make_loader(task.train, args.batch_size, seed=args.seed), name, task.kind, task.input_shape,
                 classes, task.num_outputs if task.kind == "regression" else 1, default, {"dataset": name})


def load_npz(path: str) -> Tuple[Any, Any]:
    """Arrays ``X`` (float32, samples first) and ``y`` (float32) of a ``.npz`` file.

    Raises :class:`CLIError` naming the file for a missing file, missing arrays, non-numeric
    data or a sample count that differs between ``X`` and ``y``.
    """
    import numpy as np

    _check_file("--npz", path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise CLIError(f"--npz {path}: not an .npz archive (np.savez(path, X=..., y=...) writes one)")
            missing = [k for k in ("X", "y") if k not in archive.files]
            if missing:
                raise CLIError(f"--npz {path}: needs arrays 'X' and 'y', it has {archive.files}")
            X, y = archive["X"], archive["y"]
    except (OSError, ValueError) as err:
        raise CLIError(f"--npz {path}: cannot read it as a NumPy archive ({_one_line(err)})") from None
    for key, arr in (("X", X), ("y", y)):
        if arr.dtype.kind not in "biuf":
            raise CLIError(f"--npz {path}: array {key} must be numeric, got dtype {arr.dtype}")
    if X.ndim < 2 or len(X) < 1:
        raise CLIError(f"--npz {path}: X must have shape (samples, features...), got {X.shape}")
    if len(y) != len(X):
        raise CLIError(f"--npz {path}: X and y must have as many samples, got X {X.shape} and y {y.shape}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise CLIError(f"--npz {path}: X and y must be finite (found NaN or infinity)")
    return X.astype(np.float32), y.astype(np.float32)


def _npz_data(args: argparse.Namespace) -> _Data:
    from mxnet import gluon

    from ..engine.datasets import make_loader

    X, y = load_npz(args.npz)
    integer_labels = y.ndim == 1 and bool((y == y.round()).all()) and y.min() >= 0
    kind = "classification" if integer_labels else "regression"
    classes = int(y.max()) + 1 if kind == "classification" else None
    loader = make_loader(gluon.data.ArrayDataset(X, y), args.batch_size, seed=args.seed)
    default = "softmax-ce" if kind == "classification" else "l2"
    return _Data(loader, os.path.basename(args.npz), kind, tuple(X.shape[1:]), classes, int(y[0].size), default,
                 {"npz": os.path.abspath(args.npz), "samples": int(len(X))}, labels=y)


def _check_labels(data: _Data, loss: str) -> None:
    """Labels that ``loss`` cannot read (known up front only for ``--npz``) are a user error."""
    y = data.labels
    if y is None:
        return
    if loss == "softmax-ce":
        flat = y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)
        if not (flat and (y == y.round()).all() and y.min() >= 0):
            hint = "; one-hot rows? store y.argmax(axis=1)" if y.ndim == 2 else ""
            raise CLIError(f"--loss softmax-ce needs y of class indices 0, 1, 2, ... (one per sample), got y of "
                           f"shape {y.shape} with values from {y.min():g} to {y.max():g}{hint}; "
                           "--loss l2 is for regression targets")
    elif loss == "sigmoid-bce" and (y.min() < 0 or y.max() > 1):
        raise CLIError(f"--loss sigmoid-bce needs y in [0, 1] (binary targets), got values from {y.min():g} "
                       f"to {y.max():g}; for class indices use --loss softmax-ce")


def record_iter(path: str, data_shape: Tuple[int, ...], batch_size: int, seed: int = 0,
                mean: Optional[Tuple[float, ...]] = None, std: Optional[Tuple[float, ...]] = None) -> Any:
    """A shuffled ``mx.io.ImageRecordIter`` over ``path`` (with its ``.idx`` file when there is one).

    The :class:`~gluon_lrfinder.Learner` reads it as it is: ``DataBatch`` split, padding dropped,
    ``reset()`` at the end of each pass.
    """
    import mxnet as mx

    if len(data_shape) != 3 or data_shape[0] not in (1, 3, 4):
        raise CLIError(f"--data-shape must be channels,height,width with 1, 3 or 4 channels, got {data_shape}")
    kwargs: Dict[str, Any] = {"path_imgrec": path, "data_shape": data_shape, "batch_size": batch_size,
                              "shuffle": True, "seed": seed, "round_batch": True}
    idx = os.path.splitext(path)[0] + ".idx"
    if os.path.isfile(idx):
        kwargs["path_imgidx"] = idx
    for option, values, prefix in (("--mean", mean, "mean_"), ("--std", std, "std_")):
        if values is not None:
            if len(values) != 1 and len(values) != data_shape[0]:
                raise CLIError(f"{option} needs 1 or {data_shape[0]} values for {data_shape[0]} channels, got {values}")
            full = values * 3 if len(values) == 1 else values
            kwargs.update({prefix + c: float(v) for c, v in zip("rgb", full)})
    try:
        return mx.io.ImageRecordIter(**kwargs)
    except mx.base.MXNetError as err:
        raise CLIError(f"--rec {path}: MXNet cannot read it as an image RecordIO file ({_one_line(err)})") from None
    except StopIteration:  # the iterator reads its first batch when it is created
        raise CLIError(f"--rec {path}: holds no image records MXNet can read") from None


def _rec_data(args: argparse.Namespace) -> _Data:
    _check_file("--rec", args.rec)
    if args.data_shape is None:
        raise CLIError("--rec needs --data-shape (channels,height,width the images are resized to, e.g. 3,224,224)")
    it = record_iter(args.rec, args.data_shape, args.batch_size, args.seed, args.mean, args.std)
    return _Data(it, os.path.basename(args.rec), "classification", tuple(args.data_shape), None, None,
                 "softmax-ce", {"rec": os.path.abspath(args.rec), "data_shape": list(args.data_shape)})


def _load_data(args: argparse.Namespace) -> _Data:
    given = [opt for opt, value in (("--dataset", args.dataset), ("--npz", args.npz), ("--rec", args.rec))
             if value is not None]
    if len(given) > 1:
        raise CLIError(f"give one data source, got {' and '.join(given)}")
    if args.rec is None:
        for option in ("data_shape", "mean", "std"):
            if getattr(args, option) is not None:
                raise CLIError(f"--{option.replace('_', '-')} applies to --rec only")
    if args.npz is not None:
        return _npz_data(args)
    if args.rec is not None:
        return _rec_data(args)
    return _bundled_data(args)


def _import_factory(spec: str) -> Callable[[], Any]:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CLIError(f"--net must be a bundled net or MODULE:FUNCTION (e.g. mypackage.models:build), got {spec!r}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does: a module in the current folder imports
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise CLIError(f"--net {spec}: cannot import module {module_name!r} ({_one_line(err)})") from None
    factory = module
    for part in attr.split("."):
        if not hasattr(factory, part):
            raise CLIError(f"--net {spec}: module {module_name!r} has no attribute {attr!r}")
        factory = getattr(factory, part)
    if not callable(factory):
        raise CLIError(f"--net {spec}: {attr!r} is not callable (a function returning a gluon.Block is needed)")
    return factory


def _load_net(args: argparse.Namespace, data: _Data, loss: str, ctx: Any) -> Tuple[Any, str]:
    """The network and a name for it; parameters of an exported model are loaded onto ``ctx``."""
    import mxnet as mx
    from mxnet import gluon

    from ..engine.datasets import NETS, build_net

    if args.model is not None or args.params is not None:
        if args.net is not None:
            raise CLIError("give either --net or --model/--params, not both")
        if args.model is None or args.params is None:
            raise CLIError("--model and --params go together (the files HybridBlock.export writes: "
                           "net-symbol.json and net-0000.params)")
        _check_file("--model", args.model)
        _check_file("--params", args.params)
        try:
            symbol = mx.sym.load(args.model)
        except mx.base.MXNetError as err:
            raise CLIError(f"--model {args.model}: not an MXNet symbol file ({_one_line(err)})") from None
        try:
            stored = {k.split(":", 1)[-1] for k in mx.nd.load(args.params)}
        except mx.base.MXNetError as err:
            raise CLIError(f"--params {args.params}: not an MXNet parameter file ({_one_line(err)})") from None
        inputs = [name for name in symbol.list_inputs() if name not in stored]
        if not inputs:
            raise CLIError(f"--model {args.model}: every input of the symbol has a value in --params, "
                           "so none is left for the data")
        try:
            with warnings.catch_warnings():  # "Cannot decide type for the following arguments: data"
                warnings.filterwarnings("ignore", message="Cannot decide type", category=UserWarning)
                net = gluon.SymbolBlock.imports(args.model, inputs, args.params, ctx=ctx)
        except (mx.base.MXNetError, AssertionError, ValueError) as err:
            raise CLIError(f"--model {args.model} with --params {args.params}: cannot load "
                           f"({_one_line(err)})") from None
        return net, os.path.basename(args.model)
    name = args.net
    if name is None:
        name = "cnn" if data.input_shape is not None and len(data.input_shape) == 3 else "mlp"
    if name in NETS:
        if name == "cnn" and (data.input_shape is None or len(data.input_shape) != 3):
            raise CLIError(f"--net cnn needs image data (channels, height, width), not {data.name} "
                           f"with samples of shape {data.input_shape}; use --dataset digits_image")
        outputs = data.num_outputs(loss)
        if outputs is None:
            raise CLIError(f"--net {name} with --loss {loss} needs the number of outputs, which {data.name} "
                           "does not tell; use --net MODULE:FUNCTION or --model with your own network")
        return build_net(name, outputs), name
    factory = _import_factory(name)
    try:
        net = factory()
    except Exception as err:  # the user's code: report it in one line
        raise CLIError(f"--net {name}: the factory raised {type(err).__name__}: {_one_line(err)}") from None
    if not isinstance(net, gluon.Block):
        raise CLIError(f"--net {name}: the factory must return a gluon.Block, got {type(net).__name__}")
    return net, name


def _loss(name: str) -> Any:
    from mxnet import gluon

    return getattr(gluon.loss, LOSSES[name][0])()


# ---------------------------------------------------------------------- run
def _one_line(err: BaseException) -> str:
    """The telling line of an exception message (MXNet's carry a C++ stack trace)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    for line in lines:
        if "Check failed" in line or "Error:" in line or "inconsistent" in line:
            line = line.split("MXNetError: ", 1)[-1]
            return line[:400]
    return lines[-1][:400]


def _describe_rule(method: str) -> str:
    """The rule's registered one-line description (``gluon_lrfinder.core.rules.register_rule``)."""
    from ..core.rules import get_rule

    return get_rule(method).description


def _run_saved_curve(args: argparse.Namespace) -> int:
    """``--curve``: report on a saved curve, no training."""
    from ..core.curve import LRCurve

    try:
        curve = LRCurve.load(args.curve)
    except (OSError, ValueError) as err:
        raise CLIError(f"--curve {args.curve}: cannot read the curve ({err})") from None
    if not len(curve):
        raise CLIError(f"--curve {args.curve}: the curve holds no points")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as err:
        raise CLIError(f"--out {args.out}: cannot create the folder ({err.strerror or err})") from None
    settings = curve.settings
    return _report(args, curve, str(settings.get("dataset", settings.get("data", "a saved curve"))),
                   str(settings.get("net", "its net")), str(settings.get("optimizer", "its optimizer")))


def _run(args: argparse.Namespace) -> int:
    import mxnet as mx

    from ..engine._rng import seed_global_rngs
    from ..engine.learner import Learner
    from ..finder import LRFinder

    opt_params = _optimizer_params(args)
    if args.lr_end <= args.lr_start:
        raise CLIError(f"--lr-end must be > --lr-start ({args.lr_start:g}), got {args.lr_end:g}")
    if args.lr_multiplier is not None and args.num_iter is not None:
        raise CLIError("give --lr-multiplier or --num-iter, not both")
    if args.mode == "linear" and args.lr_multiplier is not None:
        raise CLIError("--lr-multiplier applies to --mode exponential only; use --num-iter")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as err:
        raise CLIError(f"--out {args.out}: cannot create the folder ({err.strerror or err})") from None

    seed_global_rngs(args.seed)
    data = _load_data(args)
    loss_name = args.loss or data.default_loss
    _check_labels(data, loss_name)
    net, net_name = _load_net(args, data, loss_name, args.ctx)
    if args.hybridize and isinstance(net, mx.gluon.HybridBlock):
        net.hybridize(static_alloc=True, static_shape=True)

    progress = not args.no_progress
    interrupted = False
    try:
        with Learner(net, data.loader, ctx=args.ctx, loss_fn=_loss(loss_name), optimizer=args.optimizer,
                     optimizer_params=opt_params) as learner:
            finder = LRFinder(learner)
            sweep = dict(lr_start=args.lr_start, lr_multiplier=args.lr_multiplier, smoothing=args.smoothing,
                         lr_end=args.lr_end, num_iter=args.num_iter, mode=args.mode, min_iter=args.min_iter,
                         threshold=args.threshold, progress=progress)
            if args.grid:
                # a command line has no "current values" of the user's to keep: no recommendation, and
                # the sweep's pick by Smith's rule, shown as a diagnostic with the evidence behind it
                finder.find_grid(weight_decay=args.grid.get("wd"), momentum=args.grid.get("momentum"),
                                 repeats=args.repeats, method=args.method, keep_current=False, **sweep)
            else:
                interrupted = _find_keeping_an_interrupted_curve(finder, sweep)
    except (mx.base.MXNetError, ValueError, TypeError) as err:
        # the library's argument checks (raised before any work), or the user's network, data and
        # loss not fitting together at the first iteration (the model state is restored by then)
        shape = f" (samples of shape {data.input_shape})" if data.input_shape else ""
        raise CLIError(f"training {net_name} on {data.name}{shape} with --loss {loss_name} failed: "
                       f"{_one_line(err)}; check that the data fit the network and the loss") from None
    finally:
        if progress and not sys.stderr.isatty():
            print(file=sys.stderr, flush=True)  # a log file: end the bar's line before the summary
    curve = finder.curve
    assert curve is not None  # find() and find_grid() always leave a curve
    curve.settings.update({"net": net_name, "loss": loss_name, "batch_size": args.batch_size, "seed": args.seed,
                           **data.settings})

    try:
        if args.grid:
            return _report_grid(args, finder, data.name, net_name)
        if interrupted:  # Ctrl-C: the model is restored; keep what was recorded
            print(f"{PROG}: interrupted after {len(curve)} iterations; writing what was recorded",
                  file=sys.stderr)
            code = _report(args, curve, data.name, net_name, args.optimizer)
            return 130 if code == 0 else code
        return _report(args, curve, data.name, net_name, args.optimizer)
    except OSError as err:
        raise CLIError(f"--out {args.out}: cannot write the results ({err.strerror or err})") from None


def _find_keeping_an_interrupted_curve(finder: Any, sweep: Dict[str, Any]) -> bool:
    """``finder.find(**sweep)``; True after a Ctrl-C (which find() re-raises once the model is
    restored and the points recorded are on ``finder.curve``), so they are written before exit 130."""
    try:
        finder.find(**sweep)
    except KeyboardInterrupt:
        if finder.curve is None or len(finder.curve) == 0:
            raise  # nothing recorded to write: main() says "interrupted" and returns 130
        return True
    return False


def _report(args: argparse.Namespace, curve: Any, data_name: str, net_name: str, optimizer: str) -> int:
    """Write the curve, the plot and summary.json to ``args.out`` and print the summary."""
    csv_path = curve.save(os.path.join(args.out, "lr_finder.csv"))
    json_path = curve.save(os.path.join(args.out, "lr_finder.json"))
    flags = curve.diagnose()
    try:
        lr = curve.suggest(method=args.method, warn=False)
        low, high = curve.suggest_range()
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    png_path = os.path.join(args.out, "lr_finder.png")
    ax = curve.plot(path=png_path, method=args.method, show_range=True,
                    title=f"{data_name} / {net_name} / {optimizer}")
    from ..plotting import pyplot

    pyplot().close(ax.figure)

    summary_path = os.path.join(args.out, "summary.json")
    summary = {
        "suggested_lr": lr,
        "method": args.method,
        "lr_range": [low, high],
        "iterations": len(curve),
        "stop_reason": curve.stop_reason,
        "flags": flags,
        "files": {"plot": png_path, "csv": csv_path, "json": json_path, "summary": summary_path},
    }
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(f"Swept {len(curve)} learning rates from {curve.lrs[0]:.2e} to {curve.lrs[-1]:.2e} "
          f"({curve.stop_reason}) on {data_name} with {net_name}/{optimizer}.")
    rule_words = _describe_rule(args.method)
    print(f"Suggested learning rate: {lr:.3g} (rule '{args.method}': {rule_words})")
    print(f"Range for cyclical / one-cycle schedules: {low:.3g} .. {high:.3g} "
          "(min_lr .. max_lr: from the steepest point up to 3x it, at most half the loss minimum)")
    for flag in flags:
        print(f"Warning: {flag}")
    print(f"Wrote {png_path}, {csv_path}, {json_path}, {summary_path}")
    return 0


def _report_grid(args: argparse.Namespace, finder: Any, data_name: str, net_name: str) -> int:
    """Write the grid's plot and ``grid.json`` to ``args.out`` and print its table."""
    from ..plotting import pyplot

    result = finder.grid
    png_path = os.path.join(args.out, "grid.png")
    ax = finder.plot_grid(path=png_path, title=f"{data_name} / {net_name} / {args.optimizer}")
    pyplot().close(ax.figure)
    json_path = os.path.join(args.out, "grid.json")
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"recommended": result.best, "suggested_lr": result.lr, "reason": result.reason,
                   "sweep_pick": result.candidate, "sweep_pick_lr": result.candidate_lr,
                   "sweep_pick_reason": result.candidate_reason, "validated": False, "evidence": result.evidence,
                   "notes": result.notes, "method": result.method, "repeats": args.repeats,
                   "table": result.table(), "files": {"plot": png_path, "json": json_path}}, f, indent=1)
    print(result)
    print("The grid is a diagnostic: nothing here is validated by a training run; change weight decay or "
          "momentum only after a training run confirms it (docs/weight_decay_momentum.md).")
    print(f"Wrote {png_path}, {json_path}")
    return 0 if any(row.lr is not None for row in result.rows) else 1


def _require_mxnet() -> None:
    """A missing or unsupported MXNet as a one-line error that names the builds to install."""
    try:
        from .. import _mxnet  # noqa: F401
    except ImportError as err:
        raise CLIError(str(err)) from None


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command; returns the exit code (0 done, 1 no suggestion, 2 a user error).

    Examples
    --------
    >>> main(["--optimizer", "adamw"])  # doctest: +SKIP
    gluon-lrfinder: error: --optimizer must be one of adadelta, adagrad, adam, ...; got 'adamw'
    2
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "launch":
        from .launcher import main as launch_main

        return launch_main(argv[1:])
    show_traceback = "--traceback" in argv
    try:
        _require_mxnet()  # the parser lists the bundled data sets, which need MXNet
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help
            return int(exit_.code or 0)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        if isinstance(args.ctx, str):
            args.ctx = parse_ctx(args.ctx)
        if args.curve is not None:
            return _run_saved_curve(args)
        return _run(args)
    except CLIError as err:
        if show_traceback:
            raise
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
