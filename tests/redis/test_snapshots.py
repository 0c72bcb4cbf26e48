"""Snapshots in Redis mode: built by the board's owner, stored in Redis, used by every worker for
its late joiners and its loads; ignored in another history; never lose an acknowledged op."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgpack
import pytest

from tests.integration.client import BoardClient, pen_stroke
from tests.mirror import join
from tests.redis.cluster import Drawer, Workers
from tests.redis_server import RedisServer
from whiteboard.server.snapshots import ELEMENTS_PER_OP_OF_COMPACTION
from whiteboard.settings import Settings
from whiteboard.snapshot import Snapshot
from whiteboard.store.redis import RedisStore, connect
from whiteboard.store.redis_keys import meta_key
from whiteboard.store.redis_snapshot import (
    SnapshotRefused,
    read_snapshot,
    snapshot_key,
    write_snapshot,
)
from whiteboard.store.redis_transfer import remove_board

# No pausing for a busy server (compact_max_pause_s 0): a worker starting up on a loaded test
# machine can pass the busy share and hold its first snapshot back for up to 10 s.
COMPACT = (
    "--compact-after-ops",
    "20",
    "--snapshot-undo-actions",
    "2",
    "--compact-max-pause-s",
    "0",
)
SNAPSHOT_TIMEOUT_S = 30.0  # the first compaction starts its process


async def stored_snapshot(workers: Workers, board: str) -> dict[bytes, bytes]:
    client = workers.client()
    try:
        return await client.hgetall(snapshot_key(board))
    finally:
        await client.aclose()


async def wait_for_snapshot(workers: Workers, board: str, seq: int, epoch: str = "") -> int:
    """Wait until Redis holds a snapshot at ``seq`` or later (of ``epoch``, if given)."""
    async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
        while True:
            stored = await stored_snapshot(workers, board)
            if int(stored.get(b"seq", 0)) >= seq and (
                not epoch or stored[b"epoch"].decode() == epoch
            ):
                return int(stored[b"seq"])
            await asyncio.sleep(0.05)


async def draw(client: BoardClient, *messages: dict[str, Any]) -> int:
    await client.send(*messages)
    last = messages[-1]["id"]
    await client.wait_for(lambda m: m.get("id") == last and "seq" in m)
    return client.last_seq


async def test_a_board_compacted_on_one_worker_is_joined_from_its_snapshot_on_another(
    workers: Workers,
) -> None:
    first, second = workers.start(*COMPACT), workers.start(*COMPACT)
    ann = await BoardClient.connect(first.ws_url, "big", "ann")  # the first worker owns it
    cleared = [pen_stroke(f"old{i}") for i in range(15)] + [{"type": "clear", "id": "clear"}]
    await draw(ann, *cleared, *(pen_stroke(f"new{i}") for i in range(5)))
    snapshot_seq = await wait_for_snapshot(workers, "big", 20)
    head = await draw(ann, pen_stroke("after"))

    # The second worker loads the board from the snapshot and the stream after it.
    bob = await join(second.ws_url, "big", "bob")
    assert bob.welcome["snapshot"] == snapshot_seq  # type: ignore[attr-defined]
    assert bob.snapshots >= 1 and bob.ops == head - snapshot_seq
    stored = await workers.stored_board("big")
    assert bob.visible_ids() == stored.visible_ids()
    assert len(bob.order) < 15  # not the cleared strokes

    # Now a follower, it takes the owner's next snapshot for its late joiners.
    carol = await BoardClient.connect(second.ws_url, "big", "carol")  # keeps it loaded there
    await draw(ann, *(pen_stroke(f"more{i}") for i in range(30)))
    later_seq = await wait_for_snapshot(workers, "big", snapshot_seq + 20)
    head = await draw(ann, pen_stroke("last"))
    await carol.wait_for(lambda m: m.get("id") == "last")
    async with asyncio.timeout(10):  # the follower fetches the snapshot when told of it
        while True:
            dave = await join(second.ws_url, "big", "dave")
            if dave.welcome["snapshot"] == later_seq:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.05)
    assert dave.ops == head - later_seq
    assert dave.visible_ids() == (await workers.stored_board("big")).visible_ids()

    # A client resuming from a recent seq gets only what it missed, from either worker.
    for url in (first.ws_url, second.ws_url):
        resumed = await join(url, "big", "erin", since=head - 2)
        assert resumed.snapshots == 0 and resumed.ops == 2
    await ann.close()
    await carol.close()


async def test_a_restarted_redis_ignores_the_old_snapshot_and_clients_converge(
    workers: Workers, redis_server: RedisServer
) -> None:
    worker = workers.start(*COMPACT)
    ann = Drawer([worker.ws_url], "restart", "ann", 30)
    await ann.run()
    await wait_for_snapshot(workers, "restart", 20)
    old_epoch = ann._epoch

    # Restarted with its data: the snapshot is there but Redis' run changed, so it is not used
    # (the board loads its log, gets a new epoch, and its owner builds a new snapshot).
    redis_server.kill()
    redis_server.start()
    client = workers.client()
    assert await client.exists(snapshot_key("restart"))
    assert await read_snapshot(client, "restart") is None
    later = Drawer([worker.ws_url], "restart", "ann", 40)
    later.raw, later._epoch = dict(ann.raw), old_epoch  # the same page, drawing on
    later.acked, later._sent = set(ann.acked), 30
    await later.run()
    assert later.resets == 1
    epoch = (await client.hget(meta_key("restart"), "epoch")).decode()
    assert epoch != old_epoch
    await wait_for_snapshot(workers, "restart", 30, epoch)
    joiner = await join(worker.ws_url, "restart", "joiner")
    stored = await workers.stored_board("restart")
    assert joiner.visible_ids() == stored.visible_ids() == [f"ann-{i}" for i in range(40)]

    # Restarted without its data: nothing of the old board comes back, snapshot included.
    redis_server.kill()
    redis_server.wipe()
    redis_server.start()
    again = Drawer([worker.ws_url], "restart", "bob", 5)
    again.raw, again._epoch = dict(later.raw), later._epoch
    await again.run()
    assert again.resets == 1 and set(again.raw) == set(range(1, 6))
    joiner = await join(worker.ws_url, "restart", "joiner")
    assert joiner.welcome["snapshot"] is None  # type: ignore[attr-defined]
    assert joiner.visible_ids() == [f"bob-{i}" for i in range(5)]
    assert not await client.exists(snapshot_key("restart"))
    await client.aclose()


@pytest.mark.timeout(120)
async def test_sigkill_of_the_compacting_owner_loses_no_acknowledged_op(workers: Workers) -> None:
    procs = [workers.start(*COMPACT) for _ in range(2)]
    urls = [p.ws_url for p in procs]
    drawer = Drawer(urls, "kill", "ann", 300)
    drawing = asyncio.create_task(drawer.run(interval_s=0.005, deadline_s=90))
    await wait_for_snapshot(workers, "kill", 20)
    owner = await workers.wait_for_owner("kill")
    # Killed at a random moment of the next compactions (one starts every 20 ops).
    await asyncio.sleep(random.uniform(0, 0.5))
    workers.by_pid(owner).kill()
    await drawing
    stored_ops = await workers.stored_ops("kill")
    ids = [op["id"] for op in stored_ops]
    assert len(ids) == len(set(ids)) and drawer.acked <= set(ids)
    survivor = next(p for p in procs if p.proc is not None and p.proc.pid != owner)
    # The new owner compacts; compactions come every 20 ops, or every eighth of the board's
    # elements once that is more, so the last snapshot is at most that far behind the head.
    lag = max(20, len(ids) // ELEMENTS_PER_OP_OF_COMPACTION)
    await wait_for_snapshot(workers, "kill", len(ids) - lag)
    fresh = workers.start(*COMPACT)  # loads it from the snapshot and the stream after it
    for url in (survivor.ws_url, fresh.ws_url):
        mirror = await join(url, "kill", "viewer")
        assert mirror.welcome["snapshot"]  # type: ignore[attr-defined]
        assert mirror.visible_ids() == (await workers.stored_board("kill")).visible_ids()


async def test_snapshot_writes_are_fenced_by_history_and_never_go_back(
    redis_server: RedisServer,
) -> None:
    store = RedisStore(connect(redis_server.url), Settings(redis_url=redis_server.url), "w:1:a")
    board_log = store.log("board")
    await board_log.read()
    assert await board_log.acquire()
    ops = [msgpack.packb({"seq": s, "id": f"op{s}"}) for s in range(1, 4)]
    await board_log.append(ops)

    def snapshot(seq: int) -> bytes:
        return Snapshot(seq=seq, last_id=f"op{seq}", state=[], wire=[], position=seq).encode()

    client, epoch, quotas = store.client, board_log.epoch, store.quotas
    assert await write_snapshot(client, "board", snapshot(2), epoch, quotas)
    assert not await write_snapshot(client, "board", snapshot(1), epoch, quotas)  # kept the newer
    with pytest.raises(SnapshotRefused):
        await write_snapshot(client, "board", snapshot(3), "another-epoch", quotas)
    with pytest.raises(SnapshotRefused):
        await write_snapshot(client, "board", snapshot(4), epoch, quotas)  # past the log's head
    assert Snapshot.decode((await read_snapshot(client, "board"))[0]).seq == 2

    # The records after it, only while the stream holds its last op at its seq.
    loader = store.log("board")
    assert await loader.read_snapshot() is not None
    assert await loader.read_after(2, "op2", 2) == ops[2:]
    assert loader.stats.head == 3 and loader.epoch == epoch
    assert await loader.read_after(2, "another-op", 2) is None
    assert await loader.read_after(9, "op9", 9) is None

    # `whiteboard redis expire` removes it with the board.
    await board_log.release()
    assert await remove_board(client, "board", 3)
    assert not await client.exists(snapshot_key("board"))
    await client.aclose()
