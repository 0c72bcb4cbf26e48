"""Touch in an emulated phone: one finger draws, two fingers pan and pinch-zoom; a one-finger
stroke that a second finger turns into a pinch is aborted everywhere. Touches are driven through
CDP's Input.dispatchTouchEvent (Playwright's touchscreen only taps)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.serving import ServerThread

from .helpers import ink_at, summary, wait_for, wait_ink, wait_settled

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def touch(cdp, kind: str, points: list[tuple[float, float]], at: float | None = None) -> None:
    """One touch event; ``at`` (seconds since the epoch) is when the finger did it, as the page's
    ``event.timeStamp`` sees it, whenever the event is actually dispatched."""
    event: dict = {
        "type": kind,
        "touchPoints": [
            {"x": x, "y": y, "id": i, "radiusX": 4, "radiusY": 4, "force": 1}
            for i, (x, y) in enumerate(points)
        ],
    }
    if at is not None:
        event["timestamp"] = at
    cdp.send("Input.dispatchTouchEvent", event)


def tap_at(cdp, x: float, y: float, at: float) -> None:
    """A 50 ms tap that the finger made at ``at`` (seconds since the epoch), however late the
    driver sends it: taps stamped 150 ms apart are a double tap even on a busy machine."""
    touch(cdp, "touchStart", [(x, y)], at=at)
    touch(cdp, "touchEnd", [], at=at + 0.05)


@pytest.mark.timeout(60)
def test_touch_draws_with_one_finger_and_pinches_with_two(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/touch"
    phone = open_board(url, **PHONE)
    desk = open_board(url)
    expect(phone.locator("#toolbar")).to_be_visible()
    cdp = phone.context.new_cdp_session(phone)

    touch(cdp, "touchStart", [(80, 300)])
    for step in range(1, 21):
        touch(cdp, "touchMove", [(80 + step * 10, 300 + (step % 2))])
    touch(cdp, "touchEnd", [])
    wait_settled(phone, 1)
    wait_settled(desk, 1)
    wait_ink(phone, 180, 300)
    wait_ink(desk, 180, 300)
    assert summary(phone)["view"] == {"x": 0, "y": 0, "zoom": 1}

    # Two fingers spreading apart: the view zooms in around them and nothing is drawn.
    touch(cdp, "touchStart", [(150, 500), (250, 500)])
    for step in range(1, 11):
        touch(
            cdp, "touchMove", [(150 - step * 5, 500 + step * 3), (250 + step * 5, 500 + step * 3)]
        )
    touch(cdp, "touchEnd", [])
    wait_for(phone, "(s) => s.view.zoom > 1.5 && !s.busy")
    after = summary(phone)
    assert after["strokes"] == 1 and after["pending"] == 0 and after["ownLive"] == 0
    assert summary(desk)["strokes"] == 1
    # The board point under the fingers' midpoint moved with them (pan + zoom toward them).
    zoom = after["view"]["zoom"]
    assert abs(zoom - 2.0) < 0.05, zoom
    # The stroke at board y=300 is now drawn at screen y = (300 - view.y) * zoom.
    wait_ink(phone, (180 - after["view"]["x"]) * zoom, (300 - after["view"]["y"]) * zoom)

    # The page itself did not scroll or zoom.
    assert phone.evaluate("() => [window.scrollX, window.scrollY, visualViewport.scale]") == [
        0,
        0,
        1,
    ]


def stroke_then_pinch(cdp, x0: float, y: float) -> None:
    """Second finger down while the first one is drawing, spread, lift both."""
    last = x0 + 100
    touch(cdp, "touchStart", [(last, y), (last + 100, y + 200)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(last - step * 5, y), (last + 100 + step * 5, y + 200)])
    touch(cdp, "touchEnd", [])


def draw_touch(cdp, x0: float, y: float, steps: int = 10) -> None:
    """One finger down at (x0, y) moving right 10 px per step, left down."""
    touch(cdp, "touchStart", [(x0, y)])
    for step in range(1, steps + 1):
        touch(cdp, "touchMove", [(x0 + step * 10, y + (step % 2))])


@pytest.mark.timeout(60)
def test_touch_stroke_that_becomes_a_pinch_is_aborted_everywhere(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/touch-abort"
    phone = open_board(url, **PHONE)
    desk = open_board(url)
    cdp = phone.context.new_cdp_session(phone)

    # One finger goes live at once (no hold): the desk sees the stroke grow while it is drawn.
    draw_touch(cdp, 80, 300)
    wait_for(desk, "(s) => s.peerLive.length === 1 && s.strokes === 0")
    wait_ink(desk, 130, 300)

    # A second finger: the gesture is a pinch now, and the stroke is gone from both pages.
    stroke_then_pinch(cdp, 80, 300)
    wait_for(phone, "(s) => s.view.zoom > 1 && s.ownLive === 0 && s.pending === 0 && !s.busy")
    wait_for(desk, "(s) => s.peerLive.length === 0 && !s.busy")
    wait_ink(desk, 130, 300, present=False)
    view = summary(phone)["view"]
    x, y = (130 - view["x"]) * view["zoom"], (300 - view["y"]) * view["zoom"]
    wait_ink(phone, x, y, present=False)
    assert summary(phone)["strokes"] == summary(desk)["strokes"] == 0

    # A plain one-finger stroke still commits, and it is the board's only op: nothing of the
    # aborted stroke was ever committed.
    draw_touch(cdp, 80, 600)
    touch(cdp, "touchEnd", [])
    wait_settled(phone, 1)
    wait_settled(desk, 1)
    ids = summary(phone)["visible"]
    assert len(ids) == 1
    late = open_board(url)
    wait_settled(late, 1)
    for page in (phone, desk, late):
        state = summary(page)
        assert state["seq"] == 1 and state["visible"] == ids and state["peerLive"] == []
    assert ink_at(late, 130, 300) == 0


@pytest.mark.timeout(60)
def test_aborted_touch_stroke_is_not_resent_after_a_reconnect(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/touch-abort-reconnect"
    phone = open_board(url, **PHONE)
    desk = open_board(url)
    cdp = phone.context.new_cdp_session(phone)

    def reconnect() -> int:
        """Drop the phone's socket; wait until it is back under a new peer number."""
        old = summary(phone)["me"]["peer"]
        phone.evaluate("() => window.__whiteboard.dropConnection()")
        wait_for(phone, "(s, old) => s.ready && s.me.peer !== old", old)
        return summary(phone)["me"]["peer"]

    # The connection drops mid-stroke: the stroke is begun again on the new connection...
    draw_touch(cdp, 80, 300)
    wait_for(desk, "(s) => s.peerLive.length === 1")
    peer = reconnect()
    touch(cdp, "touchMove", [(190, 300)])
    wait_for(
        desk, "(s, peer) => s.peers.some((p) => p.peer === peer) && s.peerLive.length === 1", peer
    )
    # ...and a pinch aborts it there; another reconnect does not bring it back.
    stroke_then_pinch(cdp, 80, 300)
    wait_for(desk, "(s) => s.peerLive.length === 0")
    wait_for(phone, "(s) => s.ownLive === 0 && s.pending === 0")
    reconnect()
    wait_for(phone, "(s) => s.pending === 0 && s.framesSent > 0")

    late = open_board(url)
    for page in (phone, desk, late):
        state = summary(page)
        assert state["seq"] == 0 and state["strokes"] == 0 and state["peerLive"] == [], state
    wait_ink(late, 130, 300, present=False)


@pytest.mark.timeout(60)
def test_pen_pressure_is_sent_and_shared(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/pen"
    tablet = open_board(url)
    viewer = open_board(url)
    cdp = tablet.context.new_cdp_session(tablet)

    def pen(kind: str, x: float, y: float, force: float) -> None:
        cdp.send(
            "Input.dispatchMouseEvent",
            {
                "type": kind,
                "x": x,
                "y": y,
                "force": force,
                "pointerType": "pen",
                "button": "left",
                "buttons": 0 if kind == "mouseReleased" else 1,
                "clickCount": 1,
            },
        )

    pen("mousePressed", 100, 300, 0.1)
    for step in range(1, 30):
        pen("mouseMoved", 100 + step * 10, 300, min(1.0, 0.1 + step * 0.03))
    pen("mouseReleased", 390, 300, 0.0)
    wait_settled(viewer, 1)
    assert summary(viewer)["withPressure"] == 1
    wait_ink(viewer, 350, 300)

    # A mouse stroke carries no pressure.
    tablet.mouse.move(100, 400)
    tablet.mouse.down()
    tablet.mouse.move(300, 400, steps=5)
    tablet.mouse.up()
    wait_settled(viewer, 2)
    assert summary(viewer)["withPressure"] == 1
