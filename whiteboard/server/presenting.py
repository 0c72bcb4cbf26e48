"""Presenting to a room on one board: "follow me", "bring everyone here" and the laser pointer.

All of it is ephemeral, like cursors: relayed to the board's clients that subscribe to
``present`` events, never logged, never exported. Each is bounded like cursors are:

- the presenter's view (``lead``) goes out at most ``follow_hz`` times a second, the latest one
  winning, however often the presenter pans; one presenter at a time, the latest to ask;
- laser points are merged per tick into one event per peer, and a connection's points beyond
  ``laser_points_per_second`` (bursts of twice that) are dropped: the trail thins, nothing fails.

In Redis mode (``cluster/hub.py``) every event of this worker's clients also goes to the other
workers (``share``), and the presenter may be another worker's client: the stage follows the
``lead`` events it relays (``relayed``), so a late joiner on any worker follows the presenter at
once, and a presenter whose worker went away stops being followed (``remote_left``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack

from .. import protocol
from ..protocol import Laser, Lead, Want
from ..settings import Settings
from .connection import Connection, TokenBucket

LEAD_FIELDS = ("peer", "name", "color", "x", "y", "w", "h")
"""What ``welcome.lead`` holds: who presents, and the view they show."""


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
    """One board's presenter and laser trails; hands events to the hub's tick with ``queue``,
    and those of this worker's clients to the other workers with ``share(peer, event)``."""

    def __init__(
        self,
        settings: Settings,
        queue: Callable[[bytes, Want], None],
        share: Callable[[int, bytes], None] | None = None,
    ) -> None:
        self.settings = settings
        self._queue = queue
        self.share = share or (lambda peer, event: None)
        self.leader: int | None = None  # the presenting peer, a client of any worker
        self._lead: dict[str, Any] = {}  # its latest view, as `lead_fields`
        self._pending_lead: tuple[int, bytes] | None = None  # (peer, event) due next
        self._next_lead_s = 0.0
        self._laser: dict[int, list[int]] = {}  # peer -> this tick's points
        self._laser_new: set[int] = set()  # peers whose points this tick start a new trail
        self._buckets: dict[int, TokenBucket] = {}

    def welcome_fields(self) -> dict[str, Any]:
        """A late joiner follows the presenter at once."""
        return {} if self.leader is None else {"lead": self._lead}

    # --- this worker's clients -------------------------------------------------------------

    def lead(self, conn: Connection, message: Lead) -> None:
        if message.mode == "stop":
            if self.leader == conn.peer:
                self._stop(conn.peer)
            return
        assert message.rect is not None  # the decoder requires it for follow and once
        fields = lead_fields(conn, message.rect)
        if message.mode == "follow":
            self.leader, self._lead = conn.peer, fields
        self._pending_lead = (conn.peer, protocol.encode_event("lead", mode=message.mode, **fields))

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
        if self.leader == conn.peer:
            self._stop(conn.peer)

    def flush(self, now: float) -> float | None:
        """Queue this tick's laser points and the presenter's view if due; when more is due."""
        for peer, points in self._laser.items():
            self._queue_laser(peer, points)
        self._laser.clear()
        if self._pending_lead is None:
            return None
        if now < self._next_lead_s:
            return self._next_lead_s
        self._emit(*self._pending_lead)
        self._pending_lead = None
        self._next_lead_s = now + 1 / self.settings.follow_hz
        return None

    def _stop(self, peer: int) -> None:
        self.leader, self._lead = None, {}
        if self._pending_lead is not None and self._pending_lead[0] == peer:
            self._pending_lead = None
        self._emit(peer, _stop_event(peer))

    def _queue_laser(self, peer: int, points: list[int]) -> None:
        fields: dict[str, Any] = {"peer": peer, "pts": points}
        if peer in self._laser_new:
            self._laser_new.discard(peer)
            fields["new"] = True
        self._emit(peer, protocol.encode_event("laser", **fields))

    def _emit(self, peer: int, event: bytes) -> None:
        self._queue(event, Want.PRESENT)
        self.share(peer, event)

    # --- other workers' clients (Redis mode) ---------------------------------------------------

    def relayed(self, event: bytes) -> None:
        """Another worker's ``lead`` or ``laser`` event, which the hub relays as it is: a
        ``lead`` changes who presents here too."""
        message = msgpack.unpackb(event, raw=False)
        if message.get("type") != "lead":
            return
        if message.get("mode") == "follow":
            self.leader = message["peer"]
            self._lead = {key: message[key] for key in LEAD_FIELDS}
        elif message.get("mode") == "stop" and self.leader == message.get("peer"):
            self.leader, self._lead = None, {}

    def remote_left(self, peer: int) -> None:
        """Another worker's client left (or its worker went away) while presenting: stop
        following it here, as its own worker would have said had it been able to."""
        if self.leader == peer:
            self.leader, self._lead = None, {}
            self._queue(_stop_event(peer), Want.PRESENT)


def _stop_event(peer: int) -> bytes:
    return protocol.encode_event("lead", mode="stop", peer=peer)
