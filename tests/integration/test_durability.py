"""Acknowledged strokes survive kill -9; SIGTERM closes with 1001 and exits promptly."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
import websockets

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.logs import board_log
from tests.serving import ServerProcess
from whiteboard.protocol import CloseCode
from whiteboard.store.records import parse_log


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
    torn = log.read_bytes()[:-5]  # as if killed in the middle of writing s2
    log.write_bytes(torn)
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
    assert "cut short by a crash" in output
    (aside,) = boards.glob("torn.log.torn-*")  # the cut bytes are kept, not destroyed
    assert torn.endswith(aside.read_bytes()) and len(torn) == parse_log(torn).good_bytes + len(
        aside.read_bytes()
    )


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


async def test_damage_costs_one_record_and_records_that_do_not_apply_are_kept(
    tmp_path: Path,
) -> None:
    """One flipped byte in record 500 of 1,000, then another board's log appended by mistake:
    the board keeps the 999 intact records and goes on; nothing is destroyed without a copy."""
    boards = tmp_path / "boards"
    boards.mkdir()
    data = bytearray(board_log(1000))
    offsets = parse_log(bytes(data)).offsets
    data[offsets[499] + 20] ^= 0xFF
    other = board_log(300, author="bob")
    (boards / "hurt.log").write_bytes(bytes(data) + other)
    with ServerProcess(boards) as server:
        viewer = await BoardClient.connect(server.ws_url, "hurt", "viewer")
        await viewer.wait_for_seq(viewer.welcome["seq"])
        replayed = viewer.committed()
        assert [m["id"] for m in replayed if m["by"] != "~"] == [
            f"s{i}" for i in range(1000) if i != 499
        ]
        assert replayed[499]["type"] == "erase" and replayed[499]["ids"] == []  # placeholder
        await viewer.send(pen_stroke("after"))
        await viewer.wait_for(is_op("stroke", "after"))
        await viewer.close()
        server.signal(signal.SIGTERM)
        _, output = server.wait()
    (damaged,) = boards.glob("hurt.log.damaged-at-*")
    assert damaged.read_bytes() == bytes(data[offsets[499] : offsets[500]])
    (rejected,) = boards.glob("hurt.log.rejected-*")
    assert rejected.read_bytes() == other  # a valid log: restore it as a board of its own
    assert "kept the 800 valid records after them" in output  # 500 + 300 appended
    assert "300 records do not apply" in output and "docs/security.md" in output
    assert len(parse_log((boards / "hurt.log").read_bytes()).records) == 1000
