"""A minimal asyncio WebSocket client for the load generator: binary frames in and out, no more.

Why not the ``websockets`` client: the load generator must read 50 viewers' worth of frames on one
core while the server under test gets the other. A full client spends tens of microseconds per
frame in Python; this one parses frame headers in ``data_received`` and hands each payload to a
callback, a few microseconds per frame, so saturated runs measure the server, not the generator.

It speaks just enough RFC 6455 for a benchmark against a trusted server on 127.0.0.1: client
frames are masked (the server requires it), server frames are expected unmasked, fragments are
reassembled, pings are answered. No extensions are offered, as with a server that declines
permessage-deflate anyway.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Callable, Sequence

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
HANDSHAKE_TIMEOUT_S = 10.0

# Both the server's batches and msgpack.packb({"type": "batch", "ops": [...]}) start with these
# bytes: fixmap(2), "type", "batch", "ops", then the array header that holds the op count.
BATCH_PREFIX = b"\x82\xa4type\xa5batch\xa3ops"
_PREFIX_LEN = len(BATCH_PREFIX)


def count_batch_ops(payload: bytes) -> int:
    """Ops in a batch frame, read from its msgpack array header without decoding; -1: no batch."""
    if payload[:_PREFIX_LEN] != BATCH_PREFIX:
        return -1
    head = payload[_PREFIX_LEN]
    if 0x90 <= head <= 0x9F:
        return head & 0x0F
    if head == 0xDC:
        return int.from_bytes(payload[_PREFIX_LEN + 1 : _PREFIX_LEN + 3], "big")
    if head == 0xDD:
        return int.from_bytes(payload[_PREFIX_LEN + 1 : _PREFIX_LEN + 5], "big")
    return -1


def _masked(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    if not size:
        return b""
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def encode_client_frame(payload: bytes, opcode: int = OP_BINARY) -> bytes:
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 0x10000:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    return header + key + _masked(payload, key)


class RawWebSocket(asyncio.Protocol):
    """One client connection. ``on_message(payload, arrival_s)`` runs for every complete message.

    ``arrival_s`` is ``loop.time()`` taken once per ``data_received`` call, i.e. when the event
    loop read the bytes, before any of them was parsed: latency excludes our own decode time, but
    includes any time the bytes waited for a busy load generator.
    """

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        on_message: Callable[[bytes, float], None] | None = None,
        subprotocols: Sequence[str] = (),
    ) -> None:
        self.host, self.port, self.path = host, port, path
        self.subprotocols = subprotocols
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.bytes_received = 0
        self.frames_received = 0
        self.close_code: int | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._open = self._loop.create_future()
        self._fragments: list[bytes] = []
        self._key = base64.b64encode(os.urandom(16)).decode()

    @classmethod
    async def connect(
        cls,
        port: int,
        path: str,
        on_message: Callable[[bytes, float], None] | None = None,
        host: str = "127.0.0.1",
        receive_buffer_bytes: int = 0,
        subprotocols: Sequence[str] = (),
    ) -> RawWebSocket:
        """Connect and complete the handshake; ``receive_buffer_bytes`` sets SO_RCVBUF (tests
        make a slow reader with a small one and ``pause_reading``)."""
        loop = asyncio.get_running_loop()
        sock = socket.socket()
        sock.setblocking(False)
        if receive_buffer_bytes:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
        try:
            await loop.sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        _, proto = await loop.create_connection(
            lambda: cls(host, port, path, on_message, subprotocols), sock=sock
        )
        await asyncio.wait_for(asyncio.shield(proto._open), HANDSHAKE_TIMEOUT_S)
        return proto

    # --- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self._key}\r\nSec-WebSocket-Version: 13\r\n"
        )
        if self.subprotocols:
            request += f"Sec-WebSocket-Protocol: {', '.join(self.subprotocols)}\r\n"
        request += "\r\n"
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        arrival_s = self._loop.time()
        self.bytes_received += len(data)
        buffer = self._buffer
        buffer += data
        if not self._open.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[: buffer.find(b"\r\n")])
            del buffer[: end + 4]
            if b" 101 " not in status:
                self._open.set_exception(ConnectionError(f"handshake refused: {status!r}"))
                self.transport.close()
                return
            self._open.set_result(None)
        self._parse(arrival_s)

    def _parse(self, arrival_s: float) -> None:
        buffer = self._buffer
        size = len(buffer)
        pos = 0
        while size - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            length = second & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                header = 10
            if second & 0x80:
                raise ConnectionError("server frames must not be masked")
            end = pos + header + length
            if end > size:
                break
            payload = bytes(buffer[pos + header : end])
            pos = end
            self._frame(first & 0x80, first & 0x0F, payload, arrival_s)
        if pos:
            del buffer[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes, arrival_s: float) -> None:
        if opcode == OP_PING:
            self._write(encode_client_frame(payload, OP_PONG))
            return
        if opcode == OP_PONG:
            return
        if opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._write(encode_client_frame(payload[:2], OP_CLOSE))
            self.transport.close()
            return
        if not fin:
            self._fragments.append(payload)
            return
        if self._fragments:
            self._fragments.append(payload)
            payload = b"".join(self._fragments)
            self._fragments = []
        self.frames_received += 1
        if self.on_message is not None:
            self.on_message(payload, arrival_s)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._open.done():
            self._open.set_exception(exc or ConnectionError("closed during handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    # --- sending ---------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def send(self, payload: bytes) -> None:
        """Queue one binary frame (asyncio buffers it; the kernel sends it when it can)."""
        self._write(encode_client_frame(payload))

    def pause_reading(self) -> None:
        """Stop reading the socket (a stalled reader): the server's writes back up."""
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    @property
    def write_buffer_bytes(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    async def close(self, timeout_s: float = 2.0) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._write(encode_client_frame((1000).to_bytes(2, "big"), OP_CLOSE))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), timeout_s)
        except TimeoutError:
            self.transport.abort()
