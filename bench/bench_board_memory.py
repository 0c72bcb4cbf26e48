"""Memory after many boards come and go (issue 12, item 10): does RSS come back down?

``whiteboard serve`` (from ``--repo``, default this tree: pass an export of an older commit for a
before/after) runs as a child process with a short ``idle_unload_s``. One client draws a stroke
on each of ``--boards`` new boards, ``--at-once`` connections at a time, with ``--points`` points
a stroke; then nobody is connected, every board unloads, and the server's RSS is sampled until it
stops falling. Prints RSS at start, at the peak, and after the unloads. Bounded in count and time.

``--big MB``: each round opens one board of a log of MB megabytes instead (a new one each round,
its whole replay read), then leaves it to unload. ``--server-args`` passes flags, e.g.
``--memory-trim-interval-s 0`` for the server without ``malloc_trim`` after unloads.

    python bench/bench_board_memory.py --boards 10000
    python bench/bench_board_memory.py --repo <a checkout of the older commit>
    python bench/bench_board_memory.py --big 40 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_big_log import build_log, open_board
from bench_fd_attack import draw, wait_for_port
from procs import rss_bytes, stop_process

REPO = Path(__file__).resolve().parent.parent
MB = 1e6


async def create_boards(base: str, boards: int, at_once: int, round_: int) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    for start in range(0, boards, at_once):
        wave = [
            draw(f"{base}/b/mem-{round_}-{n}/ws", f"client-{n:06d}", f"s{n}")
            for n in range(start, min(start + at_once, boards))
        ]
        for result in await asyncio.gather(*wave):
            outcomes[result] = outcomes.get(result, 0) + 1
    return outcomes


def settle(pid: int, wait_s: float, timeout_s: float) -> list[tuple[float, int]]:
    """RSS samples every 0.5 s for ``wait_s``, then until it has not fallen for 3 s."""
    samples, started = [], time.monotonic()
    while time.monotonic() - started < timeout_s:
        samples.append((time.monotonic() - started, rss_bytes(pid)))
        recent = [rss for at, rss in samples if at >= samples[-1][0] - 3]
        if samples[-1][0] >= wait_s and len(recent) > 4 and min(recent) >= recent[0]:
            break
        time.sleep(0.5)
    return samples


def smaps_summary(pid: int) -> str:
    """Resident MB by kind of mapping: the brk heap, big anonymous maps (glibc thread arenas),
    small anonymous maps (Python's 256 KiB arenas), files."""
    kinds: dict[str, int] = {}
    kind = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            name = fields[5] if len(fields) > 5 else ""
            if name == "[heap]":
                kind = "heap"
            elif name:
                kind = "files" if name.startswith("/") else name
            else:
                kind = "anon>=1MB" if end - start >= 1 << 20 else "anon<1MB"
        elif fields[0] == "Rss:":
            kinds[kind] = kinds.get(kind, 0) + int(fields[1])
    return ", ".join(f"{k} {v / 1024:.0f} MB" for k, v in sorted(kinds.items()))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--boards", type=int, default=10_000)
    parser.add_argument("--at-once", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--port", type=int, default=8893)
    parser.add_argument("--idle-unload-s", type=float, default=5.0)
    parser.add_argument("--big", type=float, default=0.0, help="MB of one big board a round")
    parser.add_argument(
        "--server-args",
        default="--new-boards-per-client-per-hour 1000000 --fsync off",
        help="extra flags for whiteboard serve (the default lifts the per-address cap on new "
        "boards, since every client here is 127.0.0.1)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "boards").mkdir()
        if args.big:
            log = b"".join(build_log(args.big, 2000))
            for round_ in range(args.rounds):
                (Path(tmp) / "boards" / f"big-{round_}.log").write_bytes(log)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "whiteboard",
                "serve",
                "--port",
                str(args.port),
                "--boards-dir",
                str(Path(tmp) / "boards"),
                "--idle-unload-s",
                str(args.idle_unload_s),
                *shlex.split(args.server_args),
            ],
            cwd=args.repo,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(args.repo)},
        )
        try:
            wait_for_port(args.port)
            start_rss = rss_bytes(server.pid)
            print("start:", smaps_summary(server.pid), flush=True)
            for round_ in range(args.rounds):
                started = time.monotonic()
                base = f"ws://127.0.0.1:{args.port}"
                if args.big:
                    opened = await open_board(args.repo, f"{base}/b/big-{round_}/ws", 120)
                    outcomes = {f"{opened[2]} ops replayed": 1}
                else:
                    outcomes = await create_boards(base, args.boards, args.at_once, round_)
                seconds = time.monotonic() - started
                peak_rss = rss_bytes(server.pid)
                samples = settle(server.pid, 2 * args.idle_unload_s + 2, 120)
                print(
                    f"round {round_ + 1}: {'one big' if args.big else args.boards} boards in "
                    f"{seconds:.1f} s: {outcomes}; "
                    f"RSS {peak_rss / MB:.0f} MB, then {samples[-1][1] / MB:.0f} MB",
                    flush=True,
                )
            print("after:", smaps_summary(server.pid))
        finally:
            stop_process(server)
    print(f"server from {args.repo}; RSS at start {start_rss / MB:.0f} MB")
    print("last round's samples (s, MB):", [(round(at), round(rss / MB)) for at, rss in samples])


if __name__ == "__main__":
    asyncio.run(main())
