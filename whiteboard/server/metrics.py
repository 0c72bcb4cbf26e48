"""``GET /metrics``: the server's figures in the Prometheus text format, through prometheus-client.

With ``--workers N`` the supervisor gives every worker the same ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode, set before the library is imported), and any worker's
``/metrics`` answers for all workers of the host: counters and histograms are summed, gauges are
the sum over live workers. A single process uses the library's default registry.

The hot paths only bump plain counters (``counters.py``); they are copied into the Prometheus
metrics once a second and at every scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .counters import COUNTS, Counts

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
FLUSH_INTERVAL_S = 1.0
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
EXPORT_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


def _gauge(name: str, doc: str) -> Gauge:
    return Gauge(name, doc, multiprocess_mode="livesum")


CONNECTIONS = _gauge("whiteboard_connections", "Open board WebSockets.")
BOARDS_LOADED = _gauge("whiteboard_boards_loaded", "Boards held in memory.")
FRAMES_IN = Counter("whiteboard_frames_in", "WebSocket frames received from clients.")
OPS_IN = Counter("whiteboard_ops_in", "Messages received from clients (a batch counts each).")
FRAMES_OUT = Counter("whiteboard_frames_out", "WebSocket frames sent to clients.")
BYTES_OUT = Counter("whiteboard_bytes_out", "Bytes of WebSocket frames sent to clients.")
OPS_COMMITTED = Counter("whiteboard_ops_committed", "Ops appended to board logs by this server.")
ERRORS = Counter("whiteboard_errors", "Error answers sent, by error code.", ["code"])
CLOSES = Counter("whiteboard_closes", "Connections the server closed, by close code.", ["code"])
FLUSH_SECONDS = Histogram(
    "whiteboard_tick_flush_seconds",
    "Time one board's tick takes to fan out.",
    buckets=LATENCY_BUCKETS_S,
)
APPEND_SECONDS = Histogram(
    "whiteboard_log_append_seconds",
    "Time one group commit takes to be durable.",
    buckets=LATENCY_BUCKETS_S,
)
EXPORT_SECONDS = Histogram(
    "whiteboard_export_seconds",
    "Time an export takes to render, by format.",
    ["format"],
    buckets=EXPORT_BUCKETS_S,
)
LEASE_CHANGES = Counter(
    "whiteboard_redis_lease_changes", "Boards this worker took ownership of (Redis mode)."
)
FENCING_REFUSALS = Counter(
    "whiteboard_redis_fencing_refusals",
    "Appends Redis refused because another worker owned the board (Redis mode).",
)
GAPS_FILLED = Counter(
    "whiteboard_redis_gaps_filled",
    "Times a follower read committed ops from the stream that pub/sub did not bring.",
)
REDIS_RECONNECTS = Counter(
    "whiteboard_redis_reconnects", "Times the Redis subscription was (re)established."
)
REDIS_UP = _gauge("whiteboard_redis_up", "1 while Redis answers this worker's probe (Redis mode).")


class MetricsPump:
    """Copies the plain counters into the Prometheus ones, and reads the gauges."""

    def __init__(
        self,
        connections: Callable[[], int],
        boards: Callable[[], int],
        redis_reconnects: Callable[[], int] | None = None,
        redis_up: Callable[[], bool] | None = None,
    ) -> None:
        self._connections = connections
        self._boards = boards
        self._redis_reconnects = redis_reconnects
        self._redis_up = redis_up
        self._seen = Counts()
        self._seen_reconnects = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if MULTIPROCESS:
            multiprocess.mark_process_dead(os.getpid())

    async def _run(self) -> None:
        while True:
            self.flush()
            await asyncio.sleep(FLUSH_INTERVAL_S)

    def flush(self) -> None:
        seen, now = self._seen, COUNTS
        for metric, name in (
            (FRAMES_IN, "frames_in"),
            (OPS_IN, "ops_in"),
            (FRAMES_OUT, "frames_out"),
            (BYTES_OUT, "bytes_out"),
            (OPS_COMMITTED, "ops_committed"),
            (LEASE_CHANGES, "lease_changes"),
            (FENCING_REFUSALS, "fencing_refusals"),
            (GAPS_FILLED, "gaps_filled"),
        ):
            delta = getattr(now, name) - getattr(seen, name)
            if delta:
                metric.inc(delta)
                setattr(seen, name, getattr(now, name))
        for code, total in now.errors.items():
            if total != seen.errors[code]:
                ERRORS.labels(code=str(code)).inc(total - seen.errors[code])
                seen.errors[code] = total
        for close_code, total in now.closes.items():
            if total != seen.closes[close_code]:
                CLOSES.labels(code=str(int(close_code))).inc(total - seen.closes[close_code])
                seen.closes[close_code] = total
        CONNECTIONS.set(self._connections())
        BOARDS_LOADED.set(self._boards())
        if self._redis_reconnects is not None:
            total = self._redis_reconnects()
            if total > self._seen_reconnects:
                REDIS_RECONNECTS.inc(total - self._seen_reconnects)
                self._seen_reconnects = total
        if self._redis_up is not None:
            REDIS_UP.set(1 if self._redis_up() else 0)

    def exposition(self) -> tuple[bytes, str]:
        """The text of ``GET /metrics`` and its content type."""
        self.flush()
        if MULTIPROCESS:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
