"""static/js/board.js mirrors whiteboard/board.py: the same committed ops give the same visible
elements, in the same drawing order, at bit-identical placements, holding the same text. The ops
come from the server's own Board (random strokes, text, notes, images, pastes, moves, resizes,
z-order changes, edits, erases, clears, undos and redos by three authors), so the browser is
checked against the reference, not against a copy of it."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext

from tests.reference import KINDS, reference_ops
from tests.serving import ServerThread


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_board_js_matches_server_elements_order_placements_and_text(
    seed: int, server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    ops, expected, _, _ = reference_ops(900, seed)
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


@pytest.mark.timeout(60)
@pytest.mark.parametrize("seed", [4, 5])
def test_board_js_from_a_snapshot_matches_server(
    seed: int, server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    """A page that starts from a snapshot in the middle of the history (a small undo window, so
    undos and redos reach past it and carry what they change) and applies the ops after it
    draws what the server has."""
    ops, expected, parts, cut = reference_ops(900, seed, undo_window=3, snapshot_at=450)
    assert len(parts) > 1 and any("restore" in op for op in ops[cut:])
    page = new_context().new_page()
    page.goto(f"{server.http_url}/healthz")
    drawn = page.evaluate(
        """async ([parts, ops]) => {
            const { Board } = await import('/static/js/board.js');
            const { decode } = await import('/static/vendor/msgpack/index.mjs');
            const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const board = new Board();
            for (const part of parts) board.loadSnapshot(decode(bytes(part)));
            for (const op of ops) board.apply(op);
            return board.visibleStrokes().map((rec) => ({id: rec.id, m: rec.m, text: rec.text}));
        }""",
        [[base64.b64encode(part).decode() for part in parts], ops[cut:]],
    )
    assert drawn == expected
