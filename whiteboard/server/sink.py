"""Where one connection's outbound frames go: the socket itself, or the ASGI send callable.

Sending a frame through Quart and Hypercorn costs about 20 µs of Python per frame and receiver
(``Websocket.send`` yields to the loop once, then the ASGI dict, wsproto's framing, an
``asyncio.Lock`` and ``drain()``; ``docs/performance.md``), and it must be awaited, so every
connection needs a task of its own to do it. A server frame is unmasked, so its bytes are the
same for every receiver: :class:`Frame` builds them once and :class:`TransportSink` hands them to
the connection's asyncio transport, which sends at once when the socket can take them and buffers
otherwise. ``write`` never blocks and never yields; the fan-out calls it for every receiver in one
loop, with no task per connection. Backpressure is visible as ``buffered_bytes``.

That needs Hypercorn's transport, which no API exposes: :func:`attach` finds it through the ASGI
send callable (``WSStream.app_send`` -> ``H11Protocol`` -> ``TCPServer.writer``), checked against
Hypercorn 0.18's classes (pinned in ``pyproject.toml``; ``tests/integration/test_sink.py`` fails
when the path changes). Control frames (pings, pongs, close) still go through Hypercorn: it
writes whole frames with ``transport.write`` too, so frames never interleave. Under any other
server (HTTP/2, another ASGI server) :class:`AsgiSink` sends through the ASGI callable, one task
per connection, with the same interface.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import WSStream
from wsproto.connection import ConnectionState

from .. import protocol
from .counters import COUNTS

log = logging.getLogger(__name__)

_OPCODE_BINARY_FIN = 0x82
PING_FRAME = b"\x89\x00"
"""An unmasked, final ping with no payload. Pings are written here rather than by Hypercorn:
its ping task sleeps ``websocket_ping_interval`` between pings and only then notices a closed
connection, which keeps every closed connection's task alive that long (a shutdown would
cancel them, logging a traceback each)."""


def frame_header(payload_bytes: int) -> bytes:
    """RFC 6455 header of an unmasked, final, binary frame of ``payload_bytes``."""
    if payload_bytes < 126:
        return bytes((_OPCODE_BINARY_FIN, payload_bytes))
    if payload_bytes < 0x10000:
        return bytes((_OPCODE_BINARY_FIN, 126)) + payload_bytes.to_bytes(2, "big")
    return bytes((_OPCODE_BINARY_FIN, 127)) + payload_bytes.to_bytes(8, "big")


class Frame:
    """One outbound message: its payload, and the whole WebSocket frame built on first use.

    A tick's frame is one object handed to every receiver, so the header is built once per tick,
    not once per receiver.
    """

    __slots__ = ("_payload", "_wire")

    def __init__(self, payload: bytes) -> None:
        self._payload: bytes | None = payload
        self._wire: bytes | None = None

    @classmethod
    def joined(cls, parts: list[bytes]) -> Frame:
        """The frame whose payload is ``parts`` concatenated, built with one copy: a replay frame
        of 1 MiB was copied three times (the ops joined, the batch header prepended, then the
        frame header), about 0.3 ms of the event loop per frame."""
        frame = cls.__new__(cls)
        frame._payload = None
        frame._wire = b"".join([frame_header(sum(map(len, parts))), *parts])
        return frame

    @classmethod
    def batch(cls, op_count: int, body: bytes) -> Frame:
        """A ``batch`` of ``op_count`` already-encoded ops concatenated in ``body``."""
        return cls(protocol.batch_header(op_count) + body)

    @property
    def payload(self) -> bytes:
        payload = self._payload
        if payload is None:  # a joined frame: only the ASGI fallback and tests ask
            wire = self.wire
            length = wire[1] & 0x7F
            payload = self._payload = wire[2 + (length == 126) * 2 + (length == 127) * 8 :]
        return payload

    @property
    def wire(self) -> bytes:
        wire = self._wire
        if wire is None:
            wire = self._wire = frame_header(len(self.payload)) + self.payload
        return wire


class Sink(Protocol):
    """Non-blocking outbound side of one WebSocket."""

    def backlog(self) -> int | None:
        """Bytes written but not yet taken by the kernel (0: the socket keeps up); None once data
        may no longer be written (a close frame was sent or received, the socket is gone)."""
        ...

    def write(self, frame: Frame) -> None: ...

    def ping(self) -> None:
        """Send a ping (the client's pong needs no answer): a socket whose peer vanished fails."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame (after everything written before it)."""
        ...

    def abort(self) -> None:
        """Drop the connection now (the peer did not finish the closing handshake in time)."""
        ...


class TransportSink:
    """Frames go straight to the asyncio transport under Hypercorn's WebSocket stream."""

    __slots__ = ("_close", "_stream", "_transport")

    def __init__(
        self,
        transport: asyncio.Transport,
        stream: Any,
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self._transport = transport
        self._stream = stream  # hypercorn WSStream: its wsproto connection knows about close
        self._close = close

    def backlog(self) -> int | None:
        transport = self._transport
        if self._stream.connection.state is not ConnectionState.OPEN or transport.is_closing():
            return None
        return transport.get_write_buffer_size()

    def write(self, frame: Frame) -> None:
        wire = frame.wire
        self._transport.write(wire)
        COUNTS.frames_out += 1
        COUNTS.bytes_out += len(wire)

    def ping(self) -> None:
        if self.backlog() is not None:
            self._transport.write(PING_FRAME)

    async def close(self, code: int, reason: str) -> None:
        await self._close(code, reason)

    def abort(self) -> None:
        self._transport.abort()


class AsgiSink:
    """Fallback for servers whose transport cannot be found: a task per connection sends queued
    payloads through the ASGI send callable (still skipping Quart's per-send ``sleep(0)``)."""

    def __init__(
        self,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
    ) -> None:
        self._send = send
        self._close = close
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._open = True
        self._task = asyncio.get_running_loop().create_task(self._run())

    def backlog(self) -> int | None:
        return self._queued_bytes if self._open else None

    def ping(self) -> None:
        """The ASGI send callable has no way to send a ping: the server's own pings apply."""

    def write(self, frame: Frame) -> None:
        if self._open:
            COUNTS.frames_out += 1
            COUNTS.bytes_out += len(frame.payload)
            self._queue.append(frame.payload)
            self._queued_bytes += len(frame.payload)
            self._wakeup.set()

    async def _run(self) -> None:
        queue = self._queue
        while True:
            while queue:
                payload = queue[0]
                await self._send({"type": "websocket.send", "bytes": payload, "text": None})
                queue.popleft()
                self._queued_bytes -= len(payload)
            self._wakeup.clear()
            await self._wakeup.wait()

    async def close(self, code: int, reason: str) -> None:
        """Close after what is queued (within the caller's deadline)."""
        self._open = False
        while self._queue and not self._task.done():
            self._wakeup.set()
            await asyncio.sleep(0.01)
        self._task.cancel()
        await self._close(code, reason)

    def abort(self) -> None:
        self._open = False
        self._task.cancel()
        self._queue.clear()
        self._queued_bytes = 0


def find_transport(asgi_send: Any) -> tuple[asyncio.Transport, Any] | None:
    """Hypercorn 0.18's transport and WebSocket stream behind ``asgi_send``, or None."""
    stream = getattr(asgi_send, "__self__", None)
    if not isinstance(stream, WSStream):
        return None
    h11 = getattr(stream.send, "__self__", None)
    if not isinstance(h11, H11Protocol):
        return None  # HTTP/2 WebSockets multiplex one transport: frames must go through h2
    tcp = getattr(h11.send, "__self__", None)
    if not isinstance(tcp, TCPServer):
        return None
    transport = tcp.writer.transport
    if not isinstance(transport, asyncio.WriteTransport) or not hasattr(stream, "connection"):
        return None
    return transport, stream  # type: ignore[return-value]


_warned_fallback = False


def attach(websocket: Any, send_buffer_bytes: int = 0) -> Sink:
    """The sink for an accepted ``asgi_socket.AsgiWebSocket``: its transport when Hypercorn's
    can be found behind its ASGI send callable. ``send_buffer_bytes`` sets the socket's
    SO_SNDBUF (0: leave the kernel's autotuning)."""
    global _warned_fallback
    close = websocket.close
    asgi_send = websocket.asgi_send
    found = find_transport(asgi_send)
    if found is not None:
        transport = found[0]
        sock = transport.get_extra_info("socket")
        if send_buffer_bytes and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes)
        return TransportSink(transport, found[1], close)
    if not _warned_fallback:
        _warned_fallback = True
        log.warning(
            "WebSocket transport not found (not Hypercorn 0.18 over HTTP/1.1): frames go "
            "through the ASGI send callable, one task per connection (slower)"
        )
    return AsgiSink(asgi_send, close)
