"""One client burns the server's CPU with the most expensive messages its rate limits allow, while
a probe times ``GET /healthz`` on the same server process (issue 12, item 3).

A board of ``--strokes`` strokes is written as a log file, ``whiteboard serve`` (from ``--repo``,
default this tree: pass an export of an older commit for a before/after) loads it, and the attacker
sends one mix of messages as fast as ``frames_per_second`` and ``bytes_per_second`` (the defaults,
200 frames/s and 2 MiB/s) let it, at 90% of both, for ``--seconds``. When the server closes it
(4005 after too many answers of "nothing to do"), it reconnects and goes on. Bounded in time and
count; the server is a child process on a port from ``--port``.

    python bench/bench_cpu_attack.py --mix all --seconds 10
    python bench/bench_cpu_attack.py --repo <a checkout of the older commit> --mix empty-clear

Mixes: ``empty-clear`` (512 clears of a board whose 100k strokes are all erased), ``clear-undo``
(512 alternating clears and undos of the whole board), ``undo-erase`` (undo/redo of ten 10,000-
stroke erases), ``erase-missing`` (erases of 10,000 ids that are not there, as many as fit a
frame), ``big-strokes`` (three 20,000-point strokes a frame); element ops: ``transform-many``,
``z-many`` and ``moving-many`` (moves, reorders and move previews of 10,000 elements each, as many
as fit a frame), ``undo-transform`` and ``undo-z`` (100 moves or reorders of the same 10,000
strokes, then undo/redo of the last), ``undo-clear-old`` and ``undo-add-old`` (undo/redo of a
clear, or of a paste of 1,000 long notes, pushed out of the undo window: their undo carries the
elements it shows), ``edit-long`` (edits of a 4,000-character note and their undos),
``add-many`` (pastes of 1,000 strokes); ``all`` (each in turn).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from procs import hello_for, process_cpu_s

from tests.serving import listens
from whiteboard.board import Board
from whiteboard.protocol import Clear, Stroke, Style
from whiteboard.store.records import frame_record

REPO = Path(__file__).resolve().parent.parent
FRAMES_PER_SECOND = 200 * 0.9
BYTES_PER_SECOND = 2 * 1024 * 1024 * 0.9
MAX_FRAME_BYTES = 256 * 1024 - 64
PROBE_INTERVAL_S = 0.01
ATTACKER = "attacker-client-0001"
MIXES = (
    "empty-clear",
    "clear-undo",
    "undo-erase",
    "erase-missing",
    "big-strokes",
    "transform-many",
    "z-many",
    "undo-transform",
    "undo-z",
    "undo-clear-old",
    "undo-add-old",
    "edit-long",
    "moving-many",
    "add-many",
)
PILE = 100
UNDO_WINDOW = 100  # snapshot_undo_actions' default


def dot(op_id: str) -> dict:
    return {"type": "stroke", "id": op_id, "tool": "pen", "color": "#000000", "width": 2,
            "pts": [1, 1]}  # fmt: skip


def build_log(strokes: int, cleared: bool) -> bytes:
    board = Board(max_strokes=strokes + 10)
    pen = Style("pen", "#000000", 2.0)
    for i in range(strokes):
        board.commit(Stroke(f"s{i}", pen, (i % 1000, i // 1000, 4, 4), None), "owner")
    if cleared:
        board.commit(Clear("clear-all"), "owner")
    return b"".join(frame_record(op) for op in board.ops)


def pack(ops: list[dict]) -> bytes:
    return msgpack.packb({"type": "batch", "ops": ops})


def undo_redo_forever(counter: Iterator[int]) -> Iterator[bytes]:
    """Frames of 512 undos and redos in turn, endlessly (ids unique through ``counter``)."""
    while True:
        n = next(counter)
        yield pack([{"type": ("undo", "redo")[i % 2], "id": f"u{n}-{i}"} for i in range(512)])


def past_the_undo_window() -> Iterator[bytes]:
    """More dots than the undo window, then as many undos: what came before is out of reach of
    an undo's own stack, so undoing it must carry what it shows."""
    for k in range(0, UNDO_WINDOW + 1, 256):
        yield pack([dot(f"d{k + i}") for i in range(256)])
    for k in range(0, UNDO_WINDOW + 1, 256):
        yield pack([{"type": "undo", "id": f"ud{k + i}"} for i in range(256)])


