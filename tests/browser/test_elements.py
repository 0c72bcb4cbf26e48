"""Text, sticky notes and images on the page: drawn where the protocol says, in the shipped fonts,
moved, reordered and edited as others commit it, and made with the page's own tools."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page

from tests.serving import ServerThread

from .helpers import wait_for
from .seeding import seed_board

COLOR_COUNT_JS = """([x0, y0, x1, y1, rgb, tolerance]) => {
  const canvas = document.getElementById('board');
  const dpr = canvas.width / canvas.getBoundingClientRect().width;
  const w = Math.round((x1 - x0) * dpr), h = Math.round((y1 - y0) * dpr);
  const data = canvas.getContext('2d').getImageData(
      Math.round(x0 * dpr), Math.round(y0 * dpr), w, h).data;
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    const near = (k) => Math.abs(data[i + k] - rgb[k]) <= tolerance;
    if (data[i + 3] > 200 && near(0) && near(1) && near(2)) {
      count += 1;
    }
  }
  return count / (w * h);
}"""
YELLOW = (0xFF, 0xF4, 0x75)
RED = (200, 40, 40)
BLUE = (0x1A, 0x73, 0xE8)


def share(page: Page, box: tuple[float, float, float, float], rgb: tuple[int, int, int]) -> float:
    """The share of the canvas pixels within ``box`` (CSS px) that are opaque ``rgb`` (+-40)."""
    return page.evaluate(COLOR_COUNT_JS, [*box, list(rgb), 40])


def wait_share(
    page: Page, box: tuple[float, float, float, float], rgb: tuple[int, int, int], above: float
) -> None:
    page.wait_for_function(
        f"(args) => ({COLOR_COUNT_JS})(args) > {above}", arg=[*box, list(rgb), 40]
    )


def wait_no_share(
    page: Page, box: tuple[float, float, float, float], rgb: tuple[int, int, int]
) -> None:
    page.wait_for_function(f"(args) => ({COLOR_COUNT_JS})(args) === 0", arg=[*box, list(rgb), 40])


def picture() -> bytes:
    image = Image.new("RGB", (120, 80), (230, 240, 255))
    ImageDraw.Draw(image).ellipse((10, 10, 110, 70), fill=RED)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload(server: ServerThread, board: str, data: bytes) -> dict:
    request = urllib.request.Request(f"{server.http_url}/b/{board}/media", data=data, method="POST")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


HELLO = "Hello\n\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"


@pytest.mark.timeout(60)
def test_text_notes_and_images_others_commit_are_drawn_moved_and_reordered(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    board = "elements-drawn"
    src = upload(server, board, picture())["src"]
    text = {"type": "text", "id": "t1", "x": 40, "y": 200, "size": 40, "color": "#1a73e8"}
    note = {"type": "note", "id": "n1", "x": 420, "y": 60, "size": 16, "color": "#fff475"}
    image = {"type": "image", "id": "i1", "src": src, "x": 420, "y": 260, "w": 240, "h": 160}
    seed_board(server.ws_url, board, [{**text, "text": HELLO}, {**note, "text": "A note"}, image])
    page = open_board(f"{server.http_url}/b/{board}#0,0,1")
    wait_for(page, "(s) => s.seq === 3 && !s.busy")
    wait_share(page, (430, 180, 570, 210), YELLOW, 0.9)  # the note's paper, below its text
    wait_share(page, (500, 320, 580, 360), RED, 0.9)  # the image, once loaded
    assert share(page, (40, 200, 200, 300), BLUE) > 0.05  # two lines of blue text

    # Someone moves the note down, over the image, then sends it to the back.
    move = {"type": "transform", "id": "m1", "ids": ["n1"], "m": [1, 1, 0, 250]}
    seed_board(server.ws_url, board, [move, {"type": "z", "id": "z1", "ids": ["n1"], "to": "back"}])
    wait_no_share(page, (430, 180, 570, 210), YELLOW)
    wait_share(page, (430, 430, 570, 465), YELLOW, 0.9)  # its lower part, below the image
    wait_share(page, (500, 320, 570, 360), RED, 0.9)  # under the image
    seed_board(server.ws_url, board, [{"type": "z", "id": "z2", "ids": ["n1"], "to": "front"}])
    wait_share(page, (500, 320, 570, 360), YELLOW, 0.9)  # in front: over the image
