"""Hand-made board logs for tests: a board's committed ops, framed as the file store writes them."""

from __future__ import annotations

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.store.records import frame_record

PEN = Style("pen", "#000000", 3.0)


def board_log(strokes: int, author: str = "ann", points: int = 2) -> bytes:
    """The bytes of a log holding ``strokes`` pen strokes ``s0, s1, ...`` by ``author``."""
    board = Board(max_strokes=strokes)
    for i in range(strokes):
        pts = (i % 1000, i // 1000) + (4, 4) * (points - 1)
        board.commit(Stroke(f"s{i}", PEN, pts, None), author)
    return b"".join(frame_record(op) for op in board.ops)
