"""Share links other devices can open: the public URL, else (bound to every interface and opened
through loopback) this machine's LAN address, else the address used; when only this computer can
open them the server says so and how to fix it."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import segno

from tests.integration.client import BoardClient
from tests.integration.test_http import get
from tests.serving import ServerThread
from whiteboard.cli import startup_message
from whiteboard.server import sharing
from whiteboard.server.sharing import ShareLinks, is_loopback, split_host
from whiteboard.settings import Settings

LAN = "192.168.1.20"


@pytest.fixture
def lan(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's LAN address, whatever network the test runs on."""
    monkeypatch.setattr(sharing, "lan_addresses", lambda: [LAN, "10.0.0.7"])


@pytest.fixture
def wildcard_server(tmp_path: Path, lan: None) -> Iterator[ServerThread]:
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False, host="0.0.0.0")
    with ServerThread(settings) as running:
        yield running


def share_json(url: str, host: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    status, headers, body = get(request)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    return json.loads(body)


def qr_of(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=6, border=2)
    return buffer.getvalue()


def test_hosts_and_loopback() -> None:
    assert split_host("127.0.0.1:8000") == ("127.0.0.1", ":8000")
    assert split_host("[::1]:80") == ("::1", ":80")
    assert split_host("board.example.org") == ("board.example.org", "")
    for name in ("127.0.0.1", "127.3.2.1", "::1", "localhost", "app.localhost"):
        assert is_loopback(name), name
    for name in ("192.168.1.20", "board.example.org", "::ffff:10.0.0.1", ""):
        assert not is_loopback(name), name


def test_each_way_of_serving_gives_the_links_others_can_open(lan: None) -> None:
    loopback = ShareLinks(Settings())
    info = loopback.info("127.0.0.1:8000", "http")
    assert info.base == "http://127.0.0.1:8000" and info.local_only
    assert info.fix == f"whiteboard serve --host 0.0.0.0 --public-url http://{LAN}:8000"
    assert loopback.startup_urls() == []

    everywhere = ShareLinks(Settings(host="0.0.0.0", port=9000))
    for host in ("127.0.0.1:9000", "localhost:9000", "[::1]:9000"):
        info = everywhere.info(host, "http")
        assert info.base == f"http://{LAN}:9000" and not info.local_only, host
    assert everywhere.info("10.0.0.7:9000", "http").base == "http://10.0.0.7:9000"
    assert everywhere.startup_urls() == [f"http://{LAN}:9000", "http://10.0.0.7:9000"]

    public = ShareLinks(Settings(host="0.0.0.0", public_url="https://board.example.org/"))
    info = public.info("127.0.0.1:8000", "http")
    assert info.base == "https://board.example.org" and not info.local_only
    assert public.startup_urls() == ["https://board.example.org"]


def test_the_startup_line_names_the_lan_urls_or_says_only_this_computer(lan: None) -> None:
    line = startup_message(Settings(host="0.0.0.0", port=8000), "0.0.0.0:8000")
    assert line.startswith("whiteboard serving on http://0.0.0.0:8000 (boards in ")
    assert line.endswith(f"; other devices open http://{LAN}:8000 or http://10.0.0.7:8000")
    line = startup_message(Settings(), "127.0.0.1:8000")
    assert "only this computer can open it (--host 0.0.0.0 lets the LAN join)" in line


async def test_a_server_on_every_interface_shares_its_lan_address(
    wildcard_server: ServerThread,
) -> None:
    port = wildcard_server.port
    expected = f"http://{LAN}:{port}/b/retro"
    info = share_json(f"{wildcard_server.http_url}/b/retro/share.json")
    assert info == {"url": expected, "view_url": None, "local_only": False, "fix": ""}
    status, headers, body = get(f"{wildcard_server.http_url}/b/retro/qr.svg")
    assert status == 200 and headers["Content-Type"].startswith("image/svg+xml")
    assert body == qr_of(expected)
    client = await BoardClient.connect(wildcard_server.ws_url, "retro", "c")
    assert client.welcome["share_url"] == expected
    await client.close()
    # Opened by a LAN address already, the page shares that address.
    info = share_json(f"{wildcard_server.http_url}/b/retro/share.json", host=f"10.0.0.7:{port}")
    assert info["url"] == f"http://10.0.0.7:{port}/b/retro"


def test_a_loopback_server_says_only_this_computer_can_open_its_links(
    server: ServerThread, lan: None
) -> None:
    info = share_json(f"{server.http_url}/b/retro/share.json")
    assert info["url"] == f"{server.http_url}/b/retro" and info["local_only"] is True
    assert info["fix"] == (
        f"whiteboard serve --host 0.0.0.0 --public-url http://{LAN}:{server.port}"
    )
    status, _, body = get(f"{server.http_url}/b/retro/qr.svg")
    assert status == 200 and body == qr_of(f"{server.http_url}/b/retro")
    assert get(f"{server.http_url}/b/team.retro/share.json")[0] == 404
