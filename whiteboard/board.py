"""One board's state: which strokes exist and are visible, op-id dedup, per-author undo/redo.

Pure: no I/O and no asyncio. The same :meth:`Board.apply` runs for a freshly committed op and for
an op read back from the log, so replay reproduces the board exactly. The log is kept here as the
list of encoded ops (index = seq - 1) because replay streams those bytes as they are.

Undo/redo are logged as ops naming their ``target``, and erase ops name the strokes they hid, so a
client can mirror the visible set by applying ops in seq order (``docs/protocol.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from . import protocol
from .protocol import (
    COORD_SCALE,
    Begin,
    Clear,
    CommittingMessage,
    End,
    Erase,
    ErrorCode,
    InvalidMessage,
    Message,
    Points,
    Redo,
    Stroke,
    Style,
    Undo,
)
from .visibility import Visibility


class BoardFull(InvalidMessage):
    code = ErrorCode.BOARD_FULL


class NothingToDo(InvalidMessage):
    """An undo/redo with an empty stack, or an erase of strokes that are all gone already."""

    code = ErrorCode.UNKNOWN_STROKE


class CorruptLog(Exception):
    """A stored record that does not decode or does not follow its predecessor."""


WORK_PER_MESSAGE = 5
"""Work units (estimated µs on a 2 GHz core) of any message: validation, commit, event encoding."""
WORK_POINTS_PER_UNIT = 16
WORK_BITMAP_BYTES_PER_UNIT = 256
"""Undoing a clear ORs two bitmaps of ``strokes / 8`` bytes as integers: about 1 µs per 256."""

LOST_AUTHOR = "~"
MAX_SEQ_GAP = 65_536
"""Seqs a load fills with placeholders before one record: more means the record's seq is wrong,
not that so many records were lost (65,536 records are megabytes of damage)."""


@dataclass(slots=True)
class LoadReport:
    """What ``Board.load`` skipped (position in the records given, why) and which seqs it filled."""

    rejected: list[tuple[int, str]] = field(default_factory=list)
    filled: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The op id is already committed (a resend): acknowledge ``seq`` again, store nothing."""

    op_id: str
    seq: int


@dataclass(slots=True)
class BoardStats:
    strokes: int = 0
    points: int = 0
    log_bytes: int = 0


