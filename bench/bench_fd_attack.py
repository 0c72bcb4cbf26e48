"""One client creates many boards on a server with few file descriptors (issue 12, item 1).

``whiteboard serve`` (from ``--repo``, default this tree: pass an export of an older commit for a
before/after) runs with ``RLIMIT_NOFILE`` set to ``--max-open-files`` (soft and hard), its output
in a file. A victim board is open and written first. Then one client creates ``--boards`` boards
with one stroke each, ``--at-once`` connections at a time; meanwhile and afterwards other boards
are written for the first time. Bounded in count and time.

    python bench/bench_fd_attack.py
    python bench/bench_fd_attack.py --repo <a checkout of the older commit> --server-args=""
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from whiteboard.protocol import encode_hello

REPO = Path(__file__).resolve().parent.parent


def stroke(op_id: str) -> bytes:
    return msgpack.packb(
        {
            "type": "stroke",
            "id": op_id,
            "tool": "pen",
            "color": "#000000",
            "width": 3,
            "pts": [40, 40, 4, 4],
        }
    )


async def draw(url: str, client: str, op_id: str, timeout_s: float = 30) -> str:
    """Open a board, draw a stroke, wait for it: "ok", or how it failed."""
    try:
        async with asyncio.timeout(timeout_s):
            async with websockets.connect(url) as ws:
                await ws.send(encode_hello(client, "bench", "#000000", None))
                await ws.send(stroke(op_id))
                async for frame in ws:
                    message = msgpack.unpackb(frame)
                    for op in message.get("ops", [message]):
                        if op.get("id") == op_id:
                            return "ok" if op.get("type") == "stroke" else f"error {op.get('code')}"
        return "closed"
    except websockets.ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else 1006}"
    except websockets.InvalidStatus as exc:
        return f"http {exc.response.status_code}"
    except (OSError, TimeoutError) as exc:
        return type(exc).__name__


async def attack(base: str, boards: int, at_once: int) -> tuple[dict[str, int], list[str]]:
    outcomes: dict[str, int] = {}
    others: list[str] = []
    for start in range(0, boards, at_once):
        wave = [
            draw(f"{base}/b/atk-{n}/ws", f"attacker-{n:05d}", f"s{n}")
            for n in range(start, min(start + at_once, boards))
        ]
        wave.append(draw(f"{base}/b/other-{start}/ws", "someone-else", f"o{start}"))
        *results, other = await asyncio.gather(*wave)
        others.append(other)
        for result in results:
            outcomes[result] = outcomes.get(result, 0) + 1
    return outcomes, others


def wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--boards", type=int, default=1500)
    parser.add_argument("--at-once", type=int, default=250)
    parser.add_argument("--max-open-files", type=int, default=1024)
    parser.add_argument("--port", type=int, default=8890)
    parser.add_argument(
        "--server-args",
        default="--new-boards-per-client-per-hour 100000",
        help="extra flags for whiteboard serve (the default lifts the "
        "per-address cap, since every client here is 127.0.0.1)",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * args.at_once + 256)), hard))
    limit = args.max_open_files
    with tempfile.TemporaryDirectory() as tmp:
        boards, output = Path(tmp) / "boards", Path(tmp) / "server.log"
        with output.open("wb") as sink:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "whiteboard",
                    "serve",
                    "--port",
                    str(args.port),
                    "--boards-dir",
                    str(boards),
                    *shlex.split(args.server_args),
                ],
                cwd=args.repo,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(args.repo)},
                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)),
            )
        try:
            wait_for_port(args.port)
            base = f"ws://127.0.0.1:{args.port}"
            victim = await draw(f"{base}/b/victim/ws", "victim", "v1")
            started = time.monotonic()
            outcomes, others = await attack(base, args.boards, args.at_once)
            seconds = time.monotonic() - started
            after = await draw(f"{base}/b/after-the-attack/ws", "someone-else", "a1")
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log = output.read_bytes()
        created = len(list(boards.glob("atk-*.log")))
    print(
        f"server from {args.repo}, RLIMIT_NOFILE {limit}, {args.boards} boards "
        f"{args.at_once} at a time, {seconds:.1f} s"
    )
    print(f"victim before: {victim}; attacker outcomes: {outcomes}; boards created: {created}")
    failed_others = [o for o in others if o != "ok"]
    print(
        f"other boards written during the attack: {len(others) - len(failed_others)} of "
        f"{len(others)} ok {failed_others[:5]}; a new board after it: {after}"
    )
    print(
        f"server log: {len(log):,} bytes, {len(log.splitlines()):,} lines, "
        f"{log.count(b'Too many open files'):,} 'Too many open files', "
        f"{log.count(b'log write failed'):,} 'log write failed'"
    )


if __name__ == "__main__":
    asyncio.run(main())
