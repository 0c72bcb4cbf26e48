"""One board in Redis mode, seen from one worker: owner or follower, and what crosses workers.

Exactly one worker, the **owner** (it holds the board's lease, ``store/redis.py``), validates and
commits the board's ops, exactly as the single-process server does; its appends are fenced by the
lease and published by Redis itself in log order. Every other worker holding clients of the board
is a **follower**: it applies the committed groups it receives to its own copy of the board (so
late joiners and resumes replay from memory on any worker), forwards its clients' commits to the
owner, and relays live events. Every tick, each worker publishes on the board's channel one
message with its clients' *inputs* — joins, leaves, renames, cursors, live events, forwarded
commits, replies to forwarded commits — and each worker turns the inputs of all workers into what
its own clients are told, with the same presence rules as one process.

Loss is expected and repaired: committed groups carry their seqs, so a follower that misses one
(pub/sub is at most once) reads the gap from the stream; a forwarded commit that is not answered
within ``REQUEST_RETRY_S`` is sent again (op ids make that idempotent); workers that stop
publishing are dropped from presence after ``PEER_TIMEOUT_S``; every second each worker compares
its head with the stored one (Centrifugo's "positioning"), so even a subscription that silently
reconnected cannot leave it behind. Ownership moves when the owner's lease expires: a follower
catches up from the stream, takes the lease and commits from there on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack

from .. import protocol
from ..logformat import log_event
from ..protocol import Want
from ..server.counters import COUNTS
from ..store.redis import OwnershipLost, RedisLog
from .link import RedisLink

if TYPE_CHECKING:
    from ..server.connection import Connection
    from ..server.hub import BoardHub

log = logging.getLogger(__name__)

PEER_BITS = 24
"""Peer ids are ``worker number << PEER_BITS | local count``: unique across workers."""
MAINTENANCE_S = 1.0
HEARTBEAT_S = 2.0
PEER_TIMEOUT_S = 6.0
ASK_INTERVAL_S = 1.0
REQUEST_RETRY_S = 2.0


@dataclass(slots=True)
class RemotePeer:
    """A client of another worker, as presence needs it (the attributes of a Connection)."""

    peer: int
    name: str
    color: str
    author: str
    worker: str
    live: dict[str, None] = field(default_factory=dict)


@dataclass(slots=True)
class Forwarded:
    """A commit sent to the owner and not answered yet."""

    conn: Connection
    request: bytes
    sent_s: float
    was_live: bool


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class BoardCluster:
    def __init__(self, hub: BoardHub, link: RedisLink, board_log: RedisLog) -> None:
        self.hub = hub
        self.link = link
        self.log = board_log
        self.board_id = hub.board_id
        self._local_count = 0
        self._inputs: list[list[Any]] = []
        self._remote: dict[int, RemotePeer] = {}
        self._worker_seen: dict[str, float] = {}
        self._forwarded: dict[str, Forwarded] = {}
        self._held_acks: list[tuple[str, int, int, str, bytes]] = []  # worker, peer, seq, id, ack
        self._maintenance: asyncio.Task[None] | None = None
        self._next_heartbeat = 0.0
        self._next_ask = 0.0
        self._resync = asyncio.Event()
        self.closed = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow the board's channel, then try to own it (catching up on what was committed
        between loading and subscribing), and ask the other workers who is here."""
        await self.link.follow(self.board_id, self)
        try:
            await self._catch_up()
            if await self.log.acquire():
                await self._catch_up_as_owner()
        except Exception as exc:  # Redis went away meanwhile: maintenance tries again
            log_event(log, logging.INFO, "lease_pending", board=self.board_id, reason=repr(exc))
        self._ask_who_is_here()
        self._maintenance = asyncio.create_task(self._maintain(), name=f"cluster-{self.board_id}")

    async def close(self) -> None:
        self.closed = True
        self.link.unfollow(self.board_id)
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._maintenance
        self.link.publish(self.board_id, self._message([["g"]]))  # gone: drop my peers
        with contextlib.suppress(Exception):
            await self.log.release()

    @property
    def epoch(self) -> str:
        return self.log.epoch

    @property
    def is_owner(self) -> bool:
        return self.log.owner

    def new_peer(self) -> int:
        self._local_count += 1
        return (self.link.worker_number << PEER_BITS) | (self._local_count & ((1 << PEER_BITS) - 1))

    # --- what this worker's clients do ---------------------------------------------------------

    def local_join(self, conn: Connection) -> None:
        self._inputs.append(["j", conn.peer, conn.name, conn.color, conn.author])

    def local_leave(self, conn: Connection) -> None:
        self._inputs.append(["l", conn.peer])
        for op_id in [i for i, f in self._forwarded.items() if f.conn is conn]:
            del self._forwarded[op_id]

    def local_cursor(self, conn: Connection, x: float | None, y: float | None) -> None:
        self._inputs.append(["c", conn.peer, x, y])

    def local_event(
        self, peer: int, encoded: bytes, kinds: Want, stroke_id: str | None = None
    ) -> None:
        """An ephemeral event of this worker's client ``peer`` that every worker's clients should
        see too (live strokes, previews, presenting)."""
        self._inputs.append(["x", peer, int(kinds), stroke_id, encoded])

    def forward(self, conn: Connection, request: dict[str, Any], was_live: bool) -> None:
        """Send a commit to the owner; its result comes back as a committed op or a reply."""
        encoded = msgpack.packb(request)
        self._forwarded[request["id"]] = Forwarded(conn, encoded, time.monotonic(), was_live)
        self._inputs.append(["r", conn.peer, conn.author, request["id"], encoded])

    def reply(self, worker: str, peer: int, op_id: str | None, encoded: bytes) -> None:
        """The owner's answer to a forwarded commit (an error, or an ack of a resend)."""
        self._inputs.append(["a", worker, peer, op_id, encoded])

    def hold_ack(self, worker: str, peer: int, seq: int, op_id: str, ack: bytes) -> None:
        """An ack the owner may send only once ``seq`` is durable."""
        self._held_acks.append((worker, peer, seq, op_id, ack))

    def durable(self, seq: int) -> None:
        if self._held_acks:
            waiting = []
            for worker, peer, ack_seq, op_id, ack in self._held_acks:
                if ack_seq <= seq:
                    self.reply(worker, peer, op_id, ack)
                else:
                    waiting.append((worker, peer, ack_seq, op_id, ack))
            self._held_acks = waiting

    def flush(self) -> None:
        """Publish this tick's inputs (called by the hub's tick, never blocking)."""
        now = time.monotonic()
        if not self._inputs and (now < self._next_heartbeat or not self.hub.connections):
            return
        self._next_heartbeat = now + HEARTBEAT_S
        inputs, self._inputs = self._inputs, []
        self.link.publish(self.board_id, self._message(inputs or [["h"]]))

    def _message(self, inputs: list[list[Any]]) -> bytes:
        return msgpack.packb(["e", self.link.worker_id, inputs])

    # --- what arrives from Redis ---------------------------------------------------------------

    def on_message(self, payload: bytes) -> None:
        message = msgpack.unpackb(payload, raw=True, use_list=True)
        kind = message[0]
        if kind == b"c":
            self._on_committed(_text(message[1]), int(message[2]), message[3])
        elif kind == b"s":
            if not self.is_owner and _text(message[1]) == self.log.epoch:
                self.hub.snapshot_stored()
        elif kind == b"e":
            worker = _text(message[1])
            if worker != self.link.worker_id:
                self._worker_seen[worker] = time.monotonic()
                self._on_inputs(worker, message[2])

    def on_resubscribed(self) -> None:
        self._resync.set()
        self._ask_who_is_here()  # joins may have been published while we were not listening

    def _ask_who_is_here(self) -> None:
        """Every worker answers with its peers. Asked on load, after a resubscription, and when
        an event names a peer this worker never heard join (pub/sub lost it): at most once per
        ``ASK_INTERVAL_S``."""
        now = time.monotonic()
        if now >= self._next_ask:
            self._next_ask = now + ASK_INTERVAL_S
            self._inputs.append(["?"])
            self.hub.wake()

    def _on_committed(self, epoch: str, last_seq: int, data: bytes) -> None:
        hub = self.hub
        if self.is_owner or last_seq <= hub.durable_seq:
            return  # the owner applied its own ops when it committed them
        if epoch != self.log.epoch:
            if self.log.epoch:
                hub.history_replaced(f"epoch {self.log.epoch} -> {epoch}")
                return
            self.log.epoch = epoch  # the board's first commit named its history
        from ..store.records import parse_log

        records = parse_log(data).records
        first = last_seq - len(records) + 1
        if first != hub.durable_seq + 1:
            self._resync.set()  # a group went missing: read the gap from the stream
            return
        self._apply(records, last_seq, len(data))

    def _apply(self, records: list[bytes], last_seq: int, data_bytes: int) -> None:
        """Apply a group ending at ``last_seq``, less what was applied meanwhile (a group can
        come both live and from the stream while catching up)."""
        already = self.hub.durable_seq - (last_seq - len(records))
        if already >= len(records):
            return
        if already > 0:
            records = records[already:]
        self.hub.apply_committed(records)
        self.log.applied_remote(last_seq, data_bytes)
        if self._forwarded:
            for record in records:
                op_id = _op_id(record)
                forwarded = self._forwarded.pop(op_id, None) if op_id else None
                if forwarded is not None and forwarded.was_live:
                    self.hub.stopped_drawing(forwarded.conn)

    def _on_inputs(self, worker: str, inputs: Iterable[list[Any]]) -> None:
        hub = self.hub
        for item in inputs:
            kind = item[0]
            if kind == b"j":
                self._remote_join(worker, item[1], _text(item[2]), _text(item[3]), _text(item[4]))
            elif kind == b"l":
                self._remote_leave(item[1])
            elif kind == b"c":
                peer = self._remote.get(item[1])
                if peer is None:
                    self._ask_who_is_here()
                else:
                    hub.presence.cursor(peer, item[2], item[3])  # type: ignore[arg-type]
                    hub.wake()
            elif kind == b"x":
                peer = self._remote.get(item[1])
                stroke_id = None if item[3] is None else _text(item[3])
                if peer is None:
                    self._ask_who_is_here()
                else:
                    hub.relay(peer, item[4], Want(item[2]), stroke_id)
            elif kind == b"r":
                if self.is_owner:
                    hub.commit_forwarded(worker, item[1], _text(item[2]), item[4])
            elif kind == b"a":
                if _text(item[1]) == self.link.worker_id:
                    op_id = None if item[3] is None else _text(item[3])
                    forwarded = self._forwarded.pop(op_id, None) if op_id else None
                    hub.reply_to_peer(item[2], item[4], forwarded.was_live if forwarded else False)
            elif kind == b"?":
                self._inputs.append(["s", [self._info(c) for c in hub.local_connections()]])
                hub.wake()
            elif kind == b"s":
                for peer, name, color, author in item[1]:
                    self._remote_join(worker, peer, _text(name), _text(color), _text(author))
            elif kind == b"g":
                self._drop_worker(worker)

    @staticmethod
    def _info(conn: Connection) -> list[Any]:
        return [conn.peer, conn.name, conn.color, conn.author]

    def _remote_join(self, worker: str, peer: int, name: str, color: str, author: str) -> None:
        known = self._remote.get(peer)
        if known is None:
            remote = self._remote[peer] = RemotePeer(peer, name, color, author, worker)
            self.hub.presence.join(remote)  # type: ignore[arg-type]
        elif (known.name, known.color) != (name, color):
            known.name, known.color = name, color
            self.hub.presence.rename(known)  # type: ignore[arg-type]
        self.hub.wake()

    def _remote_leave(self, peer: int) -> None:
        remote = self._remote.pop(peer, None)
        if remote is not None:
            self.hub.remote_left(remote)

    def _drop_worker(self, worker: str) -> None:
        self._worker_seen.pop(worker, None)
        for peer in [p for p, r in self._remote.items() if r.worker == worker]:
            self._remote_leave(peer)

    # --- every second: lease, gaps, lost messages, dead workers --------------------------------

    async def _maintain(self) -> None:
        while not self.closed:
            try:
                await asyncio.wait_for(self._resync.wait(), MAINTENANCE_S)
            except TimeoutError:
                pass
            try:
                await self._maintain_once()
            except asyncio.CancelledError:
                raise
            except OwnershipLost as exc:
                self.hub.history_replaced(str(exc))
            except Exception as exc:  # Redis unreachable: try again next time
                log.debug("board %s: maintenance failed (%s)", self.board_id, exc)

    async def _maintain_once(self) -> None:
        self._resync.clear()
        log_, hub = self.log, self.hub
        if log_.owner:
            if not await log_.renew():
                hub.history_replaced("the lease was lost")
                return
        else:
            await self._catch_up()
            served = log_.epoch
            if not await log_.owner_exists() and await log_.acquire():
                if served and log_.epoch != served:
                    # Redis restarted since this copy was loaded: its clients count seqs in a
                    # history that may no longer be Redis' own. They reconnect and resync.
                    hub.history_replaced(f"epoch {served} -> {log_.epoch}")
                    return
                await self._catch_up_as_owner()
        now = time.monotonic()
        for worker, seen in list(self._worker_seen.items()):
            if now - seen > PEER_TIMEOUT_S:
                log_event(log, logging.INFO, "worker_quiet", board=self.board_id, worker=worker)
                self._drop_worker(worker)
        for forwarded in self._forwarded.values():
            if now - forwarded.sent_s > REQUEST_RETRY_S:
                forwarded.sent_s = now
                conn = forwarded.conn
                op_id = msgpack.unpackb(forwarded.request)["id"]
                self._inputs.append(["r", conn.peer, conn.author, op_id, forwarded.request])
        if self._inputs or (hub.connections and now >= self._next_heartbeat):
            hub.wake()  # its flush publishes the inputs, or the heartbeat

    async def _catch_up(self) -> None:
        if await self.log.stored_head() > self.hub.durable_seq:
            records = await self.log.read_since(self.hub.durable_seq)
            if records:
                COUNTS.gaps_filled += 1
                self._apply(records, self.hub.durable_seq + len(records), 0)

    async def _catch_up_as_owner(self) -> None:
        """This worker just became the owner: take in what the last owner committed, then commit
        what this worker had forwarded itself."""
        await self._catch_up()
        if self.hub.board.head_seq != await self.log.stored_head():
            raise OwnershipLost("the stream moved while taking over")
        COUNTS.lease_changes += 1
        log_event(log, logging.INFO, "lease_acquired", board=self.board_id, epoch=self.log.epoch)
        forwarded, self._forwarded = self._forwarded, {}
        for item in forwarded.values():
            self.hub.commit_own_forwarded(item.conn, item.request)
        # A board loaded far past its snapshot (imported, or after a Redis restart) is compacted
        # now, not only after its next commit: viewers alone would never make one.
        self.hub.snapshots.durable(self.hub.durable_seq)


def _op_id(record: bytes) -> str | None:
    try:
        op = msgpack.unpackb(record, raw=False)
    except Exception:
        return None
    op_id = op.get("id") if isinstance(op, dict) else None
    return op_id if isinstance(op_id, str) else None


def encode_stroke_request(op_id: str, live: Any) -> dict[str, Any]:
    """The ``stroke`` message that commits a live stroke whole (``End`` needs the live stroke,
    which lives on the worker that received its points, not on the owner)."""
    return {
        "type": "stroke",
        "id": op_id,
        **protocol.stroke_fields(live.style, live.pts, live.pressure),
    }
