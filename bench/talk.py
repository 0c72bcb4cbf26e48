"""A talk: one presenter draws, N people watch (and maybe move their cursors); a room of writers.

**Talk.** The presenter sends one frame per animation frame (``presenter_fps``, 60): a ``points``
op of 2-4 points of the stroke being drawn; a stroke is ~50 points (``begin`` with 2, ``points``
until 50, then ``end`` and the next ``begin`` in the same frame). N viewers read; with
``cursor_hz`` each viewer also sends a ``cursor`` that often (the room moving fingers over the
board). **Room.** ``writers`` clients each draw like the presenter (and send their cursor with
every frame) while the viewers read.

Each viewer counts frames and bytes as they arrive (no decoding). ``probes`` of them decode every
frame and match each presenter op to its send time, as ``fanout.py`` does: the k-th op naming a
stroke id is that stroke's op k (``end`` arrives as the committed ``stroke`` from the whiteboard,
as ``end`` from a relay). Only ops sent inside the measurement window count.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import msgpack
from fanout import percentile
from freehand import freehand_pts, style
from hello import hello_frame
from procs import Server, cpu_pressure_us, process_cpu_s, rss_bytes
from wsclient import RawWebSocket

LIVE_OP_TYPES = frozenset(("begin", "points", "end", "stroke"))
STROKE_POINTS = 50
CONNECT_AT_ONCE = 50
CONNECT_TIMEOUT_S = 60.0


@dataclass
class TalkConfig:
    viewers: int
    writers: int = 1  # 1: a talk's presenter; more: a room of writers
    presenter_fps: float = 60.0
    cursor_hz: float = 0.0  # each viewer sends a cursor this often (0: viewers only read)
    writer_cursors: bool = False  # writers send a cursor with every frame (a browser does)
    warmup_s: float = 2.0
    duration_s: float = 5.0
    probes: int = 10


class Drawer:
    """One writer's op stream: strokes of ~50 points, 2-4 points per frame, one frame per call."""

    def __init__(self, rng: random.Random, prefix: str) -> None:
        self.rng = rng
        self.prefix = prefix
        self.strokes = 0
        self._new_stroke()

    def _new_stroke(self) -> None:
        self.stroke_id = f"{self.prefix}{self.strokes}"
        self.strokes += 1
        self.pts = freehand_pts(self.rng, STROKE_POINTS)
        self.sent = 0  # ints of pts sent
        self.index = 0  # ops of this stroke sent

    def frame(self) -> list[tuple[dict, tuple[str, int]]]:
        """The ops of the next animation frame, each with its (stroke id, op index) key."""
        out = []
        if self.sent >= len(self.pts):
            out.append(({"type": "end", "id": self.stroke_id}, (self.stroke_id, self.index)))
            self._new_stroke()
        take = 2 * self.rng.randint(2, 4)
        chunk = self.pts[self.sent : self.sent + take]
        if self.sent == 0:
            op = {"type": "begin", "id": self.stroke_id, **style(self.rng), "pts": chunk}
        else:
            op = {"type": "points", "id": self.stroke_id, "pts": chunk}
        out.append((op, (self.stroke_id, self.index)))
        self.sent += take
        self.index += 1
        return out


class Reader:
    """A client that counts what it receives; a probe also records writer->reader latency."""

    def __init__(self, run: TalkRun, probe: bool) -> None:
        self.run = run
        self.probe = probe
        self.ws: RawWebSocket | None = None
        self.welcomed = asyncio.get_running_loop().create_future()
        self._index: dict[str, int] = {}

    def on_message(self, payload: bytes, arrival_s: float) -> None:
        if not self.probe and self.welcomed.done():
            return
        message = msgpack.unpackb(payload)
        kind = message.get("type")
        if kind == "welcome" or (kind == "batch" and not self.welcomed.done()):
            if not self.welcomed.done():
                self.welcomed.set_result(message)
        if not self.probe:
            return
        ops = message["ops"] if kind == "batch" else [message]
        run, index_of = self.run, self._index
        for op in ops:
            if op.get("type") not in LIVE_OP_TYPES:
                continue
            op_id = op.get("id")
            index = index_of.get(op_id, 0)
            index_of[op_id] = index + 1
            sent = run.sent_at.get((op_id, index))
            if sent is not None and run.window_start <= sent < run.window_end:
                run.latencies.append(arrival_s - sent)


