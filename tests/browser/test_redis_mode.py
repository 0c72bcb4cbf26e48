"""Redis mode as its users see it: two pages on two workers draw on one board together, and go on
drawing together when one worker is killed and comes back."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.redis.cluster import Workers
from tests.redis.conftest import require_redis_server
from tests.redis_server import RedisServer

from .helpers import draw, horizontal, summary, wait_for, wait_ink, wait_settled


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    require_redis_server()
    redis = RedisServer(tmp_path / "redis").start()
    pool = Workers(tmp_path, redis)
    try:
        yield pool
    finally:
        pool.stop_all()
        redis.stop()


@pytest.mark.timeout(120)
def test_pages_on_two_workers_draw_together_through_a_worker_crash(
    workers: Workers, open_board: Callable[..., Page]
) -> None:
    first, second = workers.start(), workers.start()
    alice = open_board(f"{first.http_url}/b/two-workers#0,0,1")
    bob = open_board(f"{second.http_url}/b/two-workers#0,0,1")
    expect(alice.locator("#people-count")).to_have_text("2")
    expect(bob.locator("#people-count")).to_have_text("2")

    # Alice's stroke reaches Bob on the other worker while she is still drawing it.
    draw(alice, horizontal(100, 300, 150), release=False)
    wait_for(bob, "(s) => s.peerLive.length === 1")
    wait_ink(bob, 200, 150)
    alice.mouse.up()
    draw(bob, horizontal(100, 300, 250))
    for page in (alice, bob):
        wait_settled(page, 2)

    # Alice's worker dies. Bob goes on drawing through his; Alice draws while she is cut off.
    first.signal(signal.SIGKILL)
    first.wait()
    wait_for(alice, "(s) => s.status !== 'open'")
    draw(bob, horizontal(100, 300, 350))
    draw(alice, horizontal(400, 600, 150))
    wait_settled(bob, 3)

    # Her worker comes back on the same port: her page reconnects, resends, and both converge.
    workers.start(port=first.port)
    for page in (alice, bob):
        wait_settled(page, 4)
    wait_ink(bob, 500, 150)
    wait_ink(alice, 200, 350)
    assert summary(alice)["visible"] == summary(bob)["visible"]
    assert summary(alice)["seq"] == summary(bob)["seq"] == 4
