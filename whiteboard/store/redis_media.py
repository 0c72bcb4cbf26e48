"""Redis mode's images (``MediaStore``): every worker serves every board's images, no shared disk.

The same contract as the file store's ``media.py``: an image is stored once per board under the
sha256 of the bytes the server wrote, addressed by the board's media **key**
(``HMAC-SHA256(secret, board id)``, so media URLs never name the board), *pending* until an op
naming it is committed, and swept after ``media_grace_s`` unless the board's log names it. Here:

``wb:media-secret``  the 32-byte HMAC secret, made once by whichever worker starts first
``wb:mkey:<key>``    media key -> board id (``GET /media/<key>/<name>`` on any worker)
``wb:{b}:media``     hash: name -> image bytes
``wb:{b}:pending``   sorted set: name -> ms of its upload, until an op names it
``wb:{b}:mbytes``    bytes of the board's images (``max_board_bytes`` counts log plus images)
``wb:media-boards``  set of boards with pending uploads, for the sweep

Uploads count against ``max_images_per_board``, ``max_board_bytes`` and ``max_total_bytes`` in
the same atomic script that stores them. ``exists`` is asked synchronously while an op commits,
and the upload may have reached another worker a moment before: it answers from this worker's
memory and otherwise trusts a well-formed name. An op naming an image nobody uploaded then shows
a missing image (never another board's: names are looked up under the board's own key), and
nothing is kept for it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from ..elements import MEDIA_NAME
from .base import StorageFull, StoredMedia, TooManyImages, check_board_id
from .media import KEY_PATTERN, SECRET_BYTES, _key_of
from .redis_keys import (
    MAKE_ROOM,
    PREFIX,
    SNAPSHOT_KEYS,
    TOTAL_BYTES_KEY,
    board_key,
    log_key,
    meta_key,
)

log = logging.getLogger(__name__)

SECRET_KEY = f"{PREFIX}:media-secret"
PENDING_BOARDS_KEY = f"{PREFIX}:media-boards"


def media_key(board_id: str) -> str:
    return board_key(board_id, "media")


def pending_key(board_id: str) -> str:
    return board_key(board_id, "pending")


def media_bytes_key(board_id: str) -> str:
    return board_key(board_id, "mbytes")


def lookup_key(key: str) -> str:
    return f"{PREFIX}:mkey:{key}"


PUT = (
    MAKE_ROOM
    + """
-- KEYS: media, pending, meta, total bytes, media bytes, lookup, pending boards, SNAPSHOT_KEYS.
-- ARGV: name, data, now ms, max images, max board bytes, max total bytes, board id.
-- Returns 1 stored, 0 already there (its grace renewed), -1 images, -2 board, -3 total quota.
-- Snapshots give way to images as to ops (MAKE_ROOM).
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  if redis.call('ZSCORE', KEYS[2], ARGV[1]) then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) end
  return 0
