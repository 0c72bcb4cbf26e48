"""The Redis store: a board's log is a stream of the file store's own records (``redis_keys``).

One worker at a time commits a board's ops: the one holding the board's *lease*. Every append is a
compare-and-append that Redis refuses unless the caller still holds the lease and knows the stored
head, so a worker that paused past its lease (SIGSTOP, a stalled VM) cannot write after another
took over (fencing): it gets :class:`OwnershipLost` and drops what it holds. The other workers
follow the board through the committed groups the append script publishes (``cluster/``).

Every board's history is named by an *epoch*, minted when the board is created and again whenever
Redis restarted since the epoch was minted (a restarted Redis may have lost the tail of its
append-only file). A client that saw another epoch gets the whole board again instead of a replay
that could be wrong.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..server.counters import COUNTS
from ..settings import Settings
from . import redis_snapshot
from .base import SnapshotTooLarge, StorageFull, check_board_id
from .records import frame_record, framed_size, parse_log
from .redis_keys import (
    ACQUIRE,
    BOARDS_KEY,
    COMMIT,
    RELEASE,
    RENEW,
    SNAPSHOT_BYTES_KEY,
    SNAPSHOT_KEYS,
    TOTAL_BYTES_KEY,
    channel,
    log_key,
    meta_key,
    owner_key,
)
from .redis_media import RedisMedia, media_bytes_key
from .redis_views import RedisViewTokens

log = logging.getLogger(__name__)

READ_PAGE_ENTRIES = 1000
COMMAND_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
COMMAND_RETRIES = 2
"""A command retries twice with backoff before it fails: long enough to ride over a reconnect,
short enough that a Redis that is down is noticed within a few seconds."""


def connect(url: str) -> Redis:
    """A redis-py asyncio client with reconnects and retries (redis-py's own, not ours)."""
    return Redis.from_url(
        url,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), COMMAND_RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        socket_timeout=COMMAND_TIMEOUT_S,
        socket_connect_timeout=CONNECT_TIMEOUT_S,
        health_check_interval=10,
    )


def new_epoch() -> str:
    return secrets.token_urlsafe(9)


class OwnershipLost(Exception):
    """Redis refused an append: another worker owns the board now, its head moved, or its history
    changed (a new epoch). This worker's copy of the board is ahead of Redis: drop it."""


@dataclass(slots=True)
class BoardStats:
    """What the store knows of a board's size, for quotas before Redis is asked."""

    head: int = 0
    bytes: int = 0


