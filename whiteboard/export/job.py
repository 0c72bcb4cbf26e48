"""One export, from a board's log records to file bytes: what the HTTP worker and the CLI run.

Pure apart from reading a log file read-only (``store.read_board_log``, which never repairs, so
it is safe while a server appends to the same file) and the board's snapshot beside it (a picture
starts from it: ``store.read_board_after_snapshot``), and the raster's helper processes. Picklable
arguments and result, so the HTTP side can run it in a worker process, away from the event loop.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..store.file import read_board_after_snapshot, read_board_log
from .frame import ExportOptionError, ExportOptions
from .loading import ImageSource, load_board, prepare, with_images
from .pdf import render_pdf
from .pngbands import render_png_in_bands
from .render import Progress
from .spec import (
    MEDIA_TYPES,
    BoardTooLarge,
    ExportDeadline,
    ExportLimits,
    ExportResult,
    collector_paused,
)
from .svg import render_svg
from .timelapse import render_timelapse

EXPORT_NICENESS = 10
"""CPU priority of every process drawing an export, below the server's (0)."""


def read_records(path: Path) -> list[bytes]:
    return read_board_log(path)


@collector_paused()
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
    (``read_s``, ``replay_s``, ``decode_s``; for a PNG also ``pngbands.render_png_in_bands``'s)
    and ``replayed_records``. From ``path``, a picture starts from the board's snapshot where
    one fits (only the records after it are replayed); a timelapse replays the whole log.

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
    snapshot = None  # the board's snapshot, encoded; then records are the ones after it
    if records is None and path is not None and kind != "gif":  # a timelapse needs the history
        snapshot, records = read_board_after_snapshot(path, upto_seq)
    else:
        if records is None:
            records = read_records(path) if path is not None else []
        if upto_seq is not None:
            records = records[:upto_seq]
    phases["read_s"] = time.perf_counter() - started
    if kind == "gif":
        board = load_board(records)
        data = render_timelapse(
            board.ops,  # what applied, with placeholders for lost seqs: index = seq - 1
            options,
            limits.timelapse_max_frames,
            limits.timelapse_max_pixels,
            progress,
            lambda elements: with_images(elements, media),
        )
        return ExportResult(data, MEDIA_TYPES[kind], board.head_seq, None)
    if kind == "png":
        data, prepared = render_png_in_bands(
            records, options, limits, media, progress, EXPORT_NICENESS, timings, snapshot
        )
        return ExportResult(data, MEDIA_TYPES[kind], prepared.board.head_seq, prepared.frame)
    prepared = prepare(records, options, limits, media, phases, snapshot)
    strokes, frame = prepared.strokes, prepared.frame
    parallel = {
        "processes": limits.processes,
        "niceness": EXPORT_NICENESS,
        "deadline": limits.deadline,
        "geometry": prepared.geometry,
    }
    if kind == "svg":
        data = render_svg(strokes, frame, options.background, progress, **parallel).encode()
    else:
        data = render_pdf(strokes, frame, options.background, progress, **parallel)
    return ExportResult(data, MEDIA_TYPES[kind], prepared.board.head_seq, frame)


__all__ = [
    "BoardTooLarge",
    "ExportDeadline",
    "ExportLimits",
    "ExportResult",
    "ImageSource",
    "load_board",
    "run_export",
]
