"""Text, notes and images export as the page draws them: the board page itself (its layer
worker, its fonts, its image loading) against the PNG export of the same region at the same
scale. The text's ink must land within a pixel or two of the page's, a non-Latin line included,
and the whole picture must differ by little."""

from __future__ import annotations

import base64
import io
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from tests.serving import ServerThread

from .helpers import wait_for
from .seeding import seed_board
from .test_elements import BLUE, RED, picture, upload, wait_share

VIEW_PX = (800, 480)
MAX_MEAN_ABS_DIFF = 0.2
"""Mean |export - page| per RGB channel (0..255) over the whole picture (mostly background, so
small numbers matter). Measured with Chromium 156 and skia-python 144: see the printout and
docs/performance.md; glyph edges differ by a level or two where the two builds round
differently. The same export one unit to the side measures 0.47 (the negative control)."""
MAX_TEXT_BOX_ERROR_PX = 2


def scene(src: str) -> list[dict]:
    """Everything within the 400 x 240 units the page shows at scale 2."""
    hello = (
        "Hello, board!\n\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 \u0391\u03b2\u03b3"
    )
    return [
        {
            "type": "text",
            "id": "t",
            "x": 10,
            "y": 10,
            "size": 20,
            "color": "#1a73e8",
            "text": hello,
        },
        {
            "type": "note",
            "id": "n",
            "x": 220,
            "y": 10,
            "size": 9,
            "color": "#fff475",
            "text": "A note\nwith two lines",
        },
        {"type": "image", "id": "i", "src": src, "x": 220, "y": 120, "w": 150, "h": 100},
        {
            "type": "stroke",
            "id": "s",
            "tool": "pen",
            "color": "#000000",
            "width": 4,
            "pts": [80, 480, 160, 40, 160, -40],
        },
        {"type": "transform", "id": "m", "ids": ["s"], "m": [1.5, 1.5, 0, 0]},
    ]


def page_pixels(page: Page) -> Image.Image:
    data_url = page.evaluate("() => document.getElementById('board').toDataURL('image/png')")
    drawn = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGBA")
    white = Image.new("RGBA", drawn.size, "white")
    return Image.alpha_composite(white, drawn).convert("RGB")


def export_pixels(server: ServerThread, board: str, scale: float, dx: float = 0) -> Image.Image:
    region = f"{dx:g},0,{VIEW_PX[0] / scale:g},{VIEW_PX[1] / scale:g}"
    url = f"{server.http_url}/b/{board}/export.png?scale={scale:g}&region={region}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return Image.open(io.BytesIO(response.read())).convert("RGB")


def ink_box(
    image: Image.Image, rgb: tuple[int, int, int], box: tuple[int, int, int, int]
) -> list[int]:
    """Bounding box (pixels) of the pixels near ``rgb`` inside ``box``."""
    pixels = np.asarray(image.crop(box), dtype=np.int16)
    near = (np.abs(pixels - np.array(rgb)) <= 60).all(axis=2)
    ys, xs = np.nonzero(near)
    return [
        int(xs.min()) + box[0],
        int(ys.min()) + box[1],
        int(xs.max()) + box[0],
        int(ys.max()) + box[1],
    ]


def mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size, (a.size, b.size)
    return float(np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16)).mean())


@pytest.mark.timeout(90)
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_text_notes_and_images_export_as_the_page_draws_them(
    server: ServerThread, open_board: Callable[..., Page], scale: float, tmp_path: Path
) -> None:
    board = f"match-{int(scale)}"
    src = upload(server, board, picture())["src"]
    seed_board(server.ws_url, board, scene(src))
    page = open_board(
        f"{server.http_url}/b/{board}#0,0,{scale:g}",
        viewport=dict(zip(("width", "height"), VIEW_PX, strict=True)),
    )
    exported = export_pixels(server, board, scale)
    exported.save(tmp_path / "export.png")
    for visit in ("first", "return"):  # a return visit takes the fonts from the HTTP cache
        if visit == "return":
            page.reload()
        wait_for(page, "(s) => s.seq === 5 && !s.busy")
        wait_share(page, tuple(v * scale for v in (270, 150, 320, 190)), RED, 0.9)  # image in
        drawn = page_pixels(page)
        drawn.save(tmp_path / f"page-{visit}.png")
        text_area = (0, 0, *VIEW_PX)
        page_box, export_box = ink_box(drawn, BLUE, text_area), ink_box(exported, BLUE, text_area)
        diff = mean_abs_diff(exported, drawn)
        print(
            f"scale {scale}, {visit} visit: text ink box page {page_box} export {export_box}; "
            f"mean abs diff {diff:.3f}"
        )
        assert all(
            abs(a - b) <= MAX_TEXT_BOX_ERROR_PX for a, b in zip(page_box, export_box, strict=True)
        ), f"{visit} visit: see {tmp_path}"
        assert diff <= MAX_MEAN_ABS_DIFF, (
            f"{visit} visit: mean abs diff {diff:.3f} (see {tmp_path})"
        )
    if scale == 1.0:  # negative control: the same export one unit to the side
        off = mean_abs_diff(export_pixels(server, board, scale, dx=1), drawn)
        print(f"control: one unit off {off:.3f}")
        assert off > 2 * MAX_MEAN_ABS_DIFF, off


@pytest.mark.timeout(90)
def test_text_typed_on_the_page_is_drawn_in_the_shipped_font_after_a_reload(
    server: ServerThread, open_board: Callable[..., Page], tmp_path: Path
) -> None:
    """The layer worker draws a reloaded board's text in the board fonts, as the export does,
    even when the board is in view before the fonts are loaded."""
    board = "typed-then-reloaded"
    page = open_board(
        f"{server.http_url}/b/{board}#0,0,1",
        viewport=dict(zip(("width", "height"), VIEW_PX, strict=True)),
    )
    page.keyboard.press("t")
    page.mouse.click(100, 100)
    page.keyboard.type("Hello \u041f\u0440\u0438\u0432\u0435\u0442")
    page.keyboard.press("Escape")
    wait_for(page, "(s) => s.seq === 1 && s.pending === 0")
    exported = export_pixels(server, board, 1.0)
    ink = (30, 30, 31)  # the palette's black, as drawn
    for visit in ("typed", "reloaded"):
        if visit == "reloaded":
            page.reload()
            wait_for(page, "(s) => s.seq === 1 && !s.busy")
            page.wait_for_timeout(1000)  # long enough for fonts from the cache, had they waited
        drawn = page_pixels(page)
        drawn.save(tmp_path / f"page-{visit}.png")
        page_box, export_box = (
            ink_box(drawn, ink, (0, 0, *VIEW_PX)),
            ink_box(exported, ink, (0, 0, *VIEW_PX)),
        )
        print(f"{visit}: text ink box page {page_box} export {export_box}")
        width_page, width_export = page_box[2] - page_box[0], export_box[2] - export_box[0]
        assert abs(width_page - width_export) <= MAX_TEXT_BOX_ERROR_PX, f"{visit}: see {tmp_path}"
