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
import contextlib
import functools
import itertools
import logging
import os
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..board import Board
from ..snapshot import HEAD_BYTES, Snapshot, StaleSnapshot, encoded_seq
from .base import SnapshotTooLarge, StorageFull, check_board_id
from .buffers import Buffer, read_whole, release
from .descriptors import Descriptors
from .health import DiskHealth
from .media import FileMedia
from .records import LogParser, ParsedLog, Span, end_of_op, frame_record, framed_size, parse_log
from .slices import in_slices
from .views import FileViewTokens

log = logging.getLogger(__name__)

LOG_SUFFIX = ".log"
SNAPSHOT_SUFFIX = ".snap"
DROPPED_SUFFIX = ".dropped-"  # a snapshot dropped for its room, deleted in a thread
T = TypeVar("T")
RECOVERY_HINT = "see 'Damaged logs' in docs/security.md; `whiteboard check` reports it"


class FileLog:
    """A board's log file. Opened for append lazily: reading a board that was never drawn on
    creates no file."""

    def __init__(self, store: FileStore, board_id: str) -> None:
        self._store = store
        self.board_id = check_board_id(board_id)
        self.path = store.root / f"{board_id}{LOG_SUFFIX}"
        self.snapshot_path = store.root / f"{board_id}{SNAPSHOT_SUFFIX}"
        self._offsets: list[int] = []
        self._tail_start = 0  # bytes before the records the last read returned (a snapshot's)
        self._size = 0
        self._reserved = 0  # bytes of committed ops not yet written
        self.read_only_reason: str | None = None  # set on load when the log is over the cap

    async def read(self) -> list[bytes]:
        try:
            fd = self._store.descriptors.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._offsets, self._size = [], 0
            return []
        data = await self._in_thread(fd, read_whole, keep=False)
        try:
            return await self._parse(data, 0)
        finally:
            await release(data)

    async def read_after(self, seq: int, op_id: str, position: int) -> list[bytes] | None:
        """The records after op ``op_id`` at ``seq``, whose record starts at byte ``position``
        (a snapshot covers the log up to it), repaired as ``read`` repairs; None when the log
        does not hold that op there. Only the records after it are parsed."""
        try:
            fd = self._store.descriptors.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        data = await self._in_thread(fd, read_whole, keep=False)
        try:
            start = end_of_op(data, position, seq, op_id)
            if start is None:
                return None
            return await self._parse(data, start)
        finally:
            await release(data)

    async def _parse(self, data: Buffer, start: int) -> list[bytes]:
        """The records of ``data`` from byte ``start`` on, parsed on the event loop in slices
        (``slices.py``: a 72.5 MB log takes about a second to parse); a damaged log is repaired
        in a thread (rare, and it writes files)."""
        parser = LogParser(data, start)
        store = self._store
        await in_slices(parser.step, store.slice_ms, store.pause_ms)
        parsed = parser.parsed
        self._tail_start = start
        if parsed.clean:
            self._offsets, self._size = parsed.offsets, len(data)
        else:
            await asyncio.to_thread(self._repair, data, parsed)
        self._check_cap()
        return parsed.records

    def _repair(self, data: Buffer, parsed: ParsedLog) -> None:
        if parsed.torn_tail is not None:
            self._cut_torn_tail(data, parsed.torn_tail)
        if parsed.damaged:
            self._excise_damage(data, parsed)
        start = self._tail_start
        self._offsets = _offsets_of(parsed.records, start)
        self._size = start + sum(framed_size(len(r)) for r in parsed.records)

    def _check_cap(self) -> None:
        cap = self._store.max_board_bytes
        if self._size > cap:
            self.read_only_reason = (
                f"this board is read-only: its log ({self._size / 2**20:.1f} MiB) is over "
                f"max_board_bytes ({cap / 2**20:.1f} MiB); export it or start a new board"
            )
            log.warning("board log %s: %s", self.path.name, self.read_only_reason)

    def _cut_torn_tail(self, data: Buffer, torn: Span) -> None:
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
        self._store.resized(len(data), torn.offset)

    def _excise_damage(self, data: Buffer, parsed: ParsedLog) -> None:
        asides = [
            self._keep_aside(f"damaged-at-{span.offset}", data[span.offset : span.end])
            for span in parsed.damaged
        ]
        start = self._tail_start
        self._rewrite(data[:start] + b"".join(frame_record(r) for r in parsed.records))
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
        self._store.resized(
            len(data) - (parsed.torn_tail.length if parsed.torn_tail else 0),
            start + sum(framed_size(len(r)) for r in parsed.records),
        )

    async def set_aside(self, indexes: Sequence[int], reason: str) -> None:
        """Move the records at ``indexes`` (0-based, in the order ``read`` returned them) to
        ``<id>.log.rejected-<time>`` and rewrite the log without them: they verify but do not
        apply (two logs concatenated, a restored backup, a rule that changed)."""
        if indexes:
            await asyncio.to_thread(self._set_aside, sorted(set(indexes)), reason)

    def _set_aside(self, indexes: list[int], reason: str) -> None:
        data = self.path.read_bytes()
        start = self._tail_start
        parsed = parse_log(data, start)  # the file as read() left it: clean, same records
        drop = set(indexes)
        rejected = [r for i, r in enumerate(parsed.records) if i in drop]
        kept = [r for i, r in enumerate(parsed.records) if i not in drop]
        aside = self._keep_aside("rejected", b"".join(frame_record(r) for r in rejected))
        self._rewrite(data[:start] + b"".join(frame_record(r) for r in kept))
        log.warning(
            "board log %s: %d records do not apply (%s); moved them to %s, itself a valid log (%s)",
            self.path.name,
            len(rejected),
            reason,
            aside.name,
            RECOVERY_HINT,
        )
        self._offsets = _offsets_of(kept, start)
        new_size = start + sum(framed_size(len(r)) for r in kept)
        self._store.resized(self._size, new_size)
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
        """Write ``records`` (durably when the store fsyncs). Raises StorageFull when the disk
        refuses them (full, read-only, over quota): nothing of them stays in the file, and the
        caller must forget every op it reserved and did not see written (``docs/security.md``)."""
        try:
            await self._write(records)
        except OSError as exc:
            reason = self._store.health.write_failed(exc)
            if reason is None:
                raise
            self._store.resized(self._size + self._reserved, self._size)
            self._reserved = 0
            raise StorageFull(reason) from exc
        written = 0
        for record in records:
            self._offsets.append(self._size)
            self._size += framed_size(len(record))
            written += framed_size(len(record))
        self._reserved = max(0, self._reserved - written)

    async def _write(self, records: Sequence[bytes]) -> None:
        """Frame ``records`` and append them; with fsync, both in a thread: framing is a CRC and a
        copy of every byte, 10-20 ms on the event loop for the 8.8 MB undo of a cleared board."""
        descriptors = self._store.descriptors
        fd, created = descriptors.take(self), False
        if fd is None:
            created = not self.path.exists()
            fd = descriptors.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        if self._store.fsync:
            await self._in_thread(fd, self._write_durably, records, created, keep=True)
            return
        try:
            self._write_all_or_nothing(fd, b"".join(frame_record(r) for r in records))
        except BaseException:
            descriptors.close(fd)
            raise
        descriptors.give_back(self, fd)

    def _write_durably(self, fd: int, records: Sequence[bytes], created: bool) -> None:
        self._write_all_or_nothing(fd, b"".join(frame_record(r) for r in records))
        os.fsync(fd)
        if created:
            self._store.fsync_dir()

    def _write_all_or_nothing(self, fd: int, data: bytes) -> None:
        """Append ``data``; if that fails halfway (a full disk), cut what got written, so the
        log never ends in a torn record that nobody was told was saved."""
        try:
            _write_all(fd, data)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise

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

    # --- snapshots -------------------------------------------------------------------------------

    async def read_snapshot(self) -> Buffer | None:
        """The board's snapshot file, ``<id>.snap``, or None (``buffers.release`` it)."""
        try:
            return await asyncio.to_thread(_read_file, self.snapshot_path)
        except FileNotFoundError:
            return None

    async def write_snapshot(self, data: bytes) -> None:
        """Replace the snapshot atomically (a new file, fsynced, renamed over the old): a crash
        leaves the old snapshot or the new one, never part of one. Skipped while the disk is
        full or read-only, or when the quotas leave no room for it (a snapshot is only a
        shortcut; the log holds everything)."""
        if self._store.health.problem() is None and len(data) <= self.snapshot_room():
            await asyncio.to_thread(_replace_file, self.snapshot_path, data)
            self.snapshot_stored()

    def snapshot_source(self) -> FileSnapshotSource:
        """What a compaction process reads: the log and the snapshot, read-only; and the room a
        new snapshot may take (:meth:`FileStore.snapshot_room`)."""
        return FileSnapshotSource(self.path, self.snapshot_path, self.snapshot_room())

    def snapshot_room(self) -> int:
        """Bytes the quotas leave for a new snapshot of this board."""
        return self._store.snapshot_room(self)

    def snapshot_stored(self) -> None:
        """A compaction ended (written or not): count the snapshot file as it is now."""
        self._store.snapshot_replaced(self.board_id)

    @property
    def size_bytes(self) -> int:
        return self._size

    @property
    def reserved_bytes(self) -> int:
        return self._reserved

    async def close(self) -> None:
        self._store.descriptors.forget(self)


