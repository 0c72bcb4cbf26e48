"""The registry of loaded boards: each loaded lazily on first use, released when idle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..settings import Settings
from ..store.base import BoardStore
from .compactor import Compactor
from .hub import BoardHub
from .memory import MemoryTrimmer


class TooManyBoards(Exception):
    """``max_loaded_boards`` boards are loaded and every one is being watched."""


class Hubs:
    """Loaded boards by id: loaded lazily on first use, released when idle for idle_unload_s."""

    def __init__(
        self,
        store: BoardStore,
        settings: Settings,
        make_hub: Callable[[str, Callable[[BoardHub], None]], BoardHub] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.compactor = Compactor(settings.compact_yield_cpu_share, settings.compact_max_pause_s)
        self._make_hub = make_hub or (
            lambda board_id, on_idle: BoardHub(
                board_id, store.log(board_id), settings, on_idle, store.media, self.compactor
            )
        )
        self._hubs: dict[str, BoardHub] = {}
        self._loading: dict[str, asyncio.Future[BoardHub]] = {}
        self._unloading: set[asyncio.Task[None]] = set()
        self.trimmer = MemoryTrimmer(settings.memory_trim_interval_s)

    def loaded(self, board_id: str) -> BoardHub | None:
        return self._hubs.get(board_id)

    async def get(self, board_id: str) -> BoardHub:
        hub = self._hubs.get(board_id)
        if hub is not None:
            return hub
        future = self._loading.get(board_id)
        if future is not None:
            return await asyncio.shield(future)
        if len(self._hubs) + len(self._loading) >= self.settings.max_loaded_boards:
            self._unload_an_idle_board()
        future = asyncio.get_running_loop().create_future()
        self._loading[board_id] = future
        try:
            hub = self._make_hub(board_id, self._release)
            await hub.load()
            self._hubs[board_id] = hub
            future.set_result(hub)
            return hub
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters get it from the shield
            raise
        finally:
            del self._loading[board_id]

    def _unload_an_idle_board(self) -> None:
        """Make room by unloading the board idle longest (watched by nobody, waiting for its
        idle_unload_s); raise TooManyBoards when every loaded board is being watched."""
        for hub in self._hubs.values():
            if not hub.connections and hub._idle_timer is not None:
                self._release(hub)
                return
        raise TooManyBoards(
            f"the server has {self.settings.max_loaded_boards} boards open, its limit; "
            "try again later"
        )

    def _release(self, hub: BoardHub) -> None:
        if self._hubs.get(hub.board_id) is hub and (hub.failed or not hub.connections):
            del self._hubs[hub.board_id]
            task = asyncio.get_running_loop().create_task(hub.close())
            self._unloading.add(task)
            task.add_done_callback(self._unloaded)

    def _unloaded(self, task: asyncio.Task[None]) -> None:
        self._unloading.discard(task)
        self.trimmer.board_unloaded()

    def all_loaded(self) -> list[BoardHub]:
        return list(self._hubs.values())

    async def close(self) -> None:
        """Shutdown: flush every board, close every connection with GOING_AWAY, close the logs."""
        hubs, self._hubs = list(self._hubs.values()), {}
        timeout_s = self.settings.shutdown_close_s
        closing = (hub.close(close_timeout_s=timeout_s) for hub in hubs)
        await asyncio.gather(*closing, *self._unloading)
        self.trimmer.close()
        self.compactor.close()
