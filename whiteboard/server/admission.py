"""Who may connect and what they may open: limits that keep one client from exhausting what every
board shares (file descriptors, loaded boards, disk quota, CPU).

- Connections: at most ``max_connections`` WebSockets, by default the process's open-file limit
  less ``reserved_fds`` and the store's pool of open logs, so that accepting a connection and
  writing a log always find a descriptor (``store/descriptors.py``). More get 503.
- New boards: a client address may open ``new_boards_per_client_per_hour`` boards that do not
  exist yet (bursts of as many): opening one loads it and, once drawn on, creates a file.
- Work: each address has a ``WorkBudget`` (``budget.py``), shared by all its connections.

Per-address state lives in a bounded LRU: forgetting an address whose buckets had refilled
changes nothing; behind a reverse proxy, ``trusted_proxy_hops`` makes the address the client's.
"""

from __future__ import annotations

import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..settings import Settings
from ..store.base import BoardStore
from .budget import WorkBudget

MAX_TRACKED_CLIENTS = 65_536
"""Client addresses whose budgets are remembered; the least recently seen are forgotten first."""
MIN_CONNECTIONS = 16

T = TypeVar("T")


class PerClient(Generic[T]):
    """One ``T`` per client address, made on first sight, least recently seen forgotten first."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._items: OrderedDict[str, T] = OrderedDict()

    def __getitem__(self, address: str) -> T:
        item = self._items.get(address)
        if item is None:
            item = self._items[address] = self._make()
            if len(self._items) > MAX_TRACKED_CLIENTS:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(address)
        return item


@dataclass(slots=True)
class Allowance:
    """``per_hour`` events an hour, bursts of as many."""

    per_hour: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.per_hour
        self.tokens = min(self.per_hour, self.tokens + (now - self.stamp) * self.per_hour / 3600)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def default_max_connections(settings: Settings) -> int:
    """The open-file limit (soft) less what the store and the process need besides sockets."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(MIN_CONNECTIONS, soft - settings.reserved_fds - settings.max_open_log_files)


class Admission:
    def __init__(self, settings: Settings, store: BoardStore) -> None:
        self.store = store
        self.max_connections = settings.max_connections or default_max_connections(settings)
        self.work: PerClient[WorkBudget] = PerClient(
            lambda: WorkBudget(
                settings.max_work_ms_per_second * 1000, settings.max_work_ms_per_second * 2000
            )
        )
        per_hour = settings.new_boards_per_client_per_hour
        self._new_boards: PerClient[Allowance] = PerClient(lambda: Allowance(per_hour))
        self._per_hour = per_hour

    def connection_refusal(self, open_connections: int) -> str | None:
        if open_connections < self.max_connections:
            return None
        return f"the server has {self.max_connections} connections, its limit; try again later"

    async def new_board_refusal(self, board_id: str, address: str, loaded: bool) -> str | None:
        """Why ``address`` may not open ``board_id`` now, or None. Only boards that exist
        neither in memory nor on disk count."""
        if loaded or await self.store.exists(board_id) or self._new_boards[address].take():
            return None
        return (
            f"this address opened {self._per_hour:g} new boards in the last hour, its limit; "
            "open an existing board or try again later"
        )
