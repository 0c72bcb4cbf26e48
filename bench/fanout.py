"""One fan-out run: one writer streams live strokes to N viewers on one board; measure deliveries.

The writer draws ``live_strokes`` strokes at once (multi-touch; the server allows 10), each 50
points: ``begin`` with 2 points, 12 ``points`` messages of 4 points, ``end`` (14 ops; ``end``
commits the stroke to the durable log, so logging runs all the time). Ops are sent in frames of
``{"type": "batch", "ops": [...]}``, never one frame per op:

- ``rate`` mode: ``rate_ops_s`` ops/s in ``rate_frames_s`` frames/s (default 1,000 ops/s as 125
  frames/s of 8 ops, one frame per animation frame of a 120 Hz display);
- ``sat`` mode: frames of ``sat_ops_per_frame`` ops as fast as a window allows: at most
  ``window_ops`` ops sent but not yet seen by the first probe viewer. Saturated latency is then
  window / throughput (Little's law); compare latency in ``rate`` mode only.

Every viewer counts ops in each frame from the batch's msgpack array header, without decoding.
``probes`` of the viewers decode every frame and match each op to its send time: the writer notes
``(stroke id, index of the op within the stroke) -> send time`` in this process, and a probe's k-th
op naming a stroke id is that stroke's op k (a connection delivers in order; the server turns
``end`` into the committed ``stroke`` op, the relay forwards ``end`` itself). Only ops sent inside
the measurement window count, for deliveries and for latency alike.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import msgpack
from freehand import freehand_pts, live_stroke_ops
from hello import hello_frame
from procs import Server, core_busy, core_times, cpu_pressure_us, cpu_since, process_cpu_s
from wsclient import RawWebSocket, count_batch_ops

STROKE_POINTS = 50
POINTS_PER_BEGIN = 2
POINTS_PER_MESSAGE = 4
LIVE_OP_TYPES = frozenset(("begin", "points", "end", "stroke"))
STROKE_POOL = 256  # distinct point arrays, reused under fresh stroke ids
CONNECT_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 3.0


@dataclass
class FanoutConfig:
    viewers: int
    mode: str  # "rate" or "sat"
    warmup_s: float = 2.0
    duration_s: float = 10.0
    probes: int = 5
    rate_ops_s: float = 1000.0
    rate_frames_s: float = 125.0
    sat_ops_per_frame: int = 32
    window_ops: int = 4096
    live_strokes: int = 8


class OpSource:
    """The writer's endless op stream: ``live_strokes`` strokes interleaved op by op."""

    def __init__(self, seed: int, prefix: str, live_strokes: int) -> None:
        self.rng = random.Random(seed)
        self.pool = [freehand_pts(self.rng, STROKE_POINTS) for _ in range(STROKE_POOL)]
        self.prefix = prefix
        self.next_stroke = 0
        self.slots = [self._new_stroke() for _ in range(live_strokes)]
        self.slot = 0

    def _new_stroke(self) -> list:
        op_id = f"{self.prefix}{self.next_stroke}"
        pts = self.pool[self.next_stroke % STROKE_POOL]
        self.next_stroke += 1
        ops = live_stroke_ops(self.rng, op_id, pts, POINTS_PER_BEGIN, POINTS_PER_MESSAGE)
        return [op_id, 0, ops]

    def take(self, count: int) -> list[tuple[dict, tuple[str, int]]]:
        out = []
        slots = self.slots
        for _ in range(count):
            state = slots[self.slot]
            op_id, index, ops = state
            out.append((ops[index], (op_id, index)))
            state[1] = index + 1
            if index + 1 == len(ops):
                slots[self.slot] = self._new_stroke()
            self.slot = (self.slot + 1) % len(slots)
        return out


