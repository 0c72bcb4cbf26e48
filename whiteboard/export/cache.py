"""Finished export pictures: what names them (the ETag) and the small LRU that keeps them."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from .frame import ExportOptions
from .spec import ExportResult


@dataclass(frozen=True, slots=True)
class Cached:
    etag: str
    result: ExportResult


class ExportCache:
    """LRU of rendered exports keyed by (board, seq, format, options)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[tuple[str, ...], Cached] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[str, ...]) -> Cached | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: tuple[str, ...], entry: Cached) -> None:
        if len(entry.result.data) > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= len(old.result.data)
        self._entries[key] = entry
        self._bytes += len(entry.result.data)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.result.data)


def make_etag(board_id: str, seq: int, kind: str, options: ExportOptions) -> str:
    """Names the picture without naming the board: a view link's exports must not give the
    board id away (``server/viewing.py``)."""
    digest = hashlib.sha256(f"{board_id}\x00{options.key()}".encode()).hexdigest()[:16]
    return f'"{seq}.{kind}.{digest}"'
