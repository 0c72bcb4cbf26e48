"""Board snapshots in Redis: ``wb:{b}:snap``, reachable from every worker, no shared disk.

The key is a hash: ``data`` (the encoded :class:`~whiteboard.snapshot.Snapshot`), ``seq`` (the
op it covers up to) and ``epoch`` (the board's history it was built from). A stream's entry ids
are seqs, so a snapshot's ``position`` is its ``seq``: the records after it are an ``XRANGE``
away, and before they are used the record at ``seq`` must still hold the snapshot's last op id.

A snapshot is trusted only in the history it was built from. Both scripts compare its epoch with
the board's, and the board's ``run`` with this Redis' run id: after a restart (which may have
lost the tail of the append-only file) the board's epoch is renewed when a worker next takes its
lease, and the old snapshot is ignored until a new one replaces it (the board loads its whole
log once). A write is refused unless the board is still in the history the snapshot was built
from and its log reaches the snapshot's seq, and it never replaces a later snapshot of that
history, so a slow or stale compaction (a paused worker, a killed Redis) cannot go back in time.

Who builds them: only the board's owner (the lease holder) starts compactions, once every
``compact_after_ops`` ops. It is the one worker that knows the durable head first, the others
would build the very same bytes N times, and one builder means at most one compaction process at
a time per board. The write script publishes ``['s', epoch, seq]`` on the board's channel, and
the followers fetch the new snapshot for their late joiners (``BoardSnapshots.refresh``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgpack
from redis.asyncio import Redis

from ..board import Board
from ..snapshot import Snapshot, StaleSnapshot
from .base import SnapshotTooLarge
from .redis_keys import (
    RUN_ID,
    SNAPSHOT_KEYS,
    TOTAL_BYTES_KEY,
    channel,
    meta_key,
    snapshot_key,
)
from .redis_media import media_bytes_key

READ = (
    RUN_ID
    + """
-- KEYS: snap, meta. The stored snapshot and its epoch when it belongs to the board's history as
-- it is now (same epoch, minted under this Redis run), else nil.
local snap = redis.call('HMGET', KEYS[1], 'data', 'epoch')
if not snap[1] then return false end
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'run')
if snap[2] ~= meta[1] or meta[2] ~= run then return false end
return {snap[1], snap[2]}
"""
)

WRITE = (
    RUN_ID
    + """
-- KEYS: snap, meta, the board's image bytes, total bytes, SNAPSHOT_KEYS. ARGV: snapshot bytes,
-- its seq, the epoch it was built in, the channel, board id, max board bytes, max total bytes.
-- Returns {1} stored; {0} not needed (a snapshot of this history at this seq or later is
-- stored); {-1} the board's history is another one now (new epoch, restarted Redis, board
-- removed); {-2} the log does not reach seq; {-3, room} the quotas leave only room bytes: a
-- snapshot takes what the board's log and images leave of max board bytes, and what every
-- board's logs, images and other snapshots leave of max total bytes.
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'run', 'head', 'bytes')
if meta[1] ~= ARGV[3] or meta[2] ~= run then return {-1} end
local seq = tonumber(ARGV[2])
if tonumber(meta[3] or '0') < seq then return {-2} end
local stored = redis.call('HMGET', KEYS[1], 'seq', 'epoch')
if stored[2] == ARGV[3] and tonumber(stored[1] or '0') >= seq then return {0} end
local size = string.len(ARGV[1])
local old = tonumber(redis.call('ZSCORE', KEYS[5], ARGV[5]) or '0')
local board_room = tonumber(ARGV[6]) - tonumber(meta[4] or '0')
  - tonumber(redis.call('GET', KEYS[3]) or '0')
local store_room = tonumber(ARGV[7]) - tonumber(redis.call('GET', KEYS[4]) or '0')
  - (tonumber(redis.call('GET', KEYS[6]) or '0') - old)
local room = math.min(board_room, store_room)
if size > room then return {-3, math.max(0, room)} end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'seq', seq, 'epoch', ARGV[3])
redis.call('ZADD', KEYS[5], size, ARGV[5])
redis.call('INCRBY', KEYS[6], size - old)
redis.call('PUBLISH', ARGV[4], cmsgpack.pack({'s', ARGV[3], seq}))
return {1}
"""
)


class SnapshotRefused(Exception):
    """Redis would not store a snapshot: the board's history changed while it was built."""


