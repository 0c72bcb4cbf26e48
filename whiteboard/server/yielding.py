"""A compaction in flight yields the core to a busy server.

On a one-core machine the compaction process shares the core with live traffic, and at its
niceness it still takes about a tenth of it whenever it runs: at saturation that was most of what
the server lost against the code before snapshots (``docs/performance.md``, "Fan-out"). Waiting
to *start* a compaction did not help (a board drawn on that hard is due again before a
compaction at a tenth of the core ends), so a compaction pauses *while it runs*: the server
says it is busy (``compact_yield_cpu_share`` of a core over the last sample) in a flag the
process reads between records and between elements, and the process sleeps while the flag is
set, for at most ``compact_max_pause_s`` per snapshot, so snapshots still happen on a board that
never stops being busy.

The flags are plain shared memory written by one side each, without a lock: neither side ever
waits for the other. (A ``multiprocessing.Event`` would not do: its ``set()`` waits until every
sleeper has woken, which is forever when the sleeping process was killed, and the server's event
loop would wait with it.)
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from multiprocessing.context import BaseContext

LOAD_SAMPLE_S = 0.2
"""How often the server measures its own load while a compaction is in flight: a compaction
that started while the server was quiet runs at most this long into a busy spell."""

CHECK_EVERY_S = 0.005
"""How much work the process does between two reads of the flag (reading the clock per record
or element costs ~0.1 us; the flag's memory, less)."""

PAUSE_POLL_S = 0.02
"""While paused, how often the process looks at the flag again: how soon it resumes once the
server is quiet (50 wake-ups a second of a sleeping process cost nothing measurable)."""


class CpuShare:
    """The share of a core this process used (all its threads: the event loop and the log's
    fsync thread) between two calls of :meth:`sample`."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self._clock, self._cpu = clock, cpu
        self._at_s, self._cpu_at_s = clock(), cpu()

    def sample(self) -> float:
        now_s, cpu_s = self._clock(), self._cpu()
        elapsed_s = now_s - self._at_s
        share = (cpu_s - self._cpu_at_s) / elapsed_s if elapsed_s > 0 else 0.0
        self._at_s, self._cpu_at_s = now_s, cpu_s
        return share


class YieldFlags:
    """Memory shared with the compaction process: ``busy`` written by the server, ``paused`` by
    the process (while it sleeps for the server; tests and logs read it). Picklable only when
    handed to a process being started (``initargs``), as any shared ctypes object."""

    def __init__(self, context: BaseContext) -> None:
        self.busy = context.RawValue(ctypes.c_bool, False)
        self.paused = context.RawValue(ctypes.c_bool, False)


class Pauses:
    """In the compaction process, one per snapshot: called between records and between
    elements; returns at once unless the server is busy, then sleeps until it is not, for at
    most ``max_pause_s`` in all (0: never pauses)."""

    def __init__(
        self,
        flags: YieldFlags,
        max_pause_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.flags = flags
        self.max_pause_s = max_pause_s
        self.paused_s = 0.0
        self._clock, self._sleep = clock, sleep
        self._next_check_s = 0.0

    def __call__(self) -> None:
        now_s = self._clock()
        if now_s < self._next_check_s:
            return
        while self.flags.busy.value and self.paused_s < self.max_pause_s:
            self.flags.paused.value = True
            self._sleep(min(PAUSE_POLL_S, self.max_pause_s - self.paused_s))
            after_s = self._clock()
            self.paused_s += after_s - now_s
            now_s = after_s
        self.flags.paused.value = False
        self._next_check_s = now_s + CHECK_EVERY_S
