"""Export routes: ``/b/<id>/export.png|svg|pdf`` and ``/b/<id>/timelapse.gif``.

Rendering runs in a worker process (``EXPORT_WORKERS``), never on the event loop and not in a
thread either: a thread would hold the GIL for most of a render and stall live drawing by several
milliseconds at a time (``docs/performance.md``, Export). The worker reads the board's log file
read-only, up to the durable head when the board is loaded, so an export neither loads a board
nor creates a file: a valid id never drawn on is a small blank picture.

Results are cached per (board, seq, format, options) in a small LRU; the ETag names the same, so
``If-None-Match`` of an unchanged board is a 304 and a board is never rendered twice at one seq.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import multiprocessing
from collections import OrderedDict
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quart import Quart, Response, request

from ..protocol import ID_PATTERN
from ..server.hub import Hubs
from ..settings import Settings
from ..store.file import LOG_SUFFIX
from .job import ExportResult, export_file, lower_priority, run_export
from .render import DEFAULT_MAX_EXPORT_PIXELS, ExportOptionError, ExportOptions, parse_options

log = logging.getLogger(__name__)

INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"
EXPORT_WORKERS = 1
"""Worker processes rendering exports. One keeps a core free for the event loop on small hosts."""
EXPORT_WORKER_NICENESS = 10
"""How much lower the workers' CPU priority is than the server's."""
MAX_PENDING_EXPORTS = 8
"""Exports waiting for or in a worker; beyond this a request gets 503 with Retry-After."""
EXPORT_TIMEOUT_S = 120.0
"""An export taking longer than this is answered with 503 (the worker finishes it anyway)."""
SEQ_BY_STAT_ENTRIES = 4096
"""Boards not in memory whose log (size, mtime) -> seq is kept, for ETags without a read."""
CACHE_ENTRIES = 32
CACHE_BYTES = 64 * 1024 * 1024
"""The LRU of rendered exports: at most this many entries and bytes."""


@dataclass(frozen=True, slots=True)
class Cached:
    etag: str
    result: ExportResult


class ExportCache:
    """LRU of rendered exports keyed by (board, seq, format, options)."""

    def __init__(self, max_entries: int = CACHE_ENTRIES, max_bytes: int = CACHE_BYTES) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[tuple[str, ...], Cached] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, ...]) -> Cached | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, ...], entry: Cached) -> None:
        if len(entry.result.data) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.result.data)
        self._entries[key] = entry
        self._bytes += len(entry.result.data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.result.data)


def make_etag(board_id: str, seq: int, kind: str, options: ExportOptions) -> str:
    digest = hashlib.sha256(options.key().encode()).hexdigest()[:12]
    return f'"{board_id}.{seq}.{kind}.{digest}"'


class Exporter:
    def __init__(self, hubs: Hubs, store: Any, settings: Settings) -> None:
        self.hubs = hubs
        self.root = Path(store.root)
        self.max_pixels = int(getattr(settings, "max_export_pixels", DEFAULT_MAX_EXPORT_PIXELS))
        self.cache = ExportCache()
        self._seq_by_stat: OrderedDict[str, tuple[tuple[int, int], int]] = OrderedDict()
        self._inflight: dict[tuple[str, ...], asyncio.Future[ExportResult]] = {}
        self._pool: concurrent.futures.Executor | None = None
        self._pending = 0

    def _executor(self) -> concurrent.futures.Executor:
        if self._pool is None:
            # spawn, not fork: the server has threads (fork would copy their locks mid-use).
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                EXPORT_WORKERS, mp_context=context, initializer=lower_priority,
                initargs=(EXPORT_WORKER_NICENESS,))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _stat(self, path: Path) -> tuple[int, int] | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def _known_seq(self, board_id: str, path: Path) -> tuple[int | None, int | None]:
        """(seq the board is at if already known, seq to render up to) without reading the log."""
        hub = self.hubs.loaded(board_id)
        if hub is not None:
            return hub.durable_seq, hub.durable_seq
        stat = self._stat(path)
        if stat is None:
            return 0, 0
        known = self._seq_by_stat.get(board_id)
        if known is not None and known[0] == stat:
            return known[1], None
        return None, None

    async def export(self, board_id: str, kind: str) -> Response | tuple[str, int]:
        try:
            options = parse_options(request.args.get("scale"), request.args.get("background"),
                                    request.args.get("region"))
            if kind == "gif" and options.transparent:
                raise ExportOptionError("a GIF cannot be transparent; use white or #rrggbb")
        except ExportOptionError as exc:
            return str(exc), 400
        path = self.root / f"{board_id}{LOG_SUFFIX}"
        seq, upto = self._known_seq(board_id, path)
        key: tuple[str, ...] | None = None
        if seq is not None:
            key = (board_id, str(seq), kind, options.key())
            entry = self.cache.get(key)
            if entry is not None:
                return self._respond(board_id, kind, entry)
            etag = make_etag(board_id, seq, kind, options)
            if etag in _if_none_match():
                return Response("", 304, headers={"ETag": etag, "Cache-Control": "no-cache"})
            running = self._inflight.get(key)
            if running is not None:  # the same picture is being drawn: wait for it
                result = await asyncio.shield(running)
                return self._respond(board_id, kind, self._remember(board_id, kind, options,
                                                                    result))
        if self._pending >= MAX_PENDING_EXPORTS:
            return Response("too many exports in progress; retry shortly", 503,
                            headers={"Retry-After": "5"})
        stat_before = self._stat(path) if upto is None else None
        self._pending += 1
        future: asyncio.Future[ExportResult] = asyncio.get_running_loop().create_future()
        if key is not None:
            self._inflight[key] = future
        try:
            result = await self._render(kind, options, path, upto)
            future.set_result(result)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it through their shield
            if isinstance(exc, TimeoutError):
                return Response("the export took too long; try a smaller scale or region", 503,
                                headers={"Retry-After": "30"})
            if not isinstance(exc, Exception):
                raise  # cancellation: the client went away
            if isinstance(exc, BrokenProcessPool):
                self._pool = None  # the worker died (out of memory?): start a new one next time
            log.exception("export %s of board %s failed", kind, board_id)
            return Response("the export failed", 500)
        finally:
            self._pending -= 1
            if key is not None:
                self._inflight.pop(key, None)
        if stat_before is not None and result.seq and self._stat(path) == stat_before:
            # the file did not change while it was read: its (size, mtime) names this seq
            self._seq_by_stat[board_id] = (stat_before, result.seq)
            self._seq_by_stat.move_to_end(board_id)
            while len(self._seq_by_stat) > SEQ_BY_STAT_ENTRIES:
                self._seq_by_stat.popitem(last=False)
        return self._respond(board_id, kind, self._remember(board_id, kind, options, result))

    def _remember(self, board_id: str, kind: str, options: ExportOptions,
                  result: ExportResult) -> Cached:
        entry = Cached(make_etag(board_id, result.seq, kind, options), result)
        self.cache.put((board_id, str(result.seq), kind, options.key()), entry)
        return entry

    async def _render(self, kind: str, options: ExportOptions, path: Path,
                      upto: int | None) -> ExportResult:
        if upto == 0 and options.region is None:  # never drawn on: a small blank picture
            return run_export(kind, options, records=[], max_pixels=self.max_pixels)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor(), export_file, kind, options, str(path),
                                      upto, self.max_pixels)
        return await asyncio.wait_for(future, EXPORT_TIMEOUT_S)

    def _respond(self, board_id: str, kind: str, entry: Cached) -> Response:
        headers = {"ETag": entry.etag, "Cache-Control": "no-cache",
                   "Content-Disposition": f'inline; filename="{board_id}.{kind}"'}
        frame = entry.result.frame
        if frame is not None and frame.scaled_down:
            headers["X-Whiteboard-Scaled"] = f"{frame.scale:.6g}"
        if entry.etag in _if_none_match():
            return Response("", 304, headers=headers)
        return Response(entry.result.data, 200, mimetype=entry.result.media_type, headers=headers)


def _if_none_match() -> set[str]:
    raw = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


def register_exports(app: Quart, hubs: Hubs, store: Any, settings: Settings) -> None:
    exporter = Exporter(hubs, store, settings)
    app.extensions["whiteboard_exporter"] = exporter

    @app.after_serving
    async def stop_export_workers() -> None:
        exporter.close()

    async def export(board_id: str, kind: str) -> Any:
        if not ID_PATTERN.fullmatch(board_id):
            return INVALID_BOARD, 404
        return await exporter.export(board_id, kind)

    @app.get("/b/<board_id>/export.png")
    async def export_png(board_id: str) -> Any:
        return await export(board_id, "png")

    @app.get("/b/<board_id>/export.svg")
    async def export_svg(board_id: str) -> Any:
        return await export(board_id, "svg")

    @app.get("/b/<board_id>/export.pdf")
    async def export_pdf(board_id: str) -> Any:
        return await export(board_id, "pdf")

    @app.get("/b/<board_id>/timelapse.gif")
    async def timelapse_gif(board_id: str) -> Any:
        return await export(board_id, "gif")

