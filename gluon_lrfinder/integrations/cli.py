"""The ``gluon-lrfinder`` command: run the range test from the shell and report.

``gluon-lrfinder`` (or ``python -m gluon_lrfinder``) trains a network on a data set, prints the
suggested learning rate and range, and writes the plot, the curve (CSV and JSON) and a
``summary.json`` to an output folder. The network is a bundled one (``--net mlp``), the user's
own exported model (``--model net-symbol.json --params net-0000.params``) or a factory function
(``--net package.module:function``); the data is a bundled scikit-learn set (``--dataset``), a
NumPy archive (``--npz data.npz`` with arrays ``X`` and ``y``) or a RecordIO image file
(``--rec train.rec --data-shape 3,224,224``). ``gluon-lrfinder launch ...`` starts a local
distributed run (see :mod:`gluon_lrfinder.engine.reducers`).

Every user error (a bad option, a missing file, data that does not fit the model) ends the
command with one line on stderr and exit status 2; ``--traceback`` shows the whole traceback.
See ``docs/cli.md``.

Examples
--------
>>> from gluon_lrfinder.integrations.cli import main
>>> main(["--lr-start", "-1"])  # doctest: +SKIP
gluon-lrfinder: error: argument --lr-start: --lr-start must be a finite number > 0, got -1.0
2
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

from .cli_args import LOSSES, PROG, CLIError, _optimizer_params, build_parser, parse_ctx

__all__ = ["main"]


# ---------------------------------------------------------------------- inputs
def _source_error(err: Any) -> CLIError:
    """A data source's error, named by its command-line option."""
    return CLIError(f"--{err.param.replace('_', '-')} {err.detail}")


def _check_file(option: str, path: str) -> str:
    from ..engine.sources import SourceError, check_file

    try:
        return check_file(option, path)
    except SourceError as err:
        raise CLIError(f"{option} {err.detail}") from None


def _load_data(args: argparse.Namespace) -> Any:
    from ..demo import source
    from ..engine.sources import DataSource, SourceError

    given = [opt for opt, value in (("--dataset", args.dataset), ("--npz", args.npz), ("--rec", args.rec))
             if value is not None]
    if len(given) > 1:
        raise CLIError(f"give one data source, got {' and '.join(given)}")
    if args.rec is None:
        for option in ("data_shape", "mean", "std"):
            if getattr(args, option) is not None:
                raise CLIError(f"--{option.replace('_', '-')} applies to --rec only")
    elif args.data_shape is None and os.path.isfile(args.rec):
        raise CLIError("--rec needs --data-shape (channels,height,width the images are resized to, e.g. 3,224,224)")
    try:
        if args.npz is not None:
            return DataSource.npz(args.npz, args.batch_size, args.seed)
        if args.rec is not None:
            return DataSource.rec(args.rec, args.data_shape, args.batch_size, args.seed, args.mean, args.std)
        return source(args.dataset or "digits", args.batch_size, args.seed)
    except SourceError as err:
        raise _source_error(err) from None


def _check_labels(data: Any, loss: str) -> None:
    from ..engine.sources import SourceError

    try:
        data.check_labels(loss)
    except SourceError as err:
        raise _source_error(err) from None


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


def _load_net(args: argparse.Namespace, data: Any, loss: str, ctx: Any) -> Tuple[Any, str]:
    """The network and a name for it; parameters of an exported model are loaded onto ``ctx``."""
    import mxnet as mx
    from mxnet import gluon

    from ..demo import NETS, build_net

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
    from ..engine.sources import one_line

    return one_line(err)


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
    if args.your_lr is not None:
        settings["trainer_lr"] = args.your_lr
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
        with Learner(net, data, ctx=args.ctx, loss_fn=_loss(loss_name), optimizer=args.optimizer,
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
    curve.settings.pop("trainer_lr", None)  # the command's own trainer starts at --lr-start: not a rate of yours
    if args.your_lr is not None:
        curve.settings["trainer_lr"] = args.your_lr

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
        low, high = curve.suggest_range(warn=False)  # the flags are printed below
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    png_path = os.path.join(args.out, "lr_finder.png")
    ax = curve.plot(path=png_path, method=args.method, show_range=True,
                    title=f"{data_name} / {net_name} / {optimizer}")
    from ..core.placement import finite_rate, place_rate
    from ..core.plotting import pyplot

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
    own = finite_rate(curve.settings.get("trainer_lr"))  # --your-lr, or what a saved curve recorded
    current = None if own is None else place_rate(curve.lrs, curve.losses, own, suggestion=lr)
    if current is not None:
        summary["your_lr"] = {"lr": current.lr, "zone": current.zone, "text": current.text}
    with open(summary_path, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(f"Swept {len(curve)} learning rates from {curve.lrs[0]:.2e} to {curve.lrs[-1]:.2e} "
          f"({curve.stop_reason}) on {data_name} with {net_name}/{optimizer}.")
    print(f"Suggested learning rate: {lr:.3g}  (train at this constant rate)")
    print(f"For a one-cycle or cyclical schedule: min_lr {low:.3g}, max_lr {high:.3g}")
    if current is not None:
        print(f"Your rate: {current.text}.")
    if args.verbose:  # the whole report (every rule's answer) only when asked for
        print(f"How: rule '{args.method}', {_describe_rule(args.method)}.")
        print(curve.report(method=args.method))
    if flags:
        for flag in flags:
            print(f"Watch out: {flag}")
    else:
        print("The curve looks like a textbook range test: nothing to watch out for.")
    print(f"Wrote the plot to {png_path}; the curve to {csv_path} and {json_path}; the summary to {summary_path}")
    return 0


def _report_grid(args: argparse.Namespace, finder: Any, data_name: str, net_name: str) -> int:
    """Write the grid's plot and ``grid.json`` to ``args.out`` and print its table."""
    from ..core.plotting import pyplot

    result = finder.result
    png_path = os.path.join(args.out, "grid.png")
    ax = finder.plot(path=png_path, title=f"{data_name} / {net_name} / {args.optimizer}")
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
          "momentum only after a training run confirms it.")
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
