"""A ServerThread that listens on a port chosen by the test, so it can be stopped and started
again on the same address: a page keeps its URL and has to reconnect to the new server."""

from __future__ import annotations

import socket

from tests.serving import ServerThread
from whiteboard.settings import Settings


class PortServerThread(ServerThread):
    """``ServerThread`` bound to ``port`` (0: any free port) instead of always a fresh one."""

    def __init__(self, settings: Settings, port: int = 0) -> None:
        super().__init__(settings)
        if port and port != self.port:
            socket.socket(fileno=self._fd).close()  # the ephemeral socket the parent bound
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            self.port = port
            self._fd = sock.detach()
