"""DNS rebinding: a page whose own name now points at this server gets nothing from it."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.integration.client import BoardClient
from tests.integration.test_http import get
from tests.serving import ServerThread
from whiteboard.settings import Settings


def request_as(server: ServerThread, host: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` from the test server with ``Host: host``, as a rebound page's fetch sends."""
    status, _, body = get(urllib.request.Request(server.http_url + path, headers={"Host": host}))
    return status, body


@pytest.mark.parametrize("path", ["/", "/b/team", "/b/team/export.svg", "/static/js/main.js"])
def test_a_rebound_name_gets_400_on_every_route(server: ServerThread, path: str) -> None:
    status, body = request_as(server, f"evil.example:{server.port}", path)
    assert status == 400
    assert b"allowed-hosts" in body


async def test_a_rebound_page_cannot_open_a_board_socket(server: ServerThread) -> None:
    """Origin matches Host here, as it does for a rebound page: only the name tells."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            f"ws://evil.example:{server.port}/b/team/ws",
            host="127.0.0.1",
            port=server.port,
            origin=f"http://evil.example:{server.port}",
        )
    assert refused.value.response.status_code == 400


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "app.localhost", "[::1]", "10.1.2.3", socket.gethostname()]
)
def test_addresses_localhost_and_this_machines_names_are_served(
    server: ServerThread, host: str
) -> None:
    assert request_as(server, f"{host}:{server.port}", "/b/team")[0] == 200


async def test_public_url_and_allowed_hosts_name_more_hosts(boards_dir: Path) -> None:
    settings = Settings(
        boards_dir=boards_dir,
        fsync=False,
        public_url="https://wb.example.org",
        allowed_hosts=(".team.example", "board.lan"),
    )
    with ServerThread(settings) as server:
        for host in ("wb.example.org", "team.example", "a.team.example", "BOARD.LAN."):
            assert request_as(server, host, "/b/team")[0] == 200, host
        for host in ("example.org", "evil-team.example", "board.lan.evil.example"):
            assert request_as(server, host, "/b/team")[0] == 400, host
        client = await BoardClient.connect(
            f"ws://wb.example.org:{server.port}", "team", "a", host="127.0.0.1", port=server.port
        )
        await client.close()


def test_a_star_allows_any_host(boards_dir: Path) -> None:
    settings = Settings(boards_dir=boards_dir, fsync=False, allowed_hosts=("*",))
    with ServerThread(settings) as server:
        assert request_as(server, "evil.example", "/b/team")[0] == 200
