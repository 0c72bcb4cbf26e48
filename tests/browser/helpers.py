"""Small helpers shared by the browser tests: reading the page's state and its canvas pixels."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import Page

SUMMARY = "() => window.__whiteboard.summary()"


def summary(page: Page) -> dict[str, Any]:
    return page.evaluate(SUMMARY)


def wait_ready(page: Page) -> None:
    page.wait_for_function("() => window.__whiteboard && window.__whiteboard.summary().ready")


def wait_for(page: Page, predicate: str, arg: Any = None) -> None:
    """Wait until ``predicate(summary, arg)`` is true in the page."""
    page.wait_for_function(
        f"([arg]) => {{ const s = window.__whiteboard.summary(); return ({predicate})(s, arg); }}",
        arg=[arg],
    )


def double_click(page: Page, x: float, y: float) -> None:
    """Two left clicks 150 ms apart by the mouse's own clock (CDP timestamps, which the page sees
    as ``event.timeStamp``): a slow driver on a busy machine must not split them into two."""
    cdp = page.context.new_cdp_session(page)
    start = time.time()
    cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "timestamp": start})
    for count, at in ((1, start + 0.01), (2, start + 0.16)):
        for kind, t in (("mousePressed", at), ("mouseReleased", at + 0.05)):
            event = {"type": kind, "x": x, "y": y, "button": "left", "clickCount": count}
            cdp.send("Input.dispatchMouseEvent", {**event, "timestamp": t})
    cdp.detach()


def wait_settled(page: Page, strokes: int) -> None:
    """The page has ``strokes`` committed strokes, nothing pending, and its canvas is drawn."""
    wait_for(
        page, "(s, n) => s.strokes === n && s.pending === 0 && s.ownLive === 0 && !s.busy", strokes
    )


PIXEL_JS = """([x, y]) => {
  const canvas = document.getElementById('board');
  const dpr = canvas.width / canvas.getBoundingClientRect().width;
  const r = 3 * dpr;
  const data = canvas.getContext('2d').getImageData(
      Math.round(x * dpr - r), Math.round(y * dpr - r), 2 * r + 1, 2 * r + 1).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) ink = Math.max(ink, data[i]);
  return ink;
}"""


def ink_at(page: Page, x: float, y: float) -> int:
    """Highest canvas alpha (0-255) within 3 CSS px of (x, y): 0 means nothing is drawn there."""
    return page.evaluate(PIXEL_JS, [x, y])


def wait_ink(page: Page, x: float, y: float, present: bool = True) -> None:
    """Wait until the canvas shows (or no longer shows) ink at CSS point (x, y)."""
    check = "> 0" if present else "=== 0"
    page.wait_for_function(f"(args) => ({PIXEL_JS})(args) {check}", arg=[x, y])


def choose_tool(page: Page, tool: str) -> None:
    """Click a tool's button, through the shapes popover where the layout folds it there (phones,
    and desktops narrower than 1280 px)."""
    button = page.locator(f"#toolbar [data-tool={tool}]")
    if not button.is_visible():
        page.locator("#shapes-btn").click()
    button.click()


def draw(page: Page, points: list[tuple[float, float]], *, release: bool = True) -> None:
    """Drag the mouse through ``points`` (CSS pixels)."""
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=3)
    if release:
        page.mouse.up()


def horizontal(x0: float, x1: float, y: float, count: int = 12) -> list[tuple[float, float]]:
    """A freehand-like stroke from (x0, y) to (x1, y); its middle is inked at ((x0 + x1) / 2, y)."""
    return [(x0 + (x1 - x0) * i / count, y) for i in range(count + 1)]
