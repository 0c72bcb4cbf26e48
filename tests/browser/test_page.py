"""The page itself: it runs under the server's strict CSP, opens at the default view with the pen,
follows a view in the URL, and works without the Clipboard API (plain http on a LAN)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.serving import ServerThread

from .helpers import draw, horizontal, ink_at, summary, wait_for, wait_ink, wait_settled


@pytest.mark.timeout(60)
def test_page_runs_under_its_csp(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(bypass_csp=False).new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{server.http_url}/b/csp")
    expect(page.locator("#status")).to_have_text("Connected")
    expect(page.locator("[data-tool=pen]")).to_have_attribute("aria-checked", "true")
    expect(page.locator("#zoom-level")).to_have_text("100%")
    draw(page, horizontal(100, 300, 200))
    page.locator("#share-btn").click()
    expect(page.locator("#share-url")).to_have_value(f"{server.http_url}/b/csp")
    expect(page.locator("#qr")).to_have_js_property("complete", True)
    assert page.locator("#qr").evaluate("img => img.naturalWidth") > 0
    assert page.locator("#export-png").get_attribute("href") == "/b/csp/export.png"
    # Module scripts (.js and the vendored .mjs) were served with a JavaScript MIME type.
    types = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => /\\.m?js$/.test(e.name)).map(e => e.name)""")
    assert any(name.endswith("/vendor/msgpack/Decoder.mjs") for name in types)
    assert any(name.endswith("/vendor/perfect-freehand/index.mjs") for name in types)
    assert problems == []


@pytest.mark.timeout(60)
def test_view_from_url_and_copy_without_clipboard_api(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/view"
    first = open_board(url)
    draw(first, horizontal(100, 300, 200))
    wait_settled(first, 1)

    # The board point (150, 150) at the top-left corner, zoom 2: the stroke is at screen y 100.
    second = open_board(f"{url}#150,150,2")
    wait_settled(second, 1)
    assert summary(second)["view"] == {"x": 150, "y": 150, "zoom": 2}
    wait_ink(second, 100, 100)
    expect(second.locator("#zoom-level")).to_have_text("200%")

    # Pretend to be on plain http (no navigator.clipboard): copying falls back to a selection.
    second.evaluate("() => Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    second.locator("#share-btn").click()
    second.locator("#copy-link").click()
    expect(second.locator("#copy-note")).not_to_have_text("")
    second.locator("#copy-view").click()
    expect(second.locator("#copy-note")).not_to_have_text("")
    link = second.evaluate("() => document.getElementById('share-url').value")
    assert link == url

    # Renaming is remembered across reloads (localStorage) and shown to others.
    second.locator("#people-btn").click()
    second.locator("#name-input").fill("Ada")
    second.locator("#name-input").press("Enter")
    first.locator("#people-btn").click()
    expect(first.locator("#people-list")).to_contain_text("Ada")
    second.reload()
    expect(second.locator("#name-input")).to_have_value("Ada")


COUNT_SENDS = """() => {
  let frame = 0;
  const count = () => { frame += 1; requestAnimationFrame(count); };
  requestAnimationFrame(count);
  window.__sendFrames = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    window.__sendFrames.push(frame);
    return send.call(this, data);
  };
}"""


@pytest.mark.timeout(60)
def test_at_most_one_frame_per_animation_frame(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context()
    context.add_init_script(script=f"({COUNT_SENDS})()")
    page = context.new_page()
    page.goto(f"{server.http_url}/b/frames")
    expect(page.locator("#status")).to_have_text("Connected")
    # A fast scribble: many pointer events (and cursor moves) per animation frame.
    page.mouse.move(100, 100)
    page.mouse.down()
    for step in range(120):
        page.mouse.move(100 + step * 4, 100 + (step % 9) * 5)
    page.mouse.up()
    draw(page, horizontal(100, 400, 300))
    wait_settled(page, 2)
    frames = page.evaluate("() => window.__sendFrames")[1:]  # the first is the hello, on open
    assert len(frames) > 5
    assert len(frames) == len(set(frames)), "two WebSocket frames in one animation frame"


@pytest.mark.timeout(60)
def test_wheel_zooms_toward_pointer_and_space_drag_pans(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    page = open_board(f"{server.http_url}/b/zoom")
    page.mouse.move(400, 300)
    page.mouse.wheel(0, -200)
    wait_for(page, "(s) => s.view.zoom > 1.2")
    view = summary(page)["view"]
    # Board point (400, 300) stays under the pointer: view.x + 400 / zoom == 400.
    assert abs(view["x"] + 400 / view["zoom"] - 400) < 0.01
    assert abs(view["y"] + 300 / view["zoom"] - 300) < 0.01
    expect(page.locator("#zoom-level")).to_have_text(f"{round(view['zoom'] * 100)}%")

    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(300, 250, steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    moved = summary(page)
    assert moved["strokes"] == 0 and moved["ownLive"] == 0  # panning draws nothing
    assert abs((moved["view"]["x"] - view["x"]) * view["zoom"] - 100) < 0.5
    assert abs((moved["view"]["y"] - view["y"]) * view["zoom"] - 50) < 0.5

    # Middle button pans too; the hand tool as well.
    page.mouse.move(300, 250)
    page.mouse.down(button="middle")
    page.mouse.move(350, 250, steps=2)
    page.mouse.up(button="middle")
    page.locator("[data-tool=hand]").click()
    draw(page, [(300, 300), (300, 340)])
    after = summary(page)
    assert after["strokes"] == 0 and after["pending"] == 0
    assert abs((after["view"]["x"] - moved["view"]["x"]) * view["zoom"] + 50) < 0.5
    assert abs((after["view"]["y"] - moved["view"]["y"]) * view["zoom"] + 40) < 0.5

    # Zoom to fit an empty board goes back to the default view.
    page.locator("#zoom-fit").click()
    wait_for(page, "(s) => s.view.x === 0 && s.view.y === 0 && s.view.zoom === 1")


@pytest.mark.timeout(60)
def test_highlighter_is_translucent_and_does_not_darken_its_own_overlaps(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    page = open_board(f"{server.http_url}/b/highlight")
    page.locator("[data-tool=highlighter]").click()
    # Back and forth over the same line: one path, so the overlap is no darker.
    draw(page, [*horizontal(100, 400, 200), *reversed(horizontal(100, 400, 200))])
    wait_settled(page, 1)
    alpha = ink_at(page, 250, 200)
    assert abs(alpha - round(0.35 * 255)) <= 3, alpha
