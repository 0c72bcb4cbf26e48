"""DNS rebinding: a page whose own name now points at this server gets nothing from it."""

from __future__ import annotations

import logging
import socket
import urllib.request
from pathlib import Path

import pytest
import websockets

from tests.integration.client import BoardClient
from tests.integration.test_http import get
from tests.serving import ServerThread
from whiteboard.server.hosts import LOGGED_HOSTS_PER_WINDOW
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


NOT_A_DNS_NAME = "a" * 70 + ".example"  # a label is at most 63 characters


@pytest.mark.parametrize("allowed", [(), ("*",)], ids=["default", "any host"])
async def test_a_host_that_is_no_dns_name_gets_400_without_a_traceback(
    boards_dir: Path, caplog: pytest.LogCaptureFixture, allowed: tuple[str, ...]
) -> None:
    # Quart's routing fails on such a name before any of its hooks run: it was a 500 and a
    # traceback in the log for every request, whatever allowed_hosts said.
    settings = Settings(boards_dir=boards_dir, fsync=False, allowed_hosts=allowed)
    with ServerThread(settings) as server:
        for path in ("/b/team", "/static/js/main.js", "/b/team/export.svg", "/healthz"):
            assert request_as(server, NOT_A_DNS_NAME, path)[0] == 400, path
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                f"ws://{NOT_A_DNS_NAME}:{server.port}/b/team/ws", host="127.0.0.1", port=server.port
            )
        assert refused.value.response.status_code == 400
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_client_naming_a_new_host_in_every_request_cannot_flood_the_log(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    # One line per refused name let a client fill the disk the boards live on: 3 KB of log per
    # request with a long made-up name, 3.2 MB for 1,000 requests.
    with caplog.at_level(logging.WARNING, logger="whiteboard.server.hosts"):
        for n in range(LOGGED_HOSTS_PER_WINDOW + 40):
            host = f"{n}-" + "x" * 60 + ".evil.example"
            assert request_as(server, host, "/b/team")[0] == 400
    lines = {r.getMessage() for r in caplog.records if r.name == "whiteboard.server.hosts"}
    assert len(lines) <= LOGGED_HOSTS_PER_WINDOW + 1  # the named ones, and "yet another host"
    assert max(map(len, lines)) < 400