@dataclass(slots=True)
class Board:
    """State of one board, rebuilt from its log; ``max_strokes`` caps what one board may hold."""

    max_strokes: int
    ops: list[bytes] = field(default_factory=list)
    strokes: dict[str, int] = field(default_factory=dict)  # stroke id -> index, in seq order
    stroke_ids: list[str] = field(default_factory=list)  # index -> stroke id
    op_seq: dict[str, int] = field(default_factory=dict)
    op_author: dict[str, str] = field(default_factory=dict)
    hidden_by: dict[str, tuple[str, ...] | bytes] = field(default_factory=dict)  # what an erase
    # or clear hid: ids, or a Visibility bitmap (then undo and redo are a bitmap OR, not a loop)
    visibility: Visibility = field(default_factory=Visibility)
    undo_stacks: dict[str, list[str]] = field(default_factory=dict)
    redo_stacks: dict[str, list[str]] = field(default_factory=dict)
    stats: BoardStats = field(default_factory=BoardStats)

    @property
    def head_seq(self) -> int:
        return len(self.ops)

    # --- committing new ops ----------------------------------------------------------------------

    def commit(
        self,
        message: CommittingMessage,
        author: str,
        live: LiveStroke | None = None,
        reserve: Callable[[int], None] | None = None,
    ) -> bytes | Duplicate:
        """Validate ``message`` against the state, give it the next seq, apply it, return its bytes.

        ``End`` needs the connection's ``live`` stroke. ``reserve(n)`` is called with the encoded
        size before anything changes, so a storage quota can refuse the op (by raising). Raises an
        :class:`InvalidMessage` subclass when the op cannot apply; the board is then unchanged.
        """
        seen = self.op_seq.get(message.id)
        if seen is not None:
            if self.op_author[message.id] != author:
                raise InvalidMessage("op id already used by another client", message.id)
            return Duplicate(message.id, seen)
        seq = self.head_seq + 1
        fields = self._fields_for(message, author, live)
        encoded = protocol.encode_op(seq, _KIND[type(message)], message.id, author, **fields)
        if reserve is not None:
            reserve(len(encoded))
        self.apply(
            {"type": _KIND[type(message)], "seq": seq, "id": message.id, "by": author, **fields},
            encoded,
        )
        return encoded

    def _fields_for(
        self, message: CommittingMessage, author: str, live: LiveStroke | None
    ) -> dict[str, Any]:
        if isinstance(message, Stroke | End):
            if len(self.strokes) >= self.max_strokes:
                raise BoardFull(f"board holds {self.max_strokes} strokes, its limit", message.id)
            if isinstance(message, Stroke):
                return protocol.stroke_fields(message.style, message.pts, message.pressure)
            if live is None:
                raise InvalidMessage("end of a stroke that was never begun", message.id)
            return protocol.stroke_fields(live.style, live.pts, live.pressure)
        if isinstance(message, Erase):
            ids = tuple(dict.fromkeys(self.visibility.select(message.ids, self.strokes)))
            if not ids:
                raise NothingToDo("none of those strokes is on the board", message.id)
            return {"ids": ids}
        if isinstance(message, Clear):
            if not self.visibility.count:
                raise NothingToDo("the board is already empty", message.id)
            return {}
        stack = (self.undo_stacks if isinstance(message, Undo) else self.redo_stacks).get(author)
        if not stack:
            raise NothingToDo(f"nothing to {_KIND[type(message)]}", message.id)
        return {"target": stack[-1]}

    def is_visible(self, stroke_id: str) -> bool:
        index = self.strokes.get(stroke_id)
        return index is not None and index in self.visibility

    def visible_ids(self) -> list[str]:
        """Ids of the visible strokes in drawing order."""
        return [self.stroke_ids[i] for i in self.visibility.indexes()]

    # --- what an op costs ------------------------------------------------------------------------

    def work_units(self, message: Message, author: str) -> int:
        """Estimated server work (microseconds) to apply ``message``, decoding aside (the caller
        charges that by frame bytes). Every op costs about the same whatever the board's size,
        except those that touch many strokes at once; this lets a per-connection budget
        (``server/budget.py``) bound what one client can make the server do."""
        units = WORK_PER_MESSAGE
        if isinstance(message, Erase):
            units += len(message.ids) // 2
        elif isinstance(message, Stroke | Begin | Points):
            units += len(message.pts) // WORK_POINTS_PER_UNIT
        elif isinstance(message, Clear):
            units += self.visibility.size_bytes // WORK_BITMAP_BYTES_PER_UNIT
        elif isinstance(message, Undo | Redo):
            stacks = self.undo_stacks if isinstance(message, Undo) else self.redo_stacks
            stack = stacks.get(author)
            hidden = self.hidden_by.get(stack[-1]) if stack else None
            if isinstance(hidden, bytes):
                units += len(hidden) // WORK_BITMAP_BYTES_PER_UNIT
            elif hidden is not None:
                units += len(hidden)
        return units

    # --- applying ops (fresh or replayed) --------------------------------------------------------

    def apply(self, op: dict[str, Any], encoded: bytes) -> None:
        """Apply a committed op; raise CorruptLog, changing nothing, when it cannot follow."""
        kind, op_id, author = op.get("type"), op.get("id"), op.get("by")
        if op.get("seq") != self.head_seq + 1 or not isinstance(op_id, str):
            raise CorruptLog(f"expected seq {self.head_seq + 1}, got {op.get('seq')!r}")
        if not isinstance(author, str) or op_id in self.op_seq:
            raise CorruptLog(f"op {op_id!r} has no author or is a duplicate")
        if kind == "stroke":
            pts = op.get("pts")
            if not isinstance(pts, list | tuple):
                raise CorruptLog(f"stroke {op_id!r} has no points")
            self.strokes[op_id] = len(self.stroke_ids)
            self.visibility.add_visible(len(self.stroke_ids))
            self.stroke_ids.append(op_id)
            self.stats.strokes += 1
            self.stats.points += len(pts) // 2
            self._push_action(author, op_id)
        elif kind == "erase":
            ids = op.get("ids")
            if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
                raise CorruptLog(f"erase {op_id!r} has no list of stroke ids")
            self.hidden_by[op_id] = self._hide(ids)
            self._push_action(author, op_id)
        elif kind == "clear":
            self.hidden_by[op_id] = self.visibility.hide_all()
            self._push_action(author, op_id)
        elif kind in ("undo", "redo"):
            self._apply_undo_redo(kind, author, op.get("target"))
        else:
            raise CorruptLog(f"unknown op type {kind!r}")
        self.op_seq[op_id] = op["seq"]
        self.op_author[op_id] = author
        self.ops.append(encoded)
        self.stats.log_bytes += len(encoded)

    def _apply_undo_redo(self, kind: str, author: str, target: Any) -> None:
        source, dest = self.undo_stacks, self.redo_stacks
        if kind == "redo":
            source, dest = dest, source
        stack = source.get(author)
        if not stack or stack[-1] != target:
            raise CorruptLog(f"{kind} of {target!r} is not on top of {author}'s stack")
        stack.pop()
        dest.setdefault(author, []).append(target)
        undoing = kind == "undo"
        hidden = self.hidden_by.get(target)
        if hidden is None:  # a stroke
            self._set_visible((target,), not undoing)
        elif isinstance(hidden, bytes):  # a clear
            if undoing:
                self.visibility.show(hidden)
            else:
                self.visibility.hide(hidden)
        else:
            self._set_visible(hidden, undoing)

    def _push_action(self, author: str, op_id: str) -> None:
        self.undo_stacks.setdefault(author, []).append(op_id)
        self.redo_stacks.pop(author, None)

    def _hide(self, ids: Sequence[str]) -> tuple[str, ...] | bytes:
        """Hide ``ids`` for an erase; return what its undo must show again: the ids that were
        visible, or for a big erase the same as a bitmap (smaller, and undone in C)."""
        if len(ids) * 8 <= self.visibility.size_bytes:
            return self._set_visible(ids, False)
        strokes = self.strokes
        return self.visibility.hide_some([x for i in ids if (x := strokes.get(i)) is not None])

    def _set_visible(self, ids: Iterable[str], visible: bool) -> tuple[str, ...]:
        """Set visibility; return the ids that changed (what an undo must later restore)."""
        changed = []
        strokes, visibility = self.strokes, self.visibility
        for stroke_id in ids:
            index = strokes.get(stroke_id)
            if index is not None and visibility.set(index, visible):
                changed.append(stroke_id)
        return tuple(changed)

    # --- loading and reading ----------------------------------------------------------------------

    def load(self, records: Iterable[bytes]) -> LoadReport:
        """Apply stored records in order, going on past the ones that do not fit.

        A record that does not decode or does not follow the state is skipped and reported (its
        position in ``records``), so the caller can set it aside; the board is as if it was never
        there. A seq with no record (one set aside earlier, or lost in a damaged span) is filled
        with a placeholder, so seqs stay ``index + 1`` and clients replaying them stay in step.
        """
        report = LoadReport()
        for index, encoded in enumerate(records):
            try:
                op = msgpack.unpackb(encoded, raw=False, use_list=False)
                if not isinstance(op, dict):
                    raise CorruptLog("record is not a map")
                seq = op.get("seq")
                if not isinstance(seq, int) or seq <= self.head_seq:
                    raise CorruptLog(f"seq {seq!r} does not follow seq {self.head_seq}")
                if seq - self.head_seq - 1 > MAX_SEQ_GAP:
                    raise CorruptLog(f"seq {seq} is more than {MAX_SEQ_GAP} after {self.head_seq}")
                while self.head_seq + 1 < seq:
                    report.filled.append(self._fill_lost_seq())
                self.apply(op, encoded)
            except (CorruptLog, ValueError, TypeError, msgpack.UnpackException) as exc:
                reason = str(exc) if isinstance(exc, CorruptLog) else type(exc).__name__
                report.rejected.append((index, reason))
        return report

    def _fill_lost_seq(self) -> int:
        """Stand in for a seq whose record is gone: an erase of no strokes, which every client
        already applies as a no-op, by an author no client can be (``~`` is not in author ids)."""
        seq = self.head_seq + 1
        op_id = f"~lost-{seq}"
        encoded = protocol.encode_op(seq, "erase", op_id, LOST_AUTHOR, ids=())
        self.apply(
            {"type": "erase", "seq": seq, "id": op_id, "by": LOST_AUTHOR, "ids": ()}, encoded
        )
        return seq

    def visible_strokes(self) -> list[dict[str, Any]]:
        """Decoded visible strokes in drawing order (for export): ``pts`` stay delta-coded."""
        return [
            msgpack.unpackb(self.ops[self.op_seq[i] - 1], raw=False, use_list=False)
            for i in self.visible_ids()
        ]


