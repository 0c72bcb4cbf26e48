"""Presenting to a room, as at a talk: a laptop presenter shares the view-only link, two phones open
it, follow the presenter's view (until one pans on its own and follows again), are brought to a
view once, and see the laser trail fade; nothing they do changes the board, and nothing they load
names it. Screenshots go to the test's tmp dir (``WHITEBOARD_SCREENSHOTS`` to keep them)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.serving import ServerThread

from .helpers import draw, horizontal, summary, wait_for, wait_settled
from .test_elements import PASTE_JS
from .test_touch import PHONE

BOARD = "Zq8Xk2mB7vN4pL1sT9wR3c"
LAPTOP = {"viewport": {"width": 1280, "height": 800}}

VIEW_CENTRE = """(s) => [s.view.x + innerWidth / 2 / s.view.zoom,
                         s.view.y + innerHeight / 2 / s.view.zoom]"""


def centre(page: Page) -> tuple[float, float]:
    """The board point at the middle of the page's screen."""
    x, y = page.evaluate(f"() => ({VIEW_CENTRE})(window.__whiteboard.summary())")
    return x, y


def wait_centre(page: Page, point: tuple[float, float], tolerance: float = 2.0) -> None:
    wait_for(
        page,
        f"(s, [x, y, t]) => {{ const [cx, cy] = ({VIEW_CENTRE})(s); "
        "return Math.abs(cx - x) < t && Math.abs(cy - y) < t; }",
        [point[0], point[1], tolerance],
    )


def menu(page: Page, item: str) -> None:
    page.click("#menu-btn")
    page.click(f"[data-menu='{item}']")


