"""A board's snapshot: its state at one seq, so that neither a late joiner nor the server itself
has to go through the whole history. Pure: board in, bytes out, and back.

A snapshot holds two things (``docs/protocol.md``, "Snapshots"):

- **the server's state**: the :class:`Board` at ``seq`` (every op id, for dedup; every element,
  for undo; visibility, undo and redo stacks), so a board loads from it plus the log records after
  ``seq`` instead of replaying every record. It is the board pickled in pieces of bounded size
  (``board_state.py``), read back only by an unpickler that builds nothing but the board's own
  classes and plain containers. The board's ops (the bulk of it) are kept apart from the
  pickles, one ``bin`` each, so that a server can decode a snapshot a few ops at a time
  (:class:`SnapshotReader`): unpickling them with the rest held the event loop for 22 ms on a
  72.5 MB board, and the rest alone in one pickle 9-10 ms.
  It is valid only for the code that wrote it: ``STATE_FINGERPRINT`` hashes the modules whose
  classes it holds, and a snapshot with another one is ignored (the board loads from its log, and
  the next compaction writes a new one).
- **the wire snapshot** a late joiner receives instead of the history: the visible elements, and
  those that an undo or redo of each author's newest ``undo_window`` actions could show again
  (with what those actions hid), in ``snapshot`` messages of about ``part_bytes`` each. Points
  travel as zigzag varints in one ``bin`` per message, about 2 bytes a point.

Elements other than strokes (text, notes, images) go into the wire snapshot through
:func:`_element_columns`: that is the one place that learns each kind's fields.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import math
import mmap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from .board import Board
from .board_state import STATE_MODULES, StaleSnapshot, StateBuilder, state_pieces
from .protocol import encode_event
from .restore import action_elements, element_record
from .store.records import Buffer
from .store.slices import RUN_BYTES

FORMAT = 3
"""Version of the snapshot container; another one is ignored like a stale fingerprint. 2: the
board's ops apart from its pickled state. 3: the state in pieces (``board_state.py``)."""


def _fingerprint() -> str:
    digest = hashlib.sha256(f"{FORMAT}".encode())
    for name in (*STATE_MODULES, "whiteboard.board_state"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin is not None:
            with open(spec.origin, "rb") as source:
                digest.update(source.read())
    return digest.hexdigest()[:32]


STATE_FINGERPRINT = _fingerprint()


# --- the file -------------------------------------------------------------------------------------

WIRE_FIELDS = (
    *("format", "fingerprint", "seq", "last_id", "position", "elements", "points"),
    *("state", "ops", "wire"),
)
"""The fields of an encoded snapshot, in order: a reader refuses other code's snapshot before
it reads the bulk, and the wire parts come last (``Snapshot.encode_with_wire_spans``)."""


def _map_header_size(data: bytes) -> int:
    """Bytes of the msgpack map header ``data`` starts with (fixmap, map16 or map32)."""
    return {0xDE: 3, 0xDF: 5}.get(data[0], 1)


@dataclass(slots=True)
class Snapshot:
    """What a store keeps for a board: the state at ``seq`` and the wire snapshot of it.

    ``last_id`` is the op id at ``seq``: a store checks that its log still holds that op there
    before it trusts the snapshot (a log restored from a backup, or rewritten, may not).
    ``position`` is the store's own hint where the records after ``seq`` start (the file store:
    the byte offset). ``state`` is the board without its ops, which are ``ops``, in pieces
    (``board_state.py``).
    """

    seq: int
    last_id: str
    state: list[bytes]
    wire: list[bytes]
    position: int = 0
    fingerprint: str = STATE_FINGERPRINT
    elements: int = 0  # elements in the wire snapshot
    points: int = 0  # points of the strokes among them
    ops: list[bytes] = field(default_factory=list)
    wire_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.wire_bytes = sum(len(part) for part in self.wire)

    def encode(self) -> bytes:
        return self.encode_with_wire_spans()[0]

    def encode_with_wire_spans(self) -> tuple[bytes, list[tuple[int, int]]]:
        """The encoded snapshot and where each wire part lies in it (offset, length): the wire
        comes last, so a server can take the parts from the file the compaction process wrote,
        with reads that let go of the GIL (unpickled from the process's pipe, the 70 MB wire of
        a 72.5 MB board held it for ~100 ms)."""
        head = msgpack.packb(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint,
                "seq": self.seq,
                "last_id": self.last_id,
                "position": self.position,
                "elements": self.elements,
                "points": self.points,
                "state": self.state,
                "ops": self.ops,
            }
        )
        packer = msgpack.Packer()
        # The same map with one more entry: only its header's first byte(s) differ.
        pieces = [packer.pack_map_header(len(WIRE_FIELDS)), head[_map_header_size(head) :]]
        pieces += [packer.pack("wire"), packer.pack_array_header(len(self.wire))]
        offset, spans = sum(map(len, pieces)), []
        for part in self.wire:
            packed = packer.pack(part)  # its bin header, then the part
            spans.append((offset + len(packed) - len(part), len(part)))
            pieces.append(packed)
            offset += len(packed)
        return b"".join(pieces), spans

    @classmethod
    def decode(cls, data: bytes) -> Snapshot:
        """Raise StaleSnapshot for a snapshot this code cannot use."""
        reader = SnapshotReader(data)
        reader.step(math.inf)
        return reader.snapshot()

    def board(self) -> Board:
        """The board at ``seq``; raise StaleSnapshot when the state does not unpickle."""
        builder = self.builder()
        builder.step(math.inf)
        return self.built(builder)

    def builder(self) -> StateBuilder:
        """Rebuilds the board a few pieces a step (a server does it in slices); then
        :meth:`built`."""
        return StateBuilder(self.state)

    def built(self, builder: StateBuilder) -> Board:
        """The board ``builder`` rebuilt, with the ops; raise StaleSnapshot when it is not the
        board at ``seq``."""
        board = builder.board()
        board.ops = list(self.ops)  # the board appends to its own list
        if board.head_seq != self.seq:
            raise StaleSnapshot("state is not the board at its seq")
        return board


