"""A board that goes quiet with a tail of ops after its snapshot is compacted (server/snapshots.py,
``compact_idle_s``), but only when that tail weighs: at least an eighth of the snapshot and
64 KiB, so the compaction CPU per op drawn stays bounded."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.test_snapshots_room import Log
from whiteboard.server.compactor import Built
from whiteboard.server.snapshots import IDLE_TAIL_MIN_BYTES, IDLE_TAIL_SHARE, BoardSnapshots
from whiteboard.settings import Settings

DEADLINE_S = 5.0
SNAPSHOT_WIRE_BYTES = 1_600_000  # its tail must weigh 200,000 bytes
OP_BYTES = 5_000


class Compactor:
    """Builds a snapshot of ``SNAPSHOT_WIRE_BYTES`` at the seq it is asked for."""

    def __init__(self) -> None:
        self.built_at: list[int] = []
        self.snapshot_listeners: list[Any] = []

    async def build(self, source: str, upto_seq: int, *args: Any) -> Built:
        self.built_at.append(upto_seq)
        return Built(upto_seq, [b"\0" * SNAPSHOT_WIRE_BYTES], upto_seq, 0)


class Ops:
    """The hub's side: its ops, weighed as ``BoardHub._op_bytes`` does."""

    def __init__(self) -> None:
        self.ops: list[bytes] = []

    def op_bytes(self, start: int, stop: int, limit: int) -> int:
        return sum(len(op) for op in self.ops[start:stop])


def roomy() -> Log:
    log = Log()
    log.room_bytes = 10 * SNAPSHOT_WIRE_BYTES
    return log


async def until(condition: Any) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


async def test_a_quiet_board_is_compacted_once_its_tail_weighs_an_eighth_of_the_snapshot() -> None:
    assert SNAPSHOT_WIRE_BYTES // IDLE_TAIL_SHARE > IDLE_TAIL_MIN_BYTES
    compactor, ops = Compactor(), Ops()
    settings = Settings(compact_after_ops=100, compact_idle_s=0.02)
    snapshots = BoardSnapshots("b", roomy(), settings, compactor, ops.op_bytes)  # type: ignore[arg-type]

    def draw(count: int) -> None:
        ops.ops += [b"\0" * OP_BYTES] * count
        snapshots.durable(len(ops.ops))

    draw(100)  # due: compacted at once
    await until(lambda: snapshots.seq == 100)
    tail = SNAPSHOT_WIRE_BYTES // IDLE_TAIL_SHARE // OP_BYTES  # ops that weigh an eighth
    draw(tail - 1)
    await until(lambda: snapshots._quiet_timer is None)  # fired, quiet: the tail is too light
    assert not snapshots.tail_weighs() and snapshots._task is None
    assert compactor.built_at == [100]
    draw(1)
    await until(lambda: snapshots.seq == 100 + tail)
    assert compactor.built_at == [100, 100 + tail]
    await snapshots.close()


async def test_ops_that_keep_coming_hold_the_quiet_compaction_back() -> None:
    compactor, ops = Compactor(), Ops()
    settings = Settings(compact_after_ops=10_000, compact_idle_s=60.0)
    snapshots = BoardSnapshots("b", roomy(), settings, compactor, ops.op_bytes)  # type: ignore[arg-type]
    ops.ops += [b"\0" * OP_BYTES] * 100  # 500 KB and no snapshot: the tail weighs
    snapshots.durable(100)
    first = snapshots._quiet_timer
    assert first is not None
    snapshots.durable(100)  # the same head again (a compaction ended): the same timer
    assert snapshots._quiet_timer is first
    first.cancel()
    snapshots._quiet()  # fired right after an op: not quiet yet, waits for the rest of the spell
    assert compactor.built_at == [] and snapshots._task is None
    waiting = snapshots._quiet_timer
    assert waiting is not None
    waiting.cancel()
    snapshots._last_op_s -= 60.0  # quiet for the whole spell since
    snapshots._quiet()
    await until(lambda: snapshots.seq == 100)
    assert compactor.built_at == [100]
    await snapshots.close()
