"""The ``gluon-lrfinder`` command: run the range test on a bundled data set and report.

``gluon-lrfinder`` (or ``python -m gluon_lrfinder``) trains a small network on a data set that
ships with scikit-learn, prints the suggested learning rate and range, and writes the plot and
the curve (CSV and JSON) to an output folder. ``gluon-lrfinder launch ...`` starts a local
distributed run (see :mod:`gluon_lrfinder.distributed`).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import List, Optional

__all__ = ["main", "build_parser", "parse_ctx"]


def parse_ctx(text: str):
    """``"cpu"``, ``"gpu:0"``, ``"cpu:0,cpu:1"`` or ``"gpu:0,gpu:1"`` -> a Context or a list."""
    import mxnet as mx

    out = []
    for part in text.split(","):
        kind, _, index = part.strip().partition(":")
        if kind not in ("cpu", "gpu") or (index and not index.isdigit()):
            raise argparse.ArgumentTypeError(
                f"--ctx must look like 'cpu', 'gpu:0' or 'cpu:0,cpu:1', got {text!r}"
            )
        out.append(getattr(mx, kind)(int(index) if index else 0))
    return out[0] if len(out) == 1 else out


def _positive_float(name: str):
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{name} must be > 0, got {text!r}")
        return value

    return convert


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``gluon-lrfinder`` command."""
    from .datasets import NETS, TASKS
    from .suggest import DEFAULT_METHOD, SUGGESTERS

    p = argparse.ArgumentParser(
        prog="gluon-lrfinder",
        description="Learning-rate range test for an MXNet Gluon network on a bundled data set. "
        "Use 'gluon-lrfinder launch -h' for local distributed runs.",
    )
    p.add_argument("--dataset", choices=TASKS, default="digits", help="bundled data set (default: digits)")
    p.add_argument("--net", choices=NETS, default=None,
                   help="network (default: cnn for digits_image, mlp otherwise)")
    p.add_argument("--optimizer", default="sgd", help="MXNet optimizer name (default: sgd)")
    p.add_argument("--momentum", type=float, default=None, help="momentum for sgd/nag")
    p.add_argument("--wd", type=float, default=None, help="weight decay")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--lr-start", type=_positive_float("--lr-start"), default=1e-6)
    p.add_argument("--lr-end", type=_positive_float("--lr-end"), default=None)
    p.add_argument("--lr-multiplier", type=float, default=None, help="default 1.1")
    p.add_argument("--num-iter", type=int, default=None)
    p.add_argument("--mode", choices=("exponential", "linear"), default="exponential")
    p.add_argument("--smoothing", type=float, default=0.3)
    p.add_argument("--min-iter", type=int, default=20)
    p.add_argument("--threshold", type=float, default=2.0)
    p.add_argument("--method", choices=sorted(SUGGESTERS), default=DEFAULT_METHOD,
                   help=f"suggestion rule (default: {DEFAULT_METHOD})")
    p.add_argument("--ctx", type=parse_ctx, default="cpu", help="'cpu', 'gpu:0', 'cpu:0,cpu:1', ...")
    p.add_argument("--hybridize", action="store_true", help="hybridize the network (static graph)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="lrfinder-output", help="output folder (default: ./lrfinder-output)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "launch":
        from .distributed import main as launch_main

        return launch_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    import mxnet as mx

    from .datasets import build_net, load_task, loss_for, make_loader
    from .finder import LRFinder
    from .learner import Learner

    if isinstance(args.ctx, str):
        args.ctx = parse_ctx(args.ctx)
    mx.random.seed(args.seed)
    task = load_task(args.dataset, seed=args.seed)
    net_name = args.net or ("cnn" if args.dataset == "digits_image" else "mlp")
    if net_name == "cnn" and len(task.input_shape) != 3:
        print(f"error: --net cnn needs image data (--dataset digits_image), not {args.dataset}", file=sys.stderr)
        return 2
    net = build_net(net_name, task.num_outputs)
    if args.hybridize:
        net.hybridize(static_alloc=True, static_shape=True)
    opt_params = {"learning_rate": args.lr_start}
    if args.momentum is not None:
        opt_params["momentum"] = args.momentum
    if args.wd is not None:
        opt_params["wd"] = args.wd

    loader = make_loader(task.train, args.batch_size, seed=args.seed)
    with Learner(net, loader, ctx=args.ctx, loss_fn=loss_for(task), optimizer=args.optimizer,
                 optimizer_params=opt_params) as learner:
        finder = LRFinder(learner)
        finder.find(lr_start=args.lr_start, lr_multiplier=args.lr_multiplier, smoothing=args.smoothing,
                    lr_end=args.lr_end, num_iter=args.num_iter, mode=args.mode, min_iter=args.min_iter,
                    threshold=args.threshold, progress=not args.no_progress)
    curve = finder.curve
    curve.settings.update({"dataset": args.dataset, "net": net_name, "batch_size": args.batch_size,
                           "seed": args.seed})

    os.makedirs(args.out, exist_ok=True)
    csv_path = finder.save(os.path.join(args.out, "lr_finder.csv"))
    json_path = finder.save(os.path.join(args.out, "lr_finder.json"))
    flags = finder.diagnose()
    try:
        lr = finder.suggest(method=args.method, warn=False)
        low, high = finder.suggest_range()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    png_path = os.path.join(args.out, "lr_finder.png")
    ax = finder.plot(path=png_path, method=args.method, show_range=True,
                     title=f"{args.dataset} / {net_name} / {args.optimizer}")
    from .plotting import pyplot

    pyplot().close(ax.figure)

    summary = {
        "suggested_lr": lr,
        "method": args.method,
        "lr_range": [low, high],
        "iterations": len(curve),
        "stop_reason": curve.stop_reason,
        "flags": flags,
        "files": {"plot": png_path, "csv": csv_path, "json": json_path},
    }
    print(f"Swept {len(curve)} learning rates from {curve.lrs[0]:.2e} to {curve.lrs[-1]:.2e} "
          f"({curve.stop_reason}) on {args.dataset} with {net_name}/{args.optimizer}.")
    print(f"Suggested learning rate ({args.method}): {lr:.3g}")
    print(f"Range for cyclical / one-cycle schedules: {low:.3g} .. {high:.3g}")
    for flag in flags:
        print(f"Warning: {flag}")
    print(f"Wrote {png_path}, {csv_path}, {json_path}")
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
