"""Export benchmarks: render time and peak memory by board size, and live latency during an export.

    python bench/bench_export.py render [--points 10000 100000 1000000]
    python bench/bench_export.py live [--points 1000000]

``render`` builds a synthetic board log per size (freehand strokes of 20-200 points, a fifth of
the pens with pressure, a quarter highlighters, on at most 4000 x 3000 units so the picture
stays under the pixel cap at scale 1), then times a PNG export in a fresh subprocess per size,
reporting the phases and the process's peak RSS (``ru_maxrss``).

``live`` runs ``whiteboard serve`` in a subprocess, keeps a drawer sending one stroke every 20 ms
and timing its echo (commit + log append + broadcast back), and compares the round trips without
an export, during exports rendered in the worker process (as shipped), and during exports rendered
in a thread of the server process (what ``asyncio.to_thread`` would do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from whiteboard.board import Board  # noqa: E402
from whiteboard.protocol import Stroke, Style, delta_code, encode_hello  # noqa: E402
from whiteboard.store.file import frame_record  # noqa: E402

COLOURS = ["#1e88e5", "#e53935", "#43a047", "#000000", "#fdd835", "#8e24aa"]


def synthetic_records(points: int, seed: int = 1) -> list[bytes]:
    """A board of about ``points`` points on an area growing with sqrt(points), up to 4000 x 3000
    units (12 MP at scale 1, under the 16 MP cap): bigger boards get denser, not bigger."""
    rng = random.Random(seed)
    side = min(3000.0, 1000 * math.sqrt(points / 10_000))
    width, height = side * 4 / 3, side
    board = Board(max_strokes=10**9)
    records: list[bytes] = []
    total = 0
    while total < points:
        count = rng.randint(20, 200)
        x, y, angle = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0, 2 * math.pi)
        path = []
        for _ in range(count):
            angle += rng.uniform(-0.3, 0.3)
            x = min(width, max(0.0, x + 2.5 * math.cos(angle)))
            y = min(height, max(0.0, y + 2.5 * math.sin(angle)))
            path.append((x, y))
        tool = "highlighter" if rng.random() < 0.25 else "pen"
        pressure = None
        if tool == "pen" and rng.random() < 0.2:
            pressure = tuple(rng.randint(20, 90) for _ in path)
        style = Style(tool, rng.choice(COLOURS), float(rng.choice([2, 3, 6, 12, 30])))
        records.append(board.commit(Stroke(f"s{len(records)}", style, delta_code(path), pressure),
                                    "bench"))
        total += count
    return records


def render_one(log_path: str) -> dict[str, float]:
    """In a fresh process: time the phases of one PNG export at scale 1."""
    import io

    from whiteboard.export.job import load_board
    from whiteboard.export.render import ExportOptions, board_bounds, plan_frame, render_image
    from whiteboard.store.file import read_board_log

    started = time.perf_counter()
    records = read_board_log(Path(log_path))
    board = load_board(records)
    strokes = board.visible_strokes()
    loaded = time.perf_counter()
    frame = plan_frame(board_bounds(strokes), ExportOptions())
    image = render_image(strokes, frame)
    rendered = time.perf_counter()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=6)
    encoded = time.perf_counter()
    return {
        "load_s": loaded - started, "render_s": rendered - loaded, "png_s": encoded - rendered,
        "total_s": encoded - started, "pixels": frame.width * frame.height,
        "size": f"{frame.width}x{frame.height}", "png_bytes": len(buffer.getvalue()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_render(sizes: list[int]) -> None:
    print(f"{'points':>9} {'strokes':>7} {'picture':>10} {'load':>6} {'render':>7} {'png':>6} "
          f"{'total':>6} {'peak RSS':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for points in sizes:
            records = synthetic_records(points)
            path = Path(tmp) / f"b{points}.log"
            path.write_bytes(b"".join(frame_record(r) for r in records))
            out = subprocess.run([sys.executable, __file__, "_render_one", str(path)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            print(f"{points:>9} {len(records):>7} {r['size']:>10} {r['load_s']:>5.2f}s "
                  f"{r['render_s']:>6.2f}s {r['png_s']:>5.2f}s {r['total_s']:>5.2f}s "
                  f"{r['peak_rss_mb']:>7.0f}MB")


# --- live latency ---------------------------------------------------------------------------


def serve_with_thread_exports(argv: list[str]) -> None:
    """``whiteboard serve`` whose exports render in a thread of the server (for comparison)."""
    import concurrent.futures

    from whiteboard import cli, export_http

    pool = concurrent.futures.ThreadPoolExecutor(1)
    export_http.Exporter._executor = lambda self: pool  # type: ignore[method-assign]
    sys.exit(cli.main(argv))


async def measure_round_trips(ws_url: str, board: str, duration_s: float,
                              http_url: str | None, export_board: str) -> tuple[list[float], int]:
    import msgpack
    import websockets

    async with websockets.connect(f"{ws_url}/b/{board}/ws", max_size=None) as ws:
        await ws.send(encode_hello("bench-drawer", "bench", "#000000"))
        await asyncio.wait_for(ws.recv(), 10)
        exports = 0
        stop = time.monotonic() + duration_s
        exporter = None
        if http_url is not None:
            async def export_loop() -> None:
                nonlocal exports
                while time.monotonic() < stop:
                    # a fresh scale each time, so the cache never answers
                    url = f"{http_url}/b/{export_board}/export.png?scale={1 - exports * 0.001}"
                    await asyncio.to_thread(fetch, url)
                    exports += 1
            exporter = asyncio.create_task(export_loop())
        latencies: list[float] = []
        index = 0
        while time.monotonic() < stop:
            op_id = f"live{index}-{os.getpid()}-{int(time.time() * 1000)}"
            sent = time.perf_counter()
            await ws.send(msgpack.packb({"type": "stroke", "id": op_id, "tool": "pen",
                                         "color": "#000000", "width": 3,
                                         "pts": [0, 0, 4, 4, 4, 0]}))
            while True:
                frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 30))
                ops = frame.get("ops", [frame])
                if any(op.get("id") == op_id for op in ops):
                    break
            latencies.append((time.perf_counter() - sent) * 1000)
            index += 1
            await asyncio.sleep(0.02)
        if exporter is not None:
            await exporter
        return latencies, exports


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=300) as response:
        return response.read()


def bench_live(points: int, duration_s: float) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.serving import free_port, wait_for_port

    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp)
        records = synthetic_records(points)
        (boards / "big.log").write_bytes(b"".join(frame_record(r) for r in records))
        for mode in ("process", "thread"):
            port = free_port()
            serve = ["serve", "--port", str(port), "--boards-dir", str(boards), "--fsync", "off"]
            if mode == "process":
                command = [sys.executable, "-m", "whiteboard", *serve]
            else:
                command = [sys.executable, __file__, "_serve_thread_exports", *serve]
            server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
            try:
                wait_for_port(port)
                http_url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
                if mode == "process":
                    idle, _ = asyncio.run(measure_round_trips(ws_url, "live", duration_s, None,
                                                              "big"))
                    report("no export", idle, 0)
                busy, exports = asyncio.run(measure_round_trips(ws_url, "live", duration_s,
                                                                http_url, "big"))
                report(f"exports in a {mode}", busy, exports)
            finally:
                server.terminate()
                server.wait(timeout=30)


def report(label: str, latencies: list[float], exports: int) -> None:
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"{label:>22}: {len(latencies)} round trips, p50 {statistics.median(latencies):.1f} ms, "
          f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms ({exports} exports finished)")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "_render_one":
        print(json.dumps(render_one(sys.argv[2])))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_serve_thread_exports":
        serve_with_thread_exports(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render")
    render.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    live = sub.add_parser("live")
    live.add_argument("--points", type=int, default=1_000_000)
    live.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.command == "render":
        bench_render(args.points)
    else:
        bench_live(args.points, args.seconds)


if __name__ == "__main__":
    main()
