"""What the server needs from a place that keeps board logs: ``BoardStore`` and ``BoardLog``.

``file.py`` implements them with one append-only file per board; other stores (Redis) implement the
same two protocols, so the hub and the exports never know which one holds a board.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..protocol import ID_PATTERN


class StorageFull(Exception):
    """A quota (board bytes, total bytes, board count) would be exceeded; nothing was written."""


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

    async def close(self) -> None: ...


class BoardStore(Protocol):
    def log(self, board_id: str) -> BoardLog: ...

    def exists(self, board_id: str) -> bool: ...

    def writable_problem(self) -> str | None:
        """Why boards cannot be written now (full or read-only disk, unreachable Redis), or None.
        Cheap enough to call per request (``GET /readyz``)."""
        ...
