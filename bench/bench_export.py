"""Export benchmarks: the renderer against an older one in the same run, and live drawing during
exports.

    python bench/bench_export.py render [--points 100000 1000000] [--baseline REV]
        [--formats png svg pdf gif] [--exports 1] [--rounds 1] [--cleared N] [--snapshot]
    python bench/bench_export.py live [--points 1000000] [--seconds 15] [--baseline REV]

``render`` builds a synthetic board log per size (freehand strokes of 20-200 points, a fifth of
the pens with pressure, a quarter highlighters, widths 2-30, on at most 4000 x 3000 units so that
scale 1 stays under the 16 MP cap; ``--cleared N``: after N boards as large drawn and cleared;
``--snapshot``: with the board's snapshot beside the log, which code since 2026-12-01 starts a
picture from), then exports it in every format with this tree's code and
with ``--baseline`` (a git revision, unpacked into a temporary directory), alternating, each run
in a fresh process (``--exports N``: N in a row in each, as a long-running export worker does
them after its first). A run reports its phases (PNG: load the log and board, draw, encode; the
new code's PNG goes through ``run_export`` as the export worker runs it, and its draw and encode
are the slowest band's, drawn and deflated in parallel, "start" how much later the last band
started drawing than the first), its total, the file size, the peak RSS of the process and of
its largest helper, and the CPU pressure during the run (``/proc/pressure/cpu``: the share of
time some task waited for a CPU, i.e. how much other jobs interfered). The new code runs as the
server runs it: band helpers already started (the server keeps them), at nice +10.

``live`` runs ``whiteboard serve`` (new, then the baseline's), keeps a drawer on another board
sending a stroke every 20 ms and timing its echo, and compares round trips without an export and
while a client keeps requesting PNG exports of the big board (a fresh scale each time, so the
cache never answers). The storm of concurrent requests is ``bench_export_storm.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import io
import itertools
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "38d2bd7"
"""The Skia renderer before the exports were made parallel (c0e1bf2 is the last with aggdraw)."""
COLOURS = ["#1e88e5", "#e53935", "#43a047", "#000000", "#fdd835", "#8e24aa"]
FORMATS = ("png", "svg", "pdf", "gif")


def synthetic_records(
    points: int, seed: int = 1, board: Any = None, prefix: str = "s"
) -> list[bytes]:
    """A board of about ``points`` points on an area growing with sqrt(points), up to 4000 x 3000
    units (12 MP at scale 1, under the 16 MP cap): bigger boards get denser, not bigger. With
    ``board``, the strokes (ids ``prefix`` + a number) are drawn on it, after what it holds."""
    from whiteboard.board import Board
    from whiteboard.protocol import Stroke, Style, delta_code

    rng = random.Random(seed)
    side = min(3000.0, 1000 * math.sqrt(points / 10_000))
    width, height = side * 4 / 3, side
    board = Board(max_strokes=10**9) if board is None else board
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
        records.append(
            board.commit(
                Stroke(f"{prefix}{len(records)}", style, delta_code(path), pressure), "bench"
            )
        )
        total += count
    return records


def write_log(path: Path, points: int, cleared: int = 0, snapshot: bool = False) -> int:
    """The log of a board of ``points`` points, after ``cleared`` drawings as large each drawn
    and cleared; with ``snapshot``, the board's snapshot beside it as the server's compaction
    writes it (code that knows snapshots starts an export from it)."""
    from whiteboard.board import Board
    from whiteboard.protocol import Clear
    from whiteboard.store.file import frame_record

    board, records = Board(max_strokes=10**9), []
    for round_ in range(cleared):
        records += synthetic_records(points, seed=round_ + 2, board=board, prefix=f"c{round_}-")
        records.append(board.commit(Clear(f"clear{round_}"), "bench"))
    records += synthetic_records(points, board=board)
    path.write_bytes(b"".join(frame_record(r) for r in records))
    if snapshot:
        from whiteboard.server.compactor import build_snapshot
        from whiteboard.store.file import FileSnapshotSource

        source = FileSnapshotSource(path, path.with_suffix(".snap"), room_bytes=2**62)
        build_snapshot(source, len(records), 10**9, 100, 1 << 20)
    return len(records)


def unpack_tree(revision: str, into: Path) -> Path:
    """The ``whiteboard`` package (and the static files it serves) as at ``revision``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "whiteboard", "static"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def cpu_pressure_us() -> int:
    try:
        return int(Path("/proc/pressure/cpu").read_text().split("total=", 1)[1].split()[0])
    except OSError:
        return 0


