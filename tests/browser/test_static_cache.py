"""What a first and a return visit cost in files: compressed on the first, none on the return.

The page names its files under one version (``whiteboard/server/static_files.py``), cached
``immutable``: coming back to a board asks the server for the page alone, not for some 80 modules
one revalidation each (docs/performance.md, "Browser").
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext

from tests.serving import ServerThread

from .helpers import wait_ready

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
