"""Fill a board quickly through the real protocol, from a thread of its own (Playwright's sync
API owns the test thread's event loop)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
from typing import Any

import msgpack
import websockets

from whiteboard.protocol import encode_hello

OPS_PER_FRAME = 400


def random_strokes(
    count: int, points: int, width: float, height: float, seed: int = 1
) -> list[dict[str, Any]]:
    """``count`` pen strokes of ``points`` points each, random walks spread over the area."""
    rng = random.Random(seed)
    colors = ["#1e1e1e", "#e53935", "#1e88e5", "#43a047", "#8e24aa"]
    ops = []
    for index in range(count):
        x, y = rng.uniform(0, width) * 4, rng.uniform(0, height) * 4
        pts = [round(x), round(y)]
        dx, dy = rng.randint(-12, 12), rng.randint(-12, 12)
        for _ in range(points - 1):
            dx = max(-24, min(24, dx + rng.randint(-4, 4)))
            dy = max(-24, min(24, dy + rng.randint(-4, 4)))
            pts += (dx, dy)
        ops.append(
            {
                "type": "stroke",
                "id": f"seed{index}",
                "tool": "pen",
                "color": colors[index % len(colors)],
                "width": rng.choice([2, 3, 4, 6]),
                "pts": pts,
            }
        )
    return ops


def seed_board(ws_url: str, board: str, ops: list[dict[str, Any]]) -> None:
    """Send ``ops`` and wait until the last one is committed."""

    async def run() -> None:
        async with websockets.connect(f"{ws_url}/b/{board}/ws", max_size=None) as ws:
            await ws.send(encode_hello("seeder-0123456789", "Seeder", "#000000"))
            for start in range(0, len(ops), OPS_PER_FRAME):
                batch = ops[start : start + OPS_PER_FRAME]
                await ws.send(msgpack.packb({"type": "batch", "ops": batch}))
            last = ops[-1]["id"]
            while True:
                frame = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 30))
                messages = frame["ops"] if frame.get("type") == "batch" else [frame]
                if any(m.get("id") == last and "seq" in m for m in messages):
                    return

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=120)
