"""Late join: build a large board through the real server, then time a fresh client loading it.

The board is built with complete ``stroke`` messages (freehand, ``freehand.py``), batched
``strokes_per_frame`` to a frame, with at most ``window_strokes`` not yet echoed back as committed,
exactly as a client resending offline strokes would. A late joiner then connects, says hello with
``since: nil``, reads the welcome and the replay batches, and decodes every frame (msgpack), until
it holds the op whose ``seq`` is the welcome's ``seq``. Timed from before the TCP connect to the
decode of that last op; bytes on the wire are everything the socket received, HTTP response and
frame headers included.
"""

from __future__ import annotations

import asyncio
import random
import time

import msgpack
from freehand import stroke_message
from hello import hello_frame
from procs import Server
from wsclient import RawWebSocket, count_batch_ops

BUILD_TIMEOUT_S = 300.0
JOIN_TIMEOUT_S = 60.0


def _hello(name: str) -> bytes:
    client = f"bench{random.getrandbits(48):x}"
    return hello_frame(client, name, "#654321")


async def build_board(
    server: Server,
    board: str,
    strokes: int,
    points: int,
    strokes_per_frame: int = 64,
    window_strokes: int = 2048,
    seed: int = 7,
    hello: bytes | None = None,
    since: int | None = None,
    id_prefix: str = "s",
) -> dict:
    """Draw ``strokes`` on ``board``: empty, or (``since``) already holding that many ops (then
    the ops need an ``id_prefix`` of their own: the server drops an op id it has seen)."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    state = {"committed": 0, "errors": 0}
    progress = asyncio.Event()
    welcomed = loop.create_future()

    def on_message(payload: bytes, arrival_s: float) -> None:
        count = count_batch_ops(payload)
        if count >= 0:
            # Only this builder is on the board: every op it gets back is one of its commits,
            # apart from its own join event, which the check below tolerates.
            state["committed"] += count
            progress.set()
            return
        message = msgpack.unpackb(payload)
        if message.get("type") == "welcome" and not welcomed.done():
            welcomed.set_result(message)
        elif message.get("type") == "error":
            state["errors"] += 1

    ws = await RawWebSocket.connect(server.port, f"/b/{board}/ws", on_message)
    # another tree's server may speak another version
    ws.send(hello or hello_frame(f"bench{random.getrandbits(48):x}", "builder", "#654321", since))
    welcome = await asyncio.wait_for(welcomed, 10)
    if welcome["seq"] != (since or 0):
        raise RuntimeError(f"board {board} is at seq {welcome['seq']}, not {since or 0}")
    started = time.perf_counter()
    deadline = loop.time() + BUILD_TIMEOUT_S
    sent = 0
    while sent < strokes:
        if sent - state["committed"] + strokes_per_frame > window_strokes:
            progress.clear()
            await asyncio.wait_for(progress.wait(), 10)
            continue
        count = min(strokes_per_frame, strokes - sent)
        ops = [stroke_message(rng, f"{id_prefix}{sent + i}", points) for i in range(count)]
        ws.send(msgpack.packb({"type": "batch", "ops": ops}))
        sent += count
        await asyncio.sleep(0)
    while state["committed"] < strokes + 1 and loop.time() < deadline:  # + 1: our join event
        progress.clear()
        try:
            await asyncio.wait_for(progress.wait(), 1)
        except TimeoutError:
            if state["errors"]:
                break
    elapsed = time.perf_counter() - started
    await ws.close()
    if state["errors"]:
        raise RuntimeError(f"building the board: {state['errors']} ops rejected")
    return {
        "strokes": strokes,
        "points": strokes * points,
        "build_s": elapsed,
        "build_strokes_per_s": strokes / elapsed,
    }


async def late_join(server: Server, board: str, hello: bytes | None = None) -> dict:
    """One fresh client loading the whole board; returns timings, sizes and what it decoded.
    ``hello``: another tree's server may speak another protocol version."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state = {
        "target": None,
        "strokes": 0,
        "points": 0,
        "frames": 0,
        "welcome_s": None,
        "decode_s": 0.0,
        "snapshot_bytes": 0,
        "snapshot_seq": None,
    }
    started = time.perf_counter()

    def on_message(payload: bytes, arrival_s: float) -> None:
        if done.done():
            return
        t0 = time.perf_counter()
        message = msgpack.unpackb(payload)
        kind = message.get("type")
        if kind == "welcome":
            state["target"] = message["seq"]
            state["snapshot_seq"] = message.get("snapshot")
            state["welcome_s"] = t0 - started
            if not message["seq"]:
                done.set_result(None)
        elif kind == "batch":
            state["frames"] += 1
            for op in message["ops"]:
                if op.get("type") == "stroke":
                    state["strokes"] += 1
                    state["points"] += len(op["pts"]) // 2
                elif op.get("type") == "snapshot":  # the board so far, compacted
                    state["snapshot_bytes"] += len(payload)  # one part per frame
                    state["strokes"] += sum(1 for style in op["style"] if style is not None)
                    state["points"] += sum(op["n"])
                    if not op["last"]:
                        continue
                seq = op.get("seq")
                if seq is not None and seq == state["target"]:
                    done.set_result(None)
        state["decode_s"] += time.perf_counter() - t0

    ws = await RawWebSocket.connect(server.port, f"/b/{board}/ws", on_message)
    ws.send(hello or _hello("late joiner"))
    await asyncio.wait_for(done, JOIN_TIMEOUT_S)
    elapsed = time.perf_counter() - started
    wire_bytes = ws.bytes_received
    await ws.close()
    return {
        "join_s": elapsed,
        "welcome_s": state["welcome_s"],
        "decode_s": state["decode_s"],
        "wire_bytes": wire_bytes,
        "replay_frames": state["frames"],
        "strokes": state["strokes"],
        "points": state["points"],
        "seq": state["target"],
        "snapshot_seq": state["snapshot_seq"],
        "snapshot_bytes": state["snapshot_bytes"],
    }
