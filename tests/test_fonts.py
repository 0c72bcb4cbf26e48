"""The shipped fonts: the page's coverage table is current, and both sides replace the same
characters."""

from __future__ import annotations

import io

from fontTools.ttLib import TTFont

from whiteboard.export.fonts import (
    COVERAGE_JS,
    MISSING,
    coverage,
    coverage_js,
    drawable,
    fonts,
    subset_truetype,
)


def test_the_pages_coverage_table_is_generated_from_the_font_files() -> None:
    assert COVERAGE_JS.read_text() == coverage_js(), "run: python -m whiteboard.export.fonts"


def test_the_fallback_covers_what_the_main_font_lacks_and_the_rest_becomes_a_box() -> None:
    main, fallback = fonts()
    hebrew = ord("\u05e9")
    assert hebrew not in main.codepoints and hebrew in fallback.codepoints
    assert ord("A") in main.codepoints and ord(MISSING) in coverage()
    assert (
        drawable("Hi \u05e9\u05dc\u05d5\u05dd\n\u6f22\u5b57")
        == "Hi \u05e9\u05dc\u05d5\u05dd\n" + MISSING * 2
    )


def test_a_subset_holds_the_texts_glyphs_and_is_made_once_for_the_same_characters() -> None:
    """Each SVG export embeds the glyphs of the board's text; the next export of the board has the
    same characters in another order or number, and gets the same subset without making it anew
    (a subset took 0.35 s)."""
    main = fonts()[0]
    first = subset_truetype(main, "Hello board")
    again = subset_truetype(main, "board Hello Hello")
    assert again is first  # the very bytes made before, not a subset made anew
    cmap = TTFont(io.BytesIO(first)).getBestCmap()
    assert set(map(chr, cmap)) == set("Helo bard")
    assert subset_truetype(main, "\u05e9") is None  # the main font has no Hebrew
