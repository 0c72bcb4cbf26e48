"""A connection's outbox, closing and rate limits, with a fake socket: no network."""

from __future__ import annotations

import asyncio

import msgpack
import pytest

from whiteboard import protocol
from whiteboard.protocol import CloseCode
from whiteboard.server.connection import Connection, LocalBroadcaster, TokenBucket
from whiteboard.server.outbox import Batch, Outbox, Pumped, SlowConsumer, batch_frame
from whiteboard.server.sink import Frame


class FakeSink:
    """A socket whose kernel buffer the test fills and empties by hand."""

    def __init__(self) -> None:
        self.written: list[Frame] = []
        self.buffered = 0
        self.is_open = True
        self.closed: list[tuple[int, str]] = []
        self.aborted = False
        self.close_hangs = False

    def backlog(self) -> int | None:
        return self.buffered if self.is_open else None

    def write(self, frame: Frame) -> None:
        self.written.append(frame)

    async def close(self, code: int, reason: str) -> None:
        self.is_open = False
        if self.close_hangs:
            await asyncio.Event().wait()
        self.closed.append((code, reason))

    def abort(self) -> None:
        self.aborted = True

    def messages(self) -> list[dict]:
        """Every message written, batches unpacked, in order."""
        out = []
        for frame in self.written:
            decoded = msgpack.unpackb(frame.payload)
            out += decoded["ops"] if decoded.get("type") == "batch" else [decoded]
        return out


def op(number: int) -> bytes:
    return protocol.encode_event("points", peer=1, id="s", n=number)


def batch(*numbers: int) -> Batch:
    return Batch.of([op(n) for n in numbers])


def outbox(sink: FakeSink, max_bytes: int = 10_000, max_age_s: float = 5.0) -> Outbox:
    return Outbox(sink, max_bytes=max_bytes, max_age_s=max_age_s, max_frame_bytes=1_000)


def test_a_receiver_that_keeps_up_gets_the_shared_frame_itself() -> None:
    sinks = [FakeSink(), FakeSink()]
    tick = batch(1, 2)
    for sink in sinks:
        assert outbox(sink).deliver(tick, now=0.0) is False
    assert sinks[0].written[0] is tick and sinks[1].written[0] is tick


def test_a_receiver_behind_gets_everything_waiting_as_one_frame_in_order() -> None:
    sink = FakeSink()
    box = outbox(sink)
    box.deliver(batch(0), 0.0)
    sink.buffered = 500  # the kernel did not take it all
    for tick in range(1, 6):
        assert box.deliver(batch(2 * tick - 1, 2 * tick), tick / 10) is True
    assert box.pump(0.6) is Pumped.WAITING and len(sink.written) == 1  # nothing written
    sink.buffered = 0
    assert box.pump(0.7) is Pumped.DONE
    assert len(sink.written) == 2
    assert [m["n"] for m in sink.messages()] == list(range(11))
    merged = msgpack.unpackb(sink.written[1].payload)
    assert merged["type"] == "batch" and len(merged["ops"]) == 10


def test_a_backlog_over_the_frame_size_goes_out_in_frames_of_whole_bodies() -> None:
    sink = FakeSink()
    box = outbox(sink)
    sink.buffered = 1
    big = [Batch.of([op(n)] * 30) for n in range(5)]  # ~600 bytes each, frames hold 1,000
    for tick, body in enumerate(big):
        box.deliver(body, float(tick))
    sink.buffered = 0
    box.pump(10.0, max_frames=10)
    assert len(sink.written) == 5
    assert sum(len(msgpack.unpackb(f.payload)["ops"]) for f in sink.written) == 150


def test_the_backlog_is_bounded_in_bytes() -> None:
    sink = FakeSink()
    box = outbox(sink, max_bytes=300)
    sink.buffered = 1
    with pytest.raises(SlowConsumer, match="bytes waiting"):
        for tick in range(100):
            box.deliver(batch(tick, tick), float(tick))


