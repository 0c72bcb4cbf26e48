"""Media routes: ``POST /b/<id>/media`` (upload an image) and ``GET /media/<key>/<name>``.

An upload needs the board's id, the key to editing it: a view-only page never learns it, so it
cannot upload. The request's ``Origin`` is checked like the WebSocket's, each client address
is rate-limited (``uploads_per_minute``), and the body is read only up to ``max_upload_bytes``.
Checking and re-encoding (``images.py``) run in a thread, one upload at a time, so a big photo
never stalls live drawing; what is stored counts against the disk quotas. Every refusal is a 4xx
(507 for a full disk) with a JSON ``{"error": reason}``, and leaves nothing on disk.

Images are served with the type the server wrote and ``Cache-Control: immutable``: a name is the
hash of its bytes, so it never changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from quart import Quart, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..protocol import ID_PATTERN
from ..settings import Settings
from ..store.base import BoardStore, MediaStore, StorageFull, TooManyImages

log = logging.getLogger(__name__)

CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
"""What each stored extension is served as (what ``images.py`` wrote)."""
CACHE_FOREVER = "public, max-age=31536000, immutable"
MAX_SWEEP_INTERVAL_S = 600.0
MAX_TRACKED_CLIENTS = 10_000
"""Client addresses whose upload budget is remembered; the oldest are forgotten first."""


class UploadBudget:
    """A token bucket per client address: ``rate_per_minute``, bursts of twice that."""

    def __init__(self, rate_per_minute: float) -> None:
        self.rate_per_s = rate_per_minute / 60
        self.burst = 2 * rate_per_minute
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str, now: float | None = None) -> float:
        """Take one upload; returns 0, or the seconds to wait when the budget is spent."""
        now = time.monotonic() if now is None else now
        tokens, stamp = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate_per_s)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate_per_s
        self._buckets[client] = (tokens - 1, now)
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.pop(next(iter(self._buckets)))
        return 0.0


def refuse(status: int, reason: str, retry_after_s: float | None = None) -> Response:
    response = Response(json.dumps({"error": reason}), status, mimetype="application/json")
    if retry_after_s is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after_s)))
    return response


def register_media(
    app: Quart,
    store: BoardStore,
    settings: Settings,
    origin_allowed: Callable[[str, str, Settings], bool],
) -> None:
    media = store.media
    budget = UploadBudget(settings.uploads_per_minute)
    one_at_a_time = asyncio.Semaphore(1)

    @app.post("/b/<board_id>/media")
    async def upload(board_id: str) -> Any:
        # Pillow is imported on the first upload, not with the server: a server that never
        # receives an image never loads it (tests/integration/test_export_http.py).
        from .images import Limits, UploadRefused, prepare

        limits = Limits(
            settings.max_upload_bytes, settings.max_image_pixels, settings.max_image_side_px
        )
        if not ID_PATTERN.fullmatch(board_id):
            return refuse(404, "board ids are 1-64 characters of A-Z a-z 0-9 _ -")
        origin = request.headers.get("Origin")
        if origin is not None and not origin_allowed(origin, request.host, settings):
            return refuse(403, f"origin {origin} may not upload to this board")
        wait_s = budget.take(request.remote_addr or "-")
        if wait_s:
            return refuse(429, "too many uploads: wait a little", wait_s)
        if (request.content_length or 0) > settings.max_upload_bytes:
            return refuse(
                413,
                f"the file has {request.content_length} bytes; "
                f"the limit is {settings.max_upload_bytes}",
            )
        request.max_content_length = settings.max_upload_bytes
        try:
            data = await request.get_data(cache=False, as_text=False)
        except RequestEntityTooLarge:
            return refuse(413, f"the file is larger than {settings.max_upload_bytes} bytes")
        try:
            async with one_at_a_time:
                prepared = await asyncio.to_thread(
                    prepare, data, request.headers.get("Content-Type"), limits
                )
            stored = await media.put(board_id, prepared.data, prepared.ext)
        except UploadRefused as exc:
            return refuse(exc.status, exc.reason)
        except TooManyImages as exc:
            return refuse(409, str(exc))
        except StorageFull as exc:
            return refuse(507, f"the server is out of space for this board: {exc}")
        body = {
            "src": stored.name,
            "url": f"/media/{media.key(board_id)}/{stored.name}",
            "width": prepared.width,
            "height": prepared.height,
        }
        return body, 201

    @app.get("/media/<key>/<name>")
    async def serve_media(key: str, name: str) -> Any:
        data = await media.read(key, name)
        if data is None:
            return refuse(404, "no such image")
        ext = name.rsplit(".", 1)[1]
        return Response(
            data,
            200,
            headers={"Content-Type": CONTENT_TYPES[ext], "Cache-Control": CACHE_FOREVER},
        )

    sweeper: list[asyncio.Task[None]] = []

    @app.before_serving
    async def start_sweeping() -> None:
        sweeper.append(asyncio.get_running_loop().create_task(sweep_forever(media)))

    @app.after_serving
    async def stop_sweeping() -> None:
        for task in sweeper:
            task.cancel()


async def sweep_forever(media: MediaStore) -> None:
    """Delete abandoned uploads now and then: every quarter of the grace period (at most every
    ``MAX_SWEEP_INTERVAL_S``), so none outlives its grace by more than that."""
    interval_s = min(MAX_SWEEP_INTERVAL_S, max(1.0, media.grace_s / 4))
    while True:
        try:
            await media.sweep()
        except Exception:
            log.exception("media: sweeping abandoned uploads failed; trying again later")
        await asyncio.sleep(interval_s)
