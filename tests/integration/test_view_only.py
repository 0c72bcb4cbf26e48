"""View-only links: whoever holds ``/v/<token>`` sees the board live, cannot change anything (the
server refuses every write with ``view_only``), and never learns the board id from anything it
receives or can load (docs/security.md, "View-only links")."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import msgpack
import segno

import whiteboard.elements  # noqa: F401  (registers the element messages with the decoder)
from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.integration.test_http import get
from tests.integration.test_media import media_files, picture, upload
from tests.serving import ServerThread
from whiteboard import protocol
from whiteboard.settings import Settings

BOARD = "Zq8Xk2mB7vN4pL1sT9wR3c"  # what a board made by /new looks like


def view_path(server: ServerThread, board: str) -> tuple[str, str]:
    """An editor's share panel: the view link of ``board`` -> (its path, its token)."""
    status, _, body = get(f"{server.http_url}/b/{board}/share.json")
    assert status == 200
    info = json.loads(body)
    assert info["url"].endswith(f"/b/{board}")
    match = re.fullmatch(r"http://[^/]+(/v/([A-Za-z0-9_-]{22}))", info["view_url"])
    assert match, info
    return match.group(1), match.group(2)


def write_messages() -> list[dict[str, Any]]:
    """One of every message that changes the board or what others see of this client."""
    live = {"tool": "pen", "color": "#000000", "width": 3}
    return [
        pen_stroke("v-stroke"),
        {"type": "begin", "id": "v-live", **live, "pts": [40, 40]},
        {"type": "points", "id": "v-live", "pts": [4, 4]},
        {"type": "end", "id": "v-live"},
        {"type": "abort", "id": "v-live"},
        {"type": "erase", "id": "v-erase", "ids": ["s1"]},
        {"type": "clear", "id": "v-clear"},
        {"type": "undo", "id": "v-undo"},
        {"type": "redo", "id": "v-redo"},
        {
            "type": "text",
            "id": "v-text",
            "x": 0,
            "y": 0,
            "size": 20,
            "color": "#000000",
            "text": "hi",
        },
        {
            "type": "note",
            "id": "v-note",
            "x": 0,
            "y": 0,
            "size": 20,
            "color": "#ffeb3b",
            "text": "hi",
        },
        {
            "type": "image",
            "id": "v-image",
            "src": "a" * 64 + ".png",
            "x": 0,
            "y": 0,
            "w": 10,
            "h": 10,
        },
        {"type": "add", "id": "v-add", "items": [pen_stroke("v-item")]},
        {"type": "transform", "id": "v-move", "ids": ["s1"], "m": [1, 1, 10, 10]},
        {"type": "z", "id": "v-z", "ids": ["s1"], "to": "front"},
        {"type": "edit", "id": "v-edit", "target": "s1", "text": "hi"},
        {
            "type": "draft",
            "id": "v-draft",
            "kind": "text",
            "x": 0,
            "y": 0,
            "size": 20,
            "color": "#000000",
            "text": "",
        },
        {"type": "moving", "id": "v-moving", "ids": ["s1"], "m": [1, 1, 10, 10]},
        {"type": "cursor", "x": 10, "y": 10},
        {"type": "rename", "name": "Mallory", "color": "#ff0000"},
        {"type": "laser", "pts": [40, 40, 44, 44], "new": True},
        {"type": "lead", "mode": "follow", "x": 0, "y": 0, "w": 800, "h": 600},
        {"type": "lead", "mode": "once", "x": 0, "y": 0, "w": 800, "h": 600},
        {"type": "lead", "mode": "stop"},
    ]


