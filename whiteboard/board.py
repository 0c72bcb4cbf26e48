"""One board's state: which elements exist and are visible, op-id dedup, per-author undo/redo.

Pure: no I/O and no asyncio. The same :meth:`Board.apply` runs for a freshly committed op and for
an op read back from the log, so replay reproduces the board exactly. The log is kept here as the
list of encoded ops (index = seq - 1) because replay streams those bytes as they are.

Undo/redo are logged as ops naming their ``target``, and erase ops name the strokes they hid, so a
client can mirror the visible set by applying ops in seq order (``docs/protocol.md``).

Elements are strokes, text, sticky notes and images (``elements.py``); "strokes" below means
elements of every kind (the name is older than the other kinds). Where they are, in what order
they are drawn and what text they hold is ``layout.py``'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from . import elements, protocol, restore
from .elements import (
    IDENTITY,
    Add,
    Edit,
    ElementMessage,
    Image,
    Note,
    Text,
    Transform,
    ZOrder,
    check_placement,
    compose,
    item_fields,
    item_kind,
)
from .layout import Layout
from .protocol import (
    COORD_SCALE,
    Begin,
    Clear,
    CommittingMessage,
    End,
    Erase,
    ErrorCode,
    InvalidMessage,
    Limits,
    Message,
    Points,
    Redo,
    Stroke,
    Style,
    Undo,
)
from .stored_ops import UnbuiltArray, decode_for_apply
from .visibility import Visibility


class BoardFull(InvalidMessage):
    code = ErrorCode.BOARD_FULL


class NothingToDo(InvalidMessage):
    """An undo/redo with an empty stack, or an erase (transform, z, edit) of elements that are
    all gone already."""

    code = ErrorCode.UNKNOWN_STROKE


ELEMENT_OPS = ("stroke", "text", "note", "image")
"""Committed op types that add one element whose id is the op id."""


class CorruptLog(Exception):
    """A stored record that does not decode or does not follow its predecessor."""


WORK_PER_MESSAGE = 5
"""Work units (estimated µs on a 2 GHz core) of any message: validation, commit, event encoding."""
WORK_POINTS_PER_UNIT = 16
WORK_BITMAP_BYTES_PER_UNIT = 256
"""Undoing a clear ORs two bitmaps of ``strokes / 8`` bytes as integers: about 1 µs per 256."""

SLICED_RESTORE_ELEMENTS = 2_000
"""Above this many elements a server builds an undo's or redo's ``restore`` in slices before
committing it: 2,000 strokes take 2-6 ms at once (100,000: 90-450 ms, the loop held)."""

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
    """State of one board, rebuilt from its log; ``max_strokes`` caps the elements one board may
    hold, ``max_images`` its images; ``limits`` bound what transforms may do.

    ``undo_window`` is how many of each author's newest actions a snapshot (``snapshot.py``)
    keeps what they need to be undone or redone; an undo or redo reaching further back carries
    that itself, in its ``restore`` field (0: never, the board keeps no window).
    """

    max_strokes: int
    max_images: int = 2**62
    limits: Limits = field(default_factory=Limits)
    undo_window: int = 0
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
    added_by: dict[str, tuple[str, ...]] = field(default_factory=dict)  # add op -> its items
    item_of: dict[str, str] = field(default_factory=dict)  # item id -> its add op
    layout: Layout = field(default_factory=Layout)
    action_counts: dict[str, int] = field(default_factory=dict)  # actions each author pushed
    action_numbers: dict[str, int] = field(default_factory=dict)  # action op id -> its number
    # among its author's actions (1, 2, ...): the newest undo_window of them are in the window
    stats: BoardStats = field(default_factory=BoardStats)
    prepared: restore.Prepared | None = None  # the next undo or redo's restore, if built ahead

    @property
    def head_seq(self) -> int:
        return len(self.ops)

    # --- committing new ops ----------------------------------------------------------------------

    def commit(
        self,
        message: CommittingMessage | ElementMessage,
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
            if message.id in self.item_of:
                raise InvalidMessage("that id is already used by a pasted element", message.id)
            if self.op_author[message.id] != author:
                raise InvalidMessage("op id already used by another client", message.id)
            return Duplicate(message.id, seen)
        seq = self.head_seq + 1
        kind = _KIND[type(message)]
        fields = self._fields_for(message, author, live)
        spliced: restore.Encoded | None = fields.pop("restore", None)
        encoded = protocol.encode_op(seq, kind, message.id, author, **fields)
        if spliced is not None:  # spliced in, not encoded again (nor as well)
            encoded = restore.with_field(encoded, "restore", spliced)
        if reserve is not None:
            reserve(len(encoded))
        self.apply({"type": kind, "seq": seq, "id": message.id, "by": author, **fields}, encoded)
        return encoded

    def _fields_for(
        self, message: CommittingMessage | ElementMessage, author: str, live: LiveStroke | None
    ) -> dict[str, Any]:
        if isinstance(message, Stroke | End | Text | Note | Image):
            self._check_room(1, isinstance(message, Image), message.id)
            if isinstance(message, End):
                if live is None:
                    raise InvalidMessage("end of a stroke that was never begun", message.id)
                return protocol.stroke_fields(live.style, live.pts, live.pressure)
            return item_fields(message)
        if isinstance(message, Add):
            return self._add_fields(message)
        if isinstance(message, Transform | ZOrder):
            return self._change_fields(message)
        if isinstance(message, Edit):
            if not self.is_visible(message.target):
                raise NothingToDo("that text is not on the board", message.id)
            if not self.layout.is_text(message.target):
                raise InvalidMessage("only text and notes can be edited", message.id)
            return {"target": message.target, "text": message.text}
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
        target, prepared, self.prepared = stack[-1], self.prepared, None
        undoing = isinstance(message, Undo)
        changes = restore.what_changes(self, target, undoing, self.head_seq + 1, prepared)
        return {"target": target} if changes is None else {"target": target, "restore": changes}

    def big_restore(self, message: Message, author: str) -> tuple[str, bool] | None:
        """``(target, undoing)`` when ``message`` is an undo or redo whose ``restore`` would copy
        or list more than ``SLICED_RESTORE_ELEMENTS`` elements: a server builds that in slices
        (``restore.visibility_steps``), puts it in ``prepared`` and commits the op at once."""
        if not isinstance(message, Undo | Redo):
            return None
        stack = (self.undo_stacks if isinstance(message, Undo) else self.redo_stacks).get(author)
        if not stack or self.in_window(stack[-1]):
            return None
        if restore.action_size(self, stack[-1]) <= SLICED_RESTORE_ELEMENTS:
            return None
        return stack[-1], isinstance(message, Undo)

    def in_window(self, action_id: str) -> bool:
        """Is ``action_id`` among its author's newest ``undo_window`` actions? Actions only ever
        leave the window (counts grow), so what a snapshot kept for them stays enough later."""
        if not self.undo_window:
            return True
        author = self.op_author[action_id]
        return self.action_counts[author] - self.action_numbers[action_id] < self.undo_window

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
        elif isinstance(message, Transform | ZOrder):
            units += len(message.ids) // 2
        elif isinstance(message, Add):
            for item in message.items:
                units += WORK_PER_MESSAGE
                if isinstance(item, Stroke):
                    units += len(item.pts) // WORK_POINTS_PER_UNIT
        elif isinstance(message, Undo | Redo):
            stacks = self.undo_stacks if isinstance(message, Undo) else self.redo_stacks
            stack = stacks.get(author)
            hidden = self.hidden_by.get(stack[-1]) if stack else None
            if isinstance(hidden, bytes):
                units += len(hidden) // WORK_BITMAP_BYTES_PER_UNIT
            elif hidden is not None:
                units += len(hidden)
            elif stack and stack[-1] in self.layout.transforms:
                units += len(self.layout.transforms[stack[-1]][1])
            elif stack and stack[-1] in self.added_by:
                units += len(self.added_by[stack[-1]])
            if stack and not self.in_window(stack[-1]):  # the restore copies elements whole
                units += WORK_PER_MESSAGE * restore.action_size(self, stack[-1])
        return units

    def _check_room(self, elements_added: int, images_added: int, op_id: str) -> None:
        if len(self.strokes) + elements_added > self.max_strokes:
            raise BoardFull(f"board holds {self.max_strokes} elements, its limit", op_id)
        if images_added and self.layout.images + images_added > self.max_images:
            raise BoardFull(f"board holds {self.max_images} images, its limit", op_id)

    def _add_fields(self, message: Add) -> dict[str, Any]:
        for item in message.items:
            if item.id in self.op_seq:
                raise InvalidMessage(f"element id {item.id} is already used", message.id)
        images = sum(isinstance(item, Image) for item in message.items)
        self._check_room(len(message.items), images, message.id)
        items = [{"type": item_kind(i), "id": i.id, **item_fields(i)} for i in message.items]
        return {"items": items}

    def _change_fields(self, message: Transform | ZOrder) -> dict[str, Any]:
        ids = self.visibility.select(dict.fromkeys(message.ids), self.strokes)
        if not ids:
            raise NothingToDo("none of those elements is on the board", message.id)
        if isinstance(message, ZOrder):
            ids = self.layout.front_first(ids, self.op_seq)
            return {"ids": tuple(ids), "to": message.to}
        placements, checked = self.layout.placements, set()  # elements moved together: once
        for element_id in ids:
            current = placements.get(element_id, IDENTITY)
            if current not in checked:
                placed = compose(message.m, current)
                check_placement(placed, self.limits, f"element {element_id}'s placement")
                checked.add(current)
        return {"ids": tuple(ids), "m": message.m}

    def placement(self, element_id: str) -> elements.Placement:
        """Where an element is drawn: its own coordinates -> board (identity when never moved)."""
        return self.layout.placement(element_id)

    # --- applying ops (fresh or replayed) --------------------------------------------------------

    def apply(self, op: dict[str, Any], encoded: bytes) -> None:
        """Apply a committed op; raise CorruptLog, changing nothing, when it cannot follow."""
        kind, op_id, author = op.get("type"), op.get("id"), op.get("by")
        if op.get("seq") != self.head_seq + 1 or not isinstance(op_id, str):
            raise CorruptLog(f"expected seq {self.head_seq + 1}, got {op.get('seq')!r}")
        if not isinstance(author, str) or op_id in self.op_seq:
            raise CorruptLog(f"op {op_id!r} has no author or is a duplicate")
        if kind in ELEMENT_OPS:
            self._add_element(_checked_element(op), author, 0)
            self._push_action(author, op_id)
        elif kind == "add":
            items = op.get("items")
            if not isinstance(items, list | tuple) or not items:
                raise CorruptLog(f"add {op_id!r} has no items")
            for item in items:
                if not isinstance(item, dict) or item.get("type") not in ELEMENT_OPS:
                    raise CorruptLog(f"add {op_id!r} holds something that is not an element")
                if not isinstance(item.get("id"), str) or item["id"] in self.op_seq:
                    raise CorruptLog(f"add {op_id!r} holds an element id that is already used")
                _checked_element(item)
            if len({item["id"] for item in items}) != len(items):
                raise CorruptLog(f"add {op_id!r} holds an element id twice")
            for position, item in enumerate(items):
                self._add_element(item, author, position)
                self.op_seq[item["id"]] = op["seq"]
                self.op_author[item["id"]] = author
                self.item_of[item["id"]] = op_id
            self.added_by[op_id] = tuple(item["id"] for item in items)
            self._push_action(author, op_id)
        elif kind in ("transform", "z"):
            self._apply_change(kind, op)
            self._push_action(author, op_id)
        elif kind == "edit":
            target, text = op.get("target"), op.get("text")
            if not self.layout.is_text(target) or not isinstance(text, str):
                raise CorruptLog(f"edit {op_id!r} of {target!r}, which is not text")
            self.layout.edit(op_id, target, text)
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

    def _add_element(self, op: dict[str, Any], author: str, position: int) -> None:
        """Add an element checked by ``_checked_element``."""
        kind, element_id, m = op["type"], op["id"], op.get("m", IDENTITY)
        if kind == "stroke":
            self.stats.points += len(op["pts"]) // 2
        self.strokes[element_id] = len(self.stroke_ids)
        self.visibility.add_visible(len(self.stroke_ids))
        self.stroke_ids.append(element_id)
        self.stats.strokes += 1
        self.layout.added(element_id, kind, tuple(map(float, m)), position)  # type: ignore[arg-type]

    def _apply_change(self, kind: str, op: dict[str, Any]) -> None:
        ids = op.get("ids")
        if not isinstance(ids, list | tuple) or not all(i in self.strokes for i in ids):
            raise CorruptLog(f"{kind} {op['id']!r} names elements that do not exist")
        if kind == "z":
            if op.get("to") not in elements.Z_TARGETS:
                raise CorruptLog(f"z {op['id']!r} goes neither to the front nor the back")
            self.layout.reorder(op["id"], op["seq"], ids, op["to"], self.op_seq)
            return
        m = op.get("m")
        if not isinstance(m, list | tuple) or len(m) != 4 or not (m[0] > 0 and m[1] > 0):
            raise CorruptLog(f"transform {op['id']!r} has no placement [sx, sy, tx, ty]")
        self.layout.transform(op["id"], ids, tuple(map(float, m)))  # type: ignore[arg-type]

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
        layout = self.layout
        hidden = self.hidden_by.get(target)
        if target in self.strokes:
            self._set_visible((target,), not undoing)
        elif target in self.added_by:
            self._set_visible(self.added_by[target], not undoing)
        elif target in layout.transforms:
            layout.transform_again(target, undoing)
        elif target in layout.z_moves:
            layout.reorder_again(target, self.head_seq + 1, undoing, self.op_seq)
        elif target in layout.edits:
            layout.edit_again(target, undoing)
        elif isinstance(hidden, bytes):  # a clear, or a big erase
            if undoing:
                self.visibility.show(hidden)
            else:
                self.visibility.hide(hidden)
        else:
            self._set_visible(hidden, undoing)

    def _push_action(self, author: str, op_id: str) -> None:
        self.undo_stacks.setdefault(author, []).append(op_id)
        self.redo_stacks.pop(author, None)
        number = self.action_counts.get(author, 0) + 1
        self.action_counts[author] = number
        self.action_numbers[op_id] = number

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

    def load(
        self, records: Iterable[bytes], decode: Callable[[bytes], Any] = decode_for_apply
    ) -> LoadReport:
        """Apply stored records in order, going on past the ones that do not fit.

        A record that does not decode or does not follow the state is skipped and reported (its
        position in ``records``), so the caller can set it aside; the board is as if it was never
        there. A seq with no record (one set aside earlier, or lost in a damaged span) is filled
        with a placeholder, so seqs stay ``index + 1`` and clients replaying them stay in step.

        ``decode``: how a record becomes an op. By default its points are counted, not built
        (a server needs no more); an export that draws every point decodes them all at once.
        """
        report = LoadReport()
        for index, encoded in enumerate(records):
            try:
                op = decode(encoded)
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

    def visible_strokes(self, decoded: dict[int, Any] | None = None) -> list[dict[str, Any]]:
        """Decoded visible elements of every kind in drawing order (for export), as they are now:
        ``type`` (stroke, text, note, image), their fields (``pts`` stay delta-coded), ``m`` (the
        placement, absent when the identity) and for text and notes their current ``text``.
        ``decoded``: ops already decoded, by seq (as ``element`` takes it)."""
        layout, seq_of = self.layout, self.op_seq
        ordered = sorted(self.visible_ids(), key=lambda i: layout.z_key(i, seq_of))
        decoded = {} if decoded is None else decoded
        return [self.element(element_id, decoded) for element_id in ordered]

    def _as_placed(self, element_id: str, op: dict[str, Any]) -> dict[str, Any]:
        """``op`` with its current placement (``m``, absent for the identity) and text."""
        m = self.layout.placement(element_id)
        edited = self.layout.texts.get(element_id)
        if edited is None and tuple(op.get("m", IDENTITY)) == m:
            return op
        op = {key: value for key, value in op.items() if key != "m"}
        if m != IDENTITY:
            op["m"] = m
        if edited is not None:
            op["text"] = edited[0]
        return op

    def element(self, element_id: str, decoded: dict[int, Any] | None = None) -> dict[str, Any]:
        """An element as it is now: the op (or the item of an ``add``) that added it, with its
        ``seq`` and ``by``, its current placement ``m`` and text (``pts`` stay delta-coded).
        ``decoded`` caches decoded ``add`` ops by seq across calls (and may hold any op)."""
        seq = self.op_seq[element_id]
        op = None if decoded is None else decoded.get(seq)
        if op is None:
            op = msgpack.unpackb(self.ops[seq - 1], raw=False, use_list=False)
            if decoded is not None and op["type"] == "add":
                decoded[seq] = op
        if op["type"] == "add":
            position = self.layout.positions.get(element_id, 0)
            op = {**op["items"][position], "seq": seq, "by": op["by"]}
        return self._as_placed(element_id, op)


def _checked_element(op: dict[str, Any]) -> dict[str, Any]:
    """Raise CorruptLog for an element record that cannot be added (before anything changes)."""
    element_id = op["id"]
    if op["type"] == "stroke" and not isinstance(op.get("pts"), list | tuple | UnbuiltArray):
        raise CorruptLog(f"stroke {element_id!r} has no points")
    m = op.get("m", IDENTITY)
    if (
        not isinstance(m, list | tuple)
        or len(m) != 4
        or not all(isinstance(v, int | float) for v in m)
    ):
        raise CorruptLog(f"element {element_id!r} has a placement that is not [sx, sy, tx, ty]")
    if op["type"] in ("text", "note") and not isinstance(op.get("text"), str):
        raise CorruptLog(f"{op['type']} {element_id!r} has no text")
    return op


_KIND: dict[type, str] = {
    Stroke: "stroke",
    End: "stroke",
    Erase: "erase",
    Clear: "clear",
    Undo: "undo",
    Redo: "redo",
    Text: "text",
    Note: "note",
    Image: "image",
    Add: "add",
    Transform: "transform",
    ZOrder: "z",
    Edit: "edit",
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
