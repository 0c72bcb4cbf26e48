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

from .helpers import double_click, wait_for
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


SUMMARY = "() => window.__whiteboard.summary()"
PASTE_JS = """async () => {
  const canvas = new OffscreenCanvas(160, 100);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#c82828';
  ctx.fillRect(0, 0, 160, 100);
  const blob = await canvas.convertToBlob({type: 'image/png'});
  const data = new DataTransfer();
  data.items.add(new File([blob], 'pasted.png', {type: 'image/png'}));
  document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
}"""


def elements(page: Page, kind: str) -> list[dict]:
    return [e for e in page.evaluate(SUMMARY)["elements"] if e["kind"] == kind]


@pytest.mark.timeout(90)
def test_typing_moving_pasting_and_undo_are_seen_by_the_other_page(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/elements-tools#0,0,1"
    ann, bob = open_board(url), open_board(url)

    # Text: Bob sees it while Ann types, then committed when she clicks away.
    ann.keyboard.press("t")
    ann.mouse.click(100, 150)
    ann.keyboard.type("Hello \u05e9\u05dc\u05d5\u05dd")
    wait_for(
        bob,
        "(s, text) => s.drafts.length === 1 && s.drafts[0].text === text",
        "Hello \u05e9\u05dc\u05d5\u05dd",
    )
    assert elements(bob, "text") == []
    assert share(bob, (95, 130, 240, 175), (0x1E, 0x1E, 0x1E)) > 0.02  # drawn while typed
    ann.keyboard.press("Enter")
    ann.keyboard.type("two")
    ann.mouse.click(600, 500)  # click away: committed
    wait_for(bob, "(s) => s.drafts.length === 0 && s.elements.some((e) => e.kind === 'text')")
    assert elements(bob, "text")[0]["text"] == "Hello \u05e9\u05dc\u05d5\u05dd\ntwo"

    # A sticky note, committed with Escape.
    ann.keyboard.press("n")
    ann.mouse.click(520, 120)
    ann.keyboard.type("Note")
    ann.keyboard.press("Escape")
    wait_for(bob, "(s) => s.elements.some((e) => e.kind === 'note' && e.text === 'Note')")

    # Select and drag the text: Bob sees it move while dragged; one transform; undo puts it back.
    ann.keyboard.press("v")
    ann.mouse.move(130, 150)
    ann.mouse.down()
    ann.mouse.move(200, 300, steps=5)
    wait_for(bob, "(s) => s.moves === 1")
    ann.mouse.up()
    wait_for(bob, "(s) => s.moves === 0 && s.elements.some((e) => e.kind === 'text' && e.m[3] > 0)")
    moved = elements(bob, "text")[0]["m"]
    assert moved[:2] == [1, 1] and moved[2] == pytest.approx(70) and moved[3] == pytest.approx(150)
    ann.keyboard.press("Control+z")
    wait_for(bob, "(s) => s.elements.every((e) => e.m[2] === 0 && e.m[3] === 0)")

    # Paste an image: uploaded, placed, selected; duplicate it and resize the copy by its handle.
    ann.evaluate(PASTE_JS)
    wait_for(bob, "(s) => s.elements.some((e) => e.kind === 'image')")
    wait_for(ann, "(s) => s.selected.length === 1")
    ann.keyboard.press("Control+d")
    wait_for(bob, "(s) => s.elements.filter((e) => e.kind === 'image').length === 2")
    wait_for(ann, "(s) => s.selected.length === 1 && s.pending === 0")
    corner = ann.evaluate(
        "() => { const r = document.getElementById('selection').getBoundingClientRect();"
        " return [r.right, r.bottom]; }"
    )
    ann.mouse.move(*corner)
    ann.mouse.down()
    ann.mouse.move(corner[0] + 80, corner[1] + 50, steps=5)
    ann.mouse.up()
    wait_for(bob, "(s) => s.elements.some((e) => e.kind === 'image' && e.m[0] > 1.2)")
    copy = max(elements(bob, "image"), key=lambda e: e["m"][0])
    assert copy["m"][0] == pytest.approx(copy["m"][1])  # aspect kept
    wait_share(
        bob,
        (copy["bbox"][0] + 5, copy["bbox"][1] + 5, copy["bbox"][2] - 5, copy["bbox"][3] - 5),
        RED,
        0.9,
    )

    # Double-click the text to edit it; Delete removes the selection.
    ann.keyboard.press("Escape")
    double_click(ann, 110, 150)
    wait_for(ann, "(s) => s.editing")
    ann.keyboard.press("Control+End")
    ann.keyboard.type("!")
    ann.keyboard.press("Escape")
    wait_for(bob, "(s) => s.elements.some((e) => e.kind === 'text' && e.text.endsWith('two!'))")
    ann.mouse.click(540, 140)  # the note
    wait_for(ann, "(s) => s.selected.length === 1")
    ann.keyboard.press("Delete")
    wait_for(bob, "(s) => !s.elements.some((e) => e.kind === 'note')")
