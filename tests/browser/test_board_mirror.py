"""static/js/board.js mirrors whiteboard/board.py: the same committed ops give the same visible
elements, in the same drawing order, at bit-identical placements, holding the same text. The ops
come from the server's own Board (random strokes, text, notes, images, pastes, moves, resizes,
z-order changes, edits, erases, clears, undos and redos by three authors), so the browser is
checked against the reference, not against a copy of it."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from playwright.sync_api import BrowserContext

from tests.serving import ServerThread
from whiteboard.board import Board
from whiteboard.elements import Add, Edit, Image, Note, Text, Transform, ZOrder
from whiteboard.protocol import Clear, Erase, InvalidMessage, Redo, Stroke, Style, Undo

KINDS = ["stroke", "text", "note", "image", "add", "transform", "z", "edit", "erase", "clear"]
KINDS += ["undo", "redo"]
WEIGHTS = [5, 1.5, 1, 0.5, 0.7, 3, 1.5, 1.5, 1.5, 0.2, 3, 2]
SRC = "ab" * 32 + ".png"


def element(rng: random.Random, op_id: str) -> Any:
    kind = rng.choice(["stroke", "stroke", "text", "note", "image"])
    x, y = rng.randint(-500, 4000), rng.randint(-500, 4000)
    if kind == "stroke":
        return Stroke(op_id, Style("pen", "#112233", 3.0), (4 * x, 4 * y, 4, 4), None)
    if kind == "image":
        return Image(op_id, SRC, x, y, rng.uniform(10, 300), rng.uniform(10, 300))
    cls = Text if kind == "text" else Note
    return cls(
        op_id, x, y, rng.choice([16.0, 24.0, 36.0]), "#ff8800", f"{op_id}\n\u05e9\u05dc\u05d5\u05dd"
    )


def placement(rng: random.Random) -> tuple[float, float, float, float]:
    if rng.random() < 0.5:
        return (1.0, 1.0, rng.uniform(-300, 300), rng.uniform(-300, 300))
    scale = rng.choice([0.5, 0.75, 1.1, 1.37, 2.0, 3.0])
    px, py = rng.uniform(0, 4000), rng.uniform(0, 4000)
    return (scale, scale * rng.choice([1.0, 0.9]), px - scale * px, py - scale * py)


def reference_ops(count: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    board = Board(max_strokes=100_000)
    ops: list[dict[str, Any]] = []
    ids: list[str] = []
    texts: list[str] = []
    for index in range(count):
        author = rng.choice(["alice", "bob", "carol"])
        kind = rng.choices(KINDS, WEIGHTS)[0]
        if kind == "clear" and index > count // 2:
            kind = "undo"  # a late clear would leave little to compare
        op_id = f"op{index}"
        some = tuple(rng.sample(ids, min(rng.randint(1, 4), len(ids))) or ["none"])
        message: Any
        if kind in ("stroke", "text", "note", "image"):
            message = element(rng, op_id)
        elif kind == "add":
            message = Add(op_id, tuple(element(rng, f"{op_id}i{i}") for i in range(3)))
        elif kind == "transform":
            message = Transform(op_id, some, placement(rng))
        elif kind == "z":
            message = ZOrder(op_id, some, rng.choice(["front", "back"]))
        elif kind == "edit":
            message = Edit(op_id, rng.choice(texts or ["none"]), f"edited {index}")
        elif kind == "erase":
            message = Erase(op_id, some)
        else:
            message = {"clear": Clear, "undo": Undo, "redo": Redo}[kind](op_id)
        try:
            encoded = board.commit(message, author)
        except InvalidMessage:
            continue  # nothing to do: the server refuses it and logs nothing
        op = msgpack.unpackb(encoded, raw=False)
        ops.append(op)
        for added in op.get("items", [op]):
            if added["type"] in ("stroke", "text", "note", "image"):
                ids.append(added["id"])
                if added["type"] in ("text", "note"):
                    texts.append(added["id"])
    drawn = [
        {"id": e["id"], "m": list(e.get("m", (1.0, 1.0, 0.0, 0.0))), "text": e.get("text")}
        for e in board.visible_strokes()
    ]
    return ops, drawn


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_board_js_matches_server_elements_order_placements_and_text(
    seed: int, server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    ops, expected = reference_ops(900, seed)
    kinds = {op["type"] for op in ops}
    assert kinds >= set(KINDS) - {"clear"}, kinds
    assert any(e["m"] != [1.0, 1.0, 0.0, 0.0] for e in expected)
    assert any(e["text"] and e["text"].startswith("edited") for e in expected)
    page = new_context().new_page()
    page.goto(f"{server.http_url}/healthz")
    drawn = page.evaluate(
        """async (ops) => {
            const { Board } = await import('/static/js/board.js');
            const board = new Board();
            for (const op of ops) board.apply(op);
            for (const op of ops) board.apply(op);  // replayed twice: already applied, ignored
            return board.visibleStrokes().map((rec) => ({id: rec.id, m: rec.m, text: rec.text}));
        }""",
        ops,
    )
    assert drawn == expected