async def test_a_view_client_sees_everything_live_and_every_write_is_refused(
    server: ServerThread,
) -> None:
    editor = await BoardClient.connect(server.ws_url, BOARD, "editor-secret", name="Ann")
    await editor.send(pen_stroke("s1"))
    await editor.wait_for_seq(1)
    path, token = view_path(server, BOARD)
    viewer = await BoardClient.connect(server.ws_url, "", "viewer-secret", name="Vic", path=path)
    assert viewer.welcome["view"] is True and viewer.welcome["board"] == token
    assert viewer.welcome["share_url"].endswith(path)
    assert editor.welcome["view"] is False
    await viewer.wait_for(is_op("stroke", "s1"))  # the replay

    # Live: a stroke being drawn, the editor's cursor, presence.
    await editor.send(
        {
            "type": "begin",
            "id": "s2",
            "tool": "pen",
            "color": "#000000",
            "width": 3,
            "pts": [400, 400],
        }
    )
    await editor.send({"type": "cursor", "x": 12, "y": 34})
    await viewer.wait_for(is_op("begin", "s2"))
    await viewer.wait_for(lambda m: m["type"] == "cursors" and m["c"][1:3] == [12, 34])
    await editor.wait_for(lambda m: m["type"] == "join" and m["name"] == "Vic")

    writes = write_messages()
    # Every message type but hello and peers is a write; a new type must join the list.
    assert {m["type"] for m in writes} | {"hello", "peers"} >= protocol.message_types()
    for message in writes:
        await viewer.send(message)
    await viewer.send({"type": "peers", "after": 0})  # reading the participant list is allowed
    await viewer.wait_for(lambda m: m["type"] == "peers")
    refusals = [m for m in viewer.received if m["type"] == "error"]
    async with asyncio.timeout(5):
        while len(refusals) < len(writes):
            await viewer.receive()
            refusals = [m for m in viewer.received if m["type"] == "error"]
    assert [m["code"] for m in refusals] == ["view_only"] * len(writes)
    with_ids = [m for m in writes if "id" in m]
    assert [m.get("id") for m in refusals[: len(with_ids)]] == [m["id"] for m in with_ids]

    # Nothing reached the board or the editor: one more stroke of the editor's is seq 2.
    await editor.send({"type": "end", "id": "s2"})
    await editor.wait_for_seq(2)
    await viewer.wait_for(is_op("stroke", "s2"))
    viewer_peer = viewer.welcome["peer"]
    seen = [m for m in editor.received if m.get("peer") == viewer_peer]
    assert all(m["type"] == "join" for m in seen), seen  # no cursor, stroke, laser, lead, rename
    assert [m["id"] for m in editor.committed()] == ["s1", "s2"]
    await viewer.close()
    await editor.close()


async def test_nothing_a_view_client_receives_or_loads_names_the_board(
    server: ServerThread,
) -> None:
    editor = await BoardClient.connect(server.ws_url, BOARD, "editor-secret")
    await editor.send(pen_stroke("s1"))
    await editor.wait_for_seq(1)
    path, _ = view_path(server, BOARD)
    secret = BOARD.encode()

    # The socket: every frame it receives, raw.
    viewer = await BoardClient.connect(server.ws_url, "", "viewer-secret", path=path)
    raw = [msgpack.packb(viewer.welcome)]
    await editor.send(pen_stroke("s2", [80, 80, 4, 4]))
    await viewer.wait_for(is_op("stroke", "s2"))
    raw += [msgpack.packb(m) for m in viewer.received]
    assert all(secret not in frame for frame in raw)

    # Everything over HTTP: the page and every asset it loads, share info, QR code, exports.
    status, headers, page = get(f"{server.http_url}{path}")
    assert status == 200 and b"<html" in page.lower()
    loaded = {path: (headers, page)}
    for asset in re.findall(rb'(?:src|href)="(/static/[^"]+)"', page):
        loaded[asset.decode()] = get(server.http_url + asset.decode())[1:]
    status, headers, body = get(f"{server.http_url}{path}/share.json")
    info = json.loads(body)
    assert status == 200 and info["url"] is None and info["view_url"].endswith(path)
    loaded["share.json"] = (headers, body)
    status, headers, qr = get(f"{server.http_url}{path}/qr.svg")
    expected = segno.make(info["view_url"], error="m")
    assert qr == _qr_svg(expected), "the QR code is the view link"
    loaded["qr.svg"] = (headers, qr)
    for name, magic in (
        ("export.png", b"\x89PNG"),
        ("export.svg", b"<svg"),
        ("export.pdf", b"%PDF"),
        ("timelapse.gif", b"GIF8"),
    ):
        status, headers, body = get(f"{server.http_url}{path}/{name}")
        assert status == 200 and magic in body[:200], name
        suffix = name.rsplit(".", 1)[1]
        assert headers["Content-Disposition"] == f'inline; filename="whiteboard.{suffix}"'
        loaded[name] = (headers, body)
    for name, (headers, body) in loaded.items():
        assert secret not in body, name
        assert all(BOARD not in value for value in headers.values()), name
    await viewer.close()
    await editor.close()


