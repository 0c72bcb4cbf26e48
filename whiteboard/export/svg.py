"""Board elements -> an SVG document: the picture of the PNG export, as vector elements.

Coordinates stay in board units (the ``viewBox`` is the frame's area). Each element says what the
canvas does: smoothed pens are quadratic curves stroked with round caps and joins, pressure pens
are filled perfect-freehand outlines, highlighters carry ``opacity`` (one element, composited
once, so their self-overlaps do not darken, as on the canvas). One function per element kind
(``BUILDERS``), as in ``render.py``.

Size and speed: a pen's path is written as ``M x0 y0 q ... t ... l ...``, relative and with SVG's
smooth quadratic ``t``: the canvas path's control points are the stroke's points and its ends the
midpoints between them, so each control is the reflection of the one before, exactly what ``t``
assumes, and one midpoint-to-midpoint step (an exact multiple of 1/8 unit, since points are
quarter units) is all a point costs: about 10 bytes. The numbers come from integer eighths through
a lookup table, with no float formatting per point.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.sax.saxutils import quoteattr

import numpy as np

from .frame import Frame, Geometry, Stroke, decode, pressures, uses_pressure
from .freehand import outline
from .parts import in_parts
from .render import HIGHLIGHTER_OPACITY, PROGRESS_EVERY, Progress

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
        self.builders: dict[str, Callable[[int], str]] = {"stroke": self.stroke}

    def element(self, index: int) -> str:
        return self.builders[self.ops[index].get("type", "stroke")](index)

    def stroke(self, index: int) -> str:
        op = self.ops[index]
        color, width, tool = op["color"], op["width"], op["tool"]
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
            polygon = outline(xy[:, 0].tolist(), xy[:, 1].tolist(), pressures(op), width)
            if len(polygon) < 3:
                return ""
            d = " ".join(f"{x:.2f} {y:.2f}" for x, y in polygon)
            return f'<path d="M{d}Z" fill="{color}"/>'
        if count == 1:
            x, y = xy[0]
            return (
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(width / 2)}" fill="{color}"{opacity}/>'
            )
        return f'<path d="{self.smoothed_d(index)}" {line}/>'

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
    written = in_parts(_part, ops, geometry, inside, processes, niceness, deadline, progress)
    out.extend(part for part in written if part)
    out.append("</svg>\n")
    return "\n".join(out)
