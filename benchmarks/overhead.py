"""What does ``LRFinder.find`` cost on top of the training iterations it runs?

Three ways to run the same iterations at the same learning rates, timed in one process with the
repeats interleaved (raw, finder, naive, then the next repeat), so a slow spell of a shared
machine hits all three alike:

raw
    The plain Gluon loop and the physical limit: next batch, ``split_and_load``,
    ``set_learning_rate``, forward and backward under ``autograd.record``, ``trainer.step``. No
    loss is read; one ``mx.nd.waitall()`` at the end.
finder
    ``LRFinder.find(lr_start, lr_end=..., num_iter=n)`` with its progress bar on (written to
    ``os.devnull``). Its save and restore of the state are timed separately, so "per iteration"
    is (whole call - save - restore) / n.
naive
    Our stand-in for the usual hand-written finder loop (the classic MXNet tutorial and several
    other finders work this way): ``net.save_parameters`` and ``trainer.save_states`` to files
    first; every iteration ``set_learning_rate``, the training step, then the batch loss read at
    once with a blocking ``asscalar()`` and fed to the same stopping rule; at the end
    ``net.load_parameters`` and ``trainer.load_states``. Per iteration excludes the file I/O.

Reported: per-iteration times and the medians of the per-repeat ratios finder/raw and
finder/naive; the finder's save and restore times and their share of a default search
(``lr_start=1e-6``, multiplier 1.1, taken as 150 iterations at the measured per-iteration time);
peak RSS of raw, finder and naive loops, each in its own subprocess; and how save/restore grows
with the parameter count.

Run from the repository root::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/overhead.py --quick   # about 2 minutes
    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/overhead.py           # about 8-10 minutes

``--out FILE`` also writes the printed Markdown to FILE.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from gluon_lrfinder.core import plan as sweep
from gluon_lrfinder.core.stopping import StoppingCriteria
from gluon_lrfinder.demo import build_net, load_task
from gluon_lrfinder.engine import sweep as sweep_module
from gluon_lrfinder.engine.learner import Learner
from gluon_lrfinder.engine.sampler import make_loader
from gluon_lrfinder.engine.state import StateSnapshot
from gluon_lrfinder.finder import LRFinder

#: Learning rates of the timed runs: low enough that no run diverges (so all run n iterations).
LR_START, LR_END = 1e-5, 1e-2
#: Iterations of the default search the save/restore share is taken against.
DEFAULT_SEARCH_ITERS = 150
DEFAULT_SEARCH_NOTE = "lr_start=1e-6, lr_multiplier=1.1, ~150 iterations to divergence"


# ---------------------------------------------------------------------------- workloads
def _digits_loader(batch: int):
    return make_loader(load_task("digits").train, batch, seed=0)


def _image_loader(batch: int, n: int = 256):
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, size=(n, 3, 32, 32)).astype("float32")
    y = (np.arange(n) % 10).astype("float32")
    return make_loader(gluon.data.ArrayDataset(x, y), batch, seed=0)


def _zoo(name: str) -> Callable[[], gluon.Block]:
    def build() -> gluon.Block:
        from mxnet.gluon.model_zoo.vision import get_model

        return get_model(name, classes=10, pretrained=False)

    return build


#: name -> (net factory, loader factory, batch size)
WORKLOADS: Dict[str, Tuple[Callable[[], gluon.Block], Callable[[int], Any], int]] = {
    "mlp": (lambda: build_net("mlp", 10), _digits_loader, 64),
    "resnet18_v2": (_zoo("resnet18_v2"), _image_loader, 32),
    "resnet50_v2": (_zoo("resnet50_v2"), _image_loader, 32),
}

CONTEXTS = {"cpu": [mx.cpu()], "cpu0+cpu1": [mx.cpu(0), mx.cpu(1)]}


def setup(workload: str, ctx_name: str, hybrid: bool) -> Learner:
    """A seeded model, SGD with momentum, one warm-up step (so the optimizer has state)."""
    mx.random.seed(0)
    np.random.seed(0)
    make_net, make_data, batch = WORKLOADS[workload]
    ctx = CONTEXTS[ctx_name]
    net = make_net()
    net.initialize(mx.init.Xavier(), ctx=ctx)
    if hybrid:
        net.hybridize(static_alloc=True, static_shape=True)
    learner = Learner(
        net, make_data(batch), ctx=ctx, optimizer="sgd",
        optimizer_params={"learning_rate": 1e-3, "momentum": 0.9},
    )
    learner.iteration(1e-4)
    return learner


# ---------------------------------------------------------------------------- the three loops
class TimedSnapshot(StateSnapshot):
    """The finder's own snapshot, with its save and restore timed."""

    log: List[Tuple[str, float]] = []

    def save(self) -> TimedSnapshot:
        t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
        result = super().save()
        self.log += [("save", time.perf_counter() - t), ("save_cpu", time.thread_time() - c),
                     ("save_pcpu", time.process_time() - pc)]
        return result

    def cleanup(self) -> None:  # removing the files is part of the state's cost, not the loop's
        t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
        super().cleanup()
        self.log += [("cleanup", time.perf_counter() - t), ("cleanup_cpu", time.thread_time() - c),
                     ("cleanup_pcpu", time.process_time() - pc)]

    def restore(self) -> None:
        mx.nd.waitall()  # the sweep's last queued update belongs to the loop, not to the restore
        t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
        super().restore()
        self.log += [("restore", time.perf_counter() - t), ("restore_cpu", time.thread_time() - c),
                     ("restore_pcpu", time.process_time() - pc)]


