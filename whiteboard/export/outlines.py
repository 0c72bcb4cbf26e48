"""``freehand.outline`` for many strokes at once: every stroke stepped together in numpy.

The outline of a stroke is a loop over its points in which each step depends on the last (the
streamline follows the last kept point, a point is kept only past a distance from the last kept
one), so one stroke cannot be vectorised; but the strokes of a board are independent. Here step
``i`` of every stroke is one numpy operation over all strokes still that long (the strokes are
sorted by length, so they are a prefix), and each output point is logged with its stroke's
number and gathered per stroke at the end. For the 1,404 pressure strokes of the 1M-point
benchmark board this takes ~0.04 s instead of ~0.3 s, where numpy per stroke had been slower
than the scalar loop (a stroke of ~110 points is too short for numpy's per-call cost).

Bit-identical to ``freehand.outline`` (tested, and through it to the port): the same
floating-point operations in the same order, with Python's ``math.hypot`` reproduced exactly
(``hypot``; numpy's, the C library's, differs in the last bit for ~0.2% of inputs). Strokes the
vector loop does not cover (fewer than 3 points, no width, or collapsing to one point) go
through ``freehand.outline``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .freehand import _CORNER, _END_CAP, _LERP_T, _START_CAP, SMOOTHING, THINNING, outline

MIN_VECTOR_STROKES = 64
"""Fewer strokes go through ``freehand.outline`` one by one: a numpy step costs about the same
for one stroke as for a hundred (20 strokes took 23 ms stepped, 3 ms one by one)."""
_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split of a double into two 26-bit halves
_TINY = 2.0**-1000
"""Below this a coordinate difference may be subnormal after ``hypot``'s scaling: done by
``math.hypot`` (never met on a board, whose coordinates are quarter units)."""
_CORNER_S = np.array([c[0] for c in _CORNER])
_CORNER_C = np.array([c[1] for c in _CORNER])
_CORNER_NS = np.array([c[2] for c in _CORNER])
_CORNER_NC = np.array([c[3] for c in _CORNER])
_START_S, _START_C = np.array(_START_CAP).T.copy()
_END_S, _END_C = np.array(_END_CAP).T.copy()


def _square_error(x: np.ndarray, square: np.ndarray) -> np.ndarray:
    """The exact rounding error of ``square = x * x`` (Dekker's product; CPython uses an fma)."""
    c = _SPLITTER * x
    high = c - (c - x)
    low = x - high
    return ((high * high - square) + 2.0 * high * low) + low * low


def _product_error(x: np.ndarray, y: np.ndarray, product: np.ndarray) -> np.ndarray:
    """The exact rounding error of ``product = x * y``."""
    c = _SPLITTER * x
    xh = c - (c - x)
    xl = x - xh
    c = _SPLITTER * y
    yh = c - (c - y)
    yl = y - yh
    return ((xh * yh - product) + xh * yl + xl * yh) + xl * yl


def hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``math.hypot(a, b)`` element-wise, bit for bit: CPython 3.11's ``vector_norm`` of two
    values (scaled to [0.5, 1), squared without loss, summed with compensation, one Newton
    correction). Finite inputs only."""
    a, b = np.abs(a), np.abs(b)
    largest = np.maximum(a, b)
    with np.errstate(all="ignore"):  # 0 and subnormals give nan or inf here, replaced below
        scale = np.ldexp(1.0, -np.frexp(largest)[1])
        csum = np.ones_like(largest)
        frac1 = np.zeros_like(largest)
        frac2 = np.zeros_like(largest)
        for value in (a, b):
            x = value * scale
            square = x * x
            frac1 += _square_error(x, square)
            total = csum + square
            frac2 += (csum - total) + square
            csum = total
        h = np.sqrt(csum - 1.0 + (frac1 + frac2))
        product = -h * h
        frac1 += _product_error(-h, h, product)
        total = csum + product
        frac2 += (csum - total) + product
        csum = total
        h = h + (csum - 1.0 + (frac1 + frac2)) / (2.0 * h)
        out = h / scale
    out[largest == 0.0] = 0.0
    tiny = (largest < _TINY) & (largest > 0.0)
    if tiny.any():
        out[tiny] = [
            math.hypot(p, q) for p, q in zip(a[tiny].tolist(), b[tiny].tolist(), strict=True)
        ]
    return out


class _Log:
    """Output points as they are made, with their stroke's number, gathered per stroke at the
    end in the order they were made."""

    def __init__(self) -> None:
        self.lanes: list[np.ndarray] = []
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []

    def add(self, lanes: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> None:
        if len(lanes):
            self.lanes.append(lanes)
            self.xs.append(xs)
            self.ys.append(ys)

    def gathered(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """All points, stroke by stroke (stable: in the order made), and where each stroke's
        run ends."""
        lanes = np.concatenate(self.lanes)
        order = np.argsort(lanes, kind="stable")
        points = np.empty((len(lanes), 2))
        points[:, 0] = np.concatenate(self.xs)[order]
        points[:, 1] = np.concatenate(self.ys)[order]
        ends = np.cumsum(np.bincount(lanes, minlength=count))
        return points, ends


def _stroke_points(
    xs: np.ndarray, ys: np.ndarray, ps: np.ndarray, lengths: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``freehand._stroke_points`` of strokes of at least 3 points, sorted longest first
    (``xs`` etc.: points x strokes, padded, so that step ``i`` reads one contiguous row): their
    points (7 columns x points x strokes: x, y, pressure, vx, vy, distance, running length) and
    how many each has."""
    width, strokes = xs.shape
    out = np.zeros((7, width, strokes))
    out[0, 0], out[1, 0], out[2, 0] = xs[0], ys[0], ps[0]
    out[3:5, 0] = 1.0
    count = np.ones(strokes, np.int64)
    px, py = xs[0].copy(), ys[0].copy()
    running = np.zeros(strokes)
    reached = np.zeros(strokes, bool)
    active = strokes
    for i in range(1, width):
        while lengths[active - 1] <= i:
            active -= 1
        k = slice(0, active)
        lx, ly = px[k], py[k]
        xi, yi = xs[i, k], ys[i, k]
        last = lengths[k] - 1 == i
        x = np.where(last, xi, lx + (xi - lx) * _LERP_T)
        y = np.where(last, yi, ly + (yi - ly) * _LERP_T)
        moved = (lx != x) | (ly != y)
        distance = hypot(y - ly, x - lx)
        run = np.where(moved, running[k] + distance, running[k])
        running[k] = run
        waiting = moved & ~last & ~reached[k]
        short = waiting & (run < sizes[k])
        reached[k] |= waiting & ~short
        keep = np.flatnonzero(moved & ~short)
        if not len(keep):
            continue
        kx, ky = x[keep], y[keep]
        dx, dy = lx[keep] - kx, ly[keep] - ky
        length = hypot(dx, dy)
        at = count[keep]
        out[:, at, keep] = (
            kx,
            ky,
            ps[i, keep],
            dx / length,
            dy / length,
            distance[keep],
            run[keep],
        )
        count[keep] += 1
        px[keep], py[keep] = kx, ky
    several = count > 1
    out[3:5, 0, several] = out[3:5, 1, several]
    out[3:5, 0, ~several] = 0.0
    return out, count


def outlines(
    strokes: Sequence[tuple[np.ndarray, Sequence[float], float]],
) -> tuple[np.ndarray, np.ndarray]:
    """The outline polygon of each (points, pressures, size) stroke as ``freehand.outline``
    gives it (``points``: float64 x, y rows), all in one array of (x, y) rows: stroke ``k``'s
    is ``rows[ends[k - 1]:ends[k]]`` (none when ``outline`` gives none)."""
    sizes = np.zeros(len(strokes), np.int64)
    vector = [i for i, (xy, _, size) in enumerate(strokes) if len(xy) >= 3 and size > 0]
    if len(vector) < MIN_VECTOR_STROKES:
        vector = []
    rows, vector_sizes = _vector_outlines([strokes[i] for i in vector])
    sizes[vector] = vector_sizes
    scalar = []
    for index in np.flatnonzero(sizes == 0).tolist():  # what the vector loop left out
        xy, pressures, size = strokes[index]
        polygon = outline(xy[:, 0].tolist(), xy[:, 1].tolist(), list(pressures), size)
        sizes[index] = len(polygon)
        if polygon:
            scalar.append((index, np.array(polygon, dtype=np.float64)))
    ends = np.cumsum(sizes)
    if not scalar:
        return rows, ends
    placed = np.empty((int(ends[-1]), 2))
    from_vector = np.ones(len(placed), bool)
    for index, polygon in scalar:
        place = slice(int(ends[index]) - len(polygon), int(ends[index]))
        placed[place] = polygon
        from_vector[place] = False
    placed[from_vector] = rows
    return placed, ends


def _vector_outlines(
    strokes: Sequence[tuple[np.ndarray, Sequence[float], float]],
) -> tuple[np.ndarray, np.ndarray]:
    """Outlines of strokes of at least 3 points and a positive size, and how many rows each
    has (0 for one whose points collapse into one: left to the scalar code)."""
    if not strokes:
        return np.zeros((0, 2)), np.zeros(0, np.int64)
    lengths = np.array([len(xy) for xy, _, _ in strokes])
    order = np.argsort(-lengths, kind="stable")
    width = int(lengths.max())
    xs = np.zeros((width, len(strokes)))  # point i of every stroke in row i
    ys = np.zeros((width, len(strokes)))
    ps = np.zeros((width, len(strokes)))
    for lane, index in enumerate(order.tolist()):
        xy, pressures, _ = strokes[index]
        xs[: len(xy), lane] = xy[:, 0]
        ys[: len(xy), lane] = xy[:, 1]
        ps[: len(xy), lane] = pressures
    sizes = np.array([float(strokes[i][2]) for i in order.tolist()])
    points, counts = _stroke_points(xs, ys, ps, lengths[order], sizes)
    return _polygons(points, counts, sizes, order)


def _polygons(
    points: np.ndarray, counts: np.ndarray, sizes: np.ndarray, original: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``freehand.outline``'s loop over the stroke points, all strokes at once (``points`` and
    ``counts`` from ``_stroke_points``, for the strokes at ``original``): the outlines in the
    original order, and the rows of each (0 for a stroke of one point, left out)."""
    strokes = len(counts)
    order = np.argsort(-counts, kind="stable")
    points, counts, sizes = points.take(order, axis=2), counts[order], sizes[order]
    original = original[order]
    lane_ids = np.arange(strokes)
    total = points[6, counts - 1, lane_ids]
    min_distance = np.array([(size * SMOOTHING) ** 2 for size in sizes.tolist()])  # C's pow
    radius = sizes * (0.5 - THINNING * (0.5 - points[2, counts - 1, lane_ids]))
    pvx, pvy = points[3, 0].copy(), points[4, 0].copy()
    plx, ply = points[0, 0].copy(), points[1, 0].copy()
    prx, pry = plx.copy(), ply.copy()
    prev_sharp = np.zeros(strokes, bool)
    left, right = _Log(), _Log()
    active = strokes
    for i in range(int(counts.max())):
        while counts[active - 1] <= i:
            active -= 1
        k = slice(0, active)
        x, y, pressure, vx, vy, running = (points[c, i, k] for c in (0, 1, 2, 3, 4, 6))
        last = counts[k] - 1 == i
        used = np.flatnonzero(last | (total[k] - running >= 3))
        if not len(used):
            continue
        x, y, pressure, vx, vy = x[used], y[used], pressure[used], vx[used], vy[used]
        last, size = last[used], sizes[used]
        r = size * (0.5 - THINNING * (0.5 - pressure))
        r = np.where(r <= 0.01, 0.01, r)
        radius[used] = r
        following = np.minimum(i + 1, counts[used] - 1)
        nvx = np.where(last, vx, points[3, following, used])
        nvy = np.where(last, vy, points[4, following, used])
        next_dpr = np.where(last, 1.0, vx * nvx + vy * nvy)
        qvx, qvy = pvx[used], pvy[used]
        prev_dpr = vx * qvx + vy * qvy
        next_sharp = next_dpr < 0
        corner = ((prev_dpr < 0) & ~prev_sharp[used]) | next_sharp
        if corner.any():
            c = np.flatnonzero(corner)
            lanes = used[c]
            cx, cy = x[c], y[c]
            ox, oy = qvy[c] * r[c], -qvx[c] * r[c]
            ax, ay = (cx - ox)[:, None] - cx[:, None], (cy - oy)[:, None] - cy[:, None]
            lx_ = ax * _CORNER_C - ay * _CORNER_S + cx[:, None]
            ly_ = ax * _CORNER_S + ay * _CORNER_C + cy[:, None]
            bx, by = (cx + ox)[:, None] - cx[:, None], (cy + oy)[:, None] - cy[:, None]
            rx_ = bx * _CORNER_NC - by * _CORNER_NS + cx[:, None]
            ry_ = bx * _CORNER_NS + by * _CORNER_NC + cy[:, None]
            repeated = np.repeat(lanes, len(_CORNER))
            left.add(repeated, lx_.ravel(), ly_.ravel())
            right.add(repeated, rx_.ravel(), ry_.ravel())
            plx[lanes], ply[lanes] = lx_[:, -1], ly_[:, -1]
            prx[lanes], pry[lanes] = rx_[:, -1], ry_[:, -1]
            prev_sharp[lanes[next_sharp[c]]] = True
        plain = np.flatnonzero(~corner)
        if not len(plain):
            continue
        lanes = used[plain]
        prev_sharp[lanes] = False
        x, y, vx, vy, r = x[plain], y[plain], vx[plain], vy[plain], r[plain]
        nvx, nvy, next_dpr, last = nvx[plain], nvy[plain], next_dpr[plain], last[plain]
        # the last point: its own perpendicular, always kept
        ends = np.flatnonzero(last)
        if len(ends):
            ox, oy = vy[ends] * r[ends], -vx[ends] * r[ends]
            ex, ey = x[ends], y[ends]
            left.add(lanes[ends], ex - ox, ey - oy)
            right.add(lanes[ends], ex + ox, ey + oy)
        inner = np.flatnonzero(~last)
        if not len(inner):
            continue
        lanes = lanes[inner]
        x, y, vx, vy, r = x[inner], y[inner], vx[inner], vy[inner], r[inner]
        nvx, nvy, next_dpr = nvx[inner], nvy[inner], next_dpr[inner]
        lx, ly = nvx + (vx - nvx) * next_dpr, nvy + (vy - nvy) * next_dpr
        ox, oy = ly * r, -lx * r
        limit = min_distance[lanes]
        for log, sign, qx, qy in ((left, -1.0, plx, ply), (right, 1.0, prx, pry)):
            tx, ty = (x - ox, y - oy) if sign < 0 else (x + ox, y + oy)
            dx, dy = qx[lanes] - tx, qy[lanes] - ty
            kept = np.flatnonzero((dx * dx + dy * dy > limit) | (i <= 1))
            log.add(lanes[kept], tx[kept], ty[kept])
            qx[lanes[kept]], qy[lanes[kept]] = tx[kept], ty[kept]
        pvx[lanes], pvy[lanes] = vx, vy
    return _closed(points, counts, radius, left, right, original)


def _closed(
    points: np.ndarray,
    counts: np.ndarray,
    radius: np.ndarray,
    left: _Log,
    right: _Log,
    original: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each stroke's left side, end cap, right side reversed and start cap (``outline``'s
    ending), placed in one array in the original order (lane ``k`` is stroke ``original[k]``),
    and how many rows each stroke has (0 for one of a single point)."""
    strokes = len(counts)
    lane_ids = np.arange(strokes)
    lefts, left_ends = left.gathered(strokes)
    rights, right_ends = right.gathered(strokes)
    left_counts = np.diff(left_ends, prepend=0)
    right_counts = np.diff(right_ends, prepend=0)
    left_starts, right_starts = left_ends - left_counts, right_ends - right_counts
    fx, fy = points[0, 0], points[1, 0]
    lx, ly = points[0, counts - 1, lane_ids], points[1, counts - 1, lane_ids]
    # start cap: the first right point turned around the first point (every stroke has one:
    # its last point always adds one to each side)
    rx0 = rights[right_starts, 0][:, None] - fx[:, None]
    ry0 = rights[right_starts, 1][:, None] - fy[:, None]
    start_x = rx0 * _START_C - ry0 * _START_S + fx[:, None]
    start_y = rx0 * _START_S + ry0 * _START_C + fy[:, None]
    # end cap: a point beside the last one turned around it
    dx, dy = -points[4, counts - 1, lane_ids], points[3, counts - 1, lane_ids]
    ex = (lx + dx * radius - lx)[:, None]
    ey = (ly + dy * radius - ly)[:, None]
    end_x = ex * _END_C - ey * _END_S + lx[:, None]
    end_y = ex * _END_S + ey * _END_C + ly[:, None]
    # where each lane's polygon goes: strokes in their original order
    ends_cap, starts_cap = len(_END_C), len(_START_C)
    rows = np.where(counts >= 2, left_counts + ends_cap + right_counts + starts_cap, 0)
    rows_by_stroke = np.zeros(strokes, np.int64)
    rows_by_stroke[original] = rows
    offsets = (np.cumsum(rows_by_stroke) - rows_by_stroke)[original]
    out = np.empty((int(rows.sum()), 2))
    kept = counts >= 2
    side_lanes = np.repeat(lane_ids, left_counts)
    rank = np.arange(len(lefts)) - left_starts[side_lanes]
    on = kept[side_lanes]
    out[(offsets[side_lanes] + rank)[on]] = lefts[on]
    at = offsets + left_counts
    cap = (at[:, None] + np.arange(ends_cap))[kept].ravel()
    out[cap, 0], out[cap, 1] = end_x[kept].ravel(), end_y[kept].ravel()
    side_lanes = np.repeat(lane_ids, right_counts)
    rank = np.arange(len(rights)) - right_starts[side_lanes]
    on = kept[side_lanes]
    backwards = at[side_lanes] + ends_cap + right_counts[side_lanes] - 1 - rank
    out[backwards[on]] = rights[on]
    cap = (at + ends_cap + right_counts)[:, None] + np.arange(starts_cap)
    out[cap[kept].ravel(), 0], out[cap[kept].ravel(), 1] = (
        start_x[kept].ravel(),
        start_y[kept].ravel(),
    )
    return out, rows_by_stroke
