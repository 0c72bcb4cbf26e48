"""The baseline: a minimal relay written with the ``websockets`` library.

Each frame a client sends is forwarded, unchanged, to every other client on the same path, with
``websockets.broadcast`` (one write per receiver, no queue, no backpressure). No validation, no
state, no log, no batching: the cheapest fan-out Python offers on asyncio, so the whiteboard
server's figures are reported as a ratio to it (``bench_fanout.py``).

    python bench/relay_websockets.py --port 8801
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def relay(connection: ServerConnection) -> None:
    path = connection.request.path
    room = rooms[path]
    room.add(connection)
    try:
        async for frame in connection:
            broadcast([peer for peer in room if peer is not connection], frame)
    finally:
        room.discard(connection)
        if not room:
            del rooms[path]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # compression=None: like the whiteboard server, decline permessage-deflate.
    async with serve(
        relay, "127.0.0.1", args.port, compression=None, max_size=None, ping_interval=20
    ):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
