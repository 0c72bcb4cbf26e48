"""Shapes are live (protocol 4): a dragged shape is re-sent as `begin` with its two points, each
replacing the preview others see; a whole `stroke` of the same id commits it and frees its slot."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient, is_op
from tests.serving import ServerThread
from whiteboard.protocol import CloseCode


def rect(op_id: str, pts: list[int], kind: str = "begin") -> dict:
    return {"type": kind, "id": op_id, "tool": "rect", "color": "#1e88e5", "width": 3, "pts": pts}


async def test_a_dragged_shape_is_seen_live_and_its_stroke_replaces_the_preview(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "shapes", "ann-secret")
    bob = await BoardClient.connect(server.ws_url, "shapes", "bob-secret")
    await ann.send(rect("r1", [40, 40, 80, 40]))
    first = await bob.wait_for(lambda m: m.get("type") == "begin" and m["pts"] == [40, 40, 80, 40])
    assert first["peer"] == ann.welcome["peer"] and first["tool"] == "rect"
    await ann.send(rect("r1", [40, 40, 400, 200]))  # dragged further: the same id again
    await bob.wait_for(lambda m: m.get("type") == "begin" and m["pts"] == [40, 40, 400, 200])

    # A shape's preview is replaced, never extended.
    await ann.send({"type": "points", "id": "r1", "pts": [4, 4]})
    error = await ann.wait_for(lambda m: m.get("type") == "error")
    assert error["code"] == "invalid_message" and error["id"] == "r1"

    await ann.send(rect("r1", [40, 40, 400, 240], kind="stroke"))
    for client in (ann, bob):
        stroke = await client.wait_for(is_op("stroke", "r1"))
        assert stroke["seq"] == 1 and stroke["pts"] == [40, 40, 400, 240]
    assert not any(m.get("type") == "abort" for m in bob.received)

    # The committed shape freed its live slot: ten more shapes may be dragged at once.
    await ann.send(*[rect(f"n{i}", [0, 0, 8, 8]) for i in range(10)])
    for i in range(10):
        await bob.wait_for(is_op("begin", f"n{i}"))
    assert not any(
        m.get("type") == "error" and m.get("code") != "invalid_message" for m in ann.received
    )
    await ann.close()
    # Left mid-drag: the others drop those previews.
    for i in range(10):
        await bob.wait_for(is_op("abort", f"n{i}"))
    await bob.close()


async def test_a_shape_begin_needs_exactly_two_points(server: ServerThread) -> None:
    ann = await BoardClient.connect(server.ws_url, "shapes-bad", "ann-secret")
    await ann.send(rect("bad", [40, 40, 4, 4, 4, 4]))
    error = await ann.wait_for(lambda m: m.get("type") == "error")
    assert error["id"] == "bad" and "two points" in error["reason"]
    await ann.close()


@pytest.mark.parametrize("version", [3, 4, 5, 6])
async def test_pages_from_before_elements_are_told_to_reload(
    server: ServerThread, version: int
) -> None:
    """Version 4 pages followed live shapes; since version 5 (text, notes, images, moves) they
    would draw moved elements in the wrong place, and since version 7 a late joiner's replay may
    be a snapshot (which version 5 and 6 pages cannot read), so they are asked to reload."""
    hello = {"type": "hello", "v": version, "client": "old", "name": "Old", "color": "#000000"}
    async with websockets.connect(f"{server.ws_url}/b/shapes-v3/ws") as old:
        await old.send(msgpack.packb(hello))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            await asyncio.wait_for(old.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.UNSUPPORTED_VERSION