HEAD_BYTES = 256
"""Enough of an encoded snapshot's start for :func:`encoded_seq` (its format, fingerprint, seq)."""


def encoded_seq(head: bytes) -> int:
    """The seq of the encoded snapshot that starts with ``head`` (its first ``HEAD_BYTES``);
    raise StaleSnapshot when it is not one of this code's."""
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(head)
    try:
        unpacker.read_map_header()
        fields = {unpacker.unpack(): unpacker.unpack() for _ in range(3)}
    except (ValueError, TypeError, msgpack.UnpackException) as exc:
        raise StaleSnapshot(f"does not decode: {type(exc).__name__}") from exc
    if fields.get("format") != FORMAT or fields.get("fingerprint") != STATE_FINGERPRINT:
        raise StaleSnapshot("written by other code")
    seq = fields.get("seq")
    if not isinstance(seq, int):
        raise StaleSnapshot("has no seq")
    return seq


class SnapshotReader:
    """``Snapshot.decode`` a few ops or wire parts at a time, so that a server decodes a big
    snapshot on its event loop in slices (``store/slices.py``): in one call, the 144 MB snapshot
    of a 72.5 MB board held the loop for 15 ms. Fields are read in the order ``encode`` writes
    them, so a snapshot of other code is refused before its bulk is read."""

    def __init__(self, data: Buffer) -> None:
        source = data if isinstance(data, mmap.mmap) else io.BytesIO(data)  # BytesIO would copy
        self._unpacker = msgpack.Unpacker(source, raw=False, max_buffer_size=len(data))
        self._keys_left: int | None = None
        self._array: list[bytes] | None = None  # the ops or wire list being read
        self._array_left = 0
        self.fields: dict[str, Any] = {}

    def step(self, deadline: float, run_bytes: int = RUN_BYTES) -> bool:
        """Decode until ``time.perf_counter()`` reaches ``deadline``, reading the clock after
        each field and each run of at least ``run_bytes`` of ops or parts; True when done."""
        try:
            return self._step(deadline, run_bytes)
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise StaleSnapshot(f"does not decode: {type(exc).__name__}") from exc

    def _step(self, deadline: float, run_bytes: int) -> bool:
        unpacker, fields = self._unpacker, self.fields
        if self._keys_left is None:
            self._keys_left = unpacker.read_map_header()
        while True:
            size = 0
            while self._array is not None and self._array_left:
                item = unpacker.unpack()
                self._array.append(item)
                self._array_left -= 1
                size += len(item)
                if size >= run_bytes:
                    if time.perf_counter() >= deadline:
                        return False
                    size = 0
            self._array = None
            if not self._keys_left:
                return True
            key = unpacker.unpack()
            self._keys_left -= 1
            if key in ("state", "ops", "wire"):
                self._array_left = unpacker.read_array_header()
                self._array = fields[key] = []
            else:
                fields[key] = unpacker.unpack()
                if key == "format" and fields[key] != FORMAT:
                    raise StaleSnapshot(f"format {fields[key]!r}, not {FORMAT}")
                if key == "fingerprint" and fields[key] != STATE_FINGERPRINT:
                    raise StaleSnapshot("written by other code")
            if time.perf_counter() >= deadline:
                return False

    def snapshot(self) -> Snapshot:
        """The snapshot read (after ``step`` returned True); StaleSnapshot if it is not one."""
        fields = self.fields
        if fields.get("format") != FORMAT or fields.get("fingerprint") != STATE_FINGERPRINT:
            raise StaleSnapshot("written by other code")
        try:
            return Snapshot(
                seq=fields["seq"],
                last_id=fields["last_id"],
                state=fields["state"],
                wire=fields["wire"],
                position=fields["position"],
                elements=fields["elements"],
                points=fields["points"],
                ops=fields["ops"],
            )
        except KeyError as exc:
            raise StaleSnapshot(f"has no {exc}") from exc


