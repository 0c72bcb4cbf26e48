"""Two or more real clients on one board, through a real Hypercorn server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.serving import ServerThread
from whiteboard.settings import Settings


async def test_two_clients_see_each_others_live_and_committed_strokes(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "room", "ann-secret", name="Ann")
    bob = await BoardClient.connect(server.ws_url, "room", "bob-secret", name="Bob")
    await ann.send(
        {
            "type": "begin",
            "id": "s1",
            "tool": "pen",
            "color": "#ff0000",
            "width": 4,
            "pts": [100, 100, 2, 1],
        }
    )
    begin = await bob.wait_for(is_op("begin", "s1"))
    assert begin["peer"] == ann.welcome["peer"] and begin["pts"] == [100, 100, 2, 1]
    await ann.send({"type": "points", "id": "s1", "pts": [3, 3, 1, -2]})
    points = await bob.wait_for(is_op("points", "s1"))
    assert points["pts"] == [3, 3, 1, -2]
    await ann.send({"type": "end", "id": "s1"})
    for client in (ann, bob):  # the sender sees its own op back: that is its acknowledgement
        stroke = await client.wait_for(is_op("stroke", "s1"))
        assert stroke["seq"] == 1 and stroke["pts"] == [100, 100, 2, 1, 3, 3, 1, -2]
        assert stroke["by"] == ann.welcome["author"]
    await bob.send(pen_stroke("b1"))
    assert (await ann.wait_for(is_op("stroke", "b1")))["seq"] == 2
    await ann.close()
    await bob.close()


async def test_late_joiner_receives_the_whole_board(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "late", "ann")
    await ann.send(*[pen_stroke(f"s{i}") for i in range(30)])
    await ann.wait_for_seq(30)
    carl = await BoardClient.connect(server.ws_url, "late", "carl")
    assert carl.welcome["seq"] == 30 and carl.welcome["since"] == 0
    await carl.wait_for_seq(30)
    assert [m["id"] for m in carl.committed()] == [f"s{i}" for i in range(30)]
    await ann.close()
    await carl.close()


async def test_resuming_client_receives_only_what_it_missed(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "resume", "ann")
    await ann.send(pen_stroke("s1"), pen_stroke("s2"))
    await ann.wait_for_seq(2)
    await ann.close()
    bob = await BoardClient.connect(server.ws_url, "resume", "bob")
    await bob.send(pen_stroke("s3"))
    await bob.wait_for_seq(3)
    back = await BoardClient.connect(server.ws_url, "resume", "ann", since=2)
    await back.wait_for_seq(3)
    assert [m["id"] for m in back.committed()] == ["s3"]
    await bob.close()
    await back.close()


async def test_a_stroke_resent_after_reconnect_is_stored_and_shown_once(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "dedup", "ann")
    await ann.send(pen_stroke("s1"))
    await ann.wait_for_seq(1)
    await ann.close()
    again = await BoardClient.connect(server.ws_url, "dedup", "ann", since=1)
    await again.send(pen_stroke("s1"), pen_stroke("s2"))
    ack = await again.wait_for(lambda m: m["type"] == "ack")
    assert ack == {"type": "ack", "id": "s1", "seq": 1}
    await again.wait_for_seq(2)
    fresh = await BoardClient.connect(server.ws_url, "dedup", "zed")
    await fresh.wait_for_seq(2)
    assert [m["id"] for m in fresh.committed()] == ["s1", "s2"]
    await again.close()
    await fresh.close()


async def test_undo_redo_and_erase_reach_everyone(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "undo", "ann")
    bob = await BoardClient.connect(server.ws_url, "undo", "bob")
    await ann.send(pen_stroke("a1"))
    await bob.send(pen_stroke("b1"))
    await ann.wait_for_seq(2)
    await ann.send({"type": "undo", "id": "u1"})
    assert (await bob.wait_for(is_op("undo", "u1")))["target"] == "a1"
    await ann.send({"type": "redo", "id": "r1"})
    assert (await bob.wait_for(is_op("redo", "r1")))["target"] == "a1"
    await bob.send({"type": "erase", "id": "e1", "ids": ["a1", "nope"]})
    assert (await ann.wait_for(is_op("erase", "e1")))["ids"] == ["a1"]
    await bob.send({"type": "undo", "id": "u2"})  # bob undoes his erase, not ann's stroke
    assert (await ann.wait_for(is_op("undo", "u2")))["target"] == "e1"
    await ann.close()
    await bob.close()


async def test_presence_join_cursor_rename_and_leave(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "presence", "ann", name="Ann", color="#aa0000")
    bob = await BoardClient.connect(server.ws_url, "presence", "bob", name="Bob")
    assert bob.welcome["peers"] == [
        {"peer": ann.welcome["peer"], "name": "Ann", "color": "#aa0000", "author": ann.author}
    ]
    assert (bob.welcome["count"], bob.welcome["people"], bob.welcome["large"]) == (2, 2, False)
    joined = await ann.wait_for(lambda m: m["type"] == "join" and m["name"] == "Bob")
    assert joined["author"] == bob.author
    await bob.send({"type": "cursor", "x": 10.6, "y": -4})
    cursors = await ann.wait_for(lambda m: m["type"] == "cursors")
    assert cursors["c"] == [joined["peer"], 11, -4]  # whole board units
    await bob.send({"type": "cursor", "x": None, "y": None})
    hidden = await ann.wait_for(lambda m: m["type"] == "cursors" and "hide" in m)
    assert hidden["hide"] == [joined["peer"]]
    await bob.send({"type": "rename", "name": "Robert", "color": "#00aa00"})
    await ann.wait_for(lambda m: m["type"] == "join" and m["name"] == "Robert")
    await bob.close()
    await ann.wait_for(lambda m: m["type"] == "leave" and m["peer"] == joined["peer"])
    await ann.close()


async def test_a_live_stroke_left_unfinished_is_aborted_for_others(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "abort", "ann")
    bob = await BoardClient.connect(server.ws_url, "abort", "bob")
    await ann.send(
        {"type": "begin", "id": "s1", "tool": "pen", "color": "#000000", "width": 2, "pts": [0, 0]}
    )
    await bob.wait_for(is_op("begin", "s1"))
    await ann.close()
    await bob.wait_for(is_op("abort", "s1"))
    assert bob.committed() == []
    await bob.close()


async def test_an_aborted_live_stroke_is_dropped_for_everyone(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "abort2", "ann")
    bob = await BoardClient.connect(server.ws_url, "abort2", "bob")
    await ann.send(
        {"type": "begin", "id": "s1", "tool": "pen", "color": "#000000", "width": 2, "pts": [0, 0]}
    )
    await bob.wait_for(is_op("begin", "s1"))
    await ann.send({"type": "abort", "id": "s1"}, {"type": "end", "id": "s1"})
    await bob.wait_for(is_op("abort", "s1"))
    error = await ann.wait_for(lambda m: m["type"] == "error")
    assert error["id"] == "s1" and "never begun" in error["reason"]
    assert bob.committed() == []
    await ann.close()
    await bob.close()


async def test_reading_an_unknown_board_creates_no_file(
    server: ServerThread, boards_dir: Path
) -> None:
    viewer = await BoardClient.connect(server.ws_url, "never-drawn", "v")
    assert viewer.welcome["seq"] == 0
    await viewer.close()
    assert not (boards_dir / "never-drawn.log").exists()


async def test_ops_committed_together_reach_each_client_as_one_frame(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "ticks", "ann")
    bob = await BoardClient.connect(server.ws_url, "ticks", "bob")
    await ann.send(*[pen_stroke(f"s{i}") for i in range(50)])
    async with asyncio.timeout(5):
        while True:
            frame = await bob.receive()
            if any(m.get("seq") for m in frame):
                break
    assert [m["seq"] for m in frame if "seq" in m] == list(range(1, 51))
    await ann.close()
    await bob.close()


async def test_a_client_ahead_of_the_server_is_told_to_reset(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "reset", "ann")
    await ann.send(pen_stroke("s1"))
    await ann.wait_for_seq(1)
    stale = await BoardClient.connect(server.ws_url, "reset", "old", since=99)
    assert (stale.welcome["reset"], stale.welcome["since"], stale.welcome["seq"]) == (True, 0, 1)
    await stale.wait_for_seq(1)
    await ann.close()
    await stale.close()


async def test_an_unwatched_board_is_released_from_memory(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, idle_unload_s=0.05)) as server:
        hubs = server.app.extensions["whiteboard_hubs"]
        ann = await BoardClient.connect(server.ws_url, "idle", "ann")
        await ann.send(pen_stroke("s1"))
        await ann.wait_for_seq(1)
        assert hubs.loaded("idle") is not None
        await ann.close()
        async with asyncio.timeout(5):
            while hubs.loaded("idle") is not None:
                await asyncio.sleep(0.01)  # polling a condition under a deadline, not a fixed wait
        again = await BoardClient.connect(server.ws_url, "idle", "ann")
        await again.wait_for_seq(1)  # loaded back from disk
        await again.close()
