"""The board WebSocket in front of Quart (``asgi_socket.py``): ASGI events in, events out."""

from __future__ import annotations

import asyncio
from typing import Any

from whiteboard.protocol import CloseCode
from whiteboard.server.asgi_socket import AsgiWebSocket, ClientGone, SocketRoutes


def ws_scope(path: str, headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": path,
        "scheme": "ws",
        "headers": headers or [(b"host", b"127.0.0.1:8000")],
        "client": ("192.0.2.7", 50000),
        "server": ("127.0.0.1", 8000),
    }


class Peer:
    """The server's side of the ASGI callables: events to give, events sent."""

    def __init__(self, *events: dict[str, Any]) -> None:
        self.events = [{"type": "websocket.connect"}, *events]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.events.pop(0) if self.events else {"type": "websocket.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def quart_stand_in(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "from-quart", "path": scope["path"]})


def serve(handler: Any, scope: dict[str, Any], peer: Peer) -> None:
    asyncio.run(SocketRoutes(quart_stand_in, {"b": handler})(scope, peer.receive, peer.send))


def test_other_paths_and_http_requests_go_to_quart() -> None:
    async def never(ws: AsgiWebSocket, board_id: str) -> None:
        raise AssertionError("not a board socket")

    for scope in (
        ws_scope("/b/a/b/ws"),
        ws_scope("/x/a/ws"),
        ws_scope("/other/ws"),
        {"type": "http", "path": "/b/a/ws"},
    ):
        peer = Peer()
        serve(never, scope, peer)
        assert peer.sent == [{"type": "from-quart", "path": scope["path"]}]


def test_a_refused_handshake_is_an_http_response_with_its_reason() -> None:
    seen: list[tuple[str, str, str]] = []

    async def refuse(ws: AsgiWebSocket, board_id: str) -> tuple[int, str]:
        seen.append((board_id, ws.host, ws.remote_addr))
        return 403, "origin http://evil.example may not open this board"

    peer = Peer()
    serve(refuse, ws_scope("/b/team/ws"), peer)
    assert seen == [("team", "127.0.0.1:8000", "192.0.2.7")]
    start, body = peer.sent
    assert start["type"] == "websocket.http.response.start" and start["status"] == 403
    assert body == {
        "type": "websocket.http.response.body",
        "body": b"origin http://evil.example may not open this board",
        "more_body": False,
    }


def test_messages_arrive_in_order_and_the_disconnect_ends_the_handler() -> None:
    received: list[bytes | str] = []
    unwound: list[bool] = []

    async def echo(ws: AsgiWebSocket, board_id: str) -> None:
        await ws.accept()
        try:
            while True:
                received.append(await ws.receive())
        except ClientGone:
            unwound.append(True)
            raise

    peer = Peer(
        {"type": "websocket.receive", "bytes": b"\x81\xa4type", "text": None},
        {"type": "websocket.receive", "bytes": None, "text": "hi"},
        {"type": "websocket.disconnect", "code": 1001},
    )
    serve(echo, ws_scope("/b/team/ws"), peer)
    assert received == [b"\x81\xa4type", "hi"]
    assert unwound == [True]
    assert [m["type"] for m in peer.sent] == ["websocket.accept"]  # nothing after the client left


def test_a_failing_handler_closes_with_1011_and_an_open_socket_is_closed_once() -> None:
    async def fails(ws: AsgiWebSocket, board_id: str) -> None:
        await ws.accept()
        raise RuntimeError("a bug")

    peer = Peer()
    serve(fails, ws_scope("/b/team/ws"), peer)
    assert peer.sent[-1] == {
        "type": "websocket.close",
        "code": CloseCode.INTERNAL_ERROR,
        "reason": "",
    }

    async def closes_then_returns(ws: AsgiWebSocket, board_id: str) -> None:
        await ws.accept()
        await ws.close(4001, "full")

    peer = Peer()
    serve(closes_then_returns, ws_scope("/b/team/ws"), peer)
    assert [m.get("code") for m in peer.sent if m["type"] == "websocket.close"] == [4001]
