"""The board WebSocket served straight from ASGI, in front of Quart rather than through it.

For every WebSocket Quart builds a ``Websocket`` object (its headers copied into a ``Headers``,
request and app contexts, signals) and runs two tasks besides the server's own: one moves each
ASGI event into a second receive queue, the other runs the handler, and ``asyncio.wait`` watches
both. The board does its own sending (``sink.py``) and reads its frames in one loop, so all of
that is overhead per connection: memory that every idle phone of a room holds, and work on every
join and every inbound frame (``docs/performance.md``, "Big rooms"). :class:`SocketRoutes` takes
the board's WebSocket paths before Quart sees them; every other request (pages, exports, media, the
lifespan) goes to Quart unchanged.

:class:`AsgiWebSocket` is the little of Quart's ``Websocket`` the board uses, on the raw ASGI
callables. One difference: when the client goes away, Quart cancelled the handler; here
``receive`` raises :class:`ClientGone`, which unwinds the handler the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.sansio.utils import get_host

from ..protocol import CloseCode

log = logging.getLogger(__name__)

SOCKET_PATH = re.compile(r"/([^/]+)/([^/]+)/ws")
"""``/<route>/<name>/ws``, as Quart's routes ``/b/<board_id>/ws`` and ``/v/<token>/ws`` matched
it (any name without a slash: the handler refuses the invalid ones with 404)."""

Asgi = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def request_host(scope: dict[str, Any]) -> str:
    """``Host`` as Quart reports it (werkzeug's reading: port dropped when standard)."""
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), None)
    return get_host(scope["scheme"], host, scope.get("server"))


class ClientGone(Exception):
    """The client's side of the socket is gone (its close frame or the TCP connection), or the
    server refused a message over the size limit (``code`` 1009: ``stack.py``)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class AsgiWebSocket:
    """One WebSocket on the ASGI callables the server gave: accept, receive, close, refuse."""

    __slots__ = ("_receive", "accepted", "asgi_send", "closed", "scope")

    def __init__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scope = scope
        self._receive = receive
        self.asgi_send = send  # what sink.attach looks behind for the transport
        self.accepted = False
        self.closed = False

    def header(self, name: bytes) -> str | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.scope["headers"]:
            if key == name:
                return value.decode("latin-1")
        return None

    @property
    def host(self) -> str:
        return request_host(self.scope)

    @property
    def scheme(self) -> str:
        return self.scope["scheme"]

    @property
    def remote_addr(self) -> str:
        client = self.scope.get("client")
        return client[0] if client else "<local>"

    @property
    def query(self) -> list[tuple[str, str]]:
        """The query string's decoded pairs, in order."""
        return parse_qsl(
            self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True
        )

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered (``Sec-WebSocket-Protocol``)."""
        return self.scope.get("subprotocols") or []

    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the handshake, selecting ``subprotocol`` (one the client offered)."""
        self.accepted = True
        await self.asgi_send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": []}
        )

    async def receive(self) -> bytes | str:
        """The next message; :class:`ClientGone` once the client disconnected."""
        event = await self._receive()
        if event["type"] == "websocket.receive":
            data = event.get("bytes")
            return data if data is not None else event["text"]
        raise ClientGone(event.get("code", 1005))

    async def send(self, data: bytes) -> None:
        """A message through the server's framing (``sink.AsgiSink``; pings, closes)."""
        await self.asgi_send({"type": "websocket.send", "bytes": data, "text": None})

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        await self.asgi_send({"type": "websocket.close", "code": code, "reason": reason})

    async def refuse(self, status: int, body: str) -> None:
        """Answer the handshake with an HTTP error instead of accepting it."""
        data = body.encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(data)).encode()),
        ]
        await self.asgi_send(
            {"type": "websocket.http.response.start", "status": status, "headers": headers}
        )
        await self.asgi_send(
            {"type": "websocket.http.response.body", "body": data, "more_body": False}
        )


Handler = Callable[[AsgiWebSocket, str], Awaitable[tuple[int, str] | None]]
"""Serves one socket given the name in its path; returns ``(status, body)`` to refuse the
handshake instead."""


class SocketRoutes:
    """ASGI middleware: WebSockets on ``/<route>/<name>/ws`` to ``handlers[route]``, everything
    else to ``app``."""

    def __init__(self, app: Asgi, handlers: dict[str, Handler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            match = SOCKET_PATH.fullmatch(scope["path"])
            handler = None if match is None else self.handlers.get(match[1])
            if handler is not None:
                await _serve(handler, AsgiWebSocket(scope, receive, send), match[2])
                return
        await self.app(scope, receive, send)


async def _serve(handler: Handler, websocket: AsgiWebSocket, name: str) -> None:
    try:
        connect = await websocket._receive()
        if connect["type"] != "websocket.connect":
            return
        refusal = await handler(websocket, name)
        if refusal is not None and not websocket.accepted:
            await websocket.refuse(*refusal)
        elif websocket.accepted:
            await websocket.close(1000)  # the handler is done with an open socket
    except ClientGone:
        pass
    except Exception:
        log.exception("%s: the WebSocket handler failed", websocket.scope["path"])
        if websocket.accepted:
            await websocket.close(CloseCode.INTERNAL_ERROR)
        else:
            await websocket.refuse(500, "internal error")
