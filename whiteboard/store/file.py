"""Where board logs live: the :class:`BoardStore` / :class:`BoardLog` interfaces and the file store.

One append-only file per board, ``<boards_dir>/<board_id>.log``. Each record is itself a msgpack
value, ``[crc32, op]`` written as ``92 ce <crc32:4> c6 <len:4> <op bytes>``, so any msgpack tool can
read the file, and a torn or corrupt record is detected instead of silently mis-framing the rest
(msgpack has no checksum of its own). A torn tail, the signature of a crash mid-write, is cut off on
load; a corrupt record in the middle moves everything from it on to ``<id>.log.corrupt-<time>``
so nothing is destroyed, and the board is served up to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .base import StorageFull, check_board_id

log = logging.getLogger(__name__)

RECORD_HEADER = struct.Struct(">BBIBI")
RECORD_MARKERS = (0x92, 0xCE, 0xC6)  # fixarray(2), uint32, bin32
LOG_SUFFIX = ".log"


def frame_record(op: bytes) -> bytes:
    return RECORD_HEADER.pack(0x92, 0xCE, zlib.crc32(op), 0xC6, len(op)) + op


@dataclass(frozen=True, slots=True)
class ParsedLog:
    records: list[bytes]
    offsets: list[int]  # byte offset where each record starts
    good_bytes: int  # bytes up to the end of the last good record
    problem: str | None  # why parsing stopped early, None when the file ended cleanly
    torn_tail: bool  # the problem is one incomplete record at the very end


def parse_log(data: bytes) -> ParsedLog:
    """Split a log file into its op records, stopping at the first one that does not verify."""
    records: list[bytes] = []
    offsets: list[int] = []
    pos, size, header = 0, len(data), RECORD_HEADER.size
    while pos < size:
        if size - pos < header:
            return ParsedLog(records, offsets, pos, "incomplete record header", True)
        m1, m2, crc, m3, length = RECORD_HEADER.unpack_from(data, pos)
        if (m1, m2, m3) != RECORD_MARKERS:
            return ParsedLog(records, offsets, pos, f"bad record marker at byte {pos}", False)
        end = pos + header + length
        if end > size:
            return ParsedLog(records, offsets, pos, "incomplete record", True)
        op = data[pos + header : end]
        if zlib.crc32(op) != crc:
            torn = end == size  # a last record whose bytes did not all reach the disk
            return ParsedLog(records, offsets, pos, f"checksum mismatch at byte {pos}", torn)
        records.append(op)
        offsets.append(pos)
        pos = end
    return ParsedLog(records, offsets, pos, None, False)


class FileLog:
    """A board's log file. Opened for append lazily: reading a board that was never drawn on
    creates no file."""

    def __init__(self, store: FileStore, board_id: str) -> None:
        self._store = store
        self.board_id = check_board_id(board_id)
        self.path = store.root / f"{board_id}{LOG_SUFFIX}"
        self._fd: int | None = None
        self._offsets: list[int] = []
        self._size = 0
        self._reserved = 0  # bytes of committed ops not yet written

    async def read(self) -> list[bytes]:
        return await asyncio.to_thread(self._read_and_repair)

    def _read_and_repair(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self._offsets, self._size = [], 0
            return []
        parsed = parse_log(data)
        if parsed.problem is not None:
            self._repair(parsed, data)
        self._offsets, self._size = parsed.offsets, parsed.good_bytes
        return parsed.records

    def _repair(self, parsed: ParsedLog, data: bytes) -> None:
        lost = len(data) - parsed.good_bytes
        if not parsed.torn_tail:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            aside.write_bytes(data[parsed.good_bytes :])
            log.warning(
                "board log %s: %s; moved %d bytes to %s",
                self.path.name,
                parsed.problem,
                lost,
                aside.name,
            )
        else:
            log.warning(
                "board log %s: %s (torn write); cut %d bytes", self.path.name, parsed.problem, lost
            )
        with open(self.path, "r+b") as f:
            f.truncate(parsed.good_bytes)
            os.fsync(f.fileno())
        self._store.adjust_usage(-lost, created=False)

    def reserve(self, op_bytes: int) -> None:
        """Count one op of ``op_bytes`` against the quotas before it is committed."""
        framed = RECORD_HEADER.size + op_bytes
        self._store.reserve(self, framed)
        self._reserved += framed

    async def append(self, records: Sequence[bytes]) -> None:
        data = b"".join(frame_record(r) for r in records)
        if self._store.fsync:
            await asyncio.to_thread(self._write, data, records)
        else:
            self._write(data, records)

    def _write(self, data: bytes, records: Sequence[bytes]) -> None:
        created = False
        if self._fd is None:
            created = not self.path.exists()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._store.fsync:
            os.fsync(self._fd)
            if created:
                self._store.fsync_dir()
        for record in records:
            self._offsets.append(self._size)
            self._size += RECORD_HEADER.size + len(record)
        self._reserved = max(0, self._reserved - len(data))

    async def truncate(self, count: int) -> None:
        await asyncio.to_thread(self._truncate, count)

    def _truncate(self, count: int) -> None:
        if count >= len(self._offsets):
            return
        keep = self._offsets[count]
        lost = self._size - keep
        log.warning(
            "board log %s: cutting %d records that do not apply",
            self.path.name,
            len(self._offsets) - count,
        )
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        del self._offsets[count:]
        self._size = keep
        self._store.adjust_usage(-lost, created=False)

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class FileStore:
    """The boards directory, with the disk quotas that span boards."""

    def __init__(
        self,
        root: Path,
        *,
        fsync: bool = True,
        max_board_bytes: int = 2**62,
        max_total_bytes: int = 2**62,
        max_boards: int = 2**62,
    ) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.max_board_bytes = max_board_bytes
        self.max_total_bytes = max_total_bytes
        self.max_boards = max_boards
        self.root.mkdir(parents=True, exist_ok=True)
        self.board_count = 0
        self.total_bytes = 0
        for path in self.root.glob(f"*{LOG_SUFFIX}"):
            self.board_count += 1
            self.total_bytes += path.stat().st_size

    def log(self, board_id: str) -> FileLog:
        return FileLog(self, board_id)

    def exists(self, board_id: str) -> bool:
        return (self.root / f"{check_board_id(board_id)}{LOG_SUFFIX}").exists()

    def reserve(self, board_log: FileLog, added: int) -> None:
        """Count ``added`` bytes against the quotas, or raise StorageFull and count nothing."""
        used = board_log.size_bytes + board_log.reserved_bytes
        new_board = used == 0 and not board_log.path.exists()
        if used + added > self.max_board_bytes:
            raise StorageFull(f"board log would exceed {self.max_board_bytes} bytes")
        if self.total_bytes + added > self.max_total_bytes:
            raise StorageFull(f"boards would exceed {self.max_total_bytes} bytes in all")
        if new_board and self.board_count >= self.max_boards:
            raise StorageFull(f"the server holds {self.max_boards} boards, its limit")
        self.adjust_usage(added, created=new_board)

    def adjust_usage(self, delta_bytes: int, *, created: bool) -> None:
        self.total_bytes += delta_bytes
        self.board_count += created

    def fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_board_log(path: Path) -> list[bytes]:
    """Read-only: the records of a log another process may be writing (CLI export).

    Never repairs: a torn tail may be a write in progress."""
    try:
        return parse_log(path.read_bytes()).records
    except FileNotFoundError:
        return []
