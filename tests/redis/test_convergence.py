"""Convergence fuzz (after tldraw sync-core's): three workers, clients sending random ops and
dropping their sockets at random; once all is acknowledged every client's board is the server's."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import websockets

from tests.redis.cluster import RawClient, Workers
from whiteboard.board import Board

SEEDS = 20
OPS_PER_SEED = 100
CLIENTS = 3


class FuzzClient:
    """A page: keeps unacknowledged ops, resumes (since, epoch) on another worker and resends."""

    def __init__(self, name: str, urls: list[str], board: str, rng: random.Random) -> None:
        self.name, self.urls, self.board, self.rng = name, urls, board, rng
        self.raw: dict[int, bytes] = {}
        self.pending: dict[str, dict[str, Any]] = {}
        self.epoch: str | None = None
        self.client: RawClient | None = None
        self.mine: list[str] = []  # strokes this client drew (candidates to erase)

    async def connect(self) -> None:
        while True:
            url = self.rng.choice(self.urls)
            try:
                since = max(self.raw, default=0) or None
                self.client = await RawClient.connect(
                    url, self.board, self.name, since=since, epoch=self.epoch
                )
                break
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake):
                await asyncio.sleep(0.05)
        if self.client.welcome["reset"]:
            self.raw.clear()
        self.epoch = self.client.welcome.get("epoch")
        if self.pending:
            await self.client.send(*self.pending.values())

    async def drop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self._take(self.client)
            self.client = None

    def _take(self, client: RawClient) -> None:
        self.raw.update(client.raw)
        for message in client.received:
            op_id = message.get("id")
            if op_id in self.pending and message.get("type") in (
                "stroke",
                "erase",
                "clear",
                "undo",
                "redo",
                "ack",
                "error",
            ):
                del self.pending[op_id]
        client.received.clear()

    async def send(self, op: dict[str, Any]) -> None:
        if self.client is None:
            await self.connect()
        assert self.client is not None
        self.pending[op["id"]] = op
        await self.client.send(op)

    async def pump(self) -> None:
        """Read whatever has arrived."""
        if self.client is None:
            return
        try:
            while True:
                await asyncio.wait_for(self.client.receive(), 0.001)
        except TimeoutError:
            pass
        self._take(self.client)

    async def settle(self, head: int) -> None:
        if self.client is None:
            await self.connect()
        assert self.client is not None
        async with asyncio.timeout(20):
            while self.pending or max(self.raw, default=0) < head:
                try:
                    await asyncio.wait_for(self.client.receive(), 0.2)
                except TimeoutError:
                    pass
                self._take(self.client)


def random_op(rng: random.Random, client: FuzzClient, serial: int, all_strokes: list[str]) -> dict:
    op_id = f"{client.name}x{serial}"
    roll = rng.random()
    if roll < 0.55 or not all_strokes:
        client.mine.append(op_id)
        all_strokes.append(op_id)
        return {
            "type": "stroke",
            "id": op_id,
            "tool": "pen",
            "color": "#000000",
            "width": 2,
            "pts": [rng.randint(-400, 400), rng.randint(-400, 400), 4, 4],
        }
    if roll < 0.7:
        ids = rng.sample(all_strokes, k=min(len(all_strokes), rng.randint(1, 3)))
        return {"type": "erase", "id": op_id, "ids": ids}
    if roll < 0.85:
        return {"type": "undo", "id": op_id}
    if roll < 0.97:
        return {"type": "redo", "id": op_id}
    return {"type": "clear", "id": op_id}


def visible(raw: dict[int, bytes]) -> set[str]:
    mirror = Board(max_strokes=2**62)
    mirror.load([raw[seq] for seq in sorted(raw)])
    return set(mirror.visible_ids())


async def test_every_client_converges_to_the_servers_board(workers: Workers) -> None:
    urls = [workers.start().ws_url for _ in range(3)]
    for seed in range(SEEDS):
        rng = random.Random(seed)
        board = f"fuzz{seed}"
        clients = [FuzzClient(f"c{i}", urls, board, rng) for i in range(CLIENTS)]
        strokes: list[str] = []
        for serial in range(OPS_PER_SEED):
            client = rng.choice(clients)
            if rng.random() < 0.12:
                await client.drop()
                continue
            await client.send(random_op(rng, client, serial, strokes))
            if rng.random() < 0.3:
                await asyncio.gather(*(c.pump() for c in clients))
        stored = await workers.stored_board(board)
        head = stored.head_seq
        await asyncio.gather(*(c.settle(head) for c in clients))
        stored = await workers.stored_board(board)  # settling resent what was still pending
        expected = set(stored.visible_ids())
        for client in clients:
            await client.settle(stored.head_seq)
            assert sorted(client.raw) == list(range(1, stored.head_seq + 1)), (seed, client.name)
            assert visible(client.raw) == expected, (seed, client.name)
            await client.drop()
