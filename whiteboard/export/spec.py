"""What an export job takes and gives, importable without the drawing libraries.

The server process imports only this (and ``frame``): Skia loads in the export worker alone, so
the server starts, and live drawing works, even on a host whose Skia cannot load (it needs the
system's libEGL and libGL), where exports then fail with a logged reason.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .frame import ExportOptions, Frame

PR_SET_PDEATHSIG = 1
"""prctl option: the signal this process gets when its parent dies (linux/prctl.h)."""
MEDIA_TYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "gif": "image/gif",
}


@dataclass(frozen=True, slots=True)
class ExportLimits:
    """The export settings a job needs (picklable; built from ``Settings``)."""

    max_pixels: int = 16_000_000
    png_compress_level: int = 1
    processes: int = 2
    timelapse_max_frames: int = 150
    timelapse_max_pixels: int = 480_000
    max_points: int | None = None
    deadline: float | None = None  # time.time() after which drawing stops

    @classmethod
    def from_settings(cls, settings: Any, **changes: Any) -> ExportLimits:
        values = {
            "max_pixels": settings.max_export_pixels,
            "png_compress_level": settings.png_compress_level,
            "processes": settings.export_processes,
            "timelapse_max_frames": settings.timelapse_max_frames,
            "timelapse_max_pixels": settings.timelapse_max_pixels,
        }
        values.update(changes)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class ExportResult:
    data: bytes
    media_type: str
    seq: int  # the board's head when it was drawn
    frame: Frame | None  # None for a timelapse (its frames have their own size)


class BoardTooLarge(Exception):
    """The board has more points than an export may draw (``max_export_points``)."""

    def __init__(self, points: int, limit: int) -> None:
        super().__init__(
            f"the board has {points:,} visible points; exports over HTTP are "
            f"limited to {limit:,} (max_export_points): export a region, or use "
            "`whiteboard export` on the server"
        )
        self.points, self.limit = points, limit

    def __reduce__(self) -> tuple[type, tuple[int, int]]:  # crosses from the worker process
        return type(self), (self.points, self.limit)


class ExportDeadline(Exception):
    """The export ran past its deadline; raised between strokes so the worker stops at once."""


def lower_priority(niceness: int) -> None:
    """Initializer of export processes: run at ``niceness`` (absolute, never raised back) and, on
    Linux, in the SCHED_IDLE class, so the event loop of the server wins the CPU at once when
    cores are scarce (at nice +10 alone a woken server still waited up to a time slice: live p99
    3-5 ms during exports on 2 cores, docs/performance.md); and die with the parent (Linux's
    parent-death signal), so a killed server or worker leaves no drawing process behind."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if niceness > current:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            pass
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the pools still stop on a normal shutdown
        pass
    if os.getppid() == 1:  # the parent died before the signal was armed
        os._exit(1)


def start_export_worker(niceness: int) -> None:
    """Initializer of the export worker: low priority (``lower_priority``), then load what every
    export needs before the first one asks for it. A user's first export otherwise paid for the
    drawing libraries' import and for unpacking the board fonts (WOFF2 to TrueType in Python):
    1.5 s for a board of four elements, up to 6 s on a busy 2-core machine. ``Renders.warm``
    starts the worker when a board page opens, so this runs while the user draws."""
    lower_priority(niceness)
    from . import job  # noqa: F401  (every format's renderer)
    from .text import font_collection

    font_collection()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one export (back as it was after): an export
    makes millions of objects that live until it ends and hold no cycles, and the collector's
    passes over them, every 700 allocations, took ~0.08 s of the first 1M-point export's load.
    Memory is still freed as usual (reference counting); only cycles wait until after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def stop_processes(pool: Any) -> None:
    """Stop a process pool now: cancel what waits, end the processes (their helpers follow
    through the parent-death signal). A running export is abandoned, not awaited."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


def export_in_worker(
    kind: str,
    options: ExportOptions,
    source: str | list[bytes] | None,
    upto_seq: int | None,
    limits: ExportLimits,
    media: str | dict[str, bytes] | None = None,
) -> ExportResult:
    """The server's worker-process entry point: the drawing libraries load here, not in the
    server. ``source`` is the board's log file, its records (Redis mode), or None (never drawn);
    ``media`` its media directory, or its images by name (Redis mode)."""
    from pathlib import Path

    from .job import run_export

    if source is None:  # never drawn on
        return run_export(kind, options, records=[], limits=limits)
    images = Path(media) if isinstance(media, str) else media
    if isinstance(source, list):
        return run_export(
            kind, options, records=source, upto_seq=upto_seq, limits=limits, media=images
        )
    return run_export(
        kind, options, path=Path(source), upto_seq=upto_seq, limits=limits, media=images
    )
