"""Join storms and memory per connection.

**Join storm**: ``clients`` connections join one board, ``at_once`` at a time (a wave starts when
the previous one has its welcomes); everyone stays. Reported: the total time until the last
welcome, server CPU, and the presence bytes a join costs: everything the clients received except
their own welcome, divided by the number of joins. For a relay a join is the WebSocket handshake
(it has no welcome and no presence): the transport's share of a join.

**Memory**: RSS of the server per connection, with 2,000 idle connections on 20 boards, or with
200 connections on one board after each received 200 frames from one writer. Measured from a
warm server (one connection opened and closed first).
"""

from __future__ import annotations

import asyncio
import time

import msgpack
from hello import hello_frame, hello_url, protocol_version
from procs import REPO, Server, cpu_pressure_us, rss_bytes
from wsclient import RawWebSocket

WAVE_TIMEOUT_S = 60.0


class Joiner:
    def __init__(self) -> None:
        self.ws: RawWebSocket | None = None
        self.welcomed = asyncio.get_running_loop().create_future()
        self.welcome_bytes = 0

    def on_message(self, payload: bytes, arrival_s: float) -> None:
        if not self.welcomed.done():
            # With the handshake (a URL hello), before ``connect`` returned: counted then.
            self.welcome_bytes = self.ws.bytes_received if self.ws else -1
            self.welcomed.set_result(msgpack.unpackb(payload))

    def connected(self, ws: RawWebSocket) -> None:
        self.ws = ws
        if self.welcome_bytes == -1:  # the handshake's response and the welcome
            self.welcome_bytes = ws.bytes_received


def says_hello_in_url(server: Server) -> bool:
    """This tree's clients put their hello in the URL (protocol 9); a baseline checkout, or
    ``wb-frame-hello`` (this tree, the hello as a first frame, as before), send a frame."""
    return server.kind == "whiteboard" and server.cwd == REPO and "frame_hello" not in server.extra


async def _join(server: Server, path: str, number: int) -> Joiner:
    joiner = Joiner()
    client, name = f"j{number:06d}", f"guest {number}"
    if says_hello_in_url(server):
        query, subprotocols = hello_url(client, name, "#123456")
        joiner.connected(
            await RawWebSocket.connect(
                server.port, f"{path}?{query}", joiner.on_message, subprotocols=subprotocols
            )
        )
    elif server.kind == "whiteboard":
        joiner.ws = await RawWebSocket.connect(server.port, path, joiner.on_message)
        joiner.ws.send(hello_frame(client, name, version=protocol_version(server.cwd)))
    else:
        joiner.ws = await RawWebSocket.connect(server.port, path, joiner.on_message)
        joiner.welcome_bytes = joiner.ws.bytes_received
        joiner.welcomed.set_result(None)
    return joiner


async def join_waves(
    server: Server, paths: list[str], joiners: list[Joiner], at_once: int = 50
) -> None:
    """Join one client per path into ``joiners``, ``at_once`` at a time: a wave starts once the
    previous one has its welcomes (on failure ``joiners`` holds those to close)."""
    for start in range(0, len(paths), at_once):
        wave = await asyncio.gather(
            *(
                _join(server, path, start + n)
                for n, path in enumerate(paths[start : start + at_once])
            )
        )
        await asyncio.wait_for(asyncio.gather(*(j.welcomed for j in wave)), WAVE_TIMEOUT_S)
        joiners += wave


async def join_storm(server: Server, clients: int, at_once: int) -> dict:
    path = f"/b/storm{at_once}/ws"
    joiners: list[Joiner] = []
    cpu_before, pressure_before = server.cpu_s(), cpu_pressure_us()
    started = time.monotonic()
    try:
        await join_waves(server, [path] * clients, joiners, at_once)
        total_s = time.monotonic() - started
        cpu_s = server.cpu_s() - cpu_before
        pressure = (cpu_pressure_us() - pressure_before) / 1e6 / total_s
        await asyncio.sleep(0.5)  # presence of the last joins arrives
        presence = sum(j.ws.bytes_received - j.welcome_bytes for j in joiners)
        lost = sum(1 for j in joiners if j.ws.closed.done())
        rss = rss_bytes(server.pid)
    finally:
        await asyncio.gather(*(j.ws.close() for j in joiners if j.ws), return_exceptions=True)
    return {
        "server": server.label,
        "clients": clients,
        "at_once": at_once,
        "total_s": total_s,
        "joins_per_s": clients / total_s,
        "server_cpu_s": cpu_s,
        "server_cpu_ms_per_join": cpu_s * 1000 / clients,
        "presence_bytes_per_join": presence / clients,
        "welcome_bytes_last": joiners[-1].welcome_bytes,
        "rss_mb": rss / 1e6,
        "connections_lost": lost,
        "cpu_pressure": pressure,
    }


async def memory_per_connection(
    server: Server, idle: bool, idle_clients: int = 2000, boards: int = 20, active: int = 200
) -> dict:
    warm = await _join(server, "/b/warm/ws", 0)
    await asyncio.wait_for(warm.welcomed, 10)
    await warm.ws.close()
    await asyncio.sleep(0.2)
    rss_before = rss_bytes(server.pid)
    joiners: list[Joiner] = []
    pressure_before, started = cpu_pressure_us(), time.monotonic()
    try:
        if idle:
            count = idle_clients
            await join_waves(server, [f"/b/mem{n % boards}/ws" for n in range(count)], joiners)
        else:
            count = active
            await join_waves(server, ["/b/active/ws"] * count, joiners)
            writer = joiners[0].ws
            for number in range(200):
                op = {"type": "begin" if number % 50 == 0 else "points", "id": f"m{number // 50}"}
                op.update(pts=[number % 7, 1, 2, 3], tool="pen", color="#000000", width=2)
                writer.send(msgpack.packb(op))
                await asyncio.sleep(1 / 120)
            await asyncio.sleep(1.0)
        await asyncio.sleep(0.5)
        rss_after = rss_bytes(server.pid)
        lost = sum(1 for j in joiners if j.ws.closed.done())
        received = sum(j.ws.frames_received for j in joiners) / max(1, len(joiners))
    finally:
        await asyncio.gather(*(j.ws.close() for j in joiners if j.ws), return_exceptions=True)
    return {
        "server": server.label,
        "connections": count,
        "idle": idle,
        "rss_before_mb": rss_before / 1e6,
        "rss_after_mb": rss_after / 1e6,
        "rss_kb_per_connection": (rss_after - rss_before) / count / 1000,
        "frames_received_per_connection": received,
        "connections_lost": lost,
        "cpu_pressure": (cpu_pressure_us() - pressure_before) / 1e6 / (time.monotonic() - started),
    }
