"""The supervisor's workers die with it (``supervisor.py``), even when it dies before a worker
has asked the kernel for that."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys

from whiteboard.supervisor import _die_with_parent

WAIT_S = 10.0


def test_a_worker_whose_supervisor_died_before_it_asked_to_die_with_it_ends_at_once() -> None:
    """PR_SET_PDEATHSIG only covers a parent that dies after the call: a supervisor killed
    between a worker's fork and its prctl (the test of a killed supervisor did that under load)
    left a worker serving on its own, for ever. The worker was re-parented: its parent is not
    the supervisor it was started by, so it must end."""
    supervisor_pid = os.getpid() + 1  # not the worker's parent: as if it had died meanwhile
    worker = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        preexec_fn=functools.partial(_die_with_parent, supervisor_pid),
    )
    try:
        assert worker.wait(WAIT_S) == -signal.SIGTERM
    finally:
        worker.kill()
        worker.wait()


def test_a_worker_of_a_live_supervisor_runs() -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", "print('ran')"],
        preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = worker.communicate(timeout=WAIT_S)
    assert (worker.returncode, out) == (0, "ran\n")
