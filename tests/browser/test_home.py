"""The home page finds the boards this browser opened (and only those), makes new boards and
opens boards by name; the board page leads home and to a new board."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.serving import ServerThread

from .helpers import draw, horizontal, wait_ready, wait_settled
from .test_touch import PHONE

NEW_BOARD = re.compile(r".*/b/[A-Za-z0-9_][A-Za-z0-9_-]{21}$")


def card(page: Page, title: str):
    return page.locator(".board-card", has=page.locator(".title", has_text=title))


@pytest.mark.timeout(90)
def test_home_lists_the_boards_this_browser_opened_with_thumbnails_and_removal(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    context = new_context(viewport={"width": 1280, "height": 800})  # the home link is in the bar
    page = context.new_page()
    page.goto(server.http_url + "/")
    expect(page.locator("#recent-empty")).to_be_visible()
    expect(page.locator(".board-card")).to_have_count(0)

    # New board: an unguessable id, drawn on; then a readable board opened by name.
    page.locator("#new-board").click()
    expect(page).to_have_url(NEW_BOARD)
    wait_ready(page)
    drawn = page.url.rsplit("/", 1)[1]
    draw(page, horizontal(200, 500, 300))
    wait_settled(page, 1)
    page.locator("#home-link").click()
    expect(page).to_have_url(server.http_url + "/")
    page.locator("#open-name").fill("orchard-planning")
    page.locator("#open-form button[type=submit]").click()
    expect(page).to_have_url(server.http_url + "/b/orchard-planning")
    wait_ready(page)
    page.locator("#menu-btn").click()
    page.locator("#menu-panel a[href='/']").click()

    # Most recent first; the drawn board has a thumbnail with ink in it, the empty one none.
    expect(page.locator(".board-card")).to_have_count(2)
    expect(page.locator(".board-card .title")).to_have_text(["orchard-planning", drawn])
    expect(page.locator(".board-card .visited").first).to_have_text("visited just now")
    thumb = card(page, drawn).locator("img.thumb")
    expect(thumb).to_have_js_property("complete", True)
    darkest = thumb.evaluate("""img => {
        const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let min = 255; for (let i = 0; i < d.length; i += 4) min = Math.min(min, d[i]);
        return min; }""")
    assert darkest < 100, "the thumbnail shows the stroke"
    expect(card(page, "orchard-planning").locator("img.thumb")).to_have_count(0)
    card(page, drawn).locator("a").click()
    expect(page).to_have_url(server.http_url + "/b/" + drawn)
    wait_settled(page, 1)
    page.go_back()

    # Removing forgets it (the board itself stays); it is still gone after a reload.
    card(page, "orchard-planning").locator(".remove").click()
    expect(page.locator(".board-card .title")).to_have_text([drawn])
    page.reload()
    expect(page.locator(".board-card .title")).to_have_text([drawn])

    # Another browser knows none of this: the list comes from this browser, not the server.
    stranger = new_context().new_page()
    stranger.goto(server.http_url + "/")
    expect(stranger.locator("#recent-empty")).to_be_visible()
    expect(stranger.locator(".board-card")).to_have_count(0)


@pytest.mark.timeout(60)
def test_open_by_name_suggests_the_nearest_valid_name_and_new_board_from_a_board(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context().new_page()
    page.goto(server.http_url + "/")
    page.locator("#open-name").fill("Café.Retro 2024")
    page.locator("#open-form button[type=submit]").click()
    expect(page.locator("#open-hint")).to_contain_text("may only hold letters")
    expect(page.locator("#open-name")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Use Cafe-Retro-2024").click()
    expect(page.locator("#open-name")).to_have_value("Cafe-Retro-2024")
    page.locator("#open-form button[type=submit]").click()
    expect(page).to_have_url(server.http_url + "/b/Cafe-Retro-2024")
    wait_ready(page)

    # "New board" from a board's menu opens a fresh board.
    page.locator("#menu-btn").click()
    page.locator("#new-board").click()
    expect(page).to_have_url(NEW_BOARD)
    wait_ready(page)

    # A bad URL gets the styled page, whose suggestion opens the board.
    page.goto(server.http_url + "/b/team.retro")
    expect(page.locator("h1")).to_have_text("That is not a board name")
    page.locator("#suggestion").click()
    expect(page).to_have_url(server.http_url + "/b/team-retro")
    wait_ready(page)


@pytest.mark.timeout(60)
def test_a_bad_board_address_on_a_phone_is_a_styled_page_that_leads_somewhere(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context(**PHONE).new_page()
    response = page.goto(f"{server.http_url}/b/caf%C3%A9.retro")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("That is not a board name")
    expect(page.locator("main")).to_contain_text("1 to 64")
    # Styled: the stylesheet applies (buttons are buttons a thumb can hit), nothing overflows.
    for name in ("New board", "Home"):
        box = page.get_by_role("link", name=name, exact=True).bounding_box()
        assert box is not None and box["height"] >= 44 and box["x"] + box["width"] <= 390, name
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.locator("#suggestion").click()
    expect(page).to_have_url(re.compile(r"/b/cafe-retro$"))
    wait_ready(page)
    page.go_back()
    page.get_by_role("link", name="New board", exact=True).click()
    expect(page).to_have_url(NEW_BOARD)
    wait_ready(page)