def _nothing() -> None:
    pass


def take_snapshot(
    board: Board, part_bytes: int, between: Callable[[], None] = _nothing
) -> Snapshot:
    """The snapshot of ``board`` as it is (CPU-bound: run it away from the event loop). The
    state keeps the ops that added elements (undo and export need them) and empty placeholders
    for the others: no replay reaches before a snapshot. ``between`` is called between elements
    (the compaction process pauses there while the server is busy)."""
    last_id = msgpack.unpackb(board.ops[-1], raw=False)["id"] if board.ops else ""
    keep = {board.op_seq[element_id] - 1 for element_id in board.strokes}
    ops = [op if index in keep else b"" for index, op in enumerate(board.ops)]
    wire, elements, points = wire_snapshot(board, part_bytes, between)
    return Snapshot(
        seq=board.head_seq,
        last_id=last_id,
        state=state_pieces(board),
        wire=wire,
        elements=elements,
        points=points,
        ops=ops,
    )


# --- the wire snapshot ----------------------------------------------------------------------------


def kept_elements(board: Board) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    """The elements a late joiner needs, in the order they were added: the visible ones, and the
    hidden ones an undo or redo of an action in the undo window would show again. With what each
    erase or clear (``hidden_by``) and each ``add`` (``added_by``) in the window hid or added."""
    hidden_by: dict[str, list[str]] = {}
    added_by: dict[str, list[str]] = {}
    wanted: set[str] = set()
    for stacks in (board.undo_stacks, board.redo_stacks):
        for stack in stacks.values():
            for action_id in window(board, stack):
                ids = action_elements(board, action_id)
                wanted.update(ids)
                if action_id in board.added_by:
                    added_by[action_id] = ids
                elif action_id in board.hidden_by:
                    hidden_by[action_id] = ids
    visible = board.visibility
    kept = [
        element_id
        for index, element_id in enumerate(board.stroke_ids)
        if index in visible or element_id in wanted
    ]
    return kept, hidden_by, added_by


def window(board: Board, stack: list[str]) -> list[str]:
    """The entries of an undo or redo stack that are in the undo window, in stack order (a redo
    stack holds its newest action at the bottom: every entry is checked)."""
    return [action_id for action_id in stack if board.in_window(action_id)]


def wire_snapshot(
    board: Board, part_bytes: int, between: Callable[[], None] = _nothing
) -> tuple[list[bytes], int, int]:
    """The ``snapshot`` messages a late joiner gets for ``board``; with how many elements and
    points they hold (``between``: as for :func:`take_snapshot`)."""
    kept, hidden_by, added_by = kept_elements(board)
    position_of = {element_id: position for position, element_id in enumerate(kept)}
    parts: list[bytes] = []
    points = 0
    chunks = list(_chunks(board, kept, part_bytes, between))
    for number, (start, ops) in enumerate(chunks):
        last = number == len(chunks) - 1
        fields = _element_columns(board, ops, start, between)
        points += fields.pop("_points")
        if last:
            fields.update(_undo_fields(board, hidden_by, added_by, position_of))
        parts.append(encode_event("snapshot", seq=board.head_seq, part=number, last=last, **fields))
    return parts, len(kept), points


ESTIMATED_BYTES_PER_POINT = 2.2
ESTIMATED_BYTES_PER_ELEMENT = 24


