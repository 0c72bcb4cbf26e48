"""The HTML pages: home, new board, the board page, and the "no such board" page.

The home page is static: the boards it lists come from the visitor's own browser (localStorage),
because the server never lists boards to anyone (a board's id is the key to it). A board id that
is not valid gets a small styled 404 page that says what a name may hold and suggests the nearest
valid one, instead of a one-line error.
"""

from __future__ import annotations

import html
import io
import re
import unicodedata
from string import Template
from typing import TYPE_CHECKING, Any

import segno
from quart import Quart, Response, current_app, has_request_context, jsonify, redirect, request

from .. import protocol
from .sharing import ShareLinks

if TYPE_CHECKING:
    from .viewing import ViewLinks

INVALID_CHARACTERS = re.compile(r"[^A-Za-z0-9_-]+")
INVALID_BOARD = "board ids are 1-64 characters of A-Z a-z 0-9 _ -"
SHOWN_NAME_CHARS = 80
"""A bad name is echoed on the 404 page cut to this length (URLs can be kilobytes long)."""


async def static_page(name: str) -> Response:
    """``static/<name>`` naming this version's files (``static_files.py``), revalidated on every
    visit (``no-cache``: a new version must reach the next visit), compressed when accepted."""
    found = current_app.extensions["whiteboard_static"].page(name)
    encoding, body = found.pick(request.headers.get("Accept-Encoding", ""))
    response = Response(body, content_type=found.content_type)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept-Encoding"
    if encoding is not None:
        response.headers["Content-Encoding"] = encoding
    response.set_etag(found.etag.strip('"'))
    return await response.make_conditional(request)


def new_board_id() -> str:
    """128 random bits, URL-safe, never starting with '-' (so it is safe as a CLI argument)."""
    return protocol.random_key()


def suggest_board_name(raw: str) -> str:
    """The nearest valid board name, or "" when nothing usable is left.

    Accents are dropped (``café`` -> ``cafe``), every other run of characters a name may not hold
    becomes one ``-`` (``team.retro`` -> ``team-retro``), and no ``-`` is left at either end.
    ``static/js/boardname.js`` does the same for the home page's "open by name" form.
    """
    decomposed = unicodedata.normalize("NFKD", raw)
    plain = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return INVALID_CHARACTERS.sub("-", plain).strip("-")[:64].rstrip("-")


NOT_FOUND_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
  <meta name="color-scheme" content="light">
  <title>No such board · Whiteboard</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/page.css">
</head>
<body>
  <main class="page notfound">
    <header class="brand">
      <img src="/static/favicon.svg" alt="" width="40" height="40">
      <h1>$title</h1>
    </header>
    $body
    <div class="actions">
      <a class="button primary big" href="/new">New board</a>
      <a class="button big" href="/">Home</a>
    </div>
  </main>
</body>
</html>
""")


def not_found_page(bad_name: str | None) -> Response:
    """The 404 page; ``bad_name`` is an invalid board id someone tried (None: any other path)."""
    if bad_name is None:
        title, body = "Nothing here", "<p>There is no page at this address.</p>"
    else:
        shown = bad_name if len(bad_name) <= SHOWN_NAME_CHARS else bad_name[:SHOWN_NAME_CHARS] + "…"
        title = "That is not a board name"
        body = (
            f"<p><code>{html.escape(shown)}</code> cannot name a board. A board name is 1 to 64 "
            "letters (A-Z, a-z), digits, <code>-</code> and <code>_</code>: no dots, spaces, "
            "slashes or accents.</p>"
        )
        suggestion = suggest_board_name(bad_name)
        if suggestion:
            body += (
                f'<p class="suggest">Did you mean <a id="suggestion" href="/b/{suggestion}">'
                f"{suggestion}</a>?</p>"
            )
    page = NOT_FOUND_PAGE.substitute(title=title, body=body)
    return Response(page, 404, mimetype="text/html", headers={"Cache-Control": "no-cache"})


def qr_svg(url: str) -> Response:
    """``url`` as a QR code, so people in the room can join from a phone."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=6, border=2)
    return Response(
        buffer.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "no-cache"}
    )


def register_pages(app: Quart, share: ShareLinks, views: ViewLinks) -> None:
    def share_info() -> Any:
        return share.info(request.host, request.scheme)

    @app.get("/b/<board_id>/qr.svg")
    async def board_qr(board_id: str) -> Any:
        if not protocol.ID_PATTERN.fullmatch(board_id):
            return INVALID_BOARD, 404
        return qr_svg(f"{share_info().base}/b/{board_id}")

    @app.get("/b/<board_id>/share.json")
    async def board_share(board_id: str) -> Any:
        """What the share panel shows: the links to edit and to view, and whether only this
        computer can open them. A board nobody opened yet has no view link (``view_url`` null)."""
        if not protocol.ID_PATTERN.fullmatch(board_id):
            return INVALID_BOARD, 404
        info = share_info()
        token = await views.token_for(board_id)
        response = jsonify(
            url=f"{info.base}/b/{board_id}",
            view_url=None if token is None else f"{info.base}/v/{token}",
            local_only=info.local_only,
            fix=info.fix,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/")
    async def home() -> Response:
        return await static_page("home.html")

    @app.get("/new")
    async def new_board() -> Response:
        response = redirect(f"/b/{new_board_id()}")
        response.headers["Cache-Control"] = "no-store"  # every click is a new board
        return response

    @app.get("/b/<board_id>")
    async def board_page(board_id: str) -> Any:
        if not protocol.ID_PATTERN.fullmatch(board_id):
            return not_found_page(board_id)
        return await static_page("index.html")

    @app.errorhandler(404)
    async def page_not_found(error: Exception) -> Any:
        if has_request_context() and "text/html" in request.headers.get("Accept", ""):
            return not_found_page(None)
        return "not found", 404
