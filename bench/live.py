"""What a benchmark's live drawer does on the wire, without importing the package under test.

The export and big-log benchmarks run baseline checkouts side by side, each server from its own
tree, and their helper processes put a baseline's tree on ``sys.path``: this module imports no
``whiteboard`` code, so it speaks to either side (``hello.py`` uses this tree's own encoder).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from pathlib import Path
from typing import Any

import msgpack

ECHO_TIMEOUT_S = 30.0
"""How long a drawer waits for a frame while its stroke's echo has not come."""


@functools.cache
def protocol_version(repo: Path) -> int:
    """The protocol version the checkout at ``repo`` speaks (2 was the first to be named)."""
    found = re.search(
        r"^PROTOCOL_VERSION = (\d+)", (repo / "whiteboard" / "protocol.py").read_text(), re.M
    )
    return int(found[1]) if found else 2


async def stroke_round_trip(ws: Any, stroke: dict[str, Any]) -> float:
    """Send ``stroke`` on ``ws`` (a ``websockets`` client connection, past its welcome) and read
    frames until the server echoes it: the round trip in milliseconds."""
    sent = time.perf_counter()
    await ws.send(msgpack.packb(stroke))
    while True:
        frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), ECHO_TIMEOUT_S))
        if any(op.get("id") == stroke["id"] for op in frame.get("ops", [frame])):
            return (time.perf_counter() - sent) * 1000
