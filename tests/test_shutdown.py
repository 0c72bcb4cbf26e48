"""``whiteboard serve`` stops on SIGTERM at once when nobody is connected, also after clients came
and went, and logs its start-up line once, under its own name. (With clients connected, the bound
is ``shutdown_close_s``: ``tests/integration/test_closing.py``.)"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import msgpack
import websockets

from tests.serving import ServerProcess
from whiteboard.protocol import encode_hello

NOBODY_CONNECTED_EXIT_S = 1.0


def stop(server: ServerProcess) -> tuple[float, int, str]:
    """SIGTERM; seconds until the process is gone, its exit status and its output."""
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    code, out = server.wait()
    return time.monotonic() - started, code, out


async def visit_and_leave(ws_url: str, board: str, count: int) -> None:
    """Pages that came, drew nothing, and left (each must leave no task behind on the server)."""
    for index in range(count):
        async with websockets.connect(f"{ws_url}/b/{board}/ws") as ws:
            await ws.send(encode_hello(f"visitor-{index:04d}", "Visitor", "#123456"))
            welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
            assert welcome["type"] == "welcome"


def test_a_server_nobody_visited_exits_at_once_and_logs_its_start_once(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        elapsed, code, out = stop(server)
    assert code == 0 and elapsed < NOBODY_CONNECTED_EXIT_S, (elapsed, out)
    assert out.count("whiteboard serving on http://127.0.0.1:") == 1, out
    assert "Running on" not in out and "hypercorn.error" not in out, out
    assert "Traceback" not in out and "ERROR" not in out, out


def test_a_server_whose_visitors_left_exits_at_once(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "boards") as server:
        asyncio.run(visit_and_leave(server.ws_url, "visited", 5))
        elapsed, code, out = stop(server)
    assert code == 0 and elapsed < NOBODY_CONNECTED_EXIT_S, (elapsed, out)
    assert "Traceback" not in out and "ERROR" not in out, out
