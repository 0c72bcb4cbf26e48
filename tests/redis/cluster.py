"""Helpers for Redis-mode tests: worker processes, finding a board's owner, reading its stream."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import msgpack
import redis.asyncio as aioredis
import websockets

from tests.redis_server import RedisServer
from tests.serving import ServerProcess
from whiteboard.board import Board
from whiteboard.protocol import PROTOCOL_VERSION
from whiteboard.store.records import parse_log
from whiteboard.store.redis_keys import owner_key
from whiteboard.store.redis_transfer import export_board

LEASE_MS = 1500
"""Short leases keep failover tests quick; production's default is 5 s."""
WAIT_S = 10.0


class Workers:
    """``whiteboard serve --redis`` processes on one Redis, started on demand."""

    def __init__(self, tmp: Path, redis: RedisServer) -> None:
        self.tmp = tmp
        self.redis = redis
        self.procs: list[ServerProcess] = []

    def start(self, *flags: str, port: int | None = None) -> ServerProcess:
        index = len(self.procs)
        proc = ServerProcess(
            self.tmp / f"worker{index}",
            "--redis",
            self.redis.url,
            "--redis-lease-ms",
            str(LEASE_MS),
            *flags,
            port=port,
        ).start()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.proc is not None and proc.proc.poll() is None:
                proc.proc.send_signal(signal.SIGCONT)
                proc.kill()

    def client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.redis.url)

    async def owner_pid(self, board: str) -> int | None:
        """The pid of the worker holding the board's lease (worker ids are host:pid:random)."""
        client = self.client()
        try:
            token = await client.get(owner_key(board))
        finally:
            await client.aclose()
        return None if token is None else int(token.decode().split(":")[1])

    async def wait_for_owner(self, board: str, other_than: int | None = None) -> int:
        async with asyncio.timeout(WAIT_S):
            while True:
                pid = await self.owner_pid(board)
                if pid is not None and pid != other_than:
                    return pid
                await asyncio.sleep(0.05)

    def by_pid(self, pid: int) -> ServerProcess:
        return next(p for p in self.procs if p.proc is not None and p.proc.pid == pid)

    async def stored_ops(self, board: str) -> list[dict]:
        """The board's committed ops as Redis holds them, decoded."""
        client = self.client()
        try:
            data = await export_board(client, board)
        finally:
            await client.aclose()
        return [msgpack.unpackb(r, raw=False) for r in parse_log(data).records]

    async def stored_board(self, board: str) -> Board:
        client = self.client()
        try:
            data = await export_board(client, board)
        finally:
            await client.aclose()
        mirror = Board(max_strokes=2**62)
        mirror.load(parse_log(data).records)
        return mirror


def visible_after(ops: list[dict]) -> set[str]:
    """The visible strokes a client that applied ``ops`` in seq order has (board.py rules)."""
    mirror = Board(max_strokes=2**62)
    mirror.load([msgpack.packb(op) for op in sorted(ops, key=lambda o: o["seq"])])
    return set(mirror.visible_ids())


BATCH_PREFIX = b"\x82\xa4type\xa5batch\xa3ops"


def split_batch(frame: bytes) -> list[bytes] | None:
    """The ops of a server ``batch`` frame as the exact bytes the server sent (None: no batch)."""
    if not frame.startswith(BATCH_PREFIX):
        return None
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(frame[len(BATCH_PREFIX) :])
    count = unpacker.read_array_header()
    ops = []
    for _ in range(count):
        start = unpacker.tell()
        unpacker.skip()
        ops.append(frame[len(BATCH_PREFIX) + start : len(BATCH_PREFIX) + unpacker.tell()])
    return ops


