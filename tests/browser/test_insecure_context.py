"""Plain http on a LAN address is not a secure context: no Clipboard API, no coalesced pointer
events, no crypto.randomUUID. The page must still draw, sync and copy its link.

Chromium treats 127.0.0.1 and localhost as secure, so this module's browser resolves a made-up
host name to 127.0.0.1 instead (``--host-resolver-rules``): same server, insecure origin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.serving import ServerThread
from whiteboard.settings import Settings

from .conftest import CHROMIUM_ARGS, require_chromium
from .helpers import draw, horizontal, summary, wait_ink, wait_settled

LAN_HOST = "whiteboard.lan.test"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1"]
        instance = playwright.chromium.launch(executable_path=path, args=args)
        yield instance
        instance.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    """A server that answers to the made-up name (the host allow-list refuses unknown names)."""
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False, allowed_hosts=(LAN_HOST,))
    with ServerThread(settings) as running:
        yield running


@pytest.mark.timeout(60)
def test_page_works_outside_a_secure_context(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    url = f"http://{LAN_HOST}:{server.port}/b/lan"
    page = open_board(url)
    secure = page.evaluate(
        "() => [isSecureContext, 'clipboard' in navigator,"
        " typeof PointerEvent.prototype.getCoalescedEvents, typeof crypto.randomUUID]"
    )
    assert secure == [False, False, "undefined", "undefined"]
    other = open_board(url)

    draw(page, horizontal(100, 300, 200))
    wait_settled(other, 1)
    wait_ink(other, 200, 200)
    assert summary(other)["visible"] == summary(page)["visible"]

    page.locator("#share-btn").click()
    expect(page.locator("#share-url")).to_have_value(url)
    page.locator("#copy-link").click()
    expect(page.locator("#copy-note")).not_to_have_text("")
