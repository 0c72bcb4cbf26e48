"""Where a board opens: the view in the URL, else the view this browser left it at, else (a first
visit) the drawing itself, so a phone does not open at 0,0 with everything off-screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.serving import ServerThread

from .helpers import summary, wait_for, wait_ink, wait_settled
from .seeding import seed_board
from .test_touch import PHONE, touch

# A drawing far from 0,0: a box of strokes from board (2000, 1500) to (2600, 1900).
FAR_STROKES = [
    {
        "type": "stroke",
        "id": f"far{i}",
        "tool": "pen",
        "color": "#1e1e1e",
        "width": 6,
        "pts": [8000, 6000 + i * 400, 2400, 0],
    }
    for i in range(5)
] + [
    {
        "type": "stroke",
        "id": "far-box",
        "tool": "rect",
        "color": "#e53935",
        "width": 4,
        "pts": [8000, 6000, 2400, 1600],
    }
]


def on_screen(page: Page, x: float, y: float) -> tuple[float, float]:
    view = summary(page)["view"]
    return (x - view["x"]) * view["zoom"], (y - view["y"]) * view["zoom"]


def bounds_in_view(page: Page) -> bool:
    return page.evaluate("""() => {
      const { x, y, zoom } = window.__whiteboard.summary().view;
      const w = innerWidth / zoom, h = innerHeight / zoom;
      return x <= 2000 && y <= 1500 && x + w >= 2600 && y + h >= 1900;
    }""")


@pytest.mark.timeout(60)
def test_a_phone_opens_where_the_drawing_is_and_a_reload_returns_to_the_view_left(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    seed_board(server.ws_url, "far", FAR_STROKES)
    context = new_context(**PHONE)
    phone = context.new_page()
    pictures: list[str] = []  # the first pictures asked for (index.html), for the view opened at
    phone.on("request", lambda r: pictures.append(r.url) if "/view.png?" in r.url else None)
    phone.goto(f"{server.http_url}/b/far")
    wait_settled(phone, 6)
    wait_for(phone, "(s) => s.view.zoom < 1")
    window = phone.evaluate("() => `fit=${innerWidth},${innerHeight},${devicePixelRatio}&`")
    assert len(pictures) == 1 and window in pictures[0]  # no view known: the server's fit
    assert bounds_in_view(phone)
    wait_ink(phone, *on_screen(phone, 2300, 1500))  # the rectangle's top edge

    # Two fingers pan (phones have no hand tool); the view is kept for this board across a reload.
    cdp = context.new_cdp_session(phone)
    touch(cdp, "touchStart", [(200, 400), (260, 400)])
    for step in range(1, 9):
        dx, dy = step * 10, step * 5
        touch(cdp, "touchMove", [(200 - dx, 400 - dy), (260 - dx, 400 - dy)])
    touch(cdp, "touchEnd", [])
    left = summary(phone)["view"]
    phone.wait_for_function(
        "(key) => localStorage.getItem(key) !== null", arg="whiteboard.view.b:far"
    )
    phone.reload()
    wait_settled(phone, 6)
    remembered = phone.evaluate("""() => {
      const [x, y, zoom] = localStorage.getItem("whiteboard.view.b:far").split(",").map(Number);
      const reach = Math.ceil(innerWidth / 64) * 64; // to the next 64 CSS px (index.html)
      return `scale=${zoom * devicePixelRatio}&region=${x},${y},${reach / zoom},`;
    }""")
    assert len(pictures) == 2 and remembered in pictures[1]  # the view the page opens at
    back = summary(phone)["view"]
    assert abs(back["x"] - left["x"]) < 0.01 and abs(back["y"] - left["y"]) < 0.01
    assert abs(back["zoom"] - left["zoom"]) < 1e-4

    # A view in the URL wins; once the user moves away from it, the URL forgets it.
    phone.goto(f"{server.http_url}/b/far#2000,1500,0.5")
    wait_settled(phone, 6)
    assert summary(phone)["view"] == {"x": 2000, "y": 1500, "zoom": 0.5}
    touch(cdp, "touchStart", [(200, 400)])
    touch(cdp, "touchMove", [(150, 400)])
    touch(cdp, "touchEnd", [])
    phone.wait_for_function("() => location.hash === ''")
    assert phone.url == f"{server.http_url}/b/far"


@pytest.mark.timeout(60)
def test_a_drawing_already_in_sight_is_not_refitted(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    near = [
        {
            "type": "stroke",
            "id": "near",
            "tool": "pen",
            "color": "#1e1e1e",
            "width": 4,
            "pts": [400, 400, 800, 0],
        }
    ]
    seed_board(server.ws_url, "near", near)
    page = new_context().new_page()
    page.goto(f"{server.http_url}/b/near")
    wait_settled(page, 1)
    assert summary(page)["view"] == {"x": 0, "y": 0, "zoom": 1}
    wait_ink(page, 200, 100)