def frames(mix: str, strokes: int) -> Iterator[bytes]:
    """The attack frames of ``mix``, endlessly (op ids stay unique)."""
    counter = itertools.count()
    if mix in ("empty-clear", "clear-undo"):
        kinds = ["clear"] if mix == "empty-clear" else ["clear", "undo"]
        while True:
            n = next(counter)
            yield pack([{"type": kinds[i % len(kinds)], "id": f"c{n}-{i}"} for i in range(512)])
    if mix == "undo-erase":
        for k in range(10):  # setup: ten erases of 10,000 strokes each, by the attacker
            ids = [f"s{i}" for i in range(k * 10_000, min((k + 1) * 10_000, strokes))]
            yield pack([{"type": "erase", "id": f"big-erase-{k}", "ids": ids}])
        yield from undo_redo_forever(counter)
    if mix == "erase-missing":
        while True:
            n = next(counter)
            ops, size = [], 64
            while True:
                op = {
                    "type": "erase",
                    "id": f"e{n}-{len(ops)}",
                    "ids": [str(i) for i in range(10_000)],
                }
                op_bytes = len(msgpack.packb(op))
                if size + op_bytes > MAX_FRAME_BYTES:
                    break
                ops.append(op)
                size += op_bytes
            yield pack(ops)
    if mix in ("transform-many", "z-many", "moving-many"):
        kind = {"transform-many": "transform", "z-many": "z", "moving-many": "moving"}[mix]
        while True:
            n = next(counter)
            ops, size = [], 64
            while True:
                first = (n * 3 + len(ops)) * 10_000 % strokes
                op = {"type": kind, "id": f"t{n}-{len(ops)}"}
                op["ids"] = [f"s{(first + i) % strokes}" for i in range(10_000)]
                if kind == "z":
                    op["to"] = ("front", "back")[n % 2]
                else:
                    op["m"] = [1, 1, (n % 7) - 3, 1]
                op_bytes = len(msgpack.packb(op))
                if size + op_bytes > MAX_FRAME_BYTES:
                    break
                ops.append(op)
                size += op_bytes
            yield pack(ops)
    if mix in ("undo-transform", "undo-z"):
        # setup: 100 moves (or reorders) of the same 10,000 strokes, then undo/redo of the last
        ids = [f"s{i}" for i in range(10_000)]
        for k in range(PILE):
            if mix == "undo-transform":
                op = {"type": "transform", "id": f"mv{k}", "ids": ids, "m": [1, 1, 1, -1]}
            else:
                op = {"type": "z", "id": f"mv{k}", "ids": ids, "to": ("front", "back")[k % 2]}
            yield pack([op])
        yield from undo_redo_forever(counter)
    if mix == "undo-clear-old":
        # setup: a clear, then more actions than the undo window, undone; then undo/redo of the
        # clear, whose undo must carry every stroke it shows (restore)
        yield pack([{"type": "clear", "id": "the-clear"}])
        yield from past_the_undo_window()
        yield from undo_redo_forever(counter)
    if mix == "undo-add-old":
        # setup: a paste of 1,000 text notes of 4,000 characters, more actions than the window
        # (undone), then undo/redo of the paste
        text = "long note " * 400
        items, size, pastes = [], 0, 0
        for i in range(1_000):
            items.append({"type": "note", "id": f"n{i}", "x": i, "y": 0, "size": 12,
                          "color": "#ffee88", "text": text})  # fmt: skip
            size += len(text) + 60
            if size > MAX_FRAME_BYTES - 10_000 or i == 999:
                yield pack([{"type": "add", "id": f"paste{pastes}", "items": items}])
                items, size, pastes = [], 0, pastes + 1
        yield from past_the_undo_window()
        yield from undo_redo_forever(counter)
    if mix == "edit-long":
        # a note of 4,000 characters, then edits of it with the whole text, and their undos
        text = "long note " * 400
        note = {"type": "note", "id": "note", "x": 0, "y": 0, "size": 12, "color": "#ffee88"}
        yield pack([{**note, "text": text}])
        while True:
            n = next(counter)
            ops = []
            for i in range(40):
                ops.append({"type": "edit", "id": f"e{n}-{i}", "target": "note",
                            "text": f"{n}-{i} {text}"[:4_000]})  # fmt: skip
                ops.append({"type": "undo", "id": f"eu{n}-{i}"})
            yield pack(ops)
    if mix == "add-many":
        while True:
            n = next(counter)
            items = [
                {"type": "stroke", "id": f"a{n}-{i}", "tool": "pen", "color": "#000000",
                 "width": 2, "pts": [i, n % 1000, 1, 1, 1, 1, 1, 1]}
                for i in range(1_000)
            ]  # fmt: skip
            yield pack([{"type": "add", "id": f"add{n}", "items": items}])
    if mix == "big-strokes":
        while True:
            n = next(counter)
            yield pack(
                [
                    {
                        "type": "stroke",
                        "id": f"b{n}-{i}",
                        "tool": "pen",
                        "color": "#000000",
                        "width": 2,
                        "pts": [1, 1] * 20_000,
                    }
                    for i in range(3)
                ]
            )
    raise ValueError(mix)


