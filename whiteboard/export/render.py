"""Stroke ops -> pictures: a Pillow image (PNG, PDF, GIF frames) or an SVG document.

Pure: strokes in (decoded committed ``stroke`` ops, as ``Board.visible_strokes()`` returns them),
pictures out; no I/O, no asyncio. It draws exactly what ``docs/protocol.md`` "Rendering" says and
``static/js/render.js`` draws, so an export looks like the canvas.

How: every stroke becomes *one* filled path, rasterised once by AGG (``aggdraw``) with exact-area
anti-aliasing, so no supersampling is needed and a highlighter's self-overlaps do not darken (one
path, one blend at 0.35). Pens, highlighters and shapes are filled as their stroke outline with
round caps and joins (``outline.py``; aggdraw's own pens have butt caps and miter joins);
pressure pens as their perfect-freehand outline. Strokes outside the picture are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aggdraw
from perfect_freehand import get_stroke
from PIL import Image

from ..protocol import COLOR_PATTERN, PRESSURE_SCALE, absolute_points
from .outline import (
    AGG_DILATION_PX,
    Point,
    add_polygon,
    add_polyline,
    ellipse_points,
    inset,
    smoothed_path,
)

Stroke = Mapping[str, Any]
"""A decoded committed stroke op: ``tool``, ``color``, ``width``, ``pts`` (delta-coded), ``p``?"""
Progress = Callable[[int, int], None]

DEFAULT_MAX_EXPORT_PIXELS = 16_000_000
"""Output pixels of one export (4000 x 4000). Rendering holds about three copies of the image
(AGG's buffer, its bytes, the encoder's input): ~150 MB for RGB at this size, which a small
server can afford; larger requests are scaled down and say so (``X-Whiteboard-Scaled``)."""
MIN_SCALE, MAX_SCALE = 0.1, 4.0
"""Pixels per board unit an export may ask for."""
MARGIN_UNITS = 16.0
"""Board units of background around the ink's bounding box."""
EMPTY_BOARD_UNITS = 64.0
"""An empty board exports as a blank square of this side (board units), not as an error."""
MAX_REGION_UNITS = 40_000_000.0
"""Largest region side: twice the coordinate range (``max_coord`` is 10,000,000)."""
HIGHLIGHTER_OPACITY = 0.35
FREEHAND_OPTIONS: dict[str, Any] = {
    "thinning": 0.6, "smoothing": 0.5, "streamline": 0.5, "simulate_pressure": False, "last": True,
}
"""perfect-freehand options (Python port names) of docs/protocol.md; ``size`` is the width."""
HAIRLINE_PX = 1.0
"""Strokes thinner than this many pixels are drawn this wide, with proportionally less alpha."""
FREEHAND_MAX_RADIUS = 0.8
"""Widest pressure outline, as a fraction of ``width``: size * (0.5 + thinning / 2) at p = 1."""


