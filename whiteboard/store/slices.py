"""Long work on the event loop, a slice at a time (loading a big board: parsing its log, applying
its records).

Work done in a thread holds the GIL for 5 ms at a time, and the event loop gives it up at every
``select``: every loop iteration then waits up to 5 ms for it, and a request that needs several
iterations waits tens of milliseconds (a 72.5 MB log parsed in a thread delayed ``/healthz`` by up
to 100 ms). Done on the loop instead, in slices of ``slice_ms``, with a pause of ``pause_ms``
after each: a request arriving meanwhile waits at most one slice, and its next few iterations run
in the pause. With ``await asyncio.sleep(0)`` between slices instead, each of its iterations
would wait a whole slice.

A slice ends on time, not after a count of records: a step reads the clock after every run of
``RUN_BYTES`` of records, so it overshoots its deadline by at most one such run whatever the
records are (a step of 64 records took 0.3 ms of tiny ops but 4 ms of 2,000-point strokes, and
a slice of "4 ms" held the loop for up to 14 ms).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

RUN_BYTES = 16 * 1024
"""Bytes of records handled between two clock reads: decoding a 4 KB stroke record takes about
55 µs, so a run is about 0.2 ms of work; a clock read (~50 ns) a run costs nothing measurable."""


async def in_slices(step: Callable[[float], bool], slice_ms: float, pause_ms: float) -> None:
    """Call ``step(deadline)`` until it returns True (done), sleeping ``pause_ms`` between calls.

    ``step`` works until ``time.perf_counter()`` reaches ``deadline`` (``slice_ms`` after the
    call), reading the clock at least after every run of ``RUN_BYTES``, then returns False.
    A job of more than one slice also pauses after its last one; a job done in one slice
    returns at once (small boards load without waiting)."""
    slice_s, pause_s = slice_ms / 1000, pause_ms / 1000
    sliced = False
    while not step(time.perf_counter() + slice_s):
        sliced = True
        await asyncio.sleep(pause_s)
    if sliced:  # a long job's last slice: pause before the caller's next work (another job's
        await asyncio.sleep(pause_s)  # first slice held the loop on with it: 6-9 ms at once)


def end_of_run(records: Sequence[bytes], start: int, run_bytes: int = RUN_BYTES) -> int:
    """The end of the run of ``records`` from ``start`` that first reaches ``run_bytes`` (or of
    all of them): at least one record."""
    size, end = 0, start
    while end < len(records):
        size += len(records[end])
        end += 1
        if size >= run_bytes:
            break
    return end
