"""Pages, redirects, headers and the WebSocket handshake as a browser meets them."""

from __future__ import annotations

import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

from tests.integration.client import BoardClient
from tests.serving import ServerThread


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def get(url: str | urllib.request.Request) -> tuple[int, Message, bytes]:
    """Status, headers (case-insensitive) and body, without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_board_page_is_served_for_any_valid_id_without_touching_disk(
    server: ServerThread, boards_dir: Path
) -> None:
    status, headers, body = get(server.http_url + "/b/team-retro")
    assert status == 200 and b"<html" in body.lower()
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert not (boards_dir / "team-retro.log").exists()


def test_the_share_qr_code_encodes_the_public_url(server: ServerThread) -> None:
    status, headers, body = get(server.http_url + "/b/team-retro/qr.svg")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert body.startswith(b"<?xml") and b"<svg" in body


async def test_permessage_deflate_is_declined_even_when_offered(server: ServerThread) -> None:
    client = await BoardClient.connect(
        server.ws_url, "deflate", "c", compression="deflate"
    )  # offers it, as browsers do
    assert client.ws.request is not None and client.ws.response is not None
    assert "permessage-deflate" in client.ws.request.headers["Sec-WebSocket-Extensions"]
    assert "Sec-WebSocket-Extensions" not in client.ws.response.headers
    await client.close()


async def test_welcome_carries_the_share_url(server: ServerThread) -> None:
    client = await BoardClient.connect(server.ws_url, "share", "c")
    assert client.welcome["share_url"] == f"http://127.0.0.1:{server.port}/b/share"
    await client.close()
