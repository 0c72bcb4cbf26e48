"""The ``hello`` every load-generator connection opens with, at the protocol version of this tree.

The benchmarks use the server's own encoder so that a protocol bump cannot leave them speaking an
old version (the server would close them with 4006).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgpack
from live import protocol_version

from whiteboard.protocol import PROTOCOL_VERSION, encode_hello, hello_url

__all__ = ["hello_frame", "hello_url", "protocol_version"]


def hello_frame(
    client: str,
    name: str,
    color: str = "#123456",
    since: int | None = None,
    version: int = PROTOCOL_VERSION,
) -> bytes:
    """``version``: a baseline checkout's (``protocol_version``), which may not speak ours."""
    frame = encode_hello(client, name, color, since)
    if version == PROTOCOL_VERSION:
        return frame
    return msgpack.packb({**msgpack.unpackb(frame), "v": version})
