"""The compaction process: started and fed from a thread, never from the event loop."""

from __future__ import annotations

import concurrent.futures
import threading
from pathlib import Path

import pytest

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.server.compactor import CompactionFailed, Compactor, build_snapshot
from whiteboard.snapshot import Snapshot, StaleSnapshot
from whiteboard.store.file import FileSnapshotSource, read_wire
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
    stored = Snapshot.decode(source.snapshot_path.read_bytes())
    assert stored.seq == 300
    assert built.wire == stored.wire and built.wire_file is None  # read back from the file
    assert starting_threads and threading.main_thread() not in starting_threads


async def test_a_closed_compactor_starts_no_process(tmp_path: Path) -> None:
    compactor = Compactor()
    compactor.close()
    with pytest.raises(CompactionFailed, match="closing"):
        await compactor.build(board_files(tmp_path / "b", 3), 3, 1000, 10, 4096)
    assert compactor.pids == []


def test_the_wire_is_read_from_the_snapshot_file_only_while_it_holds_that_seq(
    tmp_path: Path,
) -> None:
    """The process hands back where the wire parts lie in the file it wrote, not the parts (70
    MB unpickled with the GIL held); a file replaced meanwhile is not read as that snapshot."""
    source = board_files(tmp_path / "b", 50)
    built = build_snapshot(source, 50, 1000, 10, 512)
    assert built.wire == [] and built.wire_file == source.snapshot_path
    stored = Snapshot.decode(source.snapshot_path.read_bytes())
    assert len(stored.wire) > 1
    assert read_wire(source.snapshot_path, 50, built.wire_spans) == stored.wire
    with pytest.raises(StaleSnapshot, match="no longer"):
        read_wire(source.snapshot_path, 49, built.wire_spans)
    source.snapshot_path.write_bytes(source.snapshot_path.read_bytes()[:-10])
    with pytest.raises(StaleSnapshot, match="shorter"):
        read_wire(source.snapshot_path, 50, built.wire_spans)
