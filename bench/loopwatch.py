"""Run ``python -m whiteboard ...`` with its event loop's long turns and garbage collections
recorded, to say what delayed live drawing during a benchmark.

    python bench/loopwatch.py OUT.json serve --port ...   (from the tree to run)

A turn is one pass of the event loop over its ready callbacks; a message from a drawer waits for
the rest of the turn it arrives in. Every turn whose callbacks ran longer than ``TURN_MS`` in all
is kept: when it began (``time.perf_counter``, CLOCK_MONOTONIC, the clock every process of a
benchmark shares), how long its callbacks took and how much of that the loop's thread ran on a CPU
(the rest it waited: for a CPU, the GIL, a page), how many ran, and the slowest few named by the
coroutine they stepped and where it was suspended after the step. Every garbage collection longer
than ``GC_MS`` is kept with its generation. Written to OUT.json at exit (the server exits on
SIGTERM after its shutdown). Costs ~1 us per callback; compare runs made under it with each other.
``LOOPWATCH_TURN_MS`` sets ``TURN_MS``; ``LOOPWATCH_ALL=1`` also keeps every callback and every
``select`` (when, how long, its timeout), to follow one request's steps (costs more).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import runpy
import selectors
import sys
import time
from asyncio import base_events, events
from typing import Any

TURN_MS = float(os.environ.get("LOOPWATCH_TURN_MS", "2.0"))
GC_MS = 1.0
SLOWEST_KEPT = 4
MAX_TURNS = 20_000
MAX_CALLBACKS = 2_000_000
record_all = os.environ.get("LOOPWATCH_ALL") == "1"


def kind(callback: Any) -> str:
    """The coroutine a callback steps, or the callable it is."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Future) and hasattr(owner, "get_coro"):
        coro = owner.get_coro()
        return "task " + getattr(coro, "__qualname__", type(coro).__name__)
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def describe(callback: Any) -> str:
    """What a callback stepped: a task's coroutine and where it waits now, or the callable."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Future) and hasattr(owner, "get_coro"):
        coro = owner.get_coro()
        inner = coro
        while hasattr(getattr(inner, "cr_await", None), "cr_frame"):  # the innermost coroutine
            inner = inner.cr_await
        frame = getattr(inner, "cr_frame", None)
        where = (
            f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno}" if frame else "done"
        )
        return f"{kind(callback)} -> {where}"
    return kind(callback)


def install(out_path: str) -> None:
    turns: list[dict[str, Any]] = []
    collections: list[tuple[float, float, int]] = []
    current: dict[str, Any] = {"sum": 0.0, "steps": [], "first": None}
    clock, cpu_clock = time.perf_counter, time.thread_time
    run_handle = events.Handle._run
    run_once = base_events.BaseEventLoop._run_once

    every: list[tuple[float, float, str]] = []  # LOOPWATCH_ALL: every callback, and selects

    def timed_run(handle: events.Handle) -> None:
        started = clock()
        if current["first"] is None:
            current["first"], current["cpu_first"] = started, cpu_clock()
        callback = handle._callback
        if record_all and len(every) < MAX_CALLBACKS:
            what = describe(callback)  # before the step: where it was suspended
        run_handle(handle)
        took = clock() - started
        current["cpu_last"] = cpu_clock()
        current["sum"] += took
        current["steps"].append((took, callback))
        if record_all and len(every) < MAX_CALLBACKS:
            every.append((started, took * 1000, what))

    def timed_once(loop: base_events.BaseEventLoop) -> None:
        current.update(sum=0.0, steps=[], first=None)
        run_once(loop)
        if current["sum"] * 1000 > TURN_MS and len(turns) < MAX_TURNS:
            steps = current["steps"]
            slow = sorted(steps, key=lambda s: -s[0])[:SLOWEST_KEPT]
            kinds: dict[str, list[float]] = {}
            for took, callback in steps:
                counted = kinds.setdefault(kind(callback), [0, 0.0])
                counted[0] += 1
                counted[1] += took * 1000
            turns.append({
                "at": current["first"],
                "ms": current["sum"] * 1000,
                "cpu_ms": (current["cpu_last"] - current["cpu_first"]) * 1000,
                "callbacks": len(steps),
                "slowest": [[round(t * 1000, 2), describe(cb)] for t, cb in slow],
                "kinds": sorted(([n, round(ms, 2), k] for k, (n, ms) in kinds.items()),
                                key=lambda c: -c[1])[:SLOWEST_KEPT],
            })  # fmt: skip

    gc_started: list[float] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[:] = [clock()]
        elif gc_started:
            took = clock() - gc_started[0]
            if took * 1000 > GC_MS:
                collections.append((gc_started[0], took * 1000, info["generation"]))

    if record_all:
        select = selectors.EpollSelector.select

        def timed_select(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
            started = clock()
            ready = select(self, timeout)
            if len(every) < MAX_CALLBACKS:
                waited = f"select({timeout if timeout is None else round(timeout * 1000, 2)} ms)"
                every.append((started, (clock() - started) * 1000, f"{waited} {len(ready)} ready"))
            return ready

        selectors.EpollSelector.select = timed_select  # type: ignore[method-assign]

    def dump() -> None:
        with open(out_path, "w") as f:
            json.dump({"turns": turns, "gc": collections, "every": every}, f)

    events.Handle._run = timed_run  # type: ignore[method-assign]
    base_events.BaseEventLoop._run_once = timed_once  # type: ignore[method-assign]
    gc.callbacks.append(on_gc)
    atexit.register(dump)


def window_report(path: str, start: float, end: float, top: int = 5) -> list[str]:
    """Lines saying what held the loop between ``start`` and ``end``: long turns, collections."""
    with open(path) as f:
        record = json.load(f)
    turns = [t for t in record["turns"] if start <= t["at"] <= end]
    collections = [c for c in record["gc"] if start <= c[0] <= end]
    lines = [
        f"{len(turns)} turns over {TURN_MS:g} ms ({sum(t['ms'] for t in turns):.0f} ms in all), "
        f"{len(collections)} collections over {GC_MS:g} ms "
        f"({sum(c[1] for c in collections):.0f} ms; gen2: {sum(c[2] == 2 for c in collections)})"
    ]
    for turn in sorted(turns, key=lambda t: -t["ms"])[:top]:
        slowest = "; ".join(f"{ms} {what}" for ms, what in turn["slowest"])
        kinds = "; ".join(f"{n} x {what} {ms} ms" for n, ms, what in turn["kinds"])
        lines.append(
            f"  {turn['ms']:.1f} ms ({turn['cpu_ms']:.1f} on CPU) at +{turn['at'] - start:.2f} s, "
            f"{turn['callbacks']} callbacks: {kinds}; slowest: {slowest}"
        )
    for at, ms, generation in sorted(collections, key=lambda c: -c[1])[:3]:
        lines.append(f"  gc gen{generation} {ms:.1f} ms at +{at - start:.2f} s")
    return lines


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())  # the tree to run, not this file's
    install(sys.argv[1])
    sys.argv = ["whiteboard", *sys.argv[2:]]
    runpy.run_module("whiteboard", run_name="__main__", alter_sys=True)
