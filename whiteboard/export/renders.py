"""Running export renders: the worker process, one render per distinct picture, within limits.

Rendering runs in a worker process (``EXPORT_WORKERS``, with band helpers of its own), never on the
event loop and not in a thread either: a thread would hold the GIL for most of a render and stall
live drawing by several milliseconds at a time (``docs/performance.md``, Export). Distinct renders
are bounded per client address (``max_exports_per_client``, then 429) and in all
(``max_pending_exports``, then 503), both with ``Retry-After``; a render that still runs at
``export_timeout_s`` stops in the worker and says so (503).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from quart import Response

from ..elements import MEDIA_NAME_BYTES
from ..server.metrics import EXPORT_SECONDS
from ..settings import Settings
from .cache import Cached
from .frame import ExportOptions
from .responses import refusal
from .spec import (
    BoardTooLarge,
    ExportDeadline,
    ExportLimits,
    ExportResult,
    export_in_worker,
    start_export_worker,
    stop_processes,
)

log = logging.getLogger(__name__)

EXPORT_WORKERS = 1
"""Worker processes taking export jobs; each draws large PNGs with ``export_processes`` bands."""
EXPORT_WORKER_NICENESS = 10
"""How much lower the workers' CPU priority is than the server's."""
TIMEOUT_GRACE_S = 10.0
"""A worker that has not answered this long after the export's deadline is presumed stuck."""
WAKE_PER_TURN = 4
"""Requests waiting for one render woken per turn of the event loop (``SharedRender``)."""
SERVER_CLIENT = "(server)"
"""The client the server's own renders count under (``Renders.start``)."""