# --- one export, in a fresh process (argv: _one TREE LOG FORMAT) -----------------------------


def run_one(log_path: str, kind: str, exports: int = 1) -> list[dict[str, object]]:
    new = (Path(sys.path[0]) / "whiteboard" / "export" / "spec.py").exists()
    os.nice(10)  # as the server's export worker, old and new
    if new:
        from whiteboard.export import raster
        from whiteboard.export.job import EXPORT_NICENESS

        start_helpers = getattr(raster, "helpers", None) or raster._helpers
        start_helpers(1, EXPORT_NICENESS).submit(int).result()  # as the server keeps them
        try:  # the PDF's number table, built once per server process
            from whiteboard.export.pdfcontent import number_table
        except ImportError:  # a revision without it
            number_table = int  # type: ignore[assignment]
        number_table()

    runs = [export_once(log_path, kind, new) for _ in range(exports)]
    if new:
        raster.shutdown_helpers()
        time.sleep(0.2)  # let the helper exit, so RUSAGE_CHILDREN has its peak
    helper_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return [{**run, "helper_rss_mb": helper_rss_mb} for run in runs]


def export_once(log_path: str, kind: str, new: bool) -> dict[str, object]:
    """One export of the log at ``log_path``, timed (``run_one``'s imports done)."""
    if new:
        from whiteboard.export import raster
        from whiteboard.export.frame import ExportOptions
        from whiteboard.export.job import EXPORT_NICENESS, load_board, run_export
        from whiteboard.export.spec import ExportLimits
    else:
        from whiteboard.export.job import load_board, run_export
        from whiteboard.export.render import ExportOptions
    from whiteboard.store.file import read_board_log

    pressure_before, started = cpu_pressure_us(), time.perf_counter()
    phases: dict[str, float] = {}
    timings: dict[str, float] = {}
    if kind == "png" and new and "timings" in inspect.signature(run_export).parameters:
        # as the export worker runs it: run_export, each phase timed apart
        result = run_export(kind, ExportOptions(), path=Path(log_path), timings=timings)
        data, frame = result.data, result.frame
        phases = {
            "load_s": timings["read_s"] + timings["replay_s"] + timings["decode_s"],
            "draw_s": timings["draw_s"],
            "encode_s": timings["encode_s"],
            "band_start_s": timings.get("band_start_s", 0.0),
        }
        size = f"{frame.width}x{frame.height}"
    elif kind == "png":
        records = read_board_log(Path(log_path))
        strokes = load_board(records).visible_strokes()
        loaded = time.perf_counter()
        if new:
            from whiteboard.export.frame import board_bounds, plan_frame

            limits = ExportLimits()
            frame = plan_frame(board_bounds(strokes), ExportOptions(), limits.max_pixels)
        if new and hasattr(raster, "render_png"):  # bands drawn and deflated in parallel
            data = raster.render_png(
                strokes,
                frame,
                processes=limits.processes,
                niceness=EXPORT_NICENESS,
                level=limits.png_compress_level,
            )
            phases = {"load_s": loaded - started, "draw_s": time.perf_counter() - loaded}
        else:
            if new:
                image = raster.render_pixels(
                    strokes, frame, processes=limits.processes, niceness=EXPORT_NICENESS
                )
                save = {"compress_level": limits.png_compress_level, "compress_type": 3}
            else:
                from whiteboard.export.render import board_bounds, plan_frame, render_image

                frame = plan_frame(board_bounds(strokes), ExportOptions())
                image = render_image(strokes, frame)
                save = {"compress_level": 6}
            drawn = time.perf_counter()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", **save)
            data = buffer.getvalue()
            phases = {
                "load_s": loaded - started,
                "draw_s": drawn - loaded,
                "encode_s": time.perf_counter() - drawn,
            }
        size = f"{frame.width}x{frame.height}"
    else:
        records = read_board_log(Path(log_path))
        result = run_export(kind, ExportOptions(), records=records)
        data, size = result.data, ""
    total_s = time.perf_counter() - started
    waited_us = cpu_pressure_us() - pressure_before
    return {
        **phases,
        "total_s": total_s,
        "bytes": len(data),
        "size": size,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pressure": waited_us / 1e6 / total_s,
    }


