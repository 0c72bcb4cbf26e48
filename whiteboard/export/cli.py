"""``whiteboard export <board-id> -o board.png``: the HTTP exports, from the command line.

Reads the board's log read-only (``store.read_board_log`` never repairs), so it is safe while a
server is writing to the same boards directory; it sees every op durable when it starts. The
format follows the output file's extension (.png, .svg, .pdf, .gif for the timelapse).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ..protocol import ID_PATTERN
from ..settings import Settings
from ..store.file import LOG_SUFFIX
from ..store.media import existing_media_directory
from .frame import MAX_SCALE, MIN_SCALE, ExportOptionError, parse_options
from .job import read_records, run_export
from .spec import MEDIA_TYPES, ExportLimits

PROGRESS_MIN_RECORDS = 2_000
"""Boards with fewer ops render in well under a second: no progress bar for them."""


class ProgressBar:
    """A one-line bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, label: str, stream: TextIO, width: int = 30) -> None:
        self.label, self.stream, self.width = label, stream, width
        self._last_draw = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        fraction = done / total if total else 1.0
        filled = round(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction:4.0%} {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def add_export_command(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="export a board as PNG, SVG, PDF or a timelapse GIF",
        description="Render a board to a file; the format follows the extension of -o "
        "(.png, .svg, .pdf, or .gif for a timelapse of the board being drawn). Safe while a "
        "server runs on the same boards directory: the log is only read. A board id that "
        "starts with '-' goes after '--': whiteboard export -o x.png -- -my-board",
    )
    export.add_argument(
        "board_id",
        metavar="BOARD_ID",
        help="the board's id (from its URL); after '--' if it starts with '-'",
    )
    export.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        metavar="FILE",
        help="file to write: .png, .svg, .pdf or .gif",
    )
    export.add_argument(
        "--boards-dir",
        dest="boards_dir",
        default=None,
        metavar="BOARDS_DIR",
        help="directory of the board logs [env WHITEBOARD_BOARDS_DIR; default 'boards']",
    )
    export.add_argument(
        "--scale", default=None, help=f"pixels per board unit, {MIN_SCALE}-{MAX_SCALE} [default 1]"
    )
    export.add_argument(
        "--background", default=None, help="white, transparent or #rrggbb [default white]"
    )
    export.add_argument(
        "--region",
        default=None,
        metavar="X,Y,W,H",
        help="board area to export, in board units [default: all the ink]",
    )
    export.add_argument(
        "--allow-empty",
        action="store_true",
        help="export a blank picture when the boards directory has no such "
        "board, instead of failing",
    )
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(run_export=run_export_command)


def run_export_command(
    args: argparse.Namespace, settings: Settings, stderr: TextIO | None = None
) -> int:
    stderr = stderr or sys.stderr
    board_id: str = args.board_id
    if not ID_PATTERN.fullmatch(board_id):
        stderr.write(
            f"whiteboard export: invalid board id {board_id!r}: 1-64 characters of "
            "A-Z a-z 0-9 _ -\n"
        )
        return 2
    output: Path = args.output
    kind = output.suffix.lower().lstrip(".")
    if kind not in MEDIA_TYPES:
        stderr.write(
            f"whiteboard export: cannot tell the format of {output}: use .png, .svg, .pdf or .gif\n"
        )
        return 2
    try:
        options = parse_options(args.scale, args.background, args.region)
    except ExportOptionError as exc:
        stderr.write(f"whiteboard export: {exc}\n")
        return 2
    path = settings.boards_dir / f"{board_id}{LOG_SUFFIX}"
    if not path.exists():
        if not args.allow_empty:
            stderr.write(
                f"whiteboard export: no board {board_id!r} in {settings.boards_dir} "
                f"(no file {path.name}); check the id and --boards-dir, or pass "
                "--allow-empty for a blank picture\n"
            )
            return 1
        stderr.write(f"whiteboard export: note: {path} does not exist; exporting an empty board\n")
    records = read_records(path)
    progress = None
    if not args.quiet and len(records) >= PROGRESS_MIN_RECORDS:
        progress = ProgressBar(f"export {board_id}", stderr)
    limits = ExportLimits.from_settings(settings)
    max_pixels = limits.max_pixels
    try:
        media = existing_media_directory(settings.boards_dir, board_id)
        result = run_export(
            kind, options, records=records, limits=limits, progress=progress, media=media
        )
    except ExportOptionError as exc:
        stderr.write(f"whiteboard export: {exc}\n")
        return 2
    output.write_bytes(result.data)
    if result.frame is not None and result.frame.scaled_down:
        stderr.write(
            f"whiteboard export: the picture would exceed {max_pixels} pixels; scaled "
            f"down to {result.frame.scale:.4g}\n"
        )
    if not args.quiet:
        size = "" if result.frame is None else f" {result.frame.width}x{result.frame.height}"
        stderr.write(
            f"wrote {output} ({kind}{size}, {len(result.data)} bytes, board at seq {result.seq})\n"
        )
    return 0
