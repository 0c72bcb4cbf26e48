"""Builds board snapshots in a background process, so that compaction (CPU-bound Python: replaying
the log after the last snapshot, encoding every kept point) never holds the event loop that serves
live drawing. One process, at low CPU priority, for every board of the server: snapshots are a
shortcut, never urgent, and a queue of them must not take a core from live drawing.

Crash safety: the process reads the log and the previous snapshot (without repairs) and writes
the new snapshot with ``SnapshotSource.write`` (a new file, fsynced, renamed over the old); the
log is never written. A kill of the process, or of the server, at any moment leaves the old
snapshot or the new one, and the log untouched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import msgpack

from ..board import Board
from ..snapshot import take_snapshot
from ..store.base import SnapshotSource

log = logging.getLogger(__name__)

COMPACTION_NICENESS = 10
"""CPU priority of the compaction process, below the server's (0), as for exports."""


class CompactionFailed(Exception):
    """The log did not hold what the server knows is durable (it changed under the process)."""


@dataclass(frozen=True, slots=True)
class Built:
    """A snapshot the process built and stored: ``wire`` for late joiners."""

    seq: int
    wire: list[bytes]
    elements: int
    points: int


def build_snapshot(
    source: SnapshotSource, upto_seq: int, max_strokes: int, undo_window: int, part_bytes: int
) -> Built:
    """In the process: the board at ``upto_seq`` (the server's durable head when it asked) from
    the last snapshot and the log records after it, as a new snapshot."""
    board, records, positions = source.read()
    if board is None:
        board = Board(max_strokes=max_strokes)
    board.max_strokes, board.undo_window = max_strokes, undo_window
    position = None
    for record, at in zip(records, positions, strict=True):
        if msgpack.unpackb(record, raw=False).get("seq", 0) > upto_seq:
            break
        board.load([record])
        position = at
    if board.head_seq != upto_seq or position is None:
        raise CompactionFailed(f"the log holds seq {board.head_seq}, not {upto_seq}")
    snapshot = take_snapshot(board, part_bytes)
    snapshot.position = position
    source.write(snapshot.encode())  # here: the state need not cross to the server
    return Built(snapshot.seq, snapshot.wire, snapshot.elements, snapshot.points)


PARENT_CHECK_S = 1.0
"""How often the compaction process checks that the server is still there."""


def _start_worker(server_pid: int) -> None:
    """In the process: lower its priority, and end it within ``PARENT_CHECK_S`` of the server's
    death (a killed server's pool cannot tell it to stop; it would wait for work forever)."""
    os.nice(COMPACTION_NICENESS)

    def watch() -> None:
        while os.getppid() == server_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="watch-server", daemon=True).start()


class Compactor:
    """The server's compaction process, started on first use; one snapshot at a time."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def build(
        self,
        source: SnapshotSource,
        upto_seq: int,
        max_strokes: int,
        undo_window: int,
        part_bytes: int,
    ) -> Built:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._pool, build_snapshot, source, upto_seq, max_strokes, undo_window, part_bytes
            )
        except BrokenProcessPool:
            self._pool = None  # the process died (killed, out of memory): a new one next time
            raise

    @property
    def pids(self) -> list[int]:
        """The process's id, once started (for tests that kill it)."""
        if self._pool is None:
            return []
        return [p.pid for p in self._pool._processes.values() if p.pid is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
