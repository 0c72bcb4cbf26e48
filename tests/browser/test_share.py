"""The share panel as a user meets it: links and QR codes other devices can open (or a warning
with the fix when only this computer can), and the downloads: PNG, SVG, PDF and the timelapse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.serving import ServerThread
from whiteboard.server import sharing
from whiteboard.settings import Settings

from .helpers import draw, horizontal, wait_settled
from .test_touch import PHONE

LAN = "192.168.1.20"


@pytest.fixture
def wildcard_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    monkeypatch.setattr(sharing, "lan_addresses", lambda: [LAN])
    settings = Settings(boards_dir=tmp_path / "boards", fsync=False, host="0.0.0.0")
    with ServerThread(settings) as running:
        yield running


@pytest.mark.timeout(60)
def test_a_loopback_server_warns_and_every_download_works(
    server: ServerThread, open_board: Callable[..., Page], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharing, "lan_addresses", lambda: [LAN])  # read on first use
    page = open_board(f"{server.http_url}/b/share")
    draw(page, horizontal(100, 300, 200))
    wait_settled(page, 1)
    page.locator("#share-btn").click()
    expect(page.locator("#share-local")).to_be_visible()
    expect(page.locator("#share-local")).to_contain_text("Only this computer can open")
    fix = page.locator("#share-fix")
    expect(fix).to_have_text(
        f"whiteboard serve --host 0.0.0.0 --public-url http://{LAN}:{server.port}"
    )
    expect(page.locator("#share-url")).to_have_value(f"{server.http_url}/b/share")
    expect(page.locator("#qr")).to_have_js_property("complete", True)
    assert page.locator("#qr").evaluate("img => img.naturalWidth") > 0

    for link, name, media in (
        ("#export-png", "share.png", "image/png"),
        ("#export-svg", "share.svg", "image/svg+xml"),
        ("#export-pdf", "share.pdf", "application/pdf"),
        ("#timelapse", "share-timelapse.gif", "image/gif"),
    ):
        locator = page.locator(link)
        expect(locator).to_be_visible()
        assert locator.get_attribute("download") == name
        response = page.request.get(server.http_url + locator.get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"].startswith(media), link
        assert len(response.body()) > 100, link


@pytest.mark.timeout(60)
def test_a_server_on_every_interface_shares_its_lan_address_with_a_phone(
    wildcard_server: ServerThread, open_board: Callable[..., Page]
) -> None:
    phone = open_board(f"{wildcard_server.http_url}/b/lan", **PHONE)
    phone.locator("#share-btn").click()
    expected = f"http://{LAN}:{wildcard_server.port}/b/lan"
    expect(phone.locator("#share-url")).to_have_value(expected)
    expect(phone.locator("#share-local")).to_be_hidden()
    expect(phone.locator("#qr")).to_have_js_property("complete", True)
    box = phone.locator("#share-panel").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.locator("#copy-link").click()
    expect(phone.locator("#copy-note")).not_to_have_text("")
