"""The file store: records survive; damage is skipped and kept aside, never destroyed; quotas."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import mmap
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.server.compactor import build_snapshot
from whiteboard.store import buffers
from whiteboard.store import file as file_module
from whiteboard.store import health as health_module
from whiteboard.store.base import InvalidBoardId, SnapshotTooLarge, StorageFull, check_board_id
from whiteboard.store.descriptors import SPARE_DESCRIPTORS
from whiteboard.store.file import FileStore
from whiteboard.store.records import LogParser, frame_record, framed_size, parse_log
from whiteboard.store.views import FileViewTokens

OPS = [msgpack.packb({"type": "stroke", "seq": i, "n": "x" * i}) for i in range(1, 6)]


async def write_ops(root: Path, ops: list[bytes] = OPS, board: str = "b1") -> Path:
    store = FileStore(root, fsync=True)
    log = store.log(board)
    assert await log.read() == []
    for op in ops:
        log.reserve(len(op))
    await log.append(ops)
    await log.close()
    return log.path


@pytest.fixture(params=["bytes", "mapped"])
def whole_reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Logs read as ``bytes`` (small files) or into an anonymous mapping (big ones): the repairs
    below run on both."""
    if request.param == "mapped":
        monkeypatch.setattr(buffers, "SMALL_BYTES", 0)
    return request.param


async def test_appended_records_read_back_in_order(tmp_path: Path) -> None:
    await write_ops(tmp_path)
    assert await FileStore(tmp_path).log("b1").read() == OPS


async def test_the_file_is_a_stream_of_msgpack_crc_op_pairs(tmp_path: Path) -> None:
    path = await write_ops(tmp_path)
    unpacker = msgpack.Unpacker(open(path, "rb"), raw=False)
    assert [op for _crc, op in unpacker] == OPS


