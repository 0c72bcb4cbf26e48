"""Giving memory back to the system after boards unload (issue 12, item 10).

A board's records are bytes objects of a few KB each, which Python allocates with ``malloc``, not
its small-object allocator; glibc keeps the memory they freed for its own reuse, so a server that
opened a big board once keeps its size in RSS after it unloads. ``malloc_trim(0)`` gives the free
pages of glibc's heaps back to the system (``madvise``). It walks every heap, so it runs at most
once every ``memory_trim_interval_s``, a little after a board unloads (unloads come in waves),
in a thread: ctypes lets go of the GIL for the call, so the event loop keeps running.

Python's own 256 KiB arenas are not glibc's to trim: they go back only when every object in them
is free (``docs/performance.md``, "Memory after many boards").
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_DELAY_S = 1.0
"""Wait this long after an unload: boards unload in waves (idle timers, a full registry), and a
board's objects are freed when its hub's last task ends, a little after it unloads."""


def _glibc_trim() -> Callable[[], object] | None:
    """``malloc_trim(0)`` of the C library, if it has one (glibc does; musl does not)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class MemoryTrimmer:
    """Calls ``malloc_trim(0)`` a little after boards unload, at most once every
    ``interval_s`` (0: never)."""

    def __init__(self, interval_s: float, trim: Callable[[], object] | None = None) -> None:
        self.interval_s = interval_s
        self._trim = trim if trim is not None else _glibc_trim()
        self._task: asyncio.Task[None] | None = None
        self._last = -float("inf")
        self.trims = 0  # how many ran (tests, logs)

    def board_unloaded(self) -> None:
        if self.interval_s <= 0 or self._trim is None or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(self._trim_soon(), name="malloc-trim")

    async def _trim_soon(self) -> None:
        try:
            wait_s = max(TRIM_DELAY_S, self._last + self.interval_s - time.monotonic())
            await asyncio.sleep(wait_s)
            started = time.perf_counter()
            assert self._trim is not None
            await asyncio.to_thread(self._trim)
            self._last = time.monotonic()
            self.trims += 1
            log.debug("malloc_trim took %.1f ms", (time.perf_counter() - started) * 1000)
        finally:
            self._task = None

    def close(self) -> None:
        """Shutdown: no trim waits any more (one running finishes in its thread)."""
        if self._task is not None:
            self._task.cancel()