_KIND = {
    Stroke: "stroke",
    End: "stroke",
    Erase: "erase",
    Clear: "clear",
    Undo: "undo",
    Redo: "redo",
}


@dataclass(slots=True)
class LiveStroke:
    """A stroke being drawn by one connection: points accumulate here until ``End`` commits them.

    Checking the absolute range needs the last point, so it is kept; everything else stays in the
    delta-coded wire form, ready to be stored.
    """

    style: Style
    pts: list[int]
    pressure: list[int] | None
    last_x: int
    last_y: int
    max_points: int
    max_coord_q: int

    @classmethod
    def begin(
        cls,
        style: Style,
        pts: tuple[int, ...],
        pressure: tuple[int, ...] | None,
        max_points: int,
        max_coord: float,
    ) -> LiveStroke:
        bound = round(max_coord * COORD_SCALE)
        last_x, last_y = protocol.check_absolute_range(pts, 0, 0, bound)
        return cls(
            style,
            list(pts),
            None if pressure is None else list(pressure),
            last_x,
            last_y,
            max_points,
            bound,
        )

    def append(self, message: Points) -> None:
        if (message.pressure is None) != (self.pressure is None):
            raise InvalidMessage("p must be sent with every batch or with none", message.id)
        count = (len(self.pts) + len(message.pts)) // 2
        if count > self.max_points:
            raise protocol.StrokeTooLong(count, self.max_points, message.id)
        if message.pts:
            self.last_x, self.last_y = protocol.check_absolute_range(
                message.pts, self.last_x, self.last_y, self.max_coord_q
            )
        self.pts += message.pts
        if self.pressure is not None and message.pressure is not None:
            self.pressure += message.pressure
