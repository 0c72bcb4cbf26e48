"""What this app changes in Hypercorn 0.18, and why (pinned in ``pyproject.toml``; each change is
checked by ``tests/integration``). Each replaces a name Hypercorn looks up when it needs it (in its
``ws_stream`` module, or a method of its task group), so no Hypercorn code is copied.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import hypercorn.protocol.ws_stream as ws_stream
from hypercorn.asyncio.task_group import TaskGroup
from wsproto.events import Message
from wsproto.extensions import PerMessageDeflate


class _DeclinedDeflate(PerMessageDeflate):
    """permessage-deflate that never accepts an offer.

    Browsers always offer it and Hypercorn 0.18 always accepts it, then compresses every frame once
    per receiver, which makes batched fan-out 4-6x slower. Hypercorn has no setting for it and
    negotiates before the app sees the request, so this replaces the class it looks up at accept
    time (``ws_stream.Handshake.accept``).
    """

    def accept(self, offer: str) -> None:  # type: ignore[override]
        return None


class _ClosingBuffer(ws_stream.WebsocketBuffer):
    """A message buffer that drops everything after a message went over the size limit.

    Hypercorn closes such a connection with 1009 but leaves the oversized message in its buffer;
    the client's next frame was then appended to it (a text frame after a binary one raised a
    ``TypeError``, a traceback in the log). Raising again for every later frame was no better:
    Hypercorn stops reading the frames that arrived with it, so the client's answer to the close
    was never read, and a client that sent one more frame after an oversized one kept its socket
    open for as long as it liked, its page never told of the 1009. So once over, the rest of the
    message and every later one are dropped here, unread by the app, which is told at once that
    the client is gone (code 1009, through ``tell_app``): it leaves the board and its socket
    closes (``sockets.py`` aborts it if the client does not read). Hypercorn itself tells the app
    only at the end of a message: a client that sent all of an oversized message, or part of
    one, and then fell silent kept its socket open and its place on the board for ever.
    """

    def __init__(self, max_length: int) -> None:
        super().__init__(max_length)
        self.overflowed = False
        self.tell_app: Callable[[dict], None] | None = None  # set by spawn_app, below

    def extend(self, event: Message) -> None:
        if self.overflowed:
            return
        try:
            super().extend(event)
        except ws_stream.FrameTooLargeError:
            self.overflowed = True
            self.value = None  # the oversized part is not kept
            if self.tell_app is not None:
                self.tell_app(TOO_BIG)
            raise

    def to_message(self) -> dict:
        if self.overflowed:
            return TOO_BIG
        return super().to_message()


TOO_BIG = {"type": "websocket.disconnect", "code": 1009}
"""What the app is told of a client whose message went over the limit (Hypercorn sent the
1009 close frame)."""


_hypercorn_spawn_app = TaskGroup.spawn_app


async def _spawn_app_dropping_late_events(
    self: TaskGroup, app: Callable[..., Awaitable[None]], *args: Any
) -> Callable[[dict], Awaitable[None]]:
    """Hypercorn's ``spawn_app``, whose queue of events for the app drops what arrives once the
    app has returned.

    Hypercorn reads a connection and puts each message in a queue of 10 for the app, waiting
    when it is full. Once the app has returned nobody takes from it, yet a client that goes on
    sending (after an oversized frame each further message becomes one more "disconnect") filled
    it: the connection's reader then waited for ever, and so did Hypercorn closing the stream
    (it puts a last "disconnect"), so the socket stayed open until a shutdown cancelled the
    task after its grace period, logging a CancelledError traceback for it. Now what the app
    left in the queue is dropped when it returns, which releases a reader waiting on it, and
    every later event is dropped too. It also gives a WebSocket's ``_ClosingBuffer`` the way to
    tell the app of an oversized message at once.
    """
    finished = False

    async def app_then_drop(
        scope: dict, receive: Callable[[], Awaitable[dict]], *rest: Any
    ) -> None:
        nonlocal finished
        try:
            await app(scope, receive, *rest)
        finally:
            finished = True
            queue = getattr(receive, "__self__", None)  # the bound ``get`` of Hypercorn's queue
            while isinstance(queue, asyncio.Queue) and not queue.empty():
                queue.get_nowait()

    put = await _hypercorn_spawn_app(self, app_then_drop, *args)

    async def put_unless_finished(event: dict) -> None:
        if not finished:
            await put(event)

    stream = getattr(args[-1], "__self__", None)  # Hypercorn passes the stream's ``app_send``
    buffer = getattr(stream, "buffer", None)
    if isinstance(buffer, _ClosingBuffer):
        telling: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak refs)

        def tell_app(event: dict) -> None:
            # From inside Hypercorn's reader, which cannot wait here: the queue may be full.
            task = asyncio.get_running_loop().create_task(put_unless_finished(event))
            telling.add(task)
            task.add_done_callback(telling.discard)

        buffer.tell_app = tell_app
    return put_unless_finished


def decline_permessage_deflate() -> None:
    ws_stream.PerMessageDeflate = _DeclinedDeflate  # type: ignore[misc]


def install() -> None:
    """Apply every change (idempotent): before serving, in ``create_app``."""
    decline_permessage_deflate()
    ws_stream.WebsocketBuffer = _ClosingBuffer  # type: ignore[misc]
    TaskGroup.spawn_app = _spawn_app_dropping_late_events  # type: ignore[method-assign]
