"""One export, from a board's log records to file bytes: what the HTTP worker and the CLI run.

Pure apart from reading a log file read-only (``store.read_board_log``, which never repairs, so
it is safe while a server appends to the same file). Picklable arguments and result, so the HTTP
side can run it in a worker process, away from the event loop.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..board import Board
from ..store.file import read_board_log
from .render import (
    DEFAULT_MAX_EXPORT_PIXELS,
    ExportOptionError,
    ExportOptions,
    Frame,
    Progress,
    board_bounds,
    flatten,
    plan_frame,
    render_image,
)
from .svg import render_svg
from .timelapse import render_timelapse

MEDIA_TYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "gif": "image/gif",
}
PDF_DPI = 96.0
"""One board unit at scale 1 is one CSS pixel, which is 1/96 inch: the PDF page prints at the size
the board has on screen."""
PDF_JPEG_QUALITY = 95


@dataclass(frozen=True, slots=True)
class ExportResult:
    data: bytes
    media_type: str
    seq: int  # the board's head when it was drawn
    frame: Frame | None  # None for a timelapse (its frames have their own size)


def load_board(records: list[bytes]) -> Board:
    """The board of ``records`` as the server loads it (records that do not apply are skipped)."""
    board = Board(max_strokes=2**62)
    board.load(records)
    return board


def read_records(path: Path) -> list[bytes]:
    return read_board_log(path)


def run_export(kind: str, options: ExportOptions, records: list[bytes] | None = None,
               path: Path | None = None, upto_seq: int | None = None,
               max_pixels: int = DEFAULT_MAX_EXPORT_PIXELS,
               progress: Progress | None = None) -> ExportResult:
    """Render the board held in ``records`` (or the log at ``path``) as ``kind``.

    ``upto_seq`` stops at that op: a server exporting a loaded board passes its durable head, so
    ops appended meanwhile do not change the picture its ETag names.
    """
    if kind not in MEDIA_TYPES:
        raise ExportOptionError(f"format must be one of {', '.join(MEDIA_TYPES)}, got {kind!r}")
    if kind == "gif" and options.transparent:
        raise ExportOptionError("a GIF cannot be transparent; use white or #rrggbb")
    if records is None:
        records = read_records(path) if path is not None else []
    if upto_seq is not None:
        records = records[:upto_seq]
    board = load_board(records)
    records = board.ops  # what applied, with placeholders for lost seqs: index = seq - 1
    if kind == "gif":
        data = render_timelapse(records, options, progress)
        return ExportResult(data, MEDIA_TYPES[kind], board.head_seq, None)
    strokes = board.visible_strokes()
    frame = plan_frame(board_bounds(strokes), options, max_pixels)
    if kind == "svg":
        data = render_svg(strokes, frame, options.background).encode()
        return ExportResult(data, MEDIA_TYPES[kind], board.head_seq, frame)
    image = render_image(strokes, frame, options.background, progress)
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, format="PNG", compress_level=6)
    else:
        # Pillow embeds RGB as JPEG: high quality and no chroma subsampling keep thin coloured
        # strokes crisp.
        flatten(image).save(buffer, format="PDF", resolution=PDF_DPI * frame.scale,
                            title="whiteboard", quality=PDF_JPEG_QUALITY, subsampling=0)
    return ExportResult(buffer.getvalue(), MEDIA_TYPES[kind], board.head_seq, frame)


def export_file(kind: str, options: ExportOptions, path: str, upto_seq: int | None,
                max_pixels: int) -> ExportResult:
    """The server's worker-process entry point (this module imports no Quart, so workers start
    light)."""
    return run_export(kind, options, path=Path(path), upto_seq=upto_seq, max_pixels=max_pixels)


def lower_priority(niceness: int) -> None:
    """Worker initializer: yield the CPU to the event loop when cores are scarce."""
    os.nice(niceness)