@pytest.mark.timeout(120)
def test_a_laptop_presents_to_two_phones_through_the_view_link(
    server: ServerThread, open_board: Callable[..., Page], tmp_path: Path
) -> None:
    shots = Path(os.environ.get("WHITEBOARD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    laptop = open_board(f"{server.http_url}/b/{BOARD}", **LAPTOP)
    draw(laptop, horizontal(300, 900, 300))
    draw(laptop, [(400, 500), (640, 420), (880, 520)])
    wait_settled(laptop, 2)

    # The share panel: "can edit" and "can view", each with a link and a QR code.
    laptop.click("#share-btn")
    view_url = laptop.locator("#share-view-url")
    expect(view_url).to_have_value(re.compile(r"/v/[A-Za-z0-9_-]{22}$"))
    expect(laptop.locator("#share-url")).to_have_value(re.compile(f"/b/{BOARD}$"))
    for qr in ("#qr", "#share-view-qr"):
        laptop.wait_for_function(f"() => document.querySelector('{qr}').naturalWidth > 0")
    laptop.screenshot(path=shots / "presenter-share.png")
    link = view_url.input_value()
    token = link.rsplit("/", 1)[1]
    laptop.keyboard.press("Escape")

    phones = [open_board(link, **PHONE) for _ in range(2)]
    for phone in phones:
        wait_settled(phone, 2)
        state = summary(phone)
        assert state["viewOnly"] and state["board"] == token
        assert BOARD not in phone.content()
        expect(phone.locator(".view-badge")).to_be_visible()
        expect(phone.locator("#toolbar")).to_be_hidden()
    # A phone's share panel offers the view link alone, with its QR code.
    phones[0].click("#share-btn")
    expect(phones[0].locator("#share-edit")).to_be_hidden()
    expect(phones[0].locator("#share-view-url")).to_have_value(link)
    phones[0].wait_for_function("() => document.querySelector('#share-view-qr').naturalWidth > 0")
    phones[0].screenshot(path=shots / "phone-share.png")
    phones[0].keyboard.press("Escape")

    # Follow me: both phones fit the presenter's view and say whom they follow.
    menu(laptop, "follow-me")
    expect(laptop.locator("#follow-text")).to_have_text(re.compile("You are presenting"))
    for phone in phones:
        expect(phone.locator("#follow-text")).to_have_text(re.compile(r"^Following "))
        wait_centre(phone, centre(laptop))
    phones[0].screenshot(path=shots / "phone-following.png")

    # The presenter zooms and pans: the phones follow.
    laptop.mouse.move(640, 400)
    laptop.mouse.wheel(0, -400)
    laptop.keyboard.down("Space")
    draw(laptop, [(640, 400), (500, 330)])
    laptop.keyboard.up("Space")
    moved = centre(laptop)
    for phone in phones:
        wait_centre(phone, moved)

    # One phone pans on its own: it stops following (and says so); the other goes on.
    draw(phones[0], [(200, 400), (120, 300)])
    expect(phones[0].locator("#follow-text")).to_have_text(re.compile(r" is presenting$"))
    expect(phones[0].locator("#follow-action")).to_have_text("Follow")
    own = centre(phones[0])
    laptop.keyboard.down("Space")
    draw(laptop, [(640, 400), (740, 460)])
    laptop.keyboard.up("Space")
    moved = centre(laptop)
    wait_centre(phones[1], moved)
    assert abs(centre(phones[0])[0] - own[0]) < 1, "the phone that panned stays where it is"
    phones[0].screenshot(path=shots / "phone-stopped-following.png")
    phones[0].click("#follow-action")
    wait_centre(phones[0], moved)
    expect(phones[0].locator("#follow-text")).to_have_text(re.compile(r"^Following "))

    # The laser: a trail both phones see, that fades, and never becomes a stroke.
    laptop.keyboard.press("k")
    laptop.mouse.move(500, 300)
    laptop.mouse.down()
    # A trail point fades 1.1 s after it arrives: the laser keeps moving until both phones show
    # a trail at once (waiting on one phone after the other let the second's trail fade when
    # the machine was busy).
    for step in range(1, 400):
        laptop.mouse.move(500 + (step % 30) * 20, 300 + (step % 30) * 8)
        if step > 15 and all(summary(phone)["laserPoints"] > 5 for phone in phones):
            break
    else:
        raise AssertionError([summary(phone)["laserPoints"] for phone in phones])
    phones[1].screenshot(path=shots / "phone-laser.png")
    laptop.screenshot(path=shots / "presenter-laser.png")
    laptop.mouse.up()
    for page in (laptop, *phones):
        wait_for(page, "(s) => s.laserPoints === 0")
        assert summary(page)["strokes"] == 2

    # Stop presenting; later, "bring everyone here" is a one-off jump.
    laptop.click("#follow-action")
    for phone in phones:
        expect(phone.locator("#follow-bar")).to_be_hidden()
    laptop.keyboard.down("Space")
    draw(laptop, [(640, 400), (300, 200)])
    laptop.keyboard.up("Space")
    menu(laptop, "bring-here")
    here = centre(laptop)
    for phone in phones:
        wait_centre(phone, here)
        assert not summary(phone)["following"]

    # Nothing a phone does reaches the board: dragging on it only pans.
    draw(phones[1], [(100, 500), (300, 520), (320, 700)])
    wait_settled(laptop, 2)
    assert summary(phones[1])["pending"] == 0 and summary(laptop)["strokes"] == 2


# Records the page's fetches (an upload is one) as they start, and drops an image on the canvas.
WATCH_FETCH_JS = """() => {
  window.__fetched = [];
  const fetchNow = window.fetch;
  window.fetch = (...args) => { window.__fetched.push(String(args[0])); return fetchNow(...args); };
}"""
DROP_JS = """() => {
  const data = new DataTransfer();
  data.items.add(new File([new Uint8Array([137, 80, 78, 71])], 'dropped.png', {type: 'image/png'}));
  document.getElementById('board').dispatchEvent(
      new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
}"""
TWO_FRAMES_JS = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


@pytest.mark.timeout(60)
def test_a_view_only_page_offers_no_element_tools_and_takes_no_paste_or_drop(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    editor = open_board(f"{server.http_url}/b/{BOARD}#0,0,1", **LAPTOP)
    draw(editor, horizontal(300, 900, 300))
    wait_settled(editor, 1)
    editor.click("#share-btn")
    link = editor.locator("#share-view-url")
    expect(link).to_have_value(re.compile(r"/v/"))
    viewer = open_board(link.input_value() + "#0,0,1", **LAPTOP)
    wait_settled(viewer, 1)
    for control in ("select", "text", "note", "laser", "pen", "eraser"):
        expect(viewer.locator(f"#toolbar [data-tool='{control}']")).to_be_hidden()
        expect(viewer.locator(f"#toolbar [data-tool='{control}']")).to_be_disabled()
    expect(viewer.locator("#toolbar [data-action='image']")).to_be_disabled()
    expect(viewer.locator("#image-file")).to_be_disabled()
    viewer.click("#menu-btn")  # no presenting items, and no empty section left between rules
    expect(viewer.locator("[data-menu='follow-me']")).to_be_hidden()
    expect(viewer.locator("#menu-panel .sep-h:visible")).to_have_count(1)
    viewer.keyboard.press("Escape")

    viewer.evaluate(WATCH_FETCH_JS)
    frames = summary(viewer)["framesSent"]
    for key in ("v", "t", "n", "k", "p"):  # tool shortcuts: the hand stays
        viewer.keyboard.press(key)
        assert summary(viewer)["tool"] == "hand", key
    viewer.mouse.dblclick(600, 300)  # on the stroke: no editor, no selection
    viewer.keyboard.press("Control+a")
    viewer.keyboard.press("Delete")
    viewer.keyboard.press("Control+z")
    viewer.evaluate(PASTE_JS)
    viewer.evaluate(DROP_JS)
    viewer.evaluate(TWO_FRAMES_JS)  # whatever was queued has been flushed by now
    state = summary(viewer)
    assert viewer.evaluate("() => window.__fetched") == []
    assert state["selected"] == [] and not state["editing"] and state["pending"] == 0
    assert state["framesSent"] == frames

    # The same paste on the editor's page uploads and places the image (the check above can fail).
    editor.keyboard.press("Escape")
    editor.evaluate(PASTE_JS)
    wait_for(viewer, "(s) => s.elements.some((e) => e.kind === 'image')")
    assert summary(viewer)["strokes"] == 2
