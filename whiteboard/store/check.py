"""``whiteboard check BOARD... | --all``: verify board logs and report damage, changing nothing.

Reads each log once, read-only, as a load would (``records.parse_log``, then ``Board.load``), and
says what a server would do with it: damaged spans it would skip and keep aside, records that do
not apply, a torn last record, seqs it would fill. Also lists the copies earlier repairs kept
beside the log. Safe while a server writes to the same directory (a torn last record may then be
a write in progress). Exit status: 0 when every log is clean, 1 when one is not, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..board import Board
from ..protocol import ID_PATTERN
from ..settings import Settings
from .file import LOG_SUFFIX
from .records import parse_log

REPORTED_PER_KIND = 10
"""Findings of one kind listed per board; the rest are counted (a shredded log has thousands)."""


@dataclass(slots=True)
class LogCheck:
    board_id: str
    size_bytes: int = 0
    records: int = 0
    head_seq: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def check_log(path: Path) -> LogCheck:
    """What a load of the log at ``path`` would find; the file is only read."""
    result = LogCheck(path.name.removesuffix(LOG_SUFFIX))
    data = path.read_bytes()
    parsed = parse_log(data)
    result.size_bytes, result.records = len(data), len(parsed.records)
    for span in parsed.damaged[:REPORTED_PER_KIND]:
        after = sum(1 for offset in parsed.offsets if offset >= span.end)
        result.problems.append(
            f"{span.length} bytes at byte {span.offset} do not verify ({span.reason}); "
            f"{after} valid records follow"
        )
    _count_rest(result.problems, len(parsed.damaged), "damaged spans")
    if parsed.torn_tail is not None:
        torn = parsed.torn_tail
        result.problems.append(
            f"the last {torn.length} bytes (from byte {torn.offset}) are an incomplete record: a "
            "write cut short by a crash, or one in progress"
        )
    board = Board(max_strokes=2**62)
    report = board.load(parsed.records)
    result.head_seq = board.head_seq
    for index, reason in report.rejected[:REPORTED_PER_KIND]:
        result.problems.append(f"record {index + 1} (at byte {parsed.offsets[index]}): {reason}")
    _count_rest(result.problems, len(report.rejected), "records that do not apply")
    if report.filled:
        result.notes.append(
            f"{len(report.filled)} seqs have no record (set aside earlier or lost), first "
            f"{report.filled[0]}; they load as placeholders"
        )
    for aside in sorted(path.parent.glob(f"{path.name}.*")):
        result.notes.append(f"kept aside earlier: {aside.name} ({aside.stat().st_size} bytes)")
    return result


def _count_rest(lines: list[str], total: int, what: str) -> None:
    if total > REPORTED_PER_KIND:
        lines.append(f"... and {total - REPORTED_PER_KIND} more {what}")


def describe(result: LogCheck) -> list[str]:
    head = (
        f"{result.board_id}: {'ok' if result.clean else 'DAMAGED'}, {result.records} records, "
        f"{result.size_bytes} bytes, seq {result.head_seq}"
    )
    return [head] + [f"  {line}" for line in result.problems + result.notes]


def add_check_command(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help="verify board logs and report damage, changing nothing",
        description="Verify board logs: records that do not verify or do not apply, a torn "
        "last record, copies kept aside by earlier repairs. Only reads; safe while a server "
        "runs. Exit status 0 when every log is clean, 1 otherwise. To recover a damaged board "
        "see 'Damaged logs' in docs/security.md.",
    )
    check.add_argument(
        "board_ids",
        nargs="*",
        metavar="BOARD_ID",
        help="boards to check; after '--' if one starts with '-': whiteboard check -- -my-board",
    )
    check.add_argument("--all", action="store_true", help="check every board in the directory")
    check.add_argument(
        "--boards-dir",
        dest="boards_dir",
        default=None,
        metavar="BOARDS_DIR",
        help="directory of the board logs [env WHITEBOARD_BOARDS_DIR; default 'boards']",
    )
    check.set_defaults(run=run_check_command)


def run_check_command(
    args: argparse.Namespace, settings: Settings, stdout: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    root = settings.boards_dir
    if args.all == bool(args.board_ids):
        stdout.write("whiteboard check: name boards or give --all (not both)\n")
        return 2
    if args.all:
        paths = sorted(root.glob(f"*{LOG_SUFFIX}"))
    else:
        bad = [b for b in args.board_ids if not ID_PATTERN.fullmatch(b)]
        if bad:
            stdout.write(f"whiteboard check: invalid board id {bad[0]!r}\n")
            return 2
        paths = [root / f"{b}{LOG_SUFFIX}" for b in args.board_ids]
    damaged = 0
    for path in paths:
        if not path.exists():
            stdout.write(f"{path.name.removesuffix(LOG_SUFFIX)}: no log (never drawn on)\n")
            continue
        result = check_log(path)
        damaged += not result.clean
        stdout.write("\n".join(describe(result)) + "\n")
    stdout.write(f"{len(paths)} boards checked, {damaged} damaged\n")
    return 1 if damaged else 0
