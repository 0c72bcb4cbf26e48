"""A board's state in pieces of bounded size, rebuilt a piece at a time: the same board."""

from __future__ import annotations

import dataclasses
import math
import pickle
from typing import Any

import pytest

from tests.test_snapshot import commit_all, random_messages
from whiteboard import board_state
from whiteboard.board import Board
from whiteboard.board_state import StaleSnapshot, StateBuilder, state_pieces
from whiteboard.elements import Edit, Text, Transform, ZOrder
from whiteboard.protocol import Erase, Stroke, Style, Undo


def state_of(board: Board) -> dict[str, Any]:
    """Every field of the board but its ops, by value (a Visibility has no ``==``)."""
    fields = {f.name: getattr(board, f.name) for f in dataclasses.fields(board) if f.name != "ops"}
    visibility = fields.pop("visibility")
    fields["visibility"] = (bytes(visibility._bits), visibility.count)
    fields["layout"] = dataclasses.asdict(fields["layout"])
    return fields


def busy_board() -> Board:
    """Three authors' strokes, erases, clears, undos and redos, and text that was moved,
    reordered and edited: every container of the board and its layout holds something."""
    board = Board(max_strokes=2_000, undo_window=4)
    commit_all(board, random_messages(600, 3))
    for n in range(30):
        board.commit(Text(f"t{n}", n * 10, 0, 12.0, "#000000", f"note {n}"), "dan")
        board.commit(Transform(f"m{n}", (f"t{n}",), (1.0, 1.0, 5.0, -5.0)), "dan")
        board.commit(ZOrder(f"z{n}", (f"t{n}",), "back"), "dan")
        board.commit(Edit(f"e{n}", f"t{n}", f"edited {n}"), "dan")
    board.commit(Erase("x", ("t0", "t1")), "dan")
    board.commit(Undo("u"), "dan")
    return board


def test_the_pieces_rebuild_the_same_board_one_piece_a_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(board_state, "PIECE_ENTRIES", 8)  # split every container several times
    board = busy_board()
    pieces = state_pieces(board)
    builder, steps = StateBuilder(pieces), 1
    while not builder.step(deadline=0.0):  # a deadline already passed: one piece a step
        steps += 1
    assert steps == len(pieces) > 20
    rebuilt = builder.board()
    assert rebuilt.ops == [] and state_of(rebuilt) == state_of(board)
    for piece in pieces[1:]:  # no piece holds more than a run of each container's entries
        parts = pickle.loads(piece)
        assert all(len(entries) <= 8 for _, _, _, entries in parts)
        assert len({(owner, name) for owner, name, _, _ in parts}) == len(parts)


def test_a_piece_holds_each_id_once_for_all_containers() -> None:
    """The n-th runs of every container go in one pickle: after the rebuild a board of
    strokes holds each id once, shared by its containers, as after one whole pickle (pickled
    a container at a time, the ids of a 200,000-stroke board would take ~40 MB more)."""
    board = Board(max_strokes=5_000)
    style = Style("pen", "#112233", 3.0)
    for n in range(3_000):
        board.commit(Stroke(f"stroke-{n}", style, (n, 0, 1, 1), None), "ann")
    builder = StateBuilder(state_pieces(board))
    assert builder.step(math.inf)
    rebuilt = builder.board()
    assert len(rebuilt.stroke_ids) == 3_000
    for container in (rebuilt.strokes, rebuilt.op_seq, rebuilt.op_author):
        assert all(a is b for a, b in zip(rebuilt.stroke_ids, container, strict=True))


def test_a_board_with_small_containers_is_one_piece() -> None:
    board = Board(max_strokes=100)
    commit_all(board, random_messages(40, 1))
    pieces = state_pieces(board)
    builder = StateBuilder(pieces)
    assert len(pieces) == 1 and builder.step(math.inf)
    assert state_of(builder.board()) == state_of(board)


@pytest.mark.parametrize(
    "piece",
    [
        ("os", "system", None, ["true"]),  # not the board or its layout
        ("board", "max_strokes", None, [1]),  # not a container
        ("board", "strokes", "nobody", ["x"]),  # a list under a key that is not there
        ("board", "strokes"),  # not a part
    ],
)
def test_a_piece_that_does_not_fit_the_board_is_refused(piece: tuple[Any, ...]) -> None:
    pieces = [*state_pieces(Board(max_strokes=10)), pickle.dumps([piece])]
    with pytest.raises(StaleSnapshot):
        StateBuilder(pieces).step(math.inf)


def test_a_state_that_is_not_a_board_is_refused() -> None:
    builder = StateBuilder([pickle.dumps({"not": "a board"})])
    with pytest.raises(StaleSnapshot, match="not a board"):
        builder.step(math.inf)
    with pytest.raises(StaleSnapshot):
        StateBuilder([]).board()
