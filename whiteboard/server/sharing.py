"""The links people share: the base URL of share links and QR codes, and whether anyone but this
computer can open them.

A server started with the defaults listens on 127.0.0.1, and a page opened at
http://127.0.0.1:8000 would share a link no phone can open. So:

- with ``public_url`` set, links use it (a reverse proxy, a name);
- bound to every interface (``--host 0.0.0.0`` or ``::``) and opened through loopback, links use
  this machine's LAN address instead, so the QR code works from a phone on the same network;
- otherwise links use the address the browser used; when that is loopback only this computer can
  open them, and the share panel says so and how to fix it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..settings import Settings

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
LAN_CACHE_S = 30.0
"""LAN addresses are looked up again after this long: a laptop moves between networks."""
PROBE_ADDRESS = ("192.0.2.1", 9)
"""TEST-NET-1 (RFC 5737): connecting a UDP socket to it sends nothing, but picks the address of
the interface the default route would use, which is the one phones on the LAN can reach."""


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other devices may reach: the default route's first."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(PROBE_ADDRESS)
        found.append(probe.getsockname()[0])
    with contextlib.suppress(OSError):
        for *_, address in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(address[0]))
    usable = []
    for text in found:
        address = ipaddress.ip_address(text)
        if not (address.is_loopback or address.is_link_local or address.is_unspecified):
            if text not in usable:
                usable.append(text)
    return usable


def split_host(host: str) -> tuple[str, str]:
    """``'127.0.0.1:8000'`` -> ``('127.0.0.1', ':8000')``; ``'[::1]:80'`` -> ``('::1', ':80')``."""
    parts = urlsplit(f"//{host}")
    name = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return name, port


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ShareInfo:
    """What the share panel shows: the base of its links, and whether only this computer can
    open them (then ``fix`` is the command that lets other devices join)."""

    base: str
    local_only: bool
    fix: str


class ShareLinks:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lan: list[str] = []
        self._lan_at = -LAN_CACHE_S

    def lan(self) -> list[str]:
        now = time.monotonic()
        if now - self._lan_at >= LAN_CACHE_S:
            self._lan, self._lan_at = lan_addresses(), now
        return self._lan

    def info(self, host: str, scheme: str) -> ShareInfo:
        """Links for a page opened at ``scheme://host`` (``http``/``https``)."""
        public = self.settings.public_url.rstrip("/")
        if public:
            return ShareInfo(public, False, "")
        name, port = split_host(host)
        if not is_loopback(name):
            return ShareInfo(f"{scheme}://{host}", False, "")
        lan = self.lan()
        if self.settings.host in WILDCARD_HOSTS and lan:
            return ShareInfo(f"{scheme}://{lan[0]}{port}", False, "")
        address = lan[0] if lan else "ADDRESS-OF-THIS-COMPUTER"
        fix = f"whiteboard serve --host 0.0.0.0 --public-url http://{address}{port or ':80'}"
        return ShareInfo(f"{scheme}://{host}", True, fix)

    def startup_urls(self) -> list[str]:
        """What `whiteboard serve` tells people to open on other devices."""
        public = self.settings.public_url.rstrip("/")
        if public:
            return [public]
        if self.settings.host in WILDCARD_HOSTS:
            return [f"http://{address}:{self.settings.port}" for address in self.lan()]
        return []
