"""perfect-freehand's ``getStroke`` for the options of docs/protocol.md "Rendering", 4x faster.

The page fills each pressure stroke with the outline polygon of perfect-freehand 1.2.3 (JS); the
export must fill the very same polygon. The Python port (``perfect_freehand`` 1.2.0) computes it,
but through a dict per point and a function call per vector operation: about 15 µs per point,
which made pressure strokes the slowest part of a large export. This is the same algorithm
specialised to our fixed options (``thinning`` 0.6, ``smoothing`` 0.5, ``streamline`` 0.5,
``simulatePressure`` false, ``last`` true, round caps, no tapers, linear easing), with every
floating-point operation in the port's order, so the outlines are *bit-identical* to the port's
(``tests/test_render.py`` checks that on random strokes, and both sides against
``tests/golden/freehand_outlines.json``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

THINNING = 0.6
SMOOTHING = 0.5
STREAMLINE = 0.5
FIXED_PI = math.pi + 0.0001
"""perfect-freehand's own constant: caps turn by a hair more than half a turn."""
OPTIONS = {
    "thinning": THINNING,
    "smoothing": SMOOTHING,
    "streamline": STREAMLINE,
    "simulate_pressure": False,
    "last": True,
}
"""The same options in the Python port's names (``size`` is the stroke's width); tests compare."""
_LERP_T = 0.15 + (1.0 - STREAMLINE) * 0.85
_CORNER = [
    (
        math.sin(FIXED_PI * (i / 13.0)),
        math.cos(FIXED_PI * (i / 13.0)),
        math.sin(FIXED_PI * -(i / 13.0)),
        math.cos(FIXED_PI * -(i / 13.0)),
    )
    for i in range(14)
]
_START_CAP = [
    (math.sin(FIXED_PI * (i / 13.0)), math.cos(FIXED_PI * (i / 13.0))) for i in range(1, 14)
]
_DOT = [
    (math.sin(FIXED_PI * 2 * (i / 13.0)), math.cos(FIXED_PI * 2 * (i / 13.0))) for i in range(1, 14)
]
_END_CAP = [
    (math.sin(FIXED_PI * 3 * (i / 29.0)), math.cos(FIXED_PI * 3 * (i / 29.0))) for i in range(1, 30)
]

Point = tuple[float, float]


def _rotate(ax: float, ay: float, cx: float, cy: float, s: float, c: float) -> Point:
    px, py = ax - cx, ay - cy
    return (px * c - py * s + cx, px * s + py * c + cy)


def _stroke_points(
    xs: Sequence[float], ys: Sequence[float], ps: Sequence[float], size: float
) -> list[tuple[float, float, float, float, float, float, float]]:
    """The port's ``get_stroke_points``: (x, y, pressure, vx, vy, distance, running length)."""
    pts = list(zip(xs, ys, ps, strict=True))
    if len(pts) == 2:  # the port interpolates 4 points without pressure (so 0.5) towards the end
        ax, ay, _ = pts[0]
        bx, by, _ = pts.pop()
        pts.extend(
            (ax + (bx - ax) * (i / 4.0), ay + (by - ay) * (i / 4.0), 0.5) for i in range(1, 5)
        )
    if len(pts) == 1:
        pts.append((pts[0][0] + 1.0, pts[0][1] + 1.0, 0.5))
    t = _LERP_T
    px, py = pts[0][0], pts[0][1]
    out = [(px, py, pts[0][2], 1.0, 1.0, 0.0, 0.0)]
    reached = False
    running = 0.0
    last = len(pts) - 1
    for i in range(1, len(pts)):
        x, y, pressure = pts[i]
        if i != last:
            x, y = px + (x - px) * t, py + (y - py) * t
        if px == x and py == y:
            continue
        distance = math.hypot(y - py, x - px)
        running += distance
        if i < last and not reached:
            if running < size:
                continue
            reached = True
        dx, dy = px - x, py - y
        length = math.hypot(dx, dy)
        out.append((x, y, pressure, dx / length, dy / length, distance, running))
        px, py = x, y
    if len(out) > 1:
        out[0] = (*out[0][:3], *out[1][3:5], *out[0][5:])
    else:
        out[0] = (*out[0][:3], 0.0, 0.0, *out[0][5:])
    return out


