"""Presenting (protocol 8): a presenter's view (`lead`) and laser pointer (`laser`) reach the room,
bounded like cursors, and never reach the log or an export."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgpack
import websockets

from tests.integration.client import BoardClient, pen_stroke
from tests.integration.test_http import get
from tests.serving import ServerThread
from whiteboard.protocol import PROTOCOL_VERSION
from whiteboard.settings import Settings


def lead(mode: str, x: float = 0, y: float = 0, w: float = 800, h: float = 600) -> dict:
    return {"type": "lead", "mode": mode, "x": x, "y": y, "w": w, "h": h}


async def test_the_room_follows_the_presenter_and_a_late_joiner_too(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "talk", "ann-secret", name="Ann")
    bob = await BoardClient.connect(server.ws_url, "talk", "bob-secret", name="Bob")
    await ann.send(lead("follow", 100, 50, 1600, 900))
    event = await bob.wait_for(lambda m: m["type"] == "lead")
    assert event == {
        "type": "lead",
        "mode": "follow",
        "peer": ann.welcome["peer"],
        "name": "Ann",
        "color": "#336699",
        "x": 100,
        "y": 50,
        "w": 1600,
        "h": 900,
    }
    # A pan of 30 steps in a burst: the room gets the latest view, at most follow_hz a second.
    for step in range(30):
        await ann.send(lead("follow", 100 + step, 50))
    await bob.wait_for(lambda m: m["type"] == "lead" and m["x"] == 129)
    leads = [m for m in bob.received if m["type"] == "lead"]
    assert len(leads) <= 3, leads  # the first, perhaps one mid-burst, the last

    # Someone opening the board now follows at once: the welcome says whom and where.
    cid = await BoardClient.connect(server.ws_url, "talk", "cid-secret")
    assert cid.welcome["lead"]["peer"] == ann.welcome["peer"]
    assert cid.welcome["lead"]["x"] == 129 and cid.welcome["lead"]["w"] == 800

    # "Bring everyone here" is a one-off jump that does not make Bob the presenter.
    await bob.send(lead("once", -500, -500))
    jump = await cid.wait_for(lambda m: m["type"] == "lead" and m["mode"] == "once")
    assert jump["peer"] == bob.welcome["peer"] and jump["x"] == -500
    late = await BoardClient.connect(server.ws_url, "talk", "dan-secret")
    assert late.welcome["lead"]["peer"] == ann.welcome["peer"]
    await late.close()

    # The presenter leaving ends following for everyone.
    await ann.close()
    stop = await cid.wait_for(lambda m: m["type"] == "lead" and m["mode"] == "stop")
    assert stop["peer"] == ann.welcome["peer"]
    again = await BoardClient.connect(server.ws_url, "talk", "eve-secret")
    assert "lead" not in again.welcome
    for client in (bob, cid, again):
        await client.close()


async def test_only_the_presenter_can_stop_and_a_new_presenter_takes_over(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "handover", "ann-secret", name="Ann")
    bob = await BoardClient.connect(server.ws_url, "handover", "bob-secret", name="Bob")
    await ann.send(lead("follow"))
    await bob.wait_for(lambda m: m["type"] == "lead" and m["mode"] == "follow")
    await bob.send({"type": "lead", "mode": "stop"})  # not Bob's to stop: nothing happens
    await bob.send(lead("follow", 9, 9))  # Bob presents now
    taken = await ann.wait_for(lambda m: m["type"] == "lead" and m["peer"] == bob.welcome["peer"])
    assert taken["mode"] == "follow" and taken["name"] == "Bob"
    assert not any(m["type"] == "lead" and m["mode"] == "stop" for m in ann.received)
    await bob.send({"type": "lead", "mode": "stop"})
    await ann.wait_for(lambda m: m["type"] == "lead" and m["mode"] == "stop")
    await ann.close()
    await bob.close()


async def test_laser_points_reach_the_room_bounded_and_are_never_logged(
    boards_dir: Path,
) -> None:
    settings = Settings(boards_dir=boards_dir, fsync=False, laser_points_per_second=100)
    with ServerThread(settings) as server:
        ann = await BoardClient.connect(server.ws_url, "laser", "ann-secret")
        bob = await BoardClient.connect(server.ws_url, "laser", "bob-secret")
        await ann.send(pen_stroke("s1"))
        await ann.wait_for_seq(1)
        await ann.send({"type": "laser", "pts": [400, 400, 404, 404], "new": True})
        first = await bob.wait_for(lambda m: m["type"] == "laser")
        assert first == {
            "type": "laser",
            "peer": ann.welcome["peer"],
            "pts": [400, 400, 404, 404],
            "new": True,
        }
        # 1,000 points at once: a burst of 200 (twice the rate) passes, the rest is dropped.
        started = time.monotonic()
        for index in range(50):
            await ann.send({"type": "laser", "pts": [index, 0] * 20})
        # A cursor after them: it goes out in the same tick as the last laser points, or later.
        await ann.send({"type": "cursor", "x": 7, "y": 7})
        await bob.wait_for(lambda m: m["type"] == "cursors" and m["c"][1:3] == [7, 7])
        elapsed_s = time.monotonic() - started
        relayed = sum(len(m["pts"]) // 2 for m in bob.received if m["type"] == "laser")
        assert relayed <= 2 + 200 + 100 * elapsed_s + 20, (relayed, elapsed_s)
        # Too many points in one message is an error; the stroke count did not move.
        await ann.send({"type": "laser", "pts": [1, 1] * 65})
        error = await ann.wait_for(lambda m: m["type"] == "error")
        assert error["code"] == "invalid_message" and "64" in error["reason"]
        await ann.close()
        await bob.close()
        status, _, svg = get(f"{server.http_url}/b/laser/export.svg")
        assert status == 200 and svg.count(b"<path") == 1  # the stroke alone
    log = (boards_dir / "laser.log").read_bytes()
    assert b"laser" not in log and b"lead" not in log


async def test_a_version_7_page_is_not_sent_what_it_cannot_show(server: ServerThread) -> None:
    """Version 7 pages are still served (MIN_PROTOCOL_VERSION 7), without lead and laser."""
    ann = await BoardClient.connect(server.ws_url, "old-page", "ann-secret")
    ws = await websockets.connect(f"{server.ws_url}/b/old-page/ws")
    hello = {"type": "hello", "v": 7, "client": "old-secret", "name": "Old", "color": "#123456"}
    await ws.send(msgpack.packb(hello))
    old = BoardClient(ws, msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5)))
    assert old.welcome["type"] == "welcome" and old.welcome["v"] == PROTOCOL_VERSION
    await ann.send({"type": "laser", "pts": [400, 400, 404, 404], "new": True})
    await ann.send(lead("follow"))
    await ann.send({"type": "cursor", "x": 7, "y": 7})
    await old.wait_for(lambda m: m["type"] == "cursors" and m["c"][1:3] == [7, 7])
    assert not [m for m in old.received if m["type"] in ("laser", "lead")], old.received
    await old.close()
    await ann.close()
