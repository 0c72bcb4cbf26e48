"""SIGTERM with real pages: once they left, the server exits at once; with one open, it closes it
with 1001 (the page says it is reconnecting) and still exits at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.serving import ServerProcess
from tests.test_shutdown import NOBODY_CONNECTED_EXIT_S, stop

from .helpers import draw, horizontal, wait_ready, wait_settled


@pytest.mark.timeout(60)
def test_pages_that_came_and_went_do_not_hold_the_server_up(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        context = new_context()
        for board in ("one", "two"):
            page = context.new_page()
            page.goto(f"{server.http_url}/b/{board}")
            wait_ready(page)
            draw(page, horizontal(100, 300, 200))
            wait_settled(page, 1)
            page.close()
        stayed = context.new_page()
        stayed.goto(f"{server.http_url}/")  # the home page: no socket
        elapsed, code, out = stop(server)
    assert code == 0 and elapsed < NOBODY_CONNECTED_EXIT_S, (elapsed, out)


@pytest.mark.timeout(60)
def test_an_open_page_is_told_to_reconnect_and_the_server_exits_at_once(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        page = new_context().new_page()
        page.goto(f"{server.http_url}/b/open")
        wait_ready(page)
        elapsed, code, out = stop(server)
        expect(page.locator("#status")).not_to_have_text("Connected")
    # The page answers its 1001 at once, so the server need not wait out shutdown_close_s.
    assert code == 0 and elapsed < NOBODY_CONNECTED_EXIT_S, (elapsed, out)
