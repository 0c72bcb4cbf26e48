"""The page preloads every module it and its layer worker import, so a first visit fetches them all
at once instead of one level of the import graph per round trip (docs/performance.md, "Browser").

``static/index.html`` lists them as ``<link rel="modulepreload">``; this test follows the static
``import``/``export ... from`` lines of ``static/js/main.js`` and ``static/js/layer-worker.js`` and
fails when the list and the graph part ways (a module added or dropped without the list following).
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
ENTRY_POINTS = ("js/main.js", "js/layer-worker.js")
STATIC_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["']([^"']+)["']""", re.M)
BARE_IMPORT = re.compile(r"""^\s*import\s*["']([^"']+)["']""", re.M)
PRELOAD = re.compile(r"""<link rel="modulepreload" href="/static/([^"]+)">""")


def imported(module: str) -> set[str]:
    """Paths (relative to static/) of the modules ``module`` imports statically."""
    source = (STATIC / module).read_text()
    found = STATIC_IMPORT.findall(source) + BARE_IMPORT.findall(source)
    here = (STATIC / module).parent
    return {(here / spec).resolve().relative_to(STATIC.resolve()).as_posix() for spec in found}


def static_graph(entries: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(entries)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(imported(module) - seen)
    return seen


def test_the_page_preloads_exactly_the_modules_it_and_its_worker_import() -> None:
    html = (STATIC / "index.html").read_text()
    preloaded = PRELOAD.findall(html)
    assert len(preloaded) == len(set(preloaded)), "a module is preloaded twice"
    assert set(preloaded) == static_graph(ENTRY_POINTS) - {"js/main.js"}


def test_the_import_graph_is_followed() -> None:
    """Not vacuous: the graph holds the vendored decoder's own modules and the worker's."""
    graph = static_graph(ENTRY_POINTS)
    assert "vendor/msgpack/Decoder.mjs" in graph
    assert {"js/layer-renderer.js", "js/elements.js", "js/render.js"} <= graph
    assert len(graph) > 40
