"""Fan-out for one board, and the registry of loaded boards.

Everything a board's clients send is applied to the in-memory :class:`Board` at once and queued;
one flusher task per board then, at most once per ``tick_ms``, sends the tick's ephemeral events
(live strokes, cursors, presence) as *one* frame to every connection, and hands the tick's
committed ops to the group commit. On this stack the cost is per frame, not per byte
(``docs/performance.md``), so this is what lets one core deliver millions of op-deliveries a
second. A lone op is not delayed: an idle flusher wakes at once, and only the next flush waits.

Live drawing never waits for the disk: committed ops go out after their group's durable append,
in seq order, while the next group accumulates (one append in flight). An op reaches anyone, its
sender included, only after the append returned, so seeing one's own op come back is the
acknowledgement; a stroke's live events always went out before it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import logging
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

from .. import protocol, restore
from ..board import Board, Duplicate, LiveStroke, NothingToDo
from ..elements import Add, Draft, Image, Moving, draft_fields
from ..protocol import (
    SHAPE_TOOLS,
    Abort,
    Begin,
    CloseCode,
    Cursor,
    End,
    ErrorCode,
    Hello,
    InvalidMessage,
    Laser,
    Lead,
    Message,
    PeersRequest,
    Points,
    Rename,
    Stroke,
    Want,
)
from ..settings import Settings
from ..store.base import BoardLog, MediaStore, StorageFull
from ..store.slices import Steps, end_of_run, in_slices
from .compactor import Compactor
from .connection import Broadcaster, Connection, LocalBroadcaster, batches_by_want, for_everyone
from .counters import COUNTS
from .metrics import APPEND_SECONDS, FLUSH_SECONDS
from .outbox import Batch, Outbox, Pumped, batch_frame
from .presence import Presence
from .presenting import Stage
from .sink import Frame, Sink
from .snapshots import BoardSnapshots, new_board

log = logging.getLogger(__name__)


class TooManyLiveStrokes(InvalidMessage):
    code = ErrorCode.TOO_MANY_LIVE_STROKES


class UnknownMedia(InvalidMessage):
    """An image op names a file this board does not hold: upload it (again) first."""

    code = ErrorCode.UNKNOWN_MEDIA


class ViewOnly(InvalidMessage):
    """A view-only connection may watch, and ask for the participant list, nothing else."""

    code = ErrorCode.VIEW_ONLY


def author_for(board_id: str, client_id: str) -> str:
    """Public author id: stable for a browser on a board, but it does not reveal the secret
    client id (which would let anyone undo someone else's strokes) nor link boards."""
    digest = hashlib.sha256(f"{board_id}\x00{client_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


class BoardHub:
    def __init__(
        self,
        board_id: str,
        board_log: BoardLog,
        settings: Settings,
        on_idle: Callable[[BoardHub], None],
        media: MediaStore | None = None,
        compactor: Compactor | None = None,
    ) -> None:
        self.board_id = board_id
        self.log = board_log
        self.settings = settings
        self.media = media
        self.board = new_board(settings)
        self.snapshots = BoardSnapshots(board_id, board_log, settings, compactor, self._op_bytes)
        self.durable_seq = 0
        self.epoch: str | None = None  # names the history (Redis mode); clients resync on a change
        self.connections: Broadcaster = LocalBroadcaster()
        self._on_idle = on_idle
        self._next_peer = 1
        # This tick's ephemeral events with their kinds as a plain int mask (a Flag's ``&`` costs
        # about 1 µs in Python, per event and kind of subscriber: 5% of a saturated server).
        self._events: list[tuple[int, bytes]] = []
        # Weakly: a bound method held by them would make a reference cycle, and a closed board's
        # memory would wait for a full garbage collection, many unloaded boards later.
        queue = _weakly(self._queue)
        self.presence = Presence(settings, queue)
        self.stage = Stage(settings, queue)
        self._drawing: set[int] = set()  # peers with a live stroke (their cursors go first)
        self._presence_timer: asyncio.TimerHandle | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._ops: list[bytes] = []  # committed ops not yet handed to an append, in seq order
        # (seq, media names) of image ops not durable yet: their uploads are kept once they are
        self._images: list[tuple[int, list[str]]] = []
        self._acks: list[tuple[Connection, int, bytes]] = []  # (to, seq, ack) waiting for seq
        self._appender: asyncio.Task[None] | None = None
        self._nothing_to_do: dict[int, int] = {}  # peer -> "nothing to do" answers it got
        self._wakeup = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._pumping: asyncio.Handle | None = None  # the next turn's pump of replays
        self._idle_timer: asyncio.TimerHandle | None = None
        self._unsaved: str | None = None  # why commits are refused while unsaved ops are undone
        self._restoring: asyncio.Event | None = None  # set when a big restore is built (ready)
        self.failed = False
        self._closing = False

    async def load(self) -> None:
        """Rebuild the board from its snapshot and the log records after it (or the whole log)
        without holding the event loop for long: records are parsed (``FileLog``) and applied
        in slices of ``load_slice_ms`` with pauses of ``load_pause_ms`` for other boards."""
        self.board, records = await self.snapshots.load()
        rejected = await self._apply_in_slices(self.board, records)
        if rejected:
            index, reason = rejected[0]
            await self.log.set_aside([i for i, _ in rejected], f"first: #{index}, {reason}")
        self.durable_seq = self.board.head_seq
        self.snapshots.loaded(self.durable_seq)
        self._flusher = asyncio.create_task(self._flush_loop(), name=f"flush-{self.board_id}")
        self._ping()

    async def _apply_in_slices(self, board: Board, records: list[bytes]) -> list[tuple[int, str]]:
        """``board.load(records)`` in slices of ``load_slice_ms`` with pauses of
        ``load_pause_ms`` (``store/slices.py``); returns the records that did not apply
        (position, why)."""
        rejected: list[tuple[int, str]] = []
        position = 0

        def step(deadline: float) -> bool:
            nonlocal position
            while position < len(records):
                end = end_of_run(records, position)
                report = board.load(records[position:end])
                rejected.extend((position + index, reason) for index, reason in report.rejected)
                position = end
                if time.perf_counter() >= deadline:
                    break
            return position >= len(records)

        settings = self.settings
        await in_slices(step, settings.load_slice_ms, settings.load_pause_ms)
        return rejected

    def _ping(self) -> None:
        """Ping every connection every ``ping_interval_s``: one timer per board, not per socket."""
        interval_s = self.settings.ping_interval_s
        if interval_s <= 0 or self._closing:
            return
        for conn in self.connections:
            conn.outbox.sink.ping()
        self._ping_timer = asyncio.get_running_loop().call_later(interval_s, self._ping)

    # --- joining and leaving ------------------------------------------------------------------

    def join(
        self,
        hello: Hello,
        sink: Sink,
        extra: dict[str, Any] | None = None,
        view_token: str | None = None,
    ) -> Connection | None:
        """Register a connection, send its welcome and start its replay; None when full.

        Registration and the replay snapshot happen in one step, so every op is either in the
        replay (it was durable already) or in a later broadcast, never both or neither. A
        connection through a view link (``view_token``) is view-only, and its welcome names the
        board by that token: nothing it receives holds the board id.
        """
        if len(self.connections) >= self.settings.max_connections_per_board:
            return None
        settings = self.settings
        conn = Connection(
            peer=self._new_peer(),
            author=author_for(self.board_id, hello.client_id),
            name=hello.name,
            color=hello.color,
            outbox=Outbox(
                sink,
                max_bytes=settings.send_queue_bytes,
                max_age_s=settings.send_queue_age_s,
                max_frame_bytes=settings.replay_frame_bytes,
            ),
            frames_per_second=settings.frames_per_second,
            bytes_per_second=settings.bytes_per_second,
            close_timeout_s=settings.close_timeout_s,
            want=hello.want,
            board_id=self.board_id,
        )
        conn.view_only = view_token is not None
        since = hello.since or 0
        # The client knows a board this server does not (more ops, or another history): resync.
        other_history = None not in (hello.epoch, self.epoch) and hello.epoch != self.epoch
        reset = since > self.durable_seq or (since > 0 and other_history)
        if reset:
            since = 0
        snapshot = self.snapshots.replay_from_snapshot(since, self._op_bytes)
        if snapshot:
            reset, since = reset or since > 0, self.snapshots.seq  # it replaces what it had
        presence, presence_encoded = self.presence.welcome_fields(conn)
        welcome = protocol.encode_event_with(
            "welcome",
            presence_encoded,
            v=protocol.PROTOCOL_VERSION,
            board=view_token or self.board_id,
            view=conn.view_only,
            seq=self.durable_seq,
            since=since,
            reset=reset,
            snapshot=since if snapshot else None,
            peer=conn.peer,
            author=conn.author,
            name=conn.name,
            color=conn.color,
            **({} if self.epoch is None else {"epoch": self.epoch}),
            **presence,
            **self.stage.welcome_fields(),
            **(extra or {}),
        )
        now = time.monotonic()
        conn.outbox.write_now(Frame(welcome), now)
        self.connections.add(conn)
        if snapshot:
            conn.outbox.start_replay(
                itertools.chain(
                    self.snapshots.frames(), self._replay_frames(since, self.durable_seq)
                )
            )
            self._behind(conn)
        elif since < self.durable_seq:
            conn.outbox.start_replay(self._replay_frames(since, self.durable_seq))
            self._behind(conn)
        self._cancel_idle_timer()
        self.presence.join(conn)
        self._wakeup.set()  # a large room's summary may be due
        return conn

    def _new_peer(self) -> int:
        self._next_peer += 1
        return self._next_peer - 1

    def _replay_frames(self, since: int, until: int) -> Iterator[Frame]:
        """Stored ops ``since+1..until`` in ``batch`` frames of about ``replay_frame_bytes``,
        built only as the socket takes them; the ops are never decoded or re-encoded."""
        ops = self.board.ops  # append-only while the board is loaded: slicing later is safe
        limit, start, size = self.settings.replay_frame_bytes, since, 0
        for index in range(since, until):
            size += len(ops[index])
            if size >= limit:
                yield batch_frame(ops[start : index + 1])
                start, size = index + 1, 0
        if start < until:
            yield batch_frame(ops[start:until])

    def _op_bytes(self, start: int, stop: int, limit: int) -> int:
        """Bytes of ops ``start+1..stop``, counted until they pass ``limit``."""
        ops, total = self.board.ops, 0
        for index in range(start, stop):
            total += len(ops[index])
            if total >= limit:
                break
        return total

    def leave(self, conn: Connection) -> None:
        conn.finish()
        if not self.connections.remove(conn):
            return
        self._nothing_to_do.pop(conn.peer, None)
        for stroke_id in [*conn.live, *conn.previews]:
            self._queue_live(conn, protocol.encode_event("abort", peer=conn.peer, id=stroke_id))
        conn.live.clear()
        conn.previews.clear()
        self._drawing.discard(conn.peer)
        self._acks = [ack for ack in self._acks if ack[0] is not conn]
        self.presence.leave(conn)
        self.stage.leave(conn)
        self._wakeup.set()
        if not self.connections:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self.settings.idle_unload_s, self._on_idle, self)

    def _cancel_idle_timer(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def _send(self, conn: Connection, encoded: bytes) -> None:
        """One message to one connection (an error, an ack), after what it already has queued."""
        if conn.send(encoded):
            self._behind(conn)

    def _behind(self, conn: Connection) -> None:
        self.connections.lagging(conn)
        self._wakeup.set()

    # --- handling messages ----------------------------------------------------------------------

    def must_wait(self, conn: Connection, message: Message | InvalidMessage) -> bool:
        """Must ``message`` wait for :meth:`ready` before :meth:`handle`? (Cheap: most don't.)"""
        if self._restoring is not None:
            return True
        return not conn.view_only and self.board.big_restore(message, conn.author) is not None

    async def ready(self, conn: Connection, message: Message | InvalidMessage) -> None:
        """Return when ``message`` may be handled, having built its ``restore`` first if it is
        an undo or redo that copies many elements whole (``Board.big_restore``).

        Undoing a clear of 100,000 strokes outside the undo window copies all of them into its
        op (8.8 MB): built at once, that held the event loop 90-450 ms. It is built in slices
        of ``load_slice_ms`` (as a board loads), and meanwhile nothing commits on this board, so
        it stays exact: every connection of the board waits here (other boards do not)."""
        while self._restoring is not None:
            await self._restoring.wait()
        found = None if conn.view_only else self.board.big_restore(message, conn.author)
        if found is None:
            return
        board, done = self.board, asyncio.Event()
        self._restoring = done
        try:
            steps = Steps(restore.visibility_steps(board, *found))
            await in_slices(steps.step, self.settings.load_slice_ms, self.settings.load_pause_ms)
            assert steps.result is not None
            board.prepared = restore.Prepared(*found, board.head_seq, steps.result)
        finally:
            self._restoring = None
            done.set()

    def handle(self, conn: Connection, message: Message | InvalidMessage) -> None:
        """Apply one decoded message from ``conn``; never raises for bad input."""
        try:
            if isinstance(message, InvalidMessage):
                raise message
            if conn.view_only and not isinstance(message, PeersRequest):
                raise ViewOnly("this is a view-only link: it cannot change the board")
            if isinstance(message, Cursor):
                self.presence.cursor(conn, message.x, message.y)
                self._wakeup.set()
            elif isinstance(message, Begin | Points):
                self._live(conn, message)
            elif isinstance(message, Draft | Moving):
                self._preview(conn, message)
            elif isinstance(message, Abort):
                live = conn.live.pop(message.id, None)
                if live is not None:
                    self._stopped_drawing(conn)
                if live is not None or message.id in conn.previews:
                    conn.previews.discard(message.id)
                    abort = protocol.encode_event("abort", peer=conn.peer, id=message.id)
                    self._queue_live(conn, abort)
            elif isinstance(message, Rename):
                conn.name, conn.color = message.name, message.color
                self.presence.rename(conn)
                self._wakeup.set()
            elif isinstance(message, PeersRequest):
                self._send(conn, self.presence.page(message.after))
            elif isinstance(message, Laser):
                self.stage.laser(conn, message)
                self._wakeup.set()
            elif isinstance(message, Lead):
                self.stage.lead(conn, message)
                self._wakeup.set()
            elif isinstance(message, Hello):
                raise InvalidMessage("hello is only the first message")
            else:
                self._commit(conn, message)
        except NothingToDo as exc:
            # Races between people (two erasing one stroke) are normal: they count for little.
            noops = self._nothing_to_do[conn.peer] = self._nothing_to_do.get(conn.peer, 0) + 1
            counted = noops % self.settings.nothing_to_do_per_error == 0
            self._reject(conn, exc.code, exc.reason, exc.op_id, counted=counted)
        except InvalidMessage as exc:
            if exc.op_id is None:
                exc.op_id = getattr(message, "id", None)
            self._reject(conn, exc.code, exc.reason, exc.op_id)
        except StorageFull as exc:  # not the client's fault: not counted against it
            op_id = getattr(message, "id", None)
            self._reject(conn, ErrorCode.STORAGE_FULL, str(exc), op_id, counted=False)

    def _reject(
        self,
        conn: Connection,
        code: ErrorCode,
        reason: str,
        op_id: str | None,
        counted: bool = True,
    ) -> None:
        conn.errors += counted
        COUNTS.errors[code] += 1
        self._send(conn, protocol.encode_error(code, reason, op_id))
        if conn.errors >= self.settings.max_errors_per_connection:
            conn.close(CloseCode.TOO_MANY_ERRORS, "too many invalid messages")

    def _live(self, conn: Connection, message: Begin | Points) -> None:
        settings = self.settings
        if isinstance(message, Begin):
            if message.id not in conn.live and len(conn.live) >= settings.max_live_strokes:
                raise TooManyLiveStrokes(f"at most {settings.max_live_strokes} strokes at once")
            conn.live[message.id] = LiveStroke.begin(
                message.style,
                message.pts,
                message.pressure,
                settings.max_points_per_stroke,
                settings.max_coord,
            )
            self._drawing.add(conn.peer)
            self.presence.introduce(conn)
            fields = protocol.stroke_fields(message.style, message.pts, message.pressure)
            begin = protocol.encode_event("begin", peer=conn.peer, id=message.id, **fields)
            self._queue_live(conn, begin, message.id)
            return
        live = conn.live.get(message.id)
        if live is None:
            raise InvalidMessage("points for a stroke that was never begun")
        if live.style.tool in SHAPE_TOOLS:
            raise InvalidMessage("a shape being dragged is updated by begin, not extended")
        live.append(message)
        self.presence.introduce(conn)
        extra = {} if message.pressure is None else {"p": message.pressure}
        points = protocol.encode_event(
            "points", peer=conn.peer, id=message.id, pts=message.pts, **extra
        )
        self._queue_live(conn, points, message.id)

    def _stopped_drawing(self, conn: Connection) -> None:
        if not conn.live:
            self._drawing.discard(conn.peer)

    def _preview(self, conn: Connection, message: Draft | Moving) -> None:
        """Relay a draft (text being typed) or a move being dragged; its commit, an ``abort``
        or the author leaving ends it."""
        if message.id not in conn.previews:
            if len(conn.previews) + len(conn.live) >= self.settings.max_live_strokes:
                raise TooManyLiveStrokes(
                    f"at most {self.settings.max_live_strokes} previews and strokes at once"
                )
            conn.previews.add(message.id)
        if isinstance(message, Draft):
            fields = draft_fields(message)
        else:
            fields = {"id": message.id, "ids": message.ids, "m": message.m}
        kind = _PREVIEW_KIND[type(message)]
        self._queue_live(
            conn, protocol.pack({"type": kind, "peer": conn.peer, **fields}), message.id
        )

    def _images_exist(self, message: Any) -> list[str]:
        """The media names an op adds; raise UnknownMedia when one is not stored."""
        if isinstance(message, Image):
            names = [message.src]
        elif isinstance(message, Add):
            names = [item.src for item in message.items if isinstance(item, Image)]
        else:
            return []
        for name in names:
            if self.media is None or not self.media.exists(self.board_id, name):
                raise UnknownMedia(f"image {name} was not uploaded to this board (or expired)")
        return names

    def _commit(self, conn: Connection, message: Any) -> None:
        # A whole stroke may commit a live one too (a shape is sent whole on release).
        live = conn.live.pop(message.id, None) if isinstance(message, End | Stroke) else None
        if live is not None:
            self._stopped_drawing(conn)
        previewed = message.id in conn.previews
        conn.previews.discard(message.id)
        try:
            if self._unsaved is not None:
                raise StorageFull(self._unsaved)
            images = self._images_exist(message)
            result = self.board.commit(message, conn.author, live, reserve=self.log.reserve)
        except (InvalidMessage, StorageFull):
            if live is not None or previewed:
                abort = protocol.encode_event("abort", peer=conn.peer, id=message.id)
                self._queue_live(conn, abort)
            raise
        if images and self.media is not None and not isinstance(result, Duplicate):
            # An upload is kept once its op is durable (_keep_images); until then it stays pending
            # with its grace renewed, so a failed write leaves it to the sweep.
            for name in images:
                self.media.accepted(self.board_id, name)
            self._images.append((self.board.head_seq, images))
        if isinstance(result, Duplicate):
            # To the sender alone, and never before the durable write of that seq.
            ack = protocol.encode_event("ack", id=result.op_id, seq=result.seq)
            if result.seq <= self.durable_seq:
                self._send(conn, ack)
            else:
                self._acks.append((conn, result.seq, ack))
            return
        self._ops.append(result)
        self._wakeup.set()

    def _queue_live(self, conn: Connection, encoded: bytes, stroke_id: str | None = None) -> None:
        """A live-stroke event of ``conn`` (begin, points, abort) for everyone's next frame."""
        self._queue(encoded)

    def _queue(self, encoded: bytes, kinds: Want = Want.LIVE) -> None:
        """An ephemeral event for this tick, for the subscribers of any of ``kinds``."""
        self._events.append((int(kinds), encoded))
        self._wakeup.set()

    # --- flushing --------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        tick_s = self.settings.tick_ms / 1000
        while not self._closing:
            await self._wakeup.wait()
            self.flush()
            if not self._closing:
                await asyncio.sleep(tick_s)

    def flush(self) -> None:
        """Send this tick's events to all now; hand its committed ops to the group commit; give
        connections that are behind what their sockets take."""
        self._wakeup.clear()
        now = time.monotonic()
        due = [
            due_s
            for due_s in (self.presence.flush(now, self._drawing), self.stage.flush(now))
            if due_s is not None
        ]
        if due:
            self._wake_at(min(due) - now)
        events = self._events
        if events:
            self._events = []
            with FLUSH_SECONDS.time():
                self.connections.publish(batches_by_want(events), now)
        if self._ops and (self._appender is None or self._appender.done()) and not self.failed:
            self._appender = asyncio.create_task(self._append_groups())
        if self._pumping is None:
            self._pumped(self.connections.pump(now))

    def _pump(self) -> None:
        """One frame more to each connection whose socket takes it, on a turn of its own."""
        self._pumping = None
        if not self._closing:
            self._pumped(self.connections.pump(time.monotonic()))

    def _pumped(self, pumped: Pumped) -> None:
        if pumped is Pumped.MORE:  # a replay streams a frame a turn, at the socket's pace
            self._pumping = asyncio.get_running_loop().call_soon(self._pump)
        elif pumped:
            self._wakeup.set()  # keep ticking while a socket has not taken what it was given

    async def _append_groups(self) -> None:
        """Append committed ops in groups, one append in flight; publish each group once durable."""
        while self._ops and not self.failed:
            group, self._ops = self._ops, []
            try:
                with APPEND_SECONDS.time():
                    await self.log.append(group)
            except StorageFull as exc:
                await self._forget_unsaved(str(exc))
                return
            except Exception:
                log.exception("board %s: log write failed; closing its connections", self.board_id)
                self.fail()
                return
            self.durable_seq += len(group)
            self._keep_images()
            COUNTS.ops_committed += len(group)
            self.connections.publish(for_everyone(Batch.of(group)), time.monotonic())
            self._on_durable()

    def _keep_images(self) -> None:
        """The uploads durable image ops name are no longer pending."""
        while self._images and self._images[0][0] <= self.durable_seq and self.media is not None:
            for name in self._images.pop(0)[1]:
                self.media.committed(self.board_id, name)

    def _on_durable(self) -> None:
        """A group is durable: acks waiting for its seqs may go."""
        if self._acks:
            self._send_acks()
        self.snapshots.durable(self.durable_seq)

    def _wake_at(self, delay_s: float) -> None:
        """Flush again in ``delay_s`` (presence that is due later), unless a tick comes first."""
        if self._presence_timer is not None:
            self._presence_timer.cancel()
        loop = asyncio.get_running_loop()
        self._presence_timer = loop.call_later(max(0.0, delay_s), self._wakeup.set)

    def _send_acks(self) -> None:
        durable, waiting = self.durable_seq, []
        for conn, seq, ack in self._acks:
            if seq <= durable:
                self._send(conn, ack)
            else:
                waiting.append((conn, seq, ack))
        self._acks = waiting

    async def _forget_unsaved(self, reason: str) -> None:
        """The disk refused an append (full, read-only): the ops after ``durable_seq`` were never
        saved nor sent to anyone. Rebuild the board without them and tell their authors
        ``storage_full``; every connection stays open. Meanwhile commits are refused."""
        self._unsaved = reason
        unsaved = self.board.ops[self.durable_seq :]
        self._ops, self._images = [], []  # their uploads stay pending: swept after the grace
        rebuilt = await self.snapshots.board_at(self.durable_seq)
        if rebuilt is None:
            log.error("board %s: cannot rebuild it without its unsaved ops", self.board_id)
            self.fail()
            return
        board, start = rebuilt
        await self._apply_in_slices(board, self.board.ops[start : self.durable_seq])
        self.board = board
        acks, self._acks = self._acks, []
        refused = [msgpack.unpackb(op) for op in unsaved]
        refused += [msgpack.unpackb(ack) | {"by": conn.author} for conn, _, ack in acks]
        for conn in self.connections:
            for op in refused:
                if op["by"] == conn.author:
                    self._reject(conn, ErrorCode.STORAGE_FULL, reason, op["id"], counted=False)
        log.info("board %s: %d unsaved ops refused: %s", self.board_id, len(refused), reason)
        self._unsaved = None

    def fail(self) -> None:
        """Storage broke: memory is ahead of disk, so drop the board; clients resend later."""
        self.failed = True
        self._ops, self._acks, self._images = [], [], []
        for conn in self.connections:
            conn.close(CloseCode.INTERNAL_ERROR, "storage error")
        self._on_idle(self)

    async def close(
        self,
        code: int = CloseCode.GOING_AWAY,
        reason: str = "server restarting",
        close_timeout_s: float | None = None,
    ) -> None:
        """Finish the flush and the append in progress (never cut a log write short), flush and
        append the rest, then close every connection."""
        self._closing = True
        self._wakeup.set()
        if self._flusher is not None:
            await self._flusher
        if not self.failed:
            self.flush()
            if self._appender is not None:
                await self._appender
        for conn in self.connections:
            conn.close(code, reason, close_timeout_s)
        self._cancel_idle_timer()
        for timer in (self._presence_timer, self._ping_timer, self._pumping):
            if timer is not None:
                timer.cancel()
        await self.snapshots.close()
        await self.log.close()


def _weakly(method: Callable[[bytes, Want], None]) -> Callable[[bytes, Want], None]:
    """``method``, called through a weak reference to its object (a no-op once it is gone)."""
    reference = weakref.WeakMethod(method)

    def call(event: bytes, want: Want) -> None:
        bound = reference()
        if bound is not None:
            bound(event, want)

    return call


_PREVIEW_KIND = {Draft: "draft", Moving: "moving"}
