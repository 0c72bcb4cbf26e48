"""``static/`` served from memory, in front of Quart: compressed once, cached for good by version.

A first visit to a board fetches some 80 files (ES modules without a build step, the vendored
msgpack's own modules, fonts, CSS). Through Quart each took 2-5 ms of the one core that also
answers the board's socket, one after the other, and a return visit asked again for every one of
them (``no-cache``: 80 revalidations before the board's first picture; docs/performance.md,
"Browser"). So :class:`StaticFiles` reads every file once at startup, compresses the text ones
(gzip and brotli, the client picks), and :class:`StaticRoutes` answers ``GET``/``HEAD`` for them
straight from the ASGI callables, as ``asgi_socket.py`` does for the board's socket.

Pages name their files under ``/static/v/<version>/``, the version being a hash of every file's
path and content (:meth:`StaticFiles.page`). Such a URL never changes what it holds, so it is
cached ``immutable`` for a year and a return visit fetches none of them. Relative imports between
modules resolve under the same prefix, so the modules need no rewriting and no build step; a
change to any file changes the version of all (one deploy, one new set, as for a bundle). A URL
of another version (a page from before a restart) gets today's file, ``no-cache``. The plain
``/static/<path>`` stays served, ``no-cache`` with an ``ETag``, for old pages and links.

Files are read once: after editing ``static/`` restart the server (a file added meanwhile is
served by Quart's own static route, uncompressed). servestatic/whitenoise do much of this, but
serve compressed copies only when a build step has written them beside the files, and mark as
immutable only file names that carry a hash, which relative ES module imports cannot.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli

from .asgi_socket import Asgi, request_host

PREFIX = "/static/"
VERSIONED = "/static/v/"
IMMUTABLE = "public, max-age=31536000, immutable"
BROTLI_QUALITY = 5
"""Brotli's default of 11 takes ~0.9 s for our ~420 KB of text at every startup (every worker,
every test server); 5 takes 35 ms and is within 6% of it (133 vs 120 KB; gzip -9: 141 KB)."""
MIN_COMPRESS_BYTES = 512
"""Smaller bodies gain less than the bytes of the Content-Encoding and Vary headers."""
COMPRESSIBLE = ("text/", "image/svg+xml", "application/json", "application/javascript")


@dataclass(frozen=True, slots=True)
class StaticFile:
    """One file's bodies: ``encoded`` maps a Content-Encoding to the compressed body."""

    body: bytes
    content_type: str
    etag: str
    encoded: dict[str, bytes] = field(default_factory=dict)

    def pick(self, accept_encoding: str) -> tuple[str | None, bytes]:
        """The encoding to send (None: identity) and its body, brotli first when accepted."""
        accepted = accepted_encodings(accept_encoding)
        for encoding in ("br", "gzip"):
            if encoding in accepted and encoding in self.encoded:
                return encoding, self.encoded[encoding]
        return None, self.body


def accepted_encodings(header: str) -> set[str]:
    """``"gzip, br;q=0.5, zstd;q=0"`` -> ``{"gzip", "br"}`` (q=0 means "not this one")."""
    accepted = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            if name.strip() and float(quality) > 0:
                accepted.add(name.strip().lower())
        except ValueError:
            continue
    return accepted


def load(path: Path) -> StaticFile:
    body = path.read_bytes()
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    compressible = content_type.startswith(COMPRESSIBLE) and len(body) >= MIN_COMPRESS_BYTES
    return StaticFile(body, content_type, etag_of(body), compressed(body) if compressible else {})


class StaticFiles:
    """Every file under ``root``, by its path relative to it, and the version naming them all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, StaticFile] = {}
        tree = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            name = path.relative_to(root).as_posix()
            self.files[name] = load(path)
            tree.update(f"{name}\0{self.files[name].etag}\0".encode())
        self.version = tree.hexdigest()[:16]
        self.prefix = f"{VERSIONED}{self.version}/"
        self.pages: dict[str, StaticFile] = {}

    def page(self, name: str) -> StaticFile:
        """The HTML file ``name`` with its ``/static/`` URLs under this version's prefix."""
        if name not in self.pages:
            html = self.files[name].body.replace(b'="/static/', f'="{self.prefix}'.encode())
            self.pages[name] = load_page(html)
        return self.pages[name]

    def find(self, path: str) -> tuple[StaticFile, str] | None:
        """The file a request path names, with the Cache-Control to send it with."""
        if path.startswith(VERSIONED):
            version, _, name = path[len(VERSIONED) :].partition("/")
            found = self.files.get(name)
            if found is None:
                return None
            return found, IMMUTABLE if version == self.version else "no-cache"
        found = self.files.get(path[len(PREFIX) :])
        return None if found is None else (found, "no-cache")


def load_page(html: bytes) -> StaticFile:
    """A page's body as a :class:`StaticFile`, compressed like the rest (its ETag, a hash of the
    body, changes with the version of the files it names)."""
    return StaticFile(html, "text/html; charset=utf-8", etag_of(html), compressed(html))


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:20]}"'


def compressed(body: bytes) -> dict[str, bytes]:
    return {
        "gzip": gzip.compress(body, 9, mtime=0),
        "br": brotli.compress(body, quality=BROTLI_QUALITY),
    }


def client_has(found: StaticFile, if_none_match: bytes) -> bool:
    """Whether ``If-None-Match`` names the file's current ETag (or ``*``)."""
    tags = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
    return found.etag.encode() in tags or b"*" in tags


def response_headers(
    found: StaticFile, encoding: str | None, length: int, cache_control: str
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", found.content_type.encode()),
        (b"content-length", str(length).encode()),
        (b"etag", found.etag.encode()),
        (b"cache-control", cache_control.encode()),
    ]
    if found.encoded:
        headers.append((b"vary", b"Accept-Encoding"))
    if encoding is not None:
        headers.append((b"content-encoding", encoding.encode()))
    return headers


class StaticRoutes:
    """ASGI middleware: ``GET``/``HEAD`` of a file in ``files`` answered from memory, everything
    else to ``app``, with the headers ``extra_headers(host)`` every other response gets (the
    security headers of ``app.py``). Hosts were checked in front of it (``hosts.HostGuard``)."""

    def __init__(
        self,
        app: Asgi,
        files: StaticFiles,
        extra_headers: Callable[[str], dict[str, str]],
    ) -> None:
        self.app = app
        self.files = files
        self.extra_headers = extra_headers

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        found = self.files.find(scope["path"])
        host = request_host(scope)
        if found is None:
            await self.app(scope, receive, send)  # Quart's 404
            return
        await serve(scope, send, *found, self.extra_headers(host))


async def serve(
    scope: dict[str, Any],
    send: Any,
    found: StaticFile,
    cache_control: str,
    extra_headers: dict[str, str],
) -> None:
    """One file's response: 304 when the client's copy is current, else the best encoding."""
    request = dict(scope["headers"])
    if client_has(found, request.get(b"if-none-match", b"")):
        status, encoding, body = 304, None, b""
        headers = [(b"etag", found.etag.encode()), (b"cache-control", cache_control.encode())]
    else:
        status = 200
        encoding, body = found.pick(request.get(b"accept-encoding", b"").decode("latin-1"))
        headers = response_headers(found, encoding, len(body), cache_control)
    headers += [(k.lower().encode(), v.encode()) for k, v in extra_headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if scope["method"] == "HEAD":
        body = b""
    await send({"type": "http.response.body", "body": body, "more_body": False})
