"""One board's snapshot as its hub uses it: loading the board from it, choosing what a joiner's
replay is, and starting compaction (``compactor.py``) every ``compact_after_ops`` ops, and once
the board goes quiet with a tail of ops that weighs (``compact_idle_s``).

A loaded board keeps its whole state but only the ops after the snapshot it loaded from
(``floor``); ops before it are empty placeholders (``snapshot.take_snapshot``). So a client whose
``since`` is older than the floor gets the snapshot; one whose ``since`` is recent gets the ops it
missed, unless they add up to more than the snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Iterator, Sequence

import msgpack

from ..board import Board
from ..settings import Settings
from ..snapshot import Snapshot, SnapshotReader, StaleSnapshot
from ..store.base import BoardLog, SnapshotTooLarge
from ..store.buffers import release
from ..store.slices import in_slices
from .compactor import Built, Compactor
from .outbox import batch_frame
from .sink import Frame

log = logging.getLogger(__name__)

ELEMENTS_PER_OP_OF_COMPACTION = 8

IDLE_TAIL_SHARE = 8
"""A quiet board is compacted when the ops after its snapshot weigh at least 1/8 of the snapshot's
wire: a late joiner then pays at most an eighth more than the snapshot, and as a compaction costs
about the snapshot's size, each byte drawn buys at most about 8 bytes' worth of compaction (as
``ELEMENTS_PER_OP_OF_COMPACTION`` bounds it for a flood of ops)."""

IDLE_TAIL_MIN_BYTES = 64 * 1024
"""...and at least this much: a smaller tail costs a joiner about a millisecond (3.9 bytes a
point as ops against 2.25 in a snapshot), less than waking the compaction process for it."""

OpBytes = Callable[[int, int, int], int]
"""``op_bytes(start, stop, limit)``: the bytes of ops ``start+1..stop``, counted up to ``limit``."""


def new_board(settings: Settings) -> Board:
    return configured(Board(max_strokes=settings.max_strokes_per_board), settings)


def configured(board: Board, settings: Settings) -> Board:
    """``board`` with this server's limits (a snapshot holds those of the server that wrote it)."""
    board.max_strokes = settings.max_strokes_per_board
    board.max_images = settings.max_images_per_board
    board.limits = settings.limits
    board.undo_window = settings.snapshot_undo_actions
    return board


