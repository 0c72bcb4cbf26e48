"""What an undo or redo changes, spelled out in its ``restore`` field (docs/protocol.md,
"Snapshots"), for clients that started from a snapshot and lack what the op's ``target`` did.
Pure; computed before the op is applied, exactly as :meth:`Board.apply` will then change things.

- ``show`` and ``hide``: for an action outside its author's undo window (``Board.in_window``),
  the elements it shows, whole and as they are now, and the ids of those it hides. A snapshot
  keeps only what the window's actions need, so a client may not have these elements at all.
- ``set``: for every undo or redo of a ``transform``, ``z`` or ``edit``, the new placement,
  drawing-order key or text of each element it changes. Those depend on every transform, reorder
  and edit since the element was added, which a snapshot does not carry.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import msgpack

from .layout import Z_SLOTS, Products, default_z
from .visibility import Visibility

if TYPE_CHECKING:
    from .board import Board

T = TypeVar("T")


class Encoded:
    """A ``restore`` already msgpack-encoded, in parts: :meth:`Board.commit` splices them into
    the op with one copy (a restore may be megabytes: 8.8 MB for 100,000 strokes shown again)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts


STEP_ELEMENTS = 512
"""Elements :func:`visibility_steps` handles between two yields: about 0.3-1 ms of work (an element
whose stored op cannot be spliced in is decoded and encoded again, ~20 µs), so a server that
builds a big restore in slices overshoots a slice's deadline by about that much."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """The ``show`` or ``hide`` entry (``visibility_steps``) of an undo (``undoing``) or redo
    of ``target``, built (in slices, by a server) while the board was at ``head_seq``: valid for
    the undo or redo committed next at that seq, and no other."""

    target: str
    undoing: bool
    head_seq: int
    entries: list[bytes]

    def fits(self, target: str, undoing: bool, seq: int) -> bool:
        return (self.target, self.undoing, self.head_seq) == (target, undoing, seq - 1)


def what_changes(
    board: Board, target: str, undoing: bool, seq: int, prepared: Prepared | None = None
) -> Encoded | None:
    """The ``restore`` of an undo (``undoing``) or redo of ``target`` committed as ``seq``; None
    when clients need none. ``prepared``: its ``show`` or ``hide`` entries, when they were built
    beforehand for this very undo or redo (else they are built here, at once)."""
    if prepared is not None and prepared.fits(target, undoing, seq):
        entries = prepared.entries
    else:
        entries = run_to_end(visibility_steps(board, target, undoing))
    count = 1 if entries else 0
    changes = _layout_changes(board, target, undoing, seq)
    if changes:
        entries = [*entries, msgpack.packb("set"), msgpack.packb(changes)]
        count += 1
    return Encoded([bytes((0x80 | count,)), *entries]) if count else None


def visibility_steps(
    board: Board, target: str, undoing: bool
) -> Generator[None, None, list[bytes]]:
    """The ``show`` or ``hide`` entry of an undo (``undoing``) or redo of ``target``, as the
    parts of its encoding (none: no entry), built ``STEP_ELEMENTS`` at a time, yielding in
    between: a server builds a big one in slices while nothing commits on the board
    (``BoardHub.ready``).

    Showing a cleared board again copies every element of it into the op: the stored bytes of
    each element op that nothing changed since are spliced in as they are (a few milliseconds
    for 10,000 strokes), only the others are decoded and encoded again."""
    if board.in_window(target):
        return []
    adds = target in board.strokes or target in board.added_by
    shows = adds != undoing
    changed: list[str] = []
    records: list[bytes] = []  # a part per step: joining 100,000 records at once took 16 ms
    decoded: dict[int, Any] = {}
    for chunk in _changing_elements(board, target, shows):
        changed += chunk
        if shows:
            records.append(
                b"".join([_stored_element(board, i) or _packed(board, i, decoded) for i in chunk])
            )
        yield
    if changed and shows:
        return [msgpack.packb("show") + _array_header(len(changed)), *records]
    if changed:
        return [msgpack.packb("hide"), msgpack.packb(changed)]
    return []


def _changing_elements(board: Board, target: str, shows: bool) -> Iterator[list[str]]:
    """The elements of ``target`` (``action_elements``, in that order) that are not visible now
    (``shows``) or are, ``STEP_ELEMENTS`` at a time at most."""
    hidden = board.hidden_by.get(target)
    if isinstance(hidden, bytes):  # a clear or a big erase: pick them by bitmap, in C
        picked = board.visibility.among(hidden, visible=not shows)
        step_bytes = STEP_ELEMENTS // 8
        for start in range(0, len(picked), step_bytes):
            indexes = Visibility.indexes_in(picked[start : start + step_bytes])
            if indexes:
                offset = start * 8
                yield [board.stroke_ids[offset + i] for i in indexes]
        return
    elements = action_elements(board, target)
    for start in range(0, len(elements), STEP_ELEMENTS):
        chunk = elements[start : start + STEP_ELEMENTS]
        yield [i for i in chunk if board.is_visible(i) != shows]


def run_to_end(steps: Generator[None, None, T]) -> T:
    """What a generator of steps returns, all of its steps taken at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _stored_element(board: Board, element_id: str) -> bytes | None:
    """The element's op as stored, when it is a single element op that nothing moved, reordered
    or edited since: exactly what ``element_record`` would encode."""
    layout = board.layout
    if element_id in layout.factors or element_id in layout.texts or element_id in layout.z_keys:
        return None
    if element_id in board.item_of:
        return None
    return board.ops[board.op_seq[element_id] - 1]