class ExportOptionError(ValueError):
    """A query option or CLI flag is out of range; the message says which and what is allowed."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    scale: float = 1.0
    background: str = "white"  # "white", "transparent" or "#rrggbb"
    region: tuple[float, float, float, float] | None = None  # x, y, w, h in board units

    def key(self) -> str:
        """Canonical text of the options (part of the ETag and of the cache key)."""
        region = "-" if self.region is None else ",".join(repr(float(v)) for v in self.region)
        return f"s{float(self.scale)!r};b{self.background};r{region}"  # repr: exact, no collisions

    @property
    def transparent(self) -> bool:
        return self.background == "transparent"


def parse_options(scale: str | None = None, background: str | None = None,
                  region: str | None = None) -> ExportOptions:
    """Build options from query or flag strings (None: default); raise ExportOptionError."""
    value = 1.0
    if scale is not None:
        try:
            value = float(scale)
        except ValueError:
            raise ExportOptionError(f"scale must be a number, got {scale!r}") from None
        if not math.isfinite(value) or not MIN_SCALE <= value <= MAX_SCALE:
            raise ExportOptionError(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {scale}")
    colour = "white"
    if background is not None:
        colour = background.strip().lower()
        if COLOR_PATTERN.fullmatch("#" + colour):
            colour = "#" + colour  # '#' starts a URL fragment, so 'ff8800' is accepted too
        if colour not in ("white", "transparent") and not COLOR_PATTERN.fullmatch(colour):
            raise ExportOptionError(
                f"background must be white, transparent or #rrggbb, got {background!r}")
    box = None
    if region is not None:
        try:
            box = tuple(float(v) for v in region.split(","))
        except ValueError:
            box = ()
        if len(box) != 4 or not all(math.isfinite(v) for v in box):
            raise ExportOptionError(f"region must be x,y,w,h in board units, got {region!r}")
        if not (0 < box[2] <= MAX_REGION_UNITS and 0 < box[3] <= MAX_REGION_UNITS):
            raise ExportOptionError(f"region width and height must be 0 < w, h <= "
                                    f"{MAX_REGION_UNITS:g}, got {region!r}")
    return ExportOptions(value, colour, box)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Frame:
    """What is drawn: the board from (x, y), ``scale`` px per unit, ``width`` x ``height`` px."""

    x: float
    y: float
    scale: float
    width: int
    height: int
    requested_scale: float

    @property
    def scaled_down(self) -> bool:
        return self.scale < self.requested_scale


def stroke_bounds(stroke: Stroke, points: Sequence[Point] | None = None) -> tuple[float, ...]:
    """(min x, min y, max x, max y) of a stroke's ink in board units."""
    points = points if points is not None else absolute_points(stroke["pts"])
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    pressure = stroke.get("p") is not None and stroke["tool"] == "pen"
    pad = stroke["width"] * (FREEHAND_MAX_RADIUS if pressure else 0.5)
    return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def board_bounds(strokes: Iterable[Stroke]) -> tuple[float, ...] | None:
    boxes = [stroke_bounds(s) for s in strokes]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def plan_frame(bounds: tuple[float, ...] | None, options: ExportOptions,
               max_pixels: int = DEFAULT_MAX_EXPORT_PIXELS) -> Frame:
    """The picture's area and size: the region asked for, else the ink plus a margin.

    Over ``max_pixels`` the scale shrinks until it fits (``Frame.scaled_down``).
    """
    if options.region is not None:
        x, y, w, h = options.region
    elif bounds is None:
        x, y, w, h = 0.0, 0.0, EMPTY_BOARD_UNITS, EMPTY_BOARD_UNITS
    else:
        x, y = bounds[0] - MARGIN_UNITS, bounds[1] - MARGIN_UNITS
        w, h = bounds[2] - bounds[0] + 2 * MARGIN_UNITS, bounds[3] - bounds[1] + 2 * MARGIN_UNITS
    scale = options.scale
    if w * h * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / (w * h))
    while max(1, math.ceil(w * scale)) * max(1, math.ceil(h * scale)) > max_pixels:
        scale *= 0.999  # ceil() can push the product just over
    return Frame(x, y, scale, max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale)),
                 options.scale)


# --- drawing ------------------------------------------------------------------------------------


def _to_agg(polygons: list[list[float]]) -> aggdraw.Path:
    """One aggdraw path of closed polygons; the first goes in with one C call."""
    if not polygons:
        return aggdraw.Path()
    path = aggdraw.Path(polygons[0])
    path.close()
    for xy in polygons[1:]:
        path.moveto(xy[0], xy[1])
        for i in range(2, len(xy), 2):
            path.lineto(xy[i], xy[i + 1])
        path.close()
    return path


def freehand_outline(stroke: Stroke, points: Sequence[Point]) -> list[Point]:
    """perfect-freehand's outline in board units, as the canvas computes it."""
    pressures = stroke["p"]
    samples = [(x, y, p / PRESSURE_SCALE) for (x, y), p in zip(points, pressures, strict=True)]
    return get_stroke(samples, size=stroke["width"], **FREEHAND_OPTIONS)


def uses_pressure(stroke: Stroke) -> bool:
    pressures = stroke.get("p")
    return stroke["tool"] == "pen" and pressures is not None and len(pressures) * 2 == len(
        stroke["pts"])


