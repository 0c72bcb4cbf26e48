"""A board's compactions wait for room under the disk quotas (server/snapshots.py): building a
snapshot that cannot be written costs about the board's size in CPU for nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from whiteboard.server.snapshots import BoardSnapshots
from whiteboard.settings import Settings
from whiteboard.store.base import SnapshotTooLarge

SNAPSHOT_BYTES = 5_000
DEADLINE_S = 5.0


class Log:
    """A board log with snapshots, and as much room for one as ``room_bytes`` says."""

    def __init__(self) -> None:
        self.room_bytes = 0

    def snapshot_room(self) -> int:
        return self.room_bytes

    async def read_after(self, *args: Any) -> None: ...
    async def read_snapshot(self) -> None: ...
    async def write_snapshot(self, data: bytes) -> None: ...
    def snapshot_source(self) -> str:
        return "source"


class Compactor:
    """Builds snapshots of ``SNAPSHOT_BYTES``, which never fit."""

    def __init__(self) -> None:
        self.built_at: list[int] = []  # the seq of each snapshot built
        self.built = asyncio.Event()

    async def build(self, source: str, upto_seq: int, *args: Any) -> None:
        self.built_at.append(upto_seq)
        self.built.set()
        raise SnapshotTooLarge(SNAPSHOT_BYTES, 100)


async def test_a_compaction_waits_for_room_for_its_snapshot() -> None:
    log, compactor = Log(), Compactor()
    snapshots = BoardSnapshots("b", log, Settings(compact_after_ops=10), compactor)  # type: ignore[arg-type]
    snapshots.durable(10)  # due, but no room at all (a log over max_board_bytes)
    await asyncio.sleep(0)  # a compaction started now would have called build
    log.room_bytes = 100
    snapshots.durable(20)  # some room: built, and it does not fit
    await asyncio.wait_for(compactor.built.wait(), DEADLINE_S)
    compactor.built.clear()
    snapshots.durable(30)  # less room than the last one needed: not built again
    log.room_bytes = SNAPSHOT_BYTES
    snapshots.durable(40)  # as much as it needed: built again
    await asyncio.wait_for(compactor.built.wait(), DEADLINE_S)
    assert compactor.built_at == [20, 40]
    await snapshots.close()
