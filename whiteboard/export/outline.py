"""Stroke outlines in output pixels: what a canvas strokes, as polygons to fill.

Pure geometry, no drawing library: a polyline stroked with round caps and joins becomes one
polygon (its outline: left side, end cap, right side backwards, start cap), or two loops of
opposite winding for a closed shape, so that filling it once with the nonzero rule gives the
stroked area, anti-aliased once. (A first version filled the union of one quad per segment plus
discs; with aggdraw's growth, described below, every inner edge showed as a darker seam.)
Curves and arcs are flattened to within ``FLATTEN_TOLERANCE_PX`` of the true curve.

``AGG_DILATION_PX`` is aggdraw's: every filled shape comes out about 1/4 pixel larger on each
side of each of its loops, so outlines are drawn that much smaller (holes that much larger).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Point = tuple[float, float]

FLATTEN_TOLERANCE_PX = 0.1
"""Largest distance between a drawn curve and the true one, in output pixels."""
MIN_STEP_PX = 0.05
"""Consecutive points closer than this (in pixels) are merged: invisible, and they cost time."""
AGG_DILATION_PX = 0.25
"""aggdraw 1.4 grows every filled shape by 1/4 pixel on each side of each loop (a filled box
from x = 2 to 10 also covers a quarter of pixels 1 and 10; its pens are exact). Outlines are drawn
that much smaller, holes that much larger, so widths match the canvas."""


def circle_step(radius: float) -> float:
    """Angle between polygon vertices that keeps a circle of ``radius`` px within tolerance."""
    if radius <= FLATTEN_TOLERANCE_PX:
        return math.pi / 4
    return min(math.pi / 4, 2 * math.acos(1 - FLATTEN_TOLERANCE_PX / radius))


def add_polygon(path: list[list[float]], xy: list[float]) -> None:
    path.append(xy)


def _arc(out: list[float], cx: float, cy: float, radius: float, start: float, sweep: float,
         step: float) -> None:
    """Append the points of an arc from angle ``start`` turning by ``sweep`` (both ends)."""
    count = max(1, math.ceil(abs(sweep) / step))
    for k in range(count + 1):
        angle = start + sweep * k / count
        out += (cx + radius * math.cos(angle), cy + radius * math.sin(angle))


def _dedupe(points: Sequence[Point]) -> list[Point]:
    kept = [points[0]]
    last_x, last_y = points[0]
    limit = MIN_STEP_PX * MIN_STEP_PX
    for x, y in points[1:]:
        if (x - last_x) ** 2 + (y - last_y) ** 2 >= limit:
            kept.append((x, y))
            last_x, last_y = x, y
    if len(kept) > 1 and kept[-1] != points[-1]:
        kept[-1] = points[-1]  # the stroke ends exactly where it ended
    return kept


def _offset_side(pts: Sequence[Point], radius: float, closed: bool, step: float,
                 pivot: bool = True) -> list[float]:
    """The left offset (+normal side) of a polyline, with round joins where that side is outer.

    Where it is the inner side, the outline runs through the vertex itself (Skia's "pivot"
    inner join): the overlap it makes has the same winding, so the nonzero fill stays solid.
    The hole of a closed shape uses the offset lines' intersection instead (``pivot=False``):
    a pivot's edges would cross the ink, and aggdraw's growth of the hole would show on them.
    """
    count = len(pts)
    segments = count if closed else count - 1
    normals: list[Point] = []
    for i in range(segments):
        (ax, ay), (bx, by) = pts[i], pts[(i + 1) % count]
        length = math.hypot(bx - ax, by - ay)
        normals.append(((ay - by) / length * radius, (bx - ax) / length * radius))
    out: list[float] = []
    small_turn = radius * radius * math.cos(step)  # dot of the normals above this: one chord
    for j in range(count):
        vx, vy = pts[j]
        if not closed and j == 0:
            out += (vx + normals[0][0], vy + normals[0][1])
            continue
        if not closed and j == count - 1:
            out += (vx + normals[-1][0], vy + normals[-1][1])
            continue
        (n1x, n1y), (n2x, n2y) = normals[j - 1], normals[j % segments]
        cross = n1x * n2y - n1y * n2x
        dot = n1x * n2x + n1y * n2y
        if cross >= 0 and not pivot and dot > -0.9 * radius * radius:
            miter = radius * radius / (radius * radius + dot)
            out += (vx + (n1x + n2x) * miter, vy + (n1y + n2y) * miter)
        elif cross >= 0:  # turning towards this side: inner join through the vertex
            out += (vx + n1x, vy + n1y, vx, vy, vx + n2x, vy + n2y)
        elif n1x * n2x + n1y * n2y >= small_turn:  # the arc's chord is within tolerance
            out += (vx + n1x, vy + n1y, vx + n2x, vy + n2y)
        else:
            turn = math.atan2(cross, n1x * n2x + n1y * n2y)
            _arc(out, vx, vy, radius, math.atan2(n1y, n1x), turn, step)
    return out


def add_polyline(path: list[list[float]], points: Sequence[Point], radius: float,
                 closed: bool) -> None:
    """Add the outline of ``points`` stroked with round caps and joins: one polygon, or two
    loops of opposite winding for a closed path."""
    pts = _dedupe(points)
    if closed and len(pts) > 2 and pts[0] == pts[-1]:
        pts.pop()
    step = circle_step(radius)
    if len(pts) == 1:
        xy: list[float] = []
        _arc(xy, pts[0][0], pts[0][1], radius, 0.0, 2 * math.pi, step)
        add_polygon(path, xy[:-2])
        return
    backwards = pts[::-1]
    if closed and len(pts) > 2:
        # aggdraw grows each loop's own area: the outer loop outwards (``radius`` is already
        # short by AGG_DILATION_PX) and the hole into the ink, so the hole's offset is longer by
        # twice that, and it ends where the canvas ends it.
        flat = [c for point in pts for c in point]
        left_is_outer = _shoelace(flat) < 0
        grow = 2 * AGG_DILATION_PX
        outer, hole = (pts, backwards) if left_is_outer else (backwards, pts)
        add_polygon(path, _offset_side(outer, radius, True, step))
        add_polygon(path, _offset_side(hole, radius + grow, True, step, pivot=False))
        return
    outline = _offset_side(pts, radius, False, step)
    _cap(outline, pts, radius, step)
    outline += _offset_side(backwards, radius, False, step)
    _cap(outline, backwards, radius, step)
    add_polygon(path, outline)


def _shoelace(xy: Sequence[float]) -> float:
    """Twice the signed area of a polygon (y down: negative is clockwise on screen)."""
    total = 0.0
    for i in range(0, len(xy), 2):
        j = (i + 2) % len(xy)
        total += xy[i] * xy[j + 1] - xy[j] * xy[i + 1]
    return total


def inset(xy: list[float], distance: float) -> list[float]:
    """Move each vertex of a polygon ``distance`` px inwards along its angle bisector, undoing
    aggdraw's growth of filled shapes (for perfect-freehand outlines)."""
    count = len(xy) // 2
    if count < 3:
        return xy
    sign = 1.0 if _shoelace(xy) > 0 else -1.0
    out: list[float] = []
    for i in range(count):
        px, py = xy[2 * i - 2], xy[2 * i - 1]
        x, y = xy[2 * i], xy[2 * i + 1]
        nx_, ny_ = xy[(2 * i + 2) % len(xy)], xy[(2 * i + 3) % len(xy)]
        e1x, e1y, e2x, e2y = x - px, y - py, nx_ - x, ny_ - y
        l1, l2 = math.hypot(e1x, e1y) or 1.0, math.hypot(e2x, e2y) or 1.0
        # inward normals of both edges (left of the direction for a positive-area polygon)
        ax, ay = -e1y / l1 * sign, e1x / l1 * sign
        bx, by = -e2y / l2 * sign, e2x / l2 * sign
        mx, my = ax + bx, ay + by
        length = math.hypot(mx, my)
        if length < 0.5:  # a spike: moving it would fly off; leave it
            out += (x, y)
            continue
        scale = distance * 2 / length  # 1 / cos(half angle), via the bisector's length
        out += (x + mx / length * scale, y + my / length * scale)
    return out


