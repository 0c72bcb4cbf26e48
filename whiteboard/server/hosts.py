"""Which ``Host`` a request may name: the defence against DNS rebinding.

A page on ``http://evil.example:8000`` can point its own DNS name at a server on the visitor's
LAN (``192.168.1.20``) once it has loaded. From then on the browser sends that page's requests to
the whiteboard with ``Host: evil.example:8000``, and ``Origin`` matches ``Host``, so the Origin
check alone lets it open boards, draw and export. The name in ``Host`` is the only thing that
tells: the attacker controls a name, never an address. So a request is served only when its
``Host`` is

- an IP address (a page at ``http://192.168.1.20:8000`` *is* this server: no name to rebind),
- ``localhost`` or a ``*.localhost`` name (browsers resolve them to loopback themselves),
- this machine's names (``gethostname()``, its fully qualified name, ``<name>.local`` as mDNS
  announces it) or the name it was told to bind (``--host``),
- ``public_url``'s host, or
- in ``allowed_hosts`` (``name``, ``.example.org`` for it and every subdomain, ``*`` for any).

Anything else gets 400 with the fix (Django's ``ALLOWED_HOSTS`` does the same). Ports are not
compared: the attacker picks the port of its URL as freely as the name. :class:`HostGuard` checks
in front of Quart: Quart fails on a ``Host`` that is not a DNS name (a label over 63 characters)
before any hook runs, which was a 500 with a traceback for every such request.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from ..settings import Settings
from .asgi_socket import Asgi, request_host

log = logging.getLogger(__name__)

LOGGED_HOSTS_PER_WINDOW = 16
"""Refused hosts named in the log per ``LOG_WINDOW_S``; refusals of any other name share one line,
whose repeats ``loglimit.py`` counts. A client naming a new host in every request (up to Hypercorn's
16 KB header) wrote one line each: 1,000 requests wrote 3.2 MB of log."""
LOG_WINDOW_S = 60.0
SHOWN_HOST_CHARS = 100
"""A refused host is logged cut to this many characters."""


def machine_names() -> set[str]:
    """The names other devices may know this machine by."""
    names = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name)
            names.add(f"{name.split('.')[0]}.local")
    return names


def host_name(host: str) -> str | None:
    """``'Board.Example:8000'`` -> ``'board.example'``; None when it does not parse."""
    try:
        name = urlsplit(f"//{host}").hostname
        if name:
            name.partition(":")[0].encode("idna")  # a DNS name, as Quart's routing requires
    except (ValueError, UnicodeError):
        return None
    return name.rstrip(".") if name else None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class AllowedHosts:
    """``allows(host)`` for the ``Host`` of every request and WebSocket handshake."""

    def __init__(self, settings: Settings, names: set[str] | None = None) -> None:
        extra = {h.lower().rstrip(".") for h in settings.allowed_hosts}
        self.any_host = "*" in extra
        self.suffixes = tuple(h for h in extra if h.startswith("."))
        self.names = {n.lower().rstrip(".") for n in (machine_names() if names is None else names)}
        self.names |= {h for h in extra if not h.startswith(".")} | {"localhost"}
        for configured in (settings.host, urlsplit(settings.public_url).hostname):
            if configured:
                self.names.add(configured.lower().rstrip("."))
        self._logged: set[str] = set()  # hosts named in the log in this window
        self._window_start = time.monotonic()

    def allows(self, host: str) -> bool:
        """Whether ``host`` (a ``Host`` header, port included or not) may be served. An empty
        ``Host`` is allowed: browsers always send one, so it is not a page being rebound."""
        if not host:
            return True
        name = host_name(host)
        if name is None:
            return False
        if self.any_host:
            return True
        return (
            _is_address(name)
            or name in self.names
            or name.endswith(".localhost")
            or name.endswith(self.suffixes)
            or any(name == suffix[1:] for suffix in self.suffixes)
        )

    def refusal(self, host: str) -> str:
        """The 400 body, and one log line (repeats are counted, ``loglimit.py``)."""
        now = time.monotonic()
        if now - self._window_start > LOG_WINDOW_S:
            self._logged.clear()
            self._window_start = now
        shown = host if len(host) <= SHOWN_HOST_CHARS else host[:SHOWN_HOST_CHARS] + "..."
        if host in self._logged or len(self._logged) < LOGGED_HOSTS_PER_WINDOW:
            self._logged.add(host)
            log.warning(
                "refused a request for host %r: not this server's name (add it to "
                "allowed_hosts, or set public_url, if people reach the server by it)",
                shown,
            )
        else:
            log.warning(
                "refused a request for yet another host that is not this server's name (%d "
                "named in the log this minute)",
                LOGGED_HOSTS_PER_WINDOW,
            )
        return (
            f"this server does not answer to the host {shown!r}; if that is its name, start it "
            "with --allowed-hosts or --public-url naming it (docs/security.md, DNS rebinding)"
        )


class HostGuard:
    """ASGI middleware: every request and WebSocket handshake whose ``Host`` is not allowed is
    answered 400 here, before Quart, the static files or the board sockets see it."""

    def __init__(self, app: Asgi, hosts: AllowedHosts) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = request_host(scope)
        if self.hosts.allows(host):
            await self.app(scope, receive, send)
            return
        body = self.hosts.refusal(host).encode()
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
        ]
        if kind == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.http.response.start", "status": 400, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": body})
