"""A page left open across a server upgrade speaks an old protocol: it shows a reload banner and
stops reconnecting, instead of failing silently or retrying forever."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import BrowserContext, Route, expect

from tests.serving import ServerThread
from whiteboard.protocol import PROTOCOL_VERSION
from whiteboard.server.app import STATIC_DIR


def test_an_outdated_page_is_told_to_reload_and_stops_retrying(
    server: ServerThread, new_context: Callable[..., BrowserContext]
) -> None:
    page = new_context().new_page()

    marker = f"PROTOCOL_VERSION = {PROTOCOL_VERSION};"
    assert marker in (STATIC_DIR / "js" / "protocol.js").read_text()  # the page mirrors the server

    def old_protocol(route: Route) -> None:
        body = route.fetch().text()
        route.fulfill(
            body=body.replace(marker, "PROTOCOL_VERSION = 1;"), content_type="text/javascript"
        )

    page.route("**/js/protocol.js", old_protocol)
    sockets: list[object] = []
    page.on("websocket", lambda ws: sockets.append(ws))
    page.clock.install()  # fake timers: a retry timer would fire in run_for below, no waiting
    page.goto(f"{server.http_url}/b/upgraded")
    assert (
        page.evaluate("async () => (await import('/static/js/protocol.js')).PROTOCOL_VERSION") == 1
    )
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Reload the page")
    expect(page.locator("#banner-action")).to_have_text("Reload")
    expect(page.locator("#status")).to_have_text("Reload needed")
    # No reconnect loop: a minute of (fake) time later there is still only the first socket.
    page.clock.run_for(60_000)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")  # would retry at once
    page.clock.run_for(1_000)
    assert len(sockets) == 1

    page.unroute("**/js/protocol.js")
    page.locator("#banner-action").click()  # reloads: the current script speaks the version
    expect(page.locator("#status")).to_have_text("Connected")
    expect(banner).to_be_hidden()
