"""The board WebSocket: handshake, the receive loop, and closing so that closed means closed.

Sending needs no task: the hub writes to the socket directly (``sink.py``). After the server
decides to close (a refused hello, a full board, a client over its limits, a shutdown), the
handler keeps reading and dropping what the client sends until its close frame arrives, and the
socket is cut after ``close_timeout_s`` if it never does. Without that, Hypercorn would stop
reading the socket once its queue of 10 messages fills: the client's close frame would never be
read, the socket would stay open outside every limit, and the close code would reach the client
as 1006.

:class:`BoardSockets` knows every open socket, joined to a board or not, so a shutdown can close
each with 1001 and wait for it to be gone before Hypercorn would cancel it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

from .. import protocol
from ..logformat import log_event
from ..protocol import CloseCode, Hello, MalformedFrame
from ..settings import Settings
from . import budget
from .admission import Admission
from .asgi_socket import AsgiWebSocket, ClientGone
from .budget import WORK_CHARGE_UNITS, WORK_OVERRUN_UNITS, WORK_PER_ERROR_ANSWER, WorkBudget
from .connection import Connection, start_close
from .counters import COUNTS
from .hub import BoardHub
from .hubs import Hubs, TooManyBoards
from .sink import Sink, attach

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[Any]]


class OpenSocket:
    """One WebSocket: its sink once accepted, its connection once it joined a board."""

    __slots__ = ("conn", "sink")

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self.conn: Connection | None = None


class BoardSockets:
    """Every open board WebSocket of the app."""

    def __init__(self, hubs: Hubs, settings: Settings, admission: Admission) -> None:
        self.hubs = hubs
        self.settings = settings
        self.admission = admission
        self._open: dict[asyncio.Task[Any], OpenSocket] = {}
        self._closing_all = False
        self.unavailable: Callable[[], str | None] = lambda: None  # why no board can open now
        self._closers: list[tuple[asyncio.Task[None], asyncio.TimerHandle]] = []

    def __len__(self) -> int:
        return len(self._open)

    async def serve(
        self,
        websocket: AsgiWebSocket,
        board_id: str,
        welcome_extra: dict[str, Any],
        view_token: str | None = None,
    ) -> None:
        """Accept ``websocket`` and run it until the client is gone (``ClientGone`` ends it). It
        counts as open from the first moment (the admission check before this counts open
        sockets). With a ``view_token`` the connection is view-only (``BoardHub.join``)."""
        settings = self.settings
        task = asyncio.current_task()
        assert task is not None
        socket = self._open[task] = OpenSocket()
        try:
            # Joining is not charged to the address's work budget: a room's phones behind one
            # NAT share an address, and a thousand of them join within the same minute.
            address = websocket.remote_addr
            work = self.admission.work[address]
            url_hello = hello_in_url(websocket, settings)
            offered = protocol.SUBPROTOCOL in websocket.subprotocols
            await websocket.accept(protocol.SUBPROTOCOL if offered else None)
            sink = socket.sink = attach(websocket, settings.socket_send_buffer_bytes)
            receive: Receive = websocket.receive
            if self._closing_all:
                await close_and_drain(sink, receive, *_SHUTTING_DOWN, settings.shutdown_close_s)
                return
            unavailable = self.unavailable()
            if unavailable is not None:
                code, timeout_s = CloseCode.TRY_AGAIN_LATER, settings.close_timeout_s
                await close_and_drain(sink, receive, code, unavailable, timeout_s)
                return
            if url_hello is None:
                hello = await receive_hello(receive, settings)
            else:  # a URL hello: the welcome goes out with the handshake, no round trip
                hello = url_hello
            if not isinstance(hello, Hello):
                await close_and_drain(sink, receive, *hello, settings.close_timeout_s)
                return
            hub, refusal = await self._hub(board_id, address)
            if hub is None:
                timeout_s = settings.close_timeout_s
                await close_and_drain(sink, receive, CloseCode.BOARD_FULL, refusal, timeout_s)
                return
            conn = hub.join(hello, sink, welcome_extra, view_token)
            if conn is None:
                full = "this board has as many connections as it allows"
                await close_and_drain(
                    sink, receive, CloseCode.BOARD_FULL, full, settings.close_timeout_s
                )
                return
            socket.conn = conn
            try:
                await receive_loop(receive, hub, conn, settings, work)
                await drain(receive, settings.close_timeout_s)
            finally:
                hub.leave(conn)
        except ClientGone as gone:
            if gone.code != CloseCode.MESSAGE_TOO_BIG or socket.sink is None:
                raise
            timeout_s = settings.close_timeout_s
            await closed_too_big(socket.sink, websocket.receive, socket.conn, timeout_s)
        finally:
            del self._open[task]
            # A cancelled task keeps its CancelledError, whose traceback holds this frame: with
            # the task in it too, that is a cycle that would keep the board (``hub``) in memory
            # after it unloads, until the next full garbage collection.
            del task

    async def _hub(self, board_id: str, address: str) -> tuple[BoardHub | None, str]:
        """The board's hub, or why this client may not open it (admission: too many boards)."""
        loaded = self.hubs.loaded(board_id) is not None
        refusal = await self.admission.new_board_refusal(board_id, address, loaded)
        if refusal is not None:
            return None, refusal
        try:
            return await self.hubs.get(board_id), ""
        except TooManyBoards as exc:
            return None, str(exc)

    async def close_all(self) -> None:
        """Shutdown: close every socket not yet closed with 1001 (pages reconnect and resume) and
        wait until all are gone, cutting those that do not answer within ``shutdown_close_s``."""
        self._closing_all = True
        deadline_s = self.settings.shutdown_close_s
        for socket in list(self._open.values()):
            if socket.conn is not None:
                socket.conn.close(*_SHUTTING_DOWN, deadline_s)
            elif socket.sink is not None:  # in its handshake: the handler ends with the socket
                self._closers.append(start_close(socket.sink, *_SHUTTING_DOWN, deadline_s))
            # not accepted yet: it sees _closing_all once it is, and closes itself
        if self._open:
            await asyncio.wait(list(self._open), timeout=deadline_s + 0.5)
        self._closers.clear()


