"""The options of the ``gluon-lrfinder`` command: the parser, option types, devices, optimizers.

Examples
--------
>>> args = build_parser().parse_args(["--lr-start", "1e-5", "--optimizer", "adam"])
>>> args.lr_start, args.optimizer
(1e-05, 'adam')
"""
from __future__ import annotations

import argparse
import inspect
import math
import re
from typing import Any, Callable, Dict, List, NoReturn, Tuple

from ..core._validate import check_greater, check_int, check_nonnegative, check_positive, check_unit_interval

__all__ = ["build_parser", "parse_ctx", "CLIError"]

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

                from ..engine.knobs import momentum_attribute

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
    from ..demo import NETS, TASKS

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
                          "see docs/evidence.md")
    opt.add_argument("--wd", "--weight-decay", dest="wd", type=_number_list(check_nonnegative, "--wd"), default=None,
                     metavar="WD[,WD...]",
                     help="weight decay, >= 0; several values (0,1e-4,1e-3) run one range test per value")
    opt.add_argument("--repeats", type=_number_type(check_int, "--repeats", 1, kind=int), default=1,
                     help="with several --momentum / --wd values: data orders per combination (3 or more "
                          "make the recommendation steadier)")

    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--your-lr", type=_number_type(check_positive, "--your-lr"), default=None,
                       help="the learning rate your training uses, > 0: the output says where it lies on the curve")
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
                       help="stop when the smoothed loss exceeds this many times the median of the first "
                            "10 losses, > 1")
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
    run.add_argument("-v", "--verbose", action="store_true",
                     help="also print how the rule reached its answer and the full report; log at INFO level")
    run.add_argument("--traceback", action="store_true", help="on an error, show the full Python traceback")
    return p