def bench_render(
    sizes: list[int],
    formats: list[str],
    baselines: list[str],
    exports: int = 1,
    rounds: int = 1,
    cleared: int = 0,
    snapshot: bool = False,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trees = {rev: unpack_tree(rev, Path(tmp) / rev) for rev in baselines}
        trees["new"] = ROOT
        print(f"baselines {baselines}; pressure = share of the run some task waited for a CPU")
        print(
            f"{'points':>9} {'fmt':>4} {'code':>9} {'picture':>10} {'load':>6} {'draw':>6} "
            f"{'encode':>6} {'start':>6} {'total':>6} {'file MB':>8} {'RSS MB':>7} {'helper':>6} "
            f"{'pressure':>8}"
        )
        for points in sizes:
            log = Path(tmp) / f"b{points}.log"
            write_log(log, points, cleared, snapshot)
            for kind, _, code in itertools.product(formats, range(rounds), trees):
                command = [sys.executable, __file__, "_one", str(trees[code]), str(log), kind]
                out = subprocess.run(
                    [*command, str(exports)],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=trees[code],
                )
                for number, line in enumerate(out.stdout.strip().splitlines()[-exports:], 1):
                    r = json.loads(line)
                    phase = "".join(
                        f"{r[k]:>6.2f} " if k in r else f"{'':>6} "
                        for k in ("load_s", "draw_s", "encode_s", "band_start_s")
                    )
                    label = f"{code}#{number}" if exports > 1 else code
                    print(
                        f"{points:>9} {kind:>4} {label:>9} {r['size']:>10} {phase}"
                        f"{r['total_s']:>6.2f} {r['bytes'] / 1e6:>8.2f} {r['rss_mb']:>7.0f} "
                        f"{r['helper_rss_mb']:>6.0f} {r['pressure']:>8.2f}",
                        flush=True,
                    )


# --- live latency ---------------------------------------------------------------------------


async def draw_round_trips(
    port: int, stopped: Callable[[], bool], marks: list[tuple[float, float]], version: int
) -> None:
    """A drawer on board "live" speaking protocol ``version``: one stroke every 20 ms, each
    timed until its echo, appended to ``marks`` as (time sent, milliseconds), until
    ``stopped()``. ``time.perf_counter`` is CLOCK_MONOTONIC, the same clock in every process."""
    import msgpack
    import websockets
    from live import stroke_round_trip

    hello = {"type": "hello", "v": version, "client": f"bench-drawer-{os.getpid()}",
             "name": "bench", "color": "#000000", "since": None}  # fmt: skip
    async with websockets.connect(f"ws://127.0.0.1:{port}/b/live/ws", max_size=None) as ws:
        await ws.send(msgpack.packb(hello))
        await asyncio.wait_for(ws.recv(), 10)
        index = 0
        while not stopped():
            op_id = f"live{index}-{os.getpid()}-{int(time.time() * 1000)}"
            stroke = {"type": "stroke", "id": op_id, "tool": "pen", "color": "#000000",
                      "width": 3, "pts": [0, 0, 4, 4, 4, 0]}  # fmt: skip
            sent = time.perf_counter()
            marks.append((sent, await stroke_round_trip(ws, stroke)))
            index += 1
            await asyncio.sleep(0.02)


async def measure_round_trips(
    port: int, duration_s: float, export: bool, version: int
) -> tuple[list[float], int]:
    exports = 0
    stop = time.monotonic() + duration_s

    async def export_loop() -> None:
        nonlocal exports
        while time.monotonic() < stop:  # a fresh scale each time: the cache never answers
            url = f"http://127.0.0.1:{port}/b/big/export.png?scale={1 - exports * 0.001}"
            await asyncio.to_thread(fetch, url)
            exports += 1

    exporter = asyncio.create_task(export_loop()) if export else None
    marks: list[tuple[float, float]] = []
    await draw_round_trips(port, lambda: time.monotonic() >= stop, marks, version)
    if exporter is not None:
        await exporter
    return [ms for _, ms in marks], exports


def fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=300) as response:
        return response.read()


