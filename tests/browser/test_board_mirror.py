"""static/js/board.js mirrors whiteboard/board.py: the same committed ops give the same visible
strokes. The ops come from the server's own Board (random strokes, erases, clears, undos and redos
by three authors), so the browser is checked against the reference, not against a copy of it."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from playwright.sync_api import BrowserContext

from tests.serving import ServerThread
from whiteboard.board import Board
from whiteboard.protocol import Clear, Erase, InvalidMessage, Redo, Stroke, Style, Undo


def reference_ops(count: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    rng = random.Random(seed)
    board = Board(max_strokes=100_000)
    ops: list[dict[str, Any]] = []
    stroke_ids: list[str] = []
    for index in range(count):
        author = rng.choice(["alice", "bob", "carol"])
        kind = rng.choices(["stroke", "erase", "clear", "undo", "redo"], [6, 2, 0.3, 3, 2])[0]
        op_id = f"op{index}"
        if kind == "stroke":
            message: Any = Stroke(
                op_id,
                Style("pen", "#112233", 3.0),
                (rng.randint(0, 4000), rng.randint(0, 4000), 4, 4),
                None,
            )
            stroke_ids.append(op_id)
        elif kind == "erase":
            message = Erase(
                op_id, tuple(rng.sample(stroke_ids, min(3, len(stroke_ids))) or ["none"])
            )
        elif kind == "clear":
            message = Clear(op_id)
        elif kind == "undo":
            message = Undo(op_id)
        else:
            message = Redo(op_id)
        try:
            encoded = board.commit(message, author)
        except InvalidMessage:
            continue  # nothing to do: the server refuses it and logs nothing
        ops.append(msgpack.unpackb(encoded, raw=False))
    visible = board.visible_ids()
    return ops, visible


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_board_js_visible_set_matches_server(
    seed: int, server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    ops, expected = reference_ops(600, seed)
    assert {op["type"] for op in ops} == {"stroke", "erase", "clear", "undo", "redo"}
    page = new_context().new_page()
    page.goto(f"{server.http_url}/healthz")
    visible = page.evaluate(
        """async (ops) => {
            const { Board } = await import('/static/js/board.js');
            const board = new Board();
            for (const op of ops) board.apply(op);
            for (const op of ops) board.apply(op);  // replayed twice: already applied, ignored
            return board.visibleStrokes().map((rec) => rec.id);
        }""",
        ops,
    )
    assert visible == expected
