"""The ``hello`` every load-generator connection opens with, at the protocol version of this tree.

The benchmarks use the server's own encoder so that a protocol bump cannot leave them speaking an
old version (the server would close them with 4006).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whiteboard.protocol import encode_hello


def hello_frame(client: str, name: str, color: str = "#123456", since: int | None = None) -> bytes:
    return encode_hello(client, name, color, since)
