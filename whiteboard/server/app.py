"""The Quart application: pages, the board WebSocket, exports. The only module that imports Quart.

``create_app(settings)`` builds everything; ``cli.py`` serves it with Hypercorn and tests serve it
on an ephemeral port. A board id is checked against ``protocol.ID_PATTERN`` on every route before
anything else happens, so a bad id is a 404 that never touches the file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hypercorn.protocol.ws_stream as hypercorn_ws_stream
from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, Response, current_app, request, websocket
from wsproto.extensions import PerMessageDeflate

from .. import protocol
from ..protocol import CloseCode, Hello, MalformedFrame
from ..settings import Settings
from ..store.file import FileStore
from .admission import Admission
from .budget import WORK_PER_CONNECTION, WORK_PER_ERROR_ANSWER, WorkBudget
from .connection import start_close
from .hubs import Hubs, TooManyBoards
from .pages import register_pages
from .sharing import ShareLinks
from .sink import Sink, attach

log = logging.getLogger(__name__)

# Module scripts must be served with a JavaScript type (the page sends nosniff), whatever the
# host's mime.types or registry says about .js and .mjs.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = next(p for p in (PACKAGE_DIR / "static", PACKAGE_DIR.parent / "static") if p.is_dir())
"""``static/`` ships inside the wheel as ``whiteboard/static``; a source checkout has it beside."""

INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that never accepts an offer.

    Browsers always offer it and Hypercorn 0.18 always accepts it, then compresses every frame once
    per receiver, which makes batched fan-out 4-6x slower. Hypercorn has no setting for it and
    negotiates before the app sees the request, so this replaces the class it looks up at accept
    time (``ws_stream.Handshake.accept``). Pinned Hypercorn; ``tests/integration`` checks it.
    """

    def accept(self, offer: str) -> None:  # type: ignore[override]
        return None


def decline_permessage_deflate() -> None:
    hypercorn_ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[misc]


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or Settings()
    decline_permessage_deflate()
    app = Quart(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    store = FileStore(
        settings.boards_dir,
        fsync=settings.fsync,
        max_board_bytes=settings.max_board_bytes,
        max_total_bytes=settings.max_total_bytes,
        max_boards=settings.max_boards,
        max_open_logs=settings.max_open_log_files,
    )
    hubs = Hubs(store, settings)
    admission = Admission(settings, store)
    app.extensions["whiteboard_admission"] = admission
    if settings.trusted_proxy_hops:
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            app.asgi_app, mode="legacy", trusted_hops=settings.trusted_proxy_hops
        )
    app.config["WHITEBOARD_SETTINGS"] = settings
    app.extensions["whiteboard_hubs"] = hubs
    app.extensions["whiteboard_store"] = store
    active_sockets: set[asyncio.Task[Any]] = set()
    app.extensions["whiteboard_sockets"] = active_sockets

    @app.after_serving
    async def close_boards() -> None:
        await shutdown(app)

    @app.after_request
    async def security_headers(response: Response) -> Response:
        host = request.host
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; "
            f"connect-src 'self' ws://{host} wss://{host}; img-src 'self' data: blob:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"  # the board id is the key to it
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"ok": True}

    @app.websocket("/b/<board_id>/ws")
    async def board_socket(board_id: str) -> Any:
        if not protocol.ID_PATTERN.fullmatch(board_id):
            return INVALID_BOARD, 404
        origin = websocket.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, websocket.host, settings):
            return f"origin {origin} may not open this board", 403
        refusal = admission.connection_refusal(len(active_sockets))
        if refusal is not None:
            return refusal, 503
        task = asyncio.current_task()
        assert task is not None
        active_sockets.add(task)
        try:
            await serve_socket(hubs, settings, board_id, admission)
        finally:
            active_sockets.discard(task)

    share = ShareLinks(settings)
    app.extensions["whiteboard_share"] = share
    register_pages(app, share)
    from ..export.http import register_exports

    register_exports(app, hubs, store, settings)
    return app


def origin_allowed(origin: str, host: str, settings: Settings) -> bool:
    """Browsers send Origin; it must be this server (by Host), public_url, or allow-listed."""
    origin = origin.rstrip("/")
    if urlsplit(origin).netloc == host:
        return True
    public = urlsplit(settings.public_url)
    if public.netloc and origin == f"{public.scheme}://{public.netloc}":
        return True
    return origin in settings.allowed_origins


def share_url(settings: Settings, board_id: str) -> str:
    """The board's link as others can open it (``sharing.py``: public_url, LAN address, host)."""
    share: ShareLinks = current_app.extensions["whiteboard_share"]
    scheme = "https" if websocket.scheme == "wss" else "http"
    return f"{share.info(websocket.host, scheme).base}/b/{board_id}"