def _offsets_of(records: Sequence[bytes], position: int = 0) -> list[int]:
    offsets = []
    for record in records:
        offsets.append(position)
        position += framed_size(len(record))
    return offsets


def _read_file(path: Path) -> Buffer:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_whole(fd)
    finally:
        os.close(fd)


def _unlink_soon(path: Path) -> None:
    """Delete ``path`` in a thread when there is an event loop: deleting a file frees its blocks
    while the caller waits, 98 ms for a 144 MB snapshot on this project's VM disk."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        path.unlink(missing_ok=True)
        return
    loop.run_in_executor(None, functools.partial(path.unlink, missing_ok=True))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class FileStore:
    """The boards directory, with the disk quotas that span boards.

    ``total_bytes`` is what the logs, snapshots and images take on disk, whole blocks: 10,000
    one-stroke boards are 1.1 MB of log but 41 MB of 4 KiB blocks, and ``max_total_bytes`` is
    about the disk. A board's snapshot counts towards its ``max_board_bytes`` too (a stroke
    board's is about twice its log): it is written only into the room its board and the store
    have left, and dropped when an op needs that room, as the log is the board and the snapshot
    only a shortcut to it.
    """

    def __init__(
        self,
        root: Path,
        *,
        fsync: bool = True,
        max_board_bytes: int = 2**62,
        max_total_bytes: int = 2**62,
        max_boards: int = 2**62,
        max_open_logs: int = 64,
        min_free_disk_bytes: int = 0,
        max_images_per_board: int = 2**62,
        media_grace_s: float = 86_400.0,
        slice_ms: float = 4.0,
        pause_ms: float = 1.0,
    ) -> None:
        self.root = Path(root)
        self.slice_ms, self.pause_ms = slice_ms, pause_ms  # loading in slices (slices.py)
        self.fsync = fsync
        self.descriptors = Descriptors(max_open_logs)
        self.max_board_bytes = max_board_bytes
        self.max_total_bytes = max_total_bytes
        self.max_boards = max_boards
        self.root.mkdir(parents=True, exist_ok=True)
        self.health = DiskHealth(self.root, min_free_disk_bytes)
        self._dir_fd = os.open(self.root, os.O_RDONLY)  # for fsync_dir, from any thread
        weakref.finalize(self, os.close, self._dir_fd)
        self.block_bytes = os.statvfs(self.root).f_bsize or 4096
        self.board_count = 0
        self.total_bytes = 0
        for path in self.root.glob(f"*{LOG_SUFFIX}"):
            self.board_count += 1
            self.total_bytes += path.stat().st_blocks * 512
        self._snapshot_bytes: dict[str, int] = {}  # board id -> its snapshot file's size
        self._drops = itertools.count()
        for path in self.root.glob(f"*{SNAPSHOT_SUFFIX}{DROPPED_SUFFIX}*"):
            path.unlink()  # dropped, then the server stopped before it was deleted
        for path in self.root.glob(f"*{SNAPSHOT_SUFFIX}"):
            self._snapshot_bytes[path.stem] = size = path.stat().st_size
            self.total_bytes += self.on_disk(size)
        self.media = FileMedia(
            self.root / "media",
            max_images_per_board=max_images_per_board,
            grace_s=media_grace_s,
            fsync=fsync,
            reserve=self._reserve_media,
            release=lambda size: self.resized(size, 0),
            log_path=self.log_path,
        )
        self.total_bytes += self.media.disk_bytes
        self.views = FileViewTokens(self.root, fsync)

    def log(self, board_id: str) -> FileLog:
        return FileLog(self, board_id)

    def log_path(self, board_id: str) -> Path:
        return self.root / f"{check_board_id(board_id)}{LOG_SUFFIX}"

    async def exists(self, board_id: str) -> bool:
        return (self.root / f"{check_board_id(board_id)}{LOG_SUFFIX}").exists()

    async def view_token(self, board_id: str) -> str:
        return await self.views.token_for(board_id)

    async def board_for_view(self, token: str) -> str | None:
        return await self.views.board_for(token)

    def writable_problem(self) -> str | None:
        """Why boards cannot be written now (full or read-only disk), or None: for /readyz."""
        return self.health.problem()

    def reserve(self, board_log: FileLog, added: int) -> None:
        """Count ``added`` bytes against the quotas, or raise StorageFull and count nothing."""
        if board_log.read_only_reason is not None:
            raise StorageFull(board_log.read_only_reason)
        problem = self.health.problem()
        if problem is not None:
            raise StorageFull(problem)
        used = board_log.size_bytes + board_log.reserved_bytes
        extra = self.media.board_bytes(board_log.board_id)
        new_board = used == 0 and not board_log.path.exists()
        if used + extra + added > self.max_board_bytes:
            raise StorageFull(f"board would exceed {self.max_board_bytes} bytes (log and images)")
        grown = self.on_disk(used + added) - self.on_disk(used)
        self._make_room(board_log.board_id, used + extra + added, grown)
        if self.total_bytes + grown > self.max_total_bytes:
            raise StorageFull(f"boards would take more than {self.max_total_bytes} bytes of disk")
        if new_board and self.board_count >= self.max_boards:
            raise StorageFull(f"the server holds {self.max_boards} boards, its limit")
        self.total_bytes += grown
        self.board_count += new_board

    def _reserve_media(self, board_id: str, added: int) -> None:
        """Count an image of ``added`` bytes, as ``reserve`` counts an op."""
        problem = self.health.problem()
        if problem is not None:
            raise StorageFull(problem)
        try:
            log_bytes = self.log_path(board_id).stat().st_size
        except FileNotFoundError:
            log_bytes = 0
        if log_bytes + self.media.board_bytes(board_id) + added > self.max_board_bytes:
            raise StorageFull(f"board would exceed {self.max_board_bytes} bytes (log and images)")
        grown = self.on_disk(added)
        self._make_room(board_id, log_bytes + self.media.board_bytes(board_id) + added, grown)
        if self.total_bytes + grown > self.max_total_bytes:
            raise StorageFull(f"boards would take more than {self.max_total_bytes} bytes of disk")
        self.total_bytes += grown

    def _make_room(self, board_id: str, board_bytes: int, grown: int) -> None:
        """Drop the board's snapshot if the board, to take ``board_bytes`` without it, would be
        over ``max_board_bytes`` with it; and snapshots, largest first, while the store, to grow
        by ``grown``, would be over ``max_total_bytes``."""
        if board_bytes + self._snapshot_bytes.get(board_id, 0) > self.max_board_bytes:
            self.drop_snapshot(board_id)
        while self._snapshot_bytes and self.total_bytes + grown > self.max_total_bytes:
            self.drop_snapshot(max(self._snapshot_bytes, key=self._snapshot_bytes.__getitem__))

    def snapshot_room(self, board_log: FileLog) -> int:
        """Bytes a new snapshot of the board may take: what its log, ops not yet written and
        images leave of ``max_board_bytes``, and what the store has left of ``max_total_bytes``
        (in whole blocks; the old snapshot is on disk until the new one is written)."""
        board_used = (
            board_log.size_bytes
            + board_log.reserved_bytes
            + self.media.board_bytes(board_log.board_id)
        )
        store_left = (self.max_total_bytes - self.total_bytes) // self.block_bytes
        return max(0, min(self.max_board_bytes - board_used, store_left * self.block_bytes))

    def snapshot_replaced(self, board_id: str) -> None:
        """Count the board's snapshot file as it is now (a compaction process replaced it)."""
        try:
            size = (self.root / f"{board_id}{SNAPSHOT_SUFFIX}").stat().st_size
        except FileNotFoundError:
            size = 0
        self._count_snapshot(board_id, size)

    def drop_snapshot(self, board_id: str) -> None:
        """Delete the board's snapshot to give its room to the log (the board loads from its
        log until a snapshot fits again). Safe at any time: a compaction reading it meanwhile
        reads the open file or, if not yet opened, builds from the log alone."""
        if board_id not in self._snapshot_bytes:
            return
        path = self.root / f"{board_id}{SNAPSHOT_SUFFIX}"
        doomed = path.with_name(f"{path.name}{DROPPED_SUFFIX}{next(self._drops)}")
        with contextlib.suppress(FileNotFoundError):
            path.rename(doomed)  # at once: a compaction may write the next snapshot meanwhile
            _unlink_soon(doomed)
        log.info("board %s: snapshot dropped to give its room to the boards' ops", board_id)
        self._count_snapshot(board_id, 0)

    def _count_snapshot(self, board_id: str, size: int) -> None:
        self.resized(self._snapshot_bytes.pop(board_id, 0), size)
        if size:
            self._snapshot_bytes[board_id] = size

    def on_disk(self, size_bytes: int) -> int:
        """The whole blocks a file of ``size_bytes`` takes."""
        return -(-size_bytes // self.block_bytes) * self.block_bytes

    def resized(self, old_bytes: int, new_bytes: int) -> None:
        """A log went from ``old_bytes`` to ``new_bytes`` outside ``reserve`` (a repair, a write
        the disk refused)."""
        self.total_bytes += self.on_disk(new_bytes) - self.on_disk(old_bytes)

    def fsync_dir(self) -> None:
        """Make a new or renamed file's directory entry durable."""
        os.fsync(self._dir_fd)


@dataclass(frozen=True, slots=True)
class FileSnapshotSource:
    """A board's files as a compaction process reads them: read-only and without repairs (the
    server may be appending meanwhile), like ``read_board_log``. Picklable."""

    log_path: Path
    snapshot_path: Path
    room_bytes: int = 2**62  # a larger snapshot is not written (SnapshotTooLarge)

    def read(self) -> tuple[Board | None, list[bytes], list[int]]:
        """The board as the snapshot has it (None when there is none, or it is stale, or the log
        does not fit it) and the log's records after it, with the byte offset of each."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return None, [], []
        board, start = None, 0
        try:
            snapshot = Snapshot.decode(self.snapshot_path.read_bytes())
            found = end_of_op(data, snapshot.position, snapshot.seq, snapshot.last_id)
            if found is not None:
                board, start = snapshot.board(), found
        except (FileNotFoundError, StaleSnapshot):
            pass
        parsed = parse_log(data, start)
        return board, parsed.records, parsed.offsets

    def write(self, data: bytes) -> None:
        """Replace the snapshot atomically (``FileLog.write_snapshot``'s way), if it fits in
        ``room_bytes`` (SnapshotTooLarge otherwise, and nothing is written)."""
        if len(data) > self.room_bytes:
            raise SnapshotTooLarge(len(data), self.room_bytes)
        _replace_file(self.snapshot_path, data)

    def wire_file(self) -> Path:
        """The snapshot file: the server reads the wire parts from it (:func:`read_wire`)."""
        return self.snapshot_path


def read_wire(path: Path, seq: int, spans: Sequence[tuple[int, int]]) -> list[bytes]:
    """In a thread: the wire parts at ``spans`` (offset, length) of the snapshot at ``path``,
    which must be the snapshot at ``seq`` (StaleSnapshot otherwise: replaced meanwhile). Each
    part is one ``pread``, which fills its new bytes with the GIL let go."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if encoded_seq(os.pread(fd, HEAD_BYTES, 0)) != seq:
            raise StaleSnapshot(f"{path.name} is no longer the snapshot at seq {seq}")
        parts = [os.pread(fd, length, offset) for offset, length in spans]
    finally:
        os.close(fd)
    if any(len(part) != length for part, (_, length) in zip(parts, spans, strict=True)):
        raise StaleSnapshot(f"{path.name} is shorter than its snapshot at seq {seq}")
    return parts


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``path`` atomically: a new file, fsynced, renamed over the old, the directory
    fsynced. A crash leaves the old contents or the new ones."""
    temporary = path.with_name(f"{path.name}.new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def read_board_after_snapshot(path: Path, upto_seq: int | None) -> tuple[bytes | None, list[bytes]]:
    """Read-only, like :func:`read_board_log`: the board's snapshot (encoded) and the log's
    records after it up to ``upto_seq``, when the snapshot beside the log at ``path`` is this
    code's, at most at ``upto_seq`` and of this log (its last op where it says); else None and
    every record up to ``upto_seq``. The
    snapshot is read first: the log only grows, so it holds whatever the snapshot covers."""
    try:
        encoded = path.with_name(path.name.removesuffix(LOG_SUFFIX) + SNAPSHOT_SUFFIX).read_bytes()
        snapshot = Snapshot.decode(encoded)
        snapshot.board()  # raises StaleSnapshot if its state does not unpickle here
    except (FileNotFoundError, StaleSnapshot):
        encoded = None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, []
    if encoded is not None and (upto_seq is None or snapshot.seq <= upto_seq):
        start = end_of_op(data, snapshot.position, snapshot.seq, snapshot.last_id)
        if start is not None:
            records = parse_log(data, start).records
            return encoded, records if upto_seq is None else records[: upto_seq - snapshot.seq]
    records = parse_log(data).records
    return None, records if upto_seq is None else records[:upto_seq]


def read_board_log(path: Path) -> list[bytes]:
    """Read-only: the valid records of a log another process may be writing (CLI export).

    Never repairs: a torn tail may be a write in progress. Skips damaged spans as a load would."""
    try:
        return parse_log(path.read_bytes()).records
    except FileNotFoundError:
        return []
