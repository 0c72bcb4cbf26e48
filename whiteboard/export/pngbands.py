"""A PNG drawn in horizontal bands by processes that each load the board themselves.

Handing a band to a helper used to come after the board was loaded (~0.4 s for 1M points, the
helper's core idle meanwhile) and cost ~0.1 s more: pickling half the board's strokes and
points, and unpickling them on the other side. Now the helpers get the board's records (bytes:
~5 ms for 1M points) before anything is decoded, and every process replays them, decodes the
geometry and plans the frame and the band rows itself, all at once (``loading.prepare``: the
same code on the same records gives the same result; a helper's frame and rows are checked
against the caller's all the same). Each process then draws its band into a buffer of its own
(``raster.drawn_band``) and deflates it (``png.encode_band``); the caller stitches the file.
"""

from __future__ import annotations

import concurrent.futures
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from .frame import PRESSURE_COSTS, ExportOptions, Frame, stroke_costs
from .loading import ImageSource, Prepared, prepare
from .png import BandStream, png_file
from .raster import (
    MIN_POINTS_PER_BAND,
    BandTimes,
    band_rows,
    deadline_progress,
    drawn_band,
    helpers,
    shutdown_helpers,
)
from .render import Progress
from .spec import ExportLimits, collector_paused

MIN_RECORD_BYTES_PER_POINT = 2
"""A stored point is two msgpack ints of at least a byte each: records of fewer bytes than two
bands' worth of points cannot make a second band, so no helper is asked to load them."""


class BandMismatch(RuntimeError):
    """A helper planned another picture than the caller from the same records (never seen: the
    planning is deterministic); the export fails rather than stitch misfitting bands."""


@dataclass(frozen=True, slots=True)
class HelperBand:
    """What a helper drew: its band's deflated rows, for the frame and rows it planned."""

    frame: Frame
    rows: tuple[int, int]
    stream: BandStream
    times: BandTimes
    load_s: float


def plan_bands(prepared: Prepared, processes: int) -> list[int]:
    """Row boundaries [0, ..., height]: one band per process, fewer for a small board (a band
    of under ``MIN_POINTS_PER_BAND`` points is not worth a process)."""
    geometry, frame = prepared.geometry, prepared.frame
    total_points = int(geometry.end[-1]) if len(geometry.end) else 0
    bands = max(1, min(processes, total_points // MIN_POINTS_PER_BAND, frame.height))
    if bands == 1:
        return [0, frame.height]
    costs = stroke_costs(prepared.strokes, geometry, PRESSURE_COSTS["png"])
    return band_rows(geometry, frame, bands, costs)


def render_png_in_bands(
    records: list[bytes],
    options: ExportOptions,
    limits: ExportLimits,
    media: ImageSource = None,
    progress: Progress | None = None,
    niceness: int = 0,
    timings: dict[str, float] | None = None,
    snapshot: bytes | None = None,
) -> tuple[bytes, Prepared]:
    """The PNG of the board held in ``records`` (after ``snapshot``: ``loading.load_board``),
    and the board as drawn. ``timings`` gets the
    caller's ``replay_s`` and ``decode_s``, the slowest band's ``draw_s`` and ``encode_s``,
    ``band_start_s`` (how much later the last band began drawing than the first),
    ``helper_load_s`` and ``stitch_s``."""
    phases = {} if timings is None else timings
    stored = sum(map(len, records)) + len(snapshot or b"")  # a snapshot holds its ops' bytes
    enough = stored >= 2 * MIN_POINTS_PER_BAND * MIN_RECORD_BYTES_PER_POINT
    processes = limits.processes if enough else 1
    futures = []
    if processes > 1:
        pool = helpers(processes - 1, niceness)
        futures = [
            pool.submit(_band_in_helper, records, options, limits, media, processes, band, snapshot)
            for band in range(1, processes)
        ]
    try:
        prepared = prepare(records, options, limits, media, phases, snapshot)
        rows = plan_bands(prepared, processes)
        first = drawn_band(
            prepared.strokes,
            prepared.geometry,
            prepared.frame,
            (rows[0], rows[1]),
            options.background,
            limits.png_compress_level,
            deadline_progress(limits.deadline, progress),
        )
    finally:
        concurrent.futures.wait(futures)  # a helper's work is never left running behind us
    streams, times, loads = [first[0]], [first[1]], [0.0]
    for band, future in enumerate(futures, start=1):
        try:
            drawn = future.result()  # a helper's error (or its deadline) is the export's
        except BrokenProcessPool:
            shutdown_helpers()  # a helper died (out of memory?): fresh ones next time
            raise
        if band + 1 >= len(rows):
            continue  # a small board: fewer bands than processes
        if (
            drawn is None
            or drawn.frame != prepared.frame
            or drawn.rows != (rows[band], rows[band + 1])
        ):
            raise BandMismatch(f"band {band}: the helper planned another picture")
        streams.append(drawn.stream)
        times.append(drawn.times)
        loads.append(drawn.load_s)
    stitching = time.perf_counter()
    frame = prepared.frame
    data = png_file(frame.width, frame.height, options.background == "transparent", streams)
    phases["stitch_s"] = time.perf_counter() - stitching
    phases["draw_s"] = max(band.draw_s for band in times)
    phases["encode_s"] = max(band.encode_s for band in times)
    phases["band_start_s"] = max(band.started for band in times) - times[0].started
    phases["helper_load_s"] = max(loads)
    return data, prepared


@collector_paused()
def _band_in_helper(
    records: list[bytes],
    options: ExportOptions,
    limits: ExportLimits,
    media: ImageSource,
    processes: int,
    band: int,
    snapshot: bytes | None = None,
) -> HelperBand | None:
    """Helper-process entry: load the board, plan the bands as the caller does, draw and deflate
    band number ``band`` (None if the board makes fewer bands)."""
    started = time.perf_counter()
    prepared = prepare(records, options, limits, media, snapshot=snapshot)
    loaded = time.perf_counter() - started
    rows = plan_bands(prepared, processes)
    if band + 1 >= len(rows):
        return None
    stream, times = drawn_band(
        prepared.strokes,
        prepared.geometry,
        prepared.frame,
        (rows[band], rows[band + 1]),
        options.background,
        limits.png_compress_level,
        deadline_progress(limits.deadline, None),
    )
    return HelperBand(prepared.frame, (rows[band], rows[band + 1]), stream, times, loaded)
