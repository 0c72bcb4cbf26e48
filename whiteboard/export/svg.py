"""Board elements -> an SVG document: the picture of the PNG export, as vector elements.

Coordinates stay in board units (the ``viewBox`` is the frame's area). Each element says what the
canvas does: smoothed pens are quadratic curves stroked with round caps and joins, pressure pens
are filled perfect-freehand outlines, highlighters carry ``opacity`` (one element, composited
once, so their self-overlaps do not darken, as on the canvas). One function per element kind
(``builders``), as in ``render.py``. Text and notes are ``<text>`` lines in the two shipped fonts,
embedded (subset to the characters used) as ``@font-face`` data; images are embedded as data URLs:
the file is self-contained. Text is escaped, never markup.

Size and speed: a pen's path is written as ``M x0 y0 q ... t ... l ...``, relative and with SVG's
smooth quadratic ``t``: the canvas path's control points are the stroke's points and its ends the
midpoints between them, so each control is the reflection of the one before, exactly what ``t``
assumes, and one midpoint-to-midpoint step (an exact multiple of 1/8 unit, since points are
quarter units) is all a point costs: about 10 bytes. The numbers come from integer eighths through
a lookup table, with no float formatting per point.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Sequence
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .frame import PRESSURE_COSTS, Frame, Geometry, Stroke, decode, uses_pressure
from .parts import in_parts
from .render import (
    HIGHLIGHTER_OPACITY,
    IMAGE_PLACEHOLDER,
    PROGRESS_EVERY,
    Progress,
    pressure_outlines,
)

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}

_TABLE_EIGHTHS = 1 << 14
"""Eighths of a unit with a precomputed decimal text: +-2,048 units covers nearly every step."""


def _eighths_text(value: int) -> str:
    sign = "-" if value < 0 else ""
    whole, eighths = divmod(abs(value), 8)
    if not eighths:
        return f"{sign}{whole}"
    fraction = f"{eighths / 8:.3f}".rstrip("0")[1:]  # ".5", ".125", ...
    return f"{sign}{whole or ''}{fraction}"


_TABLE = [_eighths_text(v) for v in range(-_TABLE_EIGHTHS, _TABLE_EIGHTHS)]


def _texts(values: Sequence[int]) -> list[str]:
    table, offset = _TABLE, _TABLE_EIGHTHS
    return [table[v + offset] if -offset <= v < offset else _eighths_text(v) for v in values]


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class SvgWriter:
    """Writes the elements of one board; holds the step texts of every stroke at once."""

    def __init__(self, ops: Sequence[Stroke], geometry: Geometry) -> None:
        self.ops, self.geometry = ops, geometry
        deltas = geometry.deltas
        # Step k: midpoint k -> midpoint k + 1 = delta k + delta k + 1, in eighths of a unit.
        steps = (deltas[:-1] + deltas[1:]).ravel().tolist() if len(deltas) > 1 else []
        self.steps = _texts(steps)
        found = pressure_outlines(ops, geometry, range(len(ops)))  # all at once: ~8x faster
        self.outlines = {index: found.polygon(k) for k, index in enumerate(found.strokes)}
        self.builders: dict[str, Callable[[int], str]] = {
            "stroke": self.stroke,
            "text": self.text,
            "note": self.text,
            "image": self.image,
        }

    def element(self, index: int) -> str:
        return self.builders[self.ops[index].get("type", "stroke")](index)

    def stroke(self, index: int) -> str:
        op = self.ops[index]
        color, width, tool = op["color"], op["width"], op["tool"]
        m = op.get("m")
        if m is not None:
            width *= math.sqrt(m[0] * m[1])
        opacity = f' opacity="{HIGHLIGHTER_OPACITY}"' if tool == "highlighter" else ""
        line = (
            f'fill="none" stroke="{color}" stroke-width="{_n(width)}" stroke-linecap="round" '
            f'stroke-linejoin="round"{opacity}'
        )
        xy = self.geometry.points(index)
        count = len(xy)
        if count == 0:
            return ""
        if tool in ("line", "rect", "ellipse"):
            return self.shape(tool, xy, line)
        if uses_pressure(op):
            polygon = self.outlines[index]
            if len(polygon) < 3:
                return ""
            # one %-format over all its numbers: half the time of an f-string per point
            d = ("%.2f " * (2 * len(polygon)))[:-1] % tuple(polygon.ravel().tolist())
            return f'<path d="M{d}Z" fill="{color}"/>'
        if count == 1:
            x, y = xy[0]
            return (
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(width / 2)}" fill="{color}"{opacity}/>'
            )
        if m is not None:  # placed: the deltas as sent no longer describe it
            return f'<path d="{_smoothed_absolute(xy)}" {line}/>'
        return f'<path d="{self.smoothed_d(index)}" {line}/>'

    def text(self, index: int) -> str:
        """A text or a note under its placement, as text.js draws it (lines at their baselines,
        left-aligned, left-to-right base direction)."""
        from .text import BASELINE, LINE_HEIGHT, NOTE_PADDING, NOTE_TEXT_COLOR, own_box, text_lines

        op = self.ops[index]
        lines = text_lines(op["text"])
        size = float(op["size"])
        x, y, color = float(op["x"]), float(op["y"]), op["color"]
        parts = [_placed_group(op)]
        if op["type"] == "note":
            x0, y0, x1, y1 = own_box(op, lines)
            parts.append(
                f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
                f"fill={quoteattr(color)}/>"
            )
            x, y, color = x + NOTE_PADDING * size, y + NOTE_PADDING * size, NOTE_TEXT_COLOR
        parts.append(
            f'<g font-family="{FONT_FAMILIES}" font-size="{_n(size)}" fill={quoteattr(color)} '
            'direction="ltr" xml:space="preserve">'
        )
        for number, text in enumerate(lines):
            if text:
                baseline = y + (BASELINE + number * LINE_HEIGHT) * size
                parts.append(f'<text x="{_n(x)}" y="{_n(baseline)}">{escape(text)}</text>')
        parts.append("</g></g>")
        return "".join(parts)

    def image(self, index: int) -> str:
        """An image stretched to its box, embedded (the grey placeholder when it is missing)."""
        op = self.ops[index]
        x, y, w, h = (float(op[key]) for key in ("x", "y", "w", "h"))
        box = f'x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}"'
        data = op.get("data")
        if data is None:
            return f'{_placed_group(op)}<rect {box} fill="{IMAGE_PLACEHOLDER}"/></g>'
        kind = IMAGE_TYPES.get(str(op["src"]).rsplit(".", 1)[-1], "image/png")
        url = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        return f'{_placed_group(op)}<image {box} preserveAspectRatio="none" href="{url}"/></g>'

    def smoothed_d(self, index: int) -> str:
        """The pen path of docs/protocol.md, in eighths of a unit, relative."""
        start = int(self.geometry.start[index])
        count = int(self.geometry.end[index]) - start
        d = self.geometry.deltas[start : start + min(count, 3)].tolist()
        head = "M" + " ".join(_texts([2 * d[0][0], 2 * d[0][1]]))
        if count == 2:
            return head + "l" + " ".join(_texts([2 * d[1][0], 2 * d[1][1]]))
        # q: control P1, end M1, both relative to P0; t: the next midpoints; l: to the last point
        q = _texts([2 * d[1][0], 2 * d[1][1], 2 * d[1][0] + d[2][0], 2 * d[1][1] + d[2][1]])
        steps = self.steps[2 * (start + 2) : 2 * (start + count - 1)]
        last = self.geometry.deltas[start + count - 1].tolist()
        tail = "l" + " ".join(_texts(last))
        return head + "q" + " ".join(q) + ("t" + " ".join(steps) if steps else "") + tail

    @staticmethod
    def shape(tool: str, xy: np.ndarray, line: str) -> str:
        (x0, y0), (x1, y1) = (xy[0], xy[1]) if len(xy) > 1 else (xy[0], xy[0])
        if tool == "line":
            return f'<path d="M{_n(x0)} {_n(y0)}L{_n(x1)} {_n(y1)}" {line}/>'
        if tool == "rect":
            return (
                f'<rect x="{_n(min(x0, x1))}" y="{_n(min(y0, y1))}" width="{_n(abs(x1 - x0))}" '
                f'height="{_n(abs(y1 - y0))}" {line}/>'
            )
        return (
            f'<ellipse cx="{_n((x0 + x1) / 2)}" cy="{_n((y0 + y1) / 2)}" '
            f'rx="{_n(abs(x1 - x0) / 2)}" ry="{_n(abs(y1 - y0) / 2)}" {line}/>'
        )


FONT_FAMILIES = "'Whiteboard Sans', 'Whiteboard Fallback'"


def _placed_group(op: Stroke) -> str:
    m = op.get("m")
    if m is None:
        return "<g>"
    return f'<g transform="matrix({_n(m[0])} 0 0 {_n(m[1])} {_n(m[2])} {_n(m[3])})">'


def _smoothed_absolute(xy: np.ndarray) -> str:
    """docs/protocol.md's pen path from absolute (placed) points."""
    if len(xy) == 2:
        return f"M{_n(xy[0, 0])} {_n(xy[0, 1])}L{_n(xy[1, 0])} {_n(xy[1, 1])}"
    parts = [f"M{_n(xy[0, 0])} {_n(xy[0, 1])}"]
    for i in range(1, len(xy) - 1):
        mx, my = (xy[i] + xy[i + 1]) / 2
        parts.append(f"Q{_n(xy[i, 0])} {_n(xy[i, 1])} {_n(mx)} {_n(my)}")
    parts.append(f"L{_n(xy[-1, 0])} {_n(xy[-1, 1])}")
    return "".join(parts)


