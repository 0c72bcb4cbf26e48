"""What an export shows: its options, the board area and pixel size (the frame), and the board's
geometry decoded for every element at once.

Pure (numpy, no drawing library): every output format (raster, PDF, SVG) and every element kind
shares one ``Frame`` and one transform, board units -> pixels: ``(x - frame.x) * frame.scale``.
Decoding is vectorised because a large board holds millions of points: one ``cumsum`` over all
strokes instead of a Python loop per point.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..protocol import COLOR_PATTERN, COORD_SCALE, PRESSURE_SCALE

Stroke = Mapping[str, Any]
"""A decoded committed stroke op: ``tool``, ``color``, ``width``, ``pts`` (delta-coded), ``p``?"""

MIN_SCALE, MAX_SCALE = 0.1, 4.0
"""Pixels per board unit an export may ask for."""
PAGE_MIN_ZOOM, PAGE_MAX_ZOOM = 0.02, 32.0
"""The page's zoom range (canvas.js ``MIN_ZOOM``, ``MAX_ZOOM``)."""
MARGIN_UNITS = 16.0
"""Board units of background around the ink's bounding box."""
EMPTY_BOARD_UNITS = 64.0
"""An empty board exports as a blank square of this side (board units), not as an error."""
MAX_REGION_UNITS = 40_000_000.0
"""Largest region side: twice the coordinate range (``max_coord`` is 10,000,000)."""
FREEHAND_MAX_RADIUS = 0.8
"""Widest pressure outline, as a fraction of ``width``: size * (0.5 + thinning / 2) at p = 1."""
FIT_MARGIN_PX = 40.0
"""Screen pixels around the board in a page's zoom-to-fit view (canvas.js ``fit``)."""
FIT_MAX_ZOOM = 4.0
"""A page zooms to fit no closer than this (canvas.js ``fit``)."""
MAX_VIEWPORT_PX = 16_384.0
"""Largest window side a ``fit`` may name (CSS pixels; a canvas' own limit in Chromium)."""
MAX_DEVICE_PIXEL_RATIO = 8.0
FIT_WINDOW_STEP_PX = 64.0
"""Windows whose sides round down to the same multiple of this (CSS pixels) share one first
picture (``ExportOptions.shared_fit``): a render costs a big board's export worker 0.3-0.5 s, and
windows differ by a few pixels of browser chrome or a resized window. The pages of one step open
at the zoom of its smallest window, with the ink centred in their own: between ``FIT_MARGIN_PX``
and that plus half a step around it, rather than exactly ``FIT_MARGIN_PX``."""


