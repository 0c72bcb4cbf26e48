"""Snapshots: a client that loads one and applies the ops after it sees the board the server has;
a server that loads one goes on exactly as if it had replayed the whole log."""

from __future__ import annotations

import mmap
import os
import pickle
import random
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.mirror import Mirror
from tests.reference import reference_ops
from whiteboard.board import Board, Duplicate
from whiteboard.protocol import Clear, Erase, InvalidMessage, Redo, Stroke, Style, Undo
from whiteboard.snapshot import (
    Snapshot,
    SnapshotReader,
    StaleSnapshot,
    read_zigzag_varints,
    take_snapshot,
    zigzag_varints,
)

PART_BYTES = 600  # small, so that snapshots come in several parts


def random_messages(count: int, seed: int) -> list[tuple[Any, str]]:
    """Strokes, erases, clears, undos and redos by three authors: (message, author)."""
    rng = random.Random(seed)
    stroke_ids: list[str] = []
    out: list[tuple[Any, str]] = []
    for index in range(count):
        author = rng.choice(["alice", "bob", "carol"])
        kind = rng.choices(["stroke", "erase", "clear", "undo", "redo"], [6, 2, 0.4, 3, 2])[0]
        op_id = f"op{index}"
        if kind == "stroke":
            pts = (rng.randint(-4000, 4000), rng.randint(-4000, 4000), 4, -70, 300, 2)
            pressure = (10, 50, 90) if rng.random() < 0.3 else None
            message: Any = Stroke(op_id, Style("pen", "#112233", 3.0), pts, pressure)
            stroke_ids.append(op_id)
        elif kind == "erase":
            message = Erase(op_id, tuple(rng.sample(stroke_ids, min(3, len(stroke_ids)))) or ("x",))
        elif kind == "clear":
            message = Clear(op_id)
        elif kind == "undo":
            message = Undo(op_id)
        else:
            message = Redo(op_id)
        out.append((message, author))
    return out


def commit_all(board: Board, messages: list[tuple[Any, str]]) -> list[bytes]:
    """Commit what applies (the server refuses the rest and logs nothing); the ops committed."""
    committed = []
    for message, author in messages:
        try:
            result = board.commit(message, author)
        except InvalidMessage:
            continue
        if not isinstance(result, Duplicate):
            committed.append(result)
    return committed


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("window", [1, 4, 100])
def test_snapshot_and_the_ops_after_it_give_the_servers_visible_strokes(
    seed: int, window: int
) -> None:
    messages = random_messages(500, seed)
    board = Board(max_strokes=10_000, undo_window=window)
    cut = random.Random(seed).randint(50, 400)
    commit_all(board, messages[:cut])
    snapshot = take_snapshot(board, PART_BYTES)
    mirror = Mirror()
    for part in snapshot.wire:
        mirror.receive(msgpack.unpackb(part, raw=False))
    assert mirror.seq == board.head_seq
    assert mirror.visible_ids() == board.visible_ids()
    for message in messages[cut:]:
        for encoded in commit_all(board, [message]):
            mirror.receive(msgpack.unpackb(encoded, raw=False))
            assert mirror.visible_ids() == board.visible_ids()
    assert mirror.ops > 0


def test_snapshot_leaves_out_strokes_no_undo_in_the_window_can_show() -> None:
    board = Board(max_strokes=1000, undo_window=3)
    style = Style("pen", "#000000", 2.0)
    for round_number in range(3):
        for index in range(10):
            board.commit(Stroke(f"r{round_number}s{index}", style, (index, 0, 1, 1), None), "a")
        board.commit(Clear(f"clear{round_number}"), "a")
    for index in range(5):
        board.commit(Stroke(f"last{index}", style, (index, 0, 1, 1), None), "a")
    snapshot = take_snapshot(board, 1 << 20)
    assert snapshot.elements == 5  # the three cleared boards are out of every author's window
    # Undo the last five strokes and the clear before them: the clear's strokes come along.
    mirror = Mirror()
    for part in snapshot.wire:
        mirror.receive(msgpack.unpackb(part, raw=False))
    for index in range(6):
        op = msgpack.unpackb(board.commit(Undo(f"u{index}"), "a"), raw=False)
        assert ("restore" in op) == (index >= 3), op  # actions 4 or more back: window 3
        mirror.receive(op)
    assert [s["id"] for s in op["restore"]["show"]] == [f"r2s{i}" for i in range(10)]
    assert mirror.visible_ids() == board.visible_ids() == [f"r2s{i}" for i in range(10)]
    redo = msgpack.unpackb(board.commit(Redo("r0"), "a"), raw=False)
    assert redo["restore"] == {"hide": [f"r2s{i}" for i in range(10)]}
    mirror.receive(redo)
    assert mirror.visible_ids() == board.visible_ids() == []