_SHUTTING_DOWN = (CloseCode.GOING_AWAY, "server restarting")


def hello_in_url(websocket: AsgiWebSocket, settings: Settings) -> Hello | tuple[int, str] | None:
    """The hello of the socket's URL (``protocol.hello_from_url``), the close code and reason to
    refuse it with, or None: the client sends its hello as the first frame."""
    try:
        hello = protocol.hello_from_url(websocket.query, websocket.subprotocols, settings.limits)
    except protocol.InvalidMessage as exc:
        return CloseCode.BAD_HANDSHAKE, f"bad hello: {exc.reason}"
    return None if hello is None else spoken(hello)


async def receive_hello(receive: Receive, settings: Settings) -> Hello | tuple[int, str]:
    """The client's hello, or the close code and reason to refuse it with."""
    try:
        async with asyncio.timeout(settings.hello_timeout_s):
            data = await receive()
    except TimeoutError:
        return CloseCode.BAD_HANDSHAKE, "no hello in time"
    if not isinstance(data, bytes):
        return CloseCode.UNSUPPORTED_DATA, "frames are binary msgpack"
    try:
        messages = protocol.decode_frame(data, settings.limits)
    except MalformedFrame as exc:
        return CloseCode.BAD_HANDSHAKE, str(exc)
    first = messages[0] if len(messages) == 1 else None
    if isinstance(first, protocol.InvalidMessage):
        return CloseCode.BAD_HANDSHAKE, f"bad hello: {first.reason}"
    if not isinstance(first, Hello):
        return CloseCode.BAD_HANDSHAKE, "the first message must be a hello"
    return spoken(first)


def spoken(first: Hello) -> Hello | tuple[int, str]:
    """``first``, or UNSUPPORTED_VERSION when this server does not speak its version."""
    if not protocol.speaks(first.version):
        return (
            CloseCode.UNSUPPORTED_VERSION,
            f"protocol {first.version} is not served (this server speaks "
            f"{protocol.MIN_PROTOCOL_VERSION}-{protocol.PROTOCOL_VERSION}): reload the page",
        )
    return first


