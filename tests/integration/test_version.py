"""The protocol version: a page the server no longer speaks is told to reload, with 4006."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient
from tests.integration.test_bad_input import closed_with
from tests.serving import ServerThread
from whiteboard.protocol import MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, CloseCode


async def test_welcome_carries_the_servers_protocol_version(server: ServerThread) -> None:
    client = await BoardClient.connect(server.ws_url, "versions", "ann")
    assert client.welcome["v"] == PROTOCOL_VERSION
    await client.close()


@pytest.mark.parametrize(
    "version_field",
    [{}, {"v": MIN_PROTOCOL_VERSION - 1}, {"v": PROTOCOL_VERSION + 1}],
    ids=["no v (version 1)", "too old", "too new"],
)
async def test_a_client_of_another_protocol_version_is_closed_with_4006(
    server: ServerThread, version_field: dict[str, Any]
) -> None:
    async with websockets.connect(f"{server.ws_url}/b/versions/ws") as ws:
        hello = {"type": "hello", "client": "old", "name": "Old", "color": "#000000"}
        await ws.send(msgpack.packb({**hello, **version_field}))
        assert await closed_with(ws) == CloseCode.UNSUPPORTED_VERSION
        assert "reload the page" in ws.close_reason


async def test_a_version_that_is_not_a_positive_integer_is_a_bad_hello(
    server: ServerThread,
) -> None:
    async with websockets.connect(f"{server.ws_url}/b/versions/ws") as ws:
        hello = {"type": "hello", "v": "2", "client": "x", "name": "X", "color": "#000000"}
        await ws.send(msgpack.packb(hello))
        assert await closed_with(ws) == CloseCode.BAD_HANDSHAKE
