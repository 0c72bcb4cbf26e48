"""The server's event loop accepts connections at a bounded rate (server/eventloop.py)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.serving import ServerProcess
from whiteboard.server.eventloop import ServerEventLoop, start_worker_threads
from whiteboard.settings import Settings

CLIENTS = 20
DEADLINE_S = 10.0


def accepts_over_time(loop: asyncio.AbstractEventLoop, clients: int) -> tuple[list[int], float]:
    """Open ``clients`` connections while the loop is stopped (the kernel completes them into the
    listen queue); then, per turn of the loop that set any up, how many it set up, and the loop
    time from the first turn to the last connection."""
    made = 0

    class Counting(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            nonlocal made
            made += 1
            transport.close()

    server = loop.run_until_complete(loop.create_server(Counting, "127.0.0.1", 0, backlog=64))
    port = server.sockets[0].getsockname()[1]
    waiting = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(clients)]

    async def count_turns() -> tuple[list[int], float]:
        per_turn: list[int] = []
        started = loop.time()
        while made < clients and loop.time() < started + DEADLINE_S:
            before = made
            await asyncio.sleep(0)  # resumes in the next turn of the loop
            if made > before:
                per_turn.append(made - before)
        return per_turn, loop.time() - started

    try:
        return loop.run_until_complete(count_turns())
    finally:
        for sock in waiting:
            sock.close()
        server.close()
        loop.run_until_complete(server.wait_closed())


def test_a_burst_of_connections_is_accepted_at_the_set_rate() -> None:
    loop = ServerEventLoop(accepts_per_second=200, accept_burst=4)
    try:
        per_turn, took_s = accepts_over_time(loop, CLIENTS)
    finally:
        loop.close()
    assert sum(per_turn) == CLIENTS, per_turn  # the listener is watched again after each pause
    assert max(per_turn) <= 4, per_turn
    assert took_s >= 0.9 * (CLIENTS - 4) / 200, (took_s, per_turn)  # 4 at once, then 200/s


def test_asyncio_alone_accepts_a_whole_burst_at_once() -> None:
    """What the server's loop changes."""
    loop = asyncio.SelectorEventLoop()
    try:
        per_turn, _ = accepts_over_time(loop, CLIENTS)
    finally:
        loop.close()
    assert per_turn == [CLIENTS], per_turn


def test_accept_rate_and_burst_must_be_positive() -> None:
    with pytest.raises(ValueError, match="accepts_per_second"):
        Settings(accepts_per_second=0)
    with pytest.raises(ValueError, match="accept_burst"):
        Settings(accept_burst=0)


def test_whiteboard_serve_accepts_a_burst_at_its_set_rate(tmp_path: Path) -> None:
    """``whiteboard serve`` runs on the paced loop: 20 requests at once, 4 accepted at once and
    then 20 a second, cannot all be answered in under 0.8 s (asyncio alone answers in ms)."""
    with ServerProcess(tmp_path, "--accepts-per-second", "20", "--accept-burst", "4") as server:
        clients = [
            socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)
        ]
        started = time.monotonic()
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answers = [b"".join(iter(lambda c=client: c.recv(65536), b"")) for client in clients]
        took_s = time.monotonic() - started
        for client in clients:
            client.close()
    assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers), answers
    assert took_s >= 0.9 * (20 - 4) / 20, took_s


def test_worker_threads_are_started_up_front_and_none_later() -> None:
    """``Thread.start`` holds the event loop until the new thread runs: to_thread must find a
    started thread, however many calls are in flight at once (up to the executor's size)."""
    started: list[str] = []

    async def main() -> set[str]:
        start_worker_threads(3)
        # Every thread is started before the first call, and none after it.
        while len([t for t in threading.enumerate() if t.name.startswith("whiteboard")]) < 3:
            await asyncio.sleep(0.001)
        before = {t.ident for t in threading.enumerate()}
        release = threading.Event()

        def held() -> str:
            started.append(threading.current_thread().name)
            release.wait(DEADLINE_S)
            return threading.current_thread().name

        calls = [asyncio.to_thread(held) for _ in range(3)]
        waiting = asyncio.gather(*calls)
        while len(started) < 3:
            await asyncio.sleep(0.001)
        assert {t.ident for t in threading.enumerate()} == before
        release.set()
        return set(await waiting)

    names = asyncio.run(asyncio.wait_for(main(), DEADLINE_S))
    assert len(names) == 3 and all(name.startswith("whiteboard") for name in names)