class RedisStore:
    """The boards in one Redis database, seen from one worker (``worker_id``)."""

    def __init__(
        self,
        client: Redis,
        settings: Settings,
        worker_id: str,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.client = client
        self.ready = ready  # the worker's probe says whether Redis answers
        self.settings = settings
        self.worker_id = worker_id
        self.max_board_bytes = settings.max_board_bytes
        self.max_total_bytes = settings.max_total_bytes
        self.max_boards = settings.max_boards
        self.total_bytes = 0  # logs and images, as of the last append or refresh (other workers
        self.snapshot_bytes = 0  # add too); and snapshots, which give way to them
        self.board_count = 0
        self._acquire = client.register_script(ACQUIRE)
        self._renew = client.register_script(RENEW)
        self._release = client.register_script(RELEASE)
        self._commit = client.register_script(COMMIT)
        self.media = RedisMedia(
            client,
            max_images_per_board=settings.max_images_per_board,
            grace_s=settings.media_grace_s,
            max_board_bytes=settings.max_board_bytes,
            max_total_bytes=settings.max_total_bytes,
        )

        self.views = RedisViewTokens(client)

    def log(self, board_id: str) -> RedisLog:
        return RedisLog(self, board_id)

    @property
    def quotas(self) -> redis_snapshot.Quotas:
        return redis_snapshot.Quotas(self.max_board_bytes, self.max_total_bytes)

    async def view_token(self, board_id: str) -> str:
        return await self.views.token_for(board_id)

    async def board_for_view(self, token: str) -> str | None:
        return await self.views.board_for(token)

    def writable_problem(self) -> str | None:
        """Why boards cannot be written now (``GET /readyz``): Redis does not answer."""
        return None if self.ready() else "Redis does not answer"

    async def exists(self, board_id: str) -> bool:
        return bool(await self.client.exists(meta_key(check_board_id(board_id))))

    async def refresh_usage(self) -> None:
        """Read the totals the quotas count against (other workers change them too)."""
        total, snapshots, boards = (
            await self.client.pipeline(transaction=False)
            .get(TOTAL_BYTES_KEY)
            .get(SNAPSHOT_BYTES_KEY)
            .zcard(BOARDS_KEY)
            .execute()
        )
        self.total_bytes, self.board_count = int(total or 0), int(boards)
        self.snapshot_bytes = int(snapshots or 0)

    async def read_records(self, board_id: str) -> list[bytes]:
        """Every record of a board, as ``FileLog.read`` returns them (for exports)."""
        return (await read_entries(self.client, board_id, 0))[0]


async def read_entries(client: Redis, board_id: str, since: int) -> tuple[list[bytes], int]:
    """The records after seq ``since`` and the seq of the last one (``since`` when none).

    Entries hold whole groups and are named by their last seq, so the first entry read may
    start at or before ``since``: its leading records are skipped.
    """
    key = log_key(board_id)
    records: list[bytes] = []
    head = since
    start = f"(0-{since}"
    while True:
        page = await client.xrange(key, start, "+", count=READ_PAGE_ENTRIES)
        for entry_id, fields in page:
            last = int(entry_id.split(b"-")[1])
            parsed = parse_log(fields[b"r"])
            if not parsed.clean:
                raise ValueError(f"board {board_id}: stream entry {entry_id!r} does not verify")
            first = last - len(parsed.records) + 1
            records += parsed.records[max(0, head + 1 - first) :]
            head = last
        if len(page) < READ_PAGE_ENTRIES:
            return records, head
        start = "(" + page[-1][0].decode()


class RedisLog:
    """One board's stream, with the lease that lets this worker append to it."""

    def __init__(self, store: RedisStore, board_id: str) -> None:
        self._store = store
        self.board_id = check_board_id(board_id)
        self.stats = BoardStats()
        self.epoch = ""
        self.token: str | None = None  # the lease, while this worker owns the board
        self._reserved = 0
        self._snapshot_epoch: str | None = None  # the epoch of the snapshot last read

    @property
    def owner(self) -> bool:
        return self.token is not None

    # --- reading ----------------------------------------------------------------------------

    async def read(self) -> list[bytes]:
        records, head = await read_entries(self._store.client, self.board_id, 0)
        await self._loaded(head, len(records))
        return records

    async def _loaded(self, head: int, records_to_head: int) -> None:
        """The board was read up to ``head`` (``records_to_head`` records in all): take its
        size and epoch for quotas and commits."""
        epoch, stored_bytes = await self._store.client.hmget(
            meta_key(self.board_id), "epoch", "bytes"
        )
        if head != records_to_head:
            log.warning(
                "board %s: stream ends at seq %d but holds %d records",
                self.board_id,
                head,
                records_to_head,
            )
        self.stats = BoardStats(head, int(stored_bytes or 0))
        self.epoch = (epoch or b"").decode()
        await self._store.refresh_usage()

    async def read_since(self, seq: int) -> list[bytes]:
        """Committed records after ``seq``: what a follower missed."""
        records, _ = await read_entries(self._store.client, self.board_id, seq)
        return records

    async def stored_head(self) -> int:
        head = await self._store.client.hget(meta_key(self.board_id), "head")
        return int(head or 0)

    # --- the lease ----------------------------------------------------------------------------

    async def acquire(self) -> bool:
        """Try to become the board's owner; True when this worker now owns it."""
        store = self._store
        token = f"{store.worker_id}:{secrets.token_hex(4)}"
        result = await store._acquire(
            keys=[owner_key(self.board_id), meta_key(self.board_id)],
            args=[token, store.settings.redis_lease_ms, new_epoch()],
        )
        if result[0] != 1:
            return False
        self.token, self.epoch = token, result[1].decode()
        return True

    async def renew(self) -> bool:
        """Extend the lease; False when it was lost (this worker must stop committing)."""
        if self.token is None:
            return False
        store = self._store
        kept = await store._renew(
            keys=[owner_key(self.board_id)], args=[self.token, store.settings.redis_lease_ms]
        )
        if not kept:
            self.token = None
        return bool(kept)

    async def release(self) -> None:
        if self.token is not None:
            token, self.token = self.token, None
            await self._store._release(keys=[owner_key(self.board_id)], args=[token])

    async def owner_exists(self) -> bool:
        return bool(await self._store.client.exists(owner_key(self.board_id)))

    # --- writing ----------------------------------------------------------------------------

    def reserve(self, op_bytes: int) -> None:
        """Check an op against the quotas as this worker last saw them (Redis checks again).
        Snapshots are not counted here: they give way to ops (``redis_keys.MAKE_ROOM``)."""
        store, added = self._store, framed_size(op_bytes)
        used = self.stats.bytes + self._reserved
        if used + added > store.max_board_bytes:
            raise StorageFull(f"board would exceed {store.max_board_bytes} bytes")
        if store.total_bytes + self._reserved + added > store.max_total_bytes:
            raise StorageFull(f"boards would exceed {store.max_total_bytes} bytes in all")
        if self.stats.head == 0 and not self._reserved and store.board_count >= store.max_boards:
            raise StorageFull(f"the server holds {store.max_boards} boards, its limit")
        self._reserved += added

    async def append(self, records: Sequence[bytes]) -> None:
        if self.token is None:
            raise OwnershipLost(f"board {self.board_id}: this worker does not own it")
        store = self._store
        data = b"".join(frame_record(r) for r in records)
        self._reserved = max(0, self._reserved - len(data))
        result = await store._commit(
            keys=[
                meta_key(self.board_id),
                log_key(self.board_id),
                owner_key(self.board_id),
                BOARDS_KEY,
                TOTAL_BYTES_KEY,
                media_bytes_key(self.board_id),
                *SNAPSHOT_KEYS,
            ],
            args=[
                self.token,
                self.stats.head,
                len(records),
                data,
                store.max_board_bytes,
                store.max_total_bytes,
                store.max_boards,
                self.board_id,
                int(time.time() * 1000),
                channel(self.board_id),
                self.epoch,
            ],
        )
        code = result[0]
        if code == -4:
            raise StorageFull(f"Redis refused the append: {result[1].decode()} quota")
        if code != 0:
            if code == -1:
                COUNTS.fencing_refusals += 1
            if code != -2:  # another owner wrote (-1, -3); after -2 the lease is still ours
                self.token = None  # to release, so a fresh load can mint the new epoch at once
            raise OwnershipLost(f"board {self.board_id}: append refused ({result[1].decode()})")
        self.stats.head = int(result[1])
        self.stats.bytes += len(data)
        store.total_bytes, store.board_count = int(result[2]), int(result[3])
        store.snapshot_bytes = int(result[5])
        if result[4]:
            log.info(
                "board %s: %d snapshot(s) dropped to give their room to the boards' ops",
                self.board_id,
                result[4],
            )

    def applied_remote(self, last_seq: int, data_bytes: int) -> None:
        """A group another worker committed: keep the size and head current for quotas."""
        self.stats.head = last_seq
        self.stats.bytes += data_bytes

    async def set_aside(self, indexes: Sequence[int], reason: str) -> None:
        """Records that verify but do not apply stay in the stream, untouched (entries are never
        deleted: redis #15808); every load skips them again, and ``whiteboard redis export``
        writes them out with the rest for ``whiteboard check``."""
        if indexes:
            log.warning(
                "board %s: %d records in Redis do not apply (%s); skipped, kept in the stream",
                self.board_id,
                len(indexes),
                reason,
            )

    # --- snapshots (redis_snapshot.py) ----------------------------------------------------

    @property
    def compacts(self) -> bool:
        """Only the owner builds snapshots (``redis_snapshot`` says why)."""
        return self.owner

    async def read_snapshot(self) -> bytes | None:
        found = await redis_snapshot.read_snapshot(self._store.client, self.board_id)
        if found is None:
            return None
        data, self._snapshot_epoch = found
        return data

    async def read_after(self, seq: int, op_id: str, position: int) -> list[bytes] | None:
        """The records after the snapshot's last op (``position`` is its seq, as ``seq``); None
        when the stream does not hold that op at ``seq``, or the history changed since the
        snapshot was read."""
        found = await redis_snapshot.records_after(self._store.client, self.board_id, seq, op_id)
        if found is None:
            return None
        records, head = found
        await self._loaded(head, seq + len(records))
        return records if self.epoch == self._snapshot_epoch else None

    async def write_snapshot(self, data: bytes) -> None:
        store = self._store
        try:
            await redis_snapshot.write_snapshot(
                store.client, self.board_id, data, self.epoch, store.quotas
            )
        except (redis_snapshot.SnapshotRefused, SnapshotTooLarge) as exc:  # a shortcut only
            log.info("board %s: %s", self.board_id, exc)

    def snapshot_source(self) -> redis_snapshot.RedisSnapshotSource:
        store = self._store
        return redis_snapshot.RedisSnapshotSource(
            store.settings.redis_url, self.board_id, self.epoch, store.quotas
        )

    def snapshot_room(self) -> int:
        """Bytes the quotas leave for a new snapshot of this board, as this worker last saw
        them (Redis checks again when it is written): what its log, ops not yet written and
        images leave of ``max_board_bytes``, and what every board's logs, images and snapshots
        leave of ``max_total_bytes`` (this board's old one included, as on the file store)."""
        store = self._store
        board_used = self.stats.bytes + self._reserved + store.media.board_bytes(self.board_id)
        store_used = store.total_bytes + self._reserved + store.snapshot_bytes
        return max(0, min(store.max_board_bytes - board_used, store.max_total_bytes - store_used))

    async def close(self) -> None:
        await self.release()
