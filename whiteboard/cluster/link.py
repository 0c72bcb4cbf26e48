"""One worker's link to Redis: its identity, one subscription connection for every board it holds,
an ordered publisher, and a health probe.

Pub/sub delivers at most once, and a listener that dies quietly leaves a worker deaf (the
python-socketio #1581 lesson), so nothing here trusts the subscription to stay alive: the listener
is a loop that rebuilds the connection and resubscribes after any failure, with backoff reset by
every success, and tells every board when it did so, so each can fetch what it missed from its
stream. Redis being down never ends a task: ``ready`` turns False, handshakes are refused
(1013), and everything resumes when Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

from redis.asyncio import Redis

from ..logformat import log_event
from ..store.redis_keys import PREFIX, channel

log = logging.getLogger(__name__)

WORKERS_KEY = f"{PREFIX}:workers"
PROBE_INTERVAL_S = 0.5
PROBE_TIMEOUT_S = 0.2
RESUBSCRIBE_BACKOFF_S = (0.05, 0.1, 0.25, 0.5, 1.0)
POLL_S = 0.02
"""How often the listener looks for boards to (un)subscribe between messages."""
FOLLOW_TIMEOUT_S = 2.0
PUBLISH_BATCH = 64
"""PUBLISHes sent in one pipeline: a tick's messages for every board this worker holds."""


class ChannelListener(Protocol):
    """A board that wants its channel's messages (``cluster/board.py``)."""

    def on_message(self, payload: bytes) -> None: ...

    def on_resubscribed(self) -> None:
        """Messages may have been lost since the last one: check for gaps."""
        ...


class RedisLink:
    def __init__(self, client: Redis, url: str) -> None:
        self.client = client
        self.url = url
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.worker_number = 0  # unique among all workers ever started on this Redis
        self.ready = False
        self.run_id = ""
        self.reconnects = 0
        self._listeners: dict[str, ChannelListener] = {}  # channel name -> board
        self._subscribed: set[str] = set()
        self._changed = asyncio.Event()
        self._outgoing: list[tuple[str, bytes]] = []
        self._outgoing_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._on_ready_change: list[Callable[[bool], None]] = []

    async def start(self) -> None:
        """Take a worker number (peer ids stay unique across workers) and start the loops.

        Redis being down at start-up is not fatal: the number is taken when it answers."""
        self._tasks = [
            asyncio.create_task(self._probe_loop(), name="redis-probe"),
            asyncio.create_task(self._listen_loop(), name="redis-listen"),
            asyncio.create_task(self._publish_loop(), name="redis-publish"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.client.aclose()

    def on_ready_change(self, callback: Callable[[bool], None]) -> None:
        self._on_ready_change.append(callback)

    # --- subscriptions ---------------------------------------------------------------------------

    async def follow(self, board_id: str, listener: ChannelListener) -> bool:
        """Subscribe to the board's channel; True once Redis confirmed it (False: not within
        ``FOLLOW_TIMEOUT_S``, e.g. Redis is down; the listener subscribes when it is back)."""
        name = channel(board_id)
        self._listeners[name] = listener
        self._changed.set()
        deadline = time.monotonic() + FOLLOW_TIMEOUT_S
        while name not in self._subscribed and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL_S)  # the listener subscribes between two messages
        return name in self._subscribed

    def unfollow(self, board_id: str) -> None:
        self._listeners.pop(channel(board_id), None)
        self._changed.set()

    def subscribed(self, board_id: str) -> bool:
        return channel(board_id) in self._subscribed

    async def _listen_loop(self) -> None:
        failures = 0
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await self._listen(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: rebuild the subscription, never give up
                delay = RESUBSCRIBE_BACKOFF_S[min(failures, len(RESUBSCRIBE_BACKOFF_S) - 1)]
                failures += 1
                if failures == 1:
                    log_event(log, logging.WARNING, "redis_resubscribe", reason=str(exc))
                await asyncio.sleep(delay)
            else:
                failures = 0
            finally:
                self._subscribed.clear()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _listen(self, pubsub: Any) -> None:
        """Keep the subscription equal to the boards held; hand every message to its board."""
        first = True
        while True:
            wanted = set(self._listeners)
            self._changed.clear()
            added, removed = wanted - self._subscribed, self._subscribed - wanted
            if added or first:
                await pubsub.subscribe(*(added or wanted or {f"{PREFIX}:none"}))
            if removed:
                await pubsub.unsubscribe(*removed)
            self._subscribed = set(wanted)
            if first:
                first = False
                self.reconnects += 1
                for listener in list(self._listeners.values()):
                    listener.on_resubscribed()  # what was published while nobody listened
            elif added:
                for name in added:
                    listener = self._listeners.get(name)
                    if listener is not None:
                        listener.on_resubscribed()
            while not self._changed.is_set():
                message = await pubsub.get_message(timeout=POLL_S)
                if message is None or message.get("type") != "message":
                    continue
                name = message["channel"].decode()
                listener = self._listeners.get(name)
                if listener is not None:
                    try:
                        listener.on_message(message["data"])
                    except Exception:
                        log.exception("board channel %s: message not handled", name)

    # --- publishing ------------------------------------------------------------------------------

    def publish(self, board_id: str, payload: bytes) -> None:
        """Queue ``payload`` for the board's channel; sent in order, never blocking the caller."""
        self._outgoing.append((channel(board_id), payload))
        self._outgoing_ready.set()

    async def _publish_loop(self) -> None:
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready.clear()
            while self._outgoing:
                batch = self._outgoing[:PUBLISH_BATCH]
                del self._outgoing[:PUBLISH_BATCH]
                try:
                    pipe = self.client.pipeline(transaction=False)
                    for name, payload in batch:
                        pipe.publish(name, payload)
                    await pipe.execute()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # lost: live events only, commits are retried
                    log.debug("redis publish failed (%s); %d messages dropped", exc, len(batch))

    # --- health ----------------------------------------------------------------------------------

    async def _probe_loop(self) -> None:
        while True:
            ok = False
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S * 10 if not self.ready else 1.0):
                    started = time.monotonic()
                    info = await self.client.info("server")
                    ok = time.monotonic() - started < max(PROBE_TIMEOUT_S, 1.0)
                    self.run_id = info.get("run_id", "")
                    if ok and not self.worker_number:
                        self.worker_number = int(await self.client.incr(WORKERS_KEY))
            except asyncio.CancelledError:
                raise
            except Exception:
                ok = False
            if ok != self.ready:
                self.ready = ok
                if ok:
                    log_event(
                        log, logging.INFO, "redis_up", run=self.run_id[:8], worker=self.worker_id
                    )
                else:
                    log_event(log, logging.WARNING, "redis_down", worker=self.worker_id)
                for callback in list(self._on_ready_change):
                    callback(ok)
            await asyncio.sleep(PROBE_INTERVAL_S)

    async def ping_ms(self) -> float:
        """One PING's round trip (``/readyz``); raises when Redis does not answer in time."""
        started = time.monotonic()
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            await self.client.ping()
        return (time.monotonic() - started) * 1000
