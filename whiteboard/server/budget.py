"""A budget of server work per client address, so that no mix of valid messages lets one client
take the CPU from everyone else.

Rate limits on frames and bytes bound what a client sends, not what it costs: within them, frames
of 10,000-id erases or 20,000-point strokes cost 20-30 ms each to decode and apply, and an undo of
a big erase costs milliseconds in a 20-byte message. ``Board.work_units`` estimates each message's
work in microseconds and the frame's bytes stand for decoding; the receive loop pays for both
before doing the work (cheap messages a few together: at most ``WORK_CHARGE_UNITS`` in
arrears). A client over its budget is not closed: it waits until it is back in credit, so its
messages are applied later and its frames read later (TCP pushes back on it).
Work is also cut into slices: after ``WORK_SLICE_UNITS`` the loop yields, so a frame full of
expensive ops never holds the event loop for long.

The budget belongs to the client's address, shared by all its connections: a budget per
connection would start full again on every reconnect, and being closed (4005 after too many
"nothing to do" answers) would be the attacker's way to refill it. Opening a connection is *not*
charged: a talk's audience behind one NAT or proxy is one address, and a thousand phones joining
within a minute must not wait for each other's budget (about 2 ms of work each would pace them
to ~125 joins a second). Their messages are cheap (a cursor or a live point costs a few units),
so a hall stays far below the budget; the expensive ops it is for are rare in a hall.
"""

from __future__ import annotations

import asyncio
import time

from ..store.slices import after_others

FRAME_BYTES_PER_UNIT = 5
"""Decoding and validating a frame costs up to 0.2 µs per byte (20,000-point strokes, 10,000-id
erases; measured on this project's 2-core VM): one work unit per 5 bytes."""
WORK_SLICE_UNITS = 1_000
"""Estimated work (µs) one connection does before letting other tasks run."""
WORK_CHARGE_UNITS = 250
"""Cheap messages are charged together once they add up to this much work (or at the end of their
frame), not one by one: a charge reads the clock and costs ~0.7 µs, 4% of a live point's whole
cost at saturation. A message that costs this much alone is charged before it is applied, as
before; the others are paid at most this far in arrears."""
WORK_OVERRUN_UNITS = 1_000
"""A message that took this much longer than ``Board.work_units`` estimated is charged what it
took (the receive loop times each one; two clock reads, ~0.1 µs). Estimates are per kind of
message and some work is not: undoing a move of elements that were moved many times, showing a
whole cleared board again. Without this, a 20-byte undo charged 10 ms could take 680 ms, and a
client could use many times its budget. Above a millisecond, so that the timing noise of cheap
messages (a collection, a thread taking the GIL) is not charged to them."""
OTHERS_FIRST_AFTER_S = 0.004
"""A connection that held the event loop this long since it last let go (a slice of big ops:
its estimate is a count, not a clock) lets everything else that is ready run first
(``slices.after_others``) before its next slice. A request is a chain of steps, each scheduled
for the next turn of the loop (read, route, respond): an attacker's slice in each of those turns
made one ``/healthz`` wait for 4-5 slices, 72-74 ms behind 12-24 ms slices of 10,000-stroke
erases; let through first, it waits for one. Shorter slices (cheap ops at saturation) just
yield, as before: letting a whole fan-out's sends go first after each would cut a writer's
input into more, smaller frames to its viewers. As long as a load's slice."""
OTHERS_FIRST_S = 0.002
"""How long such a connection waits for the others at most, so that a loop that is never idle
still gives it its turns."""
WORK_PER_ERROR_ANSWER = 40
"""An ``error`` answer travels in a frame of its own: encoding and sending it cost about 40 µs,
more than most ops (measured: 512 'nothing to do' clears a frame kept a core busy at 6,000/s)."""


class WorkBudget:
    """``units_per_second`` of work, at most ``burst_units`` saved up; paying waits when in debt."""

    __slots__ = ("_burst", "_rate", "_since_yield", "_stamp", "_tokens")

    def __init__(self, units_per_second: float, burst_units: float) -> None:
        self._rate = units_per_second
        self._burst = burst_units
        self._tokens = burst_units
        self._stamp = time.monotonic()
        self._since_yield = 0

    def charge(self, units: int) -> float | None:
        """Charge ``units`` and say how long to wait before doing the work: seconds when that
        puts the address in debt, 0 (yield) when this connection worked a whole slice without
        letting others run, None when it may go on at once. Not a coroutine: the receive loop
        charges every message, and most go on (:meth:`pay` is the awaitable form)."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate) - units
        self._stamp = now
        self._since_yield += units
        if self._tokens < 0:
            self._since_yield = 0
            return -self._tokens / self._rate
        if self._since_yield >= WORK_SLICE_UNITS:
            self._since_yield = 0
            return 0.0
        return None

    async def pay(self, units: int, held_s: float = 0.0) -> bool:
        """Charge ``units``; wait first if that puts the connection in debt, or yield if this
        connection has worked a whole slice without letting others run (``held_s``: how long
        it has held the loop, see :func:`wait`). True if it waited or yielded."""
        wait_s = self.charge(units)
        if wait_s is None:
            return False
        await wait(wait_s, held_s)
        return True

    async def pay_frame(self, frame_bytes: int, held_s: float = 0.0) -> bool:
        """Charge the decoding of a frame of ``frame_bytes``."""
        return await self.pay(frame_bytes // FRAME_BYTES_PER_UNIT, held_s)

    @property
    def credit_units(self) -> float:
        return self._tokens


async def wait(wait_s: float, held_s: float) -> None:
    """Wait ``wait_s`` (what :meth:`WorkBudget.charge` said); then, for a connection that held
    the event loop ``held_s`` of at least ``OTHERS_FIRST_AFTER_S`` before, let what else is ready
    run first (at most ``OTHERS_FIRST_S``)."""
    await asyncio.sleep(wait_s)
    if held_s >= OTHERS_FIRST_AFTER_S:
        await after_others(OTHERS_FIRST_S)