class BoardSnapshots:
    def __init__(
        self,
        board_id: str,
        board_log: BoardLog,
        settings: Settings,
        compactor: Compactor | None,
        op_bytes: OpBytes | None = None,
    ) -> None:
        """``op_bytes``, a bound method of the board's hub (held weakly: the hub holds this),
        weighs the tail of a quiet board; without it, boards are compacted every
        ``interval()`` ops only."""
        self.board_id = board_id
        self.log = board_log
        self.settings = settings
        # A store that keeps no snapshots (none of BoardLog's snapshot methods) loads and
        # replays from its log, as with compact_after_ops 0.
        self.stored = all(
            hasattr(board_log, name)
            for name in ("read_after", "read_snapshot", "write_snapshot", "snapshot_source")
        )
        enabled = self.stored and settings.compact_after_ops > 0
        self.compactor = compactor if enabled else None
        self.floor = 0  # ops up to this seq are placeholders in the loaded board
        self.seq = 0  # the snapshot late joiners get (0: none)
        self.wire: list[bytes] = []
        self.wire_bytes = 0
        self._task: asyncio.Task[None] | None = None
        self._next_seq = settings.compact_after_ops  # compact once the durable head reaches it
        self._durable_seq = 0
        self.built = 0  # snapshots built by this hub (tests and logs)
        self.elements = 0  # elements in the installed snapshot
        self._refreshing = False
        self._needed = 1  # bytes a snapshot needs: 1, or the last one's that did not fit
        self._op_bytes = None if op_bytes is None else weakref.WeakMethod(op_bytes)  # type: ignore
        self._last_op_s = 0.0  # monotonic time the durable head last moved
        self._quiet_timer: asyncio.TimerHandle | None = None

    # --- loading ---------------------------------------------------------------------------------

    async def load(self) -> tuple[Board, list[bytes]]:
        """The board at the stored snapshot and the log records after it; when there is no
        snapshot that fits this code and this log, a new board and every record."""
        snapshot = await self._stored()
        if snapshot is not None:
            records = await self.log.read_after(snapshot.seq, snapshot.last_id, snapshot.position)
            if records is not None:
                try:
                    board = await self._board(snapshot)
                except StaleSnapshot as exc:
                    log.info(
                        "board %s: snapshot not used (%s); loading its log", self.board_id, exc
                    )
                else:
                    self._install(snapshot.seq, snapshot.wire)
                    self.floor, self.elements = snapshot.seq, snapshot.elements
                    return configured(board, self.settings), records
            else:
                log.warning(
                    "board %s: the log does not hold seq %d where its snapshot says; loading the "
                    "whole log (a new snapshot follows)",
                    self.board_id,
                    snapshot.seq,
                )
        return new_board(self.settings), await self.log.read()

    async def _stored(self) -> Snapshot | None:
        if not self.stored:
            return None
        data = await self.log.read_snapshot()
        if data is None:
            return None
        reader = SnapshotReader(data)
        try:
            await in_slices(reader.step, self.settings.load_slice_ms, self.settings.load_pause_ms)
            return reader.snapshot()
        except StaleSnapshot as exc:
            log.info("board %s: snapshot not used (%s); loading its log", self.board_id, exc)
            return None
        finally:
            await release(data)  # 144 MB for a 72.5 MB board: unmapped in a thread

    async def _board(self, snapshot: Snapshot) -> Board:
        """The snapshot's board, rebuilt in slices like a log's records (in one piece, the state
        of a 72.5 MB board held the loop 9-10 ms)."""
        builder = snapshot.builder()
        await in_slices(builder.step, self.settings.load_slice_ms, self.settings.load_pause_ms)
        return snapshot.built(builder)

    def interval(self) -> int:
        """Ops between two compactions: ``compact_after_ops``, or an eighth of the elements of
        the last snapshot if more, so that compaction (which costs about the board's size) costs
        each op a bounded share however large the board, even under a flood of cheap ops."""
        return max(self.settings.compact_after_ops, self.elements // ELEMENTS_PER_OP_OF_COMPACTION)

    def loaded(self, head_seq: int) -> None:
        """The board is loaded at ``head_seq``: compact soon if the log went far past the
        snapshot (a board last written by an older server, or with snapshots off)."""
        self._next_seq = self.seq + self.interval()
        self.durable(head_seq)

    async def board_at(self, seq: int) -> tuple[Board, int] | None:
        """A board to rebuild the board at ``seq`` on: the stored snapshot's (when the loaded
        board has placeholders) or a new one, and the seq after which ops must be applied to it;
        None when the stored snapshot cannot serve (the caller gives up the board)."""
        if not self.floor:
            return new_board(self.settings), 0
        snapshot = await self._stored()
        if snapshot is None or not self.floor <= snapshot.seq <= seq:
            return None
        try:
            board = await self._board(snapshot)
        except StaleSnapshot:
            return None
        return configured(board, self.settings), snapshot.seq

    # --- replay ----------------------------------------------------------------------------------

    def replay_from_snapshot(self, since: int, op_bytes: OpBytes) -> bool:
        """Should a client that has seen ``since`` get the snapshot rather than the ops after
        ``since``? Yes when those ops are not in memory, or weigh more than the snapshot
        (``op_bytes(start, stop, limit)``: the bytes of ops ``start+1..stop``, counted up to
        ``limit``)."""
        if not self.seq or since >= self.seq:
            return False
        if since < self.floor:
            return True
        return op_bytes(since, self.seq, self.wire_bytes) >= self.wire_bytes

    def frames(self) -> Iterator[Frame]:
        """The snapshot's messages, one frame each."""
        for part in self.wire:
            yield batch_frame([part])

    # --- compaction ------------------------------------------------------------------------------

    def durable(self, durable_seq: int) -> None:
        """Ops up to ``durable_seq`` are in the log: start a compaction if one is due, else
        watch for the board going quiet with a tail."""
        if durable_seq > self._durable_seq:
            self._last_op_s = time.monotonic()
        self._durable_seq = durable_seq
        if not self._may_compact(durable_seq):
            return
        if durable_seq >= self._next_seq:
            if self._has_room():
                self._start(durable_seq)
        elif self._quiet_timer is None and self._op_bytes is not None:
            if self.settings.compact_idle_s > 0:
                loop = asyncio.get_running_loop()
                self._quiet_timer = loop.call_later(self.settings.compact_idle_s, self._quiet)
                # One timer per quiet spell, not one per append: it checks when it fires.

    def _may_compact(self, durable_seq: int) -> bool:
        """Whether a compaction up to ``durable_seq`` could start now (room aside)."""
        if self.compactor is None or self._task is not None or durable_seq <= self.seq:
            return False
        return getattr(self.log, "compacts", True)  # Redis: only the board's owner compacts

    def _start(self, upto_seq: int) -> None:
        self._next_seq = upto_seq + self.interval()
        self._task = asyncio.create_task(self._compact(upto_seq), name=f"compact-{self.board_id}")

    def _quiet(self) -> None:
        """The quiet timer fired: wait on if an op came meanwhile; else compact the tail after
        the snapshot if it weighs enough (``IDLE_TAIL_SHARE``, ``IDLE_TAIL_MIN_BYTES``)."""
        self._quiet_timer = None
        quiet_s = time.monotonic() - self._last_op_s
        if quiet_s < self.settings.compact_idle_s:
            loop = asyncio.get_running_loop()
            self._quiet_timer = loop.call_later(self.settings.compact_idle_s - quiet_s, self._quiet)
            return
        durable_seq = self._durable_seq
        if self._may_compact(durable_seq) and self.tail_weighs() and self._has_room():
            self._start(durable_seq)

    def tail_weighs(self) -> bool:
        """Whether the ops after the snapshot weigh enough for a compaction of a quiet board."""
        op_bytes = None if self._op_bytes is None else self._op_bytes()
        if op_bytes is None:
            return False
        limit = max(IDLE_TAIL_MIN_BYTES, self.wire_bytes // IDLE_TAIL_SHARE)
        return op_bytes(self.seq, self._durable_seq, limit) >= limit

    def _has_room(self) -> bool:
        """Whether the quotas leave room for the next snapshot (a store without quotas on
        snapshots always does). Building one that cannot be written costs about the board's size
        in CPU: none is built for a board with no room at all (a log over ``max_board_bytes``),
        and after one that did not fit, the next waits until as much room is free."""
        room = getattr(self.log, "snapshot_room", None)
        return room is None or room() >= self._needed

    async def _compact(self, upto_seq: int) -> None:
        assert self.compactor is not None
        settings = self.settings
        try:
            built = await self.compactor.build(
                self.log.snapshot_source(),
                upto_seq,
                settings.max_strokes_per_board,
                settings.snapshot_undo_actions,
                settings.replay_frame_bytes,
            )
            self.elements = built.elements
        except asyncio.CancelledError:
            raise
        except SnapshotTooLarge as exc:
            self._needed = exc.size_bytes
            log.info("board %s: no snapshot at seq %d: %s", self.board_id, upto_seq, exc)
            return
        except Exception as exc:  # a snapshot is a shortcut: the board goes on without it
            log.warning(
                "board %s: compaction up to seq %d failed: %r", self.board_id, upto_seq, exc
            )
            return
        finally:
            self._task = None
            stored = getattr(self.log, "snapshot_stored", None)
            if stored is not None:
                stored()  # the quotas count the snapshot file as it is now
        self._needed = 1
        self._installed(built)
        self.durable(self._durable_seq)  # as many ops came meanwhile: go again at once

    def _installed(self, built: Built) -> None:
        if built.seq > self.seq:
            self._install(built.seq, built.wire)
            self.built += 1
            log.info(
                "board %s: snapshot at seq %d: %d elements, %d points, %d bytes for a late joiner"
                " (paused %.1f s for the busy server)",
                self.board_id,
                built.seq,
                built.elements,
                built.points,
                self.wire_bytes,
                built.paused_s,
            )
            if self.compactor is not None:
                for listener in self.compactor.snapshot_listeners:
                    listener(self.board_id, built.seq)

    async def refresh(self, ops: Sequence[bytes]) -> None:
        """Another process stored a snapshot (Redis mode: the owner's): take its wire for late
        joiners if it is newer than ours and ``ops`` (the loaded board's, up to the durable
        head) hold its last op where it says, i.e. it is of this board's history."""
        if self._refreshing:
            return  # one at a time; the next snapshot comes within compact_after_ops ops
        self._refreshing = True
        try:
            snapshot = await self._stored()
        finally:
            self._refreshing = False
        if snapshot is None or not self.seq < snapshot.seq <= min(self._durable_seq, len(ops)):
            return
        if msgpack.unpackb(ops[snapshot.seq - 1], raw=False).get("id") != snapshot.last_id:
            return
        self._install(snapshot.seq, snapshot.wire)
        self.elements = snapshot.elements
        self._next_seq = max(self._next_seq, snapshot.seq + self.interval())

    def _install(self, seq: int, wire: list[bytes]) -> None:
        self.seq, self.wire = seq, wire
        self.wire_bytes = sum(len(part) for part in wire)

    async def close(self) -> None:
        """Stop waiting for a compaction in progress (its result is dropped; the process goes on
        and writes nothing)."""
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
            self._quiet_timer = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