def test_the_backlog_is_bounded_in_age_counting_what_the_socket_did_not_take() -> None:
    sink = FakeSink()
    box = outbox(sink, max_age_s=5.0)
    box.deliver(batch(1), 0.0)  # written at 0 s; the socket then stops taking data
    sink.buffered = 100
    box.deliver(batch(2), 3.0)  # queued at 3 s, but unsent data is there since 0 s
    assert box.pump(4.9) is Pumped.WAITING
    with pytest.raises(SlowConsumer, match=r"waiting for 5\.1 s"):
        box.pump(5.1)


def test_a_replay_streams_before_what_is_delivered_later() -> None:
    sink = FakeSink()
    box = outbox(sink)
    box.write_now(Frame(protocol.encode_event("welcome", seq=4)), 0.0)
    box.start_replay(iter([batch(1, 2), batch(3, 4)]))
    assert box.deliver(batch(5), 0.0) is True
    while box.pump(0.0):
        pass
    assert [m.get("n", m["type"]) for m in sink.messages()] == ["welcome", 1, 2, 3, 4, 5]


def test_a_replay_goes_out_one_frame_a_pump_while_the_socket_takes_it() -> None:
    sink = FakeSink()
    box = outbox(sink)
    box.start_replay(iter([batch_frame([op(1), op(2)]), batch_frame([op(3)])]))
    assert box.pump(0.0) is Pumped.MORE and len(sink.written) == 1
    sink.buffered = 10  # the kernel did not take all of it
    assert box.pump(0.0) is Pumped.WAITING and len(sink.written) == 1
    sink.buffered = 0
    assert box.pump(0.0) is Pumped.MORE and len(sink.written) == 2
    assert box.pump(0.0) is Pumped.DONE
    assert [m["n"] for m in sink.messages()] == [1, 2, 3]
    wire = sink.written[0].wire  # one copy: header, batch header and ops in one bytes
    assert wire[:2] == bytes((0x82, len(sink.written[0].payload)))


def test_nothing_is_written_once_the_socket_is_closing() -> None:
    sink = FakeSink()
    box = outbox(sink)
    sink.is_open = False
    assert box.deliver(batch(1), 0.0) is False
    assert sink.written == []


def connection(sink: FakeSink, close_timeout_s: float = 1.0) -> Connection:
    return Connection(
        peer=1,
        author="a",
        name="A",
        color="#000000",
        outbox=outbox(sink, max_bytes=300),
        frames_per_second=10,
        bytes_per_second=1000,
        close_timeout_s=close_timeout_s,
    )


async def test_closing_drops_the_backlog_and_sends_the_close_code() -> None:
    sink = FakeSink()
    conn = connection(sink)
    sink.buffered = 1
    conn.send(op(1))
    conn.close(CloseCode.RATE_LIMITED, "slow down")
    conn.send(op(2))
    assert conn.outbox.queued_bytes == 0
    await asyncio.sleep(0)
    assert sink.closed == [(CloseCode.RATE_LIMITED, "slow down")]
    conn.finish()


async def test_a_client_that_never_answers_the_close_is_aborted_in_time() -> None:
    sink = FakeSink()
    sink.close_hangs = True
    conn = connection(sink, close_timeout_s=0.05)
    conn.close(CloseCode.TOO_MANY_ERRORS, "bye")
    async with asyncio.timeout(2):
        while not sink.aborted:
            await asyncio.sleep(0.01)
    conn.finish()


async def test_a_receiver_too_far_behind_is_closed_with_4004_and_others_still_get_frames() -> None:
    slow_sink, fast_sink = FakeSink(), FakeSink()
    room = LocalBroadcaster()
    slow, fast = connection(slow_sink), connection(fast_sink)
    fast.peer = 2
    room.add(slow)
    room.add(fast)
    slow_sink.buffered = 1
    for tick in range(50):
        tick_batch = batch(tick, tick)
        room.publish(lambda want, b=tick_batch: b, float(tick) / 100)
    assert slow.close_code == CloseCode.SLOW_CONSUMER
    assert slow.outbox.queued_bytes == 0
    assert len(fast_sink.written) == 50
    assert room.pump(1.0) is Pumped.DONE  # the closed one is no longer pumped
    slow.finish()
    fast.finish()


def test_token_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
