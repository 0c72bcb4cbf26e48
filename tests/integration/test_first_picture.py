"""The first picture of a big board (``/b/<id>/view.png``) and the page's inline scripts.

The board page asks, before its modules load, for a PNG of exactly the view its URL names; the
server answers with the export of that view, named by the board's seq in its ETag, or 204 for a
board whose log is under ``first_picture_min_board_bytes``. The page's inline scripts run under
the Content-Security-Policy because it names each by its hash, and no other inline script.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import re
import socket
from pathlib import Path
from typing import Any

from PIL import Image

from tests.integration.client import is_op, pen_stroke
from tests.integration.test_export_http import (
    blue_line,
    draw,
    gated_renders,
    get,
    store_board,
    wait_until,
)
from tests.serving import ServerThread
from whiteboard.export.frame import fit_view
from whiteboard.protocol import delta_code
from whiteboard.settings import Settings

VIEW = "view.png?scale=2&background=transparent&region=-10,-10,20,20"


async def test_a_small_board_gets_no_picture(server: ServerThread) -> None:
    client = await draw(server, "small", blue_line("a"))
    status, headers, body = await get(f"{server.http_url}/b/small/{VIEW}")
    await client.close()
    assert status == 204 and body == b"" and headers["Cache-Control"] == "no-store"


def fonts_loaded() -> bool:
    """In the export worker: are the board fonts unpacked and ready for Skia?"""
    from whiteboard.export import text

    return text.font_collection.cache_info().currsize == 1


async def test_opening_a_board_page_readies_the_export_worker(boards_dir: Path) -> None:
    """A user's first export does not wait for the worker to start and unpack the fonts (1.5 s,
    up to 6 s on a busy machine): the page's first-picture request starts the worker, even when
    it is answered 204, and the worker loads the fonts before any export asks for them."""
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False)) as server:
        renders = server.app.extensions["whiteboard_exporter"].renders
        status, _, _ = await get(f"{server.http_url}/b/new-board/{VIEW}")
        assert status == 204
        await wait_until(lambda: renders._pool is not None and renders._pool._processes, 30)
        assert await asyncio.wrap_future(renders._pool.submit(fonts_loaded))


async def test_a_big_board_gets_the_picture_of_the_view_named_by_its_seq(
    boards_dir: Path,
) -> None:
    settings = Settings(boards_dir=boards_dir, fsync=False, first_picture_min_board_bytes=0)
    with ServerThread(settings) as server:
        client = await draw(server, "big", blue_line("a"), blue_line("b", 40))
        status, headers, body = await get(f"{server.http_url}/b/big/{VIEW}")
        await client.close()
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["ETag"].startswith('"2.png.')  # what the page compares with its welcome's seq
    image = Image.open(io.BytesIO(body))
    assert image.mode == "RGBA" and image.size == (40, 40)  # exactly the view, 2 px per unit
    assert image.getpixel((25, 20)) == (0, 0, 255, 255)
    assert image.getpixel((1, 1))[3] == 0  # the page's own background shows through


async def test_a_page_without_a_view_gets_its_zoom_to_fit_view_and_is_told_which(
    boards_dir: Path,
) -> None:
    """No view in the URL, none remembered: the server picks the view the page opens at for its
    window and names it, and where the picture's corner is: the picture (shared by windows a
    few pixels apart, ``shared_fit``) covers the window, the view a whole pixel into it."""
    settings = Settings(boards_dir=boards_dir, fsync=False, first_picture_min_board_bytes=0)
    with ServerThread(settings) as server:
        client = await draw(server, "big", blue_line("a", -30), blue_line("b", 30))
        fit = "view.png?fit=300,200,2&background=transparent"
        status, headers, body = await get(f"{server.http_url}/b/big/{fit}")
        # ink at 100% in sight: the page stays at the origin, as it would by itself
        inset = pen_stroke("c", list(delta_code([(20, 20), (100, 20)])), color="#0000ff", width=10)
        near = await draw(server, "near", inset)
        _, near_headers, _ = await get(f"{server.http_url}/b/near/view.png?fit=200,100,1")
        both, _, _ = await get(f"{server.http_url}/b/big/{fit}&region=0,0,5,5")
        await client.close()
        await near.close()
    assert status == 200 and seq_of(headers) == 2
    x, y, zoom = (float(v) for v in headers["X-Whiteboard-View"].split(","))
    left, top, picture_zoom = (float(v) for v in headers["X-Whiteboard-Picture"].split(","))
    ink = (-5, -35, 105, 35)  # width / 2 around
    assert zoom == picture_zoom == fit_view(ink, 256, 192, 2)[2]  # the step's smallest window
    into = ((x - left) * zoom * 2, (y - top) * zoom * 2)
    assert all(v >= 0 and abs(v - round(v)) < 1e-6 for v in into)  # whole pixels in
    # the ink centred in the window, to a pixel
    assert abs(x + 150 / zoom - 50) * zoom < 1 and abs(y + 100 / zoom) * zoom < 1
    image = Image.open(io.BytesIO(body))
    assert image.size[0] >= into[0] + 600 and image.size[1] >= into[1] + 400  # it covers
    for board_y in (-30, 30):  # both lines, where the page draws them
        pixel = (round((50 - left) * zoom * 2), round((board_y - top) * zoom * 2))
        assert image.getpixel(pixel) == (0, 0, 255, 255)
    assert near_headers["X-Whiteboard-View"] == "0.0,0.0,1.0"
    assert near_headers["X-Whiteboard-Picture"] == "0.0,0.0,1.0"
    assert both == 400


async def test_windows_a_few_pixels_apart_share_one_picture_each_told_its_view(
    boards_dir: Path,
) -> None:
    """One render for both windows (one ETag, one body); each page is told the view that
    centres the ink in its own window."""
    store_board(boards_dir, "big", strokes=20, points=50)
    settings = Settings(boards_dir=boards_dir, fsync=False, first_picture_min_board_bytes=0)
    with ServerThread(settings) as server:
        exporter = server.app.extensions["whiteboard_exporter"]
        answers = []
        for window in ("1280,800,1", "1300,812,1", "1400,812,1"):
            url = f"{server.http_url}/b/big/view.png?fit={window}&background=transparent"
            answers.append(await get(url))
        rendered = exporter.first_pictures.rendered
    (s1, h1, b1), (s2, h2, b2), (s3, h3, _) = answers
    assert s1 == s2 == s3 == 200 and rendered == 2  # 1400 is another step's
    assert h1["ETag"] == h2["ETag"] != h3["ETag"] and b1 == b2
    assert h1["X-Whiteboard-Picture"] == h2["X-Whiteboard-Picture"]
    view1 = [float(v) for v in h1["X-Whiteboard-View"].split(",")]
    view2 = [float(v) for v in h2["X-Whiteboard-View"].split(",")]
    assert view1[2] == view2[2]
    # the wider, taller window sees 10 and 6 CSS pixels more on each side, to a pixel
    assert abs((view1[0] - view2[0]) * view1[2] - 10) <= 1
    assert abs((view1[1] - view2[1]) * view1[2] - 6) <= 1


async def test_an_invalid_board_id_is_404(server: ServerThread) -> None:
    status, _, body = await get(f"{server.http_url}/b/{'x' * 65}/{VIEW}")
    assert status == 404 and b"board ids are" in body


async def test_the_page_policy_allows_its_inline_scripts_by_hash_and_no_other(
    server: ServerThread,
) -> None:
    status, headers, body = await get(f"{server.http_url}/b/team")
    scripts = re.findall(r"<script>(.*?)</script>", body.decode(), re.S)
    assert status == 200 and len(scripts) == 2  # the first picture; the modules put in
    policy = headers["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src")).split()
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in scripts
    }
    assert set(script_src[1:]) == {"'self'", *hashes}
    assert "'unsafe-inline'" not in policy


async def test_a_picture_whose_page_went_away_is_still_rendered_once_and_kept(
    boards_dir: Path,
) -> None:
    """A page drawn (or closed) before its first picture came leaves it cached for the next."""
    store_board(boards_dir, "big", strokes=20, points=50)
    settings = Settings(boards_dir=boards_dir, fsync=False, first_picture_min_board_bytes=0)
    with ServerThread(settings) as server:
        renders, gate = gated_renders(server)
        exporter = server.app.extensions["whiteboard_exporter"]
        with socket.create_connection(("127.0.0.1", server.port)) as gone:
            gone.sendall(f"GET /b/big/{VIEW} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            await wait_until(lambda: len(renders) == 1)
        await asyncio.sleep(0)
        gate.set()
        await wait_until(lambda: not exporter.renders.count)
        status, _, body = await get(f"{server.http_url}/b/big/{VIEW}")
    assert status == 200 and Image.open(io.BytesIO(body)).size == (40, 40)
    assert renders == ["png"]  # from the cache: the render outlived the request that started it


def picture_settings(boards_dir: Path, **overrides: object) -> Settings:
    """Every board is worth a picture; compaction never pauses for a busy (test) machine."""
    return Settings(
        boards_dir=boards_dir,
        fsync=False,
        first_picture_min_board_bytes=0,
        compact_max_pause_s=0,
        **overrides,  # type: ignore[arg-type]
    )


def seq_of(headers: Any) -> int:
    match = re.match(r'"(\d+)\.png\.', headers["ETag"])
    assert match, headers["ETag"]
    return int(match.group(1))


async def test_a_view_link_gets_the_picture_without_the_board_id(boards_dir: Path) -> None:
    with ServerThread(picture_settings(boards_dir)) as server:
        client = await draw(server, "big", blue_line("a"))
        _, _, body = await get(f"{server.http_url}/b/big/share.json")
        token = json.loads(body)["view_url"].rsplit("/", 1)[1]
        status, headers, body = await get(f"{server.http_url}/v/{token}/{VIEW}")
        unknown, _, _ = await get(f"{server.http_url}/v/{'A' * 22}/{VIEW}")
        await client.close()
    assert status == 200 and seq_of(headers) == 1
    assert "big" not in headers["Content-Disposition"]
    assert Image.open(io.BytesIO(body)).getpixel((25, 20)) == (0, 0, 255, 255)
    assert unknown == 404


async def test_a_new_seq_gets_the_older_picture_at_once_while_one_render_catches_up(
    boards_dir: Path,
) -> None:
    """An audience joining a board being drawn on: each visitor of a new seq gets the newest
    picture there is, and the board renders one picture at a time, not one per visitor."""
    with ServerThread(picture_settings(boards_dir)) as server:
        client = await draw(server, "big", blue_line("a"))
        status, headers, _ = await get(f"{server.http_url}/b/big/{VIEW}")
        assert status == 200 and seq_of(headers) == 1
        renders, gate = gated_renders(server)
        exporter = server.app.extensions["whiteboard_exporter"]
        await wait_until(lambda: not exporter.first_pictures._boards)  # seq 1's render is over
        for k, op_id in enumerate(("b", "c", "d")):
            await client.send(blue_line(op_id, 5 + k))
            await client.wait_for(is_op("stroke", op_id))
            status, headers, _ = await get(f"{server.http_url}/b/big/{VIEW}")
            assert status == 200 and seq_of(headers) == 1  # the stand-in, not held back
        assert renders == ["png"]  # seq 2's render, still held: no render per visitor
        # Another view of the board, never rendered: the page draws the board itself, and
        # the view is rendered after the board's render in progress.
        other = VIEW.replace("region=-10,-10", "region=0,-10")
        status, _, _ = await get(f"{server.http_url}/b/big/{other}")
        assert status == 204
        gate.set()
        await wait_until(lambda: not exporter.renders.count and len(renders) == 2)
        status, headers, _ = await get(f"{server.http_url}/b/big/{other}")
        assert status == 200 and seq_of(headers) == 4
        status, headers, _ = await get(f"{server.http_url}/b/big/{VIEW}")
        assert status == 200 and seq_of(headers) == 2  # its stand-in; a render of seq 4 behind
        await wait_until(lambda: len(renders) == 3 and not exporter.renders.count)
        status, headers, _ = await get(f"{server.http_url}/b/big/{VIEW}")
        await client.close()
    assert status == 200 and seq_of(headers) == 4 and len(renders) == 3


async def test_a_compaction_renders_the_views_pages_opened_ahead_of_the_next_visitor(
    boards_dir: Path,
) -> None:
    with ServerThread(picture_settings(boards_dir, compact_after_ops=4)) as server:
        client = await draw(server, "big", blue_line("a"), blue_line("b", 10))
        status, headers, _ = await get(f"{server.http_url}/b/big/{VIEW}")
        assert status == 200 and seq_of(headers) == 2
        renders, gate = gated_renders(server)
        gate.set()  # counted, not held
        exporter = server.app.extensions["whiteboard_exporter"]
        hub = server.app.extensions["whiteboard_hubs"].loaded("big")
        await client.send(blue_line("c", 5), blue_line("d", -5))  # seq 4: a compaction
        await client.wait_for(is_op("stroke", "d"))
        await wait_until(
            lambda: hub.snapshots.built == 1 and renders and not exporter.renders.count
        )
        status, headers, body = await get(f"{server.http_url}/b/big/{VIEW}")
        await client.close()
    assert status == 200 and seq_of(headers) == 4
    assert renders == ["png"]  # rendered after the compaction; the visit found it ready
    image = Image.open(io.BytesIO(body))
    assert image.getpixel((25, 3)) == (0, 0, 255, 255)  # stroke d is in it (y -10..0)
