"""A compaction in flight pauses while the server says it is busy, resumes when it is not, and
never pauses longer than its bound: snapshots still happen on a board that stays busy."""

from __future__ import annotations

import multiprocessing
import threading
import time

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.server.compactor import build_snapshot
from whiteboard.server.yielding import PAUSE_POLL_S, CpuShare, Pauses, YieldFlags
from whiteboard.snapshot import Snapshot

WAIT_S = 30.0


class MemorySource:
    """A board's records as a compaction reads them (no snapshot yet) and the snapshot it
    writes, in memory."""

    def __init__(self, records: list[bytes]) -> None:
        self.records = records
        self.written: bytes | None = None

    def read(self) -> tuple[Board | None, list[bytes], list[int]]:
        return None, self.records, list(range(len(self.records)))

    def write(self, data: bytes) -> None:
        self.written = data

    def wire_file(self) -> None:
        return None


def strokes(count: int) -> list[bytes]:
    board = Board(max_strokes=count)
    style = Style("pen", "#112233", 3.0)
    return [board.commit(Stroke(f"s{i}", style, (i, 0, 3, -2), None), "a") for i in range(count)]


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_a_compaction_pauses_while_the_server_is_busy_and_resumes_after() -> None:
    flags = YieldFlags(multiprocessing.get_context("spawn"))
    flags.busy.value = True
    source = MemorySource(strokes(300))
    pauses = Pauses(flags, max_pause_s=WAIT_S * 2)
    builder = threading.Thread(
        target=build_snapshot, args=(source, 300, 1000, 10, 4096, pauses), daemon=True
    )
    builder.start()
    wait_until(lambda: flags.paused.value, "the compaction never paused")
    assert source.written is None and builder.is_alive()

    flags.busy.value = False
    builder.join(WAIT_S)
    assert not builder.is_alive(), "the compaction did not resume"
    assert source.written is not None
    snapshot = Snapshot.decode(source.written)
    assert snapshot.seq == 300 and snapshot.elements == 300
    assert not flags.paused.value
    assert 0 < pauses.paused_s < WAIT_S * 2


def test_a_pause_ends_after_max_pause_s_however_long_the_server_stays_busy() -> None:
    flags = YieldFlags(multiprocessing.get_context("spawn"))
    flags.busy.value = True
    now_s = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now_s[0] += seconds

    pauses = Pauses(flags, max_pause_s=1.0, clock=lambda: now_s[0], sleep=sleep)
    pauses()
    assert 1.0 <= pauses.paused_s < 1.0 + PAUSE_POLL_S
    assert len(slept) >= 1.0 / PAUSE_POLL_S - 1
    assert not flags.paused.value
    calls = len(slept)
    now_s[0] += 1.0
    pauses()  # the bound is spent: the rest of this snapshot runs through
    assert len(slept) == calls

    quiet = Pauses(flags, max_pause_s=0.0, clock=lambda: now_s[0], sleep=sleep)
    quiet()  # 0: never pauses
    assert len(slept) == calls and quiet.paused_s == 0


def test_cpu_share_is_cpu_time_over_wall_time_since_the_last_sample() -> None:
    wall_s, cpu_s = [10.0], [3.0]
    meter = CpuShare(clock=lambda: wall_s[0], cpu=lambda: cpu_s[0])
    wall_s[0], cpu_s[0] = 10.2, 3.18
    assert abs(meter.sample() - 0.9) < 1e-9
    wall_s[0], cpu_s[0] = 10.6, 3.20
    assert abs(meter.sample() - 0.05) < 1e-9
