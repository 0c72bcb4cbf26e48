"""The test servers themselves: a server process is the one answering on its port."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.serving import ServerProcess, listens


def test_a_server_process_whose_port_was_taken_meanwhile_listens_on_another(
    tmp_path: Path,
) -> None:
    """A port picked free can be taken by another test's server before this one binds it; the
    port then answers, but not from this server (a land once saw an empty board there)."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        server = ServerProcess(tmp_path / "boards")
        server.port = taken  # as if picked just before the other server took it
        with server:
            assert server.proc is not None
            assert server.port != taken and listens(server.proc.pid, server.port)
