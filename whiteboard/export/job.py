"""One export, from a board's log records to file bytes: what the HTTP worker and the CLI run.

Pure apart from reading a log file read-only (``store.read_board_log``, which never repairs, so
it is safe while a server appends to the same file) and the raster's helper processes. Picklable
arguments and result, so the HTTP side can run it in a worker process, away from the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..board import Board
from ..elements import MEDIA_NAME
from ..store.file import read_board_log
from ..store.media import read_media_file
from .frame import ExportOptionError, ExportOptions, decode, plan_frame
from .pdf import render_pdf
from .raster import render_png
from .render import Progress
from .spec import MEDIA_TYPES, BoardTooLarge, ExportDeadline, ExportLimits, ExportResult
from .svg import render_svg
from .timelapse import render_timelapse

EXPORT_NICENESS = 10
"""CPU priority of every process drawing an export, below the server's (0)."""


def load_board(records: list[bytes]) -> Board:
    """The board of ``records`` as the server loads it (records that do not apply are skipped)."""
    board = Board(max_strokes=2**62)
    board.load(records)
    return board


def read_records(path: Path) -> list[bytes]:
    return read_board_log(path)


ImageSource = Path | Mapping[str, bytes] | None
"""Where an export finds a board's images: the file store's media directory (read as needed), the
images themselves by name (Redis mode: the server fetched them), or nowhere."""


def with_images(elements: list[dict[str, Any]], media: ImageSource) -> list[dict[str, Any]]:
    """``elements`` with each image's stored file in ``data`` (None when it cannot be read: the
    export draws the page's grey placeholder). ``src`` is checked against its pattern first."""
    out = []
    for element in elements:
        if element.get("type") == "image":
            data = None
            src = element.get("src", "")
            if media is not None and MEDIA_NAME.fullmatch(src):
                data = read_media_file(media, src) if isinstance(media, Path) else media.get(src)
            element = {**element, "data": data}
        out.append(element)
    return out


def run_export(
    kind: str,
    options: ExportOptions,
    records: list[bytes] | None = None,
    path: Path | None = None,
    upto_seq: int | None = None,
    limits: ExportLimits | None = None,
    progress: Progress | None = None,
    media: ImageSource = None,
    timings: dict[str, float] | None = None,
) -> ExportResult:
    """Render the board held in ``records`` (or the log at ``path``) as ``kind``; its images
    come from ``media`` (see ``ImageSource``). ``timings``, if given, gets the phases in seconds
    (``read_s``, ``replay_s``, ``decode_s``; for a PNG also ``raster.render_png``'s).

    ``upto_seq`` stops at that op: a server exporting a loaded board passes its durable head, so
    ops appended meanwhile do not change the picture its ETag names.
    """
    limits = limits or ExportLimits()
    if kind not in MEDIA_TYPES:
        raise ExportOptionError(f"format must be one of {', '.join(MEDIA_TYPES)}, got {kind!r}")
    if kind == "gif" and options.transparent:
        raise ExportOptionError("a GIF cannot be transparent; use white or #rrggbb")
    phases = {} if timings is None else timings
    started = time.perf_counter()
    if records is None:
        records = read_records(path) if path is not None else []
    if upto_seq is not None:
        records = records[:upto_seq]
    read = time.perf_counter()
    phases["read_s"] = read - started
    board = load_board(records)
    records = board.ops  # what applied, with placeholders for lost seqs: index = seq - 1
    if kind == "gif":
        data = render_timelapse(
            records,
            options,
            limits.timelapse_max_frames,
            limits.timelapse_max_pixels,
            progress,
            lambda elements: with_images(elements, media),
        )
        return ExportResult(data, MEDIA_TYPES[kind], board.head_seq, None)
    strokes = with_images(board.visible_strokes(), media)
    if limits.max_points is not None:
        points = sum(len(stroke.get("pts", ())) for stroke in strokes) // 2
        if points > limits.max_points:
            raise BoardTooLarge(points, limits.max_points)
    replayed = time.perf_counter()
    phases["replay_s"] = replayed - read
    geometry = decode(strokes)  # once, for the frame and the drawing
    frame = plan_frame(geometry.bounds(), options, limits.max_pixels)
    phases["decode_s"] = time.perf_counter() - replayed
    parallel = {
        "processes": limits.processes,
        "niceness": EXPORT_NICENESS,
        "deadline": limits.deadline,
        "geometry": geometry,
    }
    if kind == "svg":
        data = render_svg(strokes, frame, options.background, progress, **parallel).encode()
    elif kind == "pdf":
        data = render_pdf(strokes, frame, options.background, progress, **parallel)
    else:
        data = render_png(
            strokes,
            frame,
            options.background,
            progress,
            level=limits.png_compress_level,
            timings=timings,
            **parallel,
        )
    return ExportResult(data, MEDIA_TYPES[kind], board.head_seq, frame)


__all__ = ["BoardTooLarge", "ExportDeadline", "ExportLimits", "ExportResult", "run_export"]