class RawClient:
    """A board client that keeps every committed op's bytes by seq, and can say hello with an
    epoch (to resume in a history it knows)."""

    def __init__(self, ws: Any, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.raw: dict[int, bytes] = {}
        self.received: list[dict[str, Any]] = []

    @classmethod
    async def connect(
        cls,
        ws_url: str,
        board: str,
        client: str,
        since: int | None = None,
        epoch: str | None = None,
        path: str | None = None,
    ) -> RawClient:
        """``path`` is where the socket is (``/v/<token>`` for a view link), else ``/b/<board>``."""
        ws = await websockets.connect(f"{ws_url}{path or f'/b/{board}'}/ws", max_size=None)
        hello = {
            "type": "hello",
            "v": PROTOCOL_VERSION,
            "client": client,
            "name": client,
            "color": "#336699",
            "since": since,
        }
        if epoch:
            hello["epoch"] = epoch
        await ws.send(msgpack.packb(hello))
        welcome = msgpack.unpackb(await asyncio.wait_for(ws.recv(), WAIT_S))
        assert welcome["type"] == "welcome", welcome
        return cls(ws, welcome)

    @property
    def head(self) -> int:
        return max(self.raw, default=self.welcome["since"])

    async def receive(self) -> list[dict[str, Any]]:
        frame = await asyncio.wait_for(self.ws.recv(), WAIT_S)
        ops = split_batch(frame)
        raws = ops if ops is not None else [frame]
        messages = []
        for raw in raws:
            message = msgpack.unpackb(raw, raw=False)
            if "seq" in message and message["type"] not in ("welcome", "ack"):
                self.raw[message["seq"]] = raw
            messages.append(message)
        self.received += messages
        return messages

    async def send(self, *messages: dict[str, Any]) -> None:
        frame = messages[0] if len(messages) == 1 else {"type": "batch", "ops": list(messages)}
        await self.ws.send(msgpack.packb(frame))

    async def wait_for_seq(self, seq: int, timeout_s: float = WAIT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while self.head < seq:
                await self.receive()

    async def wait_for(self, predicate: Any, timeout_s: float = WAIT_S) -> dict[str, Any]:
        for message in self.received:
            if predicate(message):
                return message
        async with asyncio.timeout(timeout_s):
            while True:
                for message in await self.receive():
                    if predicate(message):
                        return message

    def committed(self) -> list[dict[str, Any]]:
        return [msgpack.unpackb(self.raw[s], raw=False) for s in sorted(self.raw)]

    async def close(self) -> None:
        await self.ws.close()


class Drawer:
    """Draws ``count`` strokes the way a page does through failures: it keeps every op until the
    server acknowledges it (its own op comes back, or an ``ack``), and when its socket closes it
    reconnects to the next worker, resumes from its last seq in its epoch, and resends the rest.
    ``close_codes`` records why each socket ended."""

    def __init__(self, urls: list[str], board: str, name: str, count: int) -> None:
        self.urls = urls
        self.board = board
        self.name = name
        self.count = count
        self.pending: dict[str, dict[str, Any]] = {}
        self.acked: set[str] = set()
        self.raw: dict[int, bytes] = {}
        self.close_codes: list[int] = []
        self.resets = 0
        self.client: RawClient | None = None
        self._sent = 0
        self._epoch: str | None = None

    async def run(self, interval_s: float = 0.02, deadline_s: float = 40.0) -> None:
        attempt = 0
        async with asyncio.timeout(deadline_s):
            while len(self.acked) < self.count:
                url = self.urls[attempt % len(self.urls)]
                attempt += 1
                try:
                    await self._session(url, interval_s)
                except (OSError, websockets.InvalidHandshake, TimeoutError):
                    await asyncio.sleep(0.1)
                except websockets.ConnectionClosed as closed:
                    self.close_codes.append(closed.rcvd.code if closed.rcvd else 1006)
                    await asyncio.sleep(0.05)

    async def _session(self, url: str, interval_s: float) -> None:
        since = max(self.raw, default=0) or None
        client = self.client = await RawClient.connect(
            url, self.board, self.name, since=since, epoch=self._epoch
        )
        if client.welcome["reset"]:
            self.resets += 1
            self.raw.clear()
        self._epoch = client.welcome.get("epoch")
        if self.pending:
            await client.send(*self.pending.values())
        while len(self.acked) < self.count:
            if self._sent < self.count:
                op = pen_stroke_op(f"{self.name}-{self._sent}", self._sent)
                self.pending[op["id"]] = op
                self._sent += 1
                await client.send(op)
            try:
                messages = await asyncio.wait_for(client.receive(), interval_s)
            except TimeoutError:
                continue
            self.raw.update(client.raw)
            for message in messages:
                op_id = message.get("id")
                if op_id in self.pending and (
                    message.get("type") in ("stroke", "ack") or message.get("type") == "error"
                ):
                    del self.pending[op_id]
                    self.acked.add(op_id)
        await client.close()


def pen_stroke_op(op_id: str, index: int) -> dict[str, Any]:
    return {
        "type": "stroke",
        "id": op_id,
        "tool": "pen",
        "color": "#000000",
        "width": 3,
        "pts": [index % 500, index // 500, 4, 4],
    }
