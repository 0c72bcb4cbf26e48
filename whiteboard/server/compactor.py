"""Builds board snapshots in a background process, so that compaction (CPU-bound Python: replaying
the log after the last snapshot, encoding every kept point) never holds the event loop that serves
live drawing. One process, at low CPU priority, for every board of the server: snapshots are a
shortcut, never urgent, and a queue of them must not take a core from live drawing. A compaction
in flight also pauses while the server is busy (``yielding.py``).

Crash safety: the process reads the log and the previous snapshot (without repairs) and writes
the new snapshot with ``SnapshotSource.write`` (a new file, fsynced, renamed over the old); the
log is never written. A kill of the process, or of the server, at any moment leaves the old
snapshot or the new one, and the log untouched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import msgpack

from ..board import Board
from ..snapshot import StaleSnapshot, take_snapshot
from ..store.base import SnapshotSource
from ..store.file import read_wire
from .yielding import LOAD_SAMPLE_S, CpuShare, Pauses, YieldFlags

log = logging.getLogger(__name__)

COMPACTION_NICENESS = 10
"""CPU priority of the compaction process, below the server's (0), as for exports."""


class CompactionFailed(Exception):
    """The log did not hold what the server knows is durable (it changed under the process)."""


@dataclass(frozen=True, slots=True)
class Built:
    """A snapshot the process built and stored: ``wire`` for late joiners, or where it lies in
    ``wire_file`` (``wire_spans``: offset, length of each part) for the server to read."""

    seq: int
    wire: list[bytes]
    elements: int
    points: int
    paused_s: float = 0.0  # slept while the server was busy
    wire_file: Path | None = None
    wire_spans: list[tuple[int, int]] = dataclasses.field(default_factory=list)


def _no_pause() -> None:
    pass


def build_snapshot(
    source: SnapshotSource,
    upto_seq: int,
    max_strokes: int,
    undo_window: int,
    part_bytes: int,
    between: Callable[[], None] = _no_pause,
) -> Built:
    """In the process: the board at ``upto_seq`` (the server's durable head when it asked) from
    the last snapshot and the log records after it, as a new snapshot. ``between`` is called
    between records and between elements (where the process may pause for the server)."""
    between()
    board, records, positions = source.read()
    if board is None:
        board = Board(max_strokes=max_strokes)
    board.max_strokes, board.undo_window = max_strokes, undo_window
    position = None
    for record, at in zip(records, positions, strict=True):
        if msgpack.unpackb(record, raw=False).get("seq", 0) > upto_seq:
            break
        between()
        board.load([record])
        position = at
    if board.head_seq != upto_seq or position is None:
        raise CompactionFailed(f"the log holds seq {board.head_seq}, not {upto_seq}")
    snapshot = take_snapshot(board, part_bytes, between)
    snapshot.position = position
    data, spans = snapshot.encode_with_wire_spans()
    source.write(data)  # here: the state need not cross to the server
    wire_file = source.wire_file()
    if wire_file is not None:  # the result stays small: unpickled by the pool's thread, the wire
        # of a 72.5 MB board (70 MB) held the GIL, and every board's event loop, ~100 ms
        return Built(snapshot.seq, [], snapshot.elements, snapshot.points, 0.0, wire_file, spans)
    return Built(snapshot.seq, snapshot.wire, snapshot.elements, snapshot.points)


_flags: YieldFlags | None = None  # in the process: set by _start_worker


def _build_yielding(
    source: SnapshotSource,
    upto_seq: int,
    max_strokes: int,
    undo_window: int,
    part_bytes: int,
    max_pause_s: float,
) -> Built:
    """In the process: :func:`build_snapshot`, pausing while the server says it is busy."""
    assert _flags is not None
    pauses = Pauses(_flags, max_pause_s)
    built = build_snapshot(source, upto_seq, max_strokes, undo_window, part_bytes, pauses)
    return dataclasses.replace(built, paused_s=pauses.paused_s)


