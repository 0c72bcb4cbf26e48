"""Which strokes of a board are visible: one bit per stroke, in the order strokes were added.

Pure. ``clear`` and the undo or redo of a clear touch every visible stroke; with a set of ids they
cost about a microsecond per stroke in Python (110 ms on a 100k-stroke board, enough for one
client to stall every board). As a bitmap they are a copy or an OR of ``strokes / 8`` bytes done
in C, tens of microseconds at the board cap, and what a clear hid is kept as an immutable bytes
snapshot of 25 KB instead of a tuple of 200,000 ids (1.6 MB) per clear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Visibility:
    """A growable bitmap of stroke indexes with a running count of set bits."""

    __slots__ = ("_bits", "_last_snapshot", "count")

    def __init__(self) -> None:
        self._bits = bytearray()
        self.count = 0
        self._last_snapshot = b""

    def add_visible(self, index: int) -> None:
        """A new stroke, the next index: visible from the start."""
        byte = index >> 3
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits)))
        self.set(index, True)

    def __contains__(self, index: int) -> bool:
        byte = index >> 3
        return byte < len(self._bits) and bool(self._bits[byte] >> (index & 7) & 1)

    def select(self, ids: Iterable[str], index_of: Mapping[str, int]) -> list[str]:
        """The visible ones among ``ids`` (``index_of`` maps a stroke id to its index), in
        order: one pass with no call per id, since an erase may name 10,000 of them."""
        bits, size = self._bits, len(self._bits)
        return [
            i
            for i, x in zip(ids, map(index_of.get, ids), strict=True)
            if x is not None and (x >> 3) < size and bits[x >> 3] >> (x & 7) & 1
        ]

    def set(self, index: int, visible: bool) -> bool:
        """Set one stroke's visibility; True when it changed."""
        byte, mask = index >> 3, 1 << (index & 7)
        if bool(self._bits[byte] & mask) == visible:
            return False
        self._bits[byte] ^= mask
        self.count += 1 if visible else -1
        return True

    def hide_all(self) -> bytes:
        """Hide every stroke; return a snapshot of what was visible (what an undo shows again).

        Repeated clears of the same strokes (clear, undo, clear, ...) share one snapshot."""
        snapshot = bytes(self._bits)
        if snapshot == self._last_snapshot:
            snapshot = self._last_snapshot
        self._last_snapshot = snapshot
        self._bits = bytearray(len(self._bits))
        self.count = 0
        return snapshot

    def hide_some(self, indexes: list[int]) -> bytes:
        """Hide the strokes at ``indexes``; return a bitmap of those that were visible (what an
        undo shows again): for a big erase, undo and redo are then bitmap operations too."""
        mask = bytearray(len(self._bits))
        for index in indexes:
            mask[index >> 3] |= 1 << (index & 7)
        bits = int.from_bytes(self._bits, "little")
        hit = bits & int.from_bytes(mask, "little")
        self._combine(bits ^ hit)
        return hit.to_bytes(len(mask), "little")

    def show(self, snapshot: bytes) -> None:
        """Show every stroke set in ``snapshot`` (it may be shorter: taken with fewer strokes)."""
        self._combine(int.from_bytes(self._bits, "little") | int.from_bytes(snapshot, "little"))

    def hide(self, snapshot: bytes) -> None:
        self._combine(int.from_bytes(self._bits, "little") & ~int.from_bytes(snapshot, "little"))

    def _combine(self, bits: int) -> None:
        self._bits = bytearray(bits.to_bytes(len(self._bits), "little"))
        self.count = bits.bit_count()

    def indexes(self) -> list[int]:
        """Indexes of the visible strokes, ascending."""
        out = []
        for byte_index, byte in enumerate(self._bits):
            while byte:
                low = byte & -byte
                out.append(byte_index * 8 + low.bit_length() - 1)
                byte ^= low
        return out

    def among(self, snapshot: bytes, visible: bool) -> bytes:
        """The strokes set in ``snapshot`` that are ``visible`` now (or hidden now), as a bitmap
        of the same length: one AND of integers, in C."""
        bits = int.from_bytes(snapshot, "little")
        now = int.from_bytes(self._bits[: len(snapshot)], "little")
        return (bits & now if visible else bits & ~now).to_bytes(len(snapshot), "little")

    @staticmethod
    def indexes_in(snapshot: bytes) -> list[int]:
        """Indexes set in a bitmap ``snapshot`` (what a clear hid), ascending."""
        bits = Visibility()
        bits._bits = bytearray(snapshot)
        return bits.indexes()

    @staticmethod
    def count_in(snapshot: bytes) -> int:
        return int.from_bytes(snapshot, "little").bit_count()

    @property
    def size_bytes(self) -> int:
        return len(self._bits)
