"""The compaction process: started and fed from a thread, never from the event loop."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import pytest

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.server.compactor import CompactionFailed, Compactor
from whiteboard.snapshot import Snapshot
from whiteboard.store.file import FileSnapshotSource
from whiteboard.store.records import frame_record


def board_files(directory: Path, strokes: int) -> FileSnapshotSource:
    directory.mkdir()
    board = Board(max_strokes=strokes)
    style = Style("pen", "#112233", 3.0)
    for i in range(strokes):
        board.commit(Stroke(f"s{i}", style, (i, 0, 3, -2), None), "a")
    log_path = directory / "b.log"
    log_path.write_bytes(b"".join(frame_record(op) for op in board.ops))
    return FileSnapshotSource(log_path, directory / "b.snap")


async def test_the_process_is_started_and_fed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spawning the process (and pickling a job's arguments) held the event loop for 7-12 ms
    right after a big board loaded; both now happen in a thread."""
    starting_threads: list[threading.Thread] = []
    spawn = concurrent.futures.ProcessPoolExecutor._adjust_process_count

    def spy(pool: concurrent.futures.ProcessPoolExecutor) -> None:
        starting_threads.append(threading.current_thread())
        spawn(pool)

    monkeypatch.setattr(concurrent.futures.ProcessPoolExecutor, "_adjust_process_count", spy)
    compactor = Compactor()
    source, other = board_files(tmp_path / "one", 300), board_files(tmp_path / "two", 20)
    try:
        built = await compactor.build(source, 300, 1000, 10, 4096)
        again = await compactor.build(other, 20, 1000, 10, 4096)
    finally:
        compactor.close()
    assert (built.seq, built.elements, again.seq) == (300, 300, 20)
    assert Snapshot.decode(source.snapshot_path.read_bytes()).seq == 300
    assert starting_threads and threading.main_thread() not in starting_threads


async def test_a_closed_compactor_starts_no_process(tmp_path: Path) -> None:
    compactor = Compactor()
    compactor.close()
    with pytest.raises(CompactionFailed, match="closing"):
        await compactor.build(board_files(tmp_path / "b", 3), 3, 1000, 10, 4096)
    assert compactor.pids == []
