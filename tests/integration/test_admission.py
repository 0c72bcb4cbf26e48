"""Limits that keep one client from exhausting what all boards share: new boards per client
address, loaded boards, WebSockets (``server/admission.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.integration.rawclient import close_all, crowd
from tests.serving import ServerThread
from whiteboard.protocol import CloseCode, encode_hello
from whiteboard.settings import Settings


async def refused_with(server: ServerThread, board: str) -> tuple[int, str]:
    """Open ``board`` and say hello; the close code and reason the server answers with."""
    async with websockets.connect(f"{server.ws_url}/b/{board}/ws") as ws:
        await ws.send(encode_hello("someone", "Someone", "#000000", None))
        with pytest.raises(websockets.ConnectionClosed) as info:
            async with asyncio.timeout(5):
                while True:
                    msgpack.unpackb(await ws.recv())
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def test_a_client_may_open_only_so_many_new_boards(boards_dir: Path) -> None:
    settings = Settings(boards_dir=boards_dir, new_boards_per_client_per_hour=3)
    with ServerThread(settings) as server:
        for n in range(3):
            client = await BoardClient.connect(server.ws_url, f"new{n}", "ann")
            await client.send(pen_stroke(f"s{n}"))
            await client.wait_for(is_op("stroke", f"s{n}"))
            await client.close()
        code, reason = await refused_with(server, "new3")
        assert code == CloseCode.BOARD_FULL and "3 new boards in the last hour" in reason
        again = await BoardClient.connect(server.ws_url, "new0", "ann")  # existing ones open
        await again.close()
    made = sorted(p.name for p in boards_dir.iterdir() if p.name != "media")  # media/: its secret
    assert made == ["new0.log", "new1.log", "new2.log"]


async def test_loaded_boards_are_capped_and_idle_ones_make_room(boards_dir: Path) -> None:
    settings = Settings(boards_dir=boards_dir, max_loaded_boards=2)
    with ServerThread(settings) as server:
        hubs = server.app.extensions["whiteboard_hubs"]
        first = await BoardClient.connect(server.ws_url, "one", "ann")
        second = await BoardClient.connect(server.ws_url, "two", "ann")
        code, reason = await refused_with(server, "three")
        assert code == CloseCode.BOARD_FULL and "2 boards open" in reason
        await first.close()
        async with asyncio.timeout(5):  # the server has seen "one" left: it is idle
            while hubs.loaded("one").connections:
                await asyncio.sleep(0.01)
        third = await BoardClient.connect(server.ws_url, "three", "ann")  # "one" makes room
        assert hubs.loaded("one") is None and hubs.loaded("three") is not None
        await second.close()
        await third.close()


async def test_websockets_over_max_connections_get_503(boards_dir: Path) -> None:
    with ServerThread(Settings(boards_dir=boards_dir, max_connections=2)) as server:
        held = [await BoardClient.connect(server.ws_url, "b", f"c{n}") for n in range(2)]
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(f"{server.ws_url}/b/b/ws")
        assert info.value.response.status_code == 503
        assert b"2 connections" in info.value.response.body
        for client in held:
            await client.close()


async def test_a_room_behind_one_address_joins_without_waiting_for_its_work_budget(
    boards_dir: Path,
) -> None:
    # 1 ms of work a second: were a join charged its ~2 ms, the 100th would wait minutes.
    settings = Settings(boards_dir=boards_dir, fsync=False, max_work_ms_per_second=1)
    with ServerThread(settings) as server:
        hall = await crowd(server, "hall", 100, at_once=50, decode=False)  # each waits <= 10 s
        assert len({reader.welcome["peer"] for reader in hall}) == 100
        await close_all(hall)