PARENT_CHECK_S = 1.0
"""How often the compaction process checks that the server is still there."""


def _start_worker(server_pid: int, flags: YieldFlags) -> None:
    """In the process: lower its priority, keep the flags the server shares, and end it within
    ``PARENT_CHECK_S`` of the server's death (a killed server's pool cannot tell it to stop; it
    would wait for work forever)."""
    global _flags
    _flags = flags
    os.nice(COMPACTION_NICENESS)

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="watch-server", daemon=True).start()


class Compactor:
    """The server's compaction process, started on first use; one snapshot at a time. While a
    snapshot is in flight the server measures its own load every ``LOAD_SAMPLE_S`` and tells
    the process it is busy above ``yield_cpu_share`` of a core; the process then pauses, at most
    ``max_pause_s`` per snapshot."""

    def __init__(self, yield_cpu_share: float = 1.0, max_pause_s: float = 0.0) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.yield_cpu_share = yield_cpu_share
        self.max_pause_s = max_pause_s
        self._context = multiprocessing.get_context("spawn")
        self._flags = YieldFlags(self._context)
        self._in_flight = 0
        self._watch: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # the pool is started and shut down from threads
        self._closed = False
        self.snapshot_listeners: list[Callable[[str, int], None]] = []
        """Called with (board id, seq) when a hub installs a snapshot built here: the exporter
        renders the board's first pictures ahead of its next visitors (export/firstpicture.py)."""

    async def build(
        self,
        source: SnapshotSource,
        upto_seq: int,
        max_strokes: int,
        undo_window: int,
        part_bytes: int,
    ) -> Built:
        self._in_flight += 1
        if self._watch is None and self.max_pause_s > 0:
            self._watch = asyncio.create_task(self._watch_load(), name="compaction-yields")
        job = functools.partial(
            _build_yielding,
            source,
            upto_seq,
            max_strokes,
            undo_window,
            part_bytes,
            self.max_pause_s,
        )
        try:
            built = await asyncio.wrap_future(await asyncio.to_thread(self._submit, job))
            if built.wire_file is None:
                return built
            try:
                wire = await asyncio.to_thread(
                    read_wire, built.wire_file, built.seq, built.wire_spans
                )
            except (OSError, StaleSnapshot) as exc:
                raise CompactionFailed(f"its wire could not be read back: {exc}") from exc
            return dataclasses.replace(built, wire=wire, wire_file=None, wire_spans=[])
        except BrokenProcessPool:
            with self._lock:
                self._pool = None  # the process died (killed, out of memory): a new one next time
            raise
        finally:
            self._in_flight -= 1

    def _submit(self, job: Callable[[], Built]) -> concurrent.futures.Future[Built]:
        """In a thread: the first submit starts the process (spawning it held the event loop
        for 7-12 ms right after a big board loaded), and every submit pickles its job."""
        with self._lock:
            if self._closed:
                raise CompactionFailed("the server is closing")
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=self._context,
                    initializer=_start_worker,
                    initargs=(os.getpid(), self._flags),
                )
            return self._pool.submit(job)

    async def _watch_load(self) -> None:
        """While snapshots are in flight: is the server busy? (The flag keeps its last value
        between snapshots: a snapshot that starts in a busy spell pauses from its start.)"""
        meter = CpuShare()
        try:
            while self._in_flight:
                await asyncio.sleep(LOAD_SAMPLE_S)
                self._flags.busy.value = meter.sample() >= self.yield_cpu_share
        finally:
            self._watch = None

    @property
    def paused(self) -> bool:
        """Whether the process is sleeping for the busy server now."""
        return bool(self._flags.paused.value)

    @property
    def pids(self) -> list[int]:
        """The process's id, once started (for tests that kill it)."""
        if self._pool is None:
            return []
        return [p.pid for p in self._pool._processes.values() if p.pid is not None]

    def close(self) -> None:
        self._flags.busy.value = False  # a paused snapshot ends soon; the process then exits
        if self._watch is not None:
            self._watch.cancel()
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
