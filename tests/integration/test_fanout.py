"""Fan-out to readers that keep up, fall behind or stall; live events do not wait for the disk."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.integration.rawclient import RawReader
from tests.integration.test_bad_input import closed_with
from tests.serving import ServerThread
from whiteboard.protocol import CloseCode
from whiteboard.server import sink as sink_module
from whiteboard.server.sink import TransportSink
from whiteboard.settings import Settings
from whiteboard.store.file import FileLog

LIVE = ("begin", "points", "stroke")
SMALL_BUFFER_BYTES = 4096  # server SO_SNDBUF and client SO_RCVBUF: a backlog shows up quickly


def small_buffers(boards_dir: Path, **settings: Any) -> Settings:
    return Settings(
        boards_dir=boards_dir,
        fsync=False,
        socket_send_buffer_bytes=SMALL_BUFFER_BYTES,
        **settings,
    )


async def draw_ticks(writer: BoardClient, watcher: BoardClient, stroke: str, ticks: int) -> None:
    """``ticks`` frames of 200 points each (~450 bytes), every one its own tick (the watcher
    sees each before the next is sent)."""
    begin = {"type": "begin", "id": stroke, "tool": "pen", "color": "#000000", "width": 2}
    await writer.send({**begin, "pts": [0, 0]})
    await watcher.wait_for(is_op("begin", stroke))
    for tick in range(ticks):
        pts = [1, -1] * 100 if tick % 2 else [-1, 1] * 100
        await writer.send({"type": "points", "id": stroke, "pts": pts})
        count = tick + 1
        await watcher.wait_for(
            lambda m, c=count: (
                m["type"] == "points"
                and sum(1 for x in watcher.received if x["type"] == "points") >= c
            )
        )


async def test_the_server_writes_frames_to_the_socket_without_a_task(server: ServerThread) -> None:
    client = await BoardClient.connect(server.ws_url, "sink", "ann")
    assert [type(c.outbox.sink) for c in server.connections("sink")] == [TransportSink]
    await client.close()


async def test_a_slow_reader_gets_merged_frames_and_loses_nothing(boards_dir: Path) -> None:
    with ServerThread(small_buffers(boards_dir)) as server:
        fast = await BoardClient.connect(server.ws_url, "merge", "fast")
        slow = await RawReader.connect(
            server, "merge", "slow", receive_buffer_bytes=SMALL_BUFFER_BYTES
        )
        # It never reads its echo: without a queue limit its client keeps taking it off the socket.
        writer = await BoardClient.connect(server.ws_url, "merge", "writer", max_queue=None)
        slow.ws.pause_reading()
        await draw_ticks(writer, fast, "s1", 120)  # ~54 KB: far more than the socket buffers
        await writer.send({"type": "end", "id": "s1"})
        await fast.wait_for(is_op("stroke", "s1"))
        behind = [c.outbox.queued_bytes for c in server.connections("merge")]
        assert max(behind) > 0, "the paused reader should have a backlog waiting in the server"
        slow.ws.resume_reading()
        await slow.wait(lambda: any(m["type"] == "stroke" for m in slow.messages))
        expected = [(m["type"], m["id"], m.get("pts")) for m in fast.received if m["type"] in LIVE]
        assert [(m["type"], m["id"], m.get("pts")) for m in slow.of_type(*LIVE)] == expected
        # What waited in the server went out merged: ticks that were each a frame to the fast
        # reader arrive many to a frame (the kernel's buffers still hold some single ones).
        assert slow.largest_batch >= 20, slow.largest_batch
        assert slow.frames < len(expected) * 0.6, (slow.frames, len(expected))
        for client in (fast, writer):
            await client.close()
        await slow.ws.close()


async def test_a_stalled_reader_is_closed_by_the_byte_bound_and_released(
    boards_dir: Path,
) -> None:
    settings = small_buffers(boards_dir, send_queue_bytes=3_000, close_timeout_s=5)
    with ServerThread(settings) as server:
        watcher = await BoardClient.connect(server.ws_url, "stall", "w", name="watcher")
        stalled = await RawReader.connect(
            server, "stall", "stalled", receive_buffer_bytes=SMALL_BUFFER_BYTES
        )
        stalled.ws.pause_reading()
        refs = [weakref.ref(c) for c in server.connections("stall") if c.name == "stalled"]
        await draw_ticks(watcher, watcher, "s1", 120)
        state = lambda: [  # noqa: E731
            (c.close_code, "bytes waiting" in c.close_reason, c.outbox.queued_bytes)
            for c in server.connections("stall")
            if c.name == "stalled"
        ]
        # Closed by the byte bound, its queue dropped to nothing at once.
        await stalled.wait(lambda: state() == [(CloseCode.SLOW_CONSUMER, True, 0)])
        stalled.ws.resume_reading()  # it reads what the kernel holds, then the close frame
        assert await asyncio.wait_for(stalled.ws.closed, 5) == CloseCode.SLOW_CONSUMER
        names = lambda: [c.name for c in server.connections("stall")]  # noqa: E731
        await stalled.wait(lambda: names() == ["watcher"], timeout_s=10)
        assert server.call(lambda: (gc.collect(), refs[0]())[1]) is None
        await watcher.close()


async def test_a_reader_too_far_behind_in_time_gets_4004(boards_dir: Path) -> None:
    settings = small_buffers(boards_dir, send_queue_age_s=0.3, close_timeout_s=5)
    with ServerThread(settings) as server:
        watcher = await BoardClient.connect(server.ws_url, "late", "watcher")
        slow = await RawReader.connect(
            server, "late", "slow", receive_buffer_bytes=SMALL_BUFFER_BYTES
        )
        slow.ws.pause_reading()
        await draw_ticks(watcher, watcher, "s1", 120)
        codes = lambda: [c.close_code for c in server.connections("late") if c.name == "slow"]  # noqa: E731
        await slow.wait(lambda: codes() == [CloseCode.SLOW_CONSUMER])
        slow.ws.resume_reading()  # it reads what was written, then the close frame
        assert await asyncio.wait_for(slow.ws.closed, 5) == CloseCode.SLOW_CONSUMER
        await watcher.close()


async def test_live_events_go_out_while_the_log_write_is_blocked(
    boards_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    original = FileLog.append

    async def slow_append(self: FileLog, records: Any) -> None:
        entered.set()
        await asyncio.to_thread(release.wait, 10)
        await original(self, records)

    monkeypatch.setattr(FileLog, "append", slow_append)
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False)) as server:
        ann = await BoardClient.connect(server.ws_url, "disk", "ann")
        bob = await BoardClient.connect(server.ws_url, "disk", "bob")
        style = {"tool": "pen", "color": "#000000", "width": 2}
        await ann.send({"type": "begin", "id": "s1", **style, "pts": [0, 0, 1, 1]})
        await ann.send({"type": "end", "id": "s1"})
        assert await asyncio.to_thread(entered.wait, 5)  # s1's append is in flight, blocked
        await ann.send({"type": "stroke", "id": "s1", **style, "pts": [0, 0, 1, 1]})  # a resend
        await ann.send({"type": "begin", "id": "s2", **style, "pts": [8, 8]})
        await ann.send({"type": "points", "id": "s2", "pts": [1, 2]})
        await bob.wait_for(is_op("points", "s2"))  # live events do not wait for the disk
        assert not [m for m in bob.received if m["type"] == "stroke"]
        release.set()
        await bob.wait_for(is_op("stroke", "s1"))
        kinds = [(m["type"], m.get("id")) for m in bob.received if m["type"] in LIVE]
        assert kinds == [("begin", "s1"), ("begin", "s2"), ("points", "s2"), ("stroke", "s1")]
        ack = await ann.wait_for(lambda m: m["type"] == "ack")
        assert ack == {"type": "ack", "id": "s1", "seq": 1}
        assert ann.received.index(ack) > ann.received.index(
            await ann.wait_for(is_op("stroke", "s1"))
        )
        await ann.send({"type": "end", "id": "s2"})
        await bob.wait_for(is_op("stroke", "s2"))
        assert not [m for m in bob.received if m["type"] == "ack"]  # acks go to the sender only
        await ann.close()
        await bob.close()


async def test_without_hypercorns_transport_frames_go_through_the_asgi_send(
    boards_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink_module, "find_transport", lambda asgi_send: None)
    with ServerThread(Settings(boards_dir=boards_dir, fsync=False, frames_per_second=5)) as server:
        ann = await BoardClient.connect(server.ws_url, "asgi", "ann")
        bob = await BoardClient.connect(server.ws_url, "asgi", "bob")
        assert {type(c.outbox.sink) for c in server.connections("asgi")} == {sink_module.AsgiSink}
        await ann.send(pen_stroke("s1"))
        assert (await bob.wait_for(is_op("stroke", "s1")))["seq"] == 1
        for _ in range(20):  # over the rate limit: the close code still arrives
            await bob.send({"type": "cursor", "x": 1, "y": 1})
        assert await closed_with(bob.ws) == CloseCode.RATE_LIMITED
        await ann.close()
