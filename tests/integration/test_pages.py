"""The home page, /new and the "no such board" page: their contract with strangers.

The server never lists boards (a board's id is the key to it): the home page is the same static
file whoever asks, and no route answers with the ids of the boards on disk.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from tests.integration.client import BoardClient, pen_stroke
from tests.integration.test_http import get
from tests.serving import ServerThread

HTML = {"Accept": "text/html,application/xhtml+xml"}


def get_html(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=HTML)
    status, _, body = get(request)  # type: ignore[arg-type]
    return status, body.decode()


async def test_the_home_page_names_no_board_on_the_server(
    server: ServerThread, boards_dir: Path
) -> None:
    secret = "Zq8Xk2mB7vN4pL1sT9wR3c"
    readable = "orchard-planning"
    for board in (secret, readable):
        client = await BoardClient.connect(server.ws_url, board, "c")
        await client.send(pen_stroke("s1"))
        await client.wait_for_seq(1)
        await client.close()
    assert sorted(p.name for p in boards_dir.glob("*.log")) == [
        f"{secret}.log",
        f"{readable}.log",
    ]

    status, headers, body = get(server.http_url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    text = body.decode()
    assert "New board" in text and 'href="/new"' in text and 'id="open-form"' in text
    # Everything the page loads is static, and none of it names a board on the server.
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', text)
    assert any(asset.endswith("/js/home.js") for asset in assets)
    for asset in ["/", *assets, "/static/js/recent.js", "/static/js/boardname.js"]:
        status, _, data = get(server.http_url + asset)
        assert status == 200, asset
        assert secret.encode() not in data and readable.encode() not in data, asset
    # No route lists boards.
    no_route = ("/b/", "/b", "/boards", "/api/boards", "/static/", "/static/../boards/")
    for path in (*no_route, "/static/v/", "/static/v/x/../../boards/", f"/static/v/{secret}.log"):
        status, _, data = get(server.http_url + path)
        assert status == 404, path
        assert secret.encode() not in data, path


def test_new_makes_a_new_unguessable_board_every_time(server: ServerThread) -> None:
    locations = set()
    for _ in range(20):
        status, headers, _ = get(server.http_url + "/new")
        assert status == 302 and headers["Cache-Control"] == "no-store"
        locations.add(headers["Location"])
    assert len(locations) == 20
    for location in locations:
        board_id = location.rsplit("/b/", 1)[1]
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}", board_id)  # 128 bits, no leading -


def test_a_bad_board_name_gets_a_page_that_suggests_the_nearest_valid_one(
    server: ServerThread, boards_dir: Path
) -> None:
    for bad, suggestion in (
        ("team.retro", "team-retro"),
        ("caf%C3%A9", "cafe"),
        ("team%20retro%202024", "team-retro-2024"),
    ):
        status, text = get_html(f"{server.http_url}/b/{bad}")
        assert status == 404
        assert '<link rel="stylesheet" href="/static/css/page.css">' in text
        assert "1 to 64" in text and 'href="/new"' in text and 'href="/"' in text
        assert f'<a id="suggestion" href="/b/{suggestion}">{suggestion}</a>' in text
    # The bad name is shown escaped; nothing is left to suggest from markup-only names.
    status, text = get_html(f"{server.http_url}/b/%3Cscript%3E")
    assert status == 404 and "&lt;script&gt;" in text and "<script>" not in text
    assert '<a id="suggestion" href="/b/script">script</a>' in text
    status, text = get_html(f"{server.http_url}/b/%E2%80%94%E2%80%94")  # only dashes
    assert status == 404 and 'id="suggestion"' not in text
    assert not boards_dir.exists() or not any(boards_dir.iterdir())


def test_other_unknown_pages_are_styled_for_browsers_and_plain_for_scripts(
    server: ServerThread,
) -> None:
    status, text = get_html(f"{server.http_url}/nowhere")
    assert status == 404 and "Nothing here" in text and 'href="/new"' in text
    status, _, body = get(f"{server.http_url}/nowhere")
    assert status == 404 and b"<html" not in body
