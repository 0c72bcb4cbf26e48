"""A lean raw WebSocket client of the board protocol (``bench/wsclient.py`` underneath): cheap
enough for a test to open thousands, and able to stop reading, as a stalled phone does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import msgpack

from bench.wsclient import RawWebSocket
from tests.serving import ServerThread
from whiteboard.protocol import encode_hello

WAIT_S = 10.0


class RawReader:
    """Keeps every message it received, in order (batches unpacked), and what each frame held."""

    def __init__(self, decode: bool = True) -> None:
        self.decode = decode
        self.frames = 0
        self.largest_batch = 0
        self.messages: list[dict[str, Any]] = []
        self.welcome: dict[str, Any] | None = None
        self.ws: RawWebSocket | None = None

    def on_message(self, payload: bytes, arrival_s: float) -> None:
        self.frames += 1
        if not self.decode and self.welcome is not None:
            return
        decoded = msgpack.unpackb(payload)
        messages = decoded["ops"] if decoded.get("type") == "batch" else [decoded]
        if self.welcome is None and messages and messages[0].get("type") == "welcome":
            self.welcome = messages[0]
        self.largest_batch = max(self.largest_batch, len(messages))
        self.messages += messages

    @classmethod
    async def connect(
        cls,
        server: ServerThread,
        board: str,
        name: str,
        *,
        receive_buffer_bytes: int = 0,
        want: Sequence[str] | None = None,
        decode: bool = True,
    ) -> RawReader:
        reader = cls(decode)
        reader.ws = await RawWebSocket.connect(
            server.port,
            f"/b/{board}/ws",
            reader.on_message,
            receive_buffer_bytes=receive_buffer_bytes,
        )
        reader.ws.send(encode_hello(f"{name}-client", name, "#000000", want=want))
        await reader.wait(lambda: reader.welcome is not None)
        return reader

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(msgpack.packb(message))

    async def wait(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.01)

    def of_type(self, *kinds: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") in kinds]


async def crowd(
    server: ServerThread, board: str, count: int, at_once: int = 100, **options: Any
) -> list[RawReader]:
    """``count`` clients joined to ``board``, ``at_once`` connecting together."""
    readers: list[RawReader] = []
    for start in range(0, count, at_once):
        readers += await asyncio.gather(
            *(
                RawReader.connect(server, board, f"guest{n}", **options)
                for n in range(start, min(count, start + at_once))
            )
        )
    return readers


async def close_all(readers: Sequence[RawReader]) -> None:
    for reader in readers:
        reader.ws.transport.abort()