async def read_snapshot(client: Redis, board_id: str) -> tuple[bytes, str] | None:
    """The board's snapshot and its epoch, if it belongs to the board's current history."""
    found = await client.eval(READ, 2, snapshot_key(board_id), meta_key(board_id))
    return None if found is None else (found[0], found[1].decode())


@dataclass(frozen=True, slots=True)
class Quotas:
    """The quotas a snapshot is written within (``max_board_bytes``, ``max_total_bytes``)."""

    max_board_bytes: int
    max_total_bytes: int


async def write_snapshot(
    client: Redis, board_id: str, data: bytes, epoch: str, quotas: Quotas
) -> bool:
    """Store ``data`` as the board's snapshot if it is newer than the stored one and fits in
    the room the quotas leave; False when a snapshot at its seq or later is stored. Raises
    SnapshotRefused or SnapshotTooLarge (see ``WRITE``), leaving the stored one as it was."""
    seq = msgpack.unpackb(data, raw=False)["seq"]
    keys = [snapshot_key(board_id), meta_key(board_id), media_bytes_key(board_id)]
    keys += [TOTAL_BYTES_KEY, *SNAPSHOT_KEYS]
    args = [data, seq, epoch, channel(board_id), board_id]
    args += [quotas.max_board_bytes, quotas.max_total_bytes]
    code, *detail = await client.eval(WRITE, len(keys), *keys, *args)
    if code == -3:
        raise SnapshotTooLarge(len(data), int(detail[0]))
    if code < 0:
        reason = "its history changed" if code == -1 else f"its log does not reach seq {seq}"
        raise SnapshotRefused(f"board {board_id}: snapshot at seq {seq} not stored: {reason}")
    return code == 1


async def records_after(
    client: Redis, board_id: str, seq: int, op_id: str
) -> tuple[list[bytes], int] | None:
    """The records after ``seq`` and the seq of the last one, if the record at ``seq`` holds op
    ``op_id`` (the snapshot's last op); None when the stream does not hold it there."""
    from .redis import read_entries  # redis.py imports this module for its hooks

    if seq == 0:
        return await read_entries(client, board_id, 0)
    records, head = await read_entries(client, board_id, seq - 1)
    if not records:
        return None
    try:
        op = msgpack.unpackb(records[0], raw=False)
    except (ValueError, msgpack.UnpackException):
        return None
    if not isinstance(op, dict) or op.get("seq") != seq or op.get("id") != op_id:
        return None
    return records[1:], head


@dataclass(frozen=True, slots=True)
class RedisSnapshotSource:
    """A board in Redis as a compaction process reads it: its own connection from the URL (a
    client cannot cross processes), read-only but for the snapshot, and only in ``epoch`` (the
    owner's history when it asked). Picklable."""

    url: str
    board_id: str
    epoch: str
    quotas: Quotas

    def read(self) -> tuple[Board | None, list[bytes], list[int]]:
        """The board at the stored snapshot (None: none usable) and the records after it, each
        with its seq as its position."""
        return asyncio.run(self._read())

    async def _read(self) -> tuple[Board | None, list[bytes], list[int]]:
        from .redis import read_entries

        async with Redis.from_url(self.url) as client:
            stored = await read_snapshot(client, self.board_id)
            if stored is not None and stored[1] == self.epoch:
                try:
                    snapshot = Snapshot.decode(stored[0])
                    found = await records_after(
                        client, self.board_id, snapshot.seq, snapshot.last_id
                    )
                    if found is not None:
                        start = snapshot.seq + 1
                        return snapshot.board(), found[0], list(range(start, found[1] + 1))
                except StaleSnapshot:
                    pass
            records, head = await read_entries(client, self.board_id, 0)
            return None, records, list(range(head - len(records) + 1, head + 1))

    def write(self, data: bytes) -> None:
        """Store the snapshot unless a later one is stored; raise SnapshotRefused when the
        board's history is no longer ``epoch``, SnapshotTooLarge when the quotas leave no room
        for it."""
        asyncio.run(self._write(data))

    def wire_file(self) -> None:
        """None: the wire goes back to the server with the result (reading it from Redis would
        copy the whole snapshot through the server's event loop)."""
        return None

    async def _write(self, data: bytes) -> None:
        async with Redis.from_url(self.url) as client:
            await write_snapshot(client, self.board_id, data, self.epoch, self.quotas)
