"""Board elements -> Skia drawing: the page's own renderer (Chromium's canvas is Skia), here.

``static/js/render.js`` builds one ``Path2D`` per stroke in board units and strokes it with
``lineWidth = width``, round caps and joins (or fills a perfect-freehand outline), under a
transform that maps board units to pixels. This module makes the same Skia calls Chromium makes
for those canvas calls: the same path verbs in the same coordinates, the same paint, the same
matrix. So caps, joins, curve flattening, hairlines (Skia fades strokes thinner than a pixel) and
anti-aliasing are Skia's on both sides, and the export matches the canvas at every scale.

Structure, open to new element kinds: ``elements(strokes, geometry, indices)`` turns ops into
drawable elements, one builder per op kind (``BUILDERS``); ``draw(canvas, element)`` dispatches
on the element's type, one function per kind (``PathElement`` today; text, notes and images
add theirs). Raster (``raster.py``), PDF (``pdf.py``) and the timelapse all draw through here,
onto a canvas whose matrix is ``frame_matrix(frame)``.

Speed: a pen stroke's path is built in one call from numpy arrays (``_path_from``, Skia's
serialised path format, checked against the path API in the tests) instead of one Python call
per curve; pressure strokes get their outline from ``freehand.outline``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import skia

from .frame import Frame, Geometry, Stroke, pressures, uses_pressure
from .freehand import outline
from .outlines import outlines
from .penpaths import CLOSE, LINE, MOVE, pen_paths
from .text import NOTE_PADDING, NOTE_TEXT_COLOR, draw_lines, own_box, text_lines

HIGHLIGHTER_OPACITY = 0.35
"""The highlighter's alpha, as ``HIGHLIGHTER_ALPHA`` in render.js: one path, blended once."""
Progress = Callable[[int, int], None]
PEN_BATCH = 2048
"""Strokes whose pen paths are built together (bounds the paths held at once)."""
PROGRESS_EVERY = 256
"""Strokes between two progress callbacks (which also check an export's deadline)."""

_HEADER = struct.Struct("<iiii")
_PATH_VERSION = 5
"""Skia's serialised-path layout (``SkPath::writeToMemory``, version 5): header, point count,
conic count, verb count, then float32 points, conic weights and verb bytes, padded to 4."""
_MOVE, _LINE, _QUAD, _CLOSE = b"\x00", b"\x01", b"\x02", b"\x05"


@dataclass(frozen=True, slots=True)
class PathElement:
    """A stroke as Skia draws it: a path in board units, stroked with ``width`` (round caps and
    joins) or filled (nonzero), in ``color`` at ``alpha``."""

    path: skia.Path
    fill: bool
    color: str
    width: float
    alpha: float
    thin_outline: bool = False  # below a pixel, fill the outline instead of a hairline (rect)


@dataclass(frozen=True, slots=True)
class TextElement:
    """A text or a sticky note (``paper``: the note's box in its own coordinates and its colour),
    drawn under its placement ``m`` as text.js draws it."""

    lines: tuple[str, ...]
    x: float
    y: float
    size: float
    color: str
    m: tuple[float, float, float, float]
    paper: tuple[tuple[float, float, float, float], str] | None = None


@dataclass(frozen=True, slots=True)
class ImageElement:
    """An image scaled into the box ``x, y, w, h`` under its placement ``m``; ``data`` is the
    stored file (None: not found, drawn as the page's grey placeholder)."""

    data: bytes | None
    x: float
    y: float
    w: float
    h: float
    m: tuple[float, float, float, float]


Element = PathElement | TextElement | ImageElement
"""Union of the drawable element kinds."""
IMAGE_PLACEHOLDER = "#e8eaed"
"""What the page draws while an image loads or when it cannot (elements.js)."""


def _path_from(points: np.ndarray, verbs: bytes) -> skia.Path:
    """A path from float32 (x, y) ``points`` and verb bytes in one C call (no per-point Python).

    Falls back to the path API if this Skia does not read the layout (never seen; tested)."""
    return _path_from_bytes(points.astype(np.float32).tobytes(), verbs)


