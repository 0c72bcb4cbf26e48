"""An export of a board with a snapshot starts from it (``export/job.py``): each process that
draws a part of the picture rebuilds the board from the snapshot and the log records after it,
not from every record since the board began (a board cleared and redrawn ten times would cost
ten boards). The picture is the one the whole log gives; the timelapse still replays the log."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from whiteboard.board import Board
from whiteboard.export.frame import ExportOptions
from whiteboard.export.job import run_export
from whiteboard.export.spec import ExportLimits
from whiteboard.protocol import Clear, Stroke, Style
from whiteboard.server.compactor import build_snapshot
from whiteboard.snapshot import STATE_FINGERPRINT
from whiteboard.store.file import FileSnapshotSource, read_board_log
from whiteboard.store.records import frame_record

ROUNDS, STROKES, POINTS = 3, 50, 4400  # enough visible points for two PNG bands
TAIL = 5  # strokes after the snapshot


def history_board(directory: Path) -> tuple[Path, int]:
    """A log of ``ROUNDS`` drawings each cleared but the last, a snapshot at its end, then
    ``TAIL`` strokes more; returns the log's path and the snapshot's seq."""
    board = Board(max_strokes=10**6)
    for round_ in range(ROUNDS):
        style = Style("pen", ["#aa0000", "#00aa00", "#0000aa"][round_], 4.0)
        for i in range(STROKES):
            pts = (i * 9, round_ * 40) + (3, (i % 5) - 2) * (POINTS - 1)
            board.commit(Stroke(f"r{round_}s{i}", style, pts, None), "ann")
        if round_ < ROUNDS - 1:
            board.commit(Clear(f"clear{round_}"), "ann")
    snapshot_seq = board.head_seq
    for i in range(TAIL):
        pts = (i * 30, 200) + (4, 1) * (POINTS - 1)
        board.commit(Stroke(f"tail{i}", Style("pen", "#000000", 6.0), pts, None), "ann")
    log_path = directory / "b.log"
    log_path.write_bytes(b"".join(frame_record(op) for op in board.ops))
    source = FileSnapshotSource(log_path, directory / "b.snap", room_bytes=10**9)
    build_snapshot(source, snapshot_seq, 10**6, 10, 64 * 1024)
    return log_path, snapshot_seq


@pytest.mark.parametrize("kind", ["png", "svg", "pdf"])
def test_an_export_starts_from_the_snapshot_and_draws_what_the_log_gives(
    tmp_path: Path, kind: str
) -> None:
    log_path, _ = history_board(tmp_path)
    limits = ExportLimits(processes=2)
    timings: dict[str, float] = {}
    from_snapshot = run_export(kind, ExportOptions(), path=log_path, limits=limits, timings=timings)
    assert timings["replayed_records"] == TAIL
    if kind == "png":
        assert timings["helper_load_s"] > 0  # the second band's process started from it too
    from_log = run_export(kind, ExportOptions(), records=read_board_log(log_path), limits=limits)
    assert from_snapshot.seq == from_log.seq == ROUNDS * (STROKES + 1) - 1 + TAIL
    assert hashlib.sha256(from_snapshot.data).digest() == hashlib.sha256(from_log.data).digest()


def test_an_export_before_the_snapshot_or_with_a_stale_one_replays_the_log(
    tmp_path: Path,
) -> None:
    log_path, snapshot_seq = history_board(tmp_path)
    records = read_board_log(log_path)
    timings: dict[str, float] = {}
    upto = snapshot_seq - 1
    before = run_export("png", ExportOptions(), path=log_path, upto_seq=upto, timings=timings)
    assert timings["replayed_records"] == upto
    assert before.data == run_export("png", ExportOptions(), records=records[:upto]).data
    snap = tmp_path / "b.snap"  # another version's snapshot
    snap.write_bytes(snap.read_bytes().replace(STATE_FINGERPRINT.encode(), b"0" * 32, 1))
    run_export("png", ExportOptions(), path=log_path, timings=timings)
    assert timings["replayed_records"] == len(records)
