"""Move boards between the file store and Redis, byte for byte.

A Redis board's stream entries hold the very records of a ``.log`` file (``redis_keys``), so an
export is the concatenation of its entries and an import cuts a file's records into entries. Both
refuse to overwrite: importing a board Redis already has, or exporting onto an existing file, is
an error the operator resolves by hand.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from redis.asyncio import Redis

from ..board import Board
from .base import check_board_id
from .records import frame_record, framed_size, parse_log
from .redis_keys import (
    BOARDS_KEY,
    REMOVE,
    RUN_ID,
    SNAPSHOT_KEYS,
    TOTAL_BYTES_KEY,
    log_key,
    meta_key,
    owner_key,
)

IMPORT_ENTRY_BYTES = 64 * 1024
"""Records per stream entry on import: about a tick's worth of a busy board, so loading an
imported board reads a few hundred entries, not one per op (redis-py parses ~1 µs per entry)."""

EXPORT_PAGE_ENTRIES = 1000


class TransferError(Exception):
    """The board cannot be moved as asked; nothing was written."""


CREATE = (
    RUN_ID
    + """
-- KEYS: meta, log, boards, total. ARGV: board id, epoch, now ms, head, then per entry: id, records.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local bytes = 0
for i = 5, #ARGV, 2 do
  redis.call('XADD', KEYS[2], ARGV[i], 'r', ARGV[i + 1])
  bytes = bytes + string.len(ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'head', ARGV[4], 'bytes', bytes, 'epoch', ARGV[2], 'run', run,
  'touched', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('INCRBY', KEYS[4], bytes)
return 1
"""
)


def group_records(records: Sequence[bytes], max_entry_bytes: int) -> list[tuple[int, bytes]]:
    """Records -> stream entries ``(seq of the entry's last record, framed records)``."""
    entries: list[tuple[int, bytes]] = []
    chunk: list[bytes] = []
    size = 0
    for seq, record in enumerate(records, start=1):
        chunk.append(frame_record(record))
        size += framed_size(len(record))
        if size >= max_entry_bytes:
            entries.append((seq, b"".join(chunk)))
            chunk, size = [], 0
    if chunk:
        entries.append((len(records), b"".join(chunk)))
    return entries


async def import_board(client: Redis, board_id: str, log_bytes: bytes) -> int:
    """Put a ``.log`` file's bytes into Redis as board ``board_id``; return its op count."""
    check_board_id(board_id)
    parsed = parse_log(log_bytes)
    if not parsed.clean:
        raise TransferError(f"{board_id}: the log is damaged; run `whiteboard check {board_id}`")
    report = Board(max_strokes=2**62).load(parsed.records)
    if report.rejected or report.filled:
        raise TransferError(f"{board_id}: records do not apply; run `whiteboard check {board_id}`")
    if not parsed.records:
        raise TransferError(f"{board_id}: the log is empty; nothing to import")
    entries = group_records(parsed.records, IMPORT_ENTRY_BYTES)
    args: list[bytes | str | int] = [
        board_id,
        secrets.token_urlsafe(9),
        int(time.time() * 1000),
        len(parsed.records),
    ]
    for last_seq, data in entries:
        args += [f"0-{last_seq}", data]
    created = await client.eval(
        CREATE,
        4,
        meta_key(board_id),
        log_key(board_id),
        BOARDS_KEY,
        TOTAL_BYTES_KEY,
        *args,
    )
    if not created:
        raise TransferError(f"{board_id}: Redis already holds this board; not overwritten")
    return len(parsed.records)


PUT_IMAGES = """
-- KEYS: media, media bytes, total bytes, lookup. ARGV: board id, then name, data per image.
-- Images a board imported with its log: committed (no op waits for them), counted, reachable.
local added = 0
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    added = added + string.len(ARGV[i + 1])
  end
end
redis.call('INCRBY', KEYS[2], added)
redis.call('INCRBY', KEYS[3], added)
redis.call('SET', KEYS[4], ARGV[1])
return added
"""


async def import_images(client: Redis, board_id: str, images: dict[str, bytes]) -> int:
    """Put a board's images (by name) into Redis, as the server's uploads are kept once an op
    names them; returns the bytes added. Call after ``import_board`` created the board."""
    from .redis_media import RedisMedia, lookup_key, media_bytes_key, media_key

    if not images:
        return 0
    media = RedisMedia(
        client, max_images_per_board=0, grace_s=0, max_board_bytes=0, max_total_bytes=0
    )
    await media.load_secret()  # the media key every worker computes for this board
    args: list[bytes | str] = [board_id]
    for name, data in sorted(images.items()):
        args += [name, data]
    keys = [
        media_key(board_id),
        media_bytes_key(board_id),
        TOTAL_BYTES_KEY,
        lookup_key(media.key(board_id)),
    ]
    return int(await client.eval(PUT_IMAGES, len(keys), *keys, *args))


async def board_images(client: Redis, board_id: str) -> dict[str, bytes]:
    """The board's images in Redis by name (committed or pending: a pending one may be named by
    an op committed a moment ago)."""
    from .redis_media import media_key

    stored = await client.hgetall(media_key(check_board_id(board_id)))
    return {name.decode(): data for name, data in stored.items()}


async def export_board(client: Redis, board_id: str) -> bytes:
    """The board's log exactly as the file store would hold it (empty if Redis has none)."""
    key = log_key(board_id)
    parts: list[bytes] = []
    start = "-"
    while True:
        page = await client.xrange(key, start, "+", count=EXPORT_PAGE_ENTRIES)
        parts += [fields[b"r"] for _, fields in page]
        if len(page) < EXPORT_PAGE_ENTRIES:
            return b"".join(parts)
        start = "(" + page[-1][0].decode()


async def list_boards(client: Redis) -> list[str]:
    return [b.decode() for b in await client.zrange(BOARDS_KEY, 0, -1)]


async def idle_boards(client: Redis, idle_s: float, now_s: float) -> list[tuple[str, int]]:
    """Boards whose last commit (else creation) is older than ``idle_s``: ``(board, head)``."""
    found = []
    for board_id, created_ms in await client.zrange(BOARDS_KEY, 0, -1, withscores=True):
        board = board_id.decode()
        touched, head = await client.hmget(meta_key(board), "touched", "head")
        last_ms = int(touched) if touched is not None else int(created_ms)
        if head is not None and now_s - last_ms / 1000 > idle_s:
            found.append((board, int(head)))
    return found


async def remove_board(client: Redis, board_id: str, head: int) -> bool:
    """Drop an archived board from Redis unless a worker owns it or it changed since ``head``."""
    from .redis_media import media_bytes_key, media_key, pending_key

    keys = [meta_key(board_id), log_key(board_id), owner_key(board_id), BOARDS_KEY, TOTAL_BYTES_KEY]
    keys += [media_key(board_id), pending_key(board_id), media_bytes_key(board_id)]
    keys += SNAPSHOT_KEYS
    return bool(await client.eval(REMOVE, len(keys), *keys, board_id, head))
