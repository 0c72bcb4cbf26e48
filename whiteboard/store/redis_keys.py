"""Where a board lives in Redis: key names and the Lua scripts that change them atomically.

Pure (no I/O): the names and scripts are shared by the server's Redis store and by
``whiteboard redis import|export``. Every key of one board carries the board id as a hash tag
(``{<board>}``), so a board's keys share one Redis Cluster slot.

``wb:{b}:log``    stream; one entry per group commit, id ``0-<seq of its last op>``, field ``r``:
                  the group's records framed exactly as in a ``.log`` file, so the concatenated
                  entries *are* the board's log file (import and export are byte-exact).
``wb:{b}:meta``   hash: ``head`` (last seq), ``bytes`` (stored record bytes), ``epoch`` (names this
                  history; a new one means clients must resync), ``run`` (the Redis ``run_id`` the
                  epoch was minted under), ``touched`` (ms of the last commit: retention).
``wb:{b}:owner``  string with a TTL: the token of the worker allowed to commit (the lease).
``wb:{b}:snap``   hash: ``data`` (the board's snapshot, ``whiteboard/snapshot.py``), ``seq`` (the op
                  it covers up to: its position in the stream), ``epoch`` (the history it was
                  built from; in another one it is ignored). Written only by the owner's
                  compaction, atomically, never over a later one (``redis_snapshot``); rebuilt
                  from the log, so import and export skip it and expire deletes it.
``wb:{b}:ch``     pub/sub channel: committed groups (published by the commit script itself, so
                  their order is the log's) and each worker's live events.
``wb:{b}:view``   string: the board's view-only token; ``wb:view:<token>`` names the board back
                  (``redis_views``).
``wb:boards``     sorted set: board -> creation time (``max_boards``).
``wb:bytes``      string: record and image bytes of all boards (``max_total_bytes``).
``wb:snaps``      sorted set: board -> bytes of its snapshot, as counted in the quotas.
``wb:snap-bytes`` string: the sum of ``wb:snaps``; ``max_total_bytes`` counts it beside
                  ``wb:bytes``.

Snapshots count towards ``max_board_bytes`` and ``max_total_bytes`` as ``.snap`` files do on the
file store, and give way to the boards' ops (``MAKE_ROOM``): the log is the board, a snapshot
only a shortcut to it. The global keys make the commit script touch keys outside the board's
slot, and making room deletes other boards' snapshots by name: fine on a standalone Redis or
Sentinel, not on Cluster (see docs/deploy.md).
"""

from __future__ import annotations

from .base import check_board_id

PREFIX = "wb"
BOARDS_KEY = f"{PREFIX}:boards"
TOTAL_BYTES_KEY = f"{PREFIX}:bytes"
SNAPSHOTS_KEY = f"{PREFIX}:snaps"
SNAPSHOT_BYTES_KEY = f"{PREFIX}:snap-bytes"


def board_key(board_id: str, part: str) -> str:
    return f"{PREFIX}:{{{check_board_id(board_id)}}}:{part}"


def log_key(board_id: str) -> str:
    return board_key(board_id, "log")


def meta_key(board_id: str) -> str:
    return board_key(board_id, "meta")


def owner_key(board_id: str) -> str:
    return board_key(board_id, "owner")


def channel(board_id: str) -> str:
    return board_key(board_id, "ch")


def snapshot_key(board_id: str) -> str:
    return board_key(board_id, "snap")


SNAPSHOT_KEYS = [SNAPSHOTS_KEY, SNAPSHOT_BYTES_KEY]
"""The keys ``MAKE_ROOM`` uses, last in the KEYS of every script that includes it."""

MAKE_ROOM = f"""
-- Snapshots give way to the boards' ops. The last two KEYS are wb:snaps and wb:snap-bytes.
local snaps, snap_bytes = KEYS[#KEYS - 1], KEYS[#KEYS]
-- Delete a board's snapshot and stop counting it (one stored before they were counted: deleted).
local function drop_snapshot(board)
  local size = redis.call('ZSCORE', snaps, board)
  redis.call('DEL', '{PREFIX}:{{' .. board .. '}}:snap')
  if size then
    redis.call('ZREM', snaps, board)
    redis.call('DECRBY', snap_bytes, size)
  end
end
-- A write will make the board's log and images take board_bytes, and every board's logs and
-- images logged_total (both within their quotas): drop the board's snapshot if it no longer
-- fits beside them, then snapshots, largest first, until the store is within max_total.
-- Returns how many were dropped.
local function make_room(board, board_bytes, max_board, logged_total, max_total)
  local dropped = 0
  local own = tonumber(redis.call('ZSCORE', snaps, board) or '0')
  if own > 0 and board_bytes + own > max_board then
    drop_snapshot(board)
    dropped = 1
  end
  while logged_total + tonumber(redis.call('GET', snap_bytes) or '0') > max_total do
    local largest = redis.call('ZREVRANGE', snaps, 0, 0)
    if #largest == 0 then break end
    drop_snapshot(largest[1])
    dropped = dropped + 1
  end
  return dropped
end
"""


