"""Late joiners get a snapshot and the recent ops, not the history; a server restarted on a
snapshot goes on as before: old op ids are acknowledged, undo reaches past the snapshot."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.client import BoardClient
from tests.mirror import Mirror, join
from tests.serving import ServerThread
from whiteboard.settings import Settings

COMPACT_AFTER_OPS = 20
UNDO_WINDOW = 2
SNAPSHOT_TIMEOUT_S = 30.0  # the first compaction starts its process


def settings(boards_dir: Path, compact_after_ops: int = COMPACT_AFTER_OPS) -> Settings:
    return Settings(
        boards_dir=boards_dir,
        fsync=False,
        compact_after_ops=compact_after_ops,
        snapshot_undo_actions=UNDO_WINDOW,
    )


def stroke(op_id: str, x: int = 0) -> dict[str, Any]:
    return {"type": "stroke", "id": op_id, "tool": "pen", "color": "#000000", "width": 2.0,
            "pts": [x, 0, 4, 4]}  # fmt: skip


def snapshot_seq(server: ServerThread, board: str) -> int:
    def read() -> int:
        hub = server.app.extensions["whiteboard_hubs"].loaded(board)
        return 0 if hub is None else hub.snapshots.seq

    return server.call(read)


async def wait_for_snapshot(server: ServerThread, board: str, seq: int) -> None:
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
    while snapshot_seq(server, board) < seq:
        assert time.monotonic() < deadline, f"no snapshot at seq {seq} in {SNAPSHOT_TIMEOUT_S} s"
        await asyncio.sleep(0.02)


async def draw(client: BoardClient, *messages: dict[str, Any]) -> None:
    await client.send(*messages)
    last = messages[-1]["id"]
    await client.wait_for(lambda m: m.get("id") == last and "seq" in m)


@pytest.mark.timeout(60)
async def test_late_joiner_after_clears_gets_the_snapshot_not_the_history(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir, compact_after_ops=1)) as server:
        author = await BoardClient.connect(server.ws_url, "b", "author")
        for round_number in range(3):
            await draw(author, *(stroke(f"r{round_number}s{i}", i) for i in range(15)))
            await draw(author, {"type": "clear", "id": f"clear{round_number}"})
        await draw(author, *(stroke(f"last{i}", i) for i in range(5)))
        head = author.last_seq
        await wait_for_snapshot(server, "b", head)  # every op since came within the last one
        mirror = await join(server.ws_url, "b", "joiner")
        assert mirror.welcome["snapshot"] == snapshot_seq(server, "b")  # type: ignore[attr-defined]
        assert mirror.seq == head
        assert mirror.visible_ids() == [f"last{i}" for i in range(5)]
        assert len(mirror.order) < 15  # not the cleared boards
        assert mirror.snapshots >= 1
        # A client that saw most of it gets only what it missed, no snapshot.
        resumed = await join(server.ws_url, "b", "resumer", since=head - 2)
        assert resumed.snapshots == 0 and resumed.ops == 2
        await author.close()


@pytest.mark.timeout(60)
async def test_a_restarted_server_loads_the_snapshot_and_acknowledges_old_op_ids(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir)) as server:
        author = await BoardClient.connect(server.ws_url, "b", "author")
        await draw(author, *(stroke(f"s{i}", i) for i in range(30)))
        await wait_for_snapshot(server, "b", COMPACT_AFTER_OPS)
        await author.close()
    log_before = (boards_dir / "b.log").read_bytes()
    with ServerThread(settings(boards_dir)) as server:
        author = await BoardClient.connect(server.ws_url, "b", "author")
        floor = server.call(lambda: server.app.extensions["whiteboard_hubs"].loaded("b").snapshots)
        assert floor.floor >= COMPACT_AFTER_OPS  # loaded from the snapshot
        # The outbox resends an op committed long before the snapshot: acknowledged, not stored.
        await author.send(stroke("s3"))
        ack = await author.wait_for(lambda m: m["type"] == "ack")
        assert ack == {"type": "ack", "id": "s3", "seq": 4}
        # Undo reaches back past the snapshot and the window.
        for index in range(30):
            await draw(author, {"type": "undo", "id": f"u{index}"})
        assert (boards_dir / "b.log").read_bytes().startswith(log_before)  # the log is kept
        mirror = await join(server.ws_url, "b", "joiner")
        assert mirror.visible_ids() == []
        await author.close()


@pytest.mark.timeout(60)
async def test_undo_of_a_clear_the_snapshot_left_out_shows_its_strokes_to_a_late_joiner(
    boards_dir: Path,
) -> None:
    with ServerThread(settings(boards_dir)) as server:
        author = await BoardClient.connect(server.ws_url, "b", "author")
        await draw(author, *(stroke(f"s{i}", i) for i in range(12)))
        await draw(author, {"type": "clear", "id": "clear"})
        await draw(author, *(stroke(f"t{i}", i) for i in range(8)))
        await wait_for_snapshot(server, "b", COMPACT_AFTER_OPS)
        watcher = await BoardClient.connect(server.ws_url, "b", "watcher")
        await watcher.wait_for(lambda m: m.get("seq") == watcher.welcome["seq"] and "by" in m)
        for index in range(9):  # the eight strokes after the clear, then the clear
            await draw(author, {"type": "undo", "id": f"u{index}"})
        undo = await watcher.wait_for(lambda m: m.get("id") == "u8")
        assert [s["id"] for s in undo["restore"]["show"]] == [f"s{i}" for i in range(12)]
        mirror = Mirror()
        for message in watcher.received:
            mirror.receive(message)
        assert mirror.visible_ids() == [f"s{i}" for i in range(12)]
        await author.close()
        await watcher.close()


@pytest.mark.timeout(60)
async def test_a_compaction_waits_for_the_busy_server_in_its_process_then_finishes(
    boards_dir: Path,
) -> None:
    """The server's flag crosses to the compaction process: with a share of 0 the server is
    always busy, so the snapshot due at 20 ops waits, paused; once the server is quiet it is
    built, without another op."""
    busy = dataclasses.replace(
        settings(boards_dir),
        compact_yield_cpu_share=0.0,
        compact_max_pause_s=SNAPSHOT_TIMEOUT_S * 2,
    )
    with ServerThread(busy) as server:
        compactor = server.app.extensions["whiteboard_hubs"].compactor
        # Busy from the start: the server's first load sample (LOAD_SAMPLE_S) could come after a
        # process that starts fast has already built this small snapshot.
        server.call(lambda: setattr(compactor._flags.busy, "value", True))
        author = await BoardClient.connect(server.ws_url, "busy", "author")
        await draw(author, *(stroke(f"s{i}", i) for i in range(25)))
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while not server.call(lambda: compactor.paused):
            assert time.monotonic() < deadline, "the compaction never paused"
            await asyncio.sleep(0.02)
        assert snapshot_seq(server, "busy") == 0

        def quiet() -> None:
            compactor.yield_cpu_share = float("inf")

        server.call(quiet)
        await wait_for_snapshot(server, "busy", 25)
        assert not server.call(lambda: compactor.paused)
        mirror = await join(server.ws_url, "busy", "joiner")
        assert mirror.welcome["snapshot"] == 25  # type: ignore[attr-defined]
        assert mirror.visible_ids() == [f"s{i}" for i in range(25)]
        await author.close()


@pytest.mark.timeout(60)
async def test_snapshots_count_towards_the_quotas_and_give_way_to_the_boards_ops(
    boards_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A snapshot takes about twice its log on disk (issue 12, item 5). It is counted, but the
    log is the board: an op that fits only without the snapshot drops it, and a compaction
    whose snapshot does not fit in what is left writes nothing; the board goes on."""
    caplog.set_level(logging.INFO, logger="whiteboard")
    with ServerThread(settings(boards_dir)) as server:
        store = server.app.extensions["whiteboard_store"]
        author = await BoardClient.connect(server.ws_url, "b", "author")
        await draw(author, *(stroke(f"s{i}", i) for i in range(COMPACT_AFTER_OPS)))
        await wait_for_snapshot(server, "b", COMPACT_AFTER_OPS)
        log_bytes = (boards_dir / "b.log").stat().st_size
        snapshot_bytes = (boards_dir / "b.snap").stat().st_size
        assert server.call(lambda: store.total_bytes) == (
            store.on_disk(log_bytes) + store.on_disk(snapshot_bytes)
        )
        # Room for a few more strokes beside the snapshot, and for the log to double without it.
        cap = log_bytes + snapshot_bytes + 200
        assert cap > 2 * log_bytes + 200
        server.call(lambda: setattr(store, "max_board_bytes", cap))
        await draw(author, *(stroke(f"t{i}", i) for i in range(COMPACT_AFTER_OPS)))
        assert not (boards_dir / "b.snap").exists()
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while "no snapshot at seq 40" not in caplog.text:
            assert time.monotonic() < deadline, "the compaction at seq 40 never ended"
            await asyncio.sleep(0.02)
        assert not (boards_dir / "b.snap").exists()  # it did not fit: nothing written
        assert server.call(lambda: store.total_bytes) == store.on_disk(
            (boards_dir / "b.log").stat().st_size
        )
        mirror = await join(server.ws_url, "b", "joiner")
        assert len(mirror.visible_ids()) == 2 * COMPACT_AFTER_OPS
        await author.close()


