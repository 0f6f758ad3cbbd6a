"""Start a local MXNet parameter-server job (scheduler, servers, workers) and reap it.

This module uses the standard library only (no MXNet import), so the launcher starts fast; the
command line is ``gluon-lrfinder launch`` (see :func:`main`).

Every process is started in its own session (its own process group), every wait has a
deadline, and whatever is still running at the end (a timeout, a failed worker that leaves the
others blocked in a push, a Ctrl-C) is killed by its process group, first with SIGTERM and
then with SIGKILL, and reaped.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Dict, List, Mapping, Optional, Sequence

from .._signals import sigint_deferred
from ..core._validate import check_int

__all__ = ["LaunchResult", "launch", "main", "free_port", "cluster_env"]

logger = logging.getLogger(__name__)

#: What the scheduler and the servers run: importing MXNet with ``DMLC_ROLE`` set to
#: ``scheduler`` or ``server`` runs that role until the workers finish, then returns.
ROLE_COMMAND = (sys.executable, "-c", "import mxnet")


@dataclass
class LaunchResult:
    """What happened to a job started by :func:`launch`.

    Attributes
    ----------
    returncodes : dict of str to int or None
        Exit code per process (``scheduler``, ``server0``..., ``worker0``...); negative for a
        signal (e.g. ``-9`` when killed).
    pids : dict of str to int
        The process ids (each is also the id of the process's own group).
    timed_out : bool
        The deadline passed before every process had exited.
    failed : list of str
        The processes that exited with a non-zero code by themselves.
    killed : list of str
        The processes the launcher had to kill.
    port : int
        ``DMLC_PS_ROOT_PORT`` of the job.
    wall_s : float
        Seconds from the first start to the last reap.
    """

    returncodes: Dict[str, Optional[int]] = field(default_factory=dict)
    pids: Dict[str, int] = field(default_factory=dict)
    timed_out: bool = False
    failed: List[str] = field(default_factory=list)
    killed: List[str] = field(default_factory=list)
    port: int = 0
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every process exited by itself with code 0."""
        return (not self.timed_out and not self.killed
                and all(rc == 0 for rc in self.returncodes.values()))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def cluster_env(
    role: str, num_workers: int, num_servers: int, root_uri: str, root_port: int,
    node_host: Optional[str] = None,
) -> Dict[str, str]:
    """The ``DMLC_*`` variables one process of a ps-lite job needs.

    Parameters
    ----------
    role : {"scheduler", "server", "worker"}
    num_workers, num_servers : int
        The job's totals (the same on every host).
    root_uri, root_port : str, int
        Address of the scheduler (the same on every host).
    node_host : str, optional
        The address this process listens on and announces (``DMLC_NODE_HOST``).

    Examples
    --------
    >>> env = cluster_env("worker", 4, 1, "10.0.0.1", 9091)
    >>> env["DMLC_ROLE"], env["DMLC_NUM_WORKER"], env["DMLC_PS_ROOT_URI"]
    ('worker', '4', '10.0.0.1')
    """
    if role not in ("scheduler", "server", "worker"):
        raise ValueError(f"role must be 'scheduler', 'server' or 'worker', got {role!r}")
    env = {
        "DMLC_ROLE": role,
        "DMLC_PS_ROOT_URI": str(root_uri),
        "DMLC_PS_ROOT_PORT": str(int(root_port)),
        "DMLC_NUM_WORKER": str(int(num_workers)),
        "DMLC_NUM_SERVER": str(int(num_servers)),
    }
    if node_host is not None:
        env["DMLC_NODE_HOST"] = node_host
    return env


def _kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Signal the process group led by ``proc`` (one we started with its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_group_gone(pgid: int, timeout: float) -> bool:
    """Wait until no process of group ``pgid`` is left (a SIGKILL takes effect asynchronously:
    a killed grandchild is gone only once the kernel has torn it down and init reaped it)."""
    end = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # pragma: no cover - not ours
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)


def launch(
    command: Sequence[str],
    num_workers: int,
    num_servers: int = 1,
    timeout: float = 3600.0,
    host: str = "127.0.0.1",
    port: Optional[int] = None,
    env: Optional[Mapping[str, str]] = None,
    log_dir: Optional[str] = None,
    kill_grace: float = 2.0,
) -> LaunchResult:
    """Run ``command`` as ``num_workers`` workers of a local ``dist_sync`` job and reap it.

    Starts one scheduler and ``num_servers`` servers (each ``python -c "import mxnet"`` with
    its ``DMLC_ROLE``) and the workers, all bound to ``host``, on a free port unless ``port``
    is given. Each worker also gets ``GLUON_LRFINDER_WORKER_INDEX`` (its launch index; the
    kvstore rank is assigned by the scheduler and may differ).

    The launcher waits until every process has exited, but at most ``timeout`` seconds. A
    worker or server that exits with a non-zero code ends the job at once (the others would
    block forever in their next push): everything still running is killed by process group
    (SIGTERM, then SIGKILL after ``kill_grace`` seconds) and reaped, also on Ctrl-C.

    Parameters
    ----------
    command : sequence of str
        The worker command, e.g. ``["python", "train.py"]``.
    num_workers : int
        Number of workers, >= 1.
    num_servers : int, default 1
        Number of servers, >= 1.
    timeout : float, default 3600
        Deadline for the whole job in seconds, > 0.
    host : str, default "127.0.0.1"
        Address the scheduler, servers and workers listen on.
    port : int, optional
        The scheduler's port; default: a free one.
    env : mapping, optional
        Base environment (default: this process's); the ``DMLC_*`` variables are added.
    log_dir : str, optional
        Write each process's output to ``<log_dir>/<name>.log`` instead of this terminal.
    kill_grace : float, default 2
        Seconds between SIGTERM and SIGKILL when killing.

    Returns
    -------
    LaunchResult

    Examples
    --------
    >>> result = launch([sys.executable, "train.py"], num_workers=2, timeout=120)  # doctest: +SKIP
    >>> result.ok, result.returncodes["worker0"]  # doctest: +SKIP
    (True, 0)
    """
    if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
        raise TypeError(f"command must be a non-empty list of strings, got {command!r}")
    check_int("num_workers", num_workers, 1)
    check_int("num_servers", num_servers, 1)
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if port is not None:
        check_int("port", port, 1)
    port = free_port(host) if port is None else port
    base = dict(os.environ if env is None else env)
    base.setdefault("PS_VERBOSE", "0")
    if log_dir is not None:
        os.makedirs(log_dir, exist_ok=True)

    result = LaunchResult(port=port)
    procs: Dict[str, subprocess.Popen[bytes]] = {}
    logs: List[IO[bytes]] = []
    t0 = time.monotonic()
    deadline = t0 + float(timeout)

    def start(name: str, role: str, argv: Sequence[str], extra: Dict[str, str]) -> None:
        child_env = dict(base)
        child_env.update(cluster_env(role, num_workers, num_servers, host, port, node_host=host))
        child_env.update(extra)
        out = None
        if log_dir is not None:
            out = open(os.path.join(log_dir, f"{name}.log"), "wb")  # noqa: SIM115
            logs.append(out)
        with sigint_deferred():  # a Ctrl-C inside Popen would leave a child we do not know of
            procs[name] = subprocess.Popen(
                list(argv), env=child_env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if out is not None else None, start_new_session=True,
            )
            result.pids[name] = procs[name].pid

    try:
        start("scheduler", "scheduler", ROLE_COMMAND, {})
        for s in range(num_servers):
            start(f"server{s}", "server", ROLE_COMMAND, {})
        for w in range(num_workers):
            start(f"worker{w}", "worker", command, {"GLUON_LRFINDER_WORKER_INDEX": str(w)})
        while True:
            running = [n for n, p in procs.items() if p.poll() is None]
            bad = [n for n, p in procs.items() if p.returncode not in (None, 0)]
            if not running:
                break
            if bad:
                logger.error("%s failed (exit codes %s): stopping the job",
                             ", ".join(bad), {n: procs[n].returncode for n in bad})
                break
            if time.monotonic() >= deadline:
                result.timed_out = True
                logger.error("the job did not finish within %.0f s: stopping it", timeout)
                break
            time.sleep(0.05)
    finally:
        _reap(procs, result, kill_grace)
        for f in logs:
            f.close()
        result.wall_s = time.monotonic() - t0
    return result


def _reap(procs: Dict[str, subprocess.Popen[bytes]], result: LaunchResult, grace: float) -> None:
    """Kill (by process group) whatever still runs, reap everything, fill in ``result``."""
    result.failed = [n for n, p in procs.items() if p.poll() is not None and p.returncode != 0]
    alive = [n for n, p in procs.items() if p.poll() is None]
    result.killed = alive
    for n in alive:
        _kill_group(procs[n], signal.SIGTERM)
    end = time.monotonic() + grace
    for n in alive:
        try:
            procs[n].wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_group(procs[n], signal.SIGKILL)
    for n, p in procs.items():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            logger.error("%s (pid %d) did not die after SIGKILL", n, p.pid)
        # Anything the process left behind in its group (e.g. DataLoader workers) goes too,
        # and is gone when this returns.
        _kill_group(p, signal.SIGKILL)
        if not _wait_group_gone(p.pid, timeout=10.0):  # pragma: no cover - SIGKILL cannot be ignored
            logger.error("process group %d of %s still has processes after SIGKILL", p.pid, n)
        result.returncodes[n] = p.returncode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gluon-lrfinder launch",
        description=(
            "Run a training script as the workers of a local MXNet dist_sync job: starts the "
            "scheduler, the servers and the workers on one machine with the DMLC_* variables "
            "set, waits (bounded by --timeout) and kills and reaps every process it started."
        ),
        epilog="example: gluon-lrfinder launch -n 4 -- python train.py --epochs 1",
    )
    parser.add_argument("-n", "--num-workers", type=int, required=True, help="number of workers")
    parser.add_argument("-s", "--servers", type=int, default=1, help="number of servers (1)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds before the whole job is killed (3600)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="scheduler port (a free one)")
    parser.add_argument("--log-dir", default=None,
                        help="write each process's output to LOG_DIR/<name>.log")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the worker command, after '--'")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: ``gluon-lrfinder launch -n 4 -- python train.py``.

    Returns 0 when every process exited with code 0 by itself, 1 otherwise (a failed worker,
    a timeout), 2 for bad arguments, 130 after Ctrl-C (the job is stopped first).

    Examples
    --------
    >>> main(["-n", "2", "--timeout", "60", "--", "python", "train.py"])  # doctest: +SKIP
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        parser.print_usage(sys.stderr)
        sys.stderr.write("error: give the worker command after '--'\n")
        return 2
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="gluon-lrfinder launch: %(message)s")
    try:
        result = launch(command, args.num_workers, args.servers, args.timeout, host=args.host,
                        port=args.port, log_dir=args.log_dir)
    except (TypeError, ValueError) as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    except KeyboardInterrupt:  # launch() has already killed and reaped the job
        sys.stderr.write("interrupted: every process of the job was stopped\n")
        return 130
    logger.info("exit codes %s after %.1f s%s", result.returncodes, result.wall_s,
                " (timed out)" if result.timed_out else "")
    return 0 if result.ok else 1

