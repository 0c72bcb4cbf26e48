"""What one big erase costs the server beside what the work budget charges for it in advance.

The CPU attack's heaviest single op is an erase of 10,000 strokes of a 100,000-stroke board: it is
one op, so it cannot be sliced, and the budget (``server/budget.py``) charges it before it runs:
the frame's bytes for decoding (``FRAME_BYTES_PER_UNIT``) and ``Board.work_units`` for applying
it (a unit is an estimated µs). This times, in one process with the tree's own code, the steps
the receive loop takes for such a frame (``frame_maps`` and ``decode_or_error``: decoding;
``Board.commit``: applying, i.e. ``BoardHub.handle``'s work for it), and an undo and redo of one,
and an erase of 10,000 ids the board does not hold, each beside its charge.

Then, in a real server (``whiteboard serve`` from ``--repo`` under ``bench/loopwatch.py``, the
work budget lifted so nothing waits for it), the same erases sent one frame at a time, 0.3 s
apart: for each, the event loop's longest turn between sending it and its echo (the receive
loop's step: the frame's WebSocket parsing, decoding and applying it) and the flush that sends
it out. ``--no-server`` skips this part.

    python bench/bench_erase_cost.py --repo TREE --erases 8

Prints tables (median and max over ``--erases`` of each, in ms, and the charge in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import websockets
from bench_cpu_attack import build_log, pack, wait_for_port
from procs import hello_for

REPO = Path(__file__).resolve().parent.parent
ERASE_GAP_S = 0.3
ECHO_TIMEOUT_S = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="tree whose code to time")
    parser.add_argument("--strokes", type=int, default=100_000)
    parser.add_argument("--erase-ids", type=int, default=10_000)
    parser.add_argument("--erases", type=int, default=8, help="of each kind (<= strokes/ids)")
    parser.add_argument("--no-server", action="store_true")
    parser.add_argument("--port", type=int, default=8869)
    return parser.parse_args()


async def erase_echoes(url: str, repo: Path, frames: list[bytes]) -> list[tuple[float, float]]:
    """Send each frame (one erase), wait for its echo; when each was sent and echoed."""
    windows = []
    async with websockets.connect(url, max_size=None, open_timeout=60) as ws:
        await ws.send(hello_for(repo, "eraser-client-0001", "eraser"))
        await asyncio.wait_for(ws.recv(), 60)  # the welcome: the board is loaded
        for k, frame in enumerate(frames):
            await asyncio.sleep(ERASE_GAP_S)
            sent = time.perf_counter()
            await ws.send(frame)
            async with asyncio.timeout(ECHO_TIMEOUT_S):
                while True:
                    message = msgpack.unpackb(await ws.recv(), raw=False)
                    ops = message.get("ops", [message]) if isinstance(message, dict) else []
                    if any(isinstance(op, dict) and op.get("id") == f"erase-{k}" for op in ops):
                        break
            windows.append((sent, time.perf_counter()))
    return windows


def server_holds(args: argparse.Namespace) -> list[tuple[float, float, float, str]]:
    """Per erase: the longest event-loop turn between its sending and its echo (ms, on CPU ms),
    the sum of the long turns in that span (ms), and what the longest turn ran."""
    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory(prefix="wb-erase-") as tmp:
        boards, watch = Path(tmp) / "boards", Path(tmp) / "loop.json"
        boards.mkdir()
        (boards / "big.log").write_bytes(build_log(args.strokes, cleared=False))
        command = [sys.executable, str(REPO / "bench" / "loopwatch.py"), str(watch), "serve"]
        command += ["--port", str(args.port), "--boards-dir", str(boards)]
        command += ["--max-work-ms-per-second", "1000000"]
        server = subprocess.Popen(
            command,
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        try:
            wait_for_port(args.port)
            n = args.erase_ids
            frames = []
            for k in range(args.erases):
                ids = [f"s{i}" for i in range(k * n, (k + 1) * n)]
                frames.append(pack([{"type": "erase", "id": f"erase-{k}", "ids": ids}]))
            url = f"ws://127.0.0.1:{args.port}/b/big/ws"
            windows = asyncio.run(erase_echoes(url, repo, frames))
        finally:
            server.terminate()
            server.wait(timeout=30)
        turns = json.loads(watch.read_text())["turns"]
    holds = []
    for sent, echoed in windows:
        inside = [t for t in turns if sent - 0.001 <= t["at"] <= echoed]
        if not inside:
            holds.append((0.0, 0.0, 0.0, "no turn over the watch's threshold"))
            continue
        longest = max(inside, key=lambda t: t["ms"])
        what = "; ".join(f"{ms} {name}" for ms, name in longest["slowest"][:2])
        holds.append((longest["ms"], longest["cpu_ms"], sum(t["ms"] for t in inside), what))
    return holds


def main() -> int:
    args = parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from whiteboard import protocol
    from whiteboard.board import Board, NothingToDo
    from whiteboard.protocol import Stroke, Style
    from whiteboard.server import budget
    from whiteboard.settings import Settings

    limits = Settings().limits
    board = Board(max_strokes=args.strokes + 10)
    pen = Style("pen", "#000000", 2.0)
    for i in range(args.strokes):  # as bench_cpu_attack.py builds its board
        board.commit(Stroke(f"s{i}", pen, (i % 1000, i // 1000, 4, 4), None), "owner")
    n = args.erase_ids
    assert args.erases * n <= args.strokes, "--erases x --erase-ids must fit in --strokes"
    rows: dict[str, list[tuple[float, float, int]]] = {}

    def run(kind: str, op: dict) -> None:
        frame = msgpack.packb({"type": "batch", "ops": [op]})
        started = time.perf_counter()
        (obj,) = protocol.frame_maps(frame, limits)
        message = protocol.decode_or_error(obj, limits)
        decoded = time.perf_counter()
        assert not isinstance(message, Exception), message
        units = board.work_units(message, "attacker")
        applied_at = time.perf_counter()
        try:
            board.commit(message, "attacker", None)
        except NothingToDo:  # answered with an error: timed up to the answer all the same
            pass
        applied = time.perf_counter()
        charge = len(frame) // budget.FRAME_BYTES_PER_UNIT + units
        rows.setdefault(kind, []).append((decoded - started, applied - applied_at, charge))

    gc.collect()
    for k in range(args.erases):
        ids = [f"s{i}" for i in range(k * n, (k + 1) * n)]
        run("erase of strokes", {"type": "erase", "id": f"erase-{k}", "ids": ids})
        run("undo of it", {"type": "undo", "id": f"undo-{k}"})
        run("redo of it", {"type": "redo", "id": f"redo-{k}"})
        missing = [f"missing-{k}-{i}" for i in range(n)]
        run("erase of ids not on the board", {"type": "erase", "id": f"none-{k}", "ids": missing})

    print(f"board of {args.strokes:,} strokes; ops of {n:,} ids; {args.erases} of each")
    print("| op | decode ms median / max | apply ms median / max | charged ms (bytes + estimate) |")
    print("|---|---:|---:|---:|")
    for kind, timed in rows.items():
        decode = [d * 1000 for d, _, _ in timed]
        apply = [a * 1000 for _, a, _ in timed]
        charge = statistics.median(c for _, _, c in timed) / 1000
        print(
            f"| {kind} | {statistics.median(decode):.1f} / {max(decode):.1f} | "
            f"{statistics.median(apply):.1f} / {max(apply):.1f} | {charge:.1f} |"
        )
    if args.no_server:
        return 0
    print(f"\nin the server: {args.erases} erases of {n:,} strokes, one a frame")
    print("| erase | longest turn ms (on CPU) | long turns in all ms | what the longest ran |")
    print("|---|---:|---:|---|")
    for k, (ms, cpu_ms, all_ms, what) in enumerate(server_holds(args)):
        print(f"| {k} | {ms:.1f} ({cpu_ms:.1f}) | {all_ms:.1f} | {what} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
