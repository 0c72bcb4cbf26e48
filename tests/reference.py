"""Random committed ops from the server's own Board: strokes, text, notes, images, pastes, moves,
resizes, z-order changes, edits, erases, clears, undos and redos by three authors. The page's
mirror (tests/browser/test_board_mirror.py) and snapshots (tests/test_snapshot.py) are checked
against them."""

from __future__ import annotations

import random
from typing import Any

import msgpack

from whiteboard import restore
from whiteboard.board import Board
from whiteboard.elements import Add, Edit, Image, Note, Text, Transform, ZOrder
from whiteboard.protocol import Clear, Erase, InvalidMessage, Redo, Stroke, Style, Undo
from whiteboard.snapshot import Snapshot, take_snapshot
from whiteboard.store.slices import Steps

KINDS = ["stroke", "text", "note", "image", "add", "transform", "z", "edit", "erase", "clear"]
KINDS += ["undo", "redo"]
WEIGHTS = [5, 1.5, 1, 0.5, 0.7, 3, 1.5, 1.5, 1.5, 0.2, 3, 2]
SRC = "ab" * 32 + ".png"
SNAPSHOT_PART_BYTES = 300  # small: several parts


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


def reference_ops(
    count: int,
    seed: int,
    undo_window: int = 0,
    snapshot_at: int | None = None,
    reload_at: int | None = None,
    prepare_restores: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[bytes], int]:
    """Committed ops, the visible elements at the end (id, placement, text, in drawing order),
    and the board's snapshot (``snapshot.py``) after ``snapshot_at`` messages with how many ops
    it covers. ``reload_at``: after that many messages the board goes on as loaded from its
    snapshot, as a restarted server does (the result must not change). ``prepare_restores``:
    every undo's and redo's ``show`` or ``hide`` is built beforehand a step at a time, as a
    server builds a big one (the result must not change)."""
    rng = random.Random(seed)
    board = Board(max_strokes=100_000, undo_window=undo_window)
    ops: list[dict[str, Any]] = []
    ids: list[str] = []
    texts: list[str] = []
    parts: list[bytes] = []
    cut = 0
    for index in range(count):
        if index == snapshot_at:
            parts, cut = take_snapshot(board, SNAPSHOT_PART_BYTES).wire, len(ops)
        if index == reload_at:
            board = Snapshot.decode(take_snapshot(board, SNAPSHOT_PART_BYTES).encode()).board()
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
        if prepare_restores and kind in ("undo", "redo"):
            stack = (board.undo_stacks if kind == "undo" else board.redo_stacks).get(author)
            if stack:
                steps = Steps(restore.visibility_steps(board, stack[-1], kind == "undo"))
                while not steps.step(deadline=0.0):
                    pass
                assert steps.result is not None
                board.prepared = restore.Prepared(
                    stack[-1], kind == "undo", board.head_seq, steps.result
                )
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
    return ops, drawn, parts, cut
