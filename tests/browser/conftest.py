"""Browser tests: Debian's Chromium driven by Playwright's sync API against the real server.

Every page gets its own browser context, so each is a separate participant (its own
localStorage, hence its own client id). Contexts bypass the page's CSP only because Playwright's
`wait_for_function` evaluates its predicate with `eval`; `test_page_runs_under_its_csp` loads the
page with the CSP in force and checks that nothing is refused.

The browser is module-scoped, not session-scoped: Playwright's sync API owns the thread's event
loop while it runs, so a module with its own ``sync_playwright()`` (the export comparison) can only
start once the previous module's instance has stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.serving import ServerThread
from tests.system_tools import require_program
from whiteboard.settings import Settings

from .helpers import wait_ready

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> str:
    """Chromium's path; without it the test fails in CI (CI must run these) or skips locally."""
    return require_program("chromium", "chromium", "browser tests")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(Settings(boards_dir=tmp_path / "boards", fsync=False)) as running:
        yield running


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Make browser contexts (one per participant); all are closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: object) -> BrowserContext:
        options.setdefault("viewport", {"width": 1000, "height": 700})
        options.setdefault("bypass_csp", True)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def open_board(new_context: Callable[..., BrowserContext]) -> Callable[..., Page]:
    """Open a board URL in a new participant's page and wait until it has joined."""

    def open_page(url: str, **options: object) -> Page:
        page = new_context(**options).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        wait_ready(page)
        assert not errors, errors
        return page

    return open_page