def _packed(board: Board, element_id: str, decoded: dict[int, Any]) -> bytes:
    return msgpack.packb(element_record(board, element_id, decoded))


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x90 | count,))
    if count < 1 << 16:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


def with_field(encoded_map: bytes, key: str, value: Encoded) -> bytes:
    """``encoded_map`` (a msgpack map of fewer than 15 entries, as every op is) with one more
    entry, ``key`` -> the already encoded ``value``: one copy of it."""
    count = encoded_map[0] & 0x0F
    if encoded_map[0] & 0xF0 != 0x80 or count >= 15:
        raise ValueError("not a small msgpack map")
    head = bytes((0x80 | count + 1,))
    return b"".join([head, encoded_map[1:], msgpack.packb(key), *value.parts])


def action_elements(board: Board, action_id: str) -> list[str]:
    """The elements an action added (a single element, the items of an ``add``) or hid (an
    erase, a clear); none for the others."""
    if action_id in board.strokes:
        return [action_id]
    if action_id in board.added_by:
        return list(board.added_by[action_id])
    hidden = board.hidden_by.get(action_id, ())
    if isinstance(hidden, bytes):
        return [board.stroke_ids[i] for i in Visibility.indexes_in(hidden)]
    return list(hidden)


def action_size(board: Board, action_id: str) -> int:
    """``len(action_elements(board, action_id))`` without listing them: charging the undo of a
    clear of a 100k-element board listed every id first (22 ms)."""
    hidden = board.hidden_by.get(action_id)
    if isinstance(hidden, bytes):
        return Visibility.count_in(hidden)
    return len(action_elements(board, action_id))


def element_record(board: Board, element_id: str, decoded: dict[int, Any]) -> dict[str, Any]:
    """An element as a client adds it: ``Board.element`` and, when it is not ``seq * Z_SLOTS``
    (an item after the first of an ``add``, or reordered), its drawing-order key ``z``."""
    record = board.element(element_id, decoded)
    z = board.layout.z_key(element_id, board.op_seq)
    if z != default_z(record["seq"]):
        record["z"] = z
    return record


def _layout_changes(board: Board, target: str, undoing: bool, seq: int) -> list[dict[str, Any]]:
    """The placement, key or text of every element an undo or redo of a transform, z or edit
    touches, as it will be after it (layout.py's rules, without applying them): all of them,
    changed or not, since a client's own bookkeeping may lack what came before its snapshot."""
    layout = board.layout
    if target in layout.transforms:
        products = Products(layout, _UndoneAfter(layout.undone, target, undoing))
        return [{"id": i, "m": products.of(i)} for i in layout.transforms[target][1]]
    if target in layout.z_moves:
        to, moves = layout.z_moves[target]
        base = seq * Z_SLOTS if to == "front" else -seq * Z_SLOTS
        out = []
        for position, (element_id, before, after) in enumerate(moves):
            z = layout.z_key(element_id, board.op_seq)
            if undoing and z == after:
                z = before
            elif not undoing and z == before:
                z = base + position
            out.append({"id": element_id, "z": z})
        return out
    if target in layout.edits:
        record = layout.edits[target]
        element_id = record.target
        text = board.element(element_id, {})["text"]
        setter = layout.text_setter(element_id)
        if undoing and setter == target:
            text = _own_text(board, element_id) if record.before is None else record.before[0]
        before_setter = element_id if record.before is None else record.before[1]
        if not undoing and setter == before_setter:
            text = record.after
        return [{"id": element_id, "text": text}]
    return []


class _UndoneAfter:
    """The transforms undone once the undo (``undoing``) or redo of ``target`` is applied."""

    __slots__ = ("_target", "_undoing", "_undone")

    def __init__(self, undone: set[str], target: str, undoing: bool) -> None:
        self._undone, self._target, self._undoing = undone, target, undoing

    def __contains__(self, op_id: object) -> bool:
        return self._undoing if op_id == self._target else op_id in self._undone


def _own_text(board: Board, element_id: str) -> str:
    """The text an element was added with (before any edit)."""
    seq = board.op_seq[element_id]
    op = msgpack.unpackb(board.ops[seq - 1], raw=False)
    if op["type"] == "add":
        op = op["items"][board.layout.positions.get(element_id, 0)]
    return str(op["text"])
