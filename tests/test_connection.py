"""A connection's send queue and rate limits, without a network."""

from __future__ import annotations

import asyncio

from whiteboard.protocol import CloseCode
from whiteboard.server.connection import Connection, TokenBucket


def connection(queue_frames: int = 3, frames_per_second: float = 10) -> Connection:
    return Connection(
        peer=1,
        author="a",
        name="A",
        color="#000000",
        queue_frames=queue_frames,
        frames_per_second=frames_per_second,
        bytes_per_second=1000,
    )


async def test_a_reader_that_falls_behind_is_closed_as_slow_and_its_backlog_dropped() -> None:
    conn = connection(queue_frames=3)
    for frame in (b"1", b"2", b"3", b"4"):
        conn.push(frame)
    assert conn.close_code == CloseCode.SLOW_CONSUMER
    assert conn.queued_frames == 0


async def test_the_sender_delivers_in_order_then_closes_with_the_reason() -> None:
    conn = connection()
    sent: list[bytes] = []
    closed: list[tuple[int, str]] = []

    async def send(frame: bytes) -> None:
        sent.append(frame)

    async def close(code: int, reason: str) -> None:
        closed.append((code, reason))

    sender = asyncio.create_task(conn.run_sender(send, close, timeout_s=1))
    conn.push(b"a")
    conn.push(b"b")
    conn.close(CloseCode.RATE_LIMITED, "slow down")
    conn.push(b"after close")
    await asyncio.wait_for(sender, 2)
    assert sent == [b"a", b"b"]
    assert closed == [(CloseCode.RATE_LIMITED, "slow down")]


async def test_a_send_that_hangs_ends_the_sender() -> None:
    conn = connection()

    async def never(frame: bytes) -> None:
        await asyncio.Event().wait()

    async def close(code: int, reason: str) -> None:
        raise AssertionError("not reached")

    conn.push(b"x")
    sender = asyncio.create_task(conn.run_sender(never, close, timeout_s=0.05))
    done, _ = await asyncio.wait({sender}, timeout=2)
    assert sender in done, "the sender should give up on its own"
    assert isinstance(sender.exception(), TimeoutError)


def test_token_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1, burst=3)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
