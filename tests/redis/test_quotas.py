"""Redis mode's quotas count board snapshots as the file store counts ``.snap`` files (issue 12
item 5): towards ``max_board_bytes`` and ``max_total_bytes``, giving way to the boards' ops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.redis_server import RedisServer
from tests.test_store import stroke_records
from whiteboard.server.compactor import build_snapshot
from whiteboard.settings import Settings
from whiteboard.snapshot import Snapshot
from whiteboard.store.base import SnapshotTooLarge, StorageFull
from whiteboard.store.records import framed_size
from whiteboard.store.redis import RedisLog, RedisStore, connect
from whiteboard.store.redis_snapshot import read_snapshot, snapshot_key
from whiteboard.store.redis_transfer import remove_board


async def compacted(store: RedisStore, board_id: str, strokes: int) -> tuple[RedisLog, int]:
    """A board of ``strokes`` strokes owned by ``store``'s worker, compacted up to its last op
    as a compaction process does it; the bytes of its snapshot."""
    board_log = store.log(board_id)
    await board_log.read()
    assert await board_log.acquire()
    await board_log.append(stroke_records(strokes))
    await compact(board_log, strokes)
    return board_log, await snapshot_bytes(store, board_id)


async def compact(board_log: RedisLog, upto_seq: int) -> None:
    await asyncio.to_thread(build_snapshot, board_log.snapshot_source(), upto_seq, 10_000, 10, 4096)


async def snapshot_bytes(store: RedisStore, board_id: str) -> int:
    return int(await store.client.hstrlen(snapshot_key(board_id), "data"))


async def stored_seq(store: RedisStore, board_id: str) -> int | None:
    found = await read_snapshot(store.client, board_id)
    return None if found is None else Snapshot.decode(found[0]).seq


@pytest.fixture
async def store(redis_server: RedisServer):  # type: ignore[no-untyped-def]
    store = RedisStore(connect(redis_server.url), Settings(redis_url=redis_server.url), "w:1:a")
    yield store
    await store.client.aclose()


async def test_a_snapshot_is_written_only_into_the_room_the_quotas_leave(store: RedisStore) -> None:
    board_log, first_bytes = await compacted(store, "b", 199)
    log_bytes = board_log.stats.bytes
    assert first_bytes > log_bytes  # a stroke board's snapshot is about twice its log
    await board_log.append(stroke_records(200)[199:])

    # The board's quota: its log, and the snapshot only in what the log leaves.
    store.max_board_bytes = board_log.stats.bytes + first_bytes
    with pytest.raises(SnapshotTooLarge):
        await compact(board_log, 200)  # one stroke more than the stored one: does not fit
    assert await stored_seq(store, "b") == 199  # the old one is left as it was

    # The store's quota: every board's log and snapshot (the one replaced no longer counts).
    store.max_board_bytes = 2**40
    store.max_total_bytes = board_log.stats.bytes + first_bytes
    with pytest.raises(SnapshotTooLarge):
        await compact(board_log, 200)
    assert await stored_seq(store, "b") == 199
    store.max_total_bytes = board_log.stats.bytes + 2 * first_bytes
    await compact(board_log, 200)
    assert await stored_seq(store, "b") == 200
    await store.refresh_usage()
    assert store.total_bytes + store.snapshot_bytes == board_log.stats.bytes + (
        await snapshot_bytes(store, "b")
    )


async def test_an_op_takes_the_room_of_its_boards_snapshot_rather_than_be_refused(
    store: RedisStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The log is the board, the snapshot a shortcut to it: a board does not hold less drawing
    for having been compacted. An op that fits only without the snapshot drops it."""
    board_log, first_bytes = await compacted(store, "b", 200)
    store.max_board_bytes = board_log.stats.bytes + first_bytes
    board_log.reserve(10)
    with caplog.at_level(logging.INFO, logger="whiteboard"):
        await board_log.append([b"x" * 10])
    assert await stored_seq(store, "b") is None and "dropped to give their room" in caplog.text
    await store.refresh_usage()
    assert store.snapshot_bytes == 0
    with pytest.raises(StorageFull, match="board"):
        await board_log.append([b"x" * first_bytes])  # the log alone is still capped


async def test_an_op_takes_the_room_of_snapshots_largest_first_rather_than_be_refused(
    store: RedisStore,
) -> None:
    big_log, big_bytes = await compacted(store, "big", 200)
    small_log, small_bytes = await compacted(store, "small", 50)
    logs_bytes = big_log.stats.bytes + small_log.stats.bytes
    store.max_total_bytes = logs_bytes + big_bytes + small_bytes
    await store.refresh_usage()  # a worker learns of snapshots from its commits and loads
    assert small_log.snapshot_room() == 0  # not even for a new snapshot of its own board

    other = store.log("other")
    await other.read()
    assert await other.acquire()
    await other.append([b"x" * 10])  # a new board's op, where the big snapshot was
    assert await stored_seq(store, "big") is None and await stored_seq(store, "small") == 50
    await store.refresh_usage()
    assert store.total_bytes == logs_bytes + framed_size(10)
    assert store.snapshot_bytes == small_bytes
    with pytest.raises(StorageFull, match="total"):
        await other.append([b"x" * (small_bytes + big_bytes)])  # no snapshot left to drop

    # `whiteboard redis expire` stops counting the snapshot it removes with its board.
    await small_log.release()
    assert await remove_board(store.client, "small", small_log.stats.head)
    await store.refresh_usage()
    assert store.snapshot_bytes == 0 and store.total_bytes == big_log.stats.bytes + framed_size(10)
