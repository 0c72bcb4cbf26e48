"""The Quart application: pages, the board WebSocket, exports. The only module that imports Quart.

``create_app(settings)`` builds everything; ``cli.py`` serves it with Hypercorn and tests serve it
on an ephemeral port. A board id is checked against ``protocol.ID_PATTERN`` on every route before
anything else happens, so a bad id is a 404 that never touches the file system.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart, Response, request

from .. import protocol
from ..media.http import register_media
from ..settings import Settings
from ..store.base import BoardStore
from ..store.file import FileStore
from . import stack
from .admission import Admission
from .asgi_socket import AsgiWebSocket, SocketRoutes
from .eventloop import start_worker_threads
from .hosts import AllowedHosts, HostGuard
from .hubs import Hubs
from .metrics import MetricsPump
from .pages import register_pages
from .sharing import ShareLinks
from .sockets import BoardSockets
from .static_files import StaticFiles, StaticRoutes
from .viewing import ViewLinks, register_view_pages

log = logging.getLogger(__name__)

# Module scripts must be served with a JavaScript type (the page sends nosniff), whatever the
# host's mime.types or registry says about .js and .mjs.
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = next(p for p in (PACKAGE_DIR / "static", PACKAGE_DIR.parent / "static") if p.is_dir())
"""``static/`` ships inside the wheel as ``whiteboard/static``; a source checkout has it beside."""

INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"


def create_app(settings: Settings | None = None) -> Quart:
    settings = settings or Settings()
    stack.install()
    app = Quart(__name__, static_folder=str(STATIC_DIR), static_url_path="/static")
    redis = None
    if settings.redis_url:
        from ..cluster.setup import RedisMode  # redis-py only when it is asked for

        redis = RedisMode(settings)
        store: Any = redis.store
        hubs = Hubs(store, settings, redis.make_hub)
    else:
        store = FileStore(
            settings.boards_dir,
            fsync=settings.fsync,
            max_board_bytes=settings.max_board_bytes,
            max_total_bytes=settings.max_total_bytes,
            max_boards=settings.max_boards,
            max_open_logs=settings.max_open_log_files,
            min_free_disk_bytes=settings.min_free_disk_bytes,
            max_images_per_board=settings.max_images_per_board,
            media_grace_s=settings.media_grace_s,
            slice_ms=settings.load_slice_ms,
            pause_ms=settings.load_pause_ms,
        )
        hubs = Hubs(store, settings)
    admission = Admission(settings, store)
    app.extensions["whiteboard_admission"] = admission
    app.config["WHITEBOARD_SETTINGS"] = settings
    app.extensions["whiteboard_hubs"] = hubs
    app.extensions["whiteboard_store"] = store
    sockets = BoardSockets(hubs, settings, admission)
    app.extensions["whiteboard_sockets"] = sockets

    app.extensions["whiteboard_redis"] = redis

    metrics = MetricsPump(
        connections=lambda: len(sockets),
        boards=lambda: len(hubs.all_loaded()),
        redis_reconnects=None if redis is None else lambda: redis.link.reconnects,
        redis_up=None if redis is None else lambda: redis.link.ready,
    )
    if redis is not None:
        sockets.unavailable = redis.unavailable

    @app.before_serving
    async def start_background() -> None:
        start_worker_threads()
        metrics.start()
        if redis is not None:
            await redis.start(hubs)

    @app.after_serving
    async def close_boards() -> None:
        await shutdown(app)
        if redis is not None:
            await redis.stop()
        await metrics.stop()

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format; with --workers, for every worker of this host."""
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    @app.after_request
    async def add_security_headers(response: Response) -> Response:
        for name, value in security_headers(request.host).items():
            if name != "Content-Security-Policy" or name not in response.headers:
                response.headers[name] = value  # a route's own policy stays
        return response

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """200 while the process lives (a liveness probe: never restart it for a full disk)."""
        return {"ok": True}

    @app.get("/readyz")
    async def readyz() -> Any:
        """200 when boards can be written; 503 with the reason when the disk is full or
        read-only (a readiness probe: send new writers elsewhere, keep the readers)."""
        problem = store.writable_problem()
        if problem is not None:
            return {"ready": False, "reason": problem}, 503
        return {"ready": True}

    share = ShareLinks(settings)
    views = ViewLinks(store, hubs)

    async def open_socket(
        ws: AsgiWebSocket, board_id: str, view_token: str | None
    ) -> tuple[int, str] | None:
        host = ws.host
        origin = ws.header(b"origin")
        if origin is not None and not origin_allowed(origin, host, settings):
            return 403, f"origin {origin} may not open this board"
        refusal = admission.connection_refusal(len(sockets))
        if refusal is not None:
            return 503, refusal
        path = f"/v/{view_token}" if view_token else f"/b/{board_id}"
        extra = {"share_url": share_url(share, ws, path), "media": media_url(store, board_id)}
        await sockets.serve(ws, board_id, extra, view_token)
        return None

    async def board_socket(ws: AsgiWebSocket, board_id: str) -> tuple[int, str] | None:
        """``/b/<board_id>/ws``"""
        if not protocol.ID_PATTERN.fullmatch(board_id):
            return 404, INVALID_BOARD
        return await open_socket(ws, board_id, None)

    async def view_socket(ws: AsgiWebSocket, token: str) -> tuple[int, str] | None:
        """``/v/<token>/ws``: the board behind a view-only link."""
        board_id = await views.board_for(token)
        if board_id is None:
            return 404, "no such view link"
        return await open_socket(ws, board_id, token)

    # The board's sockets and the static files are served in front of Quart (``asgi_socket.py``
    # and ``static_files.py`` say why).
    routes = {"b": board_socket, "v": view_socket}
    app.asgi_app = SocketRoutes(app.asgi_app, routes)  # type: ignore[method-assign]
    static = StaticFiles(STATIC_DIR)
    app.extensions["whiteboard_static"] = static
    app.asgi_app = StaticRoutes(app.asgi_app, static, security_headers)  # type: ignore[method-assign]
    # Every route, static files and sockets included: a rebound page gets nothing (``hosts.py``).
    app.asgi_app = HostGuard(app.asgi_app, AllowedHosts(settings))  # type: ignore[method-assign]
    if settings.trusted_proxy_hops:  # outermost: the sockets see the client's address
        app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
            app.asgi_app, mode="legacy", trusted_hops=settings.trusted_proxy_hops
        )
    app.extensions["whiteboard_share"] = share
    register_pages(app, share, views)
    from ..export.http import register_exports

    exporter = register_exports(app, hubs, store, settings)
    register_media(app, store, settings, origin_allowed)
    register_view_pages(app, views, share, exporter.export)
    return app


INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


@functools.cache
def inline_script_sources() -> str:
    """CSP sources allowing the inline scripts of the pages in static/ (read once, as the static
    files are) by their SHA-256, and no other inline script: the board page asks for its first
    picture before its modules load (index.html)."""
    sources = []
    for page in sorted(STATIC_DIR.glob("*.html")):
        for body in INLINE_SCRIPT.findall(page.read_text(encoding="utf-8")):
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            sources.append(f" 'sha256-{digest}'")
    return "".join(sources)


def security_headers(host: str) -> dict[str, str]:
    """What every response carries: the page may load only its own scripts, styles and sockets."""
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src 'self'{inline_script_sources()}; style-src 'self'; "
            f"connect-src 'self' ws://{host} wss://{host}; img-src 'self' data: blob:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",  # the board id is the key to it
    }


def origin_allowed(origin: str, host: str, settings: Settings) -> bool:
    """Browsers send Origin; it must be this server (by Host), public_url, or allow-listed."""
    origin = origin.rstrip("/")
    if urlsplit(origin).netloc == host:
        return True
    public = urlsplit(settings.public_url)
    if public.netloc and origin == f"{public.scheme}://{public.netloc}":
        return True
    return origin in settings.allowed_origins


def share_url(share: ShareLinks, ws: AsgiWebSocket, path: str) -> str:
    """The link to ``path`` (``/b/<id>``, ``/v/<token>``) as others can open it (``sharing.py``:
    public_url, LAN address, host)."""
    scheme = "https" if ws.scheme == "wss" else "http"
    return f"{share.info(ws.host, scheme).base}{path}"


def media_url(store: BoardStore, board_id: str) -> str:
    """Where the board's images are served: ``/media/<key>/`` (no board id in it)."""
    return f"/media/{store.media.key(board_id)}/"


async def shutdown(app: Quart) -> None:
    """Flush every board's log and close its connections with GOING_AWAY (pages reconnect and
    resume), close the sockets still in their handshake, and wait until every one is gone."""
    await app.extensions["whiteboard_hubs"].close()
    await app.extensions["whiteboard_sockets"].close_all()