end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return -1 end
local size = string.len(ARGV[2])
local media = tonumber(redis.call('GET', KEYS[5]) or '0') + size
local logged = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
if logged + media > tonumber(ARGV[5]) then return -2 end
local total = tonumber(redis.call('GET', KEYS[4]) or '0') + size
if total > tonumber(ARGV[6]) then return -3 end
make_room(ARGV[7], logged + media, tonumber(ARGV[5]), total, tonumber(ARGV[6]))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SET', KEYS[5], media)
redis.call('SET', KEYS[4], total)
redis.call('SET', KEYS[6], ARGV[7])
redis.call('SADD', KEYS[7], ARGV[7])
return 1
"""
)

DROP = """
-- Delete an abandoned upload, only if it is still pending since before the cut-off and the log
-- did not grow since the caller read it (a commit naming it may have just landed).
-- KEYS: media, pending, meta, total bytes, media bytes. ARGV: name, cut-off ms, head read.
local since = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not since or tonumber(since) > tonumber(ARGV[2]) then return 0 end
if tonumber(redis.call('HGET', KEYS[3], 'head') or '0') ~= tonumber(ARGV[3]) then return 0 end
local size = redis.call('HSTRLEN', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[5], size)
redis.call('DECRBY', KEYS[4], size)
return 1
"""

SETTLE = """
-- KEYS: pending, pending boards. ARGV: board id. Forget the board in the sweep's set once it has
-- nothing pending, atomically with respect to a new upload.
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return 0
"""

QUOTA_ERRORS = {
    -2: "the board would exceed max_board_bytes",
    -3: "the server's boards would exceed max_total_bytes",
}


class RedisMedia:
    def __init__(
        self,
        client: Redis,
        *,
        max_images_per_board: int,
        grace_s: float,
        max_board_bytes: int,
        max_total_bytes: int,
    ) -> None:
        self.client = client
        self.max_images_per_board = max_images_per_board
        self.grace_s = grace_s
        self.max_board_bytes = max_board_bytes
        self.max_total_bytes = max_total_bytes
        self._secret: bytes | None = None
        self._bytes: dict[str, int] = {}
        self._put = client.register_script(PUT)
        self._drop = client.register_script(DROP)
        self._settle = client.register_script(SETTLE)
        self._background: set[asyncio.Task[None]] = set()

    async def load_secret(self) -> None:
        """Read the shared secret, making it if no worker has yet (call when Redis answers)."""
        if self._secret is None:
            await self.client.set(SECRET_KEY, secrets.token_bytes(SECRET_BYTES), nx=True)
            secret = await self.client.get(SECRET_KEY)
            if secret is None or len(secret) != SECRET_BYTES:
                raise RuntimeError(f"{SECRET_KEY} in Redis must hold {SECRET_BYTES} bytes")
            self._secret = secret

    def key(self, board_id: str) -> str:
        if self._secret is None:
            # Redis has not answered since start-up: no image can be reached now anyway, and a
            # throwaway key names none. The page reloads its welcome when it reconnects.
            return _key_of(secrets.token_bytes(SECRET_BYTES), board_id)
        return _key_of(self._secret, board_id)

    def exists(self, board_id: str, name: str) -> bool:
        return MEDIA_NAME.fullmatch(name) is not None  # see the module comment

    def board_bytes(self, board_id: str) -> int:
        return self._bytes.get(board_id, 0)

    async def put(self, board_id: str, data: bytes, ext: str) -> StoredMedia:
        name = f"{hashlib.sha256(data).hexdigest()}.{ext}"
        if not MEDIA_NAME.fullmatch(name):
            raise ValueError(f"cannot store a .{ext} file")
        await self.load_secret()
        board_id = check_board_id(board_id)
        result = await self._put(
            keys=[
                media_key(board_id),
                pending_key(board_id),
                meta_key(board_id),
                TOTAL_BYTES_KEY,
                media_bytes_key(board_id),
                lookup_key(self.key(board_id)),
                PENDING_BOARDS_KEY,
                *SNAPSHOT_KEYS,
            ],
            args=[
                name,
                data,
                int(time.time() * 1000),
                self.max_images_per_board,
                self.max_board_bytes,
                self.max_total_bytes,
                board_id,
            ],
        )
        if result == -1:
            raise TooManyImages(f"this board holds {self.max_images_per_board} images, its limit")
        if result in QUOTA_ERRORS:
            raise StorageFull(QUOTA_ERRORS[result])
        if result == 1:
            self._bytes[board_id] = self._bytes.get(board_id, 0) + len(data)
        return StoredMedia(name, result == 1)

    def accepted(self, board_id: str, name: str) -> None:
        """Renew the pending upload's grace (its score), if it is pending: one round trip, later."""
        now_ms = int(time.time() * 1000)
        self._later(self.client.zadd(pending_key(board_id), {name: now_ms}, xx=True))

    def committed(self, board_id: str, name: str) -> None:
        """Keep the image: one round trip, later (the sweep checks the log before deleting)."""
        self._later(self.client.zrem(pending_key(board_id), name))

    def _later(self, command: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(command)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def read(self, key: str, name: str) -> bytes | None:
        if not KEY_PATTERN.fullmatch(key) or not MEDIA_NAME.fullmatch(name):
            return None
        board_id = await self.client.get(lookup_key(key))
        if board_id is None:
            return None
        return await self.client.hget(media_key(board_id.decode()), name)

    async def read_for_board(self, board_id: str, name: str) -> bytes | None:
        if not MEDIA_NAME.fullmatch(name):
            return None
        return await self.client.hget(media_key(check_board_id(board_id)), name)

    async def sweep(self) -> int:
        """Delete pending uploads older than the grace that the board's log does not name."""
        cutoff_ms = int((time.time() - self.grace_s) * 1000)
        deleted = 0
        for raw in await self.client.smembers(PENDING_BOARDS_KEY):
            board_id = raw.decode()
            stale = await self.client.zrangebyscore(pending_key(board_id), "-inf", cutoff_ms)
            if stale:
                head = int(await self.client.hget(meta_key(board_id), "head") or 0)
                logged = b"".join(
                    fields[b"r"] for _, fields in await self.client.xrange(log_key(board_id))
                )
                for raw_name in stale:
                    if raw_name in logged:  # committed just before a crash: keep it
                        await self.client.zrem(pending_key(board_id), raw_name)
                        continue
                    keys = [
                        media_key(board_id),
                        pending_key(board_id),
                        meta_key(board_id),
                        TOTAL_BYTES_KEY,
                        media_bytes_key(board_id),
                    ]
                    deleted += await self._drop(keys=keys, args=[raw_name, cutoff_ms, head])
            await self._settle(keys=[pending_key(board_id), PENDING_BOARDS_KEY], args=[board_id])
        if deleted:
            log.info("media: deleted %d abandoned uploads", deleted)
        return deleted