async def test_a_view_client_sees_images_by_a_url_without_the_board_id_and_cannot_add_any(
    server: ServerThread, boards_dir: Path
) -> None:
    editor = await BoardClient.connect(server.ws_url, BOARD, "editor-secret")
    status, _, uploaded = upload(server, picture(), BOARD)
    assert status == 201, uploaded
    place = {"type": "image", "id": "i1", "src": uploaded["src"], "x": 0, "y": 0, "w": 40, "h": 30}
    await editor.send(place)
    await editor.wait_for_seq(1)
    path, token = view_path(server, BOARD)
    viewer = await BoardClient.connect(server.ws_url, "", "viewer-secret", path=path)
    op = await viewer.wait_for(is_op("image", "i1"))
    media = viewer.welcome["media"]
    assert media == editor.welcome["media"] and BOARD not in media and token not in media
    status, _, served = get(f"{server.http_url}{media}{op['src']}")
    assert status == 200 and served[:4] == b"\x89PNG"

    # Uploading through the view link is refused with view_only, and stores nothing.
    stored = media_files(boards_dir)
    request = urllib.request.Request(
        f"{server.http_url}{path}/media",
        data=picture(size=(20, 20)),
        method="POST",
        headers={"Content-Type": "image/png"},
    )
    status, _, body = get(request)
    assert status == 403 and json.loads(body)["code"] == "view_only"
    assert media_files(boards_dir) == stored
    status, _, _ = get(
        urllib.request.Request(f"{server.http_url}/v/{'A' * 22}/media", data=b"x", method="POST")
    )
    assert status == 404
    await viewer.close()
    await editor.close()


def _qr_svg(qr: segno.QRCode) -> bytes:
    import io

    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", scale=6, border=2)
    return buffer.getvalue()


async def test_view_tokens_are_kept_per_board_and_only_for_boards_someone_opened(
    server: ServerThread, boards_dir: Path
) -> None:
    editor = await BoardClient.connect(server.ws_url, BOARD, "editor-secret")
    await editor.send(pen_stroke("s1"))
    await editor.wait_for_seq(1)
    _, token = view_path(server, BOARD)
    assert view_path(server, BOARD)[1] == token  # the same link every time
    other = await BoardClient.connect(server.ws_url, "another-board", "editor-secret")
    assert view_path(server, "another-board")[1] != token
    await other.close()
    await editor.close()
    # A board nobody opened gets no token (asking must not make files).
    status, _, body = get(f"{server.http_url}/b/never-opened/share.json")
    assert status == 200 and json.loads(body)["view_url"] is None
    assert not (boards_dir / "views" / "by-board" / "never-opened").exists()
    # Unknown and malformed tokens: a styled page, refused socket, refused exports.
    for bad in ("A" * 22, "short", token[:-1] + ("B" if token[-1] != "B" else "C")):
        status, _, body = get(_html(f"{server.http_url}/v/{bad}"))
        assert status == 404 and b"No such view link" in body, bad
        assert get(f"{server.http_url}/v/{bad}/export.png")[0] == 404
        assert get(f"{server.http_url}/v/{bad}/qr.svg")[0] == 404
    # The token survives a restart: it is stored, not derived.
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False)) as again:
        status, _, body = get(f"{again.http_url}/v/{token}")
        assert status == 200
        assert view_path(again, BOARD)[1] == token


def _html(url: str) -> Any:
    import urllib.request

    return urllib.request.Request(url, headers={"Accept": "text/html"})
