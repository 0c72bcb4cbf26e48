"""A 500,000-point board (10,000 strokes x 50 points) is drawn completely, and exactly.

The page says when it has drawn the whole board (``stats.drawnMs`` and the performance mark
``whiteboard:drawn``, static/README.md). At that moment the test copies the canvas and compares
it with a full-detail render of the same strokes for the same view: every point of every stroke
through ``drawStroke`` (render.js, the rendering rules of docs/protocol.md) in the same browser.
Level of detail, the worker and the progressive drawing may change how the picture is made, not
what it is: the mean absolute difference stays under the export test's threshold and at most
``MAX_DIFFERING_FRACTION`` of the pixels differ by more than 48 levels. A negative control shows
the comparison catches a picture with a tenth of the strokes missing.

How fast this happens is measured by bench/bench_browser.py, not asserted here.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.serving import ServerThread
from whiteboard.settings import Settings

from .helpers import summary
from .seeding import random_strokes, seed_board
from .test_export_matches_canvas import MAX_MEAN_ABS_DIFF

STROKES = 10_000
POINTS_PER_STROKE = 50
VIEWPORT = {"width": 1280, "height": 800}
MAX_DIFFERING_FRACTION = 0.005
"""At most 0.5% of pixels may differ by more than 48 levels (R + G + B) from the full render."""
DRAWN_TIMEOUT_MS = 60_000

# The seeded board covers board units 0..6000 x 0..4000.
VIEWS = {
    "whole": (-100.0, -100.0, 0.19),  # every stroke in view, points under a pixel apart
    "100%": (2500.0, 1500.0, 1.0),  # full detail
    "far": (-8000.0, -8000.0, 0.04),  # strokes a few pixels long: simplified
}

# Installed before the page's scripts: copies what is on screen the moment the page signals it is
# drawn: the canvas, over the server's first picture of the view when it is shown (index.html).
CAPTURE_AT_SIGNAL = """
(() => {
  const mark = performance.mark.bind(performance);
  performance.mark = (name, ...rest) => {
    if (name === "whiteboard:drawn") {
      const board = document.getElementById("board");
      const shown = new OffscreenCanvas(board.width, board.height);
      const ctx = shown.getContext("2d");
      const picture = document.getElementById("first-picture");
      if (picture) { // where it is on screen: a fit's may be larger than the window, moved
        const at = picture.getBoundingClientRect();
        const dpr = devicePixelRatio;
        ctx.drawImage(picture, Math.round(at.left * dpr), Math.round(at.top * dpr));
      }
      ctx.drawImage(board, 0, 0);
      window.__atSignal = ctx.getImageData(0, 0, board.width, board.height);
      window.__pictureAtSignal = !!picture;
    }
    return mark(name, ...rest);
  };
})();
"""

WAIT_FOR_SIGNAL = """(timeoutMs) => new Promise((resolve, reject) => {
  const deadline = performance.now() + timeoutMs;
  const check = () => {
    if (window.__atSignal) resolve(true);
    else if (performance.now() > deadline) reject(new Error("the page never said drawn"));
    else requestAnimationFrame(check);
  };
  check();
})"""

WAIT_UNTIL_COMPLETE = WAIT_FOR_SIGNAL.replace(
    "window.__atSignal", "!window.__whiteboard.summary().busy"
)
WAIT_FOR_LAYER = WAIT_FOR_SIGNAL.replace(
    "window.__atSignal", "window.__whiteboard.summary().stats.layerCompleteMs !== null"
)

# Draws `ops` at full detail for `view` on a canvas the size of the page's, and compares both
# over white: mean |difference| per RGB channel, and the share of pixels whose channels differ
# by more than 48 levels in all.
COMPARE_JS = """
async ([view, leaveOut]) => {
  const { drawStroke } = await import("/static/js/render.js");
  const ops = await (await fetch("/test/seeded-ops.json")).json();
  const shown = window.__shown;
  const canvas = new OffscreenCanvas(shown.width, shown.height);
  const ctx = canvas.getContext("2d");
  const s = view.zoom * devicePixelRatio;
  ctx.setTransform(s, 0, 0, s, -view.x * s, -view.y * s);
  ops.forEach((op, i) => { if (i % 10 !== 0 || !leaveOut) drawStroke(ctx, op); });
  const ref = ctx.getImageData(0, 0, shown.width, shown.height).data;
  const got = shown.data;
  let sum = 0;
  let off = 0;
  for (let i = 0; i < got.length; i += 4) {
    let d = 0;
    for (let c = 0; c < 3; c++) {
      const a = (got[i + c] * got[i + 3] + 255 * (255 - got[i + 3])) / 255;
      const b = (ref[i + c] * ref[i + 3] + 255 * (255 - ref[i + 3])) / 255;
      d += Math.abs(a - b);
    }
    sum += d;
    if (d > 48) off += 1;
  }
  const pixels = got.length / 4;
  return { mean: sum / (3 * pixels), differing: off / pixels };
}
"""


@pytest.fixture(scope="module")
def big_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, bytes]]:
    """One server holding the seeded board for the whole module (seeding takes seconds), and the
    seeded ops as JSON for the reference render (served to the page by a route: much faster
    than passing them as an argument)."""
    boards = tmp_path_factory.mktemp("big") / "boards"
    with ServerThread(Settings(boards_dir=boards, fsync=False)) as server:
        ops = random_strokes(STROKES, POINTS_PER_STROKE, 6000, 4000)
        seed_board(server.ws_url, "big", ops)
        yield server, json.dumps(ops).encode()


def open_at(
    new_context: Callable[..., BrowserContext],
    board: tuple[ServerThread, bytes],
    view: str,
    **options: Any,
) -> Page:
    """The page at ``view``, drawing the board itself: the server's first picture is refused it
    (see test_the_first_picture_is_the_board_until_the_page_has_drawn_it)."""
    server, ops_json = board
    page = new_context(viewport=VIEWPORT, **options).new_page()
    page.route(
        "**/test/seeded-ops.json",
        lambda route: route.fulfill(body=ops_json, content_type="application/json"),
    )
    page.route(re.compile(r"/view\.png"), lambda route: route.abort())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.add_init_script(CAPTURE_AT_SIGNAL)
    x, y, zoom = VIEWS[view]
    page.goto(f"{server.http_url}/b/big#{x:g},{y:g},{zoom:g}")
    # Not wait_for_function: it evaluates with eval, which the page's CSP refuses.
    page.evaluate(WAIT_FOR_SIGNAL, DRAWN_TIMEOUT_MS)
    assert not errors, errors
    return page


def compare(
    page: Page, view: tuple[float, float, float], leave_out: bool = False
) -> dict[str, float]:
    x, y, zoom = view
    return page.evaluate(COMPARE_JS, [{"x": x, "y": y, "zoom": zoom}, leave_out])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("view", list(VIEWS))
def test_big_board_is_complete_when_the_page_says_drawn(
    big_board: tuple[ServerThread, bytes],
    new_context: Callable[..., BrowserContext],
    view: str,
    tmp_path: Path,
) -> None:
    page = open_at(new_context, big_board, view)
    state = summary(page)
    assert state["strokes"] == STROKES
    assert not state["busy"]
    assert state["stats"]["drawnMs"] > 0
    page.evaluate("() => { window.__shown = window.__atSignal; }")
    result = compare(page, VIEWS[view])
    page.screenshot(path=tmp_path / f"{view}.png")
    print(f"{view}: mean abs diff {result['mean']:.3f}, differing {result['differing']:.3%}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF, (result, tmp_path)
    assert result["differing"] <= MAX_DIFFERING_FRACTION, (result, tmp_path)


@pytest.mark.timeout(120)
def test_the_comparison_catches_missing_strokes(
    big_board: tuple[ServerThread, bytes], new_context: Callable[..., BrowserContext]
) -> None:
    """Negative control: a reference without every tenth stroke differs past the bound."""
    page = open_at(new_context, big_board, "100%")
    page.evaluate("() => { window.__shown = window.__atSignal; }")
    result = compare(page, VIEWS["100%"], leave_out=True)
    print(f"every tenth stroke left out: {result}")
    assert result["mean"] > 2 * MAX_MEAN_ABS_DIFF
    assert result["differing"] > 2 * MAX_DIFFERING_FRACTION


@pytest.mark.timeout(120)
def test_after_pan_and_zoom_the_picture_is_the_board_again(
    big_board: tuple[ServerThread, bytes], new_context: Callable[..., BrowserContext]
) -> None:
    """The layer follows the view (and its level of detail) and ends exact, under the page's CSP,
    drawn by the worker."""
    page = open_at(new_context, big_board, "whole", bypass_csp=False)
    assert summary(page)["stats"]["renderer"] == "worker"  # the CSP lets the worker run
    page.mouse.move(640, 400)
    for _ in range(6):
        page.mouse.wheel(0, -120)  # zoom in toward the pointer
    page.keyboard.down(" ")
    page.mouse.down()
    page.mouse.move(400, 300, steps=8)
    page.mouse.up()
    page.keyboard.up(" ")
    page.evaluate(WAIT_UNTIL_COMPLETE, DRAWN_TIMEOUT_MS)
    view = summary(page)["view"]
    assert view["zoom"] > VIEWS["whole"][2]
    page.evaluate("""() => {
      const canvas = document.getElementById("board");
      window.__shown = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    }""")
    result = compare(page, (view["x"], view["y"], view["zoom"]))
    print(f"after pan and zoom to {view}: {result}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF
    assert result["differing"] <= MAX_DIFFERING_FRACTION


@pytest.mark.timeout(120)
def test_without_workers_the_page_draws_the_layer_itself(
    big_board: tuple[ServerThread, bytes], new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(viewport=VIEWPORT)
    context.add_init_script("delete window.Worker;")
    page = open_at(lambda **_: context, big_board, "100%")
    assert summary(page)["stats"]["renderer"] == "page"
    page.evaluate("() => { window.__shown = window.__atSignal; }")
    result = compare(page, VIEWS["100%"])
    print(f"drawn on the page: {result}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF
    assert result["differing"] <= MAX_DIFFERING_FRACTION


@pytest.mark.timeout(120)
def test_two_bands_draw_the_same_picture(
    big_board: tuple[ServerThread, bytes], new_context: Callable[..., BrowserContext]
) -> None:
    """With four cores or more the view is drawn in two bands by two workers: the same picture."""
    context = new_context(viewport=VIEWPORT)
    context.add_init_script(
        "Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 4 });"
    )
    page = open_at(lambda **_: context, big_board, "whole")
    assert summary(page)["stats"]["bands"] == 2
    page.evaluate("() => { window.__shown = window.__atSignal; }")
    result = compare(page, VIEWS["whole"])
    print(f"two bands: {result}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF
    assert result["differing"] <= MAX_DIFFERING_FRACTION


def open_pictured(
    page: Page, board: tuple[ServerThread, bytes], path: str, hash_: str
) -> tuple[list[Any], Callable[[], None]]:
    """Open ``path`` + ``hash_`` with the server's messages held until the first picture is on
    screen and the page's modules have run (so the page cannot draw the board first: on a busy
    machine the export worker may take longer than the page). Returns the page's sockets, and
    what lets the messages go, in order, and every later one as it comes."""
    server, ops_json = board
    page.route(
        "**/test/seeded-ops.json",
        lambda route: route.fulfill(body=ops_json, content_type="application/json"),
    )
    held: list[str | bytes] = []
    sockets: list[Any] = []
    releasing: list[bool] = []

    def release() -> None:
        releasing.append(True)
        while held:  # in order, whatever arrives meanwhile
            sockets[0].send(held.pop(0))

    def hold_the_board(ws: Any) -> None:
        sockets.append(ws)

        def from_server(message: str | bytes) -> None:
            held.append(message)
            if releasing:
                release()

        ws.connect_to_server().on_message(from_server)

    page.route_web_socket(re.compile(re.escape(path) + "/ws"), hold_the_board)
    page.add_init_script(CAPTURE_AT_SIGNAL)
    page.goto(f"{server.http_url}{path}{hash_}")
    page.wait_for_function(  # and the page's modules have run (a cached picture comes first)
        "() => window.__whiteboardFirstPicture?.shownMs != null && window.__whiteboard",
        timeout=DRAWN_TIMEOUT_MS,
    )
    return sockets, release


def the_picture_is_the_board_at_the_signal(
    page: Page, release: Callable[[], None], shown: tuple[float, float, float], label: str
) -> None:
    """Let the held messages go (``open_pictured``): the page signals drawn by its first
    picture, and what was on screen then is the board for the view ``shown``."""
    release()
    page.evaluate(WAIT_FOR_SIGNAL, DRAWN_TIMEOUT_MS)
    stats = summary(page)["stats"]
    assert page.evaluate("() => window.__pictureAtSignal")
    assert stats["drawnMs"] == stats["firstPictureShownMs"]
    page.evaluate("() => { window.__shown = window.__atSignal; }")
    result = compare(page, shown)
    print(f"{label}: {result}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF, result
    assert result["differing"] <= MAX_DIFFERING_FRACTION, result


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("view", "link"), [("whole", "board"), ("100%", "board"), ("fit", "view")])
def test_the_first_picture_is_the_board_until_the_page_has_drawn_it(
    big_board: tuple[ServerThread, bytes],
    new_context: Callable[..., BrowserContext],
    view: str,
    link: str,
    tmp_path: Path,
) -> None:
    """The server's picture of the view (index.html asks for it before the modules load) is
    the board when the page signals drawn, and gives way to the page's own layer, exact too;
    on the board's page and on its view-only link's. A page opened without a view ("fit", here
    a view-only link's) opens at the one the server picked for its picture: zoom to fit, for its
    window.

    The server's messages are held until the picture is on screen, so the page cannot draw the
    board first (on a busy machine the export worker may take longer than the page)."""
    server, _ = big_board
    path = "/b/big"
    if link == "view":
        with urllib.request.urlopen(f"{server.http_url}/b/big/share.json", timeout=10) as answer:
            path = urllib.parse.urlsplit(json.load(answer)["view_url"]).path
    page = new_context(viewport=VIEWPORT).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    hash_ = "" if view == "fit" else "#{:g},{:g},{:g}".format(*VIEWS[view])
    sockets, release = open_pictured(page, big_board, path, hash_)
    pictured = page.evaluate("() => window.__whiteboardFirstPicture.view")
    shown = (pictured["x"], pictured["y"], pictured["zoom"])
    if view == "fit":  # the seeded board, over 0..6000 x 0..4000, zoomed to fit 1280 x 800
        assert 0.1 < shown[2] < 0.19 and shown[0] < 0 and shown[1] < 0
    else:
        assert shown == VIEWS[view]
    assert summary(page)["view"] == pictured  # the page opened at the view pictured
    assert summary(page)["stats"]["drawnMs"] is None  # no welcome yet: its seq is unknown
    assert len(sockets) == 1
    the_picture_is_the_board_at_the_signal(page, release, shown, f"first picture, {view}")
    page.evaluate(WAIT_FOR_LAYER, DRAWN_TIMEOUT_MS)  # the page's own drawing took over
    assert page.evaluate("() => document.getElementById('first-picture')") is None
    page.evaluate("""() => {
      const canvas = document.getElementById("board");
      window.__shown = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    }""")
    assert summary(page)["view"] == pictured  # the whole board was in sight: no zoom to fit
    result = compare(page, shown)
    page.screenshot(path=tmp_path / f"{view}-{link}.png")
    print(f"the layer after the first picture, {view}: {result}")
    assert result["mean"] < MAX_MEAN_ABS_DIFF, result
    assert result["differing"] <= MAX_DIFFERING_FRACTION, result
    assert not errors, errors


@pytest.mark.timeout(120)
@pytest.mark.parametrize("view", ["fit", "100%"])
def test_a_window_near_one_pictured_shares_its_picture_cropped_exactly(
    big_board: tuple[ServerThread, bytes],
    new_context: Callable[..., BrowserContext],
    view: str,
    tmp_path: Path,
) -> None:
    """Windows a few pixels apart (browser chrome, a resized window) share one first picture,
    rendered once (frame.py ``FIT_WINDOW_STEP_PX``, index.html ``WINDOW_STEP_PX``), and what
    the second shows of it is the board for its view, exactly. Without a view in the URL
    ("fit") the second opens at the same zoom, the ink centred in its own window; with one, at
    that view (the picture reaches past the window's right and bottom edges)."""
    server, _ = big_board
    hash_ = "" if view == "fit" else "#{:g},{:g},{:g}".format(*VIEWS[view])
    pictures = server.app.extensions["whiteboard_exporter"].first_pictures
    first = new_context(viewport={"width": 1290, "height": 805}).new_page()
    open_pictured(first, big_board, "/b/big", hash_)[1]()
    first.evaluate(WAIT_FOR_SIGNAL, DRAWN_TIMEOUT_MS)
    first_view = summary(first)["view"]
    rendered = pictures.rendered
    first.close()

    near = new_context(viewport={"width": 1300, "height": 812}).new_page()
    errors: list[str] = []
    near.on("pageerror", lambda exc: errors.append(str(exc)))
    _, release = open_pictured(near, big_board, "/b/big", hash_)
    assert pictures.rendered == rendered  # no render for this window: its neighbour's picture
    pictured = near.evaluate("() => window.__whiteboardFirstPicture.view")
    assert summary(near)["view"] == pictured and pictured["zoom"] == first_view["zoom"]
    if view != "fit":
        assert pictured == first_view
    shown = (pictured["x"], pictured["y"], pictured["zoom"])
    the_picture_is_the_board_at_the_signal(near, release, shown, f"a nearby window's, {view}")
    near.screenshot(path=tmp_path / f"near-picture-{view}.png")
    near.evaluate(WAIT_FOR_LAYER, DRAWN_TIMEOUT_MS)
    near.screenshot(path=tmp_path / f"near-layer-{view}.png")
    assert summary(near)["view"] == pictured  # the ink was in sight: no zoom to fit
    assert not errors, errors
