"""Static files: named by version on the pages, cached for good, compressed when the client can
take it, and under the same checks and headers as every other response (``static_files.py``)."""

from __future__ import annotations

import gzip
import re
import urllib.request
from pathlib import Path

import brotli
import pytest

from tests.integration.test_http import get
from tests.serving import ServerThread
from whiteboard.server.app import STATIC_DIR
from whiteboard.server.static_files import StaticFiles, accepted_encodings

IMMUTABLE = "public, max-age=31536000, immutable"


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    status, message, body = get(urllib.request.Request(url, headers=headers))
    return status, {k.lower(): v for k, v in message.items()}, body


def page_assets(server: ServerThread, path: str) -> list[str]:
    _, _, body = fetch(server.http_url + path)
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', body.decode())


def test_the_board_page_names_every_file_under_one_version_cached_for_good(
    server: ServerThread,
) -> None:
    assets = page_assets(server, "/b/team")
    versions = {re.fullmatch(r"/static/v/([0-9a-f]{16})/.+", a)[1] for a in assets}  # type: ignore[index]
    assert len(versions) == 1 and len(assets) > 40
    for asset in assets:
        status, headers, body = fetch(server.http_url + asset)
        name = asset.split("/", 4)[4]
        assert status == 200 and body == (STATIC_DIR / name).read_bytes(), asset
        assert headers["cache-control"] == IMMUTABLE
        assert headers["x-content-type-options"] == "nosniff"
        assert "script-src 'self'" in headers["content-security-policy"]
    _, headers, _ = fetch(server.http_url + "/static/v/0123456789abcdef/js/main.js")
    assert headers["cache-control"] == "no-cache"  # another version's name: not kept for good
    _, headers, _ = fetch(server.http_url + "/static/js/main.js")
    assert headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("accept, encoding", [("gzip, br", "br"), ("gzip", "gzip"), ("", None)])
def test_text_files_are_sent_compressed_as_the_client_accepts(
    server: ServerThread, accept: str, encoding: str | None
) -> None:
    main = next(a for a in page_assets(server, "/b/team") if a.endswith("/js/main.js"))
    status, headers, body = fetch(server.http_url + main, **{"Accept-Encoding": accept})
    decoded = {"br": brotli.decompress, "gzip": gzip.decompress, None: bytes}[encoding](body)
    assert status == 200 and decoded == (STATIC_DIR / "js/main.js").read_bytes()
    assert headers.get("content-encoding") == encoding
    assert headers["vary"] == "Accept-Encoding"
    assert int(headers["content-length"]) == len(body)
    if encoding:
        assert len(body) < len(decoded) / 2
    _, headers, body = fetch(server.http_url + "/b/team", **{"Accept-Encoding": accept})
    assert headers.get("content-encoding") == encoding and headers["cache-control"] == "no-cache"


def test_an_unchanged_file_or_page_is_not_sent_again(server: ServerThread) -> None:
    for path in ("/static/js/main.js", "/b/team", "/"):
        _, headers, _ = fetch(server.http_url + path)
        status, _, body = fetch(server.http_url + path, **{"If-None-Match": headers["etag"]})
        assert (status, body) == (304, b""), path
        status, _, body = fetch(server.http_url + path, **{"If-None-Match": '"other"'})
        assert status == 200 and body, path


def test_head_sends_the_headers_alone(server: ServerThread) -> None:
    request = urllib.request.Request(server.http_url + "/static/js/main.js", method="HEAD")
    status, headers, body = get(request)
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == (STATIC_DIR / "js/main.js").stat().st_size


def test_a_rebound_host_gets_no_static_file(server: ServerThread) -> None:
    status, _, body = fetch(server.http_url + "/static/js/main.js", Host="evil.example")
    assert status == 400 and b"main" not in body


def test_the_version_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js/a.js").write_text("export const a = 1;\n" * 50)
    (tmp_path / "index.html").write_text('<script type="module" src="/static/js/a.js"></script>')
    before = StaticFiles(tmp_path)
    assert f'src="/static/v/{before.version}/js/a.js"' in before.page("index.html").body.decode()
    (tmp_path / "js/a.js").write_text("export const a = 2;\n" * 50)
    after = StaticFiles(tmp_path)
    assert after.version != before.version
    assert after.page("index.html").etag != before.page("index.html").etag


def test_accept_encoding_is_read_with_its_weights() -> None:
    assert accepted_encodings("gzip, deflate, br, zstd") == {"gzip", "deflate", "br", "zstd"}
    assert accepted_encodings("br;q=0, gzip;q=0.5, x;q=bad") == {"gzip"}
    assert accepted_encodings("") == set()