async def serve_socket(hubs: Hubs, settings: Settings, board_id: str, admission: Admission) -> None:
    """Handshake, then read the client's frames until it disconnects.

    Sending needs no task: the hub writes to the socket directly (``sink.py``). After the server
    decides to close, this keeps reading (and dropping) what the client sends until its close
    frame arrives or ``close_timeout_s`` cuts the socket: otherwise Hypercorn would stop reading
    and the close code would never reach the client.
    """
    address = websocket.remote_addr or ""
    work = admission.work[address]
    await work.pay(WORK_PER_CONNECTION)
    await websocket.accept()
    ws = websocket._get_current_object()  # resolve the context proxy once, not per frame
    sink = attach(ws, settings.socket_send_buffer_bytes)
    receive: Callable[[], Awaitable[Any]] = getattr(ws, "_receive", None) or ws.receive
    hello = await receive_hello(receive, settings)
    if not isinstance(hello, Hello):
        await close_and_drain(sink, receive, *hello, settings.close_timeout_s)
        return
    refusal = admission.new_board_refusal(board_id, address, hubs.loaded(board_id) is not None)
    if refusal is None:
        try:
            hub = await hubs.get(board_id)
        except TooManyBoards as exc:
            refusal = str(exc)
    if refusal is not None:
        timeout_s = settings.close_timeout_s
        await close_and_drain(sink, receive, CloseCode.BOARD_FULL, refusal, timeout_s)
        return
    conn = hub.join(hello, sink, {"share_url": share_url(settings, board_id)})
    if conn is None:
        reason = "this board has as many connections as it allows"
        await close_and_drain(sink, receive, CloseCode.BOARD_FULL, reason, settings.close_timeout_s)
        return
    try:
        await receive_loop(receive, hub, conn, settings, work)
        await drain(receive, settings.close_timeout_s)
    finally:
        hub.leave(conn)


async def receive_hello(
    receive: Callable[[], Awaitable[Any]], settings: Settings
) -> Hello | tuple[int, str]:
    """The client's hello, or the close code and reason to refuse it with."""
    try:
        async with asyncio.timeout(settings.hello_timeout_s):
            data = await receive()
    except TimeoutError:
        return CloseCode.BAD_HANDSHAKE, "no hello in time"
    if not isinstance(data, bytes):
        return CloseCode.UNSUPPORTED_DATA, "frames are binary msgpack"
    try:
        messages = protocol.decode_frame(data, settings.limits)
    except MalformedFrame as exc:
        return CloseCode.BAD_HANDSHAKE, str(exc)
    first = messages[0] if len(messages) == 1 else None
    if isinstance(first, protocol.InvalidMessage):
        return CloseCode.BAD_HANDSHAKE, f"bad hello: {first.reason}"
    if not isinstance(first, Hello):
        return CloseCode.BAD_HANDSHAKE, "the first message must be a hello"
    if not protocol.speaks(first.version):
        log.info("client of protocol version %d refused: reload the page", first.version)
        return (
            CloseCode.UNSUPPORTED_VERSION,
            f"protocol {first.version} is not served (this server speaks "
            f"{protocol.MIN_PROTOCOL_VERSION}-{protocol.PROTOCOL_VERSION}): reload the page",
        )
    return first


async def receive_loop(
    receive: Callable[[], Awaitable[Any]], hub: Any, conn: Any, settings: Settings, work: WorkBudget
) -> None:
    """Apply the client's frames until the connection is closed (by either side)."""
    limits = settings.limits
    while conn.close_code is None:
        data = await receive()
        if not isinstance(data, bytes):
            conn.close(CloseCode.UNSUPPORTED_DATA, "frames are binary msgpack")
            return
        if not conn.allow(len(data)):
            conn.close(CloseCode.RATE_LIMITED, "too many messages: slow down")
            return
        await work.pay_frame(len(data))
        try:
            maps = protocol.frame_maps(data, limits)
        except MalformedFrame as exc:
            conn.close(CloseCode.MALFORMED_FRAME, str(exc))
            return
        for obj in maps:
            message = protocol.decode_or_error(obj, limits)
            await work.pay(hub.board.work_units(message, conn.author))
            if conn.close_code is not None:
                return
            errors = conn.errors
            hub.handle(conn, message)
            if conn.errors != errors:  # answered on its own frame
                await work.pay(WORK_PER_ERROR_ANSWER)


async def close_and_drain(
    sink: Sink, receive: Callable[[], Awaitable[Any]], code: int, reason: str, timeout_s: float
) -> None:
    task, timer = start_close(sink, code, reason, timeout_s)
    try:
        await drain(receive, timeout_s)
    finally:
        timer.cancel()
        task.cancel()


async def drain(receive: Callable[[], Awaitable[Any]], timeout_s: float) -> None:
    """Read and drop frames until the client's close arrives (the handler is then cancelled).

    The socket is aborted after ``timeout_s`` (``start_close``), which ends this too; the extra
    second only guards against a server that does not report the disconnect.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s + 1):
            while True:
                await receive()


async def shutdown(app: Quart) -> None:
    """Close every connection with GOING_AWAY (pages reconnect), flush and close every log."""
    await app.extensions["whiteboard_hubs"].close()
    sockets = app.extensions["whiteboard_sockets"]
    if sockets:
        await asyncio.wait(list(sockets), timeout=2)
