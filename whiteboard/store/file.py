"""The file store: one append-only log per board, ``<boards_dir>/<board_id>.log``.

Records are framed with a length and a CRC (``records.py``). Nothing a log holds is ever destroyed
without a copy: on load, a torn tail (a crash mid-append) is cut after copying it to
``<id>.log.torn-<time>``; a damaged span in the middle (bytes that do not verify) is copied to
``<id>.log.damaged-<time>-at-<offset>`` and the log is rewritten without it, keeping every valid
record after it; records that verify but do not apply (``BoardLog.set_aside``) go to
``<id>.log.rejected-<time>``, itself a valid log. Each repair is logged with what was kept where;
``docs/security.md`` (Damaged logs) says how an operator recovers, and ``whiteboard check`` reports
damage without changing anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .base import StorageFull, check_board_id
from .descriptors import Descriptors
from .records import ParsedLog, Span, frame_record, framed_size, parse_log

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
T = TypeVar("T")
RECOVERY_HINT = "see 'Damaged logs' in docs/security.md; `whiteboard check` reports it"


class FileLog:
    """A board's log file. Opened for append lazily: reading a board that was never drawn on
    creates no file."""

    def __init__(self, store: FileStore, board_id: str) -> None:
        self._store = store
        self.board_id = check_board_id(board_id)
        self.path = store.root / f"{board_id}{LOG_SUFFIX}"
        self._offsets: list[int] = []
        self._size = 0
        self._reserved = 0  # bytes of committed ops not yet written

    async def read(self) -> list[bytes]:
        try:
            fd = self._store.descriptors.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._offsets, self._size = [], 0
            return []
        data = await self._in_thread(fd, _read_all, keep=False)
        return await asyncio.to_thread(self._repair, data)

    def _repair(self, data: bytes) -> list[bytes]:
        parsed = parse_log(data)
        if parsed.torn_tail is not None:
            self._cut_torn_tail(data, parsed.torn_tail)
        if parsed.damaged:
            self._excise_damage(data, parsed)
        self._offsets = _offsets_of(parsed.records)
        self._size = sum(framed_size(len(r)) for r in parsed.records)
        return parsed.records

    def _cut_torn_tail(self, data: bytes, torn: Span) -> None:
        aside = self._keep_aside("torn", data[torn.offset :])
        log.warning(
            "board log %s: %s at the end (a write cut short by a crash); moved its %d bytes to %s",
            self.path.name,
            torn.reason,
            torn.length,
            aside.name,
        )
        with open(self.path, "r+b") as f:
            f.truncate(torn.offset)
            os.fsync(f.fileno())
        self._store.adjust_usage(-torn.length, created=False)

    def _excise_damage(self, data: bytes, parsed: ParsedLog) -> None:
        asides = [
            self._keep_aside(f"damaged-at-{span.offset}", data[span.offset : span.end])
            for span in parsed.damaged
        ]
        self._rewrite(b"".join(frame_record(r) for r in parsed.records))
        for span, aside in zip(parsed.damaged, asides, strict=True):
            after = sum(1 for offset in parsed.offsets if offset >= span.end)
            log.warning(
                "board log %s: %d bytes at byte %d do not verify (%s); copied them to %s and "
                "kept the %d valid records after them (%s)",
                self.path.name,
                span.length,
                span.offset,
                span.reason,
                aside.name,
                after,
                RECOVERY_HINT,
            )
        self._store.adjust_usage(-sum(s.length for s in parsed.damaged), created=False)

    async def set_aside(self, indexes: Sequence[int], reason: str) -> None:
        """Move the records at ``indexes`` (0-based, in the order ``read`` returned them) to
        ``<id>.log.rejected-<time>`` and rewrite the log without them: they verify but do not
        apply (two logs concatenated, a restored backup, a rule that changed)."""
        if indexes:
            await asyncio.to_thread(self._set_aside, sorted(set(indexes)), reason)

    def _set_aside(self, indexes: list[int], reason: str) -> None:
        data = self.path.read_bytes()
        parsed = parse_log(data)  # the file as read() left it: clean, same records
        drop = set(indexes)
        rejected = [r for i, r in enumerate(parsed.records) if i in drop]
        kept = [r for i, r in enumerate(parsed.records) if i not in drop]
        aside = self._keep_aside("rejected", b"".join(frame_record(r) for r in rejected))
        self._rewrite(b"".join(frame_record(r) for r in kept))
        log.warning(
            "board log %s: %d records do not apply (%s); moved them to %s, itself a valid log (%s)",
            self.path.name,
            len(rejected),
            reason,
            aside.name,
            RECOVERY_HINT,
        )
        self._offsets = _offsets_of(kept)
        new_size = sum(framed_size(len(r)) for r in kept)
        self._store.adjust_usage(new_size - self._size, created=False)
        self._size = new_size

    def _keep_aside(self, kind: str, data: bytes) -> Path:
        """Write ``data`` durably to a new ``<id>.log.<kind>-<UTC time>`` file beside the log."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        for attempt in range(1000):
            suffix = f".{attempt}" if attempt else ""
            aside = self.path.with_name(f"{self.path.name}.{kind}-{stamp}{suffix}")
            try:
                fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._store.fsync_dir()
            return aside
        raise FileExistsError(f"no free name for a {kind} copy of {self.path.name}")

    def _rewrite(self, data: bytes) -> None:
        """Replace the log's contents atomically: a crash leaves the old file or the new one.
        Only while loading, before any append (so no descriptor of the old file is pooled)."""
        temporary = self.path.with_name(f"{self.path.name}.rewrite")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        self._store.fsync_dir()

    def reserve(self, op_bytes: int) -> None:
        """Count one op of ``op_bytes`` against the quotas before it is committed."""
        framed = framed_size(op_bytes)
        self._store.reserve(self, framed)
        self._reserved += framed

    async def append(self, records: Sequence[bytes]) -> None:
        data = b"".join(frame_record(r) for r in records)
        descriptors = self._store.descriptors
        fd, created = descriptors.take(self), False
        if fd is None:
            created = not self.path.exists()
            fd = descriptors.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        if self._store.fsync:
            await self._in_thread(fd, self._write_durably, data, created, keep=True)
        else:
            try:
                _write_all(fd, data)
            except BaseException:
                descriptors.close(fd)
                raise
            descriptors.give_back(self, fd)
        for record in records:
            self._offsets.append(self._size)
            self._size += framed_size(len(record))
        self._reserved = max(0, self._reserved - len(data))

    def _write_durably(self, fd: int, data: bytes, created: bool) -> None:
        _write_all(fd, data)
        os.fsync(fd)
        if created:
            self._store.fsync_dir()

    async def _in_thread(self, fd: int, function: Callable[..., T], *args: Any, keep: bool) -> T:
        """``function(fd, *args)`` in a worker thread. Afterwards, even if the caller was cancelled
        meanwhile, ``fd`` goes back to the pool (``keep``, when the call succeeded) or is closed:
        never while the thread may still use it, so its number cannot be reused under a write."""
        descriptors = self._store.descriptors

        def settle(done: asyncio.Future[T]) -> None:
            if keep and not done.cancelled() and done.exception() is None:
                descriptors.give_back(self, fd)
            else:
                descriptors.close(fd)

        future = asyncio.ensure_future(asyncio.to_thread(function, fd, *args))
        future.add_done_callback(settle)
        return await asyncio.shield(future)

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    async def close(self) -> None:
        self._store.descriptors.forget(self)


def _offsets_of(records: Sequence[bytes]) -> list[int]:
    offsets, position = [], 0
    for record in records:
        offsets.append(position)
        position += framed_size(len(record))
    return offsets


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
        max_open_logs: int = 64,
    ) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.descriptors = Descriptors(max_open_logs)
        self.max_board_bytes = max_board_bytes
        self.max_total_bytes = max_total_bytes
        self.max_boards = max_boards
        self.root.mkdir(parents=True, exist_ok=True)
        self._dir_fd = os.open(self.root, os.O_RDONLY)  # for fsync_dir, from any thread
        weakref.finalize(self, os.close, self._dir_fd)
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
        """Make a new or renamed file's directory entry durable."""
        os.fsync(self._dir_fd)


def read_board_log(path: Path) -> list[bytes]:
    """Read-only: the valid records of a log another process may be writing (CLI export).

    Never repairs: a torn tail may be a write in progress. Skips damaged spans as a load would."""
    try:
        return parse_log(path.read_bytes()).records
    except FileNotFoundError:
        return []
