"""Acknowledged strokes survive kill -9; SIGTERM closes with 1001 and exits promptly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
import websockets

from tests.integration.client import BoardClient, pen_stroke
from tests.serving import ServerProcess
from whiteboard.protocol import CloseCode


async def test_every_acknowledged_stroke_survives_sigkill(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    with ServerProcess(boards) as server:
        ann = await BoardClient.connect(server.ws_url, "durable", "ann")
        for batch in range(20):
            await ann.send(
                *[pen_stroke(f"s{batch}-{i}", pts=[batch, i] + [3, 2] * 40) for i in range(10)]
            )
        await ann.wait_for_seq(200)
        acknowledged = [m["id"] for m in ann.committed()]
        # More strokes in flight while the server dies: they may or may not be kept.
        await ann.send(*[pen_stroke(f"late-{i}") for i in range(10)])
        server.kill()
    with ServerProcess(boards) as server:
        viewer = await BoardClient.connect(server.ws_url, "durable", "viewer")
        await viewer.wait_for_seq(viewer.welcome["seq"])
        stored = [m["id"] for m in viewer.committed()]
        assert stored[:200] == acknowledged
        assert len(stored) == len(set(stored))
        await viewer.close()


async def test_a_torn_write_is_repaired_on_start(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    with ServerProcess(boards) as server:
        ann = await BoardClient.connect(server.ws_url, "torn", "ann")
        await ann.send(pen_stroke("s1"), pen_stroke("s2"))
        await ann.wait_for_seq(2)
        await ann.close()
    log = boards / "torn.log"
    log.write_bytes(log.read_bytes()[:-5])  # as if killed in the middle of writing s2
    with ServerProcess(boards) as server:
        viewer = await BoardClient.connect(server.ws_url, "torn", "viewer")
        await viewer.wait_for_seq(viewer.welcome["seq"])
        assert [m["id"] for m in viewer.committed()] == ["s1"]
        await viewer.send(pen_stroke("s3"))
        await viewer.wait_for_seq(2)
        await viewer.close()
        server.signal(signal.SIGTERM)
        code, output = server.wait()
    assert code == 0
    assert "torn write" in output


async def test_sigterm_closes_connections_with_1001_and_exits(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        ann = await BoardClient.connect(server.ws_url, "bye", "ann")
        await ann.send(pen_stroke("s1"))
        await ann.wait_for_seq(1)
        server.signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as info:
            async with asyncio.timeout(10):
                while True:
                    await ann.receive()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.GOING_AWAY
        code, _ = server.wait(timeout_s=10)
        assert code == 0
