"""Redis mode against the file store, and 1, 2 and 4 workers on one Redis.

Servers (each on core 0 with its Redis; the load generator, this process, on core 1, as in
bench_fanout.py): the file store (one process), ``--redis`` with one worker, and ``--redis
--workers N``; a ``websockets`` relay as the reference of the same run. For each, ``fanout.py``
runs one writer and N viewers on one board, at 1,000 ops/s (``rate``: latency writer->viewer) and
as fast as a window allows (``sat``: op-deliveries/s); then ``talk.py``'s talk: one presenter
at 60 frames/s and ``--talk-viewers`` viewers (latency presenter->viewer, CPU per frame sent).
With several workers the viewers land on every worker (SO_REUSEPORT spreads connections), so ops
cross workers through Redis. CPU is the supervisor's whole process tree plus redis-server, per
op-delivery: on this 2-core machine more workers than cores only measure what coordination costs,
and CPU per delivery is what predicts more cores. Then a board of ``--board-strokes`` x 50
points is drawn through a Redis worker and Redis' memory per point is read from ``INFO memory``.

    python bench/bench_redis.py --quick     # about 2 minutes
    python bench/bench_redis.py             # longer windows

Needs Debian's redis-server. Prints a table and writes bench/results/redis-<time>.json.
Results: docs/performance.md, "Redis mode".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from fanout import FanoutConfig, run_fanout
from latejoin import build_board
from procs import REPO, Server, process_cpu_s, relay_server, whiteboard_server
from talk import TalkConfig, run_talk

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SERVER_CORE = 0
RATE_LIMIT_FLAGS = [
    "--frames-per-second",
    "1000000",
    "--bytes-per-second",
    "1000000000",
    "--max-connections-per-board",
    "4000",
]
REDIS_READY_S = 10.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short windows")
    parser.add_argument("--viewers", type=int, default=50, help="viewers of the board")
    parser.add_argument("--workers", default="1,2,4", help="worker counts in Redis mode")
    parser.add_argument("--board-strokes", type=int, default=2000, help="strokes for the memory")
    parser.add_argument("--talk-viewers", type=int, default=1000, help="talk viewers (0: none)")
    parser.add_argument("--base-port", type=int, default=47300)
    return parser.parse_args()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@dataclass
class RedisProcess:
    port: int
    directory: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = ["taskset", "-c", str(SERVER_CORE), shutil.which("redis-server") or "redis-server"]
        argv += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        argv += ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
        argv += ["--maxmemory-policy", "noeviction"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + REDIS_READY_S
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def flush(self) -> None:
        self.command("FLUSHALL")

    def command(self, *args: str) -> str:
        cli = shutil.which("redis-cli") or "redis-cli"
        return subprocess.run(
            [cli, "-p", str(self.port), *args], capture_output=True, text=True, check=True
        ).stdout

    def used_memory(self) -> int:
        for line in self.command("INFO", "memory").splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":")[1])
        raise RuntimeError("no used_memory in INFO")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class TreeServer(Server):
    """A server whose CPU is its whole process tree (supervisor and workers) plus Redis."""

    redis: RedisProcess | None = None

    def cpu_s(self) -> float:
        total = 0.0
        for pid in [self.pid, *children(self.pid)]:
            try:
                total += process_cpu_s(pid)
            except OSError:
                pass
        if self.redis is not None and self.redis.proc is not None:
            total += process_cpu_s(self.redis.proc.pid)
        return total


def make_servers(args: argparse.Namespace, tmp: Path, redis: RedisProcess) -> list[Server]:
    servers: list[Server] = []
    port = args.base_port
    servers.append(relay_server("relay-websockets", port, tmp, SERVER_CORE))
    port += 1
    file_store = whiteboard_server(
        "file", port, tmp / "file", tmp, SERVER_CORE, True, RATE_LIMIT_FLAGS
    )
    servers.append(file_store)
    for workers in [int(w) for w in args.workers.split(",")]:
        port += 1
        flags = [*RATE_LIMIT_FLAGS, "--redis", redis.url, "--workers", str(workers)]
        base = whiteboard_server(
            f"redis-{workers}w", port, tmp / f"r{workers}", tmp, SERVER_CORE, True, flags
        )
        tree = TreeServer(**{k: getattr(base, k) for k in base.__dataclass_fields__})
        tree.redis = redis
        tree.extra = {"workers": workers}
        servers.append(tree)
    return servers


async def memory_per_point(args: argparse.Namespace, tmp: Path, redis: RedisProcess) -> dict:
    redis.flush()
    before = redis.used_memory()
    server = whiteboard_server(
        "redis-memory",
        args.base_port + 20,
        tmp / "mem",
        tmp,
        SERVER_CORE,
        True,
        [*RATE_LIMIT_FLAGS, "--redis", redis.url],
    )
    server.start()
    try:
        await build_board(server, "memory", args.board_strokes, 50)
    finally:
        server.stop()
    after = redis.used_memory()
    points = args.board_strokes * 50
    stream_bytes = int(redis.command("MEMORY", "USAGE", "wb:{memory}:log", "SAMPLES", "0"))
    meta = redis.command("HGET", "wb:{memory}:meta", "bytes").strip()
    return {
        "strokes": args.board_strokes,
        "points": points,
        "used_memory_delta": after - before,
        "bytes_per_point": (after - before) / points,
        "stream_bytes_per_point": stream_bytes / points,
        "record_bytes_per_point": int(meta) / points,
    }


async def main() -> None:
    args = parse_args()
    duration, warmup = (3.0, 1.0) if args.quick else (10.0, 2.0)
    RESULTS_DIR.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-redis-"))
    redis = RedisProcess(args.base_port + 30, tmp / "redis")
    redis.start()
    results: list[dict] = []
    try:
        for server in make_servers(args, tmp, redis):
            redis.flush()
            server.start()
            try:
                for mode in ("rate", "sat"):
                    config = FanoutConfig(
                        viewers=args.viewers, mode=mode, warmup_s=warmup, duration_s=duration
                    )
                    board = f"bench{mode}{len(results)}"
                    result = await run_fanout(server, config, board, seed=len(results) + 1)
                    result.update(server.extra)
                    results.append(result)
                    print(row(result), flush=True)
                if args.talk_viewers:
                    config = TalkConfig(
                        viewers=args.talk_viewers, warmup_s=warmup, duration_s=duration
                    )
                    result = await run_talk(server, config, f"talk{len(results)}", len(results))
                    result.update(server.extra, mode="talk")
                    results.append(result)
                    print(talk_row(result), flush=True)
            finally:
                server.stop()
        memory = await memory_per_point(args, tmp, redis)
        print(json.dumps(memory), flush=True)
    finally:
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out = RESULTS_DIR / f"redis-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(
        json.dumps(
            {"machine": platform.uname()._asdict(), "runs": results, "memory": memory}, indent=1
        )
    )
    print(f"wrote {out.relative_to(REPO)}")


def talk_row(r: dict) -> str:
    return (
        f"{r['server']:>16} talk viewers={r['viewers']:<4} p50={r['p50_ms']:7.2f} ms "
        f"p99={r['p99_ms']:7.2f} ms frames/s per viewer={r['viewer_frames_per_s']:.1f} "
        f"cpu={r['server_cpu']:.2f} cores cpu/frame={r['server_cpu_us_per_frame']:.2f} us "
        f"lost={r['connections_lost']} pressure={r['cpu_pressure']:.2f} "
        f"closes={r['close_codes'][:3]}"
    )


def row(r: dict) -> str:
    per_delivery_us = (
        r["server_cpu"] * r["window_s"] * 1e6 / max(1, r["op_deliveries_per_s"] * r["window_s"])
    )
    return (
        f"{r['server']:>16} {r['mode']:>4} viewers={r['viewers']:<4} "
        f"deliveries/s={r['op_deliveries_per_s']:>10,.0f} p50={r['p50_ms']:7.2f} ms "
        f"p99={r['p99_ms']:7.2f} ms cpu={r['server_cpu']:.2f} cores "
        f"cpu/delivery={per_delivery_us:.2f} us delivered={r['delivered_fraction']:.3f} "
        f"pressure={r['cpu_pressure']:.2f} closes={r['close_codes'][:3]}"
    )


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
