"""The file store: records survive, torn tails are cut, corruption is set aside, quotas hold."""

from __future__ import annotations

import logging
from pathlib import Path

import msgpack
import pytest

from whiteboard.store.base import InvalidBoardId, StorageFull, check_board_id
from whiteboard.store.file import FileStore, parse_log

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
async def test_a_torn_tail_is_cut_and_the_rest_served(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    path = await write_ops(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    with caplog.at_level(logging.WARNING):
        records = await FileStore(tmp_path).log("b1").read()
    assert records == OPS[:-1]
    assert "torn write" in caplog.text
    assert parse_log(path.read_bytes()).problem is None  # repaired on disk
    assert not list(tmp_path.glob("*.corrupt-*"))


async def test_a_torn_tail_then_new_appends_stay_readable(tmp_path: Path) -> None:
    path = await write_ops(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])
    log = FileStore(tmp_path).log("b1")
    await log.read()
    log.reserve(len(OPS[-1]))
    await log.append([OPS[-1]])
    await log.close()
    assert await FileStore(tmp_path).log("b1").read() == OPS


async def test_corruption_in_the_middle_is_moved_aside_not_destroyed(tmp_path: Path) -> None:
    path = await write_ops(tmp_path)
    data = bytearray(path.read_bytes())
    data[parse_log(bytes(data)).offsets[2] + 12] ^= 0xFF  # a byte inside the third op
    path.write_bytes(bytes(data))
    records = await FileStore(tmp_path).log("b1").read()
    assert records == OPS[:2]
    (aside,) = tmp_path.glob("b1.log.corrupt-*")
    assert len(aside.read_bytes()) == len(data) - parse_log(bytes(data)).good_bytes


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
