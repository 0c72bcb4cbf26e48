"""An audience joining a big board that is being drawn on: each visitor's page asks for its first
picture (``/b/<id>/view.png``) and joins; the presenter keeps drawing, so every visitor comes at a
new seq. Measures the presenter's round trips (live p99) while it happens, the pictures the
visitors got (status, time, how many seqs behind the board), the export worker's CPU and the
renders, beside another revision's server in the same run.

A board of ``--points`` synthetic points (``bench_export.synthetic_records``) is written as a log
before each server starts; the presenter (a process of its own, so that the audience's replays
in this process cannot delay it) loads it and waits for the first compaction. Then for
``--duration`` s it draws a stroke every ``--stroke-interval-ms`` and times each until its echo,
while ``--joins-per-s`` visitors arrive, each from an address of its own (127.0.0.N, as a hall of
phones: the per-client export limit is per address), alternately at two views (the whole board at
1280x800, and 100%), each asking for the picture and then joining over a WebSocket (the replay is
read and dropped) and staying to the end.

    python bench/bench_audience.py --baseline ee1c65f
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import msgpack
from bench_export import cpu_pressure_us, start_server, unpack_tree, write_log
from hello import hello_frame
from live import protocol_version, stroke_round_trip
from procs import descendants_cpu_s, stop_process, wait_helpers_idle
from wsclient import RawWebSocket

ROOT = Path(__file__).resolve().parent.parent
BOARD = "big"
VIEWS = {  # name: (scale, region) for a 1280 x 800 window at dpr 1 (index.html's request)
    "whole": (0.25, "0,0,5120,3200"),
    "100%": (1.0, "1000,1000,1280,800"),
}
EXPORTS = re.compile(r'^whiteboard_export_seconds_count\{format="png"\} (\S+)', re.M)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="", help="also run this revision's server")
    parser.add_argument("--points", type=int, default=500_000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--joins-per-s", type=float, default=4.0)
    parser.add_argument("--stroke-interval-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=1, help="runs per server, interleaved")
    return parser.parse_args()


def presenter(port: int, version: int, interval_s: float, ready: Any, go: Any, out: Any) -> None:
    """Joins, tells ``ready`` once the board is loaded, waits for ``go`` (its deadline), then
    draws a stroke every ``interval_s``, each timed until its echo; sends the milliseconds."""
    asyncio.run(_present(port, version, interval_s, ready, go, out))


async def _present(
    port: int, version: int, interval_s: float, ready: Any, go: Any, out: Any
) -> None:
    import websockets

    hello = msgpack.unpackb(hello_frame("bench-presenter-0001", "presenter", version=version))
    async with websockets.connect(f"ws://127.0.0.1:{port}/b/{BOARD}/ws", max_size=None) as ws:
        await ws.send(msgpack.packb({**hello, "since": None}))
        while True:  # the welcome, then the replay
            frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "welcome":
                break
        ready.send(True)
        stop_at = go.recv()
        round_trips: list[float] = []
        index = 0
        while time.time() < stop_at:
            op_id = f"talk{index}-{int(time.time() * 1000)}"
            stroke = {"type": "stroke", "id": op_id, "tool": "pen", "color": "#d32f2f",
                      "width": 4, "pts": [index % 400 * 10, 500, 40, 40, 40, -40]}  # fmt: skip
            sent = time.perf_counter()
            round_trips.append(await stroke_round_trip(ws, stroke))
            index += 1
            await asyncio.sleep(max(0.0, interval_s - (time.perf_counter() - sent)))
        out.send(round_trips)


async def visitor(port: int, number: int, view: str, version: int, joined: list) -> dict:
    """Asks for its view's picture from 127.0.0.<number>, then joins and stays."""
    scale, region = VIEWS[view]
    target = f"/b/{BOARD}/view.png?scale={scale}&background=transparent&region={region}"
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(f"127.0.0.{2 + number % 250}", 0)
    )
    writer.write(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    picture_ms = (time.perf_counter() - started) * 1000
    head = data.partition(b"\r\n\r\n")[0].decode("latin-1")
    status = int(head.split(" ", 2)[1])
    seq = re.search(r'(?im)^etag: "(\d+)\.', head)
    welcome: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_message(payload: bytes, arrival_s: float) -> None:
        if not welcome.done():  # the first message is the welcome; the replay is dropped
            welcome.set_result(msgpack.unpackb(payload))

    ws = await RawWebSocket.connect(port, f"/b/{BOARD}/ws", on_message)
    ws.send(hello_frame(f"bench-visitor-{number:04d}", "visitor", version=version))
    seq_joined = (await asyncio.wait_for(welcome, 30))["seq"]
    joined.append(ws)
    return {
        "view": view,
        "status": status,
        "pictureMs": picture_ms,
        "pictureSeq": int(seq[1]) if seq else None,
        "joinedSeq": seq_joined,
    }


def exports_done(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        found = EXPORTS.search(response.read().decode())
    return float(found[1]) if found else 0.0


async def audience(port: int, version: int, duration_s: float, joins_per_s: float) -> list[dict]:
    joined: list[RawWebSocket] = []
    visits = []
    count = int(duration_s * joins_per_s)
    for number in range(count):
        view = list(VIEWS)[number % len(VIEWS)]
        visits.append(asyncio.create_task(visitor(port, number, view, version, joined)))
        await asyncio.sleep(1 / joins_per_s)
    results = await asyncio.gather(*visits, return_exceptions=True)
    for ws in joined:
        await ws.close()
    return [r if isinstance(r, dict) else {"error": repr(r)} for r in results]


def one_run(tree: Path, args: argparse.Namespace, tmp: Path, label: str) -> dict:
    boards = tmp / f"boards-{label}-{time.monotonic_ns()}"
    boards.mkdir()
    write_log(boards / f"{BOARD}.log", args.points)
    server, port = start_server(tree, boards)
    version = protocol_version(tree if (tree / "whiteboard").exists() else ROOT)
    context = multiprocessing.get_context("spawn")
    ready_rx, ready_tx = context.Pipe(False)
    go_rx, go_tx = context.Pipe(False)
    out_rx, out_tx = context.Pipe(False)
    talk = context.Process(
        target=presenter,
        args=(port, version, args.stroke_interval_ms / 1000, ready_tx, go_rx, out_tx),
    )
    talk.start()
    try:
        ready_rx.recv()
        wait_helpers_idle(server.pid)  # the first compaction of the loaded board
        exports0, helpers0 = exports_done(port), descendants_cpu_s(server.pid)
        pressure0, wall0 = cpu_pressure_us(), time.monotonic()
        go_tx.send(time.time() + args.duration + 1.0)
        visits = asyncio.run(audience(port, version, args.duration, args.joins_per_s))
        round_trips = out_rx.recv()
        wall_s = time.monotonic() - wall0
        helpers_s = sum(descendants_cpu_s(server.pid).values()) - sum(helpers0.values())
        exports = exports_done(port) - exports0
        pressure = (cpu_pressure_us() - pressure0) / 1e6 / wall_s
    finally:
        talk.join(30)
        stop_process(server)
    return {
        "label": label, "roundTrips": round_trips, "visits": visits, "helperCpuS": helpers_s,
        "exports": exports, "pressure": pressure, "wallS": wall_s,
    }  # fmt: skip


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def report(run: dict) -> None:
    rt = run["roundTrips"]
    visits = [v for v in run["visits"] if "status" in v]
    errors = len(run["visits"]) - len(visits)
    statuses: dict[int, int] = {}
    for v in visits:
        statuses[v["status"]] = statuses.get(v["status"], 0) + 1
    pictured = [v for v in visits if v["status"] == 200 and v["pictureSeq"] is not None]
    exact = sum(v["pictureSeq"] == v["joinedSeq"] for v in pictured)
    behind = [v["joinedSeq"] - v["pictureSeq"] for v in pictured]
    times = [v["pictureMs"] for v in pictured]
    print(
        f"{run['label']:>20}: presenter round trip p50 {statistics.median(rt):.1f} ms, p99 "
        f"{percentile(rt, 0.99):.1f}, max {max(rt):.1f} ({len(rt)} strokes); visitors "
        f"{len(run['visits'])}: status {dict(sorted(statuses.items()))}, errors {errors}; pictures "
        f"median {statistics.median(times) if times else 0:.0f} ms, "
        f"p90 {percentile(times, 0.9):.0f}"
        f", at the joined seq {exact}/{len(pictured)}, seqs behind median "
        f"{statistics.median(behind) if behind else 0:.0f} max {max(behind, default=0)}; renders "
        f"{run['exports']:.0f}, export+compaction CPU {run['helperCpuS']:.2f} s in "
        f"{run['wallS']:.1f} s; pressure {run['pressure']:.2f}",
        flush=True,
    )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audience-") as name:
        tmp = Path(name)
        trees = {"this tree": ROOT}
        if args.baseline:
            trees[f"baseline {args.baseline}"] = unpack_tree(args.baseline, tmp / "baseline")
        for _ in range(args.rounds):
            for label, tree in trees.items():
                report(one_run(tree, args, tmp, label.replace(" ", "-")))


if __name__ == "__main__":
    sys.exit(main())