def raw_loop(learner: Learner, it: Any, lrs: List[float]) -> Dict[str, float]:
    net, trainer, loss_fn, ctx = learner.net, learner.trainer, learner.loss_fn, learner.ctx
    t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
    for lr in lrs:
        data, label = next(it)
        xs = gluon.utils.split_and_load(data, ctx, even_split=False)
        ys = gluon.utils.split_and_load(label, ctx, even_split=False)
        trainer.set_learning_rate(lr)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(xs, ys)]
        autograd.backward(losses)
        trainer.step(data.shape[0])
    mx.nd.waitall()
    return {"loop": time.perf_counter() - t, "loop_cpu": time.thread_time() - c,
            "loop_pcpu": time.process_time() - pc}


def finder_run(learner: Learner, lrs: List[float]) -> Dict[str, float]:
    TimedSnapshot.log = []
    finder = LRFinder(learner)
    with open(os.devnull, "w") as sink, contextlib.redirect_stderr(sink):
        t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
        pairs = finder.find(lr_start=lrs[0], lr_end=lrs[-1], num_iter=len(lrs))
        mx.nd.waitall()  # (already done by the restore; keeps the three loops alike)
        total, total_cpu, total_pcpu = time.perf_counter() - t, time.thread_time() - c, time.process_time() - pc
    if len(pairs) != len(lrs):
        raise RuntimeError(f"the finder stopped after {len(pairs)} of {len(lrs)} iterations")
    times: Dict[str, float] = {}
    for key, value in TimedSnapshot.log:
        times[key] = times.get(key, 0.0) + value
    for suffix in ("", "_cpu", "_pcpu"):  # "restore" = put the state back + remove the files
        times["restore" + suffix] += times.get("cleanup" + suffix, 0.0)
    return {"loop": total - times["save"] - times["restore"], "save": times["save"],
            "loop_cpu": total_cpu - times["save_cpu"] - times["restore_cpu"],
            "loop_pcpu": total_pcpu - times["save_pcpu"] - times["restore_pcpu"],
            "restore": times["restore"], "total": total}


def naive_loop(learner: Learner, it: Any, lrs: List[float], folder: str) -> Dict[str, float]:
    net, trainer, loss_fn, ctx = learner.net, learner.trainer, learner.loss_fn, learner.ctx
    params, states = os.path.join(folder, "naive.params"), os.path.join(folder, "naive.states")
    t0 = time.perf_counter()
    net.save_parameters(params)
    trainer.save_states(states)
    stop = StoppingCriteria()
    recorded = []
    t1, c1, pc1 = time.perf_counter(), time.thread_time(), time.process_time()
    for lr in lrs:
        trainer.set_learning_rate(lr)
        data, label = next(it)
        xs = gluon.utils.split_and_load(data, ctx, even_split=False)
        ys = gluon.utils.split_and_load(label, ctx, even_split=False)
        with autograd.record():
            losses = [loss_fn(net(x), y) for x, y in zip(xs, ys)]
        autograd.backward(losses)
        trainer.step(data.shape[0])
        loss = sum(part.sum().asscalar() for part in losses) / data.shape[0]
        recorded.append((lr, loss))
        if stop(loss):
            break
    mx.nd.waitall()
    t2, c2, pc2 = time.perf_counter(), time.thread_time(), time.process_time()
    net.load_parameters(params, ctx=ctx)
    trainer.load_states(states)
    mx.nd.waitall()
    t3 = time.perf_counter()
    return {"loop": t2 - t1, "loop_cpu": c2 - c1, "loop_pcpu": pc2 - pc1, "total": t3 - t0}


