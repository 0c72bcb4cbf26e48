"""Long work on the event loop, a slice at a time (loading a big board: parsing its log, applying
its records).

Work done in a thread holds the GIL for 5 ms at a time, and the event loop gives it up at every
``select``: every loop iteration then waits up to 5 ms for it, and a request that needs several
iterations waits tens of milliseconds (a 72.5 MB log parsed in a thread delayed ``/healthz`` by up
to 100 ms). Done on the loop instead, in slices of ``slice_ms``, with a pause of ``pause_ms``
after each: a request arriving meanwhile waits at most one slice, and its next few iterations run
in the pause. With ``await asyncio.sleep(0)`` between slices instead, each of its iterations
would wait a whole slice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def in_slices(step: Callable[[], bool], slice_ms: float, pause_ms: float) -> None:
    """Call ``step()`` until it returns True (done), for at most about ``slice_ms`` at a time
    (plus one step), sleeping ``pause_ms`` between slices. ``step`` must be short (~0.5 ms)."""
    slice_s, pause_s = slice_ms / 1000, pause_ms / 1000
    while True:
        started = time.perf_counter()
        while time.perf_counter() - started < slice_s:
            if step():
                return
        await asyncio.sleep(pause_s)
