"""Bad input gets an error message or a documented close code, and leaves the board intact."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.serving import ServerThread
from whiteboard.protocol import CloseCode, encode_hello
from whiteboard.settings import Settings


async def closed_with(ws: websockets.ClientConnection) -> int | None:
    """Read until the server closes; return its close code."""
    with pytest.raises(websockets.ConnectionClosed) as info:
        async with asyncio.timeout(5):
            while True:
                await ws.recv()
    return info.value.rcvd.code if info.value.rcvd else None


async def replayed_ids(server: ServerThread, board: str) -> list[str]:
    viewer = await BoardClient.connect(server.ws_url, board, "viewer")
    await viewer.wait_for_seq(viewer.welcome["seq"])
    await viewer.close()
    return [m["id"] for m in viewer.committed()]


async def test_invalid_ops_get_error_messages_and_the_board_is_unchanged(
    server: ServerThread,
) -> None:
    ann = await BoardClient.connect(server.ws_url, "bad", "ann")
    await ann.send(pen_stroke("good"))
    await ann.send(
        pen_stroke("bad1", color="red"),
        pen_stroke("bad2", pts=[0, 0, 1]),
        {"type": "points", "id": "nope", "pts": [1, 1]},
        pen_stroke("good2"),
    )
    errors = [
        await ann.wait_for(lambda m, i=i: m["type"] == "error" and m.get("id") == i)
        for i in ("bad1", "bad2", "nope")
    ]
    assert [e["code"] for e in errors] == ["invalid_message"] * 3
    assert "color" in errors[0]["reason"] and "pairs" in errors[1]["reason"]
    await ann.wait_for(is_op("stroke", "good2"))
    assert await replayed_ids(server, "bad") == ["good", "good2"]
    await ann.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("text, not binary", CloseCode.UNSUPPORTED_DATA),
        (b"\xc1\xc1\xc1", CloseCode.MALFORMED_FRAME),
        (msgpack.packb([1, 2, 3]), CloseCode.MALFORMED_FRAME),
        (msgpack.packb({"type": "batch", "ops": "x"}), CloseCode.MALFORMED_FRAME),
    ],
)
async def test_frames_that_are_not_protocol_close_with_a_documented_code(
    server: ServerThread, frame: bytes | str, code: int
) -> None:
    ann = await BoardClient.connect(server.ws_url, "garbage", "ann")
    await ann.send(pen_stroke("kept"))
    await ann.wait_for_seq(1)
    await ann.ws.send(frame)
    assert await closed_with(ann.ws) == code
    assert await replayed_ids(server, "garbage") == ["kept"]


async def test_a_frame_over_the_size_limit_closes_with_1009(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, max_frame_bytes=4096)) as server:
        ann = await BoardClient.connect(server.ws_url, "big", "ann", max_size=None)
        await ann.send(pen_stroke("huge", pts=[1, 1] * 3000))
        assert await closed_with(ann.ws) == CloseCode.MESSAGE_TOO_BIG


@pytest.mark.parametrize(
    "first",
    [
        msgpack.packb(pen_stroke("s1")),
        msgpack.packb({"type": "hello", "client": "../../x", "name": "A", "color": "#000000"}),
        b"\x00",
    ],
)
async def test_a_connection_that_does_not_start_with_hello_closes_4000(
    server: ServerThread, first: bytes
) -> None:
    async with websockets.connect(f"{server.ws_url}/b/hs/ws") as ws:
        await ws.send(first)
        assert await closed_with(ws) == CloseCode.BAD_HANDSHAKE


async def test_a_client_over_the_rate_limit_is_closed_4002(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, frames_per_second=5)) as server:
        ann = await BoardClient.connect(server.ws_url, "rate", "ann")
        for i in range(11):  # bursts of twice the rate pass: the 11th frame is one too many
            await ann.send({"type": "cursor", "x": i, "y": i})
        assert await closed_with(ann.ws) == CloseCode.RATE_LIMITED


async def test_too_many_bad_messages_close_4005(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, max_errors_per_connection=3)) as server:
        ann = await BoardClient.connect(server.ws_url, "errs", "ann")
        await ann.send(*[pen_stroke(f"s{i}", color="red") for i in range(5)])
        assert await closed_with(ann.ws) == CloseCode.TOO_MANY_ERRORS


async def test_nothing_to_do_counts_for_little_but_endless_no_ops_close_4005(
    boards_dir: Path,
) -> None:
    settings = Settings(boards_dir=boards_dir, max_errors_per_connection=3)  # 10 no-ops each
    with ServerThread(settings) as server:
        ann = await BoardClient.connect(server.ws_url, "races", "ann")
        await ann.send(*[{"type": "undo", "id": f"u{i}"} for i in range(29)])
        await ann.wait_for(lambda m: m["type"] == "error" and m.get("id") == "u28")
        await ann.send(pen_stroke("still-welcome"))
        await ann.wait_for(is_op("stroke", "still-welcome"))
        await ann.send({"type": "undo", "id": "u29"})  # the stroke: something to do
        await ann.send(*[{"type": "undo", "id": f"v{i}"} for i in range(3)])
        assert await closed_with(ann.ws) == CloseCode.TOO_MANY_ERRORS


async def test_a_full_board_refuses_more_connections_with_4001(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, max_connections_per_board=1)) as server:
        ann = await BoardClient.connect(server.ws_url, "full", "ann")
        async with websockets.connect(f"{server.ws_url}/b/full/ws") as ws:
            await ws.send(encode_hello("bob", "B", "#000000"))
            assert await closed_with(ws) == CloseCode.BOARD_FULL
        await ann.close()


async def test_board_and_storage_limits_answer_with_error_codes(boards_dir: Path) -> None:
    with ServerThread(
        Settings(boards_dir=boards_dir, max_strokes_per_board=1, max_board_bytes=10_000)
    ) as server:
        ann = await BoardClient.connect(server.ws_url, "limits", "ann")
        await ann.send(pen_stroke("s1"), pen_stroke("s2"))
        error = await ann.wait_for(lambda m: m["type"] == "error")
        assert (error["code"], error["id"]) == ("board_full", "s2")
        other = await BoardClient.connect(server.ws_url, "other", "ann")
        await other.send(pen_stroke("long", pts=[1, 1] * 6000))
        error = await other.wait_for(lambda m: m["type"] == "error")
        assert error["code"] == "storage_full"
        await ann.close()
        await other.close()


@pytest.mark.parametrize("path", ["/b/bad.id", "/b/..%2Fetc", "/b/" + "x" * 65, "/b/bad.id/qr.svg"])
def test_invalid_board_ids_are_404_with_a_reason(
    server: ServerThread, path: str, boards_dir: Path
) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.http_url + path)
    assert info.value.code == 404
    assert list(boards_dir.iterdir()) == []


async def test_an_invalid_board_id_is_refused_on_the_websocket(server: ServerThread) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(f"{server.ws_url}/b/bad.id/ws")
    assert info.value.response.status_code == 404


async def test_a_foreign_browser_origin_is_refused_but_scripts_are_allowed(
    server: ServerThread,
) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(f"{server.ws_url}/b/o/ws", origin="http://evil.example")
    assert info.value.response.status_code == 403
    own = await BoardClient.connect(
        server.ws_url, "o", "a", origin=f"http://127.0.0.1:{server.port}"
    )
    await own.close()