class Viewer:
    """Counts ops delivered; a probe also decodes and records writer->viewer latency."""

    def __init__(self, run: FanoutRun, probe: bool) -> None:
        self.run = run
        self.probe = probe
        self.ops = 0
        self.errors = 0
        self.welcome_seq: int | None = None
        self.welcomed = asyncio.get_running_loop().create_future()
        self.matched = 0  # writer ops seen (probes only)
        self.ws: RawWebSocket | None = None
        self._index: dict[str, int] = {}

    def on_message(self, payload: bytes, arrival_s: float) -> None:
        if not self.probe:
            count = count_batch_ops(payload)
            if count >= 0:
                self.ops += count
                return
        message = msgpack.unpackb(payload)
        kind = message.get("type")
        if kind != "batch":
            self._single(message)
            return
        ops = message["ops"]
        self.ops += len(ops)
        sent_at, index_of = self.run.sent_at, self._index
        start, end, latencies = self.run.window_start, self.run.window_end, self.run.latencies
        for op in ops:
            if op.get("type") not in LIVE_OP_TYPES:
                continue
            op_id = op.get("id")
            index = index_of.get(op_id, 0)
            index_of[op_id] = index + 1
            sent = sent_at.get((op_id, index))
            if sent is None:
                continue
            self.matched += 1
            if start <= sent < end:
                latencies.append(arrival_s - sent)
        if self is self.run.pacer:
            self.run.progress.set()

    def _single(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "welcome":
            self.welcome_seq = message.get("seq")
            if not self.welcomed.done():
                self.welcomed.set_result(message)
        elif kind == "error":
            self.errors += 1
            self.run.error_samples.append(message)


class FanoutRun:
    def __init__(self, server: Server, config: FanoutConfig, board: str, seed: int) -> None:
        self.server = server
        self.config = config
        self.path = f"/b/{board}/ws"
        self.source = OpSource(seed, f"w{seed % 100000}x", config.live_strokes)
        self.sent_at: dict[tuple[str, int], float] = {}
        self.latencies: list[float] = []
        self.error_samples: list[dict] = []
        self.window_start = float("inf")
        self.window_end = float("inf")
        self.progress = asyncio.Event()
        self.viewers: list[Viewer] = []
        self.pacer: Viewer | None = None
        self.frames_sent = 0
        self.ops_sent = 0

    async def _connect(self, on_message, hello_name: str) -> RawWebSocket:
        ws = await RawWebSocket.connect(self.server.port, self.path, on_message)
        if self.server.kind == "whiteboard":
            ws.send(hello_frame(f"c{id(ws)}"[:60], hello_name))
        return ws

    async def _connect_all(self) -> None:
        for number in range(self.config.viewers):
            viewer = Viewer(self, probe=number < self.config.probes)
            viewer.ws = await self._connect(viewer.on_message, f"viewer {number}")
            self.viewers.append(viewer)
        self.pacer = self.viewers[0]
        self.writer_view = Viewer(self, probe=False)
        self.writer = await self._connect(self.writer_view.on_message, "writer")
        if self.server.kind == "whiteboard":
            waits = [v.welcomed for v in self.viewers] + [self.writer_view.welcomed]
            await asyncio.wait_for(asyncio.gather(*waits), CONNECT_TIMEOUT_S)

    def _send_frame(self, count: int, now: float) -> None:
        batch = self.source.take(count)
        for _, key in batch:
            self.sent_at[key] = now
        self.writer.send(msgpack.packb({"type": "batch", "ops": [op for op, _ in batch]}))
        self.frames_sent += 1
        self.ops_sent += count

    async def _write(self, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        if config.mode == "rate":
            per_frame = max(1, round(config.rate_ops_s / config.rate_frames_s))
            interval = per_frame / config.rate_ops_s
            next_at = loop.time()
            while next_at < stop_at:
                delay = next_at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._send_frame(per_frame, loop.time())
                next_at += interval
            return
        per_frame, window = config.sat_ops_per_frame, config.window_ops
        while loop.time() < stop_at:
            if self.ops_sent - self.pacer.matched + per_frame > window:
                self.progress.clear()
                try:
                    await asyncio.wait_for(self.progress.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            self._send_frame(per_frame, loop.time())
            if self.writer.write_buffer_bytes > 1 << 20:
                await asyncio.sleep(0.001)  # let the kernel take it; keeps memory bounded
            elif self.frames_sent % 8 == 0:
                await asyncio.sleep(0)  # let the viewers read

    def _snapshot(self) -> dict:
        return {
            "t": time.monotonic(),
            "viewer_ops": sum(v.ops for v in self.viewers),
            "viewer_frames": sum(v.ws.frames_received for v in self.viewers),
            "viewer_bytes": sum(v.ws.bytes_received for v in self.viewers),
            "frames_sent": self.frames_sent,
            "ops_sent": self.ops_sent,
            "server_cpu_s": self.server.cpu_s(),
            "children_cpu_s": self.server.children_cpu_s(),
            "client_cpu_s": process_cpu_s(),
            "cores": core_times(),
            "pressure_us": cpu_pressure_us(),
        }

    async def run(self) -> dict:
        config = self.config
        loop = asyncio.get_running_loop()
        await self._connect_all()
        started = loop.time()
        self.window_start = started + config.warmup_s
        self.window_end = self.window_start + config.duration_s
        writer = asyncio.create_task(self._write(self.window_end))
        try:
            await asyncio.sleep(max(0.0, self.window_start - loop.time()))
            before = self._snapshot()
            await asyncio.sleep(max(0.0, self.window_end - loop.time()))
            after = self._snapshot()
            await writer
            deadline = loop.time() + DRAIN_TIMEOUT_S
            while self.pacer.matched < self.ops_sent and loop.time() < deadline:
                self.progress.clear()
                try:
                    await asyncio.wait_for(self.progress.wait(), 0.2)
                except TimeoutError:
                    pass
        finally:
            writer.cancel()
            close_codes = [v.ws.close_code for v in self.viewers if v.ws.close_code is not None]
            await asyncio.gather(
                *(v.ws.close() for v in self.viewers), self.writer.close(), return_exceptions=True
            )
        return self._result(before, after, close_codes)

    def _result(self, before: dict, after: dict, close_codes: list[int]) -> dict:
        config = self.config
        seconds = after["t"] - before["t"]
        busy = core_busy(before["cores"], after["cores"])
        ops_sent = after["ops_sent"] - before["ops_sent"]
        deliveries = after["viewer_ops"] - before["viewer_ops"]
        latencies = sorted(self.latencies)
        server_cpu = (after["server_cpu_s"] - before["server_cpu_s"]) / seconds
        return {
            "server": self.server.label,
            "kind": self.server.kind,
            "viewers": config.viewers,
            "mode": config.mode,
            "ops_per_frame": (
                config.sat_ops_per_frame
                if config.mode == "sat"
                else max(1, round(config.rate_ops_s / config.rate_frames_s))
            ),
            "window_s": round(seconds, 3),
            "op_deliveries_per_s": deliveries / seconds,
            "inbound_ops_per_s": ops_sent / seconds,
            "inbound_frames_per_s": (after["frames_sent"] - before["frames_sent"]) / seconds,
            "viewer_frames_per_s": (after["viewer_frames"] - before["viewer_frames"]) / seconds,
            "viewer_mbytes_per_s": (after["viewer_bytes"] - before["viewer_bytes"]) / seconds / 1e6,
            "delivered_fraction": deliveries / (ops_sent * config.viewers) if ops_sent else 0.0,
            "latency_samples": len(latencies),
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
            "server_cpu": server_cpu,
            # the server's own processes (compaction at low priority, exports) on its core
            "children_cpu": cpu_since(before["children_cpu_s"], after["children_cpu_s"]) / seconds,
            "server_cpu_us_per_1k_deliveries": (
                server_cpu * seconds * 1e9 / deliveries if deliveries else float("nan")
            ),
            "server_core_busy": busy.get(0, float("nan")),
            "client_core_busy": busy.get(1, float("nan")),
            "client_cpu": (after["client_cpu_s"] - before["client_cpu_s"]) / seconds,
            # share of the window in which some task waited for a CPU; our server and generator
            # each have a core, so much above ~0.05 means other processes competed for them
            "cpu_pressure": (after["pressure_us"] - before["pressure_us"]) / 1e6 / seconds,
            "errors": sum(v.errors for v in self.viewers) + self.writer_view.errors,
            "error_samples": self.error_samples[:3],
            "close_codes": close_codes,
        }


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def run_fanout(server: Server, config: FanoutConfig, board: str, seed: int) -> dict:
    return await FanoutRun(server, config, board, seed).run()
