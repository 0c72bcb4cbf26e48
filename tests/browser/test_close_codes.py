"""The page acts on the server's close codes: it says what happened and backs off when refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from tests.serving import ServerThread
from whiteboard.settings import Settings

from .helpers import wait_ready


def test_a_full_board_says_so_and_the_page_gets_in_when_a_place_frees_up(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False, max_connections_per_board=1)
    with ServerThread(settings) as server:
        url = f"{server.http_url}/b/full"
        first = new_context().new_page()
        first.goto(url)
        wait_ready(first)
        second = new_context().new_page()
        second.goto(url)
        expect(second.locator("#toast")).to_have_text(
            "This board is full. Trying again in a moment…"
        )
        expect(second.locator("#status")).not_to_have_text("Connected")
        first.close()
        expect(second.locator("#status")).to_have_text("Connected", timeout=20_000)
        wait_ready(second)
