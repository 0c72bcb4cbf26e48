"""Ink drawn while the server is unreachable survives closing the tab: the page keeps every
unacknowledged op in IndexedDB and the next page of that board resends it exactly once. Old
destructive ops wait for the user's word; closing warns only when something could not be kept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from whiteboard.settings import Settings

from .helpers import draw, horizontal, summary, wait_for, wait_ink, wait_ready, wait_settled
from .restartable import PortServerThread

AGE_KEPT_OPS = """async (minutes) => {
  const db = await new Promise((ok, no) => {
    const r = indexedDB.open('whiteboard'); r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction('pending', 'readwrite');
  const store = tx.objectStore('pending');
  const all = await new Promise((ok) => {
    const r = store.getAll(); r.onsuccess = () => ok(r.result); });
  for (const record of all) { record.storedAt -= minutes * 60000; store.put(record); }
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
  return all.length;
}"""


def close_page(page: Page) -> list[str]:
    """Close as a user would (beforeunload runs); the dialogs it raised, accepted."""
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    page.close(run_before_unload=True)
    page.wait_for_event("close")
    return dialogs


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    wait_ready(page)
    return page


@pytest.mark.timeout(90)
def test_offline_strokes_survive_closing_the_tab_and_arrive_exactly_once(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False)
    first = PortServerThread(settings).start()
    port, url = first.port, f"{first.http_url}/b/kept"
    context = new_context()
    try:
        alice = open_page(context, url)
        draw(alice, horizontal(100, 300, 100))
        wait_settled(alice, 1)
        wait_for(alice, "(s) => s.kept === 0")
    finally:
        first.stop()
    expect(alice.locator("#status")).not_to_have_text("Connected")
    draw(alice, horizontal(100, 300, 200))
    draw(alice, horizontal(100, 300, 300))
    wait_for(alice, "(s) => s.pending === 2 && s.kept === 2 && s.unsaved === 0")
    assert close_page(alice) == []  # everything was kept: closing does not warn

    with PortServerThread(settings, port) as second:
        bob = open_page(new_context(), url)  # another browser, watching
        again = open_page(context, url)  # the same browser, a new page
        wait_settled(again, 3)
        wait_for(again, "(s) => s.kept === 0")
        wait_settled(bob, 3)
        for page in (again, bob):
            state = summary(page)
            assert state["seq"] == 3 and len(set(state["visible"])) == 3, state
            wait_ink(page, 200, 200)
            wait_ink(page, 200, 300)
        # Nothing is left to resend: another load sends nothing and the board stays at seq 3.
        again.reload()
        wait_settled(again, 3)
        assert summary(again)["seq"] == 3 and summary(again)["framesSent"] == 0
        assert second.port == port


@pytest.mark.timeout(120)
def test_old_destructive_ops_wait_for_the_users_word(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    """An erase of Bob's stroke and a clear, kept 11 minutes: on one board the user declines
    them (the stroke drawn after them still goes), on the other sends them all, in order."""
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False)
    first = PortServerThread(settings).start()
    port, base = first.port, first.http_url
    alice_context, bob_context = new_context(), new_context()
    pages: dict[str, Page] = {}
    try:
        for board in ("decline", "send"):
            bob = open_page(bob_context, f"{base}/b/{board}")
            draw(bob, horizontal(100, 300, 100))
            wait_settled(bob, 1)
            bob.close()
            alice = pages[board] = open_page(alice_context, f"{base}/b/{board}")
            draw(alice, horizontal(100, 300, 200))
            wait_settled(alice, 2)
    finally:
        first.stop()
    for alice in pages.values():
        alice.bring_to_front()  # a page in the background gets input at a crawl
        expect(alice.locator("#status")).not_to_have_text("Connected")
        alice.locator("[data-tool=eraser]").click()
        draw(alice, [(200, 90), (200, 110)])  # Bob's stroke
        alice.locator("#clear").click()
        alice.locator("#confirm-clear-yes").click()
        alice.locator("[data-tool=pen]").click()
        draw(alice, horizontal(100, 300, 400))  # after the clear
        wait_for(alice, "(s) => s.kept === 3 && s.unsaved === 0")
    assert pages["send"].evaluate(AGE_KEPT_OPS, 11) == 6  # both boards' ops, 11 minutes older
    for alice in pages.values():
        assert close_page(alice) == []

    with PortServerThread(settings, port):
        # Declined: Bob's stroke and Alice's first stay; only the late stroke is sent.
        alice = open_page(alice_context, f"{base}/b/decline")
        banner = alice.locator("#banner")
        expect(banner).to_contain_text("Not sent yet: an erase, a clear and a stroke")
        assert summary(alice)["seq"] == 2 and summary(alice)["pending"] == 0
        alice.get_by_role("button", name="Don't send an erase and a clear").click()
        expect(banner).to_be_hidden()
        wait_settled(alice, 3)
        wait_for(alice, "(s) => s.kept === 0")
        watcher = open_page(bob_context, f"{base}/b/decline")
        wait_settled(watcher, 3)
        assert summary(watcher)["seq"] == 3 and len(summary(watcher)["visible"]) == 3
        wait_ink(watcher, 200, 100)

        # Sent: erase, clear, then the late stroke: only it is visible afterwards.
        alice = open_page(alice_context, f"{base}/b/send")
        expect(alice.locator("#banner")).to_contain_text("an erase, a clear and a stroke")
        alice.get_by_role("button", name="Send all").click()
        wait_for(alice, "(s) => s.seq === 5 && s.pending === 0 && s.kept === 0")
        watcher = open_page(bob_context, f"{base}/b/send")
        wait_for(watcher, "(s) => s.seq === 5 && s.visible.length === 1")
        wait_ink(watcher, 200, 400)
        wait_ink(watcher, 200, 100, present=False)


BREAK_STORAGE = """
Object.defineProperty(window, 'indexedDB', { value: undefined });
const setItem = Storage.prototype.setItem;
Storage.prototype.setItem = function (key, value) {
  if (key.startsWith('whiteboard.pending.')) throw new DOMException('full', 'QuotaExceededError');
  return setItem.call(this, key, value);
};
"""


@pytest.mark.timeout(60)
def test_closing_warns_only_when_offline_ink_could_not_be_kept(
    tmp_path: Path, new_context: Callable[..., BrowserContext]
) -> None:
    server = PortServerThread(Settings(boards_dir=tmp_path / "boards", fsync=False)).start()
    broken = new_context()
    broken.add_init_script(script=BREAK_STORAGE)
    try:
        page = open_page(broken, f"{server.http_url}/b/warn")
        kept = open_page(new_context(), f"{server.http_url}/b/warn")
        draw(page, horizontal(100, 300, 100))  # online: acknowledged at once, nothing to lose
        wait_settled(page, 1)
        assert close_page(page) == []
        page = open_page(broken, f"{server.http_url}/b/warn")
    finally:
        server.stop()
    for each in (page, kept):
        expect(each.locator("#status")).not_to_have_text("Connected")
        draw(each, horizontal(100, 300, 200))
    wait_for(page, "(s) => s.pending === 1 && s.unsaved === 1")
    wait_for(kept, "(s) => s.pending === 1 && s.kept === 1 && s.unsaved === 0")
    assert close_page(page) == ["beforeunload"]
    assert close_page(kept) == []
