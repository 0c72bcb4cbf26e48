"""Workers die, pause and lose Redis: nothing acknowledged is lost or stored twice, nothing
crashes, and service comes back by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import urllib.error
import urllib.request

import pytest
import websockets

from tests.redis.cluster import LEASE_MS, Drawer, RawClient, Workers
from tests.redis_server import RedisServer
from whiteboard.protocol import CloseCode
from whiteboard.settings import Settings
from whiteboard.store.redis import OwnershipLost, RedisStore, connect


def assert_stored_once(ops: list[dict], drawers: list[Drawer]) -> None:
    ids = [op["id"] for op in ops]
    assert [op["seq"] for op in ops] == list(range(1, len(ops) + 1))  # unique and gap-free
    assert len(ids) == len(set(ids))  # each op id stored once
    for drawer in drawers:
        assert drawer.acked <= set(ids), drawer.name  # nothing acknowledged is lost


def alive(*procs: object) -> bool:
    return all(p.proc is not None and p.proc.poll() is None for p in procs)  # type: ignore[attr-defined]


async def test_commits_go_on_elsewhere_when_the_owner_is_killed(workers: Workers) -> None:
    procs = [workers.start() for _ in range(3)]
    urls = [p.ws_url for p in procs]
    drawers = [Drawer(urls[i:] + urls[:i], "failover", f"d{i}", 60) for i in range(3)]
    running = [asyncio.create_task(d.run()) for d in drawers]
    owner = await workers.wait_for_owner("failover")
    while sum(len(d.acked) for d in drawers) < 40:
        await asyncio.sleep(0.05)
    killed = workers.by_pid(owner)
    killed.kill()
    new_owner = await workers.wait_for_owner("failover", other_than=owner)
    assert new_owner != owner
    await asyncio.gather(*running)
    assert_stored_once(await workers.stored_ops("failover"), drawers)
    assert alive(*(p for p in procs if p is not killed))


async def test_a_paused_owner_cannot_write_after_losing_its_lease(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "fenced", "ann")
    owner = await workers.wait_for_owner("fenced")
    paused = workers.by_pid(owner)
    other = second if paused is first else first
    bob = await RawClient.connect(other.ws_url, "fenced", "bob")
    stale = ann if paused is first else bob  # the client of the paused worker
    os.kill(owner, signal.SIGSTOP)
    try:
        fresh = bob if stale is ann else ann
        await fresh.send(
            {
                "type": "stroke",
                "id": "while-paused",
                "tool": "pen",
                "color": "#000000",
                "width": 3,
                "pts": [0, 0],
            }
        )
        await fresh.wait_for(lambda m: m.get("id") == "while-paused", timeout_s=LEASE_MS / 1000 + 8)
        assert await workers.owner_pid("fenced") != owner
        # Sent to the paused worker: it reads it only after it wakes up, still believing it owns
        # the board.
        await stale.send(
            {
                "type": "stroke",
                "id": "from-the-past",
                "tool": "pen",
                "color": "#000000",
                "width": 3,
                "pts": [0, 0],
            }
        )
    finally:
        os.kill(owner, signal.SIGCONT)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await stale.wait_for(lambda m: False, timeout_s=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CloseCode.SERVICE_RESTART  # it stepped down
    ops = await workers.stored_ops("fenced")
    assert [op["id"] for op in ops].count("from-the-past") == 0  # its write was refused
    assert [op["seq"] for op in ops] == list(range(1, len(ops) + 1))
    assert alive(first, second)
    await (bob if stale is ann else ann).close()


async def test_the_append_of_a_stale_owner_is_refused(redis_server: RedisServer) -> None:
    settings = Settings(redis_url=redis_server.url, redis_lease_ms=200)
    old = RedisStore(connect(redis_server.url), settings, "old:1:a")
    new = RedisStore(connect(redis_server.url), settings, "new:2:b")
    old_log, new_log = old.log("board"), new.log("board")
    await old_log.read()
    assert await old_log.acquire()
    await old_log.append([b"\x81\xa3seq\x01"])
    await asyncio.sleep(0.3)  # the lease runs out while the old owner is not looking
    await new_log.read()
    assert await new_log.acquire()
    with pytest.raises(OwnershipLost):
        await old_log.append([b"\x81\xa3seq\x02"])
    assert not old_log.owner
    await new_log.append([b"\x81\xa3seq\x02"])
    assert await new_log.stored_head() == 2
    for store in (old, new):
        await store.client.aclose()


async def test_acknowledged_ops_survive_a_redis_crash_and_clients_resync(
    workers: Workers, redis_server: RedisServer
) -> None:
    procs = [workers.start(), workers.start()]
    urls = [p.ws_url for p in procs]
    before = Drawer(urls, "crash", "ann", 40)
    await before.run()
    redis_server.kill()  # SIGKILL: what is not in the append-only file is gone
    redis_server.start()
    after = Drawer(urls[::-1], "crash", "ann-later", 10)
    after.raw, after._epoch = dict(before.raw), before._epoch  # the same page, going on
    await after.run()
    ops = await workers.stored_ops("crash")
    assert before.acked <= {op["id"] for op in ops}  # appendfsync always: nothing acked lost
    assert after.resets == 1  # a restarted Redis names a new history: the page resynced
    assert len(ops) == 50
    assert alive(*procs)


async def test_a_redis_that_lost_its_data_makes_clients_start_over(
    workers: Workers, redis_server: RedisServer
) -> None:
    worker = workers.start()
    first = Drawer([worker.ws_url], "amnesia", "ann", 20)
    await first.run()
    redis_server.kill()
    redis_server.wipe()
    redis_server.start()
    again = Drawer([worker.ws_url], "amnesia", "ann2", 5)
    again.raw, again._epoch = dict(first.raw), first._epoch
    await again.run()
    assert again.resets == 1
    assert set(again.raw) == set(range(1, 6))  # the board the server has now, nothing else
    assert alive(worker)


async def test_while_redis_is_down_handshakes_are_refused_and_service_comes_back(
    workers: Workers, redis_server: RedisServer
) -> None:
    worker = workers.start()
    ann = await RawClient.connect(worker.ws_url, "outage", "ann")
    await ann.send(
        {"type": "stroke", "id": "s1", "tool": "pen", "color": "#000000", "width": 3, "pts": [0, 0]}
    )
    await ann.wait_for_seq(1)
    redis_server.kill()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ann.wait_for(lambda m: False, timeout_s=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.TRY_AGAIN_LATER
    with pytest.raises(websockets.ConnectionClosed) as refused:
        await RawClient.connect(worker.ws_url, "outage", "bob")
    assert refused.value.rcvd is not None
    assert refused.value.rcvd.code == CloseCode.TRY_AGAIN_LATER
    assert status(worker.http_url + "/healthz") == 200
    assert status(worker.http_url + "/readyz") == 503
    await asyncio.sleep(10 - 3)  # down for about ten seconds in all
    redis_server.start()
    async with asyncio.timeout(15):
        while status(worker.http_url + "/readyz") != 200:
            await asyncio.sleep(0.2)
    back = await RawClient.connect(
        worker.ws_url, "outage", "ann", since=1, epoch=ann.welcome.get("epoch")
    )
    await back.send(
        {"type": "stroke", "id": "s2", "tool": "pen", "color": "#000000", "width": 3, "pts": [0, 0]}
    )
    await back.wait_for(lambda m: m.get("id") == "s2")
    assert alive(worker)
    await back.close()


async def test_subscriptions_come_back_after_client_kill(workers: Workers) -> None:
    first, second = workers.start(), workers.start()
    ann = await RawClient.connect(first.ws_url, "deaf", "ann")
    bob = await RawClient.connect(second.ws_url, "deaf", "bob")
    redis = workers.client()
    try:
        killed = await redis.client_kill_filter(_type="pubsub")
        assert killed >= 2
        async with asyncio.timeout(2):
            while True:
                channel = "wb:{deaf}:ch"
                subscribers = dict(await redis.pubsub_numsub(channel))[channel.encode()]
                if subscribers >= 2:
                    break
                await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    # Pub/sub is at most once: what was published while the subscriptions were down (here, maybe
    # the workers' introductions of ann and bob) is lost, and must be asked again. Live strokes
    # flow again within seconds; each try is a new stroke, as a person drawing would make.
    style = {"tool": "pen", "color": "#000000", "width": 3}
    seen = None
    async with asyncio.timeout(5):
        for attempt in range(50):
            await ann.send({"type": "begin", "id": f"after{attempt}", "pts": [0, 0], **style})
            try:
                seen = await bob.wait_for(lambda m: m.get("type") == "begin", timeout_s=0.5)
                break
            except TimeoutError:
                await ann.send({"type": "abort", "id": f"after{attempt}"})
    assert seen is not None and seen["id"].startswith("after")
    await ann.close()
    await bob.close()


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
