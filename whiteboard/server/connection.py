"""One connected client as the hub sees it: identity, a bounded send queue, a rate limiter.

Transport-agnostic: the WebSocket handler gives :meth:`Connection.run_sender` two callables, one to
send a frame and one to close. The hub only ever calls :meth:`push` and :meth:`close`, which never
block, so one slow reader cannot hold up the others (it is closed with SLOW_CONSUMER instead).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..board import LiveStroke
from ..protocol import CloseCode


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` held; ``take`` fails rather than go below 0."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self, amount: float = 1.0) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


class Connection:
    """A client on one board. ``peer`` is public and per connection; ``author`` is stable across
    reconnects (derived from the client's secret id) and owns strokes and the undo stack."""

    def __init__(
        self,
        *,
        peer: int,
        author: str,
        name: str,
        color: str,
        queue_frames: int,
        frames_per_second: float,
        bytes_per_second: float,
    ) -> None:
        self.peer = peer
        self.author = author
        self.name = name
        self.color = color
        self.live: dict[str, LiveStroke] = {}
        self.errors = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._frames: deque[bytes] = deque()
        self._queue_frames = queue_frames
        self._wakeup = asyncio.Event()
        self._frame_rate = TokenBucket(frames_per_second, 2 * frames_per_second)
        self._byte_rate = TokenBucket(bytes_per_second, 2 * bytes_per_second)

    def push(self, frame: bytes) -> None:
        """Queue ``frame``; a full queue means the reader is too slow: close it so it resumes."""
        if self.close_code is not None:
            return
        if len(self._frames) >= self._queue_frames:
            self._frames.clear()  # it resumes from its last seq; the backlog is useless now
            self.close(CloseCode.SLOW_CONSUMER, "send queue full: reconnect and resume")
            return
        self._frames.append(frame)
        self._wakeup.set()

    def close(self, code: int, reason: str = "") -> None:
        """Ask the sender to close after what is already queued (so a final error still arrives)."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
            self._wakeup.set()

    def allow(self, frame_bytes: int) -> bool:
        """Charge one inbound frame to the rate limits; False means the client is over them."""
        return self._frame_rate.take() and self._byte_rate.take(frame_bytes)

    @property
    def queued_frames(self) -> int:
        return len(self._frames)

    async def run_sender(
        self,
        send: Callable[[bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        timeout_s: float,
    ) -> None:
        """Send queued frames until closed; a send that takes longer than ``timeout_s`` ends it."""
        frames = self._frames
        while True:
            while frames:
                async with asyncio.timeout(timeout_s):
                    await send(frames.popleft())
            if self.close_code is not None:
                await close(self.close_code, self.close_reason)
                return
            self._wakeup.clear()
            await self._wakeup.wait()


class Broadcaster(Protocol):
    """Where one board's frames go. The hub publishes each tick's frame once; the broadcaster
    hands the same bytes to every subscriber. ``LocalBroadcaster`` serves this process; a Redis
    one would publish to a channel that each process relays to its own local subscribers."""

    def add(self, conn: Connection) -> None: ...

    def remove(self, conn: Connection) -> bool: ...

    def publish(self, frame: bytes) -> None: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Connection]: ...


class LocalBroadcaster:
    """The connections of one board in this process, by peer id."""

    def __init__(self) -> None:
        self._by_peer: dict[int, Connection] = {}

    def add(self, conn: Connection) -> None:
        self._by_peer[conn.peer] = conn

    def remove(self, conn: Connection) -> bool:
        return self._by_peer.pop(conn.peer, None) is not None

    def publish(self, frame: bytes) -> None:
        for conn in list(self._by_peer.values()):
            conn.push(frame)

    def __len__(self) -> int:
        return len(self._by_peer)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_peer.values()))
