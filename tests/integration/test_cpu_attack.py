"""One client sending the most expensive messages its rate limits allow cannot stall the server.

A real server process holds a board of 100,000 strokes. An attacker erases 30,000 of them in three
ops, then sends, in turn, frames of 512 alternating whole-board clears and undos, of 512 undos
and redos (of those erases among others), and of five erases of 10,000 ids that are not there,
as fast as ``frames_per_second`` and ``bytes_per_second`` let it, while ``GET /healthz`` is timed
on the same process (less the time the machine's other jobs kept it from a CPU). Before bitmap
visibility and per-client work budgets, one such frame held the event loop for seconds
(``bench/bench_cpu_attack.py`` has the figures).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import websockets

from tests.integration.client import BoardClient, is_op, pen_stroke
from tests.logs import board_log
from tests.serving import ServerProcess
from whiteboard.protocol import encode_hello

pytestmark = pytest.mark.alone  # times the server's stalls: no test process beside it

STROKES = 100_000
ATTACK_S = 3.0
P99_LIMIT_MS = 50.0
LOAD_TIMEOUT_S = 60.0  # loading 100,000 strokes takes seconds on a busy machine
FRAMES_PER_SECOND = 180  # 90% of the default limits: the attacker stays within them
BYTES_PER_SECOND = 0.9 * 2 * 1024 * 1024
PROBE_START_S = 1.0  # time for the probe process to start before the attack does


def attack_frame(n: int) -> bytes:
    if n < 3:
        ids = [f"s{i}" for i in range(n * 10_000, (n + 1) * 10_000)]
        ops = [{"type": "erase", "id": f"big{n}", "ids": ids}]
    elif n % 3 == 0:
        ops = [
            {"type": "erase", "id": f"m{n}-{k}", "ids": [str(i) for i in range(10_000)]}
            for k in range(5)
        ]
    else:
        kinds = ("clear", "undo") if n % 3 == 1 else ("undo", "redo")
        ops = [{"type": kinds[k % 2], "id": f"o{n}-{k}"} for k in range(512)]
    return msgpack.packb({"type": "batch", "ops": ops})


async def attack(url: str, frames: list[bytes], stop: float) -> int:
    """Send ``frames`` until ``stop``; return how many were sent."""
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(encode_hello("attacker-0001", "attacker", "#000000", STROKES))
        reader = asyncio.create_task(drain(ws))
        sent, next_send = 0, time.monotonic()
        for frame in frames:
            await asyncio.sleep(max(0.0, next_send - time.monotonic()))
            if time.monotonic() >= stop:
                break
            try:
                async with asyncio.timeout(max(0.01, stop - time.monotonic())):
                    await ws.send(frame)  # blocks while the server makes it wait
            except TimeoutError:
                break
            sent += 1
            next_send += max(1 / FRAMES_PER_SECOND, len(frame) / BYTES_PER_SECOND)
        reader.cancel()
    return sent


async def drain(ws: websockets.ClientConnection) -> None:
    async for _ in ws:
        pass


async def test_the_costliest_messages_within_the_rate_limits_do_not_stall_the_server(
    tmp_path: Path,
) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    (boards / "big.log").write_bytes(board_log(STROKES))
    with ServerProcess(boards) as server:
        async with websockets.connect(f"{server.ws_url}/b/big/ws") as viewer:
            await viewer.send(encode_hello("viewer-0001", "viewer", "#000000", STROKES))
            welcome = msgpack.unpackb(await asyncio.wait_for(viewer.recv(), LOAD_TIMEOUT_S))
        assert welcome["seq"] == STROKES  # loaded before the clock starts
        frames = [attack_frame(n) for n in range(int(ATTACK_S * FRAMES_PER_SECOND))]
        # The probe runs in a process of its own, so the attacker's work never delays it here.
        start = time.monotonic() + PROBE_START_S
        probe = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.healthz_probe",
                str(server.port),
                str(server.proc.pid),
                str(start),
                str(start + ATTACK_S),
            ],
            stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],
        )
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        sent = await attack(f"{server.ws_url}/b/big/ws", frames, start + ATTACK_S)
        latencies = json.loads(probe.communicate(timeout=30)[0])
        walls, caused = sorted(w for w, _ in latencies), sorted(c for _, c in latencies)
        p99 = caused[int(0.99 * len(caused))]
        assert sent >= 10, "the attack did not run"
        assert p99 <= P99_LIMIT_MS, (
            f"/healthz p99 {p99:.1f} ms caused by the server under attack (worst {caused[-5:]}); "
            f"wall clock p99 {walls[int(0.99 * len(walls))]:.1f} ms"
        )
        other = await BoardClient.connect(server.ws_url, "other", "bystander")
        await other.send(pen_stroke("still-drawing"))
        await other.wait_for(is_op("stroke", "still-drawing"))
        await other.close()
