"""The server's event loop: asyncio's own, accepting connections at a bounded rate.

A turn of the event loop runs every callback that was ready when it began, and a drawing op
takes several turns to come back to its sender (read, handle, fan out, write), each waiting for
the rest of its turn. asyncio accepts up to the listen backlog (2,048 here) whenever the
listening socket is readable, so 200 export requests arriving together (a shared link opened by
a room, a script) went through Hypercorn's per-connection set-up (~0.3 ms of steps each) as one
cohort: turns of 200-350 callbacks, 5-11 ms each, and drawing on another board waited for
several of them, 16-47 ms (``bench/bench_export_storm.py --watch``). Taking fewer per turn alone
did not help: the cohort's steps then filled more turns in a row, and a drawing op needs several.

Here connections are accepted from a token bucket: ``accept_burst`` at once, then
``accepts_per_second``. While no token is due the listening socket is not watched at all, and
the connections wait in the kernel's queue (``listen_backlog``), so a burst's set-up is spread
over time, at most the rate's share of the loop, with the drawing's turns short in between.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
from typing import Any

WORKER_THREADS = min(32, (os.cpu_count() or 1) + 4)
"""Threads of the event loop's default executor: ``ThreadPoolExecutor``'s own default."""
THREAD_START_TIMEOUT_S = 10.0


def start_worker_threads(count: int = WORKER_THREADS) -> None:
    """Give the running event loop a default executor whose ``count`` threads are all started now.

    ``asyncio.to_thread`` (log appends and reads, unmapping, the compactor's submits) starts a
    new thread whenever none is idle, and ``Thread.start`` holds the event loop until the new
    thread has run: 11 ms once (0.5 ms of it on a CPU) while a big board loaded and others drew.
    Started at start-up, before anyone is connected, they stay: an executor's threads never
    exit before it shuts down. Each thread waits at a barrier until all are started, so every
    submit finds none idle and starts one."""
    executor = concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="whiteboard")
    everyone = threading.Barrier(count)
    for _ in range(count):
        executor.submit(everyone.wait, THREAD_START_TIMEOUT_S)
    asyncio.get_running_loop().set_default_executor(executor)


class ServerEventLoop(asyncio.SelectorEventLoop):
    """``asyncio.SelectorEventLoop`` accepting at most ``accept_burst`` connections at once and
    ``accepts_per_second`` over time.

    Overrides two private methods of ``asyncio.selector_events`` (unchanged from Python 3.8 to
    3.13); ``tests/test_eventloop.py`` fails if they stop being called."""

    def __init__(self, accepts_per_second: float, accept_burst: int) -> None:
        super().__init__()
        self.accepts_per_second = accepts_per_second
        self.accept_burst = accept_burst
        self._tokens = float(accept_burst)
        self._filled_at = self.time()
        self._accepted = 0  # counted by ``_accept_connection2``, once per accepted connection

    def _accept_connection(  # type: ignore[override]
        self,
        protocol_factory: Any,
        sock: socket.socket,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *args: Any,
    ) -> None:
        now = self.time()
        self._tokens = min(
            float(self.accept_burst),
            self._tokens + (now - self._filled_at) * self.accepts_per_second,
        )
        self._filled_at = now
        allowed = min(backlog, int(self._tokens))
        if allowed:
            before = self._accepted
            super()._accept_connection(  # type: ignore[misc]
                protocol_factory, sock, sslcontext, server, allowed, *args
            )
            self._tokens -= self._accepted - before
            if self._accepted - before < allowed:
                return  # the kernel's queue is empty (or asyncio paused on an error)
        # More may be waiting: stop watching the socket until the next token is due.
        self._remove_reader(sock.fileno())
        self.call_later(
            (1 - self._tokens) / self.accepts_per_second,
            self._resume_accepting,
            (protocol_factory, sock, sslcontext, server, backlog, *args),
        )

    def _resume_accepting(self, accept_args: tuple[Any, ...]) -> None:
        sock, server = accept_args[1], accept_args[3]
        if sock.fileno() == -1 or (server is not None and not server.is_serving()):
            return  # the server closed meanwhile
        self._add_reader(sock.fileno(), self._accept_connection, *accept_args)

    def _accept_connection2(  # type: ignore[override]
        self, protocol_factory: Any, conn: socket.socket, *args: Any, **kwargs: Any
    ) -> Any:
        self._accepted += 1
        return super()._accept_connection2(protocol_factory, conn, *args, **kwargs)  # type: ignore[misc]
