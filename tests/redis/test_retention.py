"""Idle boards in Redis: `whiteboard redis expire` archives them byte-exact, then removes them.

Boards never expire by default; with a retention in days, a board without a commit for longer is
written to the boards directory first, and removed from Redis only if no worker holds it and it
did not change in between: an archive is never the only thing lost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.client import pen_stroke
from tests.redis.cluster import LEASE_MS, RawClient, Workers
from tests.redis.test_elements import fetch
from whiteboard.store.media import existing_media_directory
from whiteboard.store.redis_keys import BOARDS_KEY, TOTAL_BYTES_KEY, meta_key, owner_key
from whiteboard.store.redis_media import media_bytes_key, media_key
from whiteboard.store.redis_transfer import export_board
from whiteboard.store.redis_views import RedisViewTokens
from whiteboard.store.views import FileViewTokens

DAY_MS = 86_400_000
PICTURE = "ab" * 32 + ".png"
REDIS_CLI = (sys.executable, "-m", "whiteboard", "redis")


def expire(workers: Workers, archive: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REDIS_CLI, "expire", "--redis", workers.redis.url, "--boards-dir", str(archive), *flags],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_idle_boards_are_archived_then_removed_and_busy_ones_stay(
    workers: Workers, tmp_path: Path
) -> None:
    worker = workers.start()
    for board in ("idle", "recent", "held"):
        client = await RawClient.connect(worker.ws_url, board, f"writer-{board}")
        await client.send(pen_stroke(f"{board}1"), pen_stroke(f"{board}2"))
        await client.wait_for_seq(2)
        if board == "idle":  # an image its log names, and an upload nothing names
            await client.send(
                {"type": "image", "id": "i1", "src": PICTURE, "x": 0, "y": 0, "w": 4, "h": 3}
            )
            await client.wait_for_seq(3)
        await client.close()
    worker.kill()  # its leases lapse; only "held" is taken again below
    redis = workers.client()
    deadline = time.monotonic() + 10 * LEASE_MS / 1000
    while await redis.exists(*(owner_key(board) for board in ("idle", "recent", "held"))):
        assert time.monotonic() < deadline, "the killed worker's leases never lapsed"
        await asyncio.sleep(0.05)
    long_ago = int(time.time() * 1000) - 40 * DAY_MS
    for board in ("idle", "held"):
        await redis.hset(meta_key(board), "touched", long_ago)
    await redis.set(owner_key("held"), "another-worker", px=60_000)
    await redis.hset(media_key("idle"), PICTURE, b"picture bytes")
    await redis.hset(media_key("idle"), "cd" * 32 + ".png", b"nobody placed it")
    idle_log = await export_board(redis, "idle")
    view_token = await RedisViewTokens(redis).token_for("idle")  # a view link handed out
    total_before = int(await redis.get(TOTAL_BYTES_KEY))

    archive = tmp_path / "archive"
    never = expire(workers, archive)
    assert never.returncode == 2 and "never expire" in never.stderr

    done = expire(workers, archive, "--redis-retention-days", "30")
    assert done.returncode == 0, done.stderr
    assert "expired idle" in done.stdout and "kept held" in done.stdout
    assert (archive / "idle.log").read_bytes() == idle_log
    archived = existing_media_directory(archive, "idle")  # as the file store keeps images
    assert archived is not None and sorted(p.name for p in archived.iterdir()) == [PICTURE, "board"]
    assert (archived / PICTURE).read_bytes() == b"picture bytes"
    assert await FileViewTokens(archive, fsync=False).board_for(view_token) == "idle"
    assert await redis.exists(media_key("idle")) == 0
    assert not (archive / "held.log").exists() and not (archive / "recent.log").exists()
    assert await redis.exists(meta_key("idle")) == 0
    assert await redis.zscore(BOARDS_KEY, "idle") is None
    assert int(await redis.get(TOTAL_BYTES_KEY)) == total_before - len(idle_log)
    assert await redis.zscore(BOARDS_KEY, "held") is not None
    assert await redis.zscore(BOARDS_KEY, "recent") is not None

    # The archive is the board: importing it back gives the same log.
    back = subprocess.run(
        [*REDIS_CLI, "import", "--redis", workers.redis.url, "--boards-dir", str(archive), "idle"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert back.returncode == 0, back.stderr
    assert await export_board(redis, "idle") == idle_log
    assert await redis.hgetall(media_key("idle")) == {PICTURE.encode(): b"picture bytes"}
    assert int(await redis.get(media_bytes_key("idle"))) == len(b"picture bytes")
    await redis.aclose()
    # Any worker serves the imported image under the board's media key.
    other = workers.start()
    client = await RawClient.connect(other.ws_url, "idle", "viewer")
    assert fetch(other.http_url + client.welcome["media"] + PICTURE) == b"picture bytes"
    await client.close()
