"""Limits per client address, so that one client cannot exhaust what every board shares.

- Work: each address has a ``WorkBudget`` (``budget.py``), shared by all its connections.

Per-address state lives in a bounded LRU: forgetting an address whose buckets had refilled
changes nothing; behind a reverse proxy, ``trusted_proxy_hops`` makes the address the client's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ..settings import Settings
from ..store.base import BoardStore
from .budget import WorkBudget

MAX_TRACKED_CLIENTS = 65_536
"""Client addresses whose budgets are remembered; the least recently seen are forgotten first."""

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


class Admission:
    def __init__(self, settings: Settings, store: BoardStore) -> None:
        self.store = store
        self.work: PerClient[WorkBudget] = PerClient(
            lambda: WorkBudget(
                settings.max_work_ms_per_second * 1000, settings.max_work_ms_per_second * 2000
            )
        )
