"""View-only links: ``/v/<token>`` shows a board live to whoever holds the link, and nothing more.

The token is the store's (``BoardStore.view_token``): random, so the board id, which is the key to
editing, cannot be derived from it. Everything served under ``/v/<token>`` (the page, its socket's
welcome, the share panel's link and QR code, the exports and their file names) names the board by
the token alone. The socket joins the board view-only: the hub refuses every message but a
``peers`` request with ``view_only`` (``hub.py``). ``docs/security.md`` says what this protects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from quart import Quart, Response, jsonify, request

from ..protocol import ErrorCode
from ..store.base import BoardStore
from .hubs import Hubs
from .pages import NOT_FOUND_PAGE, qr_svg, static_page
from .sharing import ShareLinks

VIEW_ONLY = ErrorCode.VIEW_ONLY.value
EXPORT_NAME = "whiteboard"
"""The file name of a view link's downloads: the board's own name would give its id away."""

UNKNOWN_VIEW_BODY = (
    "<p>This view link does not lead to a board on this server. Ask whoever shared it for the "
    "link again.</p>"
)


def unknown_view_page() -> Response:
    page = NOT_FOUND_PAGE.substitute(title="No such view link", body=UNKNOWN_VIEW_BODY)
    return Response(page, 404, mimetype="text/html", headers={"Cache-Control": "no-cache"})


class ViewLinks:
    """Board id <-> view token, and whether a board may get a token yet."""

    def __init__(self, store: BoardStore, hubs: Hubs) -> None:
        self.store = store
        self.hubs = hubs

    async def token_for(self, board_id: str) -> str | None:
        """The board's view token; None for a board nobody opened (a token is stored, so asking
        about made-up board ids must not make one each): no view link is offered then."""
        if self.hubs.loaded(board_id) is None and not await self.store.exists(board_id):
            return None
        return await self.store.view_token(board_id)

    async def board_for(self, token: str) -> str | None:
        return await self.store.board_for_view(token)


def register_view_pages(
    app: Quart,
    links: ViewLinks,
    share: ShareLinks,
    export: Callable[[str, str, str], Awaitable[Any]],
) -> None:
    """The view page, its share info and QR code, and its exports (``export(board, kind, name)``).
    The socket is registered beside the board's, in ``app.py``."""

    @app.get("/v/<token>")
    async def view_page(token: str) -> Any:
        if await links.board_for(token) is None:
            return unknown_view_page()
        return await static_page("index.html")

    @app.get("/v/<token>/<any('share.json', 'qr.svg'):what>")
    async def view_share(token: str, what: str) -> Any:
        """The share panel of a view-only page: the view link alone, and its QR code."""
        if await links.board_for(token) is None:
            return "no such view link", 404
        info = share.info(request.host, request.scheme)
        if what == "qr.svg":
            return qr_svg(f"{info.base}/v/{token}")
        response = jsonify(
            url=None, view_url=f"{info.base}/v/{token}", local_only=info.local_only, fix=info.fix
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.post("/v/<token>/media")
    async def view_upload(token: str) -> Any:
        """A view-only page adds no images: refused as its socket refuses every op, before the
        body is read (an upload needs the board id, which the page never learns)."""
        if await links.board_for(token) is None:
            return "no such view link", 404
        body = {"error": "this is a view-only link: it cannot add images", "code": VIEW_ONLY}
        return body, 403

    for kind, path in (
        ("png", "export.png"),
        ("svg", "export.svg"),
        ("pdf", "export.pdf"),
        ("gif", "timelapse.gif"),
        ("view", "view.png"),  # the page's first picture (export/firstpicture.py)
    ):
        app.add_url_rule(
            f"/v/<token>/{path}", f"view_export_{kind}", _view_export(links, export, kind)
        )


def _view_export(
    links: ViewLinks, export: Callable[[str, str, str], Awaitable[Any]], kind: str
) -> Callable[[str], Awaitable[Any]]:
    async def view_export(token: str) -> Any:
        board_id = await links.board_for(token)
        if board_id is None:
            return "no such view link", 404
        return await export(board_id, kind, EXPORT_NAME)

    return view_export
