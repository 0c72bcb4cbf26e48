"""A page that loses its server keeps drawing, reconnects with backoff, resumes from its last seq
and delivers what it drew offline exactly once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from whiteboard.settings import Settings

from .helpers import draw, horizontal, summary, wait_for, wait_ink, wait_settled
from .restartable import PortServerThread


@pytest.mark.timeout(90)
def test_offline_strokes_arrive_exactly_once_after_reconnect(
    tmp_path: Path, open_board: Callable[..., Page]
) -> None:
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False)
    first = PortServerThread(settings).start()
    port = first.port
    url = f"{first.http_url}/b/resume"
    try:
        alice = open_board(url)
        draw(alice, horizontal(100, 300, 100))
        wait_settled(alice, 1)

        # Start a stroke while connected, lose the server in the middle of it, finish it offline.
        draw(alice, horizontal(100, 300, 160), release=False)
        wait_for(alice, "(s) => s.ownLive === 1 && s.framesSent > 0")
    finally:
        first.stop()
    expect(alice.locator("#status")).to_have_text("Reconnecting…")
    alice.mouse.move(320, 160, steps=2)
    alice.mouse.up()
    draw(alice, horizontal(100, 300, 220))  # drawn entirely offline
    wait_for(alice, "(s) => s.pending === 2 && !s.ready")
    wait_ink(alice, 200, 160)  # offline strokes are on screen at once
    wait_ink(alice, 200, 220)
    # After a few failed attempts the page says it is offline (and keeps trying).
    expect(alice.locator("#status")).to_have_text("Offline", timeout=15_000)

    with PortServerThread(settings, port) as second:
        assert second.port == port
        expect(alice.locator("#status")).to_have_text("Connected", timeout=20_000)
        wait_settled(alice, 3)
        bob = open_board(url)
        wait_settled(bob, 3)
        ids = summary(alice)["visible"]
        assert len(ids) == len(set(ids)) == 3
        assert summary(bob)["visible"] == ids
        assert summary(bob)["seq"] == summary(alice)["seq"] == 3
        wait_ink(bob, 200, 160)
        wait_ink(bob, 200, 220)

        # Still exactly once after another look from a fresh page.
        carol = open_board(url)
        wait_settled(carol, 3)
        assert summary(carol)["visible"] == ids


@pytest.mark.timeout(90)
def test_page_resets_when_the_server_knows_less_than_it_does(
    tmp_path: Path, open_board: Callable[..., Page]
) -> None:
    """A server restored without the page's ops (since > seq): the page takes the server's board."""
    first = PortServerThread(Settings(boards_dir=tmp_path / "old", fsync=False)).start()
    port = first.port
    try:
        alice = open_board(f"{first.http_url}/b/reset")
        for row in range(3):
            draw(alice, horizontal(100, 300, 100 + 50 * row))
        wait_settled(alice, 3)
    finally:
        first.stop()
    expect(alice.locator("#status")).not_to_have_text("Connected")
    with PortServerThread(Settings(boards_dir=tmp_path / "new", fsync=False), port):
        expect(alice.locator("#status")).to_have_text("Connected", timeout=20_000)
        wait_for(alice, "(s) => s.seq === 0 && s.strokes === 0 && s.ready")
        wait_ink(alice, 200, 100, present=False)
        draw(alice, horizontal(100, 300, 300))
        wait_settled(alice, 1)
        assert summary(alice)["seq"] == 1
