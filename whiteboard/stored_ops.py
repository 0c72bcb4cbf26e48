"""Decoding a stored op for ``Board.load`` without building its points. Pure: bytes in, a dict
out.

Loading a board applies every record of its log, and ``Board.apply`` needs an element's kind,
ids and placement and how many points a stroke has, never the points themselves. Yet
``msgpack.unpackb`` builds each of a 2,000-point stroke's 4,000 coordinates as a Python int:
that was 85% of a 72.5 MB board's load (55 µs a record), held on the event loop every other
board shares. :func:`decode_for_apply` decodes the same record but leaves the top-level ``pts``
and ``p`` arrays as :class:`UnbuiltArray` (their length), checking that they are well-formed
msgpack (``Unpacker.skip``) without building them: about half the cost.

It accepts and refuses what ``unpackb`` does, with the same exception types, so a record that
does not decode is set aside on load as before; the one difference is that a string inside a
skipped array is not checked to be UTF-8 (no stored op has one: points are ints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

UNBUILT_KEYS = frozenset({"pts", "p"})
"""Top-level fields whose arrays a load does not build: a stroke's points and pressures."""

MAP_MARKERS = frozenset({*range(0x80, 0x90), 0xDE, 0xDF})
ARRAY_LENGTH = {0xDC: 2, 0xDD: 4}  # array 16 / array 32: bytes of the length after the marker


@dataclass(frozen=True, slots=True)
class UnbuiltArray:
    """A msgpack array in a stored op that was checked but not built: only its length is known."""

    length: int

    def __len__(self) -> int:
        return self.length


def decode_for_apply(encoded: bytes) -> Any:
    """``msgpack.unpackb(encoded, raw=False, use_list=False)``, except that when ``encoded`` is a
    map, its ``pts`` and ``p`` arrays are :class:`UnbuiltArray`. Raises what ``unpackb`` raises
    for bytes that are not one msgpack value (a ``ValueError``, or an ``UnpackException``)."""
    if not encoded or encoded[0] not in MAP_MARKERS:
        return msgpack.unpackb(encoded, raw=False, use_list=False)
    unpacker = msgpack.Unpacker(raw=False, use_list=False, max_buffer_size=len(encoded))
    unpacker.feed(encoded)
    try:
        op = {}
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if type(key) is not str and type(key) is not bytes:  # unpackb's strict_map_key
                raise ValueError(f"{type(key).__name__} is not allowed for map key")
            length = _array_length(encoded, unpacker.tell()) if key in UNBUILT_KEYS else None
            if length is None:
                op[key] = unpacker.unpack()
            else:
                unpacker.skip()
                op[key] = UnbuiltArray(length)
    except msgpack.OutOfData as exc:
        raise ValueError("Unpack failed: incomplete input") from exc
    if unpacker.tell() != len(encoded):
        raise msgpack.ExtraData(op, encoded[unpacker.tell() :])
    return op


def _array_length(encoded: bytes, at: int) -> int | None:
    """The length of the msgpack array starting at byte ``at``; None if no array starts there."""
    if at >= len(encoded):
        return None
    marker = encoded[at]
    if 0x90 <= marker <= 0x9F:
        return marker & 0x0F
    size = ARRAY_LENGTH.get(marker)
    if size is None or at + 1 + size > len(encoded):
        return None
    return int.from_bytes(encoded[at + 1 : at + 1 + size], "big")