def long_stroke(op_id: str, points: int) -> dict[str, Any]:
    """A stroke of ``points`` points, about 5 bytes each as an op."""
    pts = [value for i in range(points) for value in (i * 7 % 1009, i * 13 % 997)]
    return {"type": "stroke", "id": op_id, "tool": "pen", "color": "#000000", "width": 2.0,
            "pts": pts}  # fmt: skip


@pytest.mark.timeout(60)
async def test_a_board_that_goes_quiet_gets_a_snapshot_covering_its_tail(
    boards_dir: Path,
) -> None:
    """Issue 11 item 2: the strokes drawn after the last snapshot would travel to every late
    joiner as ops (more bytes, more decoding) until compact_after_ops more came. Once the board
    has been quiet for compact_idle_s and that tail weighs enough, it is compacted too: a joiner
    who comes a bit later gets one snapshot and no ops."""
    quick = dataclasses.replace(settings(boards_dir), compact_idle_s=0.2)
    with ServerThread(quick) as server:
        author = await BoardClient.connect(server.ws_url, "b", "author")
        await draw(author, *(long_stroke(f"s{i}", 2000) for i in range(COMPACT_AFTER_OPS)))
        await wait_for_snapshot(server, "b", COMPACT_AFTER_OPS)
        await draw(author, *(long_stroke(f"t{i}", 2000) for i in range(10)))
        head = author.last_seq
        assert head == COMPACT_AFTER_OPS + 10 < 2 * COMPACT_AFTER_OPS  # no compaction is due
        await wait_for_snapshot(server, "b", head)
        mirror = await join(server.ws_url, "b", "joiner")
        assert mirror.welcome["snapshot"] == head  # type: ignore[attr-defined]
        assert mirror.ops == 0
        assert mirror.visible_ids() == [f"s{i}" for i in range(20)] + [f"t{i}" for i in range(10)]
        await author.close()
