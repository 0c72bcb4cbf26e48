"""Sending finished pictures: the responses of the export routes, paced so that a room fetching
one picture cannot hold up live drawing (``docs/security.md``, export storms)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from quart import Response, request

from .cache import Cached

RESPONSE_CHUNK_BYTES = 64 * 1024
"""Size of the pieces an export's body is sent in (tens of µs of event-loop time each)."""
BODIES_IN_FLIGHT = 4
"""Export bodies written at once; the others wait their turn piece by piece. 200 clients of one
shared link fetching an 8 MB picture otherwise kept 200 writes ready in every turn of the event
loop, and live drawing waited ~1 s (bench/bench_export_storm.py)."""
PIECES_PER_PLACE = 16
"""Pieces (1 MiB) a body sends before it lets another body have its place (``_chunks``)."""
SLOW_PIECE_S = 0.002
"""A piece whose send took longer than this waited for its reader: the body gives its place up."""
RESPONSES_STARTING = 2
"""Export responses being started at once (see ``PictureSender.send``)."""
TURN_TIMEOUT_S = 10.0
"""A response whose body was never read gives its turn back after this long."""


def refusal(status: int, reason: str, retry_after_s: int | None = None) -> Response:
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else {}
    return Response(reason + "\n", status, mimetype="text/plain", headers=headers)


def if_none_match() -> set[str]:
    """The ETags this request's ``If-None-Match`` names."""
    raw = request.headers.get("If-None-Match", "")
    return {tag.strip().removeprefix("W/") for tag in raw.split(",") if tag.strip()}


class Once:
    """Call ``action`` the first time this is called, never again."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


def nothing() -> None:
    pass


class PictureSender:
    """Starts export responses a few at a time and writes their bodies piece by piece.

    Made on the serving loop (its semaphores belong to it)."""

    def __init__(self) -> None:
        self._writing = asyncio.Semaphore(BODIES_IN_FLIGHT)
        self._starting = asyncio.Semaphore(RESPONSES_STARTING)

    async def send(
        self,
        name: str,
        kind: str,
        entry: Cached,
        window: tuple[float, float] | None = None,
    ) -> Response:
        """The picture, once it is this request's turn: at most ``RESPONSES_STARTING`` responses
        start at once, each turn ending when its first piece is out. Starting a response costs
        the framework a few milliseconds, and 200 waiters of one render all woke in the same turn
        of the event loop: live drawing stalled 1.8 s (bench/bench_export_storm.py).

        A ``fit`` picture names the view it shows (``X-Whiteboard-Picture``: x, y, zoom of its
        top-left corner) and the one a page opens at (``X-Whiteboard-View``): for a page of
        ``window`` (CSS width, height) that shares it with nearby windows, ``Frame.page_view``."""
        await self._starting.acquire()
        done = Once(self._starting.release)
        asyncio.get_running_loop().call_later(TURN_TIMEOUT_S, done)  # a body never read
        headers = {
            "ETag": entry.etag,
            "Cache-Control": "no-cache",
            "Content-Disposition": f'inline; filename="{name}.{kind}"',
        }
        frame = entry.result.frame
        if frame is not None and frame.scaled_down:
            headers["X-Whiteboard-Scaled"] = f"{frame.scale:.6g}"
        if frame is not None and frame.view is not None:  # a ``fit``
            view = frame.view if window is None else frame.page_view(*window)
            headers["X-Whiteboard-View"] = ",".join(repr(v) for v in view)
            picture = (frame.x, frame.y, frame.view[2])
            headers["X-Whiteboard-Picture"] = ",".join(repr(v) for v in picture)
        if entry.etag in if_none_match():
            done()
            return Response("", 304, headers=headers)
        data = entry.result.data
        headers["Content-Length"] = str(len(data))
        return Response(
            self._chunks(data, done), 200, mimetype=entry.result.media_type, headers=headers
        )

    async def _chunks(self, data: bytes, started: Callable[[], None]) -> AsyncIterator[bytes]:
        """The body in pieces, at most ``BODIES_IN_FLIGHT`` bodies at a time, the event loop
        turning between pieces: an 8 MB PNG otherwise went out in one step of the loop, and 200
        of them kept live drawing waiting (bench/bench_export_storm.py).

        A body keeps its place for up to ``PIECES_PER_PLACE`` pieces, and gives it up sooner
        when a piece did not go straight out (a slow reader), so the others waiting are not
        woken at all meanwhile: with a place taken per piece, every waiting body woke once per
        piece, and 200 bodies made turns of 9 ms with 160 wake-ups each."""
        view = memoryview(data)
        loop = asyncio.get_running_loop()
        start = 0
        try:
            while start < len(data):
                async with self._writing:
                    for _ in range(PIECES_PER_PLACE):
                        sent_at = loop.time()
                        yield bytes(view[start : start + RESPONSE_CHUNK_BYTES])
                        start += RESPONSE_CHUNK_BYTES
                        started()
                        if start >= len(data) or loop.time() - sent_at > SLOW_PIECE_S:
                            break
                        # A write into a socket buffer with room never suspends, so without this
                        # one task wrote a whole body in one turn of the loop.
                        await asyncio.sleep(0)
        finally:
            started()