async def test_reading_a_board_that_was_never_drawn_on_creates_no_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    assert await store.log("fresh").read() == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cut", [1, 5, 11, 20])
async def test_a_torn_tail_is_cut_and_kept_aside(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture, whole_reads: str
) -> None:
    path = await write_ops(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    with caplog.at_level(logging.WARNING):
        records = await FileStore(tmp_path).log("b1").read()
    assert records == OPS[:-1]
    assert "cut short by a crash" in caplog.text
    assert parse_log(path.read_bytes()).clean  # repaired on disk
    (aside,) = tmp_path.glob("b1.log.torn-*")
    assert path.read_bytes() + aside.read_bytes() == data[: len(data) - cut]


async def test_a_torn_tail_then_new_appends_stay_readable(tmp_path: Path) -> None:
    path = await write_ops(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    log = FileStore(tmp_path).log("b1")
    await log.read()
    log.reserve(len(OPS[-1]))
    await log.append([OPS[-1]])
    await log.close()
    assert await FileStore(tmp_path).log("b1").read() == OPS


MANY = [
    msgpack.packb({"type": "stroke", "seq": i, "pts": list(range(i % 40))}) for i in range(1000)
]


@pytest.mark.parametrize("where", [0, 2, 6, 9, 12, 30], ids=lambda w: f"byte{w}")
async def test_one_damaged_record_costs_that_record_not_the_ones_after_it(
    tmp_path: Path, where: int, caplog: pytest.LogCaptureFixture, whole_reads: str
) -> None:
    """Byte 0-1 are markers, 2-5 the checksum, 6 a marker, 7-10 the length, then the op."""
    path = await write_ops(tmp_path, MANY)
    data = bytearray(path.read_bytes())
    start, end = parse_log(bytes(data)).offsets[499], parse_log(bytes(data)).offsets[500]
    data[start + where] ^= 0x5A
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        records = await FileStore(tmp_path).log("b1").read()
    assert records == MANY[:499] + MANY[500:]
    (aside,) = tmp_path.glob("b1.log.damaged-at-*")
    assert aside.read_bytes() == bytes(data[start:end])  # the damaged bytes, kept as they were
    assert parse_log(path.read_bytes()).clean and parse_log(path.read_bytes()).records == records
    assert "kept the 500 valid records after them" in caplog.text
    assert "docs/security.md" in caplog.text


async def test_garbage_between_records_is_skipped_and_kept(
    tmp_path: Path, whole_reads: str
) -> None:
    path = await write_ops(tmp_path)
    data = path.read_bytes()
    cut = parse_log(data).offsets[3]
    garbage = b"\x92\xce" + bytes(range(200))  # even a record-like start does not fool it
    path.write_bytes(data[:cut] + garbage + data[cut:])
    assert await FileStore(tmp_path).log("b1").read() == OPS
    (aside,) = tmp_path.glob("b1.log.damaged-at-*")
    assert aside.read_bytes() == garbage


ID_OPS = [
    msgpack.packb({"type": "stroke", "seq": i, "id": f"s{i}", "n": "x" * i}) for i in range(1, 41)
]


async def test_the_tail_after_a_snapshot_skips_damage_and_keeps_it_and_the_prefix(
    tmp_path: Path, whole_reads: str
) -> None:
    """``read_after`` (a board loading from its snapshot) parses only the records after the
    snapshot's op, resynchronises past a damaged one, keeps it aside, and leaves the records the
    snapshot covers as they were."""
    path = await write_ops(tmp_path, ID_OPS)
    data = bytearray(path.read_bytes())
    offsets = parse_log(bytes(data)).offsets
    data[offsets[25] + 9] ^= 0x5A  # record 26's length
    path.write_bytes(bytes(data))
    log = FileStore(tmp_path).log("b1")
    assert await log.read_after(10, "s10", offsets[9]) == ID_OPS[10:25] + ID_OPS[26:]
    (aside,) = tmp_path.glob("b1.log.damaged-at-*")
    assert aside.read_bytes() == bytes(data[offsets[25] : offsets[26]])
    repaired = path.read_bytes()
    assert repaired[: offsets[10]] == bytes(data[: offsets[10]])
    assert parse_log(repaired).records == ID_OPS[:25] + ID_OPS[26:]
    await log.set_aside([0], "does not apply")  # positions count from the snapshot's op
    assert parse_log(path.read_bytes()).records == ID_OPS[:10] + ID_OPS[11:25] + ID_OPS[26:]
    assert await log.read_after(10, "s11", offsets[9]) is None  # not the snapshot's op there


async def test_a_big_log_is_read_into_a_mapping_unmapped_once_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Freed as ``bytes``, a 72.5 MB log held the event loop ~4 ms (its snapshot ~9 ms): a log
    over ``SMALL_BYTES`` is read into a mapping of its own, closed in a thread once parsed."""
    released: list[object] = []

    async def spy(buffer: buffers.Buffer | None) -> None:
        released.append(buffer)
        await buffers.release(buffer)

    monkeypatch.setattr(file_module, "release", spy)
    ops = [msgpack.packb({"type": "stroke", "seq": i, "pts": [i] * 3000}) for i in range(400)]
    await write_ops(tmp_path, ops)
    log = FileStore(tmp_path).log("b1")
    assert await log.read() == ops
    assert await log.read_after(1, "nope", 0) is None  # not the snapshot's op: released too
    assert len(released) == 2
    for buffer in released:
        assert isinstance(buffer, mmap.mmap) and buffer.closed


def test_a_file_that_grows_while_read_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a" * 3_000_000)
    with open(path, "rb") as reader, open(path, "ab") as writer:
        real_fstat = os.fstat

        def fstat_then_grow(fd: int) -> os.stat_result:
            stat = real_fstat(fd)
            writer.write(b"b" * 10)
            writer.flush()
            return stat

        monkeypatch.setattr(os, "fstat", fstat_then_grow)
        data = buffers.read_whole(reader.fileno())
        monkeypatch.undo()
    assert data == b"a" * 3_000_000 + b"b" * 10


RUN_BYTES = 700
RUN_RECORDS = RUN_BYTES // min(len(frame_record(op)) for op in MANY) + 1


@pytest.mark.parametrize("start_record", [0, 300])
def test_a_log_parsed_a_few_records_at_a_time_splits_as_parsed_at_once(start_record: int) -> None:
    """The server parses a log on its event loop in steps (``LogParser``, ``store/slices.py``):
    step by step it must find what one pass finds, damage, resync and torn tail included. A step
    whose deadline has passed parses one run of ``run_bytes`` (a record more at most), so a slice
    ends within a run of its deadline whatever the records weigh."""
    data = bytearray(b"".join(frame_record(op) for op in MANY))
    offsets = parse_log(bytes(data)).offsets
    data[offsets[400] + 3] ^= 0x11  # a checksum
    data[offsets[700] : offsets[700]] = b"\x92\xce junk"
    damaged = bytes(data[:-5])  # and a torn tail
    start = offsets[start_record]
    parser, steps = LogParser(damaged, start), 0
    while not parser.step(deadline=0.0, run_bytes=RUN_BYTES):
        steps += 1
        assert len(parser.parsed.records) <= RUN_RECORDS * steps
    assert steps >= (len(damaged) - start) // RUN_BYTES // 2
    assert parser.parsed == parse_log(damaged, start)
    assert len(parser.parsed.damaged) == 2 and parser.parsed.torn_tail is not None
    assert parser.parsed.records == MANY[start_record:400] + MANY[401:-1]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 999),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
)
def test_damage_inside_one_record_never_hides_another(record: int, flips: list) -> None:
    data = b"".join(frame_record(op) for op in MANY)
    parsed = parse_log(data)
    start = parsed.offsets[record]
    end = parsed.offsets[record + 1] if record + 1 < len(MANY) else len(data)
    damaged = bytearray(data)
    for position, mask in flips:
        damaged[start + position % (end - start)] ^= mask
    found = parse_log(bytes(damaged)).records
    assert found in (MANY, MANY[:record] + MANY[record + 1 :])


async def test_records_set_aside_are_kept_as_a_valid_log_and_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = await write_ops(tmp_path)
    store = FileStore(tmp_path)
    log = store.log("b1")
    assert await log.read() == OPS
    with caplog.at_level(logging.WARNING):
        await log.set_aside([1, 3], "do not apply")
    assert "do not apply" in caplog.text
    (aside,) = tmp_path.glob("b1.log.rejected-*")
    assert parse_log(aside.read_bytes()).records == [OPS[1], OPS[3]]
    assert parse_log(path.read_bytes()).records == [OPS[0], OPS[2], OPS[4]]
    assert store.total_bytes == store.on_disk(path.stat().st_size)
    log.reserve(len(OPS[1]))
    await log.append([OPS[1]])
    await log.close()
    assert await FileStore(tmp_path).log("b1").read() == [OPS[0], OPS[2], OPS[4], OPS[1]]


async def test_board_quota_refuses_before_anything_is_written(tmp_path: Path) -> None:
    store = FileStore(tmp_path, max_board_bytes=100)
    log = store.log("b1")
    log.reserve(50)
    with pytest.raises(StorageFull, match="100 bytes"):
        log.reserve(50)


async def test_board_count_quota_counts_existing_boards(tmp_path: Path) -> None:
    await write_ops(tmp_path, board="one")
    store = FileStore(tmp_path, max_boards=1)
    with pytest.raises(StorageFull, match="1 boards"):
        store.log("two").reserve(10)
    store.log("one").reserve(10)  # an existing board may still grow


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a.b", "x" * 65, "é", "a b"])
def test_board_ids_that_could_escape_the_directory_are_refused(bad: str) -> None:
    with pytest.raises(InvalidBoardId):
        check_board_id(bad)


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_loaded_boards_hold_no_descriptors_beyond_the_pool(tmp_path: Path) -> None:
    store = FileStore(tmp_path, fsync=False, max_open_logs=4)
    before = open_descriptors()
    logs = [store.log(f"b{i}") for i in range(100)]
    for log in logs:
        await log.read()
        log.reserve(len(OPS[0]))
        await log.append([OPS[0]])
    assert open_descriptors() - before <= 4 + SPARE_DESCRIPTORS
    for log in logs:
        await log.close()
    assert all(parse_log(log.path.read_bytes()).records == [OPS[0]] for log in logs)


@pytest.mark.parametrize("fsync", [False, True])
async def test_log_writes_find_a_descriptor_when_the_process_has_none_left(
    tmp_path: Path, fsync: bool
) -> None:
    store = FileStore(tmp_path, fsync=fsync, max_open_logs=2)
    logs = [store.log(f"b{i}") for i in range(5)]
    await logs[0].append([OPS[0]])  # opens the spares
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hogs = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_descriptors() + 16, hard))
        with pytest.raises(OSError, match="Too many open files"):  # take every descriptor left
            while True:
                hogs.append(os.open(os.devnull, os.O_RDONLY))
        for log in logs:
            await log.append([OPS[1]])
            await log.append([OPS[2]])
    finally:
        for fd in hogs:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    records = [parse_log(log.path.read_bytes()).records for log in logs]
    assert records == [[OPS[0], OPS[1], OPS[2]]] + [[OPS[1], OPS[2]]] * 4


async def test_a_write_the_disk_refuses_leaves_no_torn_record_and_refuses_writers_up_front(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileStore(tmp_path, fsync=False)
    log = store.log("b1")
    await log.read()
    log.reserve(len(OPS[0]))
    await log.append([OPS[0]])
    good = log.path.read_bytes()

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(file_module, "_write_all", half_then_full)
    log.reserve(len(OPS[1]))
    with caplog.at_level(logging.WARNING), pytest.raises(StorageFull, match="full"):
        await log.append([OPS[1]])
    assert log.path.read_bytes() == good  # the half record was cut
    assert store.total_bytes == store.on_disk(len(good))
    with pytest.raises(StorageFull, match="full"):  # up front now, until the disk recovers
        log.reserve(len(OPS[2]))
    assert store.writable_problem() is not None
    assert caplog.text.count("cannot take writes") == 1
    monkeypatch.undo()
    monkeypatch.setattr(health_module, "RECHECK_S", 0.0)
    assert store.writable_problem() is None  # a probe write succeeded
    log.reserve(len(OPS[2]))
    await log.append([OPS[2]])
    assert parse_log(log.path.read_bytes()).records == [OPS[0], OPS[2]]


async def test_a_log_over_the_board_cap_loads_read_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await write_ops(tmp_path)
    store = FileStore(tmp_path, max_board_bytes=50)
    log = store.log("b1")
    with caplog.at_level(logging.WARNING):
        assert await log.read() == OPS
    with pytest.raises(StorageFull, match=r"read-only: its log .* is over max_board_bytes"):
        log.reserve(1)
    assert "read-only" in caplog.text


async def test_disk_use_counts_whole_blocks(tmp_path: Path) -> None:
    store = FileStore(tmp_path, fsync=False)
    for n in range(50):
        log = store.log(f"b{n}")
        log.reserve(len(OPS[0]))
        await log.append([OPS[0]])
        await log.close()
    on_disk = sum(path.stat().st_blocks * 512 for path in tmp_path.glob("*.log"))
    assert store.total_bytes == on_disk == 50 * store.block_bytes  # not 50 x 30 bytes
    assert FileStore(tmp_path).total_bytes == on_disk
    small = FileStore(tmp_path, max_total_bytes=on_disk + store.block_bytes)
    small.log("one-more").reserve(10)
    with pytest.raises(StorageFull, match="bytes of disk"):
        small.log("yet-another").reserve(10)


async def test_a_moved_boards_view_link_is_adopted_unless_the_board_or_token_is_taken(
    tmp_path: Path,
) -> None:
    source, target = (
        FileViewTokens(tmp_path / "a", fsync=False),
        FileViewTokens(tmp_path / "b", fsync=False),
    )
    token = await source.token_for("moved")
    assert await target.existing("moved") is None  # asking never makes one
    assert await target.adopt("moved", token)
    assert await target.adopt("moved", token)  # again: the same link, still fine
    fresh = FileViewTokens(tmp_path / "b", fsync=False)  # what a restarted server reads
    assert await fresh.board_for(token) == "moved" and await fresh.existing("moved") == token
    # A board that has its own link keeps it; a token naming another board is not taken over.
    own = await target.token_for("other")
    assert not await target.adopt("other", token)
    assert await target.token_for("other") == own
    assert not await target.adopt("third", token)
    assert await target.existing("third") is None and await target.board_for(token) == "moved"
    assert not await target.adopt("fourth", "not a token")


def stroke_records(strokes: int) -> list[bytes]:
    """A board's log records: ``strokes`` strokes of a few points each."""
    board = Board(max_strokes=strokes)
    for i in range(strokes):
        board.commit(Stroke(f"s{i}", Style("pen", "#112233", 3.0), (i, 0, 3, -2, 5, 5), None), "a")
    return list(board.ops)


async def compacted_board(root: Path, strokes: int) -> tuple[int, int]:
    """A board ``b`` of ``strokes`` strokes and its snapshot at the one before last, written as a
    server writes them; the bytes of its log and of its snapshot."""
    log = FileStore(root, fsync=False).log("b")
    records = stroke_records(strokes)
    for record in records:
        log.reserve(len(record))
    await log.append(records)
    build_snapshot(log.snapshot_source(), strokes - 1, strokes, 10, 4096)
    return log.path.stat().st_size, log.snapshot_path.stat().st_size


async def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_snapshots_count_towards_the_disk_quotas(tmp_path: Path) -> None:
    """A stroke board's snapshot takes about twice its log: uncounted, boards took ~3x
    ``max_board_bytes`` and ``max_total_bytes`` on disk (issue 12, item 5)."""
    log_bytes, snapshot_bytes = await compacted_board(tmp_path, 200)
    assert snapshot_bytes > log_bytes
    (tmp_path / "b.snap.dropped-3").write_bytes(b"x" * 9000)  # the server stopped before deleting
    store = FileStore(tmp_path, max_board_bytes=log_bytes + snapshot_bytes + framed_size(100))
    assert store.total_bytes == store.on_disk(log_bytes) + store.on_disk(snapshot_bytes)
    assert not (tmp_path / "b.snap.dropped-3").exists()
    log = store.log("b")
    await log.read()
    assert log.snapshot_room() == snapshot_bytes + framed_size(100)  # the old one is replaced
    log.reserve(100)  # fits beside the snapshot
    assert log.snapshot_path.exists()
    # A compaction writes only what fits, and the store counts the file it leaves.
    bigger = dataclasses.replace(log.snapshot_source(), room_bytes=snapshot_bytes - 1)
    with pytest.raises(SnapshotTooLarge):
        build_snapshot(bigger, 200, 200, 10, 4096)
    assert log.snapshot_path.stat().st_size == snapshot_bytes  # the old one is left as it was
    log.snapshot_path.unlink()  # as if the process had replaced it with nothing
    log.snapshot_stored()
    assert store.total_bytes == store.on_disk(log_bytes + framed_size(100))


async def test_an_op_takes_the_room_of_its_boards_snapshot_rather_than_be_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The log is the board, the snapshot a shortcut to it: a board does not hold less drawing
    for having been compacted. An op that fits only without the snapshot drops it."""
    log_bytes, snapshot_bytes = await compacted_board(tmp_path, 200)
    store = FileStore(tmp_path, max_board_bytes=log_bytes + snapshot_bytes)
    log = store.log("b")
    await log.read()
    with caplog.at_level(logging.INFO):
        log.reserve(10)
    assert not log.snapshot_path.exists() and "snapshot dropped" in caplog.text
    await wait_until(lambda: not list(tmp_path.glob("b.snap*")))  # deleted off the event loop
    assert store.total_bytes == store.on_disk(log_bytes + framed_size(10))
    with pytest.raises(StorageFull, match="board would exceed"):
        log.reserve(snapshot_bytes)  # the log alone is still capped


async def test_an_op_takes_the_room_of_snapshots_rather_than_be_refused_by_a_full_store(
    tmp_path: Path,
) -> None:
    log_bytes, snapshot_bytes = await compacted_board(tmp_path, 200)
    store = FileStore(tmp_path)
    logs_bytes = store.on_disk(log_bytes)
    store = FileStore(tmp_path, max_total_bytes=logs_bytes + store.on_disk(snapshot_bytes))
    assert store.log("b").snapshot_room() == 0  # not even for a new snapshot of its own board
    store.log("other").reserve(10)  # a new board's op, where the snapshot was
    assert not (tmp_path / "b.snap").exists()
    assert store.total_bytes == logs_bytes + store.block_bytes
    with pytest.raises(StorageFull, match="bytes of disk"):
        store.log("other").reserve(store.on_disk(snapshot_bytes))  # no snapshot left to drop