def _cap(out: list[float], pts: Sequence[Point], radius: float, step: float) -> None:
    """Round cap at the last point: half a turn from the left offset to the right one."""
    (ax, ay), (bx, by) = pts[-2], pts[-1]
    normal_angle = math.atan2(bx - ax, ay - by)  # direction of the left normal (-dy, dx)
    _arc(out, bx, by, radius, normal_angle, -math.pi, step)


def smoothed_path(points: Sequence[Point]) -> list[Point]:
    """docs/protocol.md's pen path, flattened: quadratics through midpoints, then a line.

    Each quadratic gets n segments with n = ceil(sqrt(|p0 - 2c + p2| / (4 tol))), which keeps
    the chord within ``FLATTEN_TOLERANCE_PX`` of the curve (the error is |p0 - 2c + p2| / 4n^2).
    """
    out = [points[0]]
    x0, y0 = points[0]
    for i in range(1, len(points) - 1):
        cx, cy = points[i]
        ex, ey = (cx + points[i + 1][0]) / 2, (cy + points[i + 1][1]) / 2
        bend = math.hypot(x0 - 2 * cx + ex, y0 - 2 * cy + ey)
        pieces = min(64, max(1, math.ceil(math.sqrt(bend / (4 * FLATTEN_TOLERANCE_PX)))))
        for k in range(1, pieces + 1):
            t = k / pieces
            u = 1 - t
            out.append((u * u * x0 + 2 * u * t * cx + t * t * ex,
                        u * u * y0 + 2 * u * t * cy + t * t * ey))
        x0, y0 = ex, ey
    out.append(points[-1])
    return out


def ellipse_points(cx: float, cy: float, rx: float, ry: float) -> list[Point]:
    count = min(4096, max(16, math.ceil(2 * math.pi / circle_step(max(rx, ry)))))
    angles = [2 * math.pi * i / count for i in range(count)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]
