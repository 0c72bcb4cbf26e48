"""Long work on the event loop in slices: other work runs between slices and after the last."""

from __future__ import annotations

import asyncio
import collections

from whiteboard.store.slices import in_slices


async def test_other_work_runs_between_slices_and_after_the_last_one() -> None:
    """The caller's next job (a board's log records applied after its snapshot state was
    rebuilt) does not start in the same turn as the previous job's last slice."""
    events: list[str] = []
    loop = asyncio.get_running_loop()

    def step(deadline: float) -> bool:
        events.append("slice")
        loop.call_soon(events.append, "other work")
        return events.count("slice") == 3

    await in_slices(step, slice_ms=4, pause_ms=0)
    events.append("next job")
    assert events == ["slice", "other work"] * 3 + ["next job"]


async def test_a_job_done_in_one_slice_returns_at_once() -> None:
    events: list[str] = []
    asyncio.get_running_loop().call_soon(events.append, "other work")
    await in_slices(lambda deadline: True, slice_ms=4, pause_ms=1)
    assert events == []  # a small board loads without waiting for a pause


async def test_a_chain_of_steps_runs_to_its_end_before_the_next_slice() -> None:
    """A round trip is a chain: each step schedules the next for the following turn (read,
    handle, commit, fan-out). All of its steps run between two slices, not one step a slice."""
    events: list[str] = []
    loop = asyncio.get_running_loop()
    assert isinstance(getattr(loop, "_ready", None), collections.deque)  # what after_others reads

    def link(number: int) -> None:
        events.append(f"link {number}")
        if number < 4:
            loop.call_soon(link, number + 1)

    def step(deadline: float) -> bool:
        events.append("slice")
        if events.count("slice") == 1:
            loop.call_soon(link, 1)
        return events.count("slice") == 2

    await in_slices(step, slice_ms=1000, pause_ms=0)
    assert events == ["slice", "link 1", "link 2", "link 3", "link 4", "slice"]


async def test_a_load_goes_on_while_the_loop_is_never_idle() -> None:
    """Something always ready (a replay pumping frame after frame) delays each slice by at most
    one slice's time: the load is slowed, never stopped."""
    loop = asyncio.get_running_loop()
    busy = True

    def spin() -> None:
        if busy:
            loop.call_soon(spin)

    slices = 0

    def step(deadline: float) -> bool:
        nonlocal slices
        slices += 1
        return slices == 5

    loop.call_soon(spin)
    try:
        await asyncio.wait_for(in_slices(step, slice_ms=2, pause_ms=0), 5)
    finally:
        busy = False
    assert slices == 5
