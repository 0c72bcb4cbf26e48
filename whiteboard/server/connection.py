"""One connected client as the hub sees it: identity, rate limits, its outbox, closing.

The hub only ever calls :meth:`Connection.send`, :meth:`Connection.close` and the broadcaster,
which never block, so one slow reader cannot hold up the others (it is closed with SLOW_CONSUMER
instead). There is no task per connection for sending: see ``sink.py`` and ``outbox.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..board import LiveStroke
from ..logformat import log_event
from ..protocol import CloseCode, Want
from .counters import COUNTS
from .outbox import Batch, Outbox, Pumped, SlowConsumer
from .sink import Sink

log = logging.getLogger(__name__)


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
    reconnects (derived from the client's secret id) and owns strokes and the undo stack.

    Outbound frames go through ``outbox`` (never blocking); :meth:`close` starts the closing
    handshake and guarantees the socket is gone within ``close_timeout_s``.
    """

    __slots__ = (
        "__weakref__",
        "_abort_timer",
        "_byte_rate",
        "_closing",
        "_frame_rate",
        "author",
        "board_id",
        "close_code",
        "close_reason",
        "close_timeout_s",
        "color",
        "errors",
        "live",
        "name",
        "outbox",
        "peer",
        "previews",
        "view_only",
        "want",
    )

    def __init__(
        self,
        *,
        peer: int,
        author: str,
        name: str,
        color: str,
        outbox: Outbox,
        frames_per_second: float,
        bytes_per_second: float,
        close_timeout_s: float,
        want: Want = Want.ALL,
        board_id: str = "",
    ) -> None:
        self.board_id = board_id
        self.peer = peer
        self.want = want
        self.view_only = False  # joined through a view link: every write is refused
        self.author = author
        self.name = name
        self.color = color
        self.outbox = outbox
        self.live: dict[str, LiveStroke] = {}
        self.previews: set[str] = set()  # ids of this client's drafts and moves others see
        self.errors = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_timeout_s = close_timeout_s
        self._frame_rate = TokenBucket(frames_per_second, 2 * frames_per_second)
        self._byte_rate = TokenBucket(bytes_per_second, 2 * bytes_per_second)
        self._closing: asyncio.Task[None] | None = None
        self._abort_timer: asyncio.TimerHandle | None = None

    def send(self, encoded: bytes) -> bool:
        """Send one encoded message to this connection alone; True: it is behind now."""
        try:
            return self.outbox.deliver(Batch(1, encoded), time.monotonic())
        except SlowConsumer as exc:
            self.close(CloseCode.SLOW_CONSUMER, f"too slow: {exc}")
            return False

    def close(self, code: int, reason: str = "", timeout_s: float | None = None) -> None:
        """Send a close frame after what is already written (so a final error still arrives) and
        abort the socket if the client has not completed the closing handshake within
        ``timeout_s`` (default ``close_timeout_s``). Logs one line."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        COUNTS.closes[code] += 1
        level = logging.DEBUG if code == CloseCode.GOING_AWAY else logging.INFO
        log_event(
            log, level, "closed", board=self.board_id, peer=self.peer, code=code, reason=reason
        )
        self.outbox.drop()
        self._closing, self._abort_timer = start_close(
            self.outbox.sink, code, reason, self.close_timeout_s if timeout_s is None else timeout_s
        )

    def finish(self) -> None:
        """The socket is gone: release the timer and task that hold on to it."""
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        if self._closing is not None and not self._closing.done():
            self._closing.cancel()
        self._closing = None
        self.outbox.drop()

    def allow(self, frame_bytes: int) -> bool:
        """Charge one inbound frame to the rate limits; False means the client is over them."""
        return self._frame_rate.take() and self._byte_rate.take(frame_bytes)


def start_close(
    sink: Sink, code: int, reason: str, timeout_s: float
) -> tuple[asyncio.Task[None], asyncio.TimerHandle]:
    """Send a close frame, and abort the socket in ``timeout_s`` unless it is gone by then.

    After the close frame the app must keep reading until the client's close arrives (Hypercorn
    reads the socket only while the app takes its messages): the caller drains ``receive``.
    """
    loop = asyncio.get_running_loop()
    timer = loop.call_later(timeout_s, sink.abort)
    task = loop.create_task(_send_close(sink, code, reason))
    return task, timer


async def _send_close(sink: Sink, code: int, reason: str) -> None:
    try:
        await sink.close(code, reason[:120])  # a close frame's reason is at most 123 bytes
    except Exception as exc:  # the socket went away first: nothing left to close
        log.debug("close %d not sent: %r", code, exc)


class Broadcaster(Protocol):
    """Where one board's frames go. The hub publishes each tick's batch once; the broadcaster
    hands the same object to every subscriber. ``LocalBroadcaster`` serves this process; a Redis
    one would publish to a channel that each process relays to its own local subscribers."""

    def add(self, conn: Connection) -> None: ...

    def remove(self, conn: Connection) -> bool: ...

    def get(self, peer: int) -> Connection | None: ...

    def publish(self, batch_for: Callable[[Want], Batch | None], now: float) -> None: ...

    def lagging(self, conn: Connection) -> None: ...

    def pump(self, now: float) -> Pumped: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Connection]: ...


class LocalBroadcaster:
    """The connections of one board in this process, grouped by what they subscribe to, and
    those that are behind."""

    def __init__(self) -> None:
        self._by_peer: dict[int, Connection] = {}
        self._by_want: dict[Want, dict[int, Connection]] = {}
        self._behind: set[Connection] = set()

    def add(self, conn: Connection) -> None:
        self._by_peer[conn.peer] = conn
        self._by_want.setdefault(conn.want, {})[conn.peer] = conn

    def remove(self, conn: Connection) -> bool:
        self._behind.discard(conn)
        group = self._by_want.get(conn.want)
        if group is not None and group.pop(conn.peer, None) is not None and not group:
            del self._by_want[conn.want]
        return self._by_peer.pop(conn.peer, None) is not None

    def get(self, peer: int) -> Connection | None:
        return self._by_peer.get(peer)

    def publish(self, batch_for: Callable[[Want], Batch | None], now: float) -> None:
        """Deliver ``batch_for(want)`` to each group of subscribers: one batch, one encoding,
        per kind of subscription, not per connection."""
        behind = self._behind
        for want, group in self._by_want.items():
            batch = batch_for(want)
            if batch is None:
                continue
            for conn in group.values():  # deliver and close never change these dicts
                try:
                    if conn.outbox.deliver(batch, now):
                        behind.add(conn)
                except SlowConsumer as exc:
                    conn.close(CloseCode.SLOW_CONSUMER, f"too slow: {exc}")

    def lagging(self, conn: Connection) -> None:
        """``conn`` has data waiting (a replay, a unicast message): pump it from now on."""
        self._behind.add(conn)

    def pump(self, now: float) -> Pumped:
        """Give each connection that is behind a frame if its socket takes it; the most any of
        them still has to do (``Pumped.MORE``: pump again on the next turn of the loop)."""
        behind, most = self._behind, Pumped.DONE
        for conn in list(behind):
            try:
                pumped = conn.outbox.pump(now) if conn.close_code is None else Pumped.DONE
            except SlowConsumer as exc:
                conn.close(CloseCode.SLOW_CONSUMER, f"too slow: {exc}")
                pumped = Pumped.DONE
            if not pumped:
                behind.discard(conn)
            most = max(most, pumped)
        return most

    def __len__(self) -> int:
        return len(self._by_peer)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._by_peer.values()))


def batches_by_want(events: list[tuple[int, bytes]]) -> Callable[[Want], Batch | None]:
    """The tick's batch for each kind of subscription, built on first use: one encoding per
    kind of subscriber, not per connection. ``events`` carry their kinds as int masks."""
    built: dict[Want, Batch | None] = {}

    def batch_for(want: Want) -> Batch | None:
        batch = built.get(want, _UNBUILT)
        if batch is _UNBUILT:
            mask = int(want)
            chosen = [encoded for kinds, encoded in events if kinds & mask]
            batch = built[want] = Batch.of(chosen) if chosen else None
        return batch  # type: ignore[return-value]

    return batch_for


_UNBUILT: Any = object()


def for_everyone(batch: Batch) -> Callable[[Want], Batch]:
    """Committed ops go to every subscriber alike."""
    return lambda want: batch