def start_server(
    tree: Path,
    boards: Path,
    env: dict[str, str] | None = None,
    launcher: Sequence[str] = ("-m", "whiteboard"),
) -> tuple[subprocess.Popen, int]:
    """The server of ``tree`` on a free port; ``launcher`` runs ``whiteboard``'s command line
    (e.g. ``bench/loopwatch.py OUT``, which times the event loop's turns)."""
    sys.path.insert(0, str(ROOT))
    from tests.serving import free_port, wait_for_port

    port = free_port()
    flags = f"--port {port} --fsync off".split()
    server = subprocess.Popen(
        [sys.executable, *launcher, "serve", *flags, "--boards-dir", str(boards)],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    wait_for_port(port)
    return server, port


def bench_live(points: int, duration_s: float, baseline: str, processes: list[int]) -> None:
    from live import protocol_version

    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp) / "boards"
        boards.mkdir()
        write_log(boards / "big.log", points)
        trees = {"new": ROOT, "old": unpack_tree(baseline, Path(tmp) / "old")}
        runs = [("new", n) for n in processes] + [("old", 1)]
        for code, bands in runs:
            env = {"WHITEBOARD_EXPORT_PROCESSES": str(bands)} if code == "new" else {}
            server, port = start_server(trees[code], boards, env)
            try:
                for export in (False, True):
                    before = cpu_pressure_us()
                    latencies, exports = asyncio.run(
                        measure_round_trips(port, duration_s, export, protocol_version(trees[code]))
                    )
                    pressure = (cpu_pressure_us() - before) / 1e6 / duration_s
                    label = f"{code}{f' x{bands}' if code == 'new' else ''}, "
                    report(
                        label + ("exports" if export else "no export"), latencies, exports, pressure
                    )
            finally:
                server.terminate()
                server.wait(timeout=30)


def report(label: str, latencies: list[float], exports: int, pressure: float) -> None:
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"{label:>20}: {len(latencies)} round trips, p50 {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms, {exports} exports, "
        f"pressure {pressure:.2f}",
        flush=True,
    )


def main() -> None:
    if len(sys.argv) > 5 and sys.argv[1] == "_one":
        sys.path.insert(0, sys.argv[2])
        for run in run_one(sys.argv[3], sys.argv[4], int(sys.argv[5])):
            print(json.dumps(run))
        return
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render")
    render.add_argument("--points", type=int, nargs="+", default=[100_000, 1_000_000])
    render.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    render.add_argument(
        "--baseline", nargs="+", default=[BASELINE], help="git revisions to compare, each in turn"
    )
    render.add_argument(
        "--exports", type=int, default=1, help="exports in a row in each fresh process"
    )
    render.add_argument("--rounds", type=int, default=1, help="times each code runs, alternating")
    render.add_argument(
        "--cleared", type=int, default=0, help="drawings as large drawn and cleared before it"
    )
    render.add_argument(
        "--snapshot",
        action="store_true",
        help="write the board's snapshot beside its log, as the server's compaction does",
    )
    live = sub.add_parser("live")
    live.add_argument("--points", type=int, default=1_000_000)
    live.add_argument("--seconds", type=float, default=15.0)
    live.add_argument("--baseline", default=BASELINE)
    live.add_argument(
        "--export-processes",
        type=int,
        nargs="+",
        default=[2, 1],
        help="export_processes of the new server, one run each",
    )
    args = parser.parse_args()
    if args.command == "render":
        bench_render(
            args.points,
            args.formats,
            args.baseline,
            args.exports,
            args.rounds,
            args.cleared,
            args.snapshot,
        )
    else:
        bench_live(args.points, args.seconds, args.baseline, args.export_processes)


if __name__ == "__main__":
    main()