def _font_faces(text: str) -> str:
    """``@font-face`` rules embedding the glyphs ``text`` needs from each shipped font."""
    from .fonts import fonts, subset_truetype

    rules = []
    for font in fonts():
        data = subset_truetype(font, text)
        if data is not None:
            encoded = base64.b64encode(data).decode()
            rules.append(
                f"@font-face{{font-family:'{font.family}';"
                f"src:url(data:font/ttf;base64,{encoded}) format('truetype')}}"
            )
    return f"<defs><style>{''.join(rules)}</style></defs>" if rules else ""


def _part(ops: Sequence[Stroke], geometry: Geometry, number: int, progress: Progress | None) -> str:
    """The elements of one run, one a line (``parts.Writer``)."""
    writer = SvgWriter(ops, geometry)
    out = []
    for index in range(len(ops)):
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index, len(ops))
        element = writer.element(index)
        if element:
            out.append(element)
    return "\n".join(out)


def render_svg(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    processes: int = 1,
    niceness: int = 0,
    deadline: float | None = None,
    geometry: Geometry | None = None,
) -> str:
    """A standalone SVG of ``ops`` over the frame's area, ``width`` x ``height`` pixels, its
    elements written in parts by up to ``processes`` processes (``parts.py``)."""
    w, h = frame.width / frame.scale, frame.height / frame.scale
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" '
        f'height="{frame.height}" viewBox="{_n(frame.x)} {_n(frame.y)} {_n(w)} {_n(h)}">'
    )
    out = [head]
    if background != "transparent":
        fill = "#ffffff" if background == "white" else background
        out.append(
            f'<rect x="{_n(frame.x)}" y="{_n(frame.y)}" width="{_n(w)}" height="{_n(h)}" '
            f"fill={quoteattr(fill)}/>"
        )
    geometry = decode(ops) if geometry is None else geometry
    inside = geometry.inside(frame.box())
    cost = PRESSURE_COSTS["svg"]
    written = in_parts(_part, ops, geometry, inside, cost, processes, niceness, deadline, progress)
    out.extend(part for part in written if part)
    texts = [ops[i]["text"] for i in inside.tolist() if ops[i].get("type") in ("text", "note")]
    if texts:  # the fonts' glyphs this picture's text needs, embedded once (the parts are text)
        out.insert(1, _font_faces("".join(texts)))
    out.append("</svg>\n")
    return "\n".join(out)
