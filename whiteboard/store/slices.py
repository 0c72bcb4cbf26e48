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
from collections.abc import Callable, Generator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

RUN_BYTES = 16 * 1024
"""Bytes of records handled between two clock reads: decoding a 4 KB stroke record takes about
55 µs, so a run is about 0.2 ms of work; a clock read (~50 ns) a run costs nothing measurable."""


async def in_slices(step: Callable[[float], bool], slice_ms: float, pause_ms: float) -> None:
    """Call ``step(deadline)`` until it returns True (done), sleeping ``pause_ms`` between calls
    and letting everything else that is ready run first (:func:`after_others`).

    ``step`` works until ``time.perf_counter()`` reaches ``deadline`` (``slice_ms`` after the
    call), reading the clock at least after every run of ``RUN_BYTES``, then returns False.
    A job of more than one slice also pauses after its last one; a job done in one slice
    returns at once (small boards load without waiting)."""
    slice_s, pause_s = slice_ms / 1000, pause_ms / 1000
    sliced = False
    while not step(time.perf_counter() + slice_s):
        sliced = True
        await asyncio.sleep(pause_s)
        await after_others(slice_s)
    if sliced:  # a long job's last slice: pause before the caller's next work (another job's
        await asyncio.sleep(pause_s)  # first slice held the loop on with it: 6-9 ms at once)


async def after_others(max_wait_s: float) -> None:
    """Return once no other callback is ready on the event loop, or after ``max_wait_s``.

    A drawing op's round trip is a chain of steps, each scheduled by the one before for the
    next turn of the loop (read, handle, commit, the append's thread, fan-out). A slice taken
    whenever its pause ended sat between two such steps, and each step waited for a whole slice:
    four or five slices a round trip (20-30 ms with 4 ms slices). Yielding while others are
    ready lets a chain run to its end first, so a round trip waits at most for the slice that
    was running when its message (or its thread's result) arrived. Bounded, so that a busy
    loop still gives a load at least one slice for every ``max_wait_s``.

    Reads ``_ready``, the private deque of callbacks due in asyncio's ``BaseEventLoop`` (the
    same from Python 3.4 to 3.13); ``tests/test_slices.py`` fails if it goes."""
    ready = getattr(asyncio.get_running_loop(), "_ready", None)
    if ready is None:
        return
    deadline = time.perf_counter() + max_wait_s
    while ready and time.perf_counter() < deadline:  # noqa: ASYNC110 (no event says "idle")
        await asyncio.sleep(0)


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


class Steps(Generic[T]):
    """A generator of small steps as a ``step`` for :func:`in_slices`: its steps are taken until
    the deadline passes; what it returns is ``result`` once ``done``."""

    __slots__ = ("_steps", "done", "result")

    def __init__(self, steps: Generator[None, None, T]) -> None:
        self._steps = steps
        self.done = False
        self.result: T | None = None

    def step(self, deadline: float) -> bool:
        try:
            while True:
                next(self._steps)
                if time.perf_counter() >= deadline:
                    return False
        except StopIteration as finished:
            self.done, self.result = True, finished.value
            return True
