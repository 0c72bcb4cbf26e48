"""Line, rectangle and ellipse are live: others see a shape change while it is dragged, as they
see freehand strokes grow, from a mouse or a finger."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

from tests.serving import ServerThread

from .helpers import choose_tool, ink_at, summary, wait_for, wait_ink, wait_settled
from .test_touch import PHONE, touch


@pytest.mark.timeout(60)
def test_others_see_a_shape_while_it_is_dragged(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/live-shapes"
    alice, bob = open_board(url), open_board(url)
    choose_tool(alice, "rect")
    alice.mouse.move(200, 200)
    alice.mouse.down()
    alice.mouse.move(300, 300, steps=4)
    wait_for(bob, "(s) => s.peerLive.length === 1 && s.strokes === 0")
    wait_ink(bob, 250, 300)  # the bottom edge, while the button is still down
    alice.mouse.move(400, 350, steps=4)
    wait_ink(bob, 350, 350)  # the preview follows the drag...
    wait_ink(bob, 250, 300, present=False)  # ...and the old one is gone
    assert summary(bob)["peerLive"] and summary(bob)["strokes"] == 0
    alice.mouse.up()
    wait_settled(bob, 1)
    wait_settled(alice, 1)
    assert summary(bob)["peerLive"] == []
    wait_ink(bob, 300, 350)
    assert ink_at(bob, 300, 275) == 0  # outlined, not filled

    # An ellipse drawn with a finger on a phone is live too.
    phone = open_board(url + "#0,0,1", **PHONE)  # not fitted to the drawing: same coordinates
    phone.locator("#shapes-btn").click()
    phone.locator("#shapes [data-tool=ellipse]").click()
    cdp = phone.context.new_cdp_session(phone)
    touch(cdp, "touchStart", [(100, 450)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(100 + step * 30, 450 + step * 20)])
    wait_for(alice, "(s) => s.peerLive.length === 1")
    wait_ink(alice, 175, 450)  # top of the ellipse from (100, 450) to (250, 550)
    touch(cdp, "touchEnd", [])
    for page in (alice, bob, phone):
        wait_settled(page, 2)
        assert summary(page)["peerLive"] == []
