"""gluon_lrfinder._signals: a Ctrl-C inside the block is held until the block is done."""
import os
import signal
import threading

import pytest

from gluon_lrfinder._signals import sigint_deferred

# The handler in place before the block is what comes back. It is not always Python's default:
# a process started in the background by a non-interactive shell (``make test &``) inherits an
# ignored SIGINT, and Python leaves it ignored.


def test_a_ctrl_c_inside_the_block_is_raised_after_it():
    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt):
        with sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("rest of the block")
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is before


def test_no_ctrl_c_no_exception_and_the_handler_is_back():
    before = signal.getsignal(signal.SIGINT)
    with sigint_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_block_runs_unshielded():
    before = signal.getsignal(signal.SIGINT)
    seen = []

    def body():
        with sigint_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == [before]
