"""The stack's reference: a bare Quart + Hypercorn relay written the idiomatic way.

Each connection gets a bounded ``asyncio.Queue`` and a sender task that awaits
``websocket.send`` for every frame (Quart's chat example, with the queue bounded); each frame a
client sends is put, unchanged, on the queue of every other client of the same path. A client
whose queue is full is closed (1008), as a bounded relay must. permessage-deflate is declined
with the same patch the whiteboard uses. No validation, no state, no log, no batching: what any
fan-out on this stack pays at least, per frame and per connection.

    python bench/relay_quart.py --port 8802
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections import defaultdict
from pathlib import Path

from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, websocket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from whiteboard.server.stack import decline_permessage_deflate

QUEUE_FRAMES = 1024  # the whiteboard's former send_queue_frames

app = Quart(__name__)
rooms: defaultdict[str, set[asyncio.Queue[bytes | None]]] = defaultdict(set)


def drop(queue: asyncio.Queue[bytes | None]) -> None:
    """The reader of ``queue`` is too slow: empty it and tell its sender to close."""
    while not queue.empty():
        queue.get_nowait()
    queue.put_nowait(None)


@app.websocket("/b/<board>/ws")
async def relay(board: str) -> None:
    await websocket.accept()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_FRAMES)
    room = rooms[board]
    room.add(queue)

    async def sender() -> None:
        while (frame := await queue.get()) is not None:
            await websocket.send(frame)
        await websocket.close(1008, "too slow")

    task = asyncio.create_task(sender())
    try:
        while not task.done():
            data = await websocket.receive()
            for other in list(room):
                if other is not queue:
                    try:
                        other.put_nowait(data)
                    except asyncio.QueueFull:
                        room.discard(other)
                        drop(other)
    finally:
        room.discard(queue)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if not room:
            rooms.pop(board, None)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args()
    decline_permessage_deflate()
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    config.backlog = args.backlog
    config.websocket_ping_interval = 20
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(app, config, shutdown_trigger=stop.wait)


if __name__ == "__main__":
    asyncio.run(main())