def outline(
    xs: Sequence[float], ys: Sequence[float], pressures: Sequence[float], size: float
) -> list[Point]:
    """The polygon ``getStroke([[x, y, p], ...], {size, ...our options})`` returns."""
    if not xs:
        return []
    points = _stroke_points(xs, ys, pressures, size)
    if size <= 0.0:
        return []
    count = len(points)
    total = points[-1][6]
    min_distance = (size * SMOOTHING) ** 2
    left: list[Point] = []
    right: list[Point] = []
    radius = size * (0.5 - THINNING * (0.5 - points[-1][2]))
    first_radius: float | None = None
    pvx, pvy = points[0][3], points[0][4]
    plx = prx = points[0][0]
    ply = pry = points[0][1]
    prev_sharp = False
    for i in range(count):
        x, y, pressure, vx, vy, _, running = points[i]
        if i < count - 1 and total - running < 3:
            continue
        radius = size * (0.5 - THINNING * (0.5 - pressure))
        if first_radius is None:
            first_radius = radius
        if radius <= 0.01:  # max(0.01, radius * min(taper_start, taper_end)), tapers off
            radius = 0.01
        if i < count - 1:
            nvx, nvy = points[i + 1][3], points[i + 1][4]
            next_dpr = vx * nvx + vy * nvy
        else:
            nvx, nvy, next_dpr = vx, vy, 1.0
        prev_dpr = vx * pvx + vy * pvy
        sharp = prev_dpr < 0 and not prev_sharp
        next_sharp = next_dpr < 0
        if sharp or next_sharp:
            ox, oy = pvy * radius, -pvx * radius
            for s, c, ns, nc in _CORNER:
                left.append(_rotate(x - ox, y - oy, x, y, s, c))
                right.append(_rotate(x + ox, y + oy, x, y, ns, nc))
            plx, ply = left[-1]
            prx, pry = right[-1]
            if next_sharp:
                prev_sharp = True
            continue
        prev_sharp = False
        if i == count - 1:
            ox, oy = vy * radius, -vx * radius
            left.append((x - ox, y - oy))
            right.append((x + ox, y + oy))
            continue
        lx, ly = nvx + (vx - nvx) * next_dpr, nvy + (vy - nvy) * next_dpr
        ox, oy = ly * radius, -lx * radius
        tlx, tly = x - ox, y - oy
        dx, dy = plx - tlx, ply - tly
        if i <= 1 or dx * dx + dy * dy > min_distance:
            left.append((tlx, tly))
            plx, ply = tlx, tly
        trx, try_ = x + ox, y + oy
        dx, dy = prx - trx, pry - try_
        if i <= 1 or dx * dx + dy * dy > min_distance:
            right.append((trx, try_))
            prx, pry = trx, try_
        pvx, pvy = vx, vy
    fx, fy = points[0][0], points[0][1]
    lx, ly = (points[-1][0], points[-1][1]) if count > 1 else (fx + 1.0, fy + 1.0)
    if first_radius is None:
        first_radius = radius
    if count == 1:
        # prj(first, uni(per(sub(first, last))), -first_radius)
        dx, dy = fx - lx, fy - ly
        px, py = dy, -dx
        length = math.hypot(px, py)
        sx, sy = fx + px / length * -first_radius, fy + py / length * -first_radius
        return [_rotate(sx, sy, fx, fy, s, c) for s, c in _DOT]
    rx0, ry0 = right[0]
    start_cap = [_rotate(rx0, ry0, fx, fy, s, c) for s, c in _START_CAP]
    dx, dy = -points[-1][4], points[-1][3]  # per(neg(vector))
    sx, sy = lx + dx * radius, ly + dy * radius
    end_cap = [_rotate(sx, sy, lx, ly, s, c) for s, c in _END_CAP]
    left.extend(end_cap)
    left.extend(reversed(right))
    left.extend(start_cap)
    return left
