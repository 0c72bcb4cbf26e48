"""The board hub without a network: loading a board in slices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.server.hub import BoardHub
from whiteboard.settings import Settings


class MemoryLog:
    """A board log held in a list."""

    def __init__(self, records: list[bytes]) -> None:
        self.records = records

    async def read(self) -> list[bytes]:
        return list(self.records)

    def reserve(self, op_bytes: int) -> None:
        pass

    async def append(self, records: Sequence[bytes]) -> None:
        self.records += records

    async def truncate(self, count: int) -> None:
        del self.records[count:]

    async def close(self) -> None:
        pass


def board_records(strokes: int) -> list[bytes]:
    board = Board(max_strokes=strokes)
    for number in range(strokes):
        pts = (number % 400, number // 400, 4, 4, 4, 0, 3, 1)
        board.commit(Stroke(f"s{number}", Style("pen", "#000000", 2.0), pts, None), "author")
    return board.ops


async def test_loading_a_large_board_lets_other_tasks_run_in_between() -> None:
    records = board_records(20_000)
    hub = BoardHub("big", MemoryLog(records), Settings(load_slice_ms=0.5), lambda hub: None)
    turns = 0
    loading = asyncio.create_task(hub.load())

    async def other_board() -> None:
        nonlocal turns
        while not loading.done():
            turns += 1
            await asyncio.sleep(0)

    await asyncio.gather(loading, other_board())
    assert hub.board.head_seq == hub.durable_seq == 20_000
    assert hub.board.ops == records
    assert turns > 5, "the load should yield to other tasks between slices"
    await hub.close()
