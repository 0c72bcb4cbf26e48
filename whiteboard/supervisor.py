"""``whiteboard serve --redis URL --workers N``: N worker processes sharing one listening socket.

The supervisor binds one listening socket per worker, all on the same port with SO_REUSEPORT,
and starts N workers (``python -m whiteboard serve``, each inheriting its socket as the descriptor
named in ``WHITEBOARD_LISTEN_FD``). The kernel spreads new connections evenly over the sockets
(a hash of the connection), where one shared socket would hand most of them to whichever process
happens to be waiting in accept. The supervisor keeps every socket open, so a worker's port never
closes: connections that arrive while a worker restarts wait in its socket's backlog. A worker
that exits unexpectedly is restarted with backoff; SIGTERM/SIGINT are forwarded, so every worker
closes its WebSockets with 1001 (pages reconnect to the others) and flushes before it exits.

Hypercorn's own ``workers`` option is not used: ``hypercorn.asyncio.serve`` ignores it, and a
supervisor of our own is small enough to test (restart, signal forwarding, shared socket).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .settings import Settings

log = logging.getLogger("whiteboard.supervisor")

LISTEN_FD_ENV = "WHITEBOARD_LISTEN_FD"
WORKER_INDEX_ENV = "WHITEBOARD_WORKER_INDEX"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER_S = 60.0
"""A worker that ran this long before dying restarts at once: it crashed, it is not looping."""
STOP_GRACE_S = 10.0
"""Time the workers get after SIGTERM to close their connections and flush, before SIGKILL."""


def bind_listeners(settings: Settings, backlog: int) -> list[socket.socket]:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sockets = []
    for _ in range(settings.workers):
        sock = socket.create_server(
            (settings.host, settings.port), family=family, backlog=backlog, reuse_port=True
        )
        sock.set_inheritable(True)
        sockets.append(sock)
    return sockets


@dataclass(slots=True)
class Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None


@dataclass(slots=True)
class Supervisor:
    settings: Settings
    argv: Sequence[str]  # the serve command's own arguments, passed on to every worker
    backlog: int
    workers: list[Worker] = field(default_factory=list)
    _stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        listeners = bind_listeners(self.settings, self.backlog)
        metrics_dir = tempfile.mkdtemp(prefix="whiteboard-metrics-")
        env = {**os.environ, METRICS_DIR_ENV: os.environ.get(METRICS_DIR_ENV, metrics_dir)}
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stopping.set())
        self.workers = [Worker(i) for i in range(self.settings.workers)]
        log.info(
            "supervisor: %d workers on %s:%d",
            len(self.workers),
            self.settings.host,
            self.settings.port,
        )
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                for worker, listener in zip(self.workers, listeners, strict=True):
                    self._tend(worker, env, listener.fileno(), now)
                self._stopping.wait(0.2)
        finally:
            self._stop_all()
            for listener in listeners:
                listener.close()
        return 0

    def _tend(self, worker: Worker, env: dict[str, str], fd: int, now: float) -> None:
        proc = worker.proc
        if proc is not None and proc.poll() is None:
            return
        if proc is not None:
            ran_s = now - worker.started
            worker.failures = 0 if ran_s >= STABLE_AFTER_S else worker.failures + 1
            delay = RESTART_BACKOFF_S[min(worker.failures, len(RESTART_BACKOFF_S) - 1)]
            delay = 0.0 if worker.failures == 0 else delay
            log.warning(
                "worker %d (pid %d) exited with %s after %.1f s; restarting in %.1f s",
                worker.index,
                proc.pid,
                proc.returncode,
                ran_s,
                delay,
            )
            worker.proc, worker.restart_at = None, now + delay
        if worker.restart_at is not None and now < worker.restart_at:
            return
        worker.proc = subprocess.Popen(
            [sys.executable, "-m", "whiteboard", "serve", *self.argv],
            env={**env, WORKER_INDEX_ENV: str(worker.index), LISTEN_FD_ENV: str(fd)},
            pass_fds=(fd,),
            preexec_fn=functools.partial(_die_with_parent, os.getpid()),
        )
        worker.started, worker.restart_at = now, None

    def _stop_all(self) -> None:
        running = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker pid %d did not stop in %.0f s; killing it", proc.pid, STOP_GRACE_S
                )
                proc.kill()
                proc.wait()


PR_SET_PDEATHSIG = 1


def _die_with_parent(supervisor_pid: int) -> None:
    """In the worker, before exec: the kernel sends SIGTERM when the supervisor dies, even by
    SIGKILL, so no orphaned worker keeps serving (and holding boards' leases) on its own. It
    sends none for a supervisor that died before the call (between the fork and here): then the
    worker was re-parented already, and ends itself."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != supervisor_pid:
        os.kill(os.getpid(), signal.SIGTERM)
