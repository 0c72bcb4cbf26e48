"""Requests waiting for one render wake a few per turn of the event loop, not all in one turn.

200 identical export requests (a room opening a shared link) used to wake in the one turn that
followed the render, ~40 ms of work in one step while live drawing waited
(bench/bench_export_storm.py). No server here: the real ``Exporter`` under Quart request
contexts, its render held until released, and a ticker that counts the loop's turns.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from quart import Quart

from whiteboard.export.frame import Frame
from whiteboard.export.http import Exporter
from whiteboard.export.renders import WAKE_PER_TURN, SharedRender
from whiteboard.export.spec import ExportResult
from whiteboard.settings import Settings

WAITERS = 30


class NoHubs:
    def loaded(self, board_id: str) -> None:
        return None


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root


class Turns:
    """Counts turns of the running loop: a callback that reschedules itself runs once a turn."""

    def __init__(self) -> None:
        self.count = 0
        self._running = True
        asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        if self._running:
            asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        self._running = False


async def test_identical_requests_wake_a_few_per_turn_when_their_render_is_done(
    tmp_path: Path,
) -> None:
    (tmp_path / "stored.log").write_bytes(b"")  # on disk, not loaded
    exporter = Exporter(NoHubs(), Store(tmp_path), Settings(boards_dir=tmp_path))  # type: ignore[arg-type]
    release = asyncio.Event()
    renders: list[str] = []

    async def held_render(kind: str, *args: Any) -> ExportResult:
        renders.append(kind)
        await release.wait()
        return ExportResult(b"picture", "image/png", 5, Frame(0.0, 0.0, 1.0, 1, 1, 1.0))

    resumed_at: list[int] = []

    async def respond(name: str, kind: str, entry: Any) -> str:
        resumed_at.append(turns.count)
        return entry.result.data.decode()

    exporter.renders._render = held_render  # type: ignore[method-assign]
    exporter.sender.send = respond  # type: ignore[method-assign]
    app = Quart(__name__)

    async def request() -> Any:
        async with app.test_request_context("/b/stored/export.png?scale=2"):
            return await exporter.export("stored", "png")

    tasks = [asyncio.create_task(request()) for _ in range(WAITERS)]
    async with asyncio.timeout(10):  # one request renders, the others wait for it
        while sum(shared.waiting for shared in exporter.renders._inflight.values()) < WAITERS - 1:
            await asyncio.sleep(0)
    turns = Turns()
    release.set()
    answers = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    turns.stop()
    assert answers == ["picture"] * WAITERS
    assert renders == ["png"]
    per_turn = Counter(resumed_at)
    assert max(per_turn.values()) <= WAKE_PER_TURN  # the renderer and each batch
    assert len(per_turn) >= (WAITERS - 1) // WAKE_PER_TURN


async def test_a_waiter_that_went_away_does_not_hold_up_the_others() -> None:
    shared = SharedRender(per_turn=1)
    waiting = [asyncio.create_task(shared.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    waiting[0].cancel()
    shared.fail(ValueError("drawing failed"))
    done = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5)
    assert isinstance(done[0], asyncio.CancelledError)
    assert [type(outcome) for outcome in done[1:]] == [ValueError, ValueError]
