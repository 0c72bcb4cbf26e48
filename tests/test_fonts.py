"""The shipped fonts: the page's coverage table is current, and both sides replace the same
characters."""

from __future__ import annotations

from whiteboard.export.fonts import COVERAGE_JS, MISSING, coverage, coverage_js, drawable, fonts


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
