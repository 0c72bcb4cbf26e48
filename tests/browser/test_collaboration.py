"""Two or more pages on one board see each other: strokes (also while drawn), late joins, undo,
redo and the eraser. Every wait is on a condition in the page, never a sleep."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.serving import ServerThread

from .helpers import (
    choose_tool,
    draw,
    horizontal,
    ink_at,
    summary,
    wait_for,
    wait_ink,
    wait_settled,
)
from .seeding import seed_board


@pytest.mark.timeout(60)
def test_two_pages_see_each_others_strokes_also_mid_stroke(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/pair"
    alice, bob = open_board(url), open_board(url)
    expect(alice.locator("#people-count")).to_have_text("2")
    expect(bob.locator("#people-count")).to_have_text("2")
    assert ink_at(bob, 300, 200) == 0

    # Alice draws without lifting the mouse: Bob sees the stroke grow before it is committed.
    draw(alice, horizontal(200, 400, 200), release=False)
    wait_for(bob, "(s) => s.peerLive.length === 1 && s.strokes === 0")
    wait_ink(bob, 300, 200)
    wait_for(bob, "(s) => s.cursors === 1")
    expect(bob.locator(".peer-cursor .label")).to_have_text(
        alice.locator("#name-input").input_value()
    )
    alice.mouse.up()
    wait_settled(bob, 1)
    wait_settled(alice, 1)
    assert summary(bob)["peerLive"] == []
    assert summary(alice)["visible"] == summary(bob)["visible"]

    # And the other way round, with a shape.
    choose_tool(bob, "rect")
    draw(bob, [(500, 300), (700, 450)])
    wait_settled(alice, 2)
    wait_ink(alice, 600, 300)  # the rectangle's top edge
    assert ink_at(alice, 600, 375) == 0  # outlined, not filled
    assert summary(alice)["visible"] == summary(bob)["visible"]


@pytest.mark.timeout(60)
def test_late_joiner_sees_everything(server: ServerThread, open_board: Callable[..., Page]) -> None:
    url = f"{server.http_url}/b/late"
    alice = open_board(url)
    for row in range(3):
        draw(alice, horizontal(100, 300, 150 + 60 * row))
    choose_tool(alice, "ellipse")
    draw(alice, [(400, 150), (600, 300)])
    alice.locator("[data-tool=eraser]").click()
    draw(alice, [(200, 200), (200, 220)])  # erases the middle stroke
    wait_for(alice, "(s) => s.strokes === 4 && s.visible.length === 3 && s.pending === 0")

    carol = open_board(url)
    wait_settled(carol, 4)
    assert summary(carol)["visible"] == summary(alice)["visible"]
    wait_ink(carol, 200, 150)
    wait_ink(carol, 200, 270)
    wait_ink(carol, 500, 150)  # the ellipse's top
    assert ink_at(carol, 250, 210) == 0  # the erased stroke


@pytest.mark.timeout(60)
def test_the_eraser_erases_a_moved_and_scaled_stroke_where_it_is_drawn(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    """A stroke someone moved (a transform) is hit where it is drawn now, at its placed width,
    not where its points were first drawn; sweeping over a sticky note leaves it (the eraser
    erases strokes) and does not fail."""
    line = {"type": "stroke", "id": "s1", "tool": "pen", "color": "#1e1e1e", "width": 4}
    moved = {"type": "transform", "id": "m1", "ids": ["s1"], "m": [2, 2, 0, 200]}
    note = {
        "type": "note",
        "id": "n1",
        "x": 500,
        "y": 100,
        "size": 16,
        "color": "#fff475",
        "text": "A",
    }
    seed_board(server.ws_url, "moved", [{**line, "pts": [200, 400, 400, 0]}, moved, note])
    page = open_board(f"{server.http_url}/b/moved#0,0,1")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    wait_settled(page, 2)
    wait_ink(page, 200, 400)  # from (100, 400) to (300, 400), 8 units wide
    page.locator("[data-tool=eraser]").click()
    draw(page, [(520, 120), (560, 140)])  # over the note
    draw(page, [(40, 100), (160, 100)])  # over the stroke's points as first drawn
    draw(page, [(400, 380), (400, 395)])  # past its end
    draw(page, [(150, 425), (250, 425)])  # clear of its ink by more than the eraser's radius
    wait_for(page, "(s) => s.pending === 0")
    assert sorted(summary(page)["visible"]) == ["n1", "s1"]
    # 11 units from its middle: within 8 (the eraser's radius) + 8 / 2, not 8 + 4 / 2 (unscaled)
    draw(page, [(190, 389), (210, 389)])
    wait_for(page, "(s) => s.visible.length === 1 && s.pending === 0")
    wait_ink(page, 200, 400, present=False)
    assert summary(page)["visible"] == ["n1"] and not errors, errors


@pytest.mark.timeout(60)
def test_undo_redo_and_eraser_propagate(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/undo"
    alice, bob = open_board(url), open_board(url)
    draw(alice, horizontal(100, 300, 200))
    wait_settled(bob, 1)
    wait_ink(bob, 200, 200)

    alice.keyboard.press("Control+z")
    wait_for(bob, "(s) => s.visible.length === 0")
    wait_ink(bob, 200, 200, present=False)
    wait_ink(alice, 200, 200, present=False)

    alice.locator("#redo").click()
    wait_for(bob, "(s) => s.visible.length === 1")
    wait_ink(bob, 200, 200)

    alice.keyboard.press("Control+z")
    wait_for(bob, "(s) => s.visible.length === 0")
    alice.keyboard.press("Control+Shift+z")
    wait_for(bob, "(s) => s.visible.length === 1")
    wait_ink(bob, 200, 200)

    # Bob erases Alice's stroke; Alice sees it go. Bob's undo brings it back for both.
    bob.locator("[data-tool=eraser]").click()
    draw(bob, [(200, 180), (200, 220)])
    wait_for(alice, "(s) => s.visible.length === 0 && s.strokes === 1")
    wait_ink(alice, 200, 200, present=False)
    bob.locator("#undo").click()
    wait_for(alice, "(s) => s.visible.length === 1")
    wait_ink(alice, 200, 200)

    # Clear asks first, then empties the board for everyone.
    alice.locator("#clear").click()
    expect(alice.locator("#confirm-clear")).to_be_visible()
    alice.locator("#confirm-clear-yes").click()
    wait_for(bob, "(s) => s.visible.length === 0")
    wait_ink(bob, 200, 200, present=False)