def _chunks(
    board: Board, kept: list[str], part_bytes: int, between: Callable[[], None]
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Kept elements decoded, in runs of about ``part_bytes`` on the wire (at least one run)."""
    start, run, size = 0, [], 0
    decoded: dict[int, Any] = {}
    for position, element_id in enumerate(kept):
        between()
        op = element_record(board, element_id, decoded)
        run.append(op)
        size += ESTIMATED_BYTES_PER_ELEMENT + len(op.get("pts", ())) * ESTIMATED_BYTES_PER_POINT / 2
        if size >= part_bytes:
            yield start, run
            start, run, size = position + 1, [], 0
    if run or start == 0:
        yield start, run


def _element_columns(
    board: Board, ops: list[dict[str, Any]], start: int, between: Callable[[], None]
) -> dict[str, Any]:
    """One part's elements as columns (docs/protocol.md, "Snapshots"): a table of authors and of
    styles, then per element its id, seq and author, for strokes their style and point count, and
    every point of the part as zigzag varints in one ``bin``. Other kinds (text, notes, images)
    are in ``items`` whole; placements and drawing-order keys other than the default in ``state``.
    """
    authors: dict[str, int] = {}
    styles: dict[tuple[str, str, float], int] = {}
    ids, by, style, counts, pressure, hidden, items, state = [], [], [], [], [], [], [], []
    seqs = np.empty(len(ops), dtype=np.int64)
    coords: list[Any] = []
    for offset, op in enumerate(ops):
        between()
        element_id = op["id"]
        ids.append(element_id)
        seqs[offset] = op["seq"]
        by.append(authors.setdefault(op["by"], len(authors)))
        placed = {key: op[key] for key in ("m", "z") if key in op}
        if placed:
            state += [offset, placed]
        if op["type"] == "stroke":
            key = (op["tool"], op["color"], float(op["width"]))
            style.append(styles.setdefault(key, len(styles)))
            pts = op["pts"]
            counts.append(len(pts) // 2)
            coords.append(pts)
            if op.get("p") is not None:
                pressure += [offset, bytes(op["p"])]
        else:
            style.append(None)
            counts.append(0)
            item = {k: v for k, v in op.items() if k not in ("id", "seq", "by", "m", "z")}
            items += [offset, item]
        if not board.is_visible(element_id):
            hidden.append(start + offset)
    flat = np.fromiter(itertools.chain.from_iterable(coords), dtype=np.int64, count=2 * sum(counts))
    seq_steps = np.diff(seqs, prepend=0)
    return {
        "start": start,
        "authors": list(authors),
        "styles": [list(key) for key in styles],
        "ids": ids,
        "seqs": zigzag_varints(seq_steps),
        "by": by,
        "style": style,
        "n": counts,
        "pts": zigzag_varints(flat),
        "p": pressure,
        "items": items,
        "state": state,
        "hidden": hidden,
        "_points": sum(counts),
    }


def _undo_fields(
    board: Board,
    hidden_by: dict[str, list[str]],
    added_by: dict[str, list[str]],
    position_of: dict[str, int],
) -> dict[str, Any]:
    """Undo and redo stacks (the window's part of them), what their erases and clears hid and
    what their ``add`` ops added."""

    def windows(stacks: dict[str, list[str]]) -> dict[str, list[str]]:
        return {
            author: newest for author, stack in stacks.items() if (newest := window(board, stack))
        }

    return {
        "undo": windows(board.undo_stacks),
        "redo": windows(board.redo_stacks),
        "hidden_by": {
            action_id: [position_of[i] for i in ids if i in position_of]
            for action_id, ids in hidden_by.items()
        },
        "added_by": {
            action_id: [position_of[i] for i in ids if i in position_of]
            for action_id, ids in added_by.items()
        },
    }


def zigzag_varints(values: np.ndarray) -> bytes:
    """Signed ints as zigzag LEB128 varints (protobuf's ``sint64``): -64..63 in one byte, so a
    freehand delta of a few quanta costs one byte instead of msgpack's one to three."""
    values = np.asarray(values, dtype=np.int64)
    if not len(values):
        return b""
    zigzag = ((values << 1) ^ (values >> 63)).astype(np.uint64)
    lengths = np.ones(len(zigzag), dtype=np.int64)
    for k in range(1, 10):
        lengths += zigzag >= np.uint64(1 << (7 * k))
    starts = np.cumsum(lengths) - lengths
    out = np.empty(int(lengths.sum()), dtype=np.uint8)
    for k in range(int(lengths.max())):
        mask = lengths > k
        byte = (zigzag[mask] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (lengths[mask] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[mask] + k] = (byte | more).astype(np.uint8)
    return out.tobytes()


def read_zigzag_varints(data: bytes) -> list[int]:
    """Decode :func:`zigzag_varints` (tests, tools; the page has its own loop in board.js)."""
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append((value >> 1) ^ -(value & 1))
            value, shift = 0, 0
    return out
