"""A board log bigger than ``max_board_bytes`` is opened and exported (issue 12, item 6).

A log of ``--megabytes`` (default 72.5 MB, over the 64 MiB cap: a log restored from elsewhere, or
the cap lowered) of ``--points``-point strokes is written, ``whiteboard serve`` (from ``--repo``,
default this tree: pass an export of an older commit for a before/after) starts on it, and while
``GET /healthz`` is timed every 10 ms on the same process, one client opens the board (time to
its welcome, then to the whole replay), then asks for its PNG export. Prints the event loop's
longest stall seen by the probe, RSS before and after, and what the export answered, how fast.

    python bench/bench_big_log.py
    python bench/bench_big_log.py --repo /tmp/wb-before
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import msgpack
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_cpu_attack import percentile, probe
from bench_fd_attack import wait_for_port
from procs import hello_for, rss_bytes

from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.store.records import frame_record

REPO = Path(__file__).resolve().parent.parent
MB = 1e6


def build_log(megabytes: float, points: int) -> tuple[bytes, int]:
    """A log of about ``megabytes`` MB of ``points``-point strokes; (bytes, strokes)."""
    board = Board(max_strokes=10**6)
    pen = Style("pen", "#204080", 3.0)
    rng = random.Random(12)
    records, size = [], 0
    while size < megabytes * MB:
        n = len(records)
        deltas = [rng.randint(-6, 6) for _ in range(2 * points - 2)]
        pts = (n % 2000 * 10, n // 2000 * 40, *deltas)
        board.commit(Stroke(f"s{n}", pen, pts, None), "owner")
        records.append(frame_record(board.ops[-1]))
        size += len(records[-1])
    return b"".join(records), len(records)


async def open_board(repo: Path, url: str, timeout_s: float) -> tuple[float, float, int, str]:
    """Seconds to the welcome and to the whole replay, ops replayed, and any error seen."""
    started = time.monotonic()
    welcome_s, ops, head, error = -1.0, 0, None, ""
    async with asyncio.timeout(timeout_s):
        async with websockets.connect(url, max_size=None, open_timeout=timeout_s) as ws:
            await ws.send(hello_for(repo, "big-log-reader", "reader"))
            async for frame in ws:
                message = msgpack.unpackb(frame)
                for op in message.get("ops", [message]):
                    if op.get("type") == "welcome":
                        welcome_s, head = time.monotonic() - started, op.get("seq")
                    elif op.get("type") == "error":
                        error = f"{op.get('code')}: {op.get('message')}"
                    elif "seq" in op:
                        ops += 1
                if head is not None and ops >= head:
                    break
    return welcome_s, time.monotonic() - started, ops, error


def export(url: str, timeout_s: float) -> str:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            body = response.read()
            outcome = f"{response.status}, {len(body) / MB:.1f} MB"
    except urllib.error.HTTPError as error:
        outcome = f"{error.code} {error.read()[:160].decode(errors='replace')!r}"
    except OSError as error:
        outcome = f"{type(error).__name__} {error}"
    return f"{outcome} after {time.monotonic() - started:.2f} s"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--megabytes", type=float, default=72.5)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8896)
    parser.add_argument("--timeout-s", type=float, default=150.0)
    args = parser.parse_args()
    data, strokes = build_log(args.megabytes, args.points)
    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp) / "boards"
        boards.mkdir()
        (boards / "big.log").write_bytes(data)
        command = [sys.executable, "-m", "whiteboard", "serve", "--port", str(args.port)]
        server = subprocess.Popen(
            [*command, "--boards-dir", str(boards)],
            cwd=args.repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(args.repo)},
        )
        try:
            wait_for_port(args.port)
            rss_before = rss_bytes(server.pid)
            latencies: list[float] = []
            done = threading.Event()

            def probe_until_done() -> None:
                while not done.is_set():
                    latencies.extend(probe(args.port, 1.0))

            prober = threading.Thread(target=probe_until_done)
            prober.start()
            base = f"127.0.0.1:{args.port}/b/big"
            opened = await open_board(args.repo, f"ws://{base}/ws", args.timeout_s)
            rss_loaded = rss_bytes(server.pid)
            exported = export(f"http://{base}/export.png", args.timeout_s)
            done.set()
            prober.join()
            rss_after = rss_bytes(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    welcome_s, replay_s, ops, error = opened
    print(f"server from {args.repo}: log {len(data) / MB:.1f} MB, {strokes:,} strokes")
    print(
        f"open: welcome after {welcome_s:.2f} s, {ops:,} ops replayed after {replay_s:.2f} s"
        f"{'; ' + error if error else ''}"
    )
    print(
        f"/healthz during open and export: {len(latencies)} probes, p50 "
        f"{percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"max {max(latencies):.1f} ms"
    )
    print(
        f"RSS {rss_before / MB:.0f} MB before, {rss_loaded / MB:.0f} MB loaded, "
        f"{rss_after / MB:.0f} MB after the export"
    )
    print(f"PNG export: {exported}")


if __name__ == "__main__":
    asyncio.run(main())
