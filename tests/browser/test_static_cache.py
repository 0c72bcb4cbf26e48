"""What a first and a return visit cost in files: compressed on the first, none on the return.

The page names its files under one version (``whiteboard/server/static_files.py``), cached
``immutable``: coming back to a board asks the server for the page alone, not for some 80 modules
one revalidation each (docs/performance.md, "Browser").
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Route

from tests.serving import ServerThread

from .helpers import wait_for, wait_ready
from .seeding import seed_board

TEXT = {"type": "text", "id": "t", "x": 40, "y": 80, "size": 24, "color": "#000000", "text": "Hi"}
STROKE = {
    "type": "stroke",
    "id": "s",
    "tool": "pen",
    "color": "#000000",
    "width": 6,
    "pts": [400, 1200, 2400, 0],
}

STATIC_ENTRIES_JS = """() => performance.getEntriesByType("resource")
  .filter((e) => new URL(e.name).pathname.startsWith("/static/"))
  .map((e) => ({ path: new URL(e.name).pathname, transferred: e.transferSize,
                 encoded: e.encodedBodySize, decoded: e.decodedBodySize }))"""

WORKER_ENTRIES_JS = f"""async () => {{
  // Until the worker has its fonts (a condition, polled; the test's timeout bounds it).
  while (self.fonts.size < 2) await new Promise((resolve) => setTimeout(resolve, 20));
  return ({STATIC_ENTRIES_JS})();
}}"""


def test_a_return_visit_fetches_no_static_file_and_a_first_one_gets_them_compressed(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    seed_board(server.ws_url, "cached", [TEXT])  # text: the layer worker loads the fonts
    context = new_context()
    first = context.new_page()
    first.goto(f"{server.http_url}/b/cached")
    wait_ready(first)
    entries = first.evaluate(STATIC_ENTRIES_JS)
    assert len(entries) > 40 and all(e["path"].startswith("/static/v/") for e in entries)
    main = next(e for e in entries if e["path"].endswith("/js/main.js"))
    assert 0 < main["encoded"] < main["decoded"] / 2  # sent compressed, decoded by the browser
    first.close()

    again = context.new_page()
    again.goto(f"{server.http_url}/b/cached")
    wait_ready(again)
    entries = again.evaluate(STATIC_ENTRIES_JS)
    assert len(entries) > 40
    assert [e["path"] for e in entries if e["transferred"] != 0] == []  # all from the cache
    # The layer worker's modules and fonts too.
    again.wait_for_function("() => window.__whiteboard.summary().stats.renderer === 'worker'")
    (worker,) = again.workers
    entries = worker.evaluate(WORKER_ENTRIES_JS)
    assert any(e["path"].endswith(".woff2") for e in entries)
    assert [e["path"] for e in entries if e["transferred"] != 0] == []


def test_the_layer_worker_of_a_board_without_text_never_fetches_the_fonts(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    """370 KB of fonts fetched and ~50 ms of the worker's time decoding them would be spent
    while the first picture is drawn, for nothing (layer-worker.js `needFonts`)."""
    seed_board(server.ws_url, "strokes-only", [STROKE])
    context = new_context()
    fonts: list[str] = []

    def record(route: Route) -> None:  # the page's and its workers' requests alike
        fonts.append(route.request.url.rsplit("/", 1)[1])
        route.continue_()

    context.route("**/*.woff2", record)
    page = context.new_page()
    page.goto(f"{server.http_url}/b/strokes-only#0,0,1")
    wait_for(page, "(s) => s.stats.renderer === 'worker' && s.stats.drawnMs != null && !s.busy")
    # The page loads them for its text measure and editor; the worker does not.
    page.wait_for_function(
        """() => performance.getEntriesByType("resource")
          .filter((e) => e.name.endsWith(".woff2")).length >= 2"""
    )
    assert sorted(fonts) == ["DejaVuSans.woff2", "Inter-Regular.woff2"]
    (worker,) = page.workers
    assert worker.evaluate("self.fonts.size") == 0
