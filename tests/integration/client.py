"""A small real WebSocket client of the board protocol, for integration tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgpack
import websockets

from whiteboard.protocol import encode_hello

RECV_TIMEOUT_S = 5.0


class BoardClient:
    """Connects, says hello, and collects everything the server sends, message by message."""

    def __init__(self, ws: websockets.ClientConnection, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.received: list[dict[str, Any]] = []  # every message, batches unpacked
        self.last_seq = 0
        self.author: str = welcome["author"]

    @classmethod
    async def connect(
        cls,
        ws_url: str,
        board: str,
        client: str = "client-a",
        *,
        name: str = "Tester",
        color: str = "#336699",
        since: int | None = None,
        path: str | None = None,
        **connect_kwargs: Any,
    ) -> BoardClient:
        """``path`` is where the socket is (``/v/<token>`` for a view link), ``/b/<board>``
        unless given."""
        ws = await websockets.connect(f"{ws_url}{path or f'/b/{board}'}/ws", **connect_kwargs)
        await ws.send(encode_hello(client, name, color, since))
        welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S))
        assert welcome["type"] == "welcome", welcome
        return cls(ws, welcome)

    async def send(self, *messages: dict[str, Any]) -> None:
        if len(messages) == 1:
            await self.ws.send(msgpack.packb(messages[0]))
        else:
            await self.ws.send(msgpack.packb({"type": "batch", "ops": list(messages)}))

    async def receive(self) -> list[dict[str, Any]]:
        """The messages of the next frame (a batch is unpacked)."""
        frame = msgpack.unpackb(await asyncio.wait_for(self.ws.recv(), RECV_TIMEOUT_S))
        messages = frame["ops"] if frame.get("type") == "batch" else [frame]
        for message in messages:
            if "seq" in message and message["type"] not in ("welcome", "ack"):
                self.last_seq = max(self.last_seq, message["seq"])
        self.received += messages
        return messages

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Receive until a message matches ``predicate`` (already received ones count)."""
        for message in self.received:
            if predicate(message):
                return message
        async with asyncio.timeout(RECV_TIMEOUT_S):
            while True:
                for message in await self.receive():
                    if predicate(message):
                        return message

    async def wait_for_seq(self, seq: int) -> None:
        async with asyncio.timeout(RECV_TIMEOUT_S):
            while self.last_seq < seq:
                await self.receive()

    def committed(self) -> list[dict[str, Any]]:
        return [m for m in self.received if "seq" in m and m["type"] not in ("welcome", "ack")]

    async def close(self) -> None:
        await self.ws.close()


def pen_stroke(op_id: str, pts: list[int] | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "type": "stroke",
        "id": op_id,
        "tool": "pen",
        "color": "#000000",
        "width": 3,
        "pts": pts or [40, 40, 4, 4, 4, 0],
        **fields,
    }


def is_op(kind: str, op_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("type") == kind and m.get("id") == op_id