# ---------------------------------------------------------------------------- measurements
def time_workload(workload: str, ctx_name: str, hybrid: bool, n: int, repeats: int) -> Dict[str, Any]:
    learner = setup(workload, ctx_name, hybrid)
    base = StateSnapshot(learner.net, learner.trainer).save()  # every run starts from here
    lrs = list(sweep.exponential(LR_START, None, LR_END, n))
    it_raw, it_naive = iter(learner.data_loader), iter(learner.data_loader)
    folder = tempfile.mkdtemp(prefix="overhead-naive-")
    runs: Dict[str, List[Dict[str, float]]] = {"raw": [], "finder": [], "naive": []}
    try:
        loops = {
            "raw": lambda: raw_loop(learner, it_raw, lrs),
            "finder": lambda: finder_run(learner, lrs),
            "naive": lambda: naive_loop(learner, it_naive, lrs, folder),
        }
        order = list(loops)
        for rep in range(repeats + 1):  # repeat 0 warms up caches and memory pools
            got = {}
            for key in order[rep % 3:] + order[:rep % 3]:  # rotate, so no loop always goes first
                got[key] = loops[key]()
                base.restore()  # every run starts from the same state (the finder's is restored)
            if rep == 0:
                cold = got["finder"]
            else:
                for key, value in got.items():
                    runs[key].append(value)
    finally:
        base.cleanup()
        shutil.rmtree(folder, ignore_errors=True)
        learner.close()

    def med(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    def ratio(a: str, b: str, fa: str = "loop", fb: str = "loop") -> float:
        return statistics.median(x[fa] / y[fb] for x, y in zip(runs[a], runs[b]))

    per_iter = med("finder", "loop") / n
    save, restore = med("finder", "save"), med("finder", "restore")
    return {
        "workload": workload, "ctx": ctx_name, "mode": "hybrid" if hybrid else "plain", "n": n,
        "repeats": repeats,
        "raw_ms": med("raw", "loop") / n * 1e3, "finder_ms": per_iter * 1e3,
        "naive_ms": med("naive", "loop") / n * 1e3,
        "finder_raw": ratio("finder", "raw"), "finder_naive": ratio("finder", "naive"),
        "finder_raw_cpu": ratio("finder", "raw", "loop_cpu", "loop_cpu"),
        "finder_naive_cpu": ratio("finder", "naive", "loop_cpu", "loop_cpu"),
        "finder_raw_pcpu": ratio("finder", "raw", "loop_pcpu", "loop_pcpu"),
        "finder_naive_pcpu": ratio("finder", "naive", "loop_pcpu", "loop_pcpu"),
        "finder_naive_total": ratio("finder", "naive", "total", "total"),
        "save_ms": save * 1e3, "restore_ms": restore * 1e3,
        "cold_ms": (cold["save"] + cold["restore"]) * 1e3,
        "share": (save + restore) / (save + restore + DEFAULT_SEARCH_ITERS * per_iter),
        "cold_share": (cold["save"] + cold["restore"])
        / (cold["save"] + cold["restore"] + DEFAULT_SEARCH_ITERS * per_iter),
    }


def scaling_row(workload: str, repeats: int) -> Dict[str, Any]:
    learner = setup(workload, "cpu", False)
    count = sum(p.data().size for p in learner.net.collect_params().values())
    saves, restores = [], []
    try:
        for _ in range(repeats):
            snap = TimedSnapshot(learner.net, learner.trainer)
            TimedSnapshot.log = []
            with snap:
                pass
            times = dict(TimedSnapshot.log)
            saves.append(times["save"])
            restores.append(times["restore"] + times["cleanup"])
    finally:
        learner.close()
    return {"workload": workload, "params": count, "mb": count * 4 / 2**20,
            "save_ms": statistics.median(saves) * 1e3, "restore_ms": statistics.median(restores) * 1e3}


def _rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process in MB. Not ru_maxrss: Linux carries that
    over from the parent across fork + exec, so a child would report the benchmark's own peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(workload: str, loop: str, n: int) -> Dict[str, float]:
    """Run in a fresh process: set up, run one loop of n iterations, report RSS figures (MB)."""
    learner = setup(workload, "cpu", False)
    lrs = list(sweep.exponential(LR_START, None, LR_END, n))
    mx.nd.waitall()
    before = _rss_mb("VmRSS")
    if loop == "raw":
        raw_loop(learner, iter(learner.data_loader), lrs)
    elif loop == "finder":
        finder_run(learner, lrs)
    else:
        folder = tempfile.mkdtemp(prefix="overhead-naive-")
        try:
            naive_loop(learner, iter(learner.data_loader), lrs, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    mx.nd.waitall()
    return {"before_mb": before, "peak_mb": _rss_mb("VmHWM"), "after_mb": _rss_mb("VmRSS")}


def memory_row(workload: str, n: int) -> Dict[str, Any]:
    row: Dict[str, Any] = {"workload": workload}
    for loop in ("raw", "finder", "naive"):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", workload, loop, str(n)],
            check=True, capture_output=True, text=True, env=dict(os.environ),
        ).stdout
        row[loop] = json.loads(out.strip().splitlines()[-1])
    return row


def bookkeeping(number: int = 20000) -> List[Tuple[str, float]]:
    """Microseconds per call of what the finder adds to an iteration, and one operator for scale."""
    import timeit

    from tqdm.auto import tqdm

    from gluon_lrfinder.core.curve import LRCurve
    from gluon_lrfinder.engine.learner import lr_override
    from gluon_lrfinder.engine.steps import QueuedLoss

    one = [mx.nd.random.uniform(shape=(64,))]
    two = [mx.nd.random.uniform(shape=(32,), ctx=mx.cpu(0)), mx.nd.random.uniform(shape=(32,), ctx=mx.cpu(1))]
    mx.nd.waitall()
    net = gluon.nn.Dense(2, in_units=2)
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    stop, curve = StoppingCriteria(), LRCurve()
    with open(os.devnull, "w") as sink:
        bar = tqdm(total=10**9, file=sink, leave=False)

        def in_override() -> None:
            with lr_override(trainer, 0.1):
                pass

        def op() -> None:
            one[0].mean()

        cases = [
            ("read the loss, one context (QueuedLoss.asscalar)", lambda: QueuedLoss(one, 64).asscalar()),
            ("read the loss, two contexts", lambda: QueuedLoss(two, 64).asscalar()),
            ("stopping rule (StoppingCriteria.__call__)", lambda: stop(1.0)),
            ("record the point (LRCurve.append)", lambda: curve.append(0.1, 1.0, 1.0)),
            ("progress bar (tqdm.update)", lambda: bar.update(1)),
            ("set the LR (lr_override block)", in_override),
            ("for scale: trainer.set_learning_rate", lambda: trainer.set_learning_rate(0.1)),
            ("for scale: one NDArray operator (mean of 64)", op),
        ]
        out = []
        for name, fn in cases:
            fn()
            best = min(timeit.repeat(fn, number=number // 10, repeat=5)) / (number // 10)
            out.append((name, best * 1e6))
        mx.nd.waitall()
        bar.close()
    return out


# ---------------------------------------------------------------------------- report
def machine() -> str:
    model = "unknown"
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, MXNet {mx.__version__}, NumPy {np.__version__}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"MXNET_CPU_WORKER_NTHREADS={os.environ.get('MXNET_CPU_WORKER_NTHREADS', 'unset')}"
    )


def report(rows: List[Dict[str, Any]], scaling: List[Dict[str, Any]], memory: List[Dict[str, Any]],
           seconds: float, extras: Optional[List[Tuple[str, float]]] = None) -> str:
    lines = [
        f"Machine: {machine()}",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"benchmark wall time {seconds:.0f} s.",
        "",
        "| workload | contexts | mode | iters x repeats | raw ms/it | finder ms/it | naive ms/it | "
        "finder/raw | finder/raw CPU | finder/raw Python CPU | finder/naive | finder/naive CPU |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['ctx']} | {r['mode']} | {r['n']} x {r['repeats']} | {r['raw_ms']:.2f} | "
            f"{r['finder_ms']:.2f} | {r['naive_ms']:.2f} | {r['finder_raw']:.3f} | "
            f"{r['finder_raw_pcpu']:.3f} | {r['finder_raw_cpu']:.3f} | {r['finder_naive']:.3f} | "
            f"{r['finder_naive_pcpu']:.3f} |"
        )
    lines += [
        "",
        "Per iteration: loop wall time / iterations; the finder's excludes its save and restore, "
        "the naive loop's its file I/O. Ratios: median over repeats of the per-repeat ratio, of "
        "wall time, of the process's CPU time (all threads: MXNet's engine and Python) and of "
        "the CPU time of the Python thread alone (what the finder's own code adds). CPU times "
        "do not count waiting for a core, so they stay meaningful on a busy machine; they are "
        "blind to an idle engine.",
        "",
        "| workload | contexts | mode | save ms | restore ms | state share | "
        "warm-up run's save+restore ms | its share | finder/naive incl. state |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['ctx']} | {r['mode']} | {r['save_ms']:.1f} | "
            f"{r['restore_ms']:.1f} | {100 * r['share']:.2f}% | {r['cold_ms']:.1f} | "
            f"{100 * r['cold_share']:.2f}% | {r['finder_naive_total']:.3f} |"
        )
    lines += [
        "",
        f"State share: (save + restore) / (save + restore + {DEFAULT_SEARCH_ITERS} x finder ms/it), "
        f"the default search ({DEFAULT_SEARCH_NOTE}); save/restore are medians of the warm "
        "repeats, 'warm-up run' is the finder's run in repeat 0 (cold caches), not in the medians.",
    ]
    if scaling:
        lines += [
            "",
            "Save/restore against parameter count (one context, plain, SGD momentum state included):",
            "",
            "| model | parameters | MB (float32) | save ms | restore ms | (save+restore) ms per MB |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for s in scaling:
            lines.append(
                f"| {s['workload']} | {s['params']:,} | {s['mb']:.1f} | {s['save_ms']:.1f} | "
                f"{s['restore_ms']:.1f} | {(s['save_ms'] + s['restore_ms']) / s['mb']:.2f} |"
            )
    if memory:
        lines += [
            "",
            "Peak RSS (MB), each loop alone in a fresh process (one context, plain):",
            "",
            "| workload | after setup | raw peak | finder peak | naive peak | finder - raw |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in memory:
            lines.append(
                f"| {m['workload']} | {m['raw']['before_mb']:.0f} | {m['raw']['peak_mb']:.0f} | "
                f"{m['finder']['peak_mb']:.0f} | {m['naive']['peak_mb']:.0f} | "
                f"{m['finder']['peak_mb'] - m['raw']['peak_mb']:+.0f} |"
            )
    if extras:
        lines += [
            "",
            "The finder's own work per iteration (microseconds per call, best of 5 timeit runs):",
            "",
            "| step | µs |",
            "|---|---:|",
        ]
        lines += [f"| {name} | {us:.1f} |" for name, us in extras]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer workloads, iterations and repeats")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed repeats per workload (default: MLP 15, resnet18 5; --quick 5 and 3)")
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    parser.add_argument("--memory-child", nargs=3, metavar=("WORKLOAD", "LOOP", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        workload, loop, n = args.memory_child
        print(json.dumps(memory_child(workload, loop, int(n))))
        return 0

    start = time.perf_counter()
    if args.quick:
        plan = [("mlp", c, h, 50, 5) for c in CONTEXTS for h in (False, True)]
        plan += [("resnet18_v2", "cpu", False, 2, 3)]
        scaling_models, memory_models = ["mlp", "resnet18_v2"], [("mlp", 50)]
    else:
        plan = [("mlp", c, h, 50, 15) for c in CONTEXTS for h in (False, True)]
        plan += [("resnet18_v2", c, h, 8, 5) for c in CONTEXTS for h in (False, True)]
        scaling_models = ["mlp", "resnet18_v2", "resnet50_v2"]
        memory_models = [("mlp", 50), ("resnet18_v2", 4)]
    rows = []
    for workload, ctx_name, hybrid, n, repeats in plan:
        repeats = args.repeats if args.repeats is not None else repeats
        rows.append(time_workload(workload, ctx_name, hybrid, n, repeats))
        print(f"# done {workload} {ctx_name} hybrid={hybrid}", file=sys.stderr, flush=True)
    scaling = [scaling_row(w, 3) for w in scaling_models]
    memory = [memory_row(w, n) for w, n in memory_models]
    extras = bookkeeping()
    text = report(rows, scaling, memory, time.perf_counter() - start, extras)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    return 0


sweep_module.StateSnapshot = TimedSnapshot  # time the finder's own save and restore (its sweep loop's)

if __name__ == "__main__":
    sys.exit(main())
