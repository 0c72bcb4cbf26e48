"""Pixels: a board drawn by Skia into memory, in horizontal bands on a small process pool.

Skia's time goes into stroking and scan-converting paths, so a band costs about what its strokes
cost: the picture is cut where the ink's points are split evenly (not where rows are), each band
drawn by its own process straight into one shared-memory buffer, and the caller draws the first
band itself while helpers draw the others. Bands are cut at pixel rows and Skia's anti-aliasing
is per pixel, so the tiled picture is exactly the single-band one (tested).

The helpers run at the export's low CPU priority (``lower_priority``): on a busy host the event
loop serving live drawing wins the cores. Pillow then turns the buffer into an image (RGB; RGBA
from Skia's premultiplied alpha for a transparent background).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import multiprocessing
import time
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np
import skia
from PIL import Image

from .frame import Frame, Geometry, Stroke, decode, stroke_costs
from .png import BandStream, encode_band, png_file
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
    from . import pdf, pdfcontent, svg  # noqa: F401

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


def _draw_shared_band(
    name: str,
    rows: tuple[int, int],
    ops: list[Stroke],
    geometry: Geometry,
    frame: Frame,
    background: str,
    deadline: float | None,
    png_level: int | None,
) -> tuple[BandStream | None, BandTimes]:
    """Helper-process entry: draw one band into the caller's shared-memory buffer and, for a
    PNG, deflate its rows here too."""
    started = time.perf_counter()
    memory = shared_memory.SharedMemory(name=name)
    pixels = np.ndarray((frame.height, frame.width, 4), np.uint8, memory.buf)
    try:
        draw_band(pixels, ops, geometry, frame, rows, background, deadline_progress(deadline, None))
        drawn = time.perf_counter()
        stream = _encoded(pixels, frame, rows, background, png_level)
        return stream, BandTimes(started, drawn - started, time.perf_counter() - drawn)
    finally:
        del pixels  # a view of the buffer would keep it from closing
        memory.close()


@dataclass(frozen=True, slots=True)
class BandTimes:
    """When a band started (``time.perf_counter``: one clock for every process on Linux), and
    how long it took to draw and to deflate."""

    started: float
    draw_s: float
    encode_s: float


def record_bands(timings: dict[str, float] | None, begun: float, bands: list[BandTimes]) -> None:
    """Into ``timings``: the longest band's drawing and deflating, and the latest band start
    after ``begun`` (what handing a band to a helper costs)."""
    if timings is None or not bands:
        return
    timings["draw_s"] = max(band.draw_s for band in bands)
    timings["encode_s"] = max(band.encode_s for band in bands)
    timings["band_start_s"] = max(band.started for band in bands) - begun


def _encoded(
    pixels: np.ndarray, frame: Frame, rows: tuple[int, int], background: str, level: int | None
) -> BandStream | None:
    if level is None:
        return None
    band = pixels[rows[0] : rows[1]]
    return encode_band(band, background == "transparent", level, rows[1] == frame.height)


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


def render_pixels(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    processes: int = 1,
    niceness: int = 0,
    deadline: float | None = None,
) -> Image.Image:
    """Draw ``ops`` in order: an RGB image, or RGBA when ``background`` is transparent.

    With ``processes`` > 1 and enough points, bands go to helper processes."""
    with _drawn(ops, frame, background, progress, processes, niceness, deadline, None) as drawn:
        return _to_image(drawn[0], frame, background)


def render_png(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str = "white",
    progress: Progress | None = None,
    processes: int = 1,
    niceness: int = 0,
    deadline: float | None = None,
    level: int = 1,
    geometry: Geometry | None = None,
    timings: dict[str, float] | None = None,
) -> bytes:
    """``render_pixels`` as a PNG file, each band deflated by the process that drew it
    (``geometry``: ``decode(ops)`` if the caller has it; ``timings``: filled as
    ``record_bands`` says, plus ``stitch_s``)."""
    drawing = (ops, frame, background, progress, processes, niceness, deadline, level, geometry)
    with _drawn(*drawing, timings) as drawn:
        stitching = time.perf_counter()
        data = png_file(frame.width, frame.height, background == "transparent", drawn[1])
        if timings is not None:
            timings["stitch_s"] = time.perf_counter() - stitching
        return data


@contextlib.contextmanager
def _drawn(
    ops: Sequence[Stroke],
    frame: Frame,
    background: str,
    progress: Progress | None,
    processes: int,
    niceness: int,
    deadline: float | None,
    png_level: int | None,
    geometry: Geometry | None = None,
    timings: dict[str, float] | None = None,
) -> Iterator[tuple[memoryview, list[BandStream]]]:
    """The picture's BGRA buffer (valid inside the block) and, with ``png_level``, its bands'
    deflated rows."""
    geometry = decode(ops) if geometry is None else geometry
    progress = deadline_progress(deadline, progress)
    total_points = int(geometry.end[-1]) if len(geometry.end) else 0
    bands = max(1, min(processes, total_points // MIN_POINTS_PER_BAND, frame.height))
    shape = (frame.height, frame.width)
    if bands == 1:
        begun = time.perf_counter()
        pixels = np.empty((*shape, 4), np.uint8)
        rows = (0, frame.height)
        draw_band(pixels, ops, geometry, frame, rows, background, progress)
        drawn = time.perf_counter()
        stream = _encoded(pixels, frame, rows, background, png_level)
        record_bands(timings, begun, [BandTimes(begun, drawn - begun, time.perf_counter() - drawn)])
        yield pixels.data, [stream] if stream is not None else []
        return
    memory = shared_memory.SharedMemory(create=True, size=shape[0] * shape[1] * 4)
    try:
        streams = _draw_bands(
            memory,
            ops,
            geometry,
            frame,
            background,
            bands,
            progress,
            niceness,
            deadline,
            png_level,
            timings,
        )
        yield memory.buf, streams
    finally:
        memory.close()
        memory.unlink()


def _draw_bands(
    memory: shared_memory.SharedMemory,
    ops: Sequence[Stroke],
    geometry: Geometry,
    frame: Frame,
    background: str,
    bands: int,
    progress: Progress | None,
    niceness: int,
    deadline: float | None,
    png_level: int | None,
    timings: dict[str, float] | None = None,
) -> list[BandStream]:
    begun = time.perf_counter()
    rows = band_rows(geometry, frame, bands, stroke_costs(ops, geometry))
    pool = helpers(bands - 1, niceness)
    futures = []
    margin = BAND_MARGIN_PX / frame.scale
    for top, bottom in itertools.pairwise(rows[1:]):
        box = (
            frame.x - margin,
            frame.y + top / frame.scale - margin,
            frame.x + frame.width / frame.scale + margin,
            frame.y + bottom / frame.scale + margin,
        )
        inside = geometry.inside(box)
        band_ops = [without_points(ops[i]) for i in inside.tolist()]
        futures.append(
            pool.submit(
                _draw_shared_band,
                memory.name,
                (top, bottom),
                band_ops,
                geometry.take(inside),
                frame,
                background,
                deadline,
                png_level,
            )
        )
    pixels = np.ndarray((frame.height, frame.width, 4), np.uint8, memory.buf)
    try:
        started = time.perf_counter()
        draw_band(pixels, ops, geometry, frame, (0, rows[1]), background, progress)
        drawn = time.perf_counter()
        first = _encoded(pixels, frame, (0, rows[1]), background, png_level)
        times = [BandTimes(started, drawn - started, time.perf_counter() - drawn)]
    finally:
        del pixels
        concurrent.futures.wait(futures)  # never free the buffer under a helper still drawing
    streams = [first] if first is not None else []
    for future in futures:
        try:
            stream, band_times = future.result()  # a helper's error (or deadline) is the export's
        except BrokenProcessPool:
            shutdown_helpers()  # a helper died (out of memory?): fresh ones next time
            raise
        times.append(band_times)
        if stream is not None:
            streams.append(stream)
    record_bands(timings, begun, times)
    return streams


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
