"""Holding a Ctrl-C through a block that must not be cut in half (no MXNet import).

Used where an interrupted block would leave something behind: the restore of a snapshot
(``engine.state``) and the start of a job's process (``integrations.launcher``: a Ctrl-C inside
``subprocess.Popen`` would leave a started child that the launcher does not know of).

Examples
--------
>>> with sigint_deferred():
...     pass  # a Ctrl-C here is raised as KeyboardInterrupt once the block is done
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator, List

__all__ = ["sigint_deferred"]


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives during the block and raise it afterwards (main thread only;
    elsewhere, or where no handler may be set, the block runs unshielded)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: List[Any] = []
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not allowed here (e.g. embedded interpreter): run unshielded
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
