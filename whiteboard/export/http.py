"""Export routes: ``/b/<id>/export.png|svg|pdf`` and ``/b/<id>/timelapse.gif``.

Rendering runs in a worker process (``EXPORT_WORKERS``, with band helpers of its own), never on the
event loop and not in a thread either: a thread would hold the GIL for most of a render and stall
live drawing by several milliseconds at a time (``docs/performance.md``, Export). The worker reads
the board's log file read-only, up to the durable head when the board is loaded, so an export
neither loads a board nor creates a file: a valid id never drawn on is a small blank picture.

A storm of requests costs one render per distinct picture (``docs/security.md``):

- identical requests share one render, whether the board is loaded (named by its seq) or only on
  disk (named by the log's size and mtime, so no read is needed to tell two requests apart);
- finished pictures stay in a small LRU; the ETag names (board, seq, format, options), so
  ``If-None-Match`` of an unchanged board is a 304;
- distinct renders are bounded per client address (``max_exports_per_client``, then 429) and in
  all (``max_pending_exports``, then 503), both with ``Retry-After``;
- a board too large to draw in reasonable time is refused at once with the reason (413), and a
  render that still runs at ``export_timeout_s`` stops in the worker and says so (503).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import logging
import multiprocessing
import re
import time
from collections import Counter, OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quart import Quart, Response, request

from ..elements import MEDIA_NAME_BYTES
from ..protocol import ID_PATTERN
from ..server.hubs import Hubs
from ..server.metrics import EXPORT_SECONDS
from ..settings import Settings
from ..store.file import LOG_SUFFIX
from .frame import ExportOptionError, ExportOptions, parse_options
from .spec import (
    BoardTooLarge,
    ExportDeadline,
    ExportLimits,
    ExportResult,
    export_in_worker,
    lower_priority,
    stop_processes,
)

log = logging.getLogger(__name__)

INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"
EXPORT_WORKERS = 1
"""Worker processes taking export jobs; each draws large PNGs with ``export_processes`` bands."""
EXPORT_WORKER_NICENESS = 10
"""How much lower the workers' CPU priority is than the server's."""
TIMEOUT_GRACE_S = 10.0
"""A worker that has not answered this long after the export's deadline is presumed stuck."""
RESPONSE_CHUNK_BYTES = 64 * 1024
"""Size of the pieces an export's body is sent in (tens of µs of event-loop time each)."""
BODIES_IN_FLIGHT = 4
"""Export bodies written at once; the others wait their turn piece by piece. 200 clients of one
shared link fetching an 8 MB picture otherwise kept 200 writes ready in every turn of the event
loop, and live drawing waited ~1 s (bench/bench_export_storm.py)."""
WAKE_PER_TURN = 4
"""Requests waiting for one render woken per turn of the event loop (``SharedRender``)."""
PIECES_PER_PLACE = 16
"""Pieces (1 MiB) a body sends before it lets another body have its place (``_chunks``)."""
SLOW_PIECE_S = 0.002
"""A piece whose send took longer than this waited for its reader: the body gives its place up."""
RESPONSES_STARTING = 2
"""Export responses being started at once (see ``Exporter._respond``)."""
TURN_TIMEOUT_S = 10.0
"""A response whose body was never read gives its turn back after this long."""
SERVER_CLIENT = "(server)"
"""The client the server's own renders count under (``Exporter.begin``)."""
SEQ_BY_STAT_ENTRIES = 4096
"""Boards not in memory whose log (size, mtime) -> seq is kept, for ETags without a read."""


@dataclass(frozen=True, slots=True)
class Cached:
    etag: str
    result: ExportResult