def stroke_polygons(stroke: Stroke, frame: Frame,
                    board_points: Sequence[Point] | None = None) -> tuple[list[list[float]], float]:
    """One stroke as the polygons of one filled path in the frame's pixels, and the coverage to
    fill them with: below ``HAIRLINE_PX`` a stroke is drawn that wide and fainter, in proportion
    (a rasteriser cannot draw less than a pixel's width; the canvas fades thin lines too)."""
    scale, ox, oy = frame.scale, frame.x, frame.y
    if board_points is None:
        board_points = absolute_points(stroke["pts"])
    path: list[list[float]] = []
    width_px = stroke["width"] * scale
    if uses_pressure(stroke):
        pressures = stroke["p"]
        # mean outline width: size * (1 - thinning * (1 - 2p)) with thinning 0.6
        width_px *= 0.4 + 1.2 * sum(pressures) / (len(pressures) * PRESSURE_SCALE)
        if width_px >= HAIRLINE_PX:
            outline = freehand_outline(stroke, board_points)
            if len(outline) > 2:
                xy = [c for x, y in outline for c in ((x - ox) * scale, (y - oy) * scale)]
                add_polygon(path, inset(xy, AGG_DILATION_PX))
            return path, 1.0
    coverage = min(1.0, width_px / HAIRLINE_PX)
    radius = max(width_px, HAIRLINE_PX) / 2 - AGG_DILATION_PX
    points = [((x - ox) * scale, (y - oy) * scale) for x, y in board_points]
    tool = stroke["tool"]
    if tool in ("line", "rect", "ellipse") and len(points) == 2:
        (x0, y0), (x1, y1) = points
        if tool == "line":
            add_polyline(path, points, radius, closed=False)
        elif tool == "rect":
            add_polyline(path, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)], radius, closed=True)
        else:
            ellipse = ellipse_points((x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2,
                                     abs(y1 - y0) / 2)
            add_polyline(path, ellipse, radius, closed=True)
    elif len(points) == 1:
        add_polyline(path, points, radius, closed=False)
    else:
        add_polyline(path, smoothed_path(points), radius, closed=False)
    return path, coverage


def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def _intersects(box: tuple[float, ...], frame: Frame) -> bool:
    right = frame.x + frame.width / frame.scale
    bottom = frame.y + frame.height / frame.scale
    return box[2] >= frame.x and box[0] <= right and box[3] >= frame.y and box[1] <= bottom


def render_image(strokes: Sequence[Stroke], frame: Frame, background: str = "white",
                 progress: Progress | None = None) -> Image.Image:
    """Draw ``strokes`` in order: an RGB image, or RGBA when ``background`` is transparent.

    On a transparent background AGG blends as premultiplied alpha (its blender is the
    premultiplied "over"), so the buffer is read as ``RGBa`` and converted.
    """
    size = (frame.width, frame.height)
    transparent = background == "transparent"
    fill = (0, 0, 0, 0) if transparent else _rgb("#ffffff" if background == "white" else background)
    draw = aggdraw.Draw("RGBA" if transparent else "RGB", size, fill)
    _draw_strokes(draw, strokes, frame, progress)
    data = draw.tobytes()
    del draw
    if transparent:
        return Image.frombytes("RGBa", size, data).convert("RGBA")
    return Image.frombuffer("RGB", size, data, "raw", "RGB", 0, 1)


def draw_onto(image: Image.Image, strokes: Sequence[Stroke], frame: Frame) -> None:
    """Draw ``strokes`` over an opaque RGB ``image`` of the frame's size, in place."""
    draw = aggdraw.Draw(image)
    _draw_strokes(draw, strokes, frame, None)
    draw.flush()


def _draw_strokes(draw: aggdraw.Draw, strokes: Sequence[Stroke], frame: Frame,
                  progress: Progress | None) -> None:
    total = len(strokes)
    for index, stroke in enumerate(strokes):
        if progress is not None and index % 256 == 0:
            progress(index, total)
        board_points = absolute_points(stroke["pts"])
        if not _intersects(stroke_bounds(stroke, board_points), frame):
            continue
        polygons, coverage = stroke_polygons(stroke, frame, board_points)
        alpha = coverage * (HIGHLIGHTER_OPACITY if stroke["tool"] == "highlighter" else 1.0)
        if polygons:
            draw.path(_to_agg(polygons), aggdraw.Brush(_rgb(stroke["color"]), round(255 * alpha)))
    if progress is not None:
        progress(total, total)


def flatten(image: Image.Image, background: str = "white") -> Image.Image:
    """An RGB copy for formats without alpha (PDF, GIF): transparency becomes white."""
    if image.mode == "RGB":
        return image
    base = Image.new("RGB", image.size, "white")
    base.paste(image, mask=image.getchannel("A"))
    return base