class TalkRun:
    def __init__(self, server: Server, config: TalkConfig, board: str, seed: int) -> None:
        self.server = server
        self.config = config
        self.path = f"/b/{board}/ws"
        self.rng = random.Random(seed)
        self.sent_at: dict[tuple[str, int], float] = {}
        self.latencies: list[float] = []
        self.window_start = self.window_end = float("inf")
        self.readers: list[Reader] = []
        self.writers: list[tuple[RawWebSocket, Drawer, Reader]] = []
        self.frames_sent = 0
        self.cursor_frames_sent = 0
        self.window_open = asyncio.Event()  # set when the measurement window starts

    async def _connect(self, reader: Reader, name: str) -> RawWebSocket:
        ws = await RawWebSocket.connect(self.server.port, self.path, reader.on_message)
        reader.ws = ws
        if self.server.kind == "whiteboard":
            ws.send(hello_frame(f"t{id(ws):x}"[:60], name))
        else:
            reader.welcomed.set_result(None)
        return ws

    async def _connect_all(self) -> None:
        config = self.config
        readers = [Reader(self, probe=n < config.probes) for n in range(config.viewers)]
        for start in range(0, len(readers), CONNECT_AT_ONCE):
            group = readers[start : start + CONNECT_AT_ONCE]
            await asyncio.gather(
                *(self._connect(r, f"viewer {start + i}") for i, r in enumerate(group))
            )
        self.readers = readers
        for number in range(config.writers):
            echo = Reader(self, probe=False)
            ws = await self._connect(echo, f"writer {number}")
            self.writers.append((ws, Drawer(random.Random(self.rng.random()), f"w{number}s"), echo))
        waits = [r.welcomed for r in self.readers] + [w[2].welcomed for w in self.writers]
        await asyncio.wait_for(asyncio.gather(*waits), CONNECT_TIMEOUT_S)

    async def _draw(self, ws: RawWebSocket, drawer: Drawer, phase: float, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        interval = 1 / self.config.presenter_fps
        next_at = loop.time() + phase * interval
        while next_at < stop_at:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            ops = drawer.frame()
            for _, key in ops:
                self.sent_at[key] = now
            messages = [op for op, _ in ops]
            if self.config.writer_cursors:
                x, y = self.rng.uniform(-500, 500), self.rng.uniform(-500, 500)
                messages.append({"type": "cursor", "x": x, "y": y})
            frame = messages[0] if len(messages) == 1 else {"type": "batch", "ops": messages}
            ws.send(msgpack.packb(frame))
            self.frames_sent += 1
            next_at += interval

    async def _cursors(self, stop_at: float) -> None:
        """Every viewer sends a cursor ``cursor_hz`` times a second, spread evenly in time."""
        loop = asyncio.get_running_loop()
        hz = self.config.cursor_hz
        slots = max(1, round(hz * 10))  # one loop pass every 1/(10 hz) s ... 100 ms at 1 Hz
        per_slot = [self.readers[n::slots] for n in range(slots)]
        interval = 1 / (hz * slots)
        next_at, slot = loop.time(), 0
        frames = [
            msgpack.packb({"type": "cursor", "x": float(x), "y": float(-x)}) for x in range(64)
        ]
        while next_at < stop_at:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for number, reader in enumerate(per_slot[slot]):
                reader.ws.send(frames[(number + slot) % 64])
                self.cursor_frames_sent += 1
            slot = (slot + 1) % slots
            next_at += interval

    def _snapshot(self) -> dict:
        return {
            "t": time.monotonic(),
            "frames": [r.ws.frames_received for r in self.readers],
            "bytes": [r.ws.bytes_received for r in self.readers],
            "writer_frames": sum(w[0].frames_received for w in self.writers),
            "server_cpu_s": self.server.cpu_s(),
            "client_cpu_s": process_cpu_s(),
            "pressure_us": cpu_pressure_us(),
            "cursor_frames_sent": self.cursor_frames_sent,
        }

    async def run(self) -> dict:
        config = self.config
        loop = asyncio.get_running_loop()
        rss_before = rss_bytes(self.server.pid)
        await self._connect_all()
        rss_connected = rss_bytes(self.server.pid)
        started = loop.time()
        self.window_start = started + config.warmup_s
        self.window_end = self.window_start + config.duration_s
        tasks = [
            asyncio.create_task(self._draw(ws, drawer, n / len(self.writers), self.window_end))
            for n, (ws, drawer, _) in enumerate(self.writers)
        ]
        if config.cursor_hz:
            tasks.append(asyncio.create_task(self._cursors(self.window_end)))
        try:
            await asyncio.sleep(max(0.0, self.window_start - loop.time()))
            self.window_open.set()
            before = self._snapshot()
            await asyncio.sleep(max(0.0, self.window_end - loop.time()))
            after = self._snapshot()
            rss_after = rss_bytes(self.server.pid)
            await asyncio.gather(*tasks)
            await asyncio.sleep(0.5)  # let the last frames arrive
        finally:
            for task in tasks:
                task.cancel()
            lost = [r for r in self.readers if r.ws.closed.done()]
            close_codes = sorted({r.ws.close_code for r in lost if r.ws.close_code is not None})
            sockets = [r.ws for r in self.readers] + [w[0] for w in self.writers]
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        return self._result(
            before, after, len(lost), close_codes, rss_before, rss_connected, rss_after
        )

    def _result(
        self,
        before: dict,
        after: dict,
        lost: int,
        close_codes: list[int],
        rss_before: int,
        rss_connected: int,
        rss_after: int,
    ) -> dict:
        config = self.config
        seconds = after["t"] - before["t"]
        frames = [b - a for a, b in zip(before["frames"], after["frames"], strict=True)]
        sizes = [b - a for a, b in zip(before["bytes"], after["bytes"], strict=True)]
        frames_total = sum(frames) + after["writer_frames"] - before["writer_frames"]
        server_cpu_s = after["server_cpu_s"] - before["server_cpu_s"]
        latencies = sorted(self.latencies)
        clients = config.viewers + config.writers
        return {
            "server": self.server.label,
            "kind": self.server.kind,
            "viewers": config.viewers,
            "writers": config.writers,
            "cursor_hz": config.cursor_hz,
            "window_s": round(seconds, 3),
            "latency_samples": len(latencies),
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
            "viewer_frames_per_s": sum(frames) / len(frames) / seconds,
            "viewer_frames_per_s_min": min(frames) / seconds,
            "viewer_kbytes_per_s": sum(sizes) / len(sizes) / seconds / 1000,
            "viewer_kbytes_per_s_max": max(sizes) / seconds / 1000,
            "frames_sent_per_s": frames_total / seconds,
            "server_cpu": server_cpu_s / seconds,
            "server_cpu_us_per_frame": server_cpu_s * 1e6 / frames_total if frames_total else 0,
            "client_cpu": (after["client_cpu_s"] - before["client_cpu_s"]) / seconds,
            "cpu_pressure": (after["pressure_us"] - before["pressure_us"]) / 1e6 / seconds,
            "presenter_frames_per_s": config.presenter_fps * config.writers,
            "cursor_frames_in_per_s": (after["cursor_frames_sent"] - before["cursor_frames_sent"])
            / seconds,
            "rss_mb": rss_after / 1e6,
            "rss_kb_per_connection": (rss_connected - rss_before) / clients / 1000,
            "connections_lost": lost,
            "close_codes": close_codes,
        }


async def run_talk(server: Server, config: TalkConfig, board: str, seed: int) -> dict:
    return await TalkRun(server, config, board, seed).run()
