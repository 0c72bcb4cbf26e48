"""Per-op server cost without the network: where the ~10 µs per inbound op of a saturated run go.

Feeds the same 32-op frames the fan-out writer sends (``fanout.OpSource``) through the server's
own code, in-process: ``protocol.decode_frame`` (msgpack + validation), then ``BoardHub.handle``
(live-stroke bookkeeping, commit, event encoding), then the flush's ``encode_batch``. It also times
two cheaper, behaviour-preserving variants of the hottest helpers, as evidence for the
suggestions in docs/performance.md. Pinned to core 1 like the load generator.

    python bench/bench_ops.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import timeit
from array import array
from pathlib import Path

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fanout import OpSource

from whiteboard import protocol
from whiteboard.protocol import Hello
from whiteboard.server.hub import BoardHub
from whiteboard.settings import Settings
from whiteboard.store.file import FileStore

OPS_PER_FRAME = 32
FRAMES = 2000


def frames() -> list[bytes]:
    source = OpSource(1, "m", 8)
    return [
        msgpack.packb({"type": "batch", "ops": [op for op, _ in source.take(OPS_PER_FRAME)]})
        for _ in range(FRAMES)
    ]


def per_op_us(seconds: float, ops: int) -> float:
    return seconds / ops * 1e6


def check_absolute_range_loop(pts, x0, y0, bound):
    """Same contract as protocol.check_absolute_range, one pass, no lists."""
    x, y = x0, y0
    low, high = -bound, bound
    for i in range(0, len(pts), 2):
        x += pts[i]
        y += pts[i + 1]
        if not (low <= x <= high and low <= y <= high):
            raise protocol.InvalidMessage("out of range")
    return x, y


def int_array_check(value, low, high):
    """``_int_array``'s check with the per-element generator replaced by array('q') (C loop):
    raises TypeError on floats/strings, OverflowError beyond int64; bools would pass as 0/1."""
    packed = array("q", value)
    if packed and (min(packed) < low or max(packed) > high):
        raise ValueError
    return value


class NullSink:
    """A socket that takes everything at once."""

    def backlog(self) -> int:
        return 0

    def write(self, frame: object) -> None:
        pass


class ListLog:
    def __init__(self, records: list[bytes]) -> None:
        self.records = records

    async def read(self) -> list[bytes]:
        return self.records

    async def close(self) -> None:
        pass


async def sliced_load_stall(records: list[bytes], settings: Settings) -> tuple[float, float]:
    """Load ``records`` as a hub does while a ticker measures the longest gap between its turns
    on the event loop: how long loading a board holds up every other board."""
    hub = BoardHub("load", ListLog(records), settings, lambda hub: None)  # type: ignore[arg-type]
    longest = 0.0
    started = time.perf_counter()
    loading = asyncio.create_task(hub.load())

    async def ticker() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not loading.done():
            await asyncio.sleep(0)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    await asyncio.gather(loading, ticker())
    total = time.perf_counter() - started
    await hub.close()
    return longest * 1000, total * 1000


async def main() -> None:
    os.sched_setaffinity(0, {1})
    settings = Settings()
    limits = settings.limits
    data = frames()
    total_ops = FRAMES * OPS_PER_FRAME
    rows = []

    t = min(
        timeit.repeat(
            lambda: [msgpack.unpackb(f, use_list=False) for f in data], number=1, repeat=3
        )
    )
    rows.append(("msgpack.unpackb of the frame (C)", per_op_us(t, total_ops)))
    t = min(
        timeit.repeat(lambda: [protocol.decode_frame(f, limits) for f in data], number=1, repeat=3)
    )
    rows.append(
        ("protocol.decode_frame (unpack + validate + dataclasses)", per_op_us(t, total_ops))
    )

    decoded = [protocol.decode_frame(f, limits) for f in data]
    with tempfile.TemporaryDirectory() as tmp:
        store = FileStore(Path(tmp), fsync=False)
        hub = BoardHub("micro", store.log("micro"), settings, lambda hub: None)
        conn = hub.join(Hello("client0123456789", "writer", "#123456", None), NullSink())
        start = timeit.default_timer()
        for messages in decoded:
            for message in messages:
                hub.handle(conn, message)
        t = timeit.default_timer() - start
        rows.append(
            ("BoardHub.handle (live strokes, commit, encode events)", per_op_us(t, total_ops))
        )
        pending = list(hub._events)
        t = min(timeit.repeat(lambda: protocol.encode_batch(pending), number=1, repeat=3))
        rows.append(
            (f"encode_batch of all {len(pending):,} pending events, once", per_op_us(t, total_ops))
        )
        t = min(
            timeit.repeat(
                lambda: [
                    protocol.encode_event("points", peer=1, id="abc", pts=(1, 2))
                    for _ in range(10000)
                ],
                number=1,
                repeat=3,
            )
        )
        rows.append(("encode_event('points', ...) alone", per_op_us(t, 10000)))

    points = [m for ms in decoded for m in ms if isinstance(m, protocol.Points)]
    bound = protocol.quantise(limits.max_coord)
    t = min(
        timeit.repeat(
            lambda: [protocol.check_absolute_range(p.pts, 0, 0, bound) for p in points],
            number=1,
            repeat=3,
        )
    )
    rows.append(("check_absolute_range per points op (now)", per_op_us(t, len(points))))
    t = min(
        timeit.repeat(
            lambda: [check_absolute_range_loop(p.pts, 0, 0, bound) for p in points],
            number=1,
            repeat=3,
        )
    )
    rows.append(("  variant: one loop, no lists", per_op_us(t, len(points))))
    objs = [{"pts": p.pts} for p in points]
    t = min(
        timeit.repeat(
            lambda: [protocol._int_array(o, "pts", -2 * bound, 2 * bound) for o in objs],
            number=1,
            repeat=3,
        )
    )
    rows.append(("_int_array per points op (now)", per_op_us(t, len(points))))
    t = min(
        timeit.repeat(
            lambda: [int_array_check(o["pts"], -2 * bound, 2 * bound) for o in objs],
            number=1,
            repeat=3,
        )
    )
    rows.append(
        ("  variant: array('q') instead of all(type(v) is int ...)", per_op_us(t, len(points)))
    )

    # Cold late join: what loading a 10,000-stroke x 50-point log costs before the welcome.
    import random

    from freehand import stroke_message

    from whiteboard.board import Board
    from whiteboard.store.records import frame_record, parse_log

    rng = random.Random(3)
    records = []
    for seq in range(1, 10_001):
        message = stroke_message(rng, f"s{seq}", 50)
        fields = {k: message[k] for k in ("tool", "color", "width", "pts")}
        records.append(protocol.encode_op(seq, "stroke", message["id"], "author12345", **fields))
    log_bytes = b"".join(frame_record(r) for r in records)
    t = min(timeit.repeat(lambda: parse_log(log_bytes), number=1, repeat=3))
    load_rows = [(f"parse_log of a {len(log_bytes):,}-byte log (10,000 strokes)", t * 1000)]

    def load() -> None:
        Board(max_strokes=settings.max_strokes_per_board).load(records)

    t = min(timeit.repeat(load, number=1, repeat=3))
    load_rows.append(("Board.load of its 10,000 records, in one go", t * 1000))
    stall_ms, total_ms = await sliced_load_stall(records, settings)
    load_rows.append(
        (f"BoardHub.load of the same, sliced ({settings.load_slice_ms} ms): total", total_ms)
    )
    load_rows.append(("  longest time another task waited for the loop meanwhile", stall_ms))

    print(f"{FRAMES:,} frames x {OPS_PER_FRAME} ops (1 writer's live strokes, 4 points per op)\n")
    print("| step | µs per op |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.2f} |")
    print("\n| cold board load | ms |")
    print("|---|---|")
    for name, ms in load_rows:
        print(f"| {name} | {ms:.1f} |")
    # sanity: the variants agree with the real checks on this data
    for p in points[:1000]:
        assert check_absolute_range_loop(p.pts, 5, 7, bound) == protocol.check_absolute_range(
            p.pts, 5, 7, bound
        )


if __name__ == "__main__":
    asyncio.run(main())
