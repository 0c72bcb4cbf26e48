"""Stroke ops -> an SVG document: the same picture as ``render.render_image``, as vector paths.

Coordinates stay in board units (the ``viewBox`` is the frame's area), written with at most two
decimals: points are quarter-units, so nothing is lost (a freehand point costs ~28 bytes).
Each element says what the canvas does: smoothed pens are ``Q`` curves stroked with round caps and
joins, pressure pens are filled perfect-freehand outlines, highlighters carry ``opacity`` (one
element, composited once, so their self-overlaps do not darken, as on the canvas).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

from ..protocol import absolute_points
from .render import HIGHLIGHTER_OPACITY, Frame, Stroke, freehand_outline, uses_pressure


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _smoothed_d(points: Sequence[tuple[float, float]]) -> str:
    parts = [f"M{_n(points[0][0])} {_n(points[0][1])}"]
    for i in range(1, len(points) - 1):
        cx, cy = points[i]
        ex, ey = (cx + points[i + 1][0]) / 2, (cy + points[i + 1][1]) / 2
        parts.append(f"Q{_n(cx)} {_n(cy)} {_n(ex)} {_n(ey)}")
    parts.append(f"L{_n(points[-1][0])} {_n(points[-1][1])}")
    return "".join(parts)


def stroke_element(stroke: Stroke) -> str:
    color, width = stroke["color"], stroke["width"]
    opacity = f' opacity="{HIGHLIGHTER_OPACITY}"' if stroke["tool"] == "highlighter" else ""
    line = (f'fill="none" stroke="{color}" stroke-width="{_n(width)}" stroke-linecap="round" '
            f'stroke-linejoin="round"{opacity}')
    points = absolute_points(stroke["pts"])
    tool = stroke["tool"]
    if tool in ("line", "rect", "ellipse") and len(points) == 2:
        (x0, y0), (x1, y1) = points
        if tool == "line":
            return f'<path d="M{_n(x0)} {_n(y0)}L{_n(x1)} {_n(y1)}" {line}/>'
        if tool == "rect":
            return (f'<rect x="{_n(min(x0, x1))}" y="{_n(min(y0, y1))}" width="{_n(abs(x1 - x0))}" '
                    f'height="{_n(abs(y1 - y0))}" {line}/>')
        return (f'<ellipse cx="{_n((x0 + x1) / 2)}" cy="{_n((y0 + y1) / 2)}" '
                f'rx="{_n(abs(x1 - x0) / 2)}" ry="{_n(abs(y1 - y0) / 2)}" {line}/>')
    if uses_pressure(stroke):
        outline = freehand_outline(stroke, points)
        if len(outline) < 3:
            return ""
        d = "M" + "L".join(f"{_n(x)} {_n(y)}" for x, y in outline) + "Z"
        return f'<path d="{d}" fill="{color}" fill-rule="nonzero"/>'
    if len(points) == 1 or len(set(points)) == 1:
        x, y = points[0]
        return f'<circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(width / 2)}" fill="{color}"{opacity}/>'
    return f'<path d="{_smoothed_d(points)}" {line}/>'


def render_svg(strokes: Sequence[Stroke], frame: Frame, background: str = "white") -> str:
    """A standalone SVG of ``strokes`` over the frame's area, ``width`` x ``height`` pixels."""
    w, h = frame.width / frame.scale, frame.height / frame.scale
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" '
            f'height="{frame.height}" viewBox="{_n(frame.x)} {_n(frame.y)} {_n(w)} {_n(h)}">')
    out = [head]
    if background != "transparent":
        fill = "#ffffff" if background == "white" else background
        out.append(f'<rect x="{_n(frame.x)}" y="{_n(frame.y)}" width="{_n(w)}" height="{_n(h)}" '
                   f"fill={quoteattr(fill)}/>")
    out.extend(element for element in map(stroke_element, strokes) if element)
    out.append("</svg>\n")
    return "\n".join(out)
