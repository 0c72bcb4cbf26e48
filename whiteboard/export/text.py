"""Text and sticky notes as the page lays them out (``static/js/text.js``, docs/protocol.md
Rendering), drawn with Skia's paragraph layout: HarfBuzz shaping, bidi reordering within a line
(left-to-right base), and per-character fallback from the main font to the fallback font, as
Chromium's canvas does with ``font-family: "Whiteboard Sans", "Whiteboard Fallback"``. Only the
two shipped fonts are known here, so the export never uses a font of the machine it runs on.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import skia

from .fonts import FALLBACK_FAMILY, MAIN_FAMILY, drawable, fonts

LINE_HEIGHT = 1.25
"""Line pitch, in font sizes (text.js ``LINE_HEIGHT``)."""
BASELINE = 0.95
"""The first line's baseline below the element's top, in font sizes (text.js ``BASELINE``)."""
NOTE_SIDE = 10
NOTE_PADDING = 1
NOTE_TEXT_COLOR = "#1f2328"
WIDTHS_CACHED = 4096


@functools.cache
def font_collection() -> skia.textlayout.FontCollection:
    """The board fonts, for Skia's paragraph layout (made once per process)."""
    provider = skia.textlayout.TypefaceFontProvider()
    for font in fonts():
        typeface = skia.Typeface.MakeFromData(skia.Data.MakeWithCopy(font.truetype))
        provider.registerTypeface(typeface, font.family)
    collection = skia.textlayout.FontCollection()
    collection.setDefaultFontManager(provider)
    return collection


def colour(color: str) -> int:
    return skia.Color(int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def paragraph(line: str, size: float, color: str) -> skia.textlayout.Paragraph:
    """One line laid out (no wrapping)."""
    text_style = skia.textlayout.TextStyle()
    text_style.setFontFamilies([MAIN_FAMILY, FALLBACK_FAMILY])
    text_style.setFontSize(size)
    text_style.setForegroundColor(skia.Paint(Color=colour(color), AntiAlias=True))
    style = skia.textlayout.ParagraphStyle()
    style.setTextStyle(text_style)
    builder = skia.textlayout.ParagraphBuilder(style, font_collection(), skia.Unicode())
    builder.addText(line)
    laid_out = builder.Build()
    laid_out.layout(1e9)
    return laid_out


@functools.lru_cache(maxsize=WIDTHS_CACHED)
def line_width(line: str, size: float) -> float:
    """The advance of one line at a font size (the page's ``measureText(line).width``)."""
    return float(paragraph(line, size, "#000000").MaxIntrinsicWidth) if line else 0.0


def text_lines(text: str) -> list[str]:
    return drawable(text).split("\n")


def own_box(op: Mapping[str, Any], lines: Sequence[str]) -> tuple[float, float, float, float]:
    """A text's or note's box in its own coordinates (text.js ``textBox`` / ``noteBox``)."""
    x, y, size = float(op["x"]), float(op["y"]), float(op["size"])
    width = max((line_width(line, size) for line in lines), default=0.0)
    height = len(lines) * LINE_HEIGHT * size
    if op["type"] == "note":
        pad = 2 * NOTE_PADDING * size
        width = max(NOTE_SIDE * size, width + pad)
        height = max(NOTE_SIDE * size, height + pad)
    return x, y, x + width, y + height


def draw_lines(
    canvas: skia.Canvas, lines: Sequence[str], x: float, y: float, size: float, color: str
) -> None:
    """Lines with their first line's top at (x, y), as text.js ``fillLines``."""
    for index, line in enumerate(lines):
        if not line:
            continue
        laid_out = paragraph(line, size, color)
        baseline = y + (BASELINE + index * LINE_HEIGHT) * size
        # Skia's paragraph puts its first baseline at the ascent rounded to a whole unit (its
        # "rounding hack"; measured: 19.375 -> 19, 13.85 -> 14), not at AlphabeticBaseline.
        laid_out.paint(canvas, x, baseline - math.floor(laid_out.AlphabeticBaseline + 0.5))
