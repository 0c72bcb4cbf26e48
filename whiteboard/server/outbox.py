"""What one connection still has to receive, and when it goes to the socket.

A receiver that keeps up (its socket took everything written so far) gets each tick's frame at
once: the same :class:`Batch` object, hence the same bytes, as every other receiver. A receiver
that is behind keeps *batch bodies* (op counts and concatenated encoded ops), not frames: when its
socket can take more, everything waiting goes out as one ``batch`` frame (up to
``max_frame_bytes``), however many ticks it spans. A busy server therefore sends fewer, larger
frames to the readers that lag, instead of growing a queue of small ones.

The backlog is bounded in bytes and in age; past either bound :class:`SlowConsumer` is raised and
the connection is closed with 4004 (it reconnects and resumes from its last seq). A late joiner's
replay is not copied into the backlog: it streams from the board's op list as the socket drains,
one frame per turn of the event loop (:class:`Pumped`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from .. import protocol
from .sink import Frame, Sink, frame_header


class SlowConsumer(Exception):
    """The receiver's backlog passed ``send_queue_bytes`` or ``send_queue_age_s``."""


class Pumped(enum.IntEnum):
    """What :meth:`Outbox.pump` left: false only when nothing is waiting."""

    DONE = 0
    WAITING = 1
    """The socket has not taken what was written: pump again on a later tick."""
    MORE = 2
    """The socket took everything and more is waiting: pump again on the next turn of the event
    loop. A pump writes one frame, so that a late joiner's replay of 1 MiB frames (each ~0.5 ms
    to hand to the kernel) lets other work run between frames; four at a time held the loop for
    2-3 ms, and up to 7 ms, per pump."""


class Batch(Frame):
    """``op_count`` encoded ops, concatenated in ``body``, framed as one ``batch`` message."""

    __slots__ = ("body", "op_count")

    def __init__(self, op_count: int, body: bytes) -> None:
        # The whole frame with one copy of ``body`` (the payload, when asked for, is cut from
        # it): an undo that shows a cleared board again is one op of 8.8 MB for 100,000 strokes.
        header = protocol.batch_header(op_count)
        self._payload = None
        self._wire = b"".join((frame_header(len(header) + len(body)), header, body))
        self.op_count = op_count
        self.body = body

    @classmethod
    def of(cls, encoded: list[bytes]) -> Batch:
        return cls(len(encoded), b"".join(encoded))


def batch_frame(encoded: list[bytes]) -> Frame:
    """A ``batch`` frame of already-encoded ops (a replay's), built with one copy."""
    return Frame.joined([protocol.batch_header(len(encoded)), *encoded])


class Outbox:
    """The outbound queue of one connection; ``deliver`` and ``pump`` never block."""

    __slots__ = (
        "_bodies",
        "_closed",
        "_counts",
        "_queued_bytes",
        "_queued_since",
        "_replay",
        "_unsent_since",
        "_written_at",
        "max_age_s",
        "max_bytes",
        "max_frame_bytes",
        "sink",
    )

    def __init__(self, sink: Sink, max_bytes: int, max_age_s: float, max_frame_bytes: int) -> None:
        self.sink = sink
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.max_frame_bytes = max_frame_bytes
        self._bodies: list[bytes] = []
        self._counts: list[int] = []  # ops in each body
        self._queued_bytes = 0
        self._queued_since = 0.0  # when the oldest queued body was queued
        self._unsent_since: float | None = None  # oldest data the kernel has not taken yet
        self._written_at = 0.0
        self._replay: Iterator[Frame] | None = None
        self._closed = False

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def behind(self) -> bool:
        """Something is waiting: the hub must call :meth:`pump` until this is False."""
        return bool(self._bodies) or self._replay is not None or self._unsent_since is not None

    def write_now(self, frame: Frame, now: float) -> None:
        """Write ``frame`` ahead of anything else (the welcome: the first frame of a socket)."""
        self.sink.write(frame)
        self._written_at = now

    def start_replay(self, frames: Iterator[Frame]) -> None:
        """Stream ``frames`` (a late joiner's replay) before anything delivered from now on."""
        self._replay = frames

    def deliver(self, batch: Batch, now: float) -> bool:
        """Send ``batch`` now if the socket keeps up, else queue its body; True: now behind."""
        if self._closed:
            return False
        if not self._bodies and self._replay is None:
            backlog = self.sink.backlog()
            if backlog == 0:
                self.sink.write(batch)
                self._written_at = now
                return False
            if backlog is None:
                return False  # closing: nothing more goes out
            if self._unsent_since is None:
                self._unsent_since = self._written_at
        self._queue(batch.op_count, batch.body, now)
        return True

    def _queue(self, op_count: int, body: bytes, now: float) -> None:
        if not self._bodies:
            self._queued_since = now
        self._bodies.append(body)
        self._counts.append(op_count)
        self._queued_bytes += len(body)
        if self._queued_bytes > self.max_bytes:
            raise SlowConsumer(f"{self._queued_bytes} bytes waiting; limit is {self.max_bytes}")

    def pump(self, now: float, max_frames: int = 1) -> Pumped:
        """Hand waiting data to the socket while it takes it, at most ``max_frames`` frames."""
        sink = self.sink
        backlog = sink.backlog()
        if backlog is None or self._closed:
            self.drop()
            return Pumped.DONE
        for _ in range(max_frames):
            if backlog:
                break
            self._unsent_since = None
            frame = self._next_frame()
            if frame is None:
                return Pumped.DONE
            sink.write(frame)
            self._written_at = now
            backlog = sink.backlog()
            if backlog:
                self._unsent_since = now
        if backlog:
            self._check_age(now)
            return Pumped.WAITING
        return Pumped.MORE if self.behind else Pumped.DONE

    def _next_frame(self) -> Frame | None:
        if self._replay is not None:
            frame = next(self._replay, None)
            if frame is not None:
                return frame
            self._replay = None
        if not self._bodies:
            return None
        bodies, size = self._bodies, 0
        if self._queued_bytes <= self.max_frame_bytes:
            taken = len(bodies)
        else:  # more than one frame's worth: whole bodies up to the frame size (at least one)
            taken = 0
            limit = self.max_frame_bytes
            while taken < len(bodies) and (taken == 0 or size + len(bodies[taken]) <= limit):
                size += len(bodies[taken])
                taken += 1
        parts = bodies[:taken]
        count = sum(self._counts[:taken])
        del bodies[:taken]
        del self._counts[:taken]
        self._queued_bytes -= sum(map(len, parts))
        return Frame.joined([protocol.batch_header(count), *parts])

    def _check_age(self, now: float) -> None:
        oldest = self._unsent_since
        if self._bodies and (oldest is None or self._queued_since < oldest):
            oldest = self._queued_since
        if oldest is not None and now - oldest > self.max_age_s:
            raise SlowConsumer(
                f"data waiting for {now - oldest:.1f} s; limit is {self.max_age_s} s"
            )

    def drop(self) -> None:
        """Forget everything waiting and accept nothing more (the connection is closing)."""
        self._closed = True
        self._bodies.clear()
        self._counts.clear()
        self._queued_bytes = 0
        self._replay = None
        self._unsent_since = None