class ExportCache:
    """LRU of rendered exports keyed by (board, seq, format, options)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
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
    """Names the picture without naming the board: a view link's exports must not give the
    board id away (``server/viewing.py``)."""
    digest = hashlib.sha256(f"{board_id}\x00{options.key()}".encode()).hexdigest()[:16]
    return f'"{seq}.{kind}.{digest}"'


def refusal(status: int, reason: str, retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return Response(reason + "\n", status, mimetype="text/plain", headers=headers)


class Exporter:
    def __init__(self, hubs: Hubs, store: Any, settings: Settings) -> None:
        self.hubs = hubs
        self.store = store
        # The file store's directory; None in Redis mode, where records come from the store.
        self.root = Path(store.root) if hasattr(store, "root") else None
        self.settings = settings
        self.cache = ExportCache(settings.export_cache_entries, settings.export_cache_bytes)
        self._seq_by_stat: OrderedDict[str, tuple[tuple[int, int], int]] = OrderedDict()
        self._inflight: dict[tuple[str, ...], SharedRender] = {}
        self._renders_by_client: Counter[str] = Counter()
        self._pool: concurrent.futures.Executor | None = None
        self._submitter = concurrent.futures.ThreadPoolExecutor(1, "export-submit")
        self._pending = 0
        self._renders: set[asyncio.Future[Cached]] = set()  # in flight, kept alive
        self._writing = asyncio.Semaphore(BODIES_IN_FLIGHT)
        self._starting = asyncio.Semaphore(RESPONSES_STARTING)
        from .firstpicture import FirstPictures  # it builds on this module

        self.first_pictures = FirstPictures(self, settings.first_picture_views)

    def _executor(self) -> concurrent.futures.Executor:
        if self._pool is None:
            # spawn, not fork: the server has threads (fork would copy their locks mid-use).
            context = multiprocessing.get_context("spawn")
            self._pool = concurrent.futures.ProcessPoolExecutor(
                EXPORT_WORKERS,
                mp_context=context,
                initializer=lower_priority,
                initargs=(EXPORT_WORKER_NICENESS,),
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:  # its band helpers exit with it
            stop_processes(self._pool)
            self._pool = None
        self._submitter.shutdown(wait=False)

    def log_path(self, board_id: str) -> Path:
        """The board's log file (a name only, in Redis mode)."""
        return (self.root or Path()) / f"{board_id}{LOG_SUFFIX}"

    def _stat(self, path: Path) -> tuple[int, int] | None:
        if self.root is None:
            return None  # Redis mode: no file
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def _version(self, board_id: str, path: Path) -> tuple[int | None, int | None, str]:
        """(seq the board is at if known, seq to render up to, a name of this version of the
        board that needs no read: its seq, or its log's size and mtime)."""
        hub = self.hubs.loaded(board_id)
        if hub is not None:
            return hub.durable_seq, hub.durable_seq, str(hub.durable_seq)
        if self.root is None:
            return None, None, "unloaded"  # Redis mode: read_records names the seq it read
        stat = self._stat(path)
        if stat is None:
            return 0, 0, "0"
        known = self._seq_by_stat.get(board_id)
        if known is not None and known[0] == stat:
            return known[1], None, str(known[1])
        return None, None, f"stat:{stat[0]}:{stat[1]}"

    async def export(self, board_id: str, kind: str, name: str | None = None) -> Response:
        """The board as a ``kind`` picture; ``name`` (the board id unless given) names the file.
        ``kind`` "view": the first picture of a board page (``firstpicture.py``), or 204 for a
        board too small to be worth it."""
        name = name or board_id
        if kind == "view":
            if self.worth_a_first_picture(board_id):
                return await self.first_pictures.respond(board_id, name)
            request.scope.get(ENTERED, _nothing)()
            return Response("", 204, headers={"Cache-Control": "no-store"})
        request.scope.get(ENTERED, _nothing)()  # the next request may enter (ExportGate)
        options = request_options(kind)
        if isinstance(options, Response):
            return options
        path = self.log_path(board_id)
        seq, upto, version = self._version(board_id, path)
        if seq is not None:
            entry = self.cache.get((board_id, str(seq), kind, options.key()))
            if entry is not None:
                return await self._respond(name, kind, entry)
            etag = make_etag(board_id, seq, kind, options)
            if etag in _if_none_match():
                return Response("", 304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        key = (board_id, version, kind, options.key())
        running = self._inflight.get(key)
        if running is not None:  # the same picture is being drawn: wait for it
            try:
                shared = await running.wait()
            except Exception as exc:
                return self._failure(board_id, kind, exc)
            return await self._respond(name, kind, shared)
        started = self.begin(key, request.remote_addr or "-", kind, options, path, upto)
        if isinstance(started, Response):
            return started
        try:  # woken like every other request waiting for it, a few per turn (SharedRender)
            entry = await started.wait()
        except Exception as exc:
            return self._failure(board_id, kind, exc)
        return await self._respond(name, kind, entry)

    def begin(
        self,
        key: tuple[str, ...],
        client: str | None,
        kind: str,
        options: ExportOptions,
        path: Path,
        upto: int | None,
    ) -> SharedRender | Response:
        """Start rendering ``key`` (board, version, kind, options) for ``client``, within the
        limits, or the refusal. ``client`` None is the server itself (``FirstPictures``
        rendering ahead of visitors): bound by ``max_pending_exports`` alone."""
        too_big = self._too_big(path, upto)
        if too_big is not None:
            return too_big
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
        stat_before = self._stat(path) if upto is None else None
        self._pending += 1
        self._renders_by_client[client] += 1
        shared = SharedRender(WAKE_PER_TURN)
        self._inflight[key] = shared
        # The render outlives this request: a page that asked for its first picture and was
        # drawn (or closed) before it came leaves it rendered and cached for the next visitor,
        # instead of throwing the worker's second away. It keeps its client's share until done.
        render = asyncio.ensure_future(
            self._render_shared(shared, key, client, kind, options, path, upto, stat_before)
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
        stat_before: tuple[int, int] | None,
    ) -> Cached:
        """One render, remembered in the cache and handed to every request waiting for it."""
        board_id = key[0]
        try:
            result = await self._render(kind, options, path, upto, board_id)
            entry = self._remember(board_id, kind, options, result)
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
        if stat_before is not None and result.seq and self._stat(path) == stat_before:
            # the file did not change while it was read: its (size, mtime) names this seq
            self._seq_by_stat[board_id] = (stat_before, result.seq)
            self._seq_by_stat.move_to_end(board_id)
            while len(self._seq_by_stat) > SEQ_BY_STAT_ENTRIES:
                self._seq_by_stat.popitem(last=False)
        return entry

    def _rendered(self, render: asyncio.Future[Cached]) -> None:
        self._renders.discard(render)
        if not render.cancelled():
            render.exception()  # retrieved: its requests, if any are left, have reported it

    def worth_a_first_picture(self, board_id: str) -> bool:
        """Whether a page opening ``board_id`` should show a rendered picture of its view first:
        only a board whose log holds at least ``first_picture_min_board_bytes`` (told by its size
        on disk, no read; none in Redis mode). A small board is drawn by the page sooner than a
        picture could be rendered, sent and decoded."""
        stat = self._stat(self.log_path(board_id))
        return stat is not None and stat[0] >= self.settings.first_picture_min_board_bytes

    def _too_big(self, path: Path, upto: int | None) -> Response | None:
        """Refuse without reading a log larger than any board may be (``max_board_bytes``)."""
        stat = self._stat(path) if upto != 0 else None
        if stat is not None and stat[0] > self.settings.max_board_bytes:
            return refusal(
                413,
                f"the board's log is {stat[0]:,} bytes, over max_board_bytes "
                f"({self.settings.max_board_bytes:,}): too large to export here; "
                "use `whiteboard export` on the server",
            )
        return None

    def _failure(self, board_id: str, kind: str, exc: BaseException) -> Response:
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

    def _remember(
        self, board_id: str, kind: str, options: ExportOptions, result: ExportResult
    ) -> Cached:
        entry = Cached(make_etag(board_id, result.seq, kind, options), result)
        self.cache.put((board_id, str(result.seq), kind, options.key()), entry)
        return entry

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
        if self.root is None and not blank:  # Redis mode: the worker gets the records
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

    async def _respond(self, name: str, kind: str, entry: Cached) -> Response:
        """The picture, once it is this request's turn: at most ``RESPONSES_STARTING`` responses
        start at once, each turn ending when its first piece is out. Starting a response costs
        the framework a few milliseconds, and 200 waiters of one render all woke in the same turn
        of the event loop: live drawing stalled 1.8 s (bench/bench_export_storm.py)."""
        await self._starting.acquire()
        done = _Once(self._starting.release)
        asyncio.get_running_loop().call_later(TURN_TIMEOUT_S, done)  # a body never read
        headers = {
            "ETag": entry.etag,
            "Cache-Control": "no-cache",
            "Content-Disposition": f'inline; filename="{name}.{kind}"',
        }
        frame = entry.result.frame
        if frame is not None and frame.scaled_down:
            headers["X-Whiteboard-Scaled"] = f"{frame.scale:.6g}"
        if entry.etag in _if_none_match():
            done()
            return Response("", 304, headers=headers)
        data = entry.result.data
        headers["Content-Length"] = str(len(data))
        return Response(
            self._chunks(data, done), 200, mimetype=entry.result.media_type, headers=headers
        )

    async def _chunks(self, data: bytes, started: Callable[[], None]) -> AsyncIterator[bytes]:
        """The body in pieces, at most ``BODIES_IN_FLIGHT`` bodies at a time, the event loop
        turning between pieces: an 8 MB PNG otherwise went out in one step of the loop, and 200
        of them kept live drawing waiting (bench/bench_export_storm.py).

        A body keeps its place for up to ``PIECES_PER_PLACE`` pieces, and gives it up sooner
        when a piece did not go straight out (a slow reader), so the others waiting are not
        woken at all meanwhile: with a place taken per piece, every waiting body woke once per
        piece, and 200 bodies made turns of 9 ms with 160 wake-ups each."""
        view = memoryview(data)
        loop = asyncio.get_running_loop()
        start = 0
        try:
            while start < len(data):
                async with self._writing:
                    for _ in range(PIECES_PER_PLACE):
                        sent_at = loop.time()
                        yield bytes(view[start : start + RESPONSE_CHUNK_BYTES])
                        start += RESPONSE_CHUNK_BYTES
                        started()
                        if start >= len(data) or loop.time() - sent_at > SLOW_PIECE_S:
                            break
                        # A write into a socket buffer with room never suspends, so without this
                        # one task wrote a whole body in one turn of the loop.
                        await asyncio.sleep(0)
        finally:
            started()


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


class _Once:
    """Call ``action`` the first time this is called, never again."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


def _nothing() -> None:
    pass


def request_options(kind: str) -> ExportOptions | Response:
    """The export options of this request's query, or the 400 that says what is wrong."""
    try:
        options = parse_options(
            request.args.get("scale"), request.args.get("background"), request.args.get("region")
        )
        if kind == "gif" and options.transparent:
            raise ExportOptionError("a GIF cannot be transparent; use white or #rrggbb")
    except ExportOptionError as exc:
        return refusal(400, str(exc))
    return options


def _if_none_match() -> set[str]:
    raw = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


EXPORT_PATH = re.compile(r"/[bv]/[^/]+/(export\.(png|svg|pdf)|timelapse\.gif|view\.png)")
"""A board's exports, and those of its view-only link (``server/viewing.py``)."""
ENTERING = 1
"""Export requests going through the framework's request set-up at once (``ExportGate``)."""
ENTERED = "whiteboard.entered"
"""Scope key of the callable that lets the next export request in."""


class ExportGate:
    """ASGI middleware: export requests enter Quart one at a time (``ENTERING``).

    Quart and Hypercorn spend a fraction of a millisecond of Python setting up each request, in
    several steps, each one a turn of the event loop. 200 export requests arriving together (a
    shared link opened by a room, a script) had 200 requests at every step, so each step of a
    drawing op on another board waited behind 200 others: p99 58 ms during such a storm
    (``bench/bench_export_storm.py``). Past this gate a request waits for its turn on a cheap
    semaphore; its turn ends when the export route starts (``Exporter.export`` calls
    ``scope[ENTERED]``), when the response starts, or when the request ends, whichever is first.
    Other paths pass straight through.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._entering: asyncio.Semaphore | None = None  # made on the serving loop

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not EXPORT_PATH.fullmatch(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if self._entering is None:
            self._entering = asyncio.Semaphore(ENTERING)
        await self._entering.acquire()
        entered = _Once(self._entering.release)
        scope[ENTERED] = entered

        async def sending(message: Any) -> None:
            entered()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            entered()


def register_exports(app: Quart, hubs: Hubs, store: Any, settings: Settings) -> Exporter:
    exporter = Exporter(hubs, store, settings)
    app.asgi_app = ExportGate(app.asgi_app)  # type: ignore[method-assign]
    app.extensions["whiteboard_exporter"] = exporter
    hubs.compactor.snapshot_listeners.append(exporter.first_pictures.snapshot_installed)

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

    @app.get("/b/<board_id>/view.png")
    async def view_png(board_id: str) -> Any:
        """The PNG export of the view a page opens at (the board page's inline script shows it
        until the page's own drawing is done), or 204 for a board too small to be worth it."""
        return await export(board_id, "view")

    return exporter
