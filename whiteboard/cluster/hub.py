"""A board's hub in Redis mode: the single-process hub, plus what crosses workers.

:class:`ClusterHub` is :class:`~whiteboard.server.hub.BoardHub` with a :class:`BoardCluster`:
its clients' joins, cursors, live strokes, previews, presenter's view and laser points also go
to the other workers; committed ops come from the owner (this worker, or another through the
board's channel); commits of a follower's clients are forwarded to the owner. Everything a
client sees is built by the same code as in one process, so both modes behave alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import msgpack

from .. import protocol
from ..board import Duplicate
from ..elements import ElementMessage, element_wire
from ..logformat import log_event
from ..protocol import CloseCode, Cursor, End, ErrorCode, InvalidMessage, Rename, Stroke, Want
from ..server.compactor import Compactor
from ..server.connection import Connection, for_everyone
from ..server.hub import BoardHub
from ..server.outbox import Batch
from ..server.sink import Sink
from ..settings import Settings
from ..store.base import MediaStore, StorageFull
from ..store.redis import RedisLog
from .board import BoardCluster, RemotePeer, encode_stroke_request
from .link import RedisLink

log = logging.getLogger(__name__)


class ClusterHub(BoardHub):
    def __init__(
        self,
        board_id: str,
        board_log: RedisLog,
        settings: Settings,
        on_idle: Callable[[BoardHub], None],
        link: RedisLink,
        media: MediaStore | None = None,
        compactor: Compactor | None = None,
    ) -> None:
        super().__init__(board_id, board_log, settings, on_idle, media, compactor)
        self.cluster = BoardCluster(self, link, board_log)
        self._refresh: asyncio.Task[None] | None = None
        self.stage.share = self._share_present

    async def load(self) -> None:
        await super().load()
        await self.cluster.start()
        self.epoch = self.cluster.epoch or None

    def _new_peer(self) -> int:
        return self.cluster.new_peer()

    # --- this worker's clients -----------------------------------------------------------------

    def join(
        self,
        hello: Any,
        sink: Sink,
        extra: dict[str, Any] | None = None,
        view_token: str | None = None,
    ) -> Connection | None:
        self.epoch = self.cluster.epoch or None
        conn = super().join(hello, sink, extra, view_token)
        if conn is not None:
            self.cluster.local_join(conn)
        return conn

    def leave(self, conn: Connection) -> None:
        joined = self.connections.get(conn.peer) is conn
        super().leave(conn)
        if joined:
            self.cluster.local_leave(conn)

    def must_wait(self, conn: Connection, message: Any) -> bool:
        """Only the owner commits, so only it builds a big restore ahead (``BoardHub.ready``);
        an op forwarded to it is built there at once (not in slices, yet)."""
        return self.cluster.is_owner and super().must_wait(conn, message)

    def handle(self, conn: Connection, message: Any) -> None:
        super().handle(conn, message)
        if conn.view_only:
            return  # refused with view_only: nothing to tell the other workers
        if isinstance(message, Cursor):
            self.cluster.local_cursor(conn, message.x, message.y)
        elif isinstance(message, Rename):
            self.cluster.local_join(conn)

    def _queue_live(self, conn: Connection, encoded: bytes, stroke_id: str | None = None) -> None:
        super()._queue_live(conn, encoded, stroke_id)
        self.cluster.local_event(conn.peer, encoded, Want.LIVE, stroke_id)

    def _share_present(self, peer: int, event: bytes) -> None:
        """A presenter's view or laser points of this worker's client: every worker's too."""
        self.cluster.local_event(peer, event, Want.PRESENT)

    def _commit(self, conn: Connection, message: Any) -> None:
        if self.cluster.is_owner:
            super()._commit(conn, message)
            return
        live = conn.live.pop(message.id, None) if isinstance(message, End | Stroke) else None
        previewed = message.id in conn.previews  # a text typed or a move dragged, now committed
        conn.previews.discard(message.id)
        if isinstance(message, End):
            if live is None:
                raise InvalidMessage("end of a stroke that was never begun", message.id)
            request = encode_stroke_request(message.id, live)
        elif isinstance(message, ElementMessage):
            request = element_wire(message)
        else:
            request = protocol.to_wire(message)
        self.cluster.forward(conn, request, was_live=live is not None or previewed)
        self.wake()

    def flush(self) -> None:
        super().flush()
        self.cluster.flush()

    def _on_durable(self) -> None:
        super()._on_durable()
        self.cluster.durable(self.durable_seq)

    # --- what the cluster brings -----------------------------------------------------------------

    def wake(self) -> None:
        self._wakeup.set()

    def local_connections(self) -> list[Connection]:
        return list(self.connections)

    def apply_committed(self, records: list[bytes]) -> None:
        """Ops the owner committed (this worker follows): apply, then send to every client."""
        report = self.board.load(records)
        for index, reason in report.rejected:
            log.warning(
                "board %s: a committed op does not apply (#%d: %s)", self.board_id, index, reason
            )
        self.durable_seq = self.board.head_seq
        self.connections.publish(for_everyone(Batch.of(records)), time.monotonic())
        self._on_durable()
        self.wake()

    def snapshot_stored(self) -> None:
        """(Follower) the owner stored a snapshot: fetch it for this worker's late joiners."""
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.create_task(
                self.snapshots.refresh(self.board.ops), name=f"snapshot-{self.board_id}"
            )
            self._refresh.add_done_callback(_log_refresh_failure)

    def stopped_drawing(self, conn: Connection) -> None:
        self._stopped_drawing(conn)

    def relay(self, peer: RemotePeer, encoded: bytes, kinds: Want, stroke_id: str | None) -> None:
        """An ephemeral event of another worker's client, for this worker's clients."""
        if stroke_id is not None:
            if stroke_id in self.board.op_seq:
                return  # its commit came first (by another path): a preview would stay forever
            self._drawing.add(peer.peer)
        self.presence.introduce(peer)  # type: ignore[arg-type]
        if kinds == Want.PRESENT:
            self.stage.relayed(encoded)
        self._queue(encoded, kinds)

    def remote_left(self, peer: RemotePeer) -> None:
        self._drawing.discard(peer.peer)
        self.stage.remote_left(peer.peer)
        self.presence.leave(peer)  # type: ignore[arg-type]
        self.wake()

    def commit_forwarded(self, worker: str, peer: int, author: str, request: bytes) -> None:
        """(Owner) commit a follower's client's op; the result travels back as the committed op
        (on the channel, to everyone) or as a reply to that client."""
        op_id: str | None = None
        try:
            obj = msgpack.unpackb(request, raw=False, use_list=False)
            op_id = obj.get("id") if isinstance(obj, dict) else None
            message = protocol.decode_message(obj, self.settings.limits)
            result = self.board.commit(message, author, None, reserve=self.log.reserve)
        except (InvalidMessage, StorageFull) as exc:
            code = exc.code if isinstance(exc, InvalidMessage) else ErrorCode.STORAGE_FULL
            reason = exc.reason if isinstance(exc, InvalidMessage) else str(exc)
            self.cluster.reply(worker, peer, op_id, protocol.encode_error(code, reason, op_id))
            return
        except Exception:
            log.exception("board %s: a forwarded op could not be read", self.board_id)
            return
        if isinstance(result, Duplicate):
            ack = protocol.encode_event("ack", id=result.op_id, seq=result.seq)
            if result.seq <= self.durable_seq:
                self.cluster.reply(worker, peer, result.op_id, ack)
            else:
                self.cluster.hold_ack(worker, peer, result.seq, result.op_id, ack)
            return
        self._ops.append(result)
        self.wake()

    def commit_own_forwarded(self, conn: Connection, request: bytes) -> None:
        """(New owner) an op this worker had forwarded to the last owner: commit it here."""
        if self.connections.get(conn.peer) is not conn:
            return
        obj = msgpack.unpackb(request, raw=False, use_list=False)
        self.handle(conn, protocol.decode_or_error(obj, self.settings.limits))

    def reply_to_peer(self, peer: int, encoded: bytes, was_live: bool) -> None:
        """(Follower) the owner's answer to a forwarded op of one of this worker's clients."""
        conn = self.connections.get(peer)
        if conn is None:
            return
        self._send(conn, encoded)
        answer = msgpack.unpackb(encoded, raw=False)
        if answer.get("type") != "error":
            return
        op_id = answer.get("id")
        if was_live and isinstance(op_id, str):
            self._stopped_drawing(conn)
            self._queue_live(conn, protocol.encode_event("abort", peer=peer, id=op_id))
        if answer.get("code") != ErrorCode.UNKNOWN_STROKE:  # a race between people, not a bug
            conn.errors += 1
            if conn.errors >= self.settings.max_errors_per_connection:
                conn.close(CloseCode.TOO_MANY_ERRORS, "too many invalid messages")

    def history_replaced(self, reason: str, code: int = CloseCode.SERVICE_RESTART) -> None:
        """This worker's copy of the board can no longer be trusted (the lease was lost, the
        history got a new epoch, Redis went away): close its clients so they reconnect and
        resume (or resync) from Redis, and unload it."""
        if self.failed:
            return
        log_event(
            log, logging.WARNING, "board_reload", board=self.board_id, code=code, reason=reason
        )
        self.failed = True
        self._ops, self._acks = [], []
        for conn in self.connections:
            conn.close(code, "the board moved: reconnecting")
        self._on_idle(self)

    def fail(self) -> None:
        """An append failed: Redis is unreachable (pages retry later) or refused it."""
        unreachable = not self.cluster.link.ready
        code = CloseCode.TRY_AGAIN_LATER if unreachable else CloseCode.SERVICE_RESTART
        self.history_replaced("an append failed", code)

    async def close(self, *args: Any, **kwargs: Any) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        try:
            await super().close(*args, **kwargs)
        except Exception as exc:  # the lease cannot be released while Redis is away: it expires
            log.info("board %s: closed without Redis (%r)", self.board_id, exc)
        await self.cluster.close()


def _log_refresh_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("a stored snapshot could not be fetched (%r)", task.exception())