def _path_from_bytes(points: bytes, verbs: bytes) -> skia.Path:
    """``_path_from`` of float32 (x, y) pairs already in bytes."""
    data = _HEADER.pack(_PATH_VERSION, len(points) // 8, 0, len(verbs)) + points + verbs
    data += b"\x00" * (-len(data) % 4)
    path = skia.Path()
    if path.readFromMemory(data) == len(data):
        return path
    return _path_by_calls(np.frombuffer(points, np.float32).reshape(-1, 2), verbs)


def _path_by_calls(points: np.ndarray, verbs: bytes) -> skia.Path:
    path = skia.Path()
    index = 0
    for verb in verbs:
        if verb == 0:
            path.moveTo(*map(float, points[index]))
            index += 1
        elif verb == 1:
            path.lineTo(*map(float, points[index]))
            index += 1
        elif verb == 2:
            path.quadTo(*map(float, points[index]), *map(float, points[index + 1]))
            index += 2
        else:
            path.close()
    return path


def smoothed_path(xy: np.ndarray) -> skia.Path:
    """docs/protocol.md's pen path: move to P0, a quadratic through each interior point ending at
    the midpoint to the next, a line to the last point (at least 2 points)."""
    count = len(xy)
    pairs = np.empty((count - 2, 2, 2), np.float32)
    pairs[:, 0] = xy[1:-1]
    pairs[:, 1] = (xy[1:-1] + xy[2:]) / 2  # in float64, as JS computes it, then float32
    points = np.concatenate(
        [xy[:1].astype(np.float32), pairs.reshape(-1, 2), xy[-1:].astype(np.float32)]
    )
    return _path_from(points, _MOVE + _QUAD * (count - 2) + _LINE)


def polygon_path(xy: Sequence[tuple[float, float]] | np.ndarray) -> skia.Path:
    points = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    return _path_from(points, _MOVE + _LINE * (len(points) - 1) + _CLOSE)


def shape_path(tool: str, xy: np.ndarray) -> skia.Path:
    """``line``, ``rect`` and ``ellipse`` as render.js builds them (Blink's Path2D calls)."""
    x0, y0 = float(xy[0, 0]), float(xy[0, 1])
    x1, y1 = (float(xy[1, 0]), float(xy[1, 1])) if len(xy) > 1 else (x0, y0)
    path = skia.Path()
    if tool == "line":
        path.moveTo(x0, y0)
        path.lineTo(x1, y1)
    elif tool == "rect":  # Blink's rect(): a closed subpath of four lines (not Skia's addRect)
        left, top, right, bottom = min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
        path.moveTo(left, top)
        path.lineTo(right, top)
        path.lineTo(right, bottom)
        path.lineTo(left, bottom)
        path.close()
    else:
        # Blink's ellipse(..., 0, 2 pi): two half-turn arcs, not a closed oval.
        oval = skia.Rect.MakeLTRB(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        path.arcTo(oval, 0, 180, False)
        path.arcTo(oval, 180, 180, False)
    return path


SHAPES = ("line", "rect", "ellipse")


def is_smoothed(stroke: Stroke, points: int) -> bool:
    """Whether ``stroke_element`` draws this stroke as ``smoothed_path`` (most ink is)."""
    return points >= 3 and stroke["tool"] not in SHAPES and not uses_pressure(stroke)


def stroke_alpha(stroke: Stroke) -> float:
    return HIGHLIGHTER_OPACITY if stroke["tool"] == "highlighter" else 1.0


def stroke_width(stroke: Stroke) -> float:
    """The line width a stroke is drawn with: a placement scales it by the geometric mean of
    its scales."""
    width = float(stroke["width"])
    m = stroke.get("m")
    return width if m is None else width * math.sqrt(m[0] * m[1])


def stroke_element(
    stroke: Stroke, xy: np.ndarray, pen: skia.Path | None = None
) -> PathElement | None:
    """One committed ``stroke`` op as render.js's ``buildStroke`` makes it (``xy`` placed;
    ``pen``: its ``smoothed_path`` or filled outline if the caller built it already)."""
    tool, color, width = stroke["tool"], stroke["color"], stroke_width(stroke)
    alpha = stroke_alpha(stroke)
    if len(xy) == 0:
        return None
    if tool in SHAPES:
        return PathElement(shape_path(tool, xy), False, color, width, alpha, tool == "rect")
    if uses_pressure(stroke):
        if pen is not None:
            return PathElement(pen, True, color, width, alpha)
        polygon = outline(xy[:, 0].tolist(), xy[:, 1].tolist(), pressures(stroke), width)
        if not polygon:
            return None
        return PathElement(polygon_path(polygon), True, color, width, alpha)
    if len(xy) == 1:
        path = skia.Path()
        path.addCircle(float(xy[0, 0]), float(xy[0, 1]), width / 2)
        return PathElement(path, True, color, width, alpha)
    if len(xy) == 2:
        return PathElement(
            _path_from(xy.astype(np.float32), _MOVE + _LINE), False, color, width, alpha
        )
    path = smoothed_path(xy) if pen is None else pen
    return PathElement(path, False, color, width, alpha)


def built_pen_paths(
    ops: Sequence[Stroke], geometry: Geometry, indices: Sequence[int]
) -> dict[int, skia.Path]:
    """``smoothed_path`` of every smoothed pen stroke at ``indices``, built in one numpy pass
    (``penpaths``) and cut into Skia paths: ~5 µs a stroke instead of ~30."""
    counts = (geometry.end - geometry.start).tolist()
    pens = [
        i
        for i in indices
        if ops[i].get("type", "stroke") == "stroke" and is_smoothed(ops[i], counts[i])
    ]
    out: dict[int, skia.Path] = {}
    if pens:
        built = pen_paths(geometry, np.asarray(pens, np.int64))
        _cut_paths(out, pens, built.points, built.point_ends, built.verbs, built.verb_ends)
    return out


@dataclass(frozen=True, slots=True)
class Outlines:
    """The filled outlines of some pressure strokes: ``strokes[k]``'s polygon is
    ``rows[ends[k - 1]:ends[k]]`` (float64 x, y rows; none when ``freehand.outline`` gives none)."""

    strokes: list[int]
    rows: np.ndarray
    ends: np.ndarray

    def polygon(self, k: int) -> np.ndarray:
        return self.rows[(int(self.ends[k - 1]) if k else 0) : int(self.ends[k])]


def pressure_outlines(
    ops: Sequence[Stroke], geometry: Geometry, indices: Iterable[int]
) -> Outlines:
    """The outline of every pressure stroke at ``indices``, all computed together (``outlines``:
    ~8x faster than one by one for a board's hundreds; every format's pressure strokes come from
    here, so call it once for as many strokes as one can: a call costs ~20 ms at least)."""
    counts = (geometry.end - geometry.start).tolist()
    pressured = [
        i
        for i in indices
        if ops[i].get("type", "stroke") == "stroke"
        and counts[i]
        and ops[i]["tool"] not in SHAPES
        and uses_pressure(ops[i])
    ]
    if not pressured:
        return Outlines([], np.zeros((0, 2)), np.zeros(0, np.int64))
    items = [(geometry.points(i), pressures(ops[i]), stroke_width(ops[i])) for i in pressured]
    rows, ends = outlines(items)
    return Outlines(pressured, rows, ends)


def built_outline_paths(
    ops: Sequence[Stroke], geometry: Geometry, indices: Sequence[int]
) -> dict[int, skia.Path]:
    """``pressure_outlines`` of the strokes at ``indices`` as Skia paths, filled polygons."""
    found = pressure_outlines(ops, geometry, indices)
    out: dict[int, skia.Path] = {}
    if found.strokes:
        counts = np.diff(found.ends, prepend=0)
        drawn = counts > 0  # an empty outline draws nothing (``stroke_element`` says None)
        verb_ends = np.cumsum(counts[drawn] + 1)
        verbs = np.full(int(verb_ends[-1]) if len(verb_ends) else 0, LINE, np.uint8)
        verbs[verb_ends - counts[drawn] - 1] = MOVE
        verbs[verb_ends - 1] = CLOSE
        chosen = [i for i, keep in zip(found.strokes, drawn.tolist(), strict=True) if keep]
        _cut_paths(out, chosen, found.rows, found.ends[drawn], verbs, verb_ends)
    return out


def _cut_paths(
    out: dict[int, skia.Path],
    indices: Sequence[int],
    points: np.ndarray,
    point_ends: np.ndarray,
    verbs: np.ndarray,
    verb_ends: np.ndarray,
) -> None:
    """Into ``out``: the path of each stroke at ``indices``, the ``k``-th being
    ``points[point_ends[k - 1]:point_ends[k]]`` (float64 x, y rows) with its slice of
    ``verbs`` by ``verb_ends``."""
    point_bytes = points.astype(np.float32).tobytes()
    verb_bytes = verbs.tobytes()
    point_start = verb_start = 0
    for index, point_end, verb_end in zip(
        indices, point_ends.tolist(), verb_ends.tolist(), strict=True
    ):
        out[index] = _path_from_bytes(
            point_bytes[point_start * 8 : point_end * 8], verb_bytes[verb_start:verb_end]
        )
        point_start, verb_start = point_end, verb_end


def _placement(op: Stroke) -> tuple[float, float, float, float]:
    m = op.get("m")
    return (
        (1.0, 1.0, 0.0, 0.0) if m is None else (float(m[0]), float(m[1]), float(m[2]), float(m[3]))
    )


def text_element(op: Stroke, _xy: np.ndarray) -> TextElement:
    lines = tuple(text_lines(op["text"]))
    size, color = float(op["size"]), op["color"]
    x, y = float(op["x"]), float(op["y"])
    if op["type"] == "note":
        pad = NOTE_PADDING * size
        paper = (own_box(op, lines), color)
        return TextElement(lines, x + pad, y + pad, size, NOTE_TEXT_COLOR, _placement(op), paper)
    return TextElement(lines, x, y, size, color, _placement(op))


def image_element(op: Stroke, _xy: np.ndarray) -> ImageElement:
    x, y, w, h = (float(op[key]) for key in ("x", "y", "w", "h"))
    return ImageElement(op.get("data"), x, y, w, h, _placement(op))


BUILDERS: dict[str, Callable[[Stroke, np.ndarray], Element | None]] = {
    "stroke": stroke_element,
    "text": text_element,
    "note": text_element,
    "image": image_element,
}
"""Op type -> element builder."""


def elements(
    ops: Sequence[Stroke], geometry: Geometry, indices: Iterable[int] | None = None
) -> Iterable[Element | None]:
    """The elements of ``ops`` (all, or those at ``indices``), in drawing order; pen paths are
    built ``PEN_BATCH`` strokes at a time, pressure outlines all at once."""
    order = list(range(len(ops)) if indices is None else indices)
    filled = built_outline_paths(ops, geometry, order)
    for first in range(0, len(order), PEN_BATCH):
        batch = order[first : first + PEN_BATCH]
        pens = built_pen_paths(ops, geometry, batch)
        for index in batch:
            op = ops[index]
            pen = pens.get(index, filled.get(index))
            if pen is not None:
                yield stroke_element(op, geometry.points(index), pen)
            else:
                yield BUILDERS[op.get("type", "stroke")](op, geometry.points(index))


def _colour(color: str) -> int:
    return skia.Color(int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def frame_matrix(frame: Frame, top_px: float = 0.0, unit_px: float = 1.0) -> skia.Matrix:
    """Board units -> output units (pixels, or PDF points with ``unit_px`` 0.75), the canvas's
    ``setTransform(scale, 0, 0, scale, -x * scale, -y * scale)``; ``top_px`` shifts to a band."""
    scale = frame.scale * unit_px
    return skia.Matrix.MakeAll(
        scale, 0, -frame.x * scale, 0, scale, -frame.y * scale - top_px * unit_px, 0, 0, 1
    )


class Painter:
    """Draws elements onto one canvas, reusing one paint (as a canvas context does).

    ``px_per_unit`` is the raster's scale. Skia draws an anti-aliased stroke thinner than a pixel
    as a "modulated hairline" (one pixel wide, fainter), and so does Chromium's canvas for curves
    and lines; but a thin *rectangle* comes out of Chromium as its true thin outline, filled (a
    line on a pixel boundary half in each column, where the hairline puts it in one). Measured
    against Chromium 156, not documented: ``PathElement.thin_outline`` marks the rectangles, whose
    outline is filled here when thinner than a pixel. None (PDF) leaves strokes to the viewer.
    """

    def __init__(self, canvas: skia.Canvas, px_per_unit: float | None = None) -> None:
        self.canvas = canvas
        self.px_per_unit = px_per_unit
        self.paint = skia.Paint(
            AntiAlias=True, StrokeCap=skia.Paint.kRound_Cap, StrokeJoin=skia.Paint.kRound_Join
        )
        self.draw_by_kind: dict[type, Callable[[Any], None]] = {
            PathElement: self.draw_path,
            TextElement: self.draw_text,
            ImageElement: self.draw_image,
        }

    def draw(self, element: Element) -> None:
        self.draw_by_kind[type(element)](element)

    def draw_path(self, element: PathElement) -> None:
        paint = self.paint
        paint.setColor(_colour(element.color))
        paint.setAlpha(round(element.alpha * 255))  # Chromium keeps globalAlpha in 8 bits
        if element.fill:
            paint.setStyle(skia.Paint.kFill_Style)
            self.canvas.drawPath(element.path, paint)
            return
        paint.setStyle(skia.Paint.kStroke_Style)
        paint.setStrokeWidth(element.width)
        scale = self.px_per_unit
        if element.thin_outline and scale is not None and element.width * scale < 1:
            outline = skia.Path()
            paint.getFillPath(element.path, outline, None, scale)
            paint.setStyle(skia.Paint.kFill_Style)
            self.canvas.drawPath(outline, paint)
            return
        self.canvas.drawPath(element.path, paint)

    def draw_text(self, element: TextElement) -> None:
        canvas = self.canvas
        canvas.save()
        canvas.concat(_matrix(element.m))
        if element.paper is not None:
            (x0, y0, x1, y1), color = element.paper
            canvas.drawRect(skia.Rect.MakeLTRB(x0, y0, x1, y1), skia.Paint(Color=_colour(color)))
        draw_lines(canvas, element.lines, element.x, element.y, element.size, element.color)
        canvas.restore()

    def draw_image(self, element: ImageElement) -> None:
        canvas = self.canvas
        canvas.save()
        canvas.concat(_matrix(element.m))
        box = skia.Rect.MakeXYWH(element.x, element.y, element.w, element.h)
        image = _decoded(element.data) if element.data is not None else None
        if image is None:
            canvas.drawRect(box, skia.Paint(Color=_colour(IMAGE_PLACEHOLDER)))
        else:
            # Chromium's canvas with imageSmoothingQuality "medium": bilinear with mipmaps.
            sampling = skia.SamplingOptions(skia.FilterMode.kLinear, skia.MipmapMode.kLinear)
            canvas.drawImageRect(image, box, sampling, skia.Paint(AntiAlias=True))
        canvas.restore()


def _matrix(m: tuple[float, float, float, float]) -> skia.Matrix:
    return skia.Matrix.MakeAll(m[0], 0, m[2], 0, m[1], m[3], 0, 0, 1)


def _decoded(data: bytes) -> skia.Image | None:
    return skia.Image.MakeFromEncoded(skia.Data.MakeWithCopy(data))


def draw_ops(
    canvas: skia.Canvas,
    ops: Sequence[Stroke],
    geometry: Geometry,
    indices: Sequence[int] | None = None,
    progress: Progress | None = None,
    px_per_unit: float | None = None,
) -> None:
    """Draw ``ops`` (or those at ``indices``) in order onto ``canvas`` (matrix already set);
    ``px_per_unit``: the raster's scale (None for vector output)."""
    painter = Painter(canvas, px_per_unit)
    total = len(ops) if indices is None else len(indices)
    for done, element in enumerate(elements(ops, geometry, indices)):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        if element is not None:
            painter.draw(element)
    if progress is not None:
        progress(total, total)


def background_colour(background: str) -> int:
    if background == "transparent":
        return skia.ColorTRANSPARENT
    return _colour("#ffffff" if background == "white" else background)
