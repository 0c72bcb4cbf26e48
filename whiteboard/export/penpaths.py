"""Pen paths of many strokes at once, from the decoded geometry: what the page's ``Path2D`` holds.

docs/protocol.md's pen path: move to the first point, a quadratic through each interior point
ending at the midpoint to the next, a line to the last. Built for a whole batch of strokes in a
few numpy passes (a Python call per stroke made path building ~0.3 s of a 1M-point export); the
raster (``render.py``) and the PDF (``pdfcontent.py``) cut the result per stroke.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import Geometry

MOVE, LINE, QUAD, CLOSE = 0, 1, 2, 5
"""Skia's verb codes (``SkPath::Verb``), as serialised paths and ``pdfcontent`` use them."""


@dataclass(frozen=True, slots=True)
class PenPaths:
    """The pen paths of some strokes, stroke ``k``'s being ``points[point_ends[k - 1]:
    point_ends[k]]`` (float64 board units) and the same slice of ``verbs`` by ``verb_ends``."""

    points: np.ndarray
    verbs: np.ndarray
    point_ends: np.ndarray
    verb_ends: np.ndarray


def pen_paths(geometry: Geometry, indices: np.ndarray) -> PenPaths:
    """The pen paths of the strokes at ``indices`` (each of at least 3 points)."""
    start, end = geometry.start[indices], geometry.end[indices]
    count = end - start
    rows = np.repeat(start - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
    xy = geometry.xy[rows]
    is_first = np.zeros(len(rows), bool)
    is_first[np.cumsum(count) - count] = True
    is_last = np.zeros(len(rows), bool)
    is_last[np.cumsum(count) - 1] = True
    interior = ~(is_first | is_last)
    slots = np.empty((len(rows), 2, 2))
    slots[:, 0] = xy
    slots[:-1, 1] = (xy[:-1] + xy[1:]) / 2  # the midpoint to the next point, in float64 as JS
    keep = np.empty((len(rows), 2), bool)
    keep[:, 0] = True
    keep[:, 1] = interior
    verbs = np.where(is_first, MOVE, np.where(is_last, LINE, QUAD)).astype(np.uint8)
    return PenPaths(slots[keep], verbs, np.cumsum(2 * count - 2), np.cumsum(count))
