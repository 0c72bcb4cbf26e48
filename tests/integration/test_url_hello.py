"""The hello in the socket's URL (protocol 9): the welcome comes with the handshake, before the
client sends anything, and means what a hello frame would; the secret client id travels in a
subprotocol, never in the URL."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
import websockets

from tests.integration.client import RECV_TIMEOUT_S, BoardClient, pen_stroke
from tests.integration.test_bad_input import closed_with
from tests.serving import ServerThread
from whiteboard.protocol import (
    CLIENT_SUBPROTOCOL_PREFIX,
    PROTOCOL_VERSION,
    SUBPROTOCOL,
    CloseCode,
    hello_url,
)


async def url_connect(
    server: ServerThread, board: str, client: str, **hello: Any
) -> tuple[websockets.ClientConnection, dict[str, Any]]:
    """Open the socket with the hello in its URL and read the welcome, sending nothing."""
    query, subprotocols = hello_url(client, hello.pop("name", "Url"), "#AA5500", **hello)
    ws = await websockets.connect(
        f"{server.ws_url}/b/{board}/ws?{query}", subprotocols=subprotocols
    )
    welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def test_a_hello_in_the_url_is_welcomed_before_the_client_sends_anything(
    server: ServerThread,
) -> None:
    drawer = await BoardClient.connect(server.ws_url, "urlhello", "same-client", name="Frame")
    for number in range(3):
        await drawer.send(pen_stroke(f"s{number}"))
    await drawer.wait_for_seq(3)
    ws, welcome = await url_connect(server, "urlhello", "same-client", name="Ann  Lee", since=1)
    assert ws.subprotocol == SUBPROTOCOL
    assert "same-client" not in ws.request.path  # the secret is not in the URL
    assert welcome["v"] == PROTOCOL_VERSION
    assert (welcome["name"], welcome["color"]) == ("Ann Lee", "#aa5500")
    assert welcome["author"] == drawer.author  # the same client id, the same author
    assert (welcome["since"], welcome["seq"]) == (1, 3)
    replayed = msgpack.unpackb(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
    assert [op["id"] for op in replayed["ops"]] == ["s1", "s2"]
    # The welcomed socket is a connection like any other: it draws, the other sees it.
    await ws.send(msgpack.packb(pen_stroke("from-url")))
    assert (await drawer.wait_for(lambda m: m.get("id") == "from-url"))["seq"] == 4
    await ws.close()
    await drawer.close()


async def test_a_url_hello_subscribes_to_the_kinds_it_names(server: ServerThread) -> None:
    quiet, _ = await url_connect(server, "urlwant", "quiet", want=[])
    talker = await BoardClient.connect(server.ws_url, "urlwant", "talker")
    await talker.send({"type": "cursor", "x": 5, "y": 5}, pen_stroke("kept"))
    frame = msgpack.unpackb(await asyncio.wait_for(quiet.recv(), RECV_TIMEOUT_S))
    ops = frame["ops"] if frame["type"] == "batch" else [frame]
    assert [op["type"] for op in ops] == ["stroke"]  # no join, no cursor: only committed ops
    await quiet.close()
    await talker.close()


@pytest.mark.parametrize(
    ("query", "subprotocols", "code", "reason"),
    [
        ("v=9&name=A&color=%23000000", [SUBPROTOCOL], CloseCode.BAD_HANDSHAKE, "subprotocols"),
        (
            "v=9&name=A&color=%23000000",
            [SUBPROTOCOL, f"{CLIENT_SUBPROTOCOL_PREFIX}a.b"],
            4000,
            "A-Z",
        ),
        ("v=9&name=%07&color=%23000000", None, CloseCode.BAD_HANDSHAKE, "name"),
        ("v=9&name=A&color=red", None, CloseCode.BAD_HANDSHAKE, "color"),
        ("v=9&name=A&color=%23000000&since=-1", None, CloseCode.BAD_HANDSHAKE, "since"),
        ("v=x&name=A&color=%23000000", None, CloseCode.BAD_HANDSHAKE, "v must"),
        ("v=1&name=A&color=%23000000", None, 4006, "reload the page"),
        (f"v={PROTOCOL_VERSION + 1}&name=A&color=%23000000", None, 4006, "reload the page"),
    ],
    ids=[
        "no client",
        "bad client id",
        "bad name",
        "bad color",
        "bad since",
        "bad v",
        "too old",
        "too new",
    ],
)
async def test_a_bad_url_hello_is_closed_like_a_bad_hello_frame(
    server: ServerThread, query: str, subprotocols: list[str] | None, code: int, reason: str
) -> None:
    offered = subprotocols or [SUBPROTOCOL, f"{CLIENT_SUBPROTOCOL_PREFIX}someone"]
    url = f"{server.ws_url}/b/urlbad/ws?{query}"
    async with websockets.connect(url, subprotocols=offered) as ws:
        assert await closed_with(ws) == code
        assert reason in ws.close_reason
