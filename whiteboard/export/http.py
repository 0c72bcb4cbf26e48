"""Export routes: ``/b/<id>/export.png|svg|pdf`` and ``/b/<id>/timelapse.gif``.

Rendering runs in a worker process (``renders.py``), never on the event loop. The worker reads
the board's log file read-only, up to the durable head when the board is loaded, so an export
neither loads a board nor creates a file: a valid id never drawn on is a small blank picture.

A storm of requests costs one render per distinct picture (``docs/security.md``):

- identical requests share one render, whether the board is loaded (named by its seq) or only on
  disk (named by the log's size and mtime, so no read is needed to tell two requests apart);
- finished pictures stay in a small LRU; the ETag names (board, seq, format, options), so
  ``If-None-Match`` of an unchanged board is a 304;
- distinct renders are bounded per client address and in all (``renders.py``);
- responses start a few at a time and send their bodies in pieces (``responses.py``);
- a board too large to draw in reasonable time is refused at once with the reason (413), and a
  render that still runs at ``export_timeout_s`` stops in the worker and says so (503).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from quart import Quart, Response, request

from ..protocol import ID_PATTERN
from ..server.hubs import Hubs
from ..settings import Settings
from ..store.file import LOG_SUFFIX
from .cache import Cached, ExportCache, make_etag
from .frame import ExportOptionError, ExportOptions, parse_options
from .renders import Renders, SharedRender
from .responses import Once, PictureSender, if_none_match, nothing, refusal
from .spec import ExportResult

log = logging.getLogger(__name__)

INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"
SEQ_BY_STAT_ENTRIES = 4096
"""Boards not in memory whose log (size, mtime) -> seq is kept, for ETags without a read."""


class Exporter:
    def __init__(self, hubs: Hubs, store: Any, settings: Settings) -> None:
        self.hubs = hubs
        self.store = store
        # The file store's directory; None in Redis mode, where records come from the store.
        self.root = Path(store.root) if hasattr(store, "root") else None
        self.settings = settings
        self.cache = ExportCache(settings.export_cache_entries, settings.export_cache_bytes)
        self._seq_by_stat: OrderedDict[str, tuple[tuple[int, int], int]] = OrderedDict()
        self.renders = Renders(store, settings)
        self.sender = PictureSender()
        from .firstpicture import FirstPictures  # it builds on this module

        self.first_pictures = FirstPictures(self, settings.first_picture_views)

    def close(self) -> None:
        self.renders.close()

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

    def version(self, board_id: str) -> tuple[int | None, int | None, str]:
        """(seq the board is at if known, seq to render up to, a name of this version of the
        board that needs no read: its seq, or its log's size and mtime)."""
        path = self.log_path(board_id)
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
            self.renders.warm()  # a board page is open: its first export may come soon
            if self.worth_a_first_picture(board_id):
                return await self.first_pictures.respond(board_id, name)
            request.scope.get(ENTERED, nothing)()
            return Response("", 204, headers={"Cache-Control": "no-store"})
        request.scope.get(ENTERED, nothing)()  # the next request may enter (ExportGate)
        options = request_options(kind)
        if isinstance(options, Response):
            return options
        path = self.log_path(board_id)
        seq, upto, version = self.version(board_id)
        if seq is not None:
            entry = self.cache.get((board_id, str(seq), kind, options.key()))
            if entry is not None:
                return await self.sender.send(name, kind, entry)
            etag = make_etag(board_id, seq, kind, options)
            if etag in if_none_match():
                return Response("", 304, headers={"ETag": etag, "Cache-Control": "no-cache"})
        key = (board_id, version, kind, options.key())
        running = self.renders.in_progress(key)
        if running is not None:  # the same picture is being drawn: wait for it
            try:
                shared = await running.wait()
            except Exception as exc:
                return self.renders.failure(board_id, kind, exc)
            return await self.sender.send(name, kind, shared)
        started = self.begin(key, request.remote_addr or "-", kind, options, path, upto)
        if isinstance(started, Response):
            return started
        try:  # woken like every other request waiting for it, a few per turn (SharedRender)
            entry = await started.wait()
        except Exception as exc:
            return self.renders.failure(board_id, kind, exc)
        return await self.sender.send(name, kind, entry)

    def begin(
        self,
        key: tuple[str, ...],
        client: str | None,
        kind: str,
        options: ExportOptions,
        path: Path,
        upto: int | None,
    ) -> SharedRender | Response:
        """Start rendering ``key`` (board, version, kind, options) for ``client``, or the
        refusal (``Renders.start``); the picture is cached when done."""
        too_big = self._too_big(path, upto)
        if too_big is not None:
            return too_big
        stat_before = self._stat(path) if upto is None else None
        board_id = key[0]

        def keep(result: ExportResult) -> Cached:
            entry = self._remember(board_id, kind, options, result)
            if stat_before is not None and result.seq and self._stat(path) == stat_before:
                # the file did not change while it was read: its (size, mtime) names this seq
                self._seq_by_stat[board_id] = (stat_before, result.seq)
                self._seq_by_stat.move_to_end(board_id)
                while len(self._seq_by_stat) > SEQ_BY_STAT_ENTRIES:
                    self._seq_by_stat.popitem(last=False)
            return entry

        return self.renders.start(key, client, kind, options, path, upto, keep)

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

    def _remember(
        self, board_id: str, kind: str, options: ExportOptions, result: ExportResult
    ) -> Cached:
        entry = Cached(make_etag(board_id, result.seq, kind, options), result)
        self.cache.put((board_id, str(result.seq), kind, options.key()), entry)
        return entry


def request_options(kind: str) -> ExportOptions | Response:
    """The export options of this request's query, or the 400 that says what is wrong."""
    try:
        options = parse_options(
            request.args.get("scale"),
            request.args.get("background"),
            request.args.get("region"),
            request.args.get("fit"),
        )
        if kind == "gif" and options.transparent:
            raise ExportOptionError("a GIF cannot be transparent; use white or #rrggbb")
    except ExportOptionError as exc:
        return refusal(400, str(exc))
    return options


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
        entered = Once(self._entering.release)
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
