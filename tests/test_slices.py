"""Long work on the event loop in slices: other work runs between slices and after the last."""

from __future__ import annotations

import asyncio

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