class ExportOptionError(ValueError):
    """A query option or CLI flag is out of range; the message says which and what is allowed."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    scale: float = 1.0
    background: str = "white"  # "white", "transparent" or "#rrggbb"
    region: tuple[float, float, float, float] | None = None  # x, y, w, h in board units
    # A page's window (CSS width, height, device pixel ratio): the picture is the view a page
    # that size opens at without a view in its URL (``fit_view``); scale and region are unused.
    fit: tuple[float, float, float] | None = None
    # With ``fit``: the picture covers every window up to this many CSS pixels wider and taller
    # than ``fit``'s, all opening at ``fit``'s zoom (``shared_fit``, ``Frame.page_view``).
    fit_cover: float = 0.0

    def key(self) -> str:
        """Canonical text of the options (part of the ETag and of the cache key)."""
        region = "-" if self.region is None else ",".join(repr(float(v)) for v in self.region)
        text = f"s{float(self.scale)!r};b{self.background};r{region}"  # repr: exact, no collisions
        if self.fit is not None:
            text += ";f" + ",".join(repr(float(v)) for v in self.fit)
        if self.fit_cover:
            text += f";c{float(self.fit_cover)!r}"
        return text

    def shared_fit(self, step: float = FIT_WINDOW_STEP_PX) -> ExportOptions:
        """The options of the picture this ``fit``'s window shares with its neighbours: the
        window rounded down to a multiple of ``step`` on each side, covering ``step`` more.
        Unchanged without a fit, or for a window under one step."""
        if self.fit is None or min(self.fit[0], self.fit[1]) < step:
            return self
        width, height, dpr = self.fit
        smallest = (math.floor(width / step) * step, math.floor(height / step) * step, dpr)
        return dataclasses.replace(self, fit=smallest, fit_cover=step)

    @property
    def transparent(self) -> bool:
        return self.background == "transparent"


def parse_options(
    scale: str | None = None,
    background: str | None = None,
    region: str | None = None,
    fit: str | None = None,
) -> ExportOptions:
    """Build options from query or flag strings (None: default); raise ExportOptionError."""
    value = 1.0
    if scale is not None:
        try:
            value = float(scale)
        except ValueError:
            raise ExportOptionError(f"scale must be a number, got {scale!r}") from None
        if not math.isfinite(value) or not MIN_SCALE <= value <= MAX_SCALE:
            raise ExportOptionError(
                f"scale must be between {MIN_SCALE} and {MAX_SCALE}, got {scale}"
            )
    colour = "white"
    if background is not None:
        colour = background.strip().lower()
        if COLOR_PATTERN.fullmatch("#" + colour):
            colour = "#" + colour  # '#' starts a URL fragment, so 'ff8800' is accepted too
        if colour not in ("white", "transparent") and not COLOR_PATTERN.fullmatch(colour):
            raise ExportOptionError(
                f"background must be white, transparent or #rrggbb, got {background!r}"
            )
    box = None
    if region is not None:
        box = _finite_numbers(region)
        if len(box) != 4:
            raise ExportOptionError(f"region must be x,y,w,h in board units, got {region!r}")
        if not (0 < box[2] <= MAX_REGION_UNITS and 0 < box[3] <= MAX_REGION_UNITS):
            raise ExportOptionError(
                f"region width and height must be 0 < w, h <= {MAX_REGION_UNITS:g}, got {region!r}"
            )
    window = None
    if fit is not None:
        window = _finite_numbers(fit)
        if (
            len(window) != 3
            or not (1 <= window[0] <= MAX_VIEWPORT_PX and 1 <= window[1] <= MAX_VIEWPORT_PX)
            or not 0 < window[2] <= MAX_DEVICE_PIXEL_RATIO
        ):
            raise ExportOptionError(
                f"fit must be width,height,dpr of a window (1-{MAX_VIEWPORT_PX:g} CSS pixels,"
                f" 0 < dpr <= {MAX_DEVICE_PIXEL_RATIO:g}), got {fit!r}"
            )
        if box is not None or scale is not None:
            raise ExportOptionError("fit picks the scale and region: give neither with it")
    return ExportOptions(value, colour, box, window)  # type: ignore[arg-type]


def _finite_numbers(text: str) -> tuple[float, ...]:
    """The comma-separated numbers of a query option; () when one is not a finite number."""
    try:
        numbers = tuple(float(v) for v in text.split(","))
    except ValueError:
        return ()
    return numbers if all(math.isfinite(v) for v in numbers) else ()


@dataclass(frozen=True, slots=True)
class Frame:
    """What is drawn: the board from (x, y), ``scale`` px per unit, ``width`` x ``height`` px."""

    x: float
    y: float
    scale: float
    width: int
    height: int
    requested_scale: float
    view: tuple[float, float, float] | None = None  # a ``fit``: the page's x, y and zoom
    # A ``fit`` zoomed to fit the ink: the board point its pages centre in their window (None:
    # the ink is in sight at 100% from the origin, where every page of the picture opens).
    centre: tuple[float, float] | None = None

    def page_view(self, width: float, height: float) -> tuple[float, float, float]:
        """The view (x, y, zoom) a page of ``width`` x ``height`` CSS pixels opens at with this
        ``fit`` picture, which covers it (``ExportOptions.shared_fit``): the picture's zoom, the
        ink centred (or the origin), moved by under a device pixel so that the page's view starts
        a whole number of the picture's pixels into it: what it shows of the picture is then
        exactly a render of its view, as in a picture of its own window."""
        assert self.view is not None
        x, y, zoom = self.view
        if self.centre is not None:
            x, y = self.centre[0] - width / 2 / zoom, self.centre[1] - height / 2 / zoom
        # floor: never left of the picture (the 1e-6: a float's error off a whole pixel)
        into_x = math.floor((x - self.x) * self.scale + 1e-6)
        into_y = math.floor((y - self.y) * self.scale + 1e-6)
        return self.x + into_x / self.scale, self.y + into_y / self.scale, zoom

    @property
    def scaled_down(self) -> bool:
        return self.scale < self.requested_scale

    def box(self) -> tuple[float, float, float, float]:
        """The board area shown: (min x, min y, max x, max y) in board units."""
        return (self.x, self.y, self.x + self.width / self.scale, self.y + self.height / self.scale)


def plan_frame(bounds: Sequence[float] | None, options: ExportOptions, max_pixels: int) -> Frame:
    """The picture's area and size: the region asked for, else the ink plus a margin.

    Over ``max_pixels`` the scale shrinks until it fits (``Frame.scaled_down``). With
    ``options.fit``, the region and scale of that window's opening view (``fit_view``).
    """
    if options.fit is not None:
        width, height, dpr = options.fit
        view, centre = _fit(bounds, width, height, dpr)
        x, y, zoom = view
        cover = options.fit_cover
        if centre is not None:  # the pages that share it centre the ink in wider windows
            x, y = x - cover / 2 / zoom, y - cover / 2 / zoom
        region = (x, y, (width + cover) / zoom, (height + cover) / zoom)
        fitted = ExportOptions(zoom * dpr, options.background, region)
        return dataclasses.replace(plan_frame(None, fitted, max_pixels), view=view, centre=centre)
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
    return Frame(
        float(x),
        float(y),
        scale,
        max(1, math.ceil(w * scale)),
        max(1, math.ceil(h * scale)),
        options.scale,
    )


def fit_view(
    bounds: Sequence[float] | None, width: float, height: float, dpr: float
) -> tuple[float, float, float]:
    """The view (x, y, zoom) a page of ``width`` x ``height`` CSS pixels opens a board at when
    its URL names none and its browser remembers none (main.js ``arrival``): 100% at the origin
    when the ink is all in sight there, else zoomed to fit it (canvas.js ``fit``, the same
    arithmetic in the same order). The page adopts this view when the picture comes, so a view
    a rounding off the page's own fit is still exact.

    The ink's bounds are an export's (half a stroke's width around its points) plus the page's
    extra unit. A zoom whose pixels per unit an export cannot draw (``MIN_SCALE``-``MAX_SCALE``
    at ``dpr``) is brought within them, still centred on the ink: at the least, part of a huge
    board in sight, which the page then zooms out of (the picture stands in, moved, meanwhile).
    """
    return _fit(bounds, width, height, dpr)[0]


def _fit(
    bounds: Sequence[float] | None, width: float, height: float, dpr: float
) -> tuple[tuple[float, float, float], tuple[float, float] | None]:
    """``fit_view``, and the ink's centre when zoomed to fit it (None: 100% at the origin)."""
    if bounds is None:
        return (0.0, 0.0, 1.0), None
    x0, y0, x1, y1 = bounds[0] - 1, bounds[1] - 1, bounds[2] + 1, bounds[3] + 1
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height and MIN_SCALE <= dpr <= MAX_SCALE:
        return (0.0, 0.0, 1.0), None
    w = max(1.0, x1 - x0)
    h = max(1.0, y1 - y0)
    margin = FIT_MARGIN_PX
    zoom = min((width - 2 * margin) / w, (height - 2 * margin) / h, FIT_MAX_ZOOM)
    zoom = min(PAGE_MAX_ZOOM, max(PAGE_MIN_ZOOM, zoom))
    zoom = min(MAX_SCALE / dpr, max(MIN_SCALE / dpr, zoom))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return (cx - width / 2 / zoom, cy - height / 2 / zoom, zoom), (cx, cy)


def uses_pressure(stroke: Stroke) -> bool:
    """A pen stroke with one pressure per point: drawn as its perfect-freehand outline."""
    pressures = stroke.get("p")
    return (
        stroke["tool"] == "pen"
        and pressures is not None
        and len(pressures) * 2 == len(stroke["pts"])
    )


@dataclass(frozen=True, slots=True)
class Geometry:
    """The absolute points of many strokes at once: stroke ``i`` is ``xy[start[i]:end[i]]``
    (board units, float64), ``deltas`` the same rows as sent (quanta, the first absolute), and
    ``boxes[i]`` its ink's (min x, min y, max x, max y)."""

    xy: np.ndarray
    deltas: np.ndarray
    start: np.ndarray
    end: np.ndarray
    boxes: np.ndarray

    def points(self, index: int) -> np.ndarray:
        return self.xy[self.start[index] : self.end[index]]

    def bounds(self) -> tuple[float, float, float, float] | None:
        if not len(self.boxes):
            return None
        low = self.boxes[:, :2].min(axis=0)
        high = self.boxes[:, 2:].max(axis=0)
        return float(low[0]), float(low[1]), float(high[0]), float(high[1])

    def inside(self, box: Sequence[float]) -> np.ndarray:
        """Indices of the strokes whose ink may show in ``box`` (min x, min y, max x, max y)."""
        b = self.boxes
        hit = (b[:, 2] >= box[0]) & (b[:, 0] <= box[2]) & (b[:, 3] >= box[1]) & (b[:, 1] <= box[3])
        return np.flatnonzero(hit)

    def split(
        self, indices: np.ndarray, parts: int, costs: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """``indices`` cut into at most ``parts`` runs, in order, of about equal cost each (a
        stroke's ``costs``, by default its points); part k's strokes all come before part
        k + 1's, so the drawing order stays."""
        weights = (self.end - self.start) if costs is None else costs
        running = np.cumsum(weights[indices])
        if not len(running):
            return [indices]
        cuts = np.searchsorted(running, running[-1] * np.arange(1, parts) / parts)
        return [run for run in np.split(indices, np.unique(cuts)) if len(run)]

    def take(self, indices: np.ndarray) -> Geometry:
        """The geometry of the strokes at ``indices`` alone, in that order (numpy arrays: cheap
        to send to another process, unlike the ops' point lists)."""
        count = (self.end - self.start)[indices]
        end = np.cumsum(count)
        start = end - count
        total = int(end[-1]) if len(end) else 0
        rows = np.repeat(self.start[indices] - start, count) + np.arange(total)
        return Geometry(self.xy[rows], self.deltas[rows], start, end, self.boxes[indices])


BOXED_KINDS = frozenset(("text", "note", "image"))
"""Element kinds without points: their box is their laid-out box (``element_box``)."""


def decode(strokes: Sequence[Stroke]) -> Geometry:
    """Absolute points and ink boxes of ``strokes`` (delta-coded quanta -> board units), placed.

    Any element kind: a stroke's points are placed by its ``m`` (its pad scaled with it); text,
    notes and images have no points, and their box is their laid-out box placed by ``m``."""
    quanta: list[bytes] = []  # each stroke's pts as int64s: struct.pack unboxes ints fastest
    counts = array("q")
    pads = array("d")
    placements: dict[int, tuple[float, float, float, float]] = {}
    boxes_of_others: dict[int, tuple[float, float, float, float]] = {}
    for index, stroke in enumerate(strokes):
        kind = stroke.get("type", "stroke")
        m = stroke.get("m")
        if kind in BOXED_KINDS:
            boxes_of_others[index] = element_box(stroke)
            counts.append(0)
            pads.append(0.0)
            continue
        pts = stroke["pts"]
        quanta.append(struct.pack(f"<{len(pts)}q", *pts))
        counts.append(len(pts) // 2)
        pad = stroke["width"] * (FREEHAND_MAX_RADIUS if uses_pressure(stroke) else 0.5)
        if m is not None:
            placements[index] = (float(m[0]), float(m[1]), float(m[2]), float(m[3]))
            pad *= math.sqrt(m[0] * m[1])
        pads.append(pad)
    count = np.frombuffer(counts, dtype=np.int64) if counts else np.zeros(0, np.int64)
    end = np.cumsum(count)
    start = end - count
    joined = b"".join(quanta)
    quanta.clear()  # peak memory: the points are held once as bytes, not twice
    if not joined:
        xy = np.zeros((0, 2))
        deltas = np.zeros((0, 2), np.int64)
    else:
        deltas = np.frombuffer(joined, dtype="<i8").reshape(-1, 2)
        running = np.cumsum(deltas, axis=0)
        before = np.zeros((len(count), 2), np.int64)  # the running sum before each stroke
        later = (count > 0) & (start > 0)
        before[later] = running[start[later] - 1]
        running -= np.repeat(before, count, axis=0)  # in place: 16 B a point less at the peak
        xy = running / COORD_SCALE
        del running
        for index, (sx, sy, tx, ty) in placements.items():
            rows = xy[start[index] : end[index]]  # a view: placed in place, as placement.js does
            rows[:, 0] = sx * rows[:, 0] + tx
            rows[:, 1] = sy * rows[:, 1] + ty
    boxes = np.zeros((len(count), 4))
    nonempty = count > 0
    if nonempty.any():
        firsts = start[nonempty]
        boxes[nonempty, 0:2] = np.minimum.reduceat(xy, firsts, axis=0)
        boxes[nonempty, 2:4] = np.maximum.reduceat(xy, firsts, axis=0)
        pad = np.frombuffer(pads, dtype=np.float64)[nonempty, None]
        boxes[nonempty, 0:2] -= pad
        boxes[nonempty, 2:4] += pad
    boxes[~nonempty] = (math.inf, math.inf, -math.inf, -math.inf)
    for index, box in boxes_of_others.items():
        boxes[index] = box
    return Geometry(xy, deltas, start, end, boxes)


PRESSURE_COSTS = {"png": 1.6, "pdf": 2.0, "svg": 8.0}
"""What a pressure stroke's point costs against a plain pen's, by format: how work is cut between
processes. CPU per point of each kind (``bench/bench_export_costs.py``: half the 1M-point
benchmark board's strokes of each kind, outlines batched): drawn, a pressure point's outline and
fill take 2.5 µs against a pen's path and stroke 1.55 µs; in a PDF, 2.1 against 1.0 µs of
operators; in an SVG, 2.6 against 0.33 µs (a pen's steps are looked up in a table, an outline's
numbers are formatted). A highlighter costs within 12% of a pen in each. (One cost of 4 for all
three was measured when outlines were computed one stroke at a time.)"""


def stroke_costs(strokes: Sequence[Stroke], geometry: Geometry, pressure_cost: float) -> np.ndarray:
    """Each stroke's cost, in plain points of a pen (a pressure point counts ``pressure_cost``,
    a ``PRESSURE_COSTS`` value): how work is split between processes."""
    costs = (geometry.end - geometry.start).astype(np.float64)
    pressure = [i for i, stroke in enumerate(strokes) if "p" in stroke and uses_pressure(stroke)]
    costs[pressure] *= pressure_cost
    return costs


def element_box(op: Stroke) -> tuple[float, float, float, float]:
    """A text's, note's or image's box on the board (its placement applied), with the page's
    margin for text (elements.js ``elementBounds``: a quarter of the font size for overhangs)."""
    if op["type"] == "image":
        x0, y0 = float(op["x"]), float(op["y"])
        box = (x0, y0, x0 + float(op["w"]), y0 + float(op["h"]))
        pad = 1.0
    else:
        from .text import own_box, text_lines  # Skia: only boards with text need it

        box = own_box(op, text_lines(op["text"]))
        pad = 1.0
    m = op.get("m") or (1.0, 1.0, 0.0, 0.0)
    placed = (
        m[0] * box[0] + m[2],
        m[1] * box[1] + m[3],
        m[0] * box[2] + m[2],
        m[1] * box[3] + m[3],
    )
    if op["type"] == "text":
        pad = float(op["size"]) * 0.25 * max(m[0], m[1]) + 1
    return placed[0] - pad, placed[1] - pad, placed[2] + pad, placed[3] + pad


def board_bounds(strokes: Sequence[Stroke]) -> tuple[float, float, float, float] | None:
    """(min x, min y, max x, max y) of all the ink in board units; None for no strokes."""
    return decode(strokes).bounds()


def pressures(stroke: Stroke) -> list[float]:
    return [p / PRESSURE_SCALE for p in stroke["p"]]
