"""Opening a big board while another board is drawn on (issue 12, item 6).

A log of ``--megabytes`` (default 72.5 MB, over the 64 MiB cap: a log restored from elsewhere, or
the cap lowered) of ``--points``-point strokes is written, and for each tree of ``--trees``
(default this one: pass exports of older commits for a before/after) ``whiteboard serve`` starts
on it. A helper process (so that the client's own work never delays it) draws on board "live",
one stroke every 20 ms, each timed until its echo, and times ``GET /healthz`` every 10 ms on the
same server; after a quiet second, one client opens the big board (time to its welcome, then to
the whole replay). Prints, for the quiet second and for the load: the live round trips and
``/healthz`` (wall clock, and less the time the server and the probe waited for a CPU), RSS, and
the CPU pressure over the window (the share of time some task waited for a CPU; the machine is
shared). ``--export`` also asks for the big board's PNG afterwards.

``--server-args`` runs each tree once per value, with those flags (e.g. other
``--load-slice-ms``).

``--watch`` runs each server under ``bench/loopwatch.py`` and prints what held its event loop
during the load and after it, and during the slowest round trips (``LOOPWATCH_ALL=1``: every
callback and ``select`` in their span). ``--boards-in`` a tmpfs keeps the disk's ``fsync``
latency out of the round trips. The log is built once and kept in the temporary directory.

``--snapshot``: the board has a snapshot (protocol 7) covering all but the last ``--tail``
strokes, made by the tree's own server beforehand; the load is then the snapshot and the tail.

    python bench/bench_big_log.py --trees .,<a checkout of the older commit>
    python bench/bench_big_log.py --snapshot
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cpu_attack import percentile
from bench_export import draw_round_trips
from live import protocol_version
from loopwatch import window_report
from procs import cpu_pressure_us, hello_for, rss_bytes, stop_process

from tests.integration.healthz_probe import probe_healthz
from tests.serving import free_port, wait_for_port
from whiteboard.board import Board
from whiteboard.protocol import Stroke, Style
from whiteboard.store.records import frame_record

REPO = Path(__file__).resolve().parent.parent
MB = 1e6
QUIET_S = 1.0  # live drawing measured before the big board is opened: the reference
SNAPSHOT_TIMEOUT_S = 300.0
WATCHED_STOP_S = 60.0


def cached_log(megabytes: float, points: int) -> list[bytes]:
    """:func:`build_log`, kept in the temporary directory between runs: building it takes a
    minute of CPU, which a ``quiet`` run (others' tests held off) should not spend."""
    cache = Path(tempfile.gettempdir()) / f"whiteboard-big-log-{megabytes:g}MB-{points}.msgpack"
    if cache.exists():
        return msgpack.unpackb(cache.read_bytes())
    records = build_log(megabytes, points)
    partial = cache.with_suffix(f".{os.getpid()}")
    partial.write_bytes(msgpack.packb(records))
    partial.replace(cache)
    return records


def build_log(megabytes: float, points: int) -> list[bytes]:
    """The framed records of a log of about ``megabytes`` MB of ``points``-point strokes."""
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
    return records


async def open_board(tree: Path, url: str, timeout_s: float) -> tuple[float, float, int, str]:
    """Seconds to the welcome and to the whole replay, ops (or snapshot elements) received, and
    any error seen."""
    started = time.monotonic()
    welcome_s, received, head, error = -1.0, 0, None, ""
    async with asyncio.timeout(timeout_s):
        async with websockets.connect(url, max_size=None, open_timeout=timeout_s) as ws:
            await ws.send(hello_for(tree, "big-log-reader", "reader"))
            async for frame in ws:
                message = msgpack.unpackb(frame)
                for op in message.get("ops", [message]):
                    kind = op.get("type")
                    if kind == "welcome":
                        welcome_s, head = time.monotonic() - started, op.get("seq")
                    elif kind == "error":
                        error = f"{op.get('code')}: {op.get('message')}"
                    elif kind == "snapshot":
                        received = op["seq"] if op.get("last") else received
                    elif "seq" in op:
                        received = max(received, op["seq"])
                if head is not None and received >= head:
                    break
    return welcome_s, time.monotonic() - started, received, error


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


def helper(port: int, version: int, server_pid: int, stop: float) -> None:
    """The helper process: live drawing on board "live" and a /healthz probe until ``stop``;
    prints {"live": [[sent, ms]...], "healthz": [[sent, wall ms, caused ms]...]}."""
    sent: list[float] = []
    latencies: list[tuple[float, float]] = []
    prober = threading.Thread(
        target=lambda: latencies.extend(probe_healthz(port, server_pid, stop, sent))
    )
    prober.start()
    live: list[tuple[float, float]] = []
    asyncio.run(draw_round_trips(port, lambda: time.monotonic() >= stop, live, version))
    prober.join()
    healthz = [(at, wall, caused) for at, (wall, caused) in zip(sent, latencies, strict=True)]
    print(json.dumps({"live": live, "healthz": healthz}))


def start_server(
    tree: Path, boards: Path, port: int, *flags: str, watch: Path | None = None
) -> subprocess.Popen:
    launcher = [str(REPO / "bench" / "loopwatch.py"), str(watch)] if watch else ["-m", "whiteboard"]
    command = [sys.executable, *launcher, "serve", "--port", str(port), *flags]
    server = subprocess.Popen(
        [*command, "--boards-dir", str(boards)],
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    wait_for_port(port)
    return server


async def make_snapshot(tree: Path, boards: Path, tail: list[bytes], timeout_s: float) -> None:
    """Let the tree's server snapshot the board (it compacts a board loaded far past its last
    snapshot; --compact-after-ops 100 so that small logs get one too; a board cap that leaves the
    snapshot room beside a log over the default one), then append ``tail`` to the log, as ops
    written after the snapshot."""
    port = free_port()
    room = ["--max-board-bytes", str(2**40)]
    server = start_server(tree, boards, port, "--compact-after-ops", "100", *room)
    try:
        await open_board(tree, f"ws://127.0.0.1:{port}/b/big/ws", timeout_s)
        deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
        while not (boards / "big.snap").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("no snapshot written")
            await asyncio.sleep(0.5)
    finally:
        stop_process(server)
    with open(boards / "big.log", "ab") as log:
        log.write(b"".join(tail))


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {percentile(values, 0.5):.1f} / p99 {percentile(values, 0.99):.1f} / "
        f"max {max(values):.1f} ms ({len(values)})"
    )


async def measure(
    tree: Path, records: list[bytes], args: argparse.Namespace, flags: list[str]
) -> None:
    with tempfile.TemporaryDirectory(dir=args.boards_in) as tmp:
        boards = Path(tmp) / "boards"
        boards.mkdir()
        tail = records[len(records) - args.tail :] if args.snapshot else []
        (boards / "big.log").write_bytes(b"".join(records[: len(records) - len(tail)]))
        if args.snapshot:
            await make_snapshot(tree, boards, tail, args.timeout_s)
        snapped_before = mtime_ns(boards / "big.snap")
        port = free_port()
        watched = Path(tmp) / "loop.json" if args.watch else None
        server = start_server(tree, boards, port, *flags, watch=watched)
        try:
            rss_before = rss_bytes(server.pid)
            start = time.monotonic()
            stop = start + 0.5 + QUIET_S + args.window_s
            pressure_before = cpu_pressure_us()
            helping = subprocess.Popen(
                [sys.executable, __file__, "--helper", str(port), str(protocol_version(tree)),
                 str(server.pid), str(stop)],
                stdout=subprocess.PIPE,
                cwd=REPO,
            )  # fmt: skip
            await asyncio.sleep(0.5 + QUIET_S)
            opened = time.monotonic()
            url = f"ws://127.0.0.1:{port}/b/big/ws"
            welcome_s, replay_s, received, error = await open_board(tree, url, args.timeout_s)
            loaded = time.monotonic()
            rss_loaded = rss_bytes(server.pid)
            snapped = await snapshot_written(boards / "big.snap", snapped_before, stop)
            samples = json.loads(helping.communicate(timeout=args.window_s + 60)[0])
            window_s = time.monotonic() - start
            pressure = (cpu_pressure_us() - pressure_before) / 1e6 / window_s
            exported = ""
            if args.export:
                exported = export(f"http://127.0.0.1:{port}/b/big/export.png", args.timeout_s)
        finally:
            if watched:  # its record is written at exit: give a shutdown behind a compaction time
                server.terminate()
                server.wait(WATCHED_STOP_S)
            stop_process(server)
        watch_lines = []
        if watched:
            live = samples["live"]
            watch_lines = [
                "  event loop during the load:",
                *slow_trips_report(watched, live, opened, loaded),
                "  event loop after the load:",
                *slow_trips_report(watched, live, loaded, stop, top=3),
            ]
    quiet = [ms for sent, ms in samples["live"] if start + 0.5 <= sent < opened]
    during = [ms for sent, ms in samples["live"] if opened <= sent < loaded]
    after = [ms for sent, ms in samples["live"] if loaded <= sent]
    healthz = [
        (wall, caused) for sent, wall, caused in samples["healthz"] if opened <= sent < loaded
    ]
    print(f"tree {tree}{' ' + ' '.join(flags) if flags else ''}: "
          f"log {sum(map(len, records)) / MB:.1f} MB, {len(records):,} strokes"
          f"{f', snapshot + {len(tail):,} strokes of tail' if args.snapshot else ''}")  # fmt: skip
    print(f"  open: welcome {welcome_s:.2f} s, whole replay ({received:,}) {replay_s:.2f} s"
          f"{'; ' + error if error else ''}")  # fmt: skip
    print(f"  live round trip, quiet second before: {summary(quiet)}")
    print(f"  live round trip while loading:        {summary(during)}")
    written = f"snapshot written +{snapped - loaded:.2f} s after" if snapped else "no snapshot"
    print(f"  live round trip after the load ({written}): {summary(after)}")
    print(f"  /healthz while loading, wall:         {summary([w for w, _ in healthz])}")
    print(f"  /healthz while loading, less waits:   {summary([c for _, c in healthz])}")
    print(f"  RSS {rss_before / MB:.0f} MB before, {rss_loaded / MB:.0f} MB loaded")
    print(f"  CPU pressure over the {window_s:.1f} s window: {pressure:.3f}")
    if exported:
        print(f"  PNG export: {exported}")
    print(*watch_lines, sep="\n")


def mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


async def snapshot_written(path: Path, before: int | None, stop: float) -> float | None:
    """When the server's compaction replaced the snapshot at ``path`` (None: not by ``stop``)."""
    while time.monotonic() < stop:
        if mtime_ns(path) != before:
            return time.monotonic()
        await asyncio.sleep(0.02)
    return None


def slow_trips_report(
    watched: Path, live: list[list[float]], start: float, end: float, top: int = 6
) -> list[str]:
    """What held the server's event loop from ``start`` to ``end`` (``bench/loopwatch.py``),
    and during each of the ``top`` slowest round trips sent then: its long turns."""
    lines = window_report(str(watched), start, end)
    record = json.loads(watched.read_text())
    turns, every = record["turns"], record.get("every", [])
    during = [(sent, ms) for sent, ms in live if start <= sent < end]
    for sent, ms in sorted(during, key=lambda trip: -trip[1])[:top]:
        inside = [t for t in turns if sent - 0.005 <= t["at"] <= sent + ms / 1000]
        lines.append(
            f"  round trip {ms:.1f} ms at +{sent - start:.2f} s: {len(inside)} long turns, "
            f"{sum(t['ms'] for t in inside):.1f} ms"
        )
        for turn in inside:
            slowest = "; ".join(f"{t} {what}" for t, what in turn["slowest"][:2])
            lines.append(
                f"    +{(turn['at'] - sent) * 1000:.1f} ms: {turn['ms']:.1f} ms "
                f"({turn['cpu_ms']:.1f} on CPU), {slowest}"
            )
        for at, took_ms, what in every:  # LOOPWATCH_ALL=1: every callback and select
            if sent - 0.002 <= at <= sent + ms / 1000:
                lines.append(f"      {(at - sent) * 1000:+.2f} ms {took_ms:.2f} ms {what}")
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trees", default=str(REPO), help="comma-separated source trees")
    parser.add_argument("--megabytes", type=float, default=72.5)
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--window-s", type=float, default=6.0, help="measuring after the open")
    parser.add_argument("--snapshot", action="store_true")
    parser.add_argument("--tail", type=int, default=2000, help="strokes after the snapshot")
    parser.add_argument("--export", action="store_true")
    parser.add_argument(
        "--boards-in",
        help="directory for the boards (a tmpfs: fsync costs nothing, so the disk's own "
        "latency, 40 ms at times on a shared virtual disk, stays out of the round trips)",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="run the servers under bench/loopwatch.py: what held the event loop during the "
        "load and during its slowest round trips",
    )
    parser.add_argument("--timeout-s", type=float, default=150.0)
    parser.add_argument(
        "--server-args",
        action="append",
        help="flags for the measured servers (each tree runs once per --server-args; quote "
        "them: --server-args='--load-slice-ms 1')",
    )
    args = parser.parse_args()
    records = cached_log(args.megabytes, args.points)
    for tree in args.trees.split(","):
        for flags in args.server_args or [""]:
            await measure(Path(tree).resolve(), records, args, shlex.split(flags))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--helper"]:
        port, version, pid, stop = sys.argv[2:6]
        helper(int(port), int(version), int(pid), float(stop))
    else:
        asyncio.run(main())
