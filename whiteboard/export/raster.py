"""Pixels: a board drawn by Skia into memory, in horizontal bands on a small process pool.

Skia's time goes into stroking and scan-converting paths, so a band costs about what its strokes
cost: the picture is cut where the ink's points are split evenly (``band_rows``, not where rows
are), and each band is drawn by its own process (``pngbands``) into a buffer of the whole
picture's size, clipped to its rows. Bands are cut at pixel rows and Skia's anti-aliasing is per
pixel, so the tiled picture is the single-band one but for a few edge pixels at the cuts (tested).

The helpers run at the export's low CPU priority (``lower_priority``): on a busy host the event
loop serving live drawing wins the cores. Pillow turns a buffer into an image (RGB; RGBA from
Skia's premultiplied alpha for a transparent background).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import skia
from PIL import Image

from .frame import Frame, Geometry, Stroke, decode
from .png import BandStream, encode_band
from .render import Progress, background_colour, draw_ops, frame_matrix
from .spec import ExportDeadline, lower_priority, stop_processes

MIN_POINTS_PER_BAND = 100_000
"""Below this many points a band is not worth a process round trip (~10 ms); small boards
render in one band, in the calling process."""
COLOR_TYPE = skia.kBGRA_8888_ColorType
"""Pixels in memory: BGRA, premultiplied, as Chromium's canvas keeps them (Skia's native order
on x86). Skia's fast blitters for opaque colours take this order only: drawing into RGBA went
through its general pipeline, 10% slower for a 1M-point board and up to 6 levels off at edges."""
BAND_MARGIN_PX = 2.0
"""Strokes whose ink box comes this close to a band are drawn into it: Skia draws strokes
thinner than a pixel one pixel wide, which can reach past the box by half a pixel."""


def deadline_progress(deadline: float | None, progress: Progress | None) -> Progress | None:
    """A progress callback that also raises ``ExportDeadline`` once ``time.time()`` passes."""
    if deadline is None:
        return progress

    def check(done: int, total: int) -> None:
        if time.time() > deadline:
            raise ExportDeadline(f"drawing stopped at stroke {done} of {total}")
        if progress is not None:
            progress(done, total)

    return check


_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_size = 0


def helpers(count: int, niceness: int) -> concurrent.futures.ProcessPoolExecutor:
    """This process's pool of helpers: raster bands, PDF and SVG parts (spawned once, reused by
    every export)."""
    global _pool, _pool_size
    if _pool is None or _pool_size != count:
        if _pool is not None:
            stop_processes(_pool)
        # spawn, not fork: a server has threads (fork would copy their locks mid-use).
        _pool = concurrent.futures.ProcessPoolExecutor(
            count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_helper,
            initargs=(niceness,),
        )
        _pool_size = count
    return _pool


def _start_helper(niceness: int) -> None:
    """A helper's start: low priority, and what every part it may write needs made now rather
    than during its first export (the PDF's number table takes 0.2 s to build)."""
    lower_priority(niceness)
    from . import pdf, pdfcontent, pngbands, svg  # noqa: F401

    pdfcontent.number_table()


def shutdown_helpers() -> None:
    global _pool
    if _pool is not None:
        stop_processes(_pool)
        _pool = None


def draw_band(
    pixels: np.ndarray,
    ops: Sequence[Stroke],
    geometry: Geometry,
    frame: Frame,
    rows: tuple[int, int],
    background: str,
    progress: Progress | None = None,
) -> None:
    """Draw the strokes reaching pixel rows ``rows`` (top, bottom) into ``pixels`` (the whole
    picture, height x width x 4 bytes, ``COLOR_TYPE``), touching no other row.

    Every band draws on the whole picture's surface, clipped to its rows, with the one frame
    matrix: a band drawn on its own surface with a shifted matrix rounds coordinates differently
    and its anti-aliasing differs by up to 58 levels (measured)."""
    height, width = pixels.shape[:2]
    top, bottom = rows
    info = skia.ImageInfo.Make(width, height, COLOR_TYPE, skia.kPremul_AlphaType)
    surface = skia.Surface.MakeRasterDirect(info, pixels)
    canvas = surface.getCanvas()
    canvas.clipRect(skia.Rect.MakeLTRB(0, top, width, bottom))
    canvas.clear(background_colour(background))
    canvas.setMatrix(frame_matrix(frame))
    margin = BAND_MARGIN_PX / frame.scale
    box = (
        frame.x - margin,
        frame.y + top / frame.scale - margin,
        frame.x + width / frame.scale + margin,
        frame.y + bottom / frame.scale + margin,
    )
    draw_ops(canvas, ops, geometry, geometry.inside(box).tolist(), progress, frame.scale)
    del canvas, surface


@dataclass(frozen=True, slots=True)
class BandTimes:
    """When a band started (``time.perf_counter``: one clock for every process on Linux), and
    how long it took to draw and to deflate."""

    started: float
    draw_s: float
    encode_s: float


def without_points(op: Stroke) -> Stroke:
    """``op`` for a helper that gets its points as a ``Geometry``: ``pts`` becomes a ``range``
    of the same length (what ``uses_pressure`` looks at), so the lists are not pickled (0.4 s
    for half of a 1M-point board, against 0.01 s for its numpy arrays)."""
    if "pts" not in op:
        return op
    return {**op, "pts": range(len(op["pts"]))}


def band_rows(
    geometry: Geometry, frame: Frame, bands: int, costs: np.ndarray | None = None
) -> list[int]:
    """Row boundaries [0, ..., height] cutting the ink's cost (``frame.stroke_costs``, by
    default its points) into ``bands`` even shares."""
    counts = (geometry.end - geometry.start).astype(np.float64) if costs is None else costs
    centre = ((geometry.boxes[:, 1] + geometry.boxes[:, 3]) / 2 - frame.y) * frame.scale
    order = np.argsort(centre)
    share = np.cumsum(counts[order])
    rows = [0]
    for k in range(1, bands):
        at = int(np.searchsorted(share, share[-1] * k / bands))
        row = int(
            np.clip(
                round(float(centre[order[min(at, len(order) - 1)]])),
                rows[-1] + 1,
                frame.height - (bands - k),
            )
        )
        rows.append(row)
    rows.append(frame.height)
    return rows


def drawn_band(
    ops: Sequence[Stroke],
    geometry: Geometry,
    frame: Frame,
    rows: tuple[int, int],
    background: str,
    level: int,
    progress: Progress | None = None,
) -> tuple[BandStream, BandTimes]:
    """Band ``rows`` drawn into a buffer of its own and deflated as a piece of the PNG.

    The buffer has the whole picture's size (so the one frame matrix applies), but only the
    band's rows are ever written, so only their pages are ever allocated."""
    started = time.perf_counter()
    pixels = np.empty((frame.height, frame.width, 4), np.uint8)
    draw_band(pixels, ops, geometry, frame, rows, background, progress)
    drawn = time.perf_counter()
    band = pixels[rows[0] : rows[1]]
    stream = encode_band(band, background == "transparent", level, rows[1] == frame.height)
    return stream, BandTimes(started, drawn - started, time.perf_counter() - drawn)


def render_pixels(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    deadline: float | None = None,
) -> Image.Image:
    """Draw ``ops`` in order, in this process: an RGB image, or RGBA when ``background`` is
    transparent."""
    pixels = np.empty((frame.height, frame.width, 4), np.uint8)
    progress = deadline_progress(deadline, progress)
    draw_band(pixels, ops, decode(ops), frame, (0, frame.height), background, progress)
    return _to_image(pixels.data, frame, background)


def _to_image(buffer: memoryview, frame: Frame, background: str) -> Image.Image:
    """Pillow's own copy of the BGRA buffer: RGB, or RGBA unpremultiplied when transparent."""
    size = (frame.width, frame.height)
    if background == "transparent":
        return Image.frombytes("RGBA", size, bytes(buffer), "raw", "BGRa")
    return Image.frombuffer("RGB", size, buffer, "raw", "BGRX", 0, 1)  # decoded: a copy


def render_image(
    ops: Sequence[Stroke], frame: Frame, background: str = "white", progress: Progress | None = None
) -> Image.Image:
    """``render_pixels`` in this process alone (tests, the timelapse, small pictures)."""
    return render_pixels(ops, frame, background, progress)


def draw_onto(image: Image.Image, ops: Sequence[Stroke], frame: Frame) -> None:
    """Draw ``ops`` over an opaque RGB ``image`` of the frame's size, in place."""
    pixels = np.ascontiguousarray(np.asarray(image.convert("RGBA"))[:, :, [2, 1, 0, 3]])
    info = skia.ImageInfo.Make(frame.width, frame.height, COLOR_TYPE, skia.kPremul_AlphaType)
    surface = skia.Surface.MakeRasterDirect(info, pixels)
    canvas = surface.getCanvas()
    canvas.setMatrix(frame_matrix(frame))
    draw_ops(canvas, ops, decode(ops), px_per_unit=frame.scale)
    del canvas, surface
    image.paste(Image.frombytes("RGB", image.size, pixels.tobytes(), "raw", "BGRX"))


def flatten(image: Image.Image) -> Image.Image:
    """An RGB copy for formats without alpha (GIF): transparency becomes white."""
    if image.mode == "RGB":
        return image
    base = Image.new("RGB", image.size, "white")
    base.paste(image, mask=image.getchannel("A"))
    return base
