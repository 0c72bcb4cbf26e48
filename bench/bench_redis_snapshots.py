"""Late join in Redis mode, with and without snapshots: bytes on the wire and time to the last op.

One private ``redis-server`` (AOF, ``appendfsync always``, a Unix socket in a scratch dir) and two
``whiteboard serve --redis`` workers on it: one with the default ``compact_after_ops``, one with
0 (no snapshots: the whole history). The same board (``--strokes`` freehand strokes of
``--points`` points, ``latejoin.build_board``) is drawn on each, the compacting worker's
snapshot is awaited in Redis, then fresh clients join: *warm* (the worker has the board loaded)
and *cold* (the worker restarted: it loads the board from Redis, snapshot and tail or the whole
stream, before the welcome). Run it on a quiet machine; it prints the
CPU pressure seen meanwhile.

    python bench/bench_redis_snapshots.py --strokes 5000 --points 50
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis
from latejoin import build_board, late_join
from procs import REPO, cpu_pressure_us, whiteboard_server

sys.path.insert(0, str(REPO))
from tests.redis_server import RedisServer  # the tests' private redis-server
from whiteboard.store.redis_keys import meta_key
from whiteboard.store.redis_snapshot import snapshot_key

SNAPSHOT_TIMEOUT_S = 120.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=5000)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--joins", type=int, default=3, help="warm and cold joins each")
    parser.add_argument("--base-port", type=int, default=8870, help="ports used: base, base+1")
    parser.add_argument("--core", type=int, default=0, help="the workers' CPU core")
    return parser.parse_args()


async def wait_for_snapshot(url: str, board: str, min_seq: int) -> int:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
    while (seq := int(client.hget(snapshot_key(board), "seq") or 0)) < min_seq:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no snapshot at seq {min_seq} after {SNAPSHOT_TIMEOUT_S} s")
        await asyncio.sleep(0.1)
    client.close()
    return seq


def stored_bytes(url: str, board: str) -> dict:
    """What Redis holds for the board: its records and its snapshot."""
    client = redis.Redis.from_url(url)
    try:
        return {
            "log_bytes": int(client.hget(meta_key(board), "bytes") or 0),
            "snapshot_stored_bytes": client.hstrlen(snapshot_key(board), "data"),
        }
    finally:
        client.close()


async def measure(args: argparse.Namespace, tmp: Path, url: str) -> list[dict]:
    rows = []
    for offset, compact in ((0, None), (1, "0")):
        flags = ["--redis", url] + ([] if compact is None else ["--compact-after-ops", compact])
        label = "snapshots" if compact is None else "no snapshots"
        server = whiteboard_server(
            f"wb-{offset}", args.base_port + offset, tmp / "unused", tmp, args.core, True, flags
        )
        server.start()
        try:
            board = f"late{offset}"
            await build_board(server, board, args.strokes, args.points)
            snapshot_seq = None
            if compact is None:  # the last snapshot comes within 1,000 ops of the head
                snapshot_seq = await wait_for_snapshot(url, board, args.strokes - 1000)
            stored = stored_bytes(url, board)
            warm = [await late_join(server, board) for _ in range(args.joins)]
            cold = []
            for _ in range(args.joins):
                server.restart()
                cold.append(await late_join(server, board))
        finally:
            server.stop()
        for join in warm + cold:
            if join["strokes"] != args.strokes:
                raise RuntimeError(f"{label}: the joiner got {join['strokes']} strokes")
        rows.append(
            {
                "label": label,
                "snapshot_seq": snapshot_seq,
                **stored,
                "wire_bytes": warm[0]["wire_bytes"],
                "warm_ms": statistics.median(j["join_s"] for j in warm) * 1000,
                "cold_ms": statistics.median(j["join_s"] for j in cold) * 1000,
                "cold_welcome_ms": statistics.median(j["welcome_s"] for j in cold) * 1000,
            }
        )
    return rows


def main() -> int:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="wb-redis-snap-") as name:
        tmp = Path(name)
        with RedisServer(tmp / "redis") as redis_server:
            pressure_before = cpu_pressure_us()
            started = time.monotonic()
            rows = asyncio.run(measure(args, tmp, redis_server.url))
            elapsed = time.monotonic() - started
            pressure = (cpu_pressure_us() - pressure_before) / elapsed / 1e6
    points = args.strokes * args.points
    print(f"board: {args.strokes:,} strokes x {args.points} points = {points:,} points")
    print(
        "| worker | late join: wire bytes (per point) | warm join ms | cold join ms (welcome) "
        "| in Redis: records, snapshot bytes |"
    )
    print("|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['label']} (snapshot at {row['snapshot_seq']}) | {row['wire_bytes']:,} "
            f"({row['wire_bytes'] / points:.2f}) | {row['warm_ms']:.0f} | "
            f"{row['cold_ms']:.0f} ({row['cold_welcome_ms']:.0f}) | "
            f"{row['log_bytes']:,}, {row['snapshot_stored_bytes']:,} |"
        )
    print(f"CPU pressure (some, share of time stalled) during the run: {pressure:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
