"""The board hub without a network: loading a board in slices."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace

import msgpack
import pytest

from whiteboard import restore
from whiteboard.board import SLICED_RESTORE_ELEMENTS, Board
from whiteboard.protocol import Clear, Stroke, Style, Undo
from whiteboard.server.hub import BoardHub
from whiteboard.settings import Settings
from whiteboard.store.slices import end_of_run


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


async def test_a_load_slice_ends_within_one_run_of_records_of_its_deadline() -> None:
    """A slice reads the clock after every run of ``RUN_BYTES`` of records: with a deadline that
    is always past (a zero slice), another task runs after each run, however heavy the records
    (a count of records a step would let a board of big strokes hold the loop ten times longer)."""
    records = board_records(3_000)
    hub = BoardHub("big", MemoryLog(records), Settings(load_slice_ms=0), lambda hub: None)
    applied_between_turns: list[int] = []
    loading = asyncio.create_task(hub.load())

    async def other_board() -> None:
        seen = 0
        while not loading.done():
            await asyncio.sleep(0)
            applied_between_turns.append(hub.board.head_seq - seen)
            seen = hub.board.head_seq

    await asyncio.gather(loading, other_board())
    assert hub.board.ops == records
    run = end_of_run(records, 0)
    assert 1 < run < len(records)
    assert max(applied_between_turns) == run
    assert sum(applied_between_turns) == len(records)
    await hub.close()


def test_a_run_of_records_reaches_run_bytes_or_the_end() -> None:
    records = [b"x" * size for size in (10, 10, 30, 5, 100, 1)]
    assert end_of_run(records, 0, run_bytes=20) == 2
    assert end_of_run(records, 2, run_bytes=20) == 3
    assert end_of_run(records, 3, run_bytes=20) == 5
    assert end_of_run(records, 5, run_bytes=20) == 6
    assert end_of_run(records, 0, run_bytes=1000) == 6


async def test_an_old_clear_of_a_big_board_is_undone_in_slices_and_nothing_commits_meanwhile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Undoing a clear outside its author's undo window copies every stroke it shows into the
    op's ``restore``: built at once it held the event loop 90-450 ms for 100,000 strokes. It is
    built in slices, the board's other writers waiting, and the op is the same."""
    strokes = 2 * SLICED_RESTORE_ELEMENTS
    board = Board(max_strokes=strokes + 10, undo_window=2)
    for number in range(strokes):
        board.commit(Stroke(f"s{number}", Style("pen", "#000000", 2.0), (number, 0), None), "b")
    board.commit(Clear("clear"), "a")
    for number in range(3):  # the clear leaves a's window of 2
        board.commit(Stroke(f"a{number}", Style("pen", "#000000", 2.0), (0, 0), None), "a")
        board.commit(Undo(f"a{number}-undo"), "a")
    records = list(board.ops)
    expected = board.commit(Undo("old"), "a")
    assert len(msgpack.unpackb(expected)["restore"]["show"]) == strokes

    settings = Settings(load_slice_ms=0.2, snapshot_undo_actions=2)
    hub = BoardHub("big", MemoryLog(records), settings, lambda hub: None)
    await hub.load()
    author, other = (
        SimpleNamespace(author="a", view_only=False),
        SimpleNamespace(author="b", view_only=False),
    )
    undo = Undo("old")
    assert hub.must_wait(author, undo)
    assert not hub.must_wait(other, Undo("b-undo"))  # an undo in b's window: nothing to build
    turns, others_waited = 0, []
    building = asyncio.create_task(hub.ready(author, undo))

    async def other_writer() -> None:
        nonlocal turns
        await asyncio.sleep(0)
        while not building.done():
            turns += 1
            others_waited.append(
                hub.must_wait(other, Stroke("x", Style("pen", "#000", 1.0), (0, 0), None))
            )
            await asyncio.sleep(0)

    await asyncio.gather(building, other_writer())
    assert turns > 5, "building the restore should yield to other tasks between slices"
    assert all(others_waited)
    monkeypatch.setattr(restore, "run_to_end", None)  # the restore built ahead is the one used
    assert hub.board.commit(undo, "a") == expected
    assert not hub.must_wait(other, Undo("b-undo"))
    await hub.close()