async def receive_loop(
    receive: Receive, hub: BoardHub, conn: Connection, settings: Settings, work: WorkBudget
) -> None:
    """Apply the client's frames until the connection is closed (by either side), charging each
    frame and message to the client address's work budget (``budget.py``): a message its
    estimate, and what it took beyond that when it took over ``WORK_OVERRUN_UNITS`` more."""
    limits = settings.limits
    while conn.close_code is None:
        data = await receive()
        if not isinstance(data, bytes):
            conn.close(CloseCode.UNSUPPORTED_DATA, "frames are binary msgpack")
            return
        if not conn.allow(len(data)):
            conn.close(CloseCode.RATE_LIMITED, "too many messages: slow down")
            return
        resumed = perf_counter()  # when this connection last took the loop (budget.wait)
        if await work.pay_frame(len(data), perf_counter() - resumed):
            resumed = perf_counter()
        try:
            maps = protocol.frame_maps(data, limits)
        except MalformedFrame as exc:
            conn.close(CloseCode.MALFORMED_FRAME, str(exc))
            return
        COUNTS.frames_in += 1
        COUNTS.ops_in += len(maps)
        unpaid = 0  # cheap messages' work, charged together (WORK_CHARGE_UNITS)
        for obj in maps:
            message = protocol.decode_or_error(obj, limits)
            units = hub.board.work_units(message, conn.author)
            unpaid += units
            if unpaid >= WORK_CHARGE_UNITS:
                wait_s, unpaid = work.charge(unpaid), 0
                if wait_s is not None:
                    await budget.wait(wait_s, perf_counter() - resumed)
                    resumed = perf_counter()
            if conn.close_code is not None:
                return
            if hub.must_wait(conn, message):  # a big restore is built (this one's, or another's)
                await hub.ready(conn, message)
                resumed = perf_counter()
                if conn.close_code is not None:
                    return
            errors, started = conn.errors, perf_counter()
            hub.handle(conn, message)
            overrun = round((perf_counter() - started) * 1e6) - units
            if overrun > WORK_OVERRUN_UNITS:  # estimated far too low: pay what it took
                unpaid += overrun
            if conn.errors != errors and await work.pay(  # answered on its own frame
                WORK_PER_ERROR_ANSWER, perf_counter() - resumed
            ):
                resumed = perf_counter()
        if unpaid:
            await work.pay(unpaid, perf_counter() - resumed)


async def closed_too_big(
    sink: Sink, receive: Receive, conn: Connection | None, timeout_s: float
) -> None:
    """Hypercorn refused a message over ``max_frame_bytes``: it sent the 1009 close frame itself
    and the app hears of it as the client gone (``stack.py``), but the client may still be
    there. As after the app's own closes, wait for its answer to the close (each further message
    of its is one more 1009 here) and abort the socket after ``timeout_s`` if none comes: ending
    the handler at once would close a socket whose client was still sending, and the kernel
    then resets it, which can lose the close frame on its way. Logged once, as they are."""
    if conn is None or conn.close_code is None:
        code, reason = CloseCode.MESSAGE_TOO_BIG, "message too big"
        COUNTS.closes[code] += 1
        if conn is None:
            log_event(log, logging.INFO, "refused", code=code, reason=reason)
        else:
            conn.close_code, conn.close_reason = code, reason
            on = {"board": conn.board_id, "peer": conn.peer}
            log_event(log, logging.INFO, "closed", **on, code=code, reason=reason)
    timer = asyncio.get_running_loop().call_later(timeout_s, sink.abort)
    try:
        async with asyncio.timeout(timeout_s + 1):  # as in ``drain``
            while True:
                try:
                    await receive()
                except ClientGone as gone:
                    if gone.code != CloseCode.MESSAGE_TOO_BIG:
                        return
    except TimeoutError:
        pass
    finally:
        timer.cancel()


async def close_and_drain(
    sink: Sink, receive: Receive, code: int, reason: str, timeout_s: float
) -> None:
    """Refuse a socket that did not join: one log line, the close frame, then drain."""
    log_event(log, logging.INFO, "refused", code=code, reason=reason)
    task, timer = start_close(sink, code, reason, timeout_s)
    try:
        await drain(receive, timeout_s)
    finally:
        timer.cancel()
        task.cancel()


async def drain(receive: Receive, timeout_s: float) -> None:
    """Read and drop frames until the client's close arrives (the handler is then cancelled).

    The socket is aborted after ``timeout_s`` (``start_close``), which ends this too; the extra
    second only guards against a server that does not report the disconnect.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s + 1):
            while True:
                await receive()