class Renders:
    """The export worker and the renders under way, each shared by every request for it."""

    def __init__(self, store: Any, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.file_store = hasattr(store, "root")  # else Redis mode: the worker gets the records
        self._inflight: dict[tuple[str, ...], SharedRender] = {}
        self._renders_by_client: Counter[str] = Counter()
        self._pool: concurrent.futures.Executor | None = None
        self._submitter = concurrent.futures.ThreadPoolExecutor(1, "export-submit")
        self._pending = 0
        self._renders: set[asyncio.Future[Cached]] = set()  # in flight, kept alive

    def _executor(self) -> concurrent.futures.Executor:
        if self._pool is None:
            # spawn, not fork: the server has threads (fork would copy their locks mid-use).
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                EXPORT_WORKERS,
                mp_context=context,
                initializer=start_export_worker,
                initargs=(EXPORT_WORKER_NICENESS,),
            )
        return self._pool

    def warm(self) -> None:
        """Start the export worker now if it is not running, so that the first export does not
        wait for it (``start_export_worker``). Called when a board page opens; cheap after the
        first call. The pool spawns its process on a submit, and a spawn held the event loop for
        128 ms (``_render``): this submit runs on the submitter thread too."""
        if self._pool is not None:
            return
        self._submitter.submit(self._executor().submit, os.getpid)

    def close(self) -> None:
        if self._pool is not None:  # its band helpers exit with it
            stop_processes(self._pool)
            self._pool = None
        self._submitter.shutdown(wait=False)

    def in_progress(self, key: tuple[str, ...]) -> SharedRender | None:
        """The render of ``key`` (board, version, kind, options) under way, if one is."""
        return self._inflight.get(key)

    @property
    def count(self) -> int:
        """Renders under way."""
        return len(self._inflight)

    def start(
        self,
        key: tuple[str, ...],
        client: str | None,
        kind: str,
        options: ExportOptions,
        path: Path,
        upto: int | None,
        keep: Callable[[ExportResult], Cached],
    ) -> SharedRender | Response:
        """Start rendering ``key`` (board, version, kind, options) for ``client``, within the
        limits, or the refusal. ``client`` None is the server itself (``FirstPictures``
        rendering ahead of visitors): bound by ``max_pending_exports`` alone."""
        client = client or SERVER_CLIENT
        if (
            client != SERVER_CLIENT
            and self._renders_by_client[client] >= self.settings.max_exports_per_client
        ):
            return refusal(
                429,
                f"you have {self._renders_by_client[client]} exports in "
                "progress (max_exports_per_client); retry when one is done",
                2,
            )
        if self._pending >= self.settings.max_pending_exports:
            return refusal(503, "too many exports in progress; retry shortly", 5)
        self._pending += 1
        self._renders_by_client[client] += 1
        shared = SharedRender(WAKE_PER_TURN)
        self._inflight[key] = shared
        # The render outlives this request: a page that asked for its first picture and was
        # drawn (or closed) before it came leaves it rendered and cached for the next visitor,
        # instead of throwing the worker's second away. It keeps its client's share until done.
        render = asyncio.ensure_future(
            self._render_shared(shared, key, client, kind, options, path, upto, keep)
        )
        self._renders.add(render)
        render.add_done_callback(self._rendered)
        return shared

    async def _render_shared(
        self,
        shared: SharedRender,
        key: tuple[str, ...],
        client: str,
        kind: str,
        options: ExportOptions,
        path: Path,
        upto: int | None,
        keep: Callable[[ExportResult], Cached],
    ) -> Cached:
        """One render, kept (``keep``: the cache) and handed to every request waiting for it."""
        board_id = key[0]
        try:
            result = await self._render(kind, options, path, upto, board_id)
            entry = keep(result)
            shared.finish(entry)
        except BaseException as exc:
            shared.fail(exc)
            raise
        finally:
            self._pending -= 1
            self._renders_by_client[client] -= 1
            if not self._renders_by_client[client]:
                del self._renders_by_client[client]
            self._inflight.pop(key, None)
        return entry

    def _rendered(self, render: asyncio.Future[Cached]) -> None:
        self._renders.discard(render)
        if not render.cancelled():
            render.exception()  # retrieved: its requests, if any are left, have reported it

    def failure(self, board_id: str, kind: str, exc: BaseException) -> Response:
        """The answer to a request whose render failed with ``exc``."""
        if isinstance(exc, BoardTooLarge):
            return refusal(413, str(exc))
        if isinstance(exc, ExportDeadline | TimeoutError):
            return refusal(
                503,
                f"the export took longer than {self.settings.export_timeout_s:g} "
                "s (export_timeout_s) and was stopped; try a smaller scale or region",
                30,
            )
        if isinstance(exc, BrokenProcessPool):
            self._pool = None  # the worker died (out of memory?): start a new one next time
        log.error("export %s of board %s failed: %r", kind, board_id, exc)
        return refusal(500, "the export failed")

    async def _images(
        self, board_id: str, source: str | list[bytes] | None
    ) -> str | dict[str, bytes] | None:
        """Where the worker finds the board's images: the file store's media directory, which it
        reads as it needs; else (Redis mode, no shared disk) every image the records name,
        fetched here by name, at most ``max_board_bytes`` of them as for the records."""
        directory = getattr(self.store.media, "directory", None)
        if directory is not None:
            return str(directory(board_id))
        if not isinstance(source, list):
            return None
        names = {match.group().decode() for match in MEDIA_NAME_BYTES.finditer(b"".join(source))}
        images = {}
        for name in sorted(names):
            data = await self.store.media.read_for_board(board_id, name)
            if data is not None:
                images[name] = data
        return images

    async def _render(
        self, kind: str, options: ExportOptions, path: Path, upto: int | None, board_id: str
    ) -> ExportResult:
        timeout_s = self.settings.export_timeout_s
        limits = ExportLimits.from_settings(
            self.settings,
            max_points=self.settings.max_export_points,
            deadline=time.time() + timeout_s,
        )
        blank = upto == 0  # never drawn on: a small blank picture, no file read
        source: str | list[bytes] | None = None if blank else str(path)
        if not self.file_store and not blank:  # Redis mode: the worker gets the records
            source = await self.store.read_records(board_id)
            if sum(len(r) for r in source) > self.settings.max_board_bytes:
                raise BoardTooLarge(
                    f"the board holds over max_board_bytes ({self.settings.max_board_bytes:,}) "
                    "of records: too large to export here"
                )
        images = await self._images(board_id, source)
        # Submitted from a thread: the pool spawns its worker on a submit finding none idle (the
        # first export, or after a crash), and a spawn held the event loop for 128 ms. One
        # thread of our own, alive as long as the pool: the worker's parent-death signal fires
        # when the thread that spawned it ends, not the process.
        submitted = await asyncio.get_running_loop().run_in_executor(
            self._submitter,
            functools.partial(
                self._executor().submit,
                export_in_worker,
                kind,
                options,
                source,
                upto,
                limits,
                images,
            ),
        )
        future = asyncio.wrap_future(submitted)
        with EXPORT_SECONDS.labels(format=kind).time():
            return await asyncio.wait_for(future, timeout_s + TIMEOUT_GRACE_S)


class SharedRender:
    """One render and the requests waiting for it, woken at most ``per_turn`` per turn of the
    event loop.

    200 requests for one picture (a shared link opened by a room) used to wait on the render's
    future itself, so all 200 woke in the one turn of the event loop that followed it: 40 ms of
    framework work in one step, and live drawing on every board waited for it
    (bench/bench_export_storm.py). Here each waiter has a future of its own in a queue, and the
    queue is released a few at a time, one batch per turn, the drawing's turns in between.
    """

    def __init__(self, per_turn: int) -> None:
        self.per_turn = per_turn
        self._outcome: asyncio.Future[Cached] = asyncio.get_running_loop().create_future()
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def wait(self) -> Cached:
        """The render's picture once it is this waiter's turn (or the render's exception)."""
        if not self._outcome.done():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter  # cancelled (the client went away): skipped by ``_wake``
        return self._outcome.result()

    def finish(self, entry: Cached) -> None:
        self._outcome.set_result(entry)
        self._wake()

    def fail(self, exc: BaseException) -> None:
        self._outcome.set_exception(exc)
        self._outcome.exception()  # retrieved: each waiter gets it from ``wait``
        self._wake()

    def _wake(self) -> None:
        woken = 0
        while self._waiters and woken < self.per_turn:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        if self._waiters:  # the next batch in the next turn: call_soon runs after this turn
            asyncio.get_running_loop().call_soon(self._wake)