RUN_ID = "local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')\n"
"""Every script reads the server's run id itself: a restarted Redis (new run id) may have lost the
tail of its append-only file, so a board's history minted under another run gets a new epoch."""

ACQUIRE = (
    RUN_ID
    + """
-- KEYS: owner, meta. ARGV: token, lease ms, a fresh epoch.
-- Returns {1, epoch, head} when the caller now owns the board, {0, holder} otherwise.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'run', 'head')
local epoch = meta[1]
if not epoch or meta[2] ~= run then
  epoch = ARGV[3]
  if meta[3] then redis.call('HSET', KEYS[2], 'epoch', epoch, 'run', run) end
end
return {1, epoch, tonumber(meta[3] or '0')}
"""
)

RENEW = """
-- KEYS: owner. ARGV: token, lease ms. 1 while the caller still holds the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

RELEASE = """
-- KEYS: owner. ARGV: token. Deletes the lease only if the caller holds it.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

COMMIT = (
    RUN_ID
    + MAKE_ROOM
    + """
-- Compare-and-append one group of records, fenced by the lease.
-- KEYS: meta, log, owner, boards, total bytes, the board's image bytes (redis_media),
--       SNAPSHOT_KEYS.
-- ARGV: token, expected head, ops in the group, records, max board bytes, max total bytes,
--       max boards, board id, now (ms), channel, epoch.
-- Returns {0, new head, total bytes, boards, snapshots dropped, snapshot bytes} or
-- {code, detail}: -1 fenced (another owner), -2 epoch changed, -3 head moved (detail: the stored
-- head), -4 quota (detail: which).
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return {-1, 'fenced'} end
local meta = redis.call('HMGET', KEYS[1], 'head', 'bytes', 'epoch', 'run')
if meta[3] and (meta[3] ~= ARGV[11] or meta[4] ~= run) then return {-2, 'epoch'} end
local head = tonumber(meta[1] or '0')
if head ~= tonumber(ARGV[2]) then return {-3, tostring(head)} end
local size = string.len(ARGV[4])
local bytes = tonumber(meta[2] or '0') + size
local images = tonumber(redis.call('GET', KEYS[6]) or '0')
if bytes + images > tonumber(ARGV[5]) then
  return {-4, 'board'}
end
local total = tonumber(redis.call('GET', KEYS[5]) or '0') + size
if total > tonumber(ARGV[6]) then return {-4, 'total'} end
if head == 0 and not redis.call('ZSCORE', KEYS[4], ARGV[8]) then
  if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[7]) then return {-4, 'boards'} end
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[8])
end
local dropped = make_room(ARGV[8], bytes + images, tonumber(ARGV[5]), total, tonumber(ARGV[6]))
local last = head + tonumber(ARGV[3])
redis.call('XADD', KEYS[2], '0-' .. last, 'r', ARGV[4])
redis.call('HSET', KEYS[1], 'head', last, 'bytes', bytes, 'epoch', ARGV[11], 'run', run,
  'touched', ARGV[9])
redis.call('SET', KEYS[5], total)
redis.call('PUBLISH', ARGV[10], cmsgpack.pack({'c', ARGV[11], last, ARGV[4]}))
return {0, tostring(last), tostring(total), redis.call('ZCARD', KEYS[4]), dropped,
  redis.call('GET', KEYS[#KEYS]) or '0'}
"""
)

REMOVE = (
    MAKE_ROOM
    + """
-- Remove an archived board, only if nobody owns it and it has not changed since it was read.
-- KEYS: meta, log, owner, boards, total bytes, images, pending images, image bytes,
--       SNAPSHOT_KEYS.
-- ARGV: board id, head when archived.
-- Returns 1 when removed, 0 when it is in use or changed (the caller keeps it).
if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local meta = redis.call('HMGET', KEYS[1], 'head', 'bytes')
if tonumber(meta[1] or '-1') ~= tonumber(ARGV[2]) then return 0 end
local images = tonumber(redis.call('GET', KEYS[8]) or '0')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[6], KEYS[7], KEYS[8])
drop_snapshot(ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DECRBY', KEYS[5], tonumber(meta[2] or '0') + images)
return 1
"""
)
