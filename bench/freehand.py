"""Synthetic but realistic freehand strokes, in the wire's delta-coded quanta.

A mouse sampled at 60-240 Hz moves 1-8 px between samples along a path that turns smoothly, so
each stroke is a random walk on heading and speed: heading changes by a small Gaussian step per
sample, speed drifts within 1-8 board units. Coordinates are quantised to 1/COORD_SCALE units and
delta-coded exactly as ``docs/protocol.md`` says, so message and log sizes are the real ones
(most deltas fit msgpack's one-byte ints, as they do for a real pointer).
"""

from __future__ import annotations

import math
import random

COORD_SCALE = 4  # whiteboard.protocol.COORD_SCALE; not imported so the load generator stays light
PALETTE = ("#000000", "#e53935", "#1e88e5", "#43a047", "#fdd835", "#8e24aa", "#fb8c00")
WIDTHS = (2.0, 3.0, 4.0, 6.0)
MIN_STEP, MAX_STEP = 1.0, 8.0  # board units (CSS px at 100% zoom) between pointer samples


def freehand_pts(rng: random.Random, points: int, extent: float = 2000.0) -> list[int]:
    """One stroke of ``points`` points as ``[x0, y0, dx1, dy1, ...]`` in quanta."""
    x, y = rng.uniform(-extent, extent), rng.uniform(-extent, extent)
    heading = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(MIN_STEP, MAX_STEP)
    last_qx, last_qy = round(x * COORD_SCALE), round(y * COORD_SCALE)
    out = [last_qx, last_qy]
    for _ in range(points - 1):
        heading += rng.gauss(0.0, 0.25)
        speed = min(MAX_STEP, max(MIN_STEP, speed + rng.gauss(0.0, 0.7)))
        x += speed * math.cos(heading)
        y += speed * math.sin(heading)
        qx, qy = round(x * COORD_SCALE), round(y * COORD_SCALE)
        out += (qx - last_qx, qy - last_qy)
        last_qx, last_qy = qx, qy
    return out


def style(rng: random.Random) -> dict:
    return {"tool": "pen", "color": rng.choice(PALETTE), "width": rng.choice(WIDTHS)}


def stroke_message(rng: random.Random, op_id: str, points: int) -> dict:
    """A complete ``stroke`` message (how a board is built for the late-join benchmark)."""
    return {"type": "stroke", "id": op_id, **style(rng), "pts": freehand_pts(rng, points)}


def live_stroke_ops(
    rng: random.Random, op_id: str, pts: list[int], points_per_begin: int, points_per_message: int
) -> list[dict]:
    """A live stroke as a browser sends it: ``begin`` with a few points, ``points`` batches of
    ``points_per_message`` points (one per animation frame), then ``end``, which commits it."""
    first = 2 * points_per_begin
    ops = [{"type": "begin", "id": op_id, **style(rng), "pts": pts[:first]}]
    step = 2 * points_per_message
    for start in range(first, len(pts), step):
        ops.append({"type": "points", "id": op_id, "pts": pts[start : start + step]})
    ops.append({"type": "end", "id": op_id})
    return ops
