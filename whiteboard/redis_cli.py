"""``whiteboard redis import|export|expire``: move boards between a boards directory and Redis.

Byte-exact both ways (``store.redis_transfer``). Import reads ``<boards-dir>/<id>.log`` files
(all of them unless boards are named) and refuses boards Redis already holds; export writes
``<boards-dir>/<id>.log`` for boards in Redis (all unless named) and refuses existing files. The
images a board's log names move with it, between Redis and the file store's media directories
(``<boards-dir>/media/<key>/``, under the boards directory's own media secret), and so does its
view-only link (the token of ``/v/<token>``), so links handed out before a move keep working. Safe
while servers run: an export sees every op committed when it reads that board. Expire archives
boards idle longer than ``redis_retention_days`` as export does, then removes them from Redis,
unless a worker took the board or it changed in between (then it stays, and the archive too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from .settings import Settings
from .store.base import InvalidBoardId, check_board_id
from .store.file import LOG_SUFFIX
from .store.media import write_images
from .store.views import ViewTokens


def add_redis_command(commands: Any) -> None:
    redis = commands.add_parser(
        "redis",
        help="move boards between a boards directory and Redis",
        description="Copy boards from a boards directory into Redis (import) or from Redis into a "
        "boards directory (export), byte for byte. Existing boards are never overwritten. "
        "Board ids that start with '-' go after '--'.",
    )
    actions = redis.add_subparsers(dest="redis_action", required=True, metavar="ACTION")
    for action, help_text in (
        ("import", "copy <id>.log files from --boards-dir into Redis"),
        ("export", "write Redis boards as <id>.log files into --boards-dir"),
        (
            "expire",
            "archive boards idle longer than --redis-retention-days into --boards-dir, "
            "then remove them from Redis",
        ),
    ):
        sub = actions.add_parser(action, help=help_text, description=help_text)
        sub.add_argument("boards", nargs="*", metavar="BOARD", help="board ids (default: all)")
        sub.add_argument(
            "--boards-dir",
            dest="boards_dir",
            default=None,
            help="the boards directory [env WHITEBOARD_BOARDS_DIR; default 'boards']",
        )
        sub.add_argument(
            "--redis",
            dest="redis_url",
            default=None,
            help="Redis URL, e.g. redis://host:6379/0 [env WHITEBOARD_REDIS_URL]",
        )
        if action == "expire":
            sub.add_argument(
                "--redis-retention-days",
                dest="retention_days",
                type=float,
                default=None,
                help="days without a commit [env WHITEBOARD_REDIS_RETENTION_DAYS]",
            )
        sub.set_defaults(run_export=run_redis_command)


def run_redis_command(
    args: argparse.Namespace, settings: Settings, stdout: TextIO | None = None
) -> int:
    stdout = stdout or sys.stdout
    url = args.redis_url or settings.redis_url
    if not url:
        print("whiteboard redis: give --redis URL (or WHITEBOARD_REDIS_URL)", file=sys.stderr)
        return 2
    boards_dir = Path(args.boards_dir or settings.boards_dir)
    try:
        ids = [check_board_id(b) for b in args.boards]
    except InvalidBoardId as exc:
        print(f"whiteboard redis: {exc}", file=sys.stderr)
        return 2
    if args.redis_action == "import":
        return _import(url, boards_dir, ids, stdout)
    if args.redis_action == "expire":
        days = args.retention_days
        days = settings.redis_retention_days if days is None else days
        if days <= 0:
            print(
                "whiteboard redis expire: boards never expire (redis_retention_days is 0); "
                "give --redis-retention-days DAYS",
                file=sys.stderr,
            )
            return 2
        return _expire(url, boards_dir, days, stdout)
    return _export(url, boards_dir, ids, stdout)


def _import(url: str, boards_dir: Path, ids: list[str], stdout: TextIO) -> int:
    from redis.asyncio import Redis

    from .store.media import committed_images
    from .store.redis_transfer import TransferError, import_board, import_images
    from .store.redis_views import RedisViewTokens
    from .store.views import FileViewTokens

    file_views = FileViewTokens(boards_dir, fsync=True)

    if not ids:
        ids = sorted(p.name[: -len(LOG_SUFFIX)] for p in boards_dir.glob(f"*{LOG_SUFFIX}"))
    logs: dict[str, bytes] = {}
    failures = 0
    for board_id in ids:
        try:
            logs[board_id] = (boards_dir / f"{board_id}{LOG_SUFFIX}").read_bytes()
        except OSError as exc:
            failures += 1
            print(f"not imported: {board_id}: {exc}", file=sys.stderr)

    async def put_all() -> int:
        client, failed = Redis.from_url(url), 0
        try:
            for board_id, data in logs.items():
                try:
                    ops = await import_board(client, board_id, data)
                    images = committed_images(boards_dir, board_id)
                    await import_images(client, board_id, images)
                    link = await _move_view_link(board_id, file_views, RedisViewTokens(client))
                    print(
                        f"imported {board_id}: {ops} ops, {len(images)} images{link}", file=stdout
                    )
                except TransferError as exc:
                    failed += 1
                    print(f"not imported: {exc}", file=sys.stderr)
        finally:
            await client.aclose()
        return failed

    failures += asyncio.run(put_all())
    return 1 if failures else 0


def _export(url: str, boards_dir: Path, ids: list[str], stdout: TextIO) -> int:
    from redis.asyncio import Redis

    from .store.redis_transfer import export_board, list_boards
    from .store.redis_views import RedisViewTokens
    from .store.views import FileViewTokens

    boards_dir.mkdir(parents=True, exist_ok=True)
    file_views = FileViewTokens(boards_dir, fsync=True)

    async def export_all() -> int:
        client, failures = Redis.from_url(url), 0
        try:
            for board_id in ids or await list_boards(client):
                data = await export_board(client, board_id)
                if not _write_log(boards_dir, board_id, data):
                    failures += 1
                    continue
                images = await _logged_images(client, board_id, data)
                write_images(boards_dir, board_id, images)
                link = await _move_view_link(board_id, RedisViewTokens(client), file_views)
                print(
                    f"exported {board_id}: {len(data)} bytes, {len(images)} images{link}",
                    file=stdout,
                )
        finally:
            await client.aclose()
        return failures

    return 1 if asyncio.run(export_all()) else 0


def _write_log(boards_dir: Path, board_id: str, data: bytes, same_is_fine: bool = False) -> bool:
    """Write ``<board>.log`` durably, never over another file; say why not on stderr."""
    path = boards_dir / f"{board_id}{LOG_SUFFIX}"
    if not data:
        print(f"not exported: {board_id}: Redis has no such board", file=sys.stderr)
        return False
    try:
        with open(path, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except FileExistsError:
        if same_is_fine and path.read_bytes() == data:
            return True  # archived by an earlier run that stopped before removing it
        print(f"not exported: {path} exists; not overwritten", file=sys.stderr)
        return False
    return True


async def _move_view_link(board_id: str, source: ViewTokens, target: ViewTokens) -> str:
    """Give the moved board its view token in the target store too; what to add to the line
    that reports the move ("" when the board never had a view link)."""
    token = await source.existing(board_id)
    if token is None:
        return ""
    if await target.adopt(board_id, token):
        return ", view link kept"
    print(
        f"view link of {board_id} not kept: the target has another view link for it "
        "(or its token names another board); the old link no longer opens it",
        file=sys.stderr,
    )
    return ", view link not kept"


async def _logged_images(client: Any, board_id: str, log: bytes) -> dict[str, bytes]:
    """The board's images that its log names: what the file store keeps once an op names an
    upload (an upload no op named is left to the server's sweep)."""
    from .store.redis_transfer import board_images

    images = await board_images(client, board_id)
    return {name: data for name, data in images.items() if name.encode() in log}


def _expire(url: str, boards_dir: Path, days: float, stdout: TextIO) -> int:
    import time

    from redis.asyncio import Redis

    from .store.redis_transfer import export_board, idle_boards, remove_board
    from .store.redis_views import RedisViewTokens
    from .store.views import FileViewTokens

    boards_dir.mkdir(parents=True, exist_ok=True)
    file_views = FileViewTokens(boards_dir, fsync=True)

    async def expire_all() -> int:
        client, failures = Redis.from_url(url), 0
        try:
            for board_id, head in await idle_boards(client, days * 86400, time.time()):
                data = await export_board(client, board_id)
                if not _write_log(boards_dir, board_id, data, same_is_fine=True):
                    failures += 1
                    continue
                written = write_images(
                    boards_dir, board_id, await _logged_images(client, board_id, data)
                )
                if await remove_board(client, board_id, head):
                    link = await _move_view_link(board_id, RedisViewTokens(client), file_views)
                    print(f"expired {board_id}: {len(data)} bytes archived{link}", file=stdout)
                else:  # it stays in Redis, so its archive would only go stale
                    (boards_dir / f"{board_id}{LOG_SUFFIX}").unlink()
                    for path in written:
                        path.unlink()
                    print(f"kept {board_id}: in use or changed since it was read", file=stdout)
        finally:
            await client.aclose()
        return failures

    return 1 if asyncio.run(expire_all()) else 0
