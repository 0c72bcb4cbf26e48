"""One client cannot take the server's file descriptors from everyone else.

The server runs under ``ulimit -n 1024`` (soft and hard, so it cannot raise it). One client creates
1,500 boards with one stroke each, 250 connections at a time, then opens 1,100 connections at once,
more than the server allows (896 under this limit). Before, every loaded board kept its log open
for 60 s: after about a thousand boards, connections failed, other boards' first writes closed
with 1011 "log write failed", and the log filled with "Too many open files" lines (10.8 MB).
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from pathlib import Path

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.logs import board_log
from tests.serving import ServerProcess
from whiteboard.protocol import encode_hello

MAX_OPEN_FILES = 1024
ATTACK_BOARDS = 1500
AT_ONCE = 250
HELD_CONNECTIONS = 1100
MAX_LOG_BYTES = 32 * 1024


@pytest.fixture(autouse=True)
def enough_descriptors_for_the_attacker() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = HELD_CONNECTIONS + 200
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"the attacking test process needs {needed} descriptors; hard limit {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


async def create_board(ws_url: str, n: int) -> bool:
    """Open board ``atk-n``, draw one stroke, wait for it to come back; False on any failure."""
    try:
        async with asyncio.timeout(30):
            async with websockets.connect(f"{ws_url}/b/atk-{n}/ws") as ws:
                await ws.send(encode_hello(f"attacker-{n:05d}", "attacker", "#000000", None))
                await ws.send(msgpack.packb(pen_stroke(f"s{n}")))
                async for frame in ws:
                    message = msgpack.unpackb(frame)
                    if any(m.get("id") == f"s{n}" for m in message.get("ops", [message])):
                        return True
    except (OSError, TimeoutError, websockets.WebSocketException):
        pass
    return False


async def hold(ws_url: str, n: int, opened: asyncio.Event, release: asyncio.Event) -> int:
    """Hold a connection to board ``atk-n`` until ``release``; its outcome: 101, or the status or
    close code that refused it."""
    try:
        async with websockets.connect(f"{ws_url}/b/atk-{n % ATTACK_BOARDS}/ws") as ws:
            await ws.send(encode_hello(f"holder-{n:05d}", "holder", "#000000", 1))
            await asyncio.wait_for(ws.recv(), 30)
            opened.set()
            await release.wait()
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else 1006
    except (OSError, TimeoutError, websockets.InvalidHandshake):
        return 0  # not even accepted: the server's descriptor table was full at that instant


async def test_1500_boards_under_1024_descriptors_leave_every_other_board_writable(
    tmp_path: Path,
) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "existing.log").write_bytes(board_log(10))
    output = tmp_path / "server.log"
    with ServerProcess(
        boards,
        "--new-boards-per-client-per-hour",
        "100000",  # every test client is 127.0.0.1: the per-address cap has its own test
        max_open_files=MAX_OPEN_FILES,
        output=output,
    ) as server:
        victim = await BoardClient.connect(server.ws_url, "victim", "victim")
        await victim.send(pen_stroke("before"))
        await victim.wait_for(is_op("stroke", "before"))

        created = 0
        for start in range(0, ATTACK_BOARDS, AT_ONCE):
            waves = range(start, min(start + AT_ONCE, ATTACK_BOARDS))
            created += sum(await asyncio.gather(*(create_board(server.ws_url, n) for n in waves)))
        assert created == ATTACK_BOARDS

        release, opened = asyncio.Event(), asyncio.Event()
        holders = [
            asyncio.create_task(hold(server.ws_url, n, opened, release))
            for n in range(HELD_CONNECTIONS)
        ]
        await asyncio.wait_for(opened.wait(), 30)
        done, _ = await asyncio.wait(holders, timeout=10)  # the refused ones end by themselves
        refused = [task.result() for task in done]
        # Over max_connections: 503. A burst of 200 refusals at once can fill the descriptor table
        # for an instant; connections that arrive then are not accepted (0) until it drains.
        assert 503 in refused and set(refused) <= {503, 0}, refused

        # While the server is at its connection limit, every other board stays writable.
        await victim.send(pen_stroke("during"))
        await victim.wait_for(is_op("stroke", "during"))
        release.set()
        outcomes = refused + [await task for task in holders if task not in done]
        assert outcomes.count(101) >= MAX_OPEN_FILES - 256, outcomes.count(101)

        for board in ("existing", "victim", "brand-new"):
            late = await BoardClient.connect(server.ws_url, board, f"late-{board}")
            await late.send(pen_stroke(f"late-{board}"))
            await late.wait_for(is_op("stroke", f"late-{board}"))
            await late.close()
        with contextlib.suppress(websockets.ConnectionClosed):
            await victim.close()
    log = output.read_text(errors="replace")
    assert len(log) < MAX_LOG_BYTES, f"{len(log)} bytes of log:\n{log[:3000]}"
    assert "log write failed" not in log, log[:3000]
    # Refusing 200 connections over the limit at once may briefly fill the descriptor table:
    # accepting then pauses for a second, and the log says so once, not once per attempt.
    assert log.count("Too many open files") <= 1, log[:3000]
    assert len(list(boards.glob("atk-*.log"))) == ATTACK_BOARDS
