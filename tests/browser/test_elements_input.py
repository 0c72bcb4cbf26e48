"""The element tools as a user reaches them: a note placed right after text and Escape, the tools
by pointer on a narrow desktop, select / move / text by touch on a phone, and the lasso, each
checked on a second page. One server for the module (each test on its own board)."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.serving import ServerThread
from whiteboard.settings import Settings

from .helpers import draw, horizontal, summary, wait_for, wait_settled
from .test_touch import PHONE, tap_at, touch


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    boards = tmp_path_factory.mktemp("elements-input") / "boards"
    with ServerThread(Settings(boards_dir=boards, fsync=False)) as running:
        yield running


def texts(page: Page, kind: str) -> list[str]:
    return page.evaluate(
        "(kind) => window.__whiteboard.summary().elements"
        ".filter((e) => e.kind === kind).map((e) => e.text)",
        kind,
    )


# Escape in the editor, N and a click on the board, dispatched in one task: as Chromium does
# when input arrives faster than its timers run (input is dispatched before timers).
ESCAPE_N_CLICK_JS = """([x, y]) => {
  const key = (target, key) => target.dispatchEvent(
      new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true}));
  key(document.activeElement, 'Escape');
  key(document.body, 'n');
  const canvas = document.getElementById('board');
  const at = {clientX: x, clientY: y, pointerId: 1, pointerType: 'mouse', isPrimary: true,
              button: 0, buttons: 1, bubbles: true, cancelable: true};
  canvas.dispatchEvent(new PointerEvent('pointerdown', at));
  canvas.dispatchEvent(new PointerEvent('pointerup', {...at, buttons: 0}));
}"""


@pytest.mark.timeout(60)
def test_a_note_placed_right_after_text_and_escape_is_created(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/note-after-text#0,0,1"
    ann, bob = open_board(url), open_board(url)
    ann.keyboard.press("t")
    ann.mouse.click(150, 150)
    ann.keyboard.type("Hello")
    ann.evaluate(ESCAPE_N_CLICK_JS, [500, 300])
    wait_for(ann, "(s) => s.tool === 'note' && s.editing")
    ann.keyboard.type("Note")
    ann.keyboard.press("Escape")
    wait_for(bob, "(s) => s.elements.length === 2")
    assert texts(bob, "text") == ["Hello"]
    assert texts(bob, "note") == ["Note"]


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


RECT_JS = """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom]; }"""


def apart(a: list[float], b: list[float]) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("width", [940, 1279])
def test_a_narrow_desktop_reaches_every_element_tool_by_pointer(
    server: ServerThread, open_board: Callable[..., Page], width: int, tmp_path: Path
) -> None:
    url = f"{server.http_url}/b/narrow-{width}#0,0,1"
    page = open_board(url, viewport={"width": width, "height": 700})
    other = open_board(url)
    shapes = page.locator("#shapes-btn")
    shapes.click()
    for tool in ["line", "rect", "ellipse", "text", "note"]:
        expect(page.locator(f"#shapes [data-tool={tool}]")).to_be_visible()
    expect(page.locator("#shapes [data-action=image]")).to_be_visible()
    toolbar, popover, topbar = (
        page.evaluate(RECT_JS, s) for s in ["#toolbar", "#shapes", "#topbar"]
    )
    assert apart(toolbar, topbar) and apart(popover, topbar), (toolbar, popover, topbar)
    assert apart(toolbar, popover)  # the popover opens below the toolbar, not over it
    assert toolbar[2] <= width and topbar[2] <= width

    page.locator("#shapes [data-tool=text]").click()
    expect(page.locator("#shapes")).to_be_hidden()
    expect(shapes).to_have_attribute("aria-checked", "true")
    page.mouse.click(200, 300)
    page.keyboard.type("Wide")
    page.mouse.click(500, 600)  # click away: committed, and no second text box opens
    shapes.click()
    page.locator("#shapes [data-tool=note]").click()
    page.mouse.click(400, 300)
    page.keyboard.type("Sticky")
    page.mouse.click(600, 600)
    picture = tmp_path / "picture.png"
    picture.write_bytes(png(60, 40))
    shapes.click()
    with page.expect_file_chooser() as chooser:
        page.locator("#shapes [data-action=image]").click()
    chooser.value.set_files(str(picture))
    wait_for(other, "(s) => s.elements.length === 3")
    assert texts(other, "text") == ["Wide"] and texts(other, "note") == ["Sticky"]

    page.locator("#toolbar [data-tool=select]").click()
    page.mouse.click(210, 300)  # the text
    wait_for(page, "(s) => s.selected.length === 1 && s.tool === 'select'")
    page.keyboard.press("Delete")
    wait_for(other, "(s) => s.elements.length === 2 && !s.elements.some((e) => e.kind === 'text')")


def tap(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


@pytest.mark.timeout(90)
def test_a_phone_places_text_and_selects_and_moves_it_by_touch(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/phone-elements#0,0,1"
    phone = open_board(url, **PHONE)
    desk = open_board(url)

    # Text: from the shapes popover, a tap places the box, the keyboard types, a tap commits.
    tap(phone, "#shapes-btn")
    tap(phone, "#shapes [data-tool=text]")
    phone.touchscreen.tap(100, 300)
    wait_for(phone, "(s) => s.editing")
    phone.keyboard.type("Tapped")
    phone.touchscreen.tap(250, 600)
    wait_for(desk, "(s) => s.elements.length === 1 && s.elements[0].text === 'Tapped'")
    assert not phone.evaluate("() => window.__whiteboard.summary().editing")

    # Select: a tap on the text selects it; a one-finger drag moves it, seen on the desk. Touches
    # carry the finger's own times, so a slow driver cannot merge or split taps.
    tap(phone, "#toolbar [data-tool=select]")
    cdp = phone.context.new_cdp_session(phone)
    start = time.time()
    tap_at(cdp, 110, 300, at=start)
    wait_for(phone, "(s) => s.tool === 'select' && s.selected.length === 1")
    pressed = start + 0.6  # no double tap with the tap that selected
    touch(cdp, "touchStart", [(110, 300)], at=pressed)
    for step in range(1, 11):
        touch(cdp, "touchMove", [(110 + 4 * step, 300 + 15 * step)], at=pressed + 0.01 * step)
    touch(cdp, "touchEnd", [], at=pressed + 0.12)
    wait_for(desk, "(s) => s.elements[0].m[3] > 0 && s.moves === 0")
    assert desk.evaluate("() => window.__whiteboard.summary().elements[0].m") == [1, 1, 40, 150]

    # A quick tap after the drag is a first tap, not a double with the drag's press.
    tap_at(cdp, 150, 450, at=pressed + 0.25)
    assert not phone.evaluate("() => window.__whiteboard.summary().editing")

    # Two taps on it edit it; a tap away commits the edit.
    tap_at(cdp, 150, 450, at=pressed + 0.9)
    tap_at(cdp, 150, 450, at=pressed + 1.05)
    wait_for(phone, "(s) => s.editing")
    phone.keyboard.press("End")
    phone.keyboard.type("!")
    phone.touchscreen.tap(300, 700)
    wait_for(desk, "(s) => s.elements[0].text === 'Tapped!'")
    wait_for(phone, "(s) => !s.editing")

    # A tap whose finger wobbles a few pixels selects and moves nothing: the pen stroke drawn
    # after it is the next op the desk sees, and the text is where the drag left it.
    touch(cdp, "touchStart", [(150, 450)])
    touch(cdp, "touchMove", [(153, 452)])
    touch(cdp, "touchEnd", [])
    wait_for(phone, "(s) => s.selected.length === 1")
    tap(phone, "#toolbar [data-tool=pen]")
    touch(cdp, "touchStart", [(60, 650)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(60 + 20 * step, 650)])
    touch(cdp, "touchEnd", [])
    wait_for(desk, "(s) => s.elements.length === 2")
    assert desk.evaluate("() => window.__whiteboard.summary().elements[0].m") == [1, 1, 40, 150]


EDITOR_RECT_JS = """() => {
  const r = document.querySelector('.text-editor').getBoundingClientRect();
  return [r.left, r.top, r.right, r.bottom]; }"""


@pytest.mark.timeout(60)
def test_the_editor_box_fits_what_is_typed_and_a_notes_square_on_a_phone(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    phone = open_board(f"{server.http_url}/b/editor-box#0,0,1", **PHONE)
    tap(phone, "#shapes-btn")
    tap(phone, "#shapes [data-tool=text]")
    phone.touchscreen.tap(40, 300)
    wait_for(phone, "(s) => s.editing")
    phone.keyboard.type("Hi")
    short = phone.evaluate(EDITOR_RECT_JS)
    phone.keyboard.type(" there, a longer line")
    long = phone.evaluate(EDITOR_RECT_JS)
    # The dashed box grows with the line (it sat at the textarea's default width before).
    assert short[2] - short[0] < 60 and long[2] - long[0] > 3 * (short[2] - short[0])
    phone.keyboard.press("Escape")

    tap(phone, "#shapes-btn")
    tap(phone, "#shapes [data-tool=note]")
    phone.touchscreen.tap(40, 450)
    wait_for(phone, "(s) => s.editing")
    phone.keyboard.type("Note")
    left, top, right, bottom = phone.evaluate(EDITOR_RECT_JS)
    # The box is the note's square and stays on the screen (it spread past 900 px before).
    assert right <= 390 and abs((right - left) - (bottom - top)) <= 2
    phone.keyboard.press("Escape")
    wait_for(phone, "(s) => !s.editing && s.elements.length === 2")


@pytest.mark.timeout(60)
def test_alt_drag_lassoes_what_the_loop_encloses_not_what_its_box_covers(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/lasso#0,0,1"
    ann, bob = open_board(url), open_board(url)
    draw(ann, horizontal(100, 200, 150))  # inside the triangle below
    draw(ann, horizontal(420, 520, 420))  # inside its box, outside the triangle
    draw(ann, horizontal(100, 200, 560))  # inside too, added with Shift
    wait_settled(ann, 3)  # its own strokes are in its board once the server acknowledged them
    wait_settled(bob, 3)
    first, second, third = summary(ann)["visible"]

    ann.keyboard.press("v")
    ann.keyboard.down("Alt")
    ann.mouse.move(60, 60)
    ann.mouse.down()
    ann.mouse.move(640, 60, steps=15)
    ann.mouse.move(60, 500, steps=15)
    expect(ann.locator("#select-lasso")).to_be_visible()
    ann.mouse.up()
    wait_for(ann, "(s) => s.selected.length === 1")
    assert summary(ann)["selected"] == [first]
    expect(ann.locator("#select-lasso")).to_be_hidden()

    ann.keyboard.down("Shift")  # Shift+Alt adds to the selection
    ann.mouse.move(60, 520)
    ann.mouse.down()
    ann.mouse.move(260, 520, steps=10)
    ann.mouse.move(260, 600, steps=10)
    ann.mouse.move(60, 600, steps=10)
    ann.mouse.up()
    ann.keyboard.up("Shift")
    ann.keyboard.up("Alt")
    wait_for(ann, "(s) => s.selected.length === 2")
    assert sorted(summary(ann)["selected"]) == sorted([first, third])
    ann.keyboard.press("Delete")
    wait_for(bob, "(s, ids) => s.visible.length === 1 && s.visible[0] === ids", second)


@pytest.mark.timeout(60)
def test_a_phone_lassoes_by_touch_then_drags_what_it_took(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/phone-lasso#0,0,1"
    desk = open_board(url)
    draw(desk, horizontal(100, 200, 200))  # inside the loop below
    draw(desk, horizontal(250, 330, 330))  # inside the loop's box, outside the loop
    wait_settled(desk, 2)
    phone = open_board(url, **PHONE)
    wait_settled(phone, 2)
    first, second = summary(desk)["visible"]

    # No Alt key on a phone: the lasso is a tool in the shapes popover.
    tap(phone, "#shapes-btn")
    tap(phone, "#shapes [data-tool=lasso]")
    wait_for(phone, "(s) => s.tool === 'lasso'")
    cdp = phone.context.new_cdp_session(phone)
    loop = [(60, 120), (360, 120), (60, 400), (60, 120)]  # a triangle, as in the Alt+drag test
    touch(cdp, "touchStart", [loop[0]])
    for (x0, y0), (x1, y1) in itertools.pairwise(loop):
        for step in range(1, 9):
            touch(cdp, "touchMove", [(x0 + (x1 - x0) * step / 8, y0 + (y1 - y0) * step / 8)])
    touch(cdp, "touchEnd", [])
    wait_for(phone, "(s, id) => s.selected.length === 1 && s.selected[0] === id", first)

    # A drag starting on what was lassoed moves it, still with the lasso tool.
    touch(cdp, "touchStart", [(150, 200)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(150 + 6 * step, 200 + 20 * step)])
    touch(cdp, "touchEnd", [])
    wait_for(desk, "(s) => s.elements[0].m[3] > 0 && s.moves === 0")
    assert desk.evaluate("() => window.__whiteboard.summary().elements[0].m") == [1, 1, 30, 100]

    # A tap on the other stroke selects it.
    phone.touchscreen.tap(290, 330)
    wait_for(phone, "(s, id) => s.selected.length === 1 && s.selected[0] === id", second)
