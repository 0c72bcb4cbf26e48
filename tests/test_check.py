"""``whiteboard check``: reports damage in board logs and never changes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.logs import board_log
from whiteboard.cli import main
from whiteboard.store.records import parse_log


def run_check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def test_clean_logs_check_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.log").write_bytes(board_log(3))
    (tmp_path / "b.log").write_bytes(board_log(5))
    code, out = run_check(capsys, "--boards-dir", str(tmp_path), "--all")
    assert code == 0
    assert "a: ok, 3 records" in out and "b: ok, 5 records" in out
    assert "2 boards checked, 0 damaged" in out


def test_damage_is_reported_and_nothing_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(board_log(1000))
    offsets = parse_log(bytes(data)).offsets
    data[offsets[499] + 20] ^= 0xFF  # one byte inside record 500
    data += board_log(2)  # a second log appended: its records verify but do not follow
    data += b"\x92\xce\x00"  # a torn last record
    path = tmp_path / "hurt.log"
    path.write_bytes(bytes(data))
    (tmp_path / "hurt.log.torn-20260101T000000Z").write_bytes(b"x")
    before = path.stat()
    code, out = run_check(capsys, "--boards-dir", str(tmp_path), "hurt")
    assert code == 1
    assert "hurt: DAMAGED, 1001 records" in out
    assert f"at byte {offsets[499]} do not verify (checksum mismatch" in out
    assert "502 valid records follow" in out  # 500 + the 2 appended
    assert "does not follow seq 1000" in out
    assert "incomplete record: a write cut short by a crash" in out
    assert "1 seqs have no record" in out
    assert "kept aside earlier: hurt.log.torn-20260101T000000Z" in out
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hurt.log",
        "hurt.log.torn-20260101T000000Z",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [((), "name boards or give --all"), (("--all", "x"), "not both"), (("a.b",), "invalid")],
)
def test_check_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str
) -> None:
    code, out = run_check(capsys, "--boards-dir", str(tmp_path), *args)
    assert code == 2 and expected in out


def test_a_board_never_drawn_on_has_no_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_check(capsys, "--boards-dir", str(tmp_path), "fresh")
    assert code == 0 and "fresh: no log" in out


def test_an_id_starting_with_a_dash_is_checked_after_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "-rf.log").write_bytes(board_log(2))
    code, out = run_check(capsys, "--boards-dir", str(tmp_path), "--", "-rf")
    assert code == 0 and "-rf: ok, 2 records" in out
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    assert "after '--'" in capsys.readouterr().out
