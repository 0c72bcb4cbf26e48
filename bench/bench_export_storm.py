"""Export storm: many concurrent export requests against one server, while someone draws.

    python bench/bench_export_storm.py [--requests 200] [--strokes 20000] [--baseline REV]
        [--storms distinct identical] [--rounds 5] [--env WHITEBOARD_X=1 ...] [--watch]

A board of ``--strokes`` freehand strokes (25 points each) lies on disk, not loaded. A drawer on
another board sends a stroke every 20 ms and times its echo for the whole run. After a quiet
window, ``--requests`` PNG export requests of the stored board start at once, each on its own
connection: first all identical (what a shared link opened by a room does), then all different
(a fresh scale each, from one address: what a script hammering the server does). The run is
bounded: every request has a 120 s deadline, and the storm ends when all are answered.

For each server (this tree, then ``--baseline``), it prints the answers by status, the distinct
pictures returned (one render each), the time until the last answer, and the drawer's round trips
(p50, p99, max) before and during each storm, pooled over ``--rounds`` storms of each kind (a
fresh picture each round). ``--env`` sets settings of this tree's server only; ``--watch`` runs
the servers under ``bench/loopwatch.py`` and prints the event loop's longest turns and garbage
collections in each storm. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import itertools
import math
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_export import (  # noqa: E402
    BASELINE,
    cpu_pressure_us,
    draw_round_trips,
    start_server,
    unpack_tree,
)
from bench.live import protocol_version  # noqa: E402
from bench.loopwatch import window_report  # noqa: E402

REQUEST_TIMEOUT_S = 120.0
STORMS = ("identical", "distinct")


def stored_board(path: Path, strokes: int, seed: int = 7) -> None:
    from whiteboard.board import Board
    from whiteboard.protocol import Stroke, Style, delta_code
    from whiteboard.store.file import frame_record

    rng = random.Random(seed)
    board = Board(max_strokes=strokes + 1)
    records = []
    for i in range(strokes):
        x, y, angle = rng.uniform(0, 3000), rng.uniform(0, 2000), rng.uniform(0, 2 * math.pi)
        points = []
        for _ in range(25):
            angle += rng.uniform(-0.4, 0.4)
            x, y = x + 3 * math.cos(angle), y + 3 * math.sin(angle)
            points.append((x, y))
        style = Style("pen", f"#{rng.randrange(2**24):06x}", float(rng.choice([2, 4, 8])))
        records.append(board.commit(Stroke(f"s{i}", style, delta_code(points), None), "storm"))
    path.write_bytes(b"".join(frame_record(r) for r in records))


async def http_get(port: int, target: str) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body digest); status 0 if it failed."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            data = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return 0, b""
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, hashlib.sha256(body).digest()


def drawer_process(port: int, version: int, stop: Any, out: Any) -> None:
    """The drawer in a process of its own, so that reading 200 export bodies in the storm's
    process cannot delay it: sends its round trips back through ``out`` when ``stop`` is set."""
    marks: list[tuple[float, float]] = []
    asyncio.run(draw_round_trips(port, stop.is_set, marks, version))
    out.send(marks)


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "no round trips"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(ordered)} round trips, p50 {statistics.median(ordered):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"
    )


async def storm_run(
    port: int, requests: int, version: int, storms: list[str], rounds: int
) -> dict[str, list[tuple[float, float]]]:
    """Runs each storm ``rounds`` times (a fresh picture each round), prints what the drawer saw
    in all rounds of each; returns each storm's windows (start, end)."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receiving, sending = context.Pipe(duplex=False)
    drawing = context.Process(target=drawer_process, args=(port, version, stop, sending))
    drawing.start()
    quiet_from = time.perf_counter()
    await asyncio.sleep(5)  # the quiet window
    windows = {"quiet": [(quiet_from, time.perf_counter())]}
    for kind, round_index in itertools.product(storms, range(rounds)):
        first = round_index * requests
        targets = [
            "/b/stored/export.png?scale="
            + (f"{2 - round_index / 100}" if kind == "identical" else f"{1 + (first + i) / 1e5}")
            for i in range(requests)
        ]
        pressure, started = cpu_pressure_us(), time.perf_counter()
        answers = await asyncio.gather(*(http_get(port, t) for t in targets))
        ended = time.perf_counter()
        windows.setdefault(kind, []).append((started, ended))
        statuses = collections.Counter(status for status, _ in answers)
        pictures = len({digest for status, digest in answers if status == 200})
        waited = (cpu_pressure_us() - pressure) / 1e6 / (ended - started)
        print(
            f"  {kind:>9} storm: {dict(sorted(statuses.items()))}, {pictures} distinct "
            f"pictures, last answer after {ended - started:.1f} s, pressure {waited:.2f}",
            flush=True,
        )
        await asyncio.sleep(2)
    stop.set()
    marks = receiving.recv()
    drawing.join(30)
    for name, spans in windows.items():
        during = [(t - start, ms) for start, end in spans for t, ms in marks if start <= t <= end]
        worst = max(during, key=lambda mark: mark[1], default=(0.0, 0.0))
        print(
            f"  drawing, {name:>9}: {summary([ms for _, ms in during])}; the longest began "
            f"{worst[0]:.2f} s into its window"
        )
    return windows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--strokes", type=int, default=20_000)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument(
        "--env", nargs="*", default=[], help="NAME=VALUE for this tree's server (a setting)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="storms of each kind, one by one")
    parser.add_argument("--no-baseline", action="store_true", help="this tree only")
    parser.add_argument(
        "--watch",
        action="store_true",
        help="run the servers under bench/loopwatch.py and say what held their event loop",
    )
    parser.add_argument(
        "--storms", nargs="+", default=list(STORMS), choices=STORMS, help="which storms, in order"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp) / "boards"
        boards.mkdir()
        stored_board(boards / "stored.log", args.strokes)
        trees = {"new": ROOT}
        if not args.no_baseline:
            trees["old"] = unpack_tree(args.baseline, Path(tmp) / "old")
        for code, tree in trees.items():
            print(
                f"{code} ({'this tree' if code == 'new' else args.baseline}): "
                f"{args.requests} requests, board of {args.strokes} strokes on disk",
                flush=True,
            )
            watched = Path(tmp) / f"loop-{code}.json"
            launcher = [str(ROOT / "bench" / "loopwatch.py"), str(watched)] if args.watch else []
            env = dict(item.split("=", 1) for item in args.env) if code == "new" else {}
            server, port = start_server(
                tree, boards, env, launcher=launcher or ("-m", "whiteboard")
            )
            try:
                windows = asyncio.run(
                    storm_run(port, args.requests, protocol_version(tree), args.storms, args.rounds)
                )
            finally:
                server.terminate()
                server.wait(timeout=30)
            if args.watch:
                for name, spans in windows.items():
                    for start, end in spans:
                        print(
                            f"  event loop, {name}:",
                            *window_report(str(watched), start, end, top=3),
                            sep="\n    ",
                        )


if __name__ == "__main__":
    main()
