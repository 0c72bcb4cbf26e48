"""Redis mode for one worker process: the link, the store, hubs that cross workers, and the checks
an operator needs at start-up (eviction, durability)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..protocol import CloseCode
from ..server.hub import BoardHub
from ..server.hubs import Hubs
from ..settings import Settings
from ..store.redis import RedisStore, connect
from .hub import ClusterHub
from .link import RedisLink

log = logging.getLogger(__name__)


class RedisMode:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.link = RedisLink(connect(settings.redis_url), settings.redis_url)
        self.store = RedisStore(
            self.link.client, settings, self.link.worker_id, ready=lambda: self.link.ready
        )
        self._hubs: Hubs | None = None
        self._secret_task: asyncio.Task[None] | None = None

    def make_hub(self, board_id: str, on_idle: Callable[[BoardHub], None]) -> BoardHub:
        log_ = self.store.log(board_id)
        compactor = None if self._hubs is None else self._hubs.compactor
        return ClusterHub(
            board_id, log_, self.settings, on_idle, self.link, self.store.media, compactor
        )

    def unavailable(self) -> str | None:
        """Why no board can be opened now (new handshakes get 1013), or None."""
        if not self.link.ready:
            return "the server's storage (Redis) does not answer: try again shortly"
        return None

    async def start(self, hubs: Hubs) -> None:
        self._hubs = hubs
        self.link.on_ready_change(self._ready_changed)
        await self.link.start()
        try:
            await self.store.media.load_secret()
            await self.check_configuration()
        except Exception as exc:  # Redis down at start-up: the probe will say when it is back
            log.warning("could not read Redis' configuration (%s)", exc)

    async def stop(self) -> None:
        await self.link.stop()

    def _ready_changed(self, ready: bool) -> None:
        if ready:
            self._secret_task = asyncio.get_running_loop().create_task(self._load_secret())
            return
        if self._hubs is None:
            return
        for hub in self._hubs.all_loaded():
            if isinstance(hub, ClusterHub):
                hub.history_replaced("Redis does not answer", CloseCode.TRY_AGAIN_LATER)

    async def _load_secret(self) -> None:
        """Redis answers again (or for the first time): media keys need the shared secret."""
        try:
            await self.store.media.load_secret()
        except Exception as exc:
            log.warning("could not read the media secret from Redis (%s)", exc)

    async def check_configuration(self) -> None:
        """Warn about settings under which Redis would lose boards or break the promise made."""
        client = self.link.client
        policy = (await client.config_get("maxmemory-policy")).get("maxmemory-policy", "")
        if policy != "noeviction":
            log.warning(
                "Redis maxmemory-policy is %r: under memory pressure Redis would evict keys, "
                "silently losing boards; set it to noeviction",
                policy,
            )
        config = await client.config_get("appendonly")
        appendonly = config.get("appendonly", "no")
        fsync = (await client.config_get("appendfsync")).get("appendfsync", "")
        promised = self.settings.redis_durability
        actual = fsync if appendonly == "yes" else "none"
        if promised == "always" and actual != "always":
            log.warning(
                "redis_durability is 'always' but Redis runs appendonly=%s appendfsync=%s: "
                "acknowledged ops can be lost if Redis stops; set appendonly yes and "
                "appendfsync always, or promise less with --redis-durability everysec",
                appendonly,
                fsync,
            )
        elif promised == "everysec" and actual not in ("always", "everysec"):
            log.warning(
                "redis_durability is 'everysec' but Redis runs appendonly=%s: a Redis restart "
                "loses every board; turn on appendonly",
                appendonly,
            )
        else:
            log.info("Redis durability: appendonly=%s appendfsync=%s", appendonly, fsync)