async def attack(
    repo: Path, url: str, mix: str, strokes: int, seconds: float, since: int
) -> dict[str, int]:
    """Send ``mix`` at 90% of the rate limits for ``seconds``; reconnect when closed (resuming
    from ``since``, so the attack is the messages, not replays of the board)."""
    stats = {"frames": 0, "bytes": 0, "connections": 0, "committed": 0, "errors": 0}
    source = frames(mix, strokes)
    deadline = time.monotonic() + seconds
    pending: bytes | None = None
    while time.monotonic() < deadline:
        stats["connections"] += 1
        try:
            async with websockets.connect(url, max_size=None, open_timeout=10) as ws:
                await ws.send(hello_for(repo, ATTACKER, "attacker", since))
                reader = asyncio.create_task(read_all(ws, stats))
                next_send = time.monotonic()
                while time.monotonic() < deadline:
                    frame = pending or next(source)
                    pending = frame
                    await asyncio.sleep(max(0.0, next_send - time.monotonic()))
                    async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                        await ws.send(frame)
                    pending = None
                    stats["frames"] += 1
                    stats["bytes"] += len(frame)
                    next_send += max(1 / FRAMES_PER_SECOND, len(frame) / BYTES_PER_SECOND)
                reader.cancel()
        except (websockets.ConnectionClosed, OSError, TimeoutError):
            continue
    return stats


async def read_all(ws: websockets.ClientConnection, stats: dict[str, int]) -> None:
    with contextlib.suppress(websockets.ConnectionClosed):
        async for frame in ws:
            message = msgpack.unpackb(frame)
            for op in message.get("ops", [message]):
                if op.get("by") is not None:
                    stats["committed"] += 1
                elif op.get("type") == "error":
                    stats["errors"] += 1


def probe(port: int, seconds: float, timeout_s: float = 20.0) -> list[float]:
    """``GET /healthz`` every 10 ms on one keep-alive connection; latencies in ms. A probe that
    gets no answer within ``timeout_s`` counts as that long and ends the probing."""
    latencies = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(timeout_s)
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                sock.sendall(request)
                read_response(sock)
            except TimeoutError:
                latencies.append(timeout_s * 1000)
                break
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(PROBE_INTERVAL_S)
    return latencies


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096) or b"!"
        if data.endswith(b"!"):
            raise ConnectionError("server closed the probe")
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return body


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def run_mix(
    repo: Path, port: int, mix: str, strokes: int, seconds: float, server_flags: list[str]
) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        boards = Path(tmp) / "boards"
        boards.mkdir()
        (boards / "big.log").write_bytes(build_log(strokes, cleared=mix == "empty-clear"))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "whiteboard",
                "serve",
                "--port",
                str(port),
                "--boards-dir",
                str(boards),
                *server_flags,
            ],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        try:
            wait_for_server(server, port)
            viewer_url = f"ws://127.0.0.1:{port}/b/big/ws"
            async with websockets.connect(viewer_url, max_size=None, open_timeout=60) as ws:
                await ws.send(hello_for(repo, "viewer-loads-the-board", "v"))
                welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 60))  # board loaded
            cpu_before = process_cpu_s(server.pid)
            loop = asyncio.get_running_loop()
            probing = loop.run_in_executor(None, probe, port, seconds)
            url = f"ws://127.0.0.1:{port}/b/big/ws"
            stats = await attack(repo, url, mix, strokes, seconds, welcome["seq"])
            latencies = await probing
            cpu = process_cpu_s(server.pid) - cpu_before
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:  # an old server may be busy for minutes
                server.kill()
                server.wait(timeout=10)
    return (
        f"| {mix} | {stats['frames']} | {stats['bytes'] / 1e6:.1f} MB | {stats['committed']} | "
        f"{stats['errors']} | {stats['connections']} | {cpu / seconds:.0%} | "
        f"{statistics.median(latencies):.1f} | {percentile(latencies, 0.99):.1f} | "
        f"{max(latencies):.1f} | {len(latencies)} |"
    )


def wait_for_server(server: subprocess.Popen, port: int, timeout_s: float = 30) -> None:
    """Return once the server's own process listens on ``port``. A port that merely answers may
    be another's (a port in the ephemeral range can be a client's, and a connection to it from
    that range can even reach itself): a run then measured a server that had failed to bind."""
    deadline = time.monotonic() + timeout_s
    while not listens(server.pid, port):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}) before listening")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server did not listen on port {port} in {timeout_s} s")
        time.sleep(0.05)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="tree whose server to run")
    parser.add_argument("--mix", choices=(*MIXES, "all"), default="all")
    parser.add_argument("--strokes", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--port", type=int, default=8870)
    parser.add_argument(
        "--server-flag",
        action="append",
        default=[],
        help="extra flag for the server, e.g. --server-flag=--max-board-bytes=1073741824 (room "
        "for more than one undo of the cleared board: each copies it whole into the log)",
    )
    args = parser.parse_args()
    mixes = MIXES if args.mix == "all" else (args.mix,)
    print(f"server from {args.repo}, board of {args.strokes:,} strokes, {args.seconds:g} s a mix")
    print(
        "| mix | frames sent | bytes sent | ops committed | errors | connections | server CPU "
        "| /healthz p50 ms | p99 ms | max ms | probes |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, mix in enumerate(mixes):
        row = await run_mix(
            args.repo, args.port + n, mix, args.strokes, args.seconds, args.server_flag
        )
        print(row, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