def test_an_undo_carries_its_restore_once() -> None:
    """The ``restore`` was encoded twice into its op, as a bin and then spliced in as a map: a
    client read the map (the last key wins), and the op weighed twice what it carried (17.6 MB
    for a clear of 100,000 strokes shown again, of which 8.8 MB read)."""
    board = Board(max_strokes=100, undo_window=1)
    for index in range(10):
        board.commit(Stroke(f"s{index}", Style("pen", "#000000", 2.0), (index, 0), None), "b")
    board.commit(Clear("clear"), "a")
    board.commit(Stroke("a0", Style("pen", "#000000", 2.0), (0, 0), None), "a")
    board.commit(Undo("a0-undo"), "a")
    encoded = board.commit(Undo("old"), "a")

    def unique(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    op = msgpack.unpackb(encoded, raw=False, object_pairs_hook=unique)
    assert [s["id"] for s in op["restore"]["show"]] == [f"s{i}" for i in range(10)]
    assert len(encoded) < len(msgpack.packb(op["restore"])) + 100


def test_a_board_loaded_from_a_snapshot_goes_on_exactly_like_the_original() -> None:
    messages = random_messages(900, 11)
    original = Board(max_strokes=10_000, undo_window=4)
    commit_all(original, messages[:600])
    loaded = Snapshot.decode(take_snapshot(original, PART_BYTES).encode()).board()
    assert loaded.head_seq == original.head_seq
    # Every op id from before the snapshot is acknowledged with its seq, never applied again.
    for message, author in messages[:600]:
        seq = original.op_seq.get(message.id)
        if seq is not None:
            assert loaded.commit(message, author) == Duplicate(message.id, seq)
    # And what follows commits to the very same bytes (undo stacks, windows, hidden sets).
    assert commit_all(loaded, messages[600:]) == commit_all(original, messages[600:])
    assert loaded.visible_ids() == original.visible_ids()
    assert loaded.visible_strokes() == original.visible_strokes()


def test_points_travel_in_about_two_bytes() -> None:
    board = Board(max_strokes=100)
    rng = random.Random(3)
    pts = [1000, -1000]
    for _ in range(499):
        pts += [rng.randint(-32, 32), rng.randint(-32, 32)]
    board.commit(Stroke("s", Style("pen", "#000000", 2.0), tuple(pts), None), "a")
    (part,) = take_snapshot(board, 1 << 20).wire
    assert len(part) < 2 * 500 + 200
    assert read_zigzag_varints(msgpack.unpackb(part)["pts"]) == pts


@given(st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=50))
def test_zigzag_varints_round_trip(values: list[int]) -> None:
    assert read_zigzag_varints(zigzag_varints(values)) == values


def test_a_snapshot_from_other_code_is_stale() -> None:
    board = Board(max_strokes=10)
    snapshot = take_snapshot(board, 1000)
    snapshot.fingerprint = "0" * 32
    with pytest.raises(StaleSnapshot):
        Snapshot.decode(snapshot.encode())
    with pytest.raises(StaleSnapshot):
        Snapshot.decode(b"\x93not a snapshot")


@pytest.mark.parametrize("mapped", [False, True], ids=["bytes", "mapped"])
def test_a_snapshot_read_a_run_at_a_time_is_the_snapshot_read_at_once(mapped: bool) -> None:
    """A server decodes a snapshot on its event loop in slices (``SnapshotReader``): a step
    whose deadline has passed decodes one field, or one run of ``run_bytes`` of ops or wire
    parts, so no slice holds the loop for the whole snapshot (15 ms at 72.5 MB). A big snapshot
    file is read into an anonymous mapping (``store/buffers.py``): it reads the same."""
    board = Board(max_strokes=10_000, undo_window=4)
    commit_all(board, random_messages(900, 5))
    data = take_snapshot(board, PART_BYTES).encode()
    whole = Snapshot.decode(data)
    largest = max(map(len, whole.ops + whole.wire))
    source: bytes | mmap.mmap = data
    if mapped:
        source = mmap.mmap(-1, len(data))
        source.write(data)
        source.seek(0)
    reader, steps, decoded, run_bytes = SnapshotReader(source), 0, 0, 2_000
    while not reader.step(deadline=0.0, run_bytes=run_bytes):
        steps += 1
        now = sum(len(item) for key in ("ops", "wire") for item in reader.fields.get(key, ()))
        assert now - decoded < run_bytes + largest
        decoded = now
    assert steps > len(data) // run_bytes // 2
    assert reader.snapshot() == whole
    loaded = reader.snapshot().board()
    assert loaded.head_seq == board.head_seq
    assert loaded.visible_strokes() == board.visible_strokes()


def test_a_snapshot_from_other_code_is_refused_before_its_ops_are_read() -> None:
    board = Board(max_strokes=1000)
    commit_all(board, random_messages(300, 6))
    snapshot = take_snapshot(board, PART_BYTES)
    snapshot.fingerprint = "0" * 32
    reader = SnapshotReader(snapshot.encode())
    with pytest.raises(StaleSnapshot, match="other code"):
        while not reader.step(deadline=0.0):
            assert "ops" not in reader.fields


class Exploit:
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, ("true",))


def test_a_snapshot_cannot_run_code() -> None:
    snapshot = take_snapshot(Board(max_strokes=10), 1000)
    snapshot.state = [pickle.dumps(Exploit())]
    with pytest.raises(StaleSnapshot, match="may not hold"):
        Snapshot.decode(snapshot.encode()).board()


@pytest.mark.parametrize("seed", [7, 8])
def test_restores_built_a_step_at_a_time_beforehand_commit_the_same_ops(seed: int) -> None:
    """A server builds a big undo's ``show`` or ``hide`` in slices before committing it
    (``BoardHub.ready``): every op comes out byte for byte as when built at once."""
    built_ahead = reference_ops(800, seed, undo_window=3, prepare_restores=True)
    assert any("restore" in op for op in built_ahead[0])
    assert built_ahead == reference_ops(800, seed, undo_window=3)


@pytest.mark.parametrize("seed", [7, 8])
def test_a_board_of_elements_reloaded_from_its_snapshot_commits_the_same_ops(seed: int) -> None:
    """Text, notes, images, pastes, moves, z-order and edits: a board that goes on from its
    snapshot halfway commits byte for byte the same ops (restores included) as one that never
    stopped, and ends with the same elements, placements and text."""
    straight = reference_ops(800, seed, undo_window=3)
    reloaded = reference_ops(800, seed, undo_window=3, reload_at=400)
    assert any("restore" in op for op in straight[0])
    assert reloaded[:2] == straight[:2]
