"""``whiteboard serve``: what the settings change in Hypercorn's configuration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hypercorn.config import Config

from tests.serving import READY_TIMEOUT_S, free_port
from whiteboard.cli import GIL_SWITCH_INTERVAL_S, hypercorn_config
from whiteboard.settings import Settings


def test_the_listen_backlog_holds_a_room_arriving_at_once() -> None:
    assert Config().backlog == 100  # Hypercorn's own: a room of phones would overflow it
    assert hypercorn_config(Settings()).backlog == Settings().listen_backlog >= 2000
    assert hypercorn_config(Settings(listen_backlog=300)).backlog == 300


SERVE_AND_REPORT = """
import os, signal, sys, threading
from tests.serving import wait_for_port
from whiteboard.cli import main

def report() -> None:
    wait_for_port(int(sys.argv[1]))
    print("switch interval", sys.getswitchinterval(), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=report, daemon=True).start()
sys.exit(main(["serve", "--port", sys.argv[1], "--boards-dir", sys.argv[2]]))
"""


def test_whiteboard_serve_sets_the_gil_switch_interval(tmp_path: Path) -> None:
    """A log append's thread waits for the GIL after each system call; at Python's 5 ms the
    event loop kept it that long (13 ms for an append during a big board's load). The real
    ``whiteboard serve``, in a process of its own, reports its interval once it listens."""
    assert sys.getswitchinterval() != GIL_SWITCH_INTERVAL_S  # what the test process has
    done = subprocess.run(
        [sys.executable, "-c", SERVE_AND_REPORT, str(free_port()), str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=READY_TIMEOUT_S + 15,
        check=False,
    )
    assert f"switch interval {GIL_SWITCH_INTERVAL_S}\n" in done.stdout, done.stderr
    assert done.returncode == 0, done.stderr  # it shut down on the signal as serve does
