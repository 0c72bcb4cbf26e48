"""Controls as a user meets them: a click on the board that closes a panel draws nothing; on a
phone every control is at least 44x44 CSS px and the bars take at most a fifth of the height;
the bars never overlap at common sizes; `?` (or the menu, on touch) opens the help."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.serving import ServerThread

from .helpers import draw, horizontal, summary, wait_for, wait_settled
from .test_touch import PHONE, touch

MIN_TARGET_PX = 44
MAX_BARS_SHARE = 0.2

CONTROLS = """(root) => [...document.querySelectorAll(root)].flatMap((el) =>
  [...el.querySelectorAll('button, a, input, label.swatch')].concat(
    el.matches('button, a') ? [el] : []))
  .filter((c) => c.offsetParent !== null && getComputedStyle(c).visibility !== 'hidden')
  .filter((c) => !(c.tagName === 'INPUT' && c.closest('label.swatch')))
  .map((c) => { const r = c.getBoundingClientRect();
    return { what: c.id || c.dataset.tool || c.dataset.menu || c.dataset.color || c.dataset.width
               || c.dataset.action || c.getAttribute('aria-label') || c.textContent.trim(),
             width: r.width, height: r.height }; })"""

BARS = """() => ['#toolbar', '#topbar', '#zoombar'].map((s) => document.querySelector(s))
  .filter((el) => el.offsetParent !== null || getComputedStyle(el).position === 'fixed'
                  && getComputedStyle(el).display !== 'none')
  .map((el) => { const r = el.getBoundingClientRect();
    return { id: el.id, left: r.left, top: r.top, right: r.right, bottom: r.bottom,
             overflow: el.scrollWidth > el.clientWidth + 1 }; })"""


def small_controls(page: Page, root: str) -> list[dict]:
    return [
        c
        for c in page.evaluate(CONTROLS, root)
        if c["width"] < MIN_TARGET_PX or c["height"] < MIN_TARGET_PX
    ]


@pytest.mark.timeout(60)
def test_a_phone_has_44px_controls_and_bars_within_a_fifth_of_its_height(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    phone = open_board(f"{server.http_url}/b/phone-sizes", **PHONE)
    assert phone.evaluate("() => matchMedia('(pointer: coarse)').matches")
    measured = phone.evaluate(CONTROLS, "#toolbar, #topbar")
    assert len(measured) >= 12, measured  # 8 tools and actions below, 4 controls above
    assert small_controls(phone, "#toolbar, #topbar") == []

    bars = phone.evaluate(BARS)
    assert {bar["id"] for bar in bars} == {"toolbar", "topbar"}  # zoom moved into the menu
    covered = sum(bar["bottom"] - bar["top"] for bar in bars)
    assert covered <= MAX_BARS_SHARE * 844, bars
    for bar in bars:
        assert bar["left"] >= 0 and bar["right"] <= 390 and not bar["overflow"], bar

    # Every panel and popover, opened in turn: its controls are as large.
    for button, panel in (
        ("#style-btn", "#style"),
        ("#shapes-btn", "#shapes"),
        ("#people-btn", "#people-panel"),
        ("#share-btn", "#share-panel"),
        ("#menu-btn", "#menu-panel"),
    ):
        phone.locator(button).click()
        expect(phone.locator(panel)).to_be_visible()
        controls = phone.evaluate(CONTROLS, panel)
        assert controls, panel
        assert small_controls(phone, panel) == [], panel
        phone.keyboard.press("Escape")
        expect(phone.locator(panel)).to_be_hidden()

    # The popovers work: a colour and a shape chosen on the phone are what it draws with.
    phone.locator("#style-btn").click()
    phone.locator("#palette [data-color='#e53935']").click()
    expect(phone.locator("#style")).to_be_hidden()
    phone.locator("#shapes-btn").click()
    phone.locator("#shapes [data-tool=rect]").click()
    expect(phone.locator("#shapes-btn")).to_have_attribute("aria-checked", "true")
    cdp = phone.context.new_cdp_session(phone)
    touch(cdp, "touchStart", [(100, 300)])
    touch(cdp, "touchMove", [(250, 450)])
    touch(cdp, "touchEnd", [])
    wait_settled(phone, 1)
    op = phone.evaluate("() => window.__whiteboard.summary().visible")
    assert len(op) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("viewport", "coarse"),
    [
        ((940, 700), False),
        ((1100, 700), False),
        ((1280, 800), False),
        ((800, 600), False),
        ((1024, 768), True),
        ((390, 844), True),
        ((844, 390), True),
    ],
)
def test_the_bars_never_overlap(
    server: ServerThread, open_board: Callable[..., Page], viewport: tuple[int, int], coarse: bool
) -> None:
    width, height = viewport
    options: dict = {"viewport": {"width": width, "height": height}}
    if coarse:
        options |= {"has_touch": True, "is_mobile": True}
    page = open_board(f"{server.http_url}/b/bars", **options)
    page.locator("#status").evaluate("el => el.dataset.state = 'reconnecting'")  # widest text
    page.locator("#status").evaluate("el => el.textContent = 'Reconnecting…'")
    bars = page.evaluate(BARS)
    for bar in bars:
        assert bar["left"] >= 0 and bar["right"] <= width and bar["bottom"] <= height, bar
        assert not bar["overflow"], bar
    for i, a in enumerate(bars):
        for b in bars[i + 1 :]:
            apart = (
                a["right"] <= b["left"]
                or b["right"] <= a["left"]
                or a["bottom"] <= b["top"]
                or b["bottom"] <= a["top"]
            )
            assert apart, (a, b)
    if coarse:
        assert small_controls(page, "#toolbar, #topbar, #zoombar") == []


@pytest.mark.timeout(60)
def test_a_click_on_the_board_that_closes_a_panel_draws_nothing(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"{server.http_url}/b/dismiss"
    alice, bob = open_board(url), open_board(url)
    for opener, panel in (
        ("#share-btn", "#share-panel"),
        ("#people-btn", "#people-panel"),
        ("#menu-btn", "#menu-panel"),
        ("#clear", "#confirm-clear"),
    ):
        alice.locator(opener).click()
        expect(alice.locator(panel)).to_be_visible()
        draw(alice, horizontal(200, 400, 300))
        expect(alice.locator(panel)).to_be_hidden()
        state = summary(alice)
        assert state["ownLive"] == 0 and state["pending"] == 0 and state["strokes"] == 0, panel
    alice.keyboard.press("?")
    expect(alice.locator("#help")).to_be_visible()
    draw(alice, horizontal(200, 400, 640))  # below the help box
    expect(alice.locator("#help")).to_be_hidden()

    # With nothing open, the same gesture draws; Bob sees that stroke and nothing before it.
    draw(alice, horizontal(200, 400, 350))
    wait_settled(alice, 1)
    wait_settled(bob, 1)
    assert summary(bob)["seq"] == 1

    # On a phone, a tap that closes a popover does not draw either.
    phone = open_board(url, **PHONE)
    cdp = phone.context.new_cdp_session(phone)
    phone.locator("#style-btn").click()
    expect(phone.locator("#style")).to_be_visible()
    touch(cdp, "touchStart", [(100, 300)])
    for step in range(1, 6):
        touch(cdp, "touchMove", [(100 + step * 20, 300)])
    touch(cdp, "touchEnd", [])
    expect(phone.locator("#style")).to_be_hidden()
    wait_for(phone, "(s) => s.ownLive === 0 && s.pending === 0")
    assert summary(phone)["seq"] == 1 and summary(bob)["peerLive"] == []


@pytest.mark.timeout(60)
def test_help_opens_with_the_question_mark_and_from_the_menu_on_a_phone(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    page = open_board(f"{server.http_url}/b/help")
    page.keyboard.press("?")
    help_box = page.locator("#help")
    expect(help_box).to_be_visible()
    expect(help_box).to_contain_text("Undo your last change")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    page.locator("#menu-btn").click()
    page.locator("#help-btn").click()
    expect(help_box).to_be_visible()
    page.locator("#help-close").click()
    expect(help_box).to_be_hidden()

    phone = open_board(f"{server.http_url}/b/help", **PHONE)
    phone.locator("#menu-btn").click()
    phone.locator("#help-btn").click()
    expect(phone.locator("#help")).to_be_visible()
    box = phone.locator("#help").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert small_controls(phone, "#help") == []
    phone.locator("#help-close").click()
    expect(phone.locator("#help")).to_be_hidden()
