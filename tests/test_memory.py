"""Memory goes back to the system after boards unload: ``malloc_trim`` soon after an unload, at
most once per interval, never when off."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
import websockets

from tests.logs import board_log
from tests.serving import ServerThread
from whiteboard.protocol import encode_hello
from whiteboard.server import memory
from whiteboard.server.hubs import Hubs
from whiteboard.server.memory import MemoryTrimmer, _glibc_trim
from whiteboard.settings import Settings
from whiteboard.store.file import FileStore


@pytest.fixture(autouse=True)
def no_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "TRIM_DELAY_S", 0.0)


async def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


def test_this_c_library_has_malloc_trim() -> None:
    trim = _glibc_trim()
    assert trim is not None
    assert trim() in (0, 1)  # 1: memory was released


async def test_unloads_in_a_wave_trim_once_and_later_ones_wait_for_the_interval() -> None:
    calls: list[float] = []
    trimmer = MemoryTrimmer(0.3, trim=lambda: calls.append(time.monotonic()))
    for _ in range(5):
        trimmer.board_unloaded()
    await wait_for(lambda: trimmer.trims == 1)
    trimmer.board_unloaded()
    await wait_for(lambda: trimmer.trims == 2)
    assert len(calls) == 2 and calls[1] - calls[0] >= 0.29


async def test_no_trim_when_the_interval_is_zero() -> None:
    calls: list[int] = []
    trimmer = MemoryTrimmer(0.0, trim=lambda: calls.append(1))
    trimmer.board_unloaded()
    await asyncio.sleep(0.05)
    assert calls == [] and trimmer.trims == 0


async def test_a_board_that_unloads_is_followed_by_a_trim(tmp_path: Path) -> None:
    settings = Settings(memory_trim_interval_s=5.0, idle_unload_s=0.01)
    hubs = Hubs(FileStore(tmp_path), settings)
    calls: list[int] = []
    hubs.trimmer = MemoryTrimmer(5.0, trim=lambda: calls.append(1))
    hub = await hubs.get("b1")
    hubs._release(hub)
    await wait_for(lambda: calls == [1])
    assert hubs.loaded("b1") is None
    await hubs.close()


async def test_an_unloaded_board_is_freed_without_waiting_for_a_garbage_collection(
    tmp_path: Path,
) -> None:
    """Its memory goes when it unloads, not at the next full collection (minutes of unloads
    later): the hub holds no reference cycle once closed."""
    (tmp_path / "b1.log").write_bytes(board_log(50))
    hubs = Hubs(FileStore(tmp_path), Settings(memory_trim_interval_s=0))
    hub = await hubs.get("b1")
    assert hub.board.head_seq == 50
    freed = weakref.ref(hub)
    gc.disable()
    try:
        hubs._release(hub)
        del hub
        await wait_for(lambda: not hubs._unloading)
        assert freed() is None, [type(r).__name__ for r in gc.get_referrers(freed())]
    finally:
        gc.enable()
        await hubs.close()


async def test_a_board_whose_viewer_left_is_freed_when_it_unloads(tmp_path: Path) -> None:
    """Through a real server: the viewer's connection handler (its task, cancelled when the
    socket closes) holds no cycle that keeps the board."""
    (tmp_path / "b1.log").write_bytes(board_log(50))
    settings = Settings(boards_dir=tmp_path, idle_unload_s=0.05, memory_trim_interval_s=0)
    with ServerThread(settings) as server:
        hubs = server.app.extensions["whiteboard_hubs"]
        async with websockets.connect(f"{server.ws_url}/b/b1/ws") as viewer:
            await viewer.send(encode_hello("viewer-0001", "viewer", "#000000", None))
            welcome = msgpack.unpackb(await asyncio.wait_for(viewer.recv(), 5))
            assert welcome["seq"] == 50
            freed = server.call(lambda: weakref.ref(hubs.loaded("b1")))
        server.call(gc.disable)
        try:
            await wait_for(
                lambda: server.call(lambda: not hubs.loaded("b1") and not hubs._unloading)
            )
            assert server.call(lambda: freed() is None)
        finally:
            server.call(gc.enable)
