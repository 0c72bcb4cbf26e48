"""Compaction is crash-safe: a server killed (SIGKILL) at random moments while it builds and writes
snapshots loads again with every acknowledged op, from its snapshot or its log; a killed
compaction process costs a snapshot, nothing else."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.integration.client import BoardClient, pen_stroke
from tests.mirror import Mirror
from tests.serving import ServerProcess, ServerThread
from whiteboard.settings import Settings
from whiteboard.snapshot import Snapshot

ROUNDS = 3
POINTS = 150  # per stroke: a board of some 100,000 points takes compaction a while
SNAPSHOT_TIMEOUT_S = 30.0


async def replayed(ws_url: str, board: str) -> Mirror:
    viewer = await BoardClient.connect(ws_url, board, "viewer")
    head = viewer.welcome["seq"]
    await viewer.wait_for(lambda m: m.get("seq") == head and ("by" in m or m["type"] == "snapshot"))
    mirror = Mirror()
    for message in viewer.received:
        mirror.receive(message)
    await viewer.close()
    assert mirror.seq == head
    return mirror


@pytest.mark.timeout(120)
async def test_sigkill_at_random_moments_of_compaction_loses_no_acknowledged_op(
    tmp_path: Path,
) -> None:
    boards = tmp_path / "boards"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    acknowledged: list[str] = []
    snapshot = boards / "crash.snap"
    for round_number in range(ROUNDS):
        with ServerProcess(boards, "--compact-after-ops", "40") as server:
            author = await BoardClient.connect(server.ws_url, "crash", "author")
            # Keep drawing, so that compactions (every 40 ops) run back to back, and kill the
            # server at a random moment of it (in the first round, once a snapshot exists, so
            # that the next rounds load from one).
            kill_at = time.monotonic() + rng.uniform(0.2, 1.5)
            deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
            sent = 0
            while time.monotonic() < kill_at or not (round_number or snapshot.exists()):
                assert time.monotonic() < deadline, "no snapshot was written"
                ids = [f"r{round_number}s{sent + i}" for i in range(8)]
                await author.send(*(pen_stroke(i, pts=[sent, 0] + [3, -2] * POINTS) for i in ids))
                sent += len(ids)
                await author.wait_for(lambda m, last=ids[-1]: m.get("id") == last)
            acknowledged += [
                m["id"]
                for m in author.received
                if m["type"] == "stroke" and "by" in m and m["id"].startswith(f"r{round_number}s")
            ]
            server.kill()
    assert Snapshot.decode(snapshot.read_bytes()).seq > 0
    with ServerProcess(boards) as server:
        mirror = await replayed(server.ws_url, "crash")
    stored = mirror.visible_ids()
    assert len(stored) == len(set(stored)), f"seed {seed}"
    assert set(acknowledged) <= set(stored), f"seed {seed}: lost {set(acknowledged) - set(stored)}"


@pytest.mark.timeout(60)
async def test_a_killed_compaction_process_costs_only_that_snapshot(tmp_path: Path) -> None:
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False, compact_after_ops=20)
    with ServerThread(settings) as server:
        hubs = server.app.extensions["whiteboard_hubs"]
        author = await BoardClient.connect(server.ws_url, "b", "author")
        await author.send(*(pen_stroke(f"a{i}") for i in range(25)))
        await author.wait_for(lambda m: m.get("id") == "a24")
        deadline = time.monotonic() + 30
        while not server.call(lambda: hubs.compactor.pids):
            assert time.monotonic() < deadline, "the compaction process never started"
            await asyncio.sleep(0.02)
        for pid in server.call(lambda: hubs.compactor.pids):
            os.kill(pid, signal.SIGKILL)
        # The board goes on; the next compaction starts a new process and succeeds.
        await author.send(*(pen_stroke(f"b{i}") for i in range(25)))
        await author.wait_for(lambda m: m.get("id") == "b24")
        while server.call(lambda: hubs.loaded("b").snapshots.seq) < 26:
            assert time.monotonic() < deadline, "no snapshot after the process was killed"
            await author.send(pen_stroke(f"c{time.monotonic_ns()}"))
            await asyncio.sleep(0.05)
        mirror = await replayed(server.ws_url, "b")
        assert [f"a{i}" for i in range(25)] + [f"b{i}" for i in range(25)] == mirror.visible_ids()[
            :50
        ]
        await author.close()
