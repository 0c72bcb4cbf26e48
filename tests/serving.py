"""Run the real server for tests: Hypercorn on an ephemeral 127.0.0.1 port.

``ServerThread`` serves ``create_app(settings)`` in a thread with its own event loop, so both async
tests (a ``websockets`` client) and sync Playwright tests can talk to it over real TCP.
``ServerProcess`` runs ``python -m whiteboard serve`` as a child process, for tests that signal or
kill it. Both wait for readiness with a deadline and never sleep blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypercorn.asyncio import serve
from hypercorn.config import Config

from whiteboard.server.app import create_app, shutdown
from whiteboard.settings import Settings

READY_TIMEOUT_S = 15.0
START_ATTEMPTS = 3
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on TCP ``port`` (Linux ``/proc``). A port
    from :func:`free_port` is free when picked, not when the server binds it: another test's
    server may take it first, and the port then answers while this server has failed to bind."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except FileNotFoundError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                return True
    return False


def wait_for_port(port: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"server did not listen on port {port} in {timeout_s} s"
                ) from None
            threading.Event().wait(0.02)


class ServerThread:
    """The app under Hypercorn in a background thread; ``stop()`` shuts it down like SIGTERM."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._error: BaseException | None = None
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._fd = sock.detach()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            config = Config()
            config.bind = [f"fd://{self._fd}"]
            config.websocket_max_message_size = self.settings.max_frame_bytes
            config.graceful_timeout = 2
            config.accesslog = None

            async def trigger() -> None:
                assert self._stop is not None
                await self._stop.wait()
                await shutdown(self.app)

            await serve(self.app, config, shutdown_trigger=trigger)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def call(self, function: Callable[[], T], timeout_s: float = 10.0) -> T:
        """Run ``function`` on the server's event loop (its state is not thread-safe) and return
        what it returns."""
        assert self._loop is not None

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def connections(self, board: str) -> list[Any]:
        """The connections of ``board`` on the server (none when it is not loaded)."""

        def read() -> list[Any]:
            hub = self.app.extensions["whiteboard_hubs"].loaded(board)
            return [] if hub is None else list(hub.connections)

        return self.call(read)

    def start(self) -> ServerThread:
        self._thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            raise RuntimeError("server thread did not stop within 15 s")
        if self._error is not None:
            raise RuntimeError("server thread failed") from self._error

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServerProcess:
    """``python -m whiteboard serve`` in a child process (for SIGTERM and SIGKILL tests)."""

    def __init__(
        self,
        boards_dir: Path,
        *extra_args: str,
        env: dict[str, str] | None = None,
        max_open_files: int | None = None,
        output: Path | None = None,
        prefix: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        """``max_open_files`` sets the child's RLIMIT_NOFILE (soft and hard, so the server cannot
        raise it); ``output`` sends its output to that file instead of a pipe (a pipe read only at
        the end would block a server that logs more than 64 KB); ``prefix`` runs it through a
        wrapper that ends by exec'ing it (the child's pid stays the server's); ``port`` restarts a
        server where its clients will reconnect."""
        self._port_was_picked = port is None
        self.port = port or free_port()
        self.boards_dir = boards_dir
        self.max_open_files = max_open_files
        self.output = output
        self._prefix, self._extra_args = prefix, extra_args
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        return [
            *self._prefix,
            sys.executable,
            "-m",
            "whiteboard",
            "serve",
            "--port",
            str(self.port),
            "--boards-dir",
            str(self.boards_dir),
            *self._extra_args,
        ]

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        for _ in range(START_ATTEMPTS - 1):
            if self._start() or not self._port_was_picked:
                return self
            self.port = free_port()  # another server took the one picked: pick again
        if not self._start():
            raise TimeoutError(f"server did not listen on port {self.port}")
        return self

    def _start(self) -> bool:
        """Start the child; True once it listens on the port, False when it exited without
        (another process holds the port: it answers, but not from this server)."""
        limit = self.max_open_files
        sink = subprocess.PIPE if self.output is None else self.output.open("wb")
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
            preexec_fn=None
            if limit is None
            else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)),
        )
        if self.output is not None:
            sink.close()  # type: ignore[union-attr]
        try:
            wait_for_port(self.port)
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not listens(self.proc.pid, self.port):
                if self.proc.poll() is not None:
                    self.wait()
                    return False
                if time.monotonic() > deadline:
                    raise TimeoutError
                time.sleep(0.02)
        except TimeoutError:
            self.proc.kill()
            _, out = self.wait()
            raise TimeoutError(f"server did not start; its output:\n{out}") from None
        return True

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 15) -> tuple[int, str]:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout_s)
        if self.output is not None:
            out = self.output.read_bytes()
        return self.proc.returncode, (out or b"").decode(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.communicate(timeout=15)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
