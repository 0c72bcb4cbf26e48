"""Strokes are drawn while the board fonts load; text waits for them and comes out in them.

A first visit fetches 370 KB of fonts. The layer worker draws strokes meanwhile, but never text:
a worker resolves a font string once and keeps what it found, so text drawn before the fonts are
in would stay in a serif stand-in for good, on every context, even after a full redraw (what a
earlier attempt did; ``layer-worker.js``). Here the font files are held back until the strokes
are on screen, then let through: the text must then be drawn, in the shipped fonts (its ink as
wide as the export's, which uses the same files), Latin and Cyrillic.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Route

from tests.serving import ServerThread

from .helpers import summary, wait_for, wait_ink
from .seeding import seed_board
from .test_export_elements_match_page import (
    MAX_TEXT_BOX_ERROR_PX,
    VIEW_PX,
    export_pixels,
    ink_box,
    page_pixels,
)

BLUE = (26, 115, 232)
TEXT_AREA = (0, 0, VIEW_PX[0], 200)


@pytest.mark.timeout(60)
def test_strokes_are_drawn_before_the_fonts_and_text_in_the_fonts_after(
    server: ServerThread, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    board = "fonts-late"
    text = "Hello \u041f\u0440\u0438\u0432\u0435\u0442 world"
    seed_board(
        server.ws_url,
        board,
        [
            {
                "type": "text",
                "id": "t",
                "x": 40,
                "y": 100,
                "size": 40,
                "color": "#1a73e8",
                "text": text,
            },
            {
                "type": "stroke",
                "id": "s",
                "tool": "pen",
                "color": "#000000",
                "width": 6,
                "pts": [400, 1200, 2400, 0],
            },  # quarter units: (100, 300) to (700, 300)
        ],
    )
    exported = export_pixels(server, board, 1.0)
    export_box = ink_box(exported, BLUE, TEXT_AREA)

    context = new_context(viewport=dict(zip(("width", "height"), VIEW_PX, strict=True)))
    held: list[Route] = []
    released = False

    def hold_fonts(route: Route) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    context.route("**/*.woff2", hold_fonts)
    page = context.new_page()
    page.goto(f"{server.http_url}/b/{board}#0,0,1", wait_until="commit")  # load waits for fonts
    page.wait_for_function("() => window.__whiteboard")
    wait_for(page, "(s) => s.seq === 2 && s.stats.renderer === 'worker'")
    wait_ink(page, 350, 300)  # the stroke is on screen, the fonts still held
    assert held, "the fonts were not asked for"
    before = page_pixels(page)
    before.save(tmp_path / "page-fonts-held.png")
    assert summary(page)["stats"]["drawnMs"] is None  # not complete without its text
    with pytest.raises(ValueError):  # and no text in a stand-in font meanwhile
        ink_box(before, BLUE, TEXT_AREA)

    released = True
    for route in held:
        route.continue_()
    wait_for(page, "(s) => s.stats.drawnMs !== null && !s.busy")
    drawn = page_pixels(page)
    drawn.save(tmp_path / "page-fonts-in.png")
    page_box = ink_box(drawn, BLUE, TEXT_AREA)
    print(f"text ink box page {page_box} export {export_box}")
    assert all(
        abs(a - b) <= MAX_TEXT_BOX_ERROR_PX for a, b in zip(page_box, export_box, strict=True)
    ), f"see {tmp_path}"
