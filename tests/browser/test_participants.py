"""The participant panel: tabs of one browser are one person; a room of 1,000 stays usable."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.integration.rawclient import RawReader, close_all, crowd
from tests.serving import ServerThread

from .helpers import wait_ready

LONG_TASKS = """() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
  }).observe({ entryTypes: ["longtask"] });
}"""


def test_tabs_of_one_browser_are_one_person_with_a_tab_count(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    url = f"{server.http_url}/b/tabs"
    ada_browser, bob_browser = new_context(), new_context()
    ada_tabs = [ada_browser.new_page(), ada_browser.new_page()]
    bob = bob_browser.new_page()
    for page in (*ada_tabs, bob):
        page.goto(url)
        wait_ready(page)
    expect(bob.locator("#people-count")).to_have_text("2")  # two people, three connections
    bob.locator("#people-btn").click()
    rows = bob.locator("#people-list li")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="2 tabs")).to_have_count(1)
    expect(bob.locator("#people-summary")).to_have_text("2 people · 3 connections")
    ada_tabs[1].close()
    expect(rows.filter(has_text="tabs")).to_have_count(0)


@contextmanager
def crowd_in_a_thread(server: ServerThread, board: str, count: int) -> Iterator[None]:
    """``count`` raw clients on ``board`` from a thread of their own (Playwright's sync API owns
    this thread's event loop); some move their cursors until the block ends."""
    ready, stop = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def run() -> None:
        readers: list[RawReader] = []
        try:
            readers = await crowd(server, board, count, at_once=200, decode=False)
            ready.set()
            step = 0
            while not stop.is_set():
                for number, reader in enumerate(readers[:100]):
                    reader.send({"type": "cursor", "x": 50 + step % 300, "y": 3 * number})
                step += 1
                await asyncio.sleep(0.1)
        except BaseException as exc:
            failure.append(exc)
            ready.set()
        finally:
            await close_all(readers)

    thread = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    thread.start()
    try:
        assert ready.wait(120), "the crowd did not connect in time"
        assert not failure, failure
        yield
    finally:
        stop.set()
        thread.join(30)


@pytest.mark.alone  # times the page's long tasks: another test process beside it starves Chromium
@pytest.mark.timeout(180)
def test_a_page_in_a_room_of_a_thousand_stays_responsive_and_pages_its_list(
    server: ServerThread, open_board: Callable[..., Page]
) -> None:
    page = open_board(f"{server.http_url}/b/talk")
    page.evaluate(LONG_TASKS)
    with crowd_in_a_thread(server, "talk", 1000):
        expect(page.locator("#people-count")).to_have_text("1001", timeout=30_000)
        page.wait_for_function("() => window.__whiteboard.summary().cursors > 0")
        page.locator("#people-btn").click()
        rows = page.locator("#people-list li")
        expect(rows.last).to_contain_text("more")
        shown = rows.count()
        assert shown < 400, "a large room lists a page at a time"
        for _ in range(3):  # scrolling to the end asks the server for the next page
            page.locator("#people-list").evaluate(
                "(list) => { list.scrollTop = list.scrollHeight; }"
            )
            page.wait_for_function(
                "(n) => document.querySelectorAll('#people-list li').length > n", arg=shown
            )
            shown = rows.count()
        page.locator("#people-btn").click()  # closed: a click on the board would only close it
        page.mouse.move(500, 400)
        page.mouse.down()
        page.mouse.move(600, 450, steps=5)
        page.mouse.up()
        page.wait_for_function("() => window.__whiteboard.summary().strokes === 1")
        long_tasks = page.evaluate("() => window.__longTasks")
        assert max(long_tasks, default=0) < 500, long_tasks
