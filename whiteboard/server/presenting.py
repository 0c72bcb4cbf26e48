"""Presenting to a room on one board: "follow me", "bring everyone here" and the laser pointer.

All of it is ephemeral, like cursors: relayed to the board's clients that subscribe to
``present`` events, never logged, never exported. Each is bounded like cursors are:

- the presenter's view (``lead``) goes out at most ``follow_hz`` times a second, the latest one
  winning, however often the presenter pans; one presenter at a time, the latest to ask;
- laser points are merged per tick into one event per peer, and a connection's points beyond
  ``laser_points_per_second`` (bursts of twice that) are dropped: the trail thins, nothing fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import protocol
from ..protocol import Laser, Lead, Want
from ..settings import Settings
from .connection import Connection, TokenBucket


def lead_fields(conn: Connection, rect: tuple[float, float, float, float]) -> dict[str, Any]:
    x, y, w, h = rect
    return {
        "peer": conn.peer,
        "name": conn.name,
        "color": conn.color,
        "x": x,
        "y": y,
        "w": w,
        "h": h,
    }


class Stage:
    """One board's presenter and laser trails; hands events to the hub's tick with ``queue``."""

    def __init__(self, settings: Settings, queue: Callable[[bytes, Want], None]) -> None:
        self.settings = settings
        self._queue = queue
        self.leader: Connection | None = None
        self._rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
        self._pending_lead: bytes | None = None
        self._next_lead_s = 0.0
        self._laser: dict[int, list[int]] = {}  # peer -> this tick's points
        self._laser_new: set[int] = set()  # peers whose points this tick start a new trail
        self._buckets: dict[int, TokenBucket] = {}

    def welcome_fields(self) -> dict[str, Any]:
        """A late joiner follows the presenter at once."""
        if self.leader is None:
            return {}
        return {"lead": lead_fields(self.leader, self._rect)}

    def lead(self, conn: Connection, message: Lead) -> None:
        if message.mode == "stop":
            if self.leader is conn:
                self.leader = None
                self._pending_lead = None
                self._queue(_stop_event(conn), Want.PRESENT)
            return
        assert message.rect is not None  # the decoder requires it for follow and once
        if message.mode == "follow":
            self.leader = conn
            self._rect = message.rect
        fields = lead_fields(conn, message.rect)
        self._pending_lead = protocol.encode_event("lead", mode=message.mode, **fields)

    def laser(self, conn: Connection, message: Laser) -> None:
        bucket = self._buckets.get(conn.peer)
        if bucket is None:
            rate = self.settings.laser_points_per_second
            bucket = self._buckets[conn.peer] = TokenBucket(rate, 2 * rate)
        if not bucket.take(len(message.pts) // 2):
            return
        points = self._laser.get(conn.peer)
        if points is None or message.new:
            if points:  # a trail ended and the next began within one tick: send the first now
                self._queue_laser(conn.peer, points)
            points = self._laser[conn.peer] = []
            if message.new:
                self._laser_new.add(conn.peer)
        points.extend(message.pts)

    def leave(self, conn: Connection) -> None:
        self._buckets.pop(conn.peer, None)
        self._laser.pop(conn.peer, None)
        self._laser_new.discard(conn.peer)
        if self.leader is conn:
            self.leader = None
            self._pending_lead = None
            self._queue(_stop_event(conn), Want.PRESENT)

    def flush(self, now: float) -> float | None:
        """Queue this tick's laser points and the presenter's view if due; when more is due."""
        for peer, points in self._laser.items():
            self._queue_laser(peer, points)
        self._laser.clear()
        if self._pending_lead is None:
            return None
        if now < self._next_lead_s:
            return self._next_lead_s
        self._queue(self._pending_lead, Want.PRESENT)
        self._pending_lead = None
        self._next_lead_s = now + 1 / self.settings.follow_hz
        return None

    def _queue_laser(self, peer: int, points: list[int]) -> None:
        fields: dict[str, Any] = {"peer": peer, "pts": points}
        if peer in self._laser_new:
            self._laser_new.discard(peer)
            fields["new"] = True
        self._queue(protocol.encode_event("laser", **fields), Want.PRESENT)


def _stop_event(conn: Connection) -> bytes:
    return protocol.encode_event("lead", mode="stop", peer=conn.peer)
