"""What the server needs from a place that keeps boards: ``BoardStore``, ``BoardLog`` and
``MediaStore`` (a board's uploaded images).

``file.py`` implements them with one append-only file per board and ``media.py`` with one
directory of images per board; other stores (Redis) implement the same three protocols, so the hub,
the upload routes and the exports never know which one holds a board.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..protocol import ID_PATTERN
from .records import Buffer

if TYPE_CHECKING:
    from pathlib import Path

    from ..board import Board


class StorageFull(Exception):
    """A quota (board bytes, total bytes, board count) would be exceeded; nothing was written."""


class SnapshotTooLarge(Exception):
    """A new snapshot would take more than its board or the store has left under the disk quotas;
    it was not written (the board goes on from its log and the older snapshot, if any)."""

    def __init__(self, size_bytes: int, room_bytes: int) -> None:
        super().__init__(size_bytes, room_bytes)  # as args: it crosses from the compaction process
        self.size_bytes = size_bytes
        self.room_bytes = room_bytes

    def __str__(self) -> str:
        return f"a snapshot of {self.size_bytes:,} bytes; the quotas leave {self.room_bytes:,}"


class TooManyImages(Exception):
    """The board already holds ``max_images_per_board`` images; nothing was written."""


class InvalidBoardId(ValueError):
    pass


def check_board_id(board_id: str) -> str:
    """Refuse anything but 1-64 of ``[A-Za-z0-9_-]`` before it can reach a file name."""
    if not ID_PATTERN.fullmatch(board_id):
        raise InvalidBoardId("board ids are 1-64 characters of A-Z a-z 0-9 _ -")
    return board_id


class BoardLog(Protocol):
    """One board's durable, ordered op records. A Redis stream can implement the same."""

    async def read(self) -> list[bytes]:
        """All valid records in order. Damage is repaired first, never destroyed: a torn tail or
        bytes that do not verify are kept aside (where is the store's business) and every valid
        record after them is returned."""
        ...

    def reserve(self, op_bytes: int) -> None:
        """Count an op against the store's quotas before it is committed; raise StorageFull (its
        message is the reason the client is given) when a quota is reached, the board is
        read-only, or the store cannot take writes now."""
        ...

    async def append(self, records: Sequence[bytes]) -> None:
        """Store ``records`` durably (per the store's policy) before returning.

        Raises StorageFull when the store cannot take writes for now (a full or read-only disk):
        then none of ``records`` is stored, and the caller must forget every op it reserved and
        has not seen appended (the board rebuilds from what was). Other errors mean the store is
        failing."""
        ...

    async def set_aside(self, indexes: Sequence[int], reason: str) -> None:
        """Remove the records at ``indexes`` (positions in what ``read`` returned) from the log,
        keeping a copy: they verify but do not apply to the board (``Board.load`` says which).
        Later records keep their positions' order; ``read`` no longer returns the removed ones."""
        ...

    async def read_after(self, seq: int, op_id: str, position: int) -> list[bytes] | None:
        """Like ``read``, but only the records after op ``op_id`` at ``seq``, which the store
        said is at ``position`` (a snapshot's ``position``: for files a byte offset); None when
        the log does not hold that op there any more (then ``read`` everything)."""
        ...

    async def read_snapshot(self) -> Buffer | None:
        """The board's latest snapshot (``whiteboard/snapshot.py``), or None; the caller lets go
        of it with ``buffers.release`` (a big one may be a mapping to unmap off the loop)."""
        ...

    async def write_snapshot(self, data: bytes) -> None:
        """Replace the board's snapshot, atomically: a crash leaves the old one or the new one.
        Best effort: a store that cannot write now may skip it (the log holds everything)."""
        ...

    def snapshot_source(self) -> SnapshotSource:
        """What a compaction process reads (picklable)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredMedia:
    name: str  # <sha256>.<ext>: the ``src`` of image ops
    created: bool  # False: the board held the same bytes already


class MediaStore(Protocol):
    """A board's uploaded images, stored once per board by the hash of their bytes.

    An image is addressed by the board's media **key** and its name: URLs made of them never
    reveal the board id (the key to editing it). A stored image is *pending* until an op naming it
    is durable in the log; pending images older than ``grace_s`` are deleted by ``sweep`` unless
    the board's log names them. Images count towards the board's and the store's quotas."""

    grace_s: float

    def key(self, board_id: str) -> str:
        """The board's media key: stable, and not computable from the board id by others."""
        ...

    def exists(self, board_id: str, name: str) -> bool:
        """Whether the board holds ``name`` (pending or committed). Called per image op: cheap."""
        ...

    def board_bytes(self, board_id: str) -> int:
        """Bytes of the board's images, for its quota."""
        ...

    async def put(self, board_id: str, data: bytes, ext: str) -> StoredMedia:
        """Store validated image bytes as a pending upload of the board (renewing its grace if it
        is there already). Raises StorageFull or TooManyImages, leaving nothing stored."""
        ...

    def accepted(self, board_id: str, name: str) -> None:
        """An op naming ``name`` was accepted and waits for its log write: renew the upload's
        grace, so that a sweep running meanwhile spares it. It stays pending: if the write fails
        (disk full), the refused op's upload is swept ``grace_s`` later."""
        ...

    def committed(self, board_id: str, name: str) -> None:
        """An op naming ``name`` is durable in the board's log: keep the image from now on. A
        store needing a round trip may do it later; ``sweep`` checks the log before deleting."""
        ...

    async def read(self, key: str, name: str) -> bytes | None:
        """The image served at ``/media/<key>/<name>``, or None (both checked, never a path)."""
        ...

    async def read_for_board(self, board_id: str, name: str) -> bytes | None:
        """The board's image ``name`` (for exports), or None."""
        ...

    async def sweep(self) -> int:
        """Delete pending images older than ``grace_s`` the board's log does not name; returns
        how many."""
        ...


class SnapshotSource(Protocol):
    """A board's log and snapshot as a compaction process reads them: read-only, no repairs."""

    def read(self) -> tuple[Board | None, list[bytes], list[int]]:
        """The board at the snapshot (None: no usable snapshot, start from nothing), the log
        records after it, and each one's position (what ``Snapshot.position`` holds)."""
        ...

    def write(self, data: bytes) -> None:
        """Replace the snapshot, atomically (as ``BoardLog.write_snapshot``)."""
        ...

    def wire_file(self) -> Path | None:
        """A file that holds the snapshot just written, from which the server takes its wire
        parts (the file store's snapshot); None: they go back to it with the result."""
        ...


class BoardStore(Protocol):
    media: MediaStore

    def log(self, board_id: str) -> BoardLog: ...

    async def exists(self, board_id: str) -> bool:
        """Whether the board was ever drawn on (it has a log)."""
        ...

    async def view_token(self, board_id: str) -> str:
        """The board's view-only token (``/v/<token>``), made and kept on first use: random, so
        the board id cannot be derived from it; the same token every time after."""
        ...

    async def board_for_view(self, token: str) -> str | None:
        """The board a view token shows; None for any string that is not one of its tokens."""
        ...

    def writable_problem(self) -> str | None:
        """Why boards cannot be written now (full or read-only disk, unreachable Redis), or None.
        Cheap enough to call per request (``GET /readyz``)."""
        ...
