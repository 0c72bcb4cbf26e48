"""The record format of a board log file, and a parser that survives damage. Pure: bytes in, records
and damage reports out.

Each record is itself a msgpack value, ``[crc32, op]`` written as
``92 ce <crc32:4> c6 <len:4> <op bytes>``, so any msgpack tool can read a log, and a record that
does not verify is detected instead of silently mis-framing the rest (msgpack has no checksum of
its own). Every record carries its length and checksum, so a damaged span is skipped by scanning
for the next offset where a whole record verifies: one flipped byte costs one record, not every
record after it.
"""

from __future__ import annotations

import math
import mmap
import struct
import time
import zlib
from dataclasses import dataclass, field

import msgpack

from .slices import RUN_BYTES

Buffer = bytes | mmap.mmap
"""A whole log in memory: ``bytes``, or a private anonymous mapping (``buffers.py``), which
slices, ``find`` and the buffer protocol treat alike."""

RECORD_HEADER = struct.Struct(">BBIBI")
RECORD_MARKERS = (0x92, 0xCE, 0xC6)  # fixarray(2), uint32, bin32
RECORD_START = bytes(RECORD_MARKERS[:2])


def frame_record(op: bytes) -> bytes:
    return RECORD_HEADER.pack(0x92, 0xCE, zlib.crc32(op), 0xC6, len(op)) + op


def framed_size(op_bytes: int) -> int:
    return RECORD_HEADER.size + op_bytes


@dataclass(frozen=True, slots=True)
class Span:
    """Bytes ``offset .. offset + length`` of a log that are not a valid record, and why."""

    offset: int
    length: int
    reason: str

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(slots=True)
class ParsedLog:
    records: list[bytes] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)  # byte offset where each record starts
    damaged: list[Span] = field(default_factory=list)  # skipped spans, valid records after them
    torn_tail: Span | None = None  # one incomplete record at the very end: a write cut short
    size: int = 0

    @property
    def clean(self) -> bool:
        return not self.damaged and self.torn_tail is None

    @property
    def good_bytes(self) -> int:
        """Bytes up to the end of the last valid record."""
        if not self.records:
            return 0
        return self.offsets[-1] + framed_size(len(self.records[-1]))


def record_at(data: Buffer, pos: int) -> int | str:
    """End offset of the valid record starting at ``pos``, or why there is none."""
    size = len(data)
    if size - pos < RECORD_HEADER.size:
        return "incomplete record header"
    m1, m2, crc, m3, length = RECORD_HEADER.unpack_from(data, pos)
    if (m1, m2, m3) != RECORD_MARKERS:
        return f"bad record marker at byte {pos}"
    end = pos + RECORD_HEADER.size + length
    if end > size:
        return "incomplete record"
    if zlib.crc32(memoryview(data)[pos + RECORD_HEADER.size : end]) != crc:
        return f"checksum mismatch at byte {pos}"
    return end


def _is_torn(data: Buffer, pos: int) -> bool:
    """Does ``data[pos:]`` look like one record whose bytes did not all reach the disk?

    A header cut short, a record running past the end of the file, or a last record whose checksum
    fails (the file grew but its last bytes never arrived) are what a crash mid-append leaves.
    """
    rest = data[pos:]
    if len(rest) < RECORD_HEADER.size:
        markers = bytes((0x92, 0xCE))
        return rest[:2] == markers[: len(rest[:2])] and (len(rest) < 7 or rest[6] == 0xC6)
    m1, m2, _crc, m3, length = RECORD_HEADER.unpack_from(data, pos)
    return (m1, m2, m3) == RECORD_MARKERS and pos + RECORD_HEADER.size + length >= len(data)


def _resync(data: Buffer, start: int) -> int | None:
    """The first offset after ``start`` where a valid record begins and is followed by another
    valid record or by the end of the file (two in a row, so that bytes inside a damaged record
    that happen to verify are not taken for a record)."""
    pos = start
    while True:
        pos = data.find(RECORD_START, pos + 1)
        if pos < 0:
            return None
        end = record_at(data, pos)
        if isinstance(end, int) and (end == len(data) or isinstance(record_at(data, end), int)):
            return pos


def parse_log(data: Buffer, start: int = 0) -> ParsedLog:
    """Split a log into its valid records; report damaged spans (skipped) and a torn tail.

    ``start`` skips a prefix known to be whole records (the part a snapshot covers); offsets
    stay offsets in ``data``."""
    parser = LogParser(data, start)
    parser.step(math.inf)
    return parser.parsed


class LogParser:
    """``parse_log`` a few records at a time, so a server can parse a big log on its event loop
    in slices (``store/slices.py``) instead of in a thread that holds the GIL for most of a
    second: a 72.5 MB log parsed in a thread delayed every request by up to 100 ms."""

    def __init__(self, data: Buffer, start: int = 0) -> None:
        self.data = data
        self.parsed = ParsedLog(size=len(data))
        self.pos = start

    def step(self, deadline: float, run_bytes: int = RUN_BYTES) -> bool:
        """Parse records until ``time.perf_counter()`` reaches ``deadline``, reading the clock
        after each run of at least ``run_bytes``; True once the whole log is parsed."""
        data, parsed, pos = self.data, self.parsed, self.pos
        clock_at = pos + run_bytes
        while pos < len(data):
            if pos >= clock_at:
                if time.perf_counter() >= deadline:
                    break
                clock_at = pos + run_bytes
            end = record_at(data, pos)
            if isinstance(end, int):
                parsed.offsets.append(pos)
                parsed.records.append(data[pos + RECORD_HEADER.size : end])
                pos = end
                continue
            resume = _resync(data, pos)
            if resume is None:
                span = Span(pos, len(data) - pos, end)
                if _is_torn(data, pos):
                    parsed.torn_tail = span
                else:
                    parsed.damaged.append(span)
                pos = len(data)
                break
            parsed.damaged.append(Span(pos, resume - pos, end))
            pos = resume
        self.pos = pos
        return pos >= len(data)


def end_of_op(data: Buffer, position: int, seq: int, op_id: str) -> int | None:
    """Where the records after a snapshot start: the end of the record at ``position``, if it is
    a valid record holding op ``op_id`` at ``seq`` (what the snapshot says it covers up to).
    None when it is not: the log was rewritten or replaced since, and the snapshot does not fit."""
    if position == 0 and seq == 0:
        return 0
    end = record_at(data, position)
    if not isinstance(end, int):
        return None
    try:
        op = msgpack.unpackb(data[position + RECORD_HEADER.size : end], raw=False)
    except (ValueError, msgpack.UnpackException):
        return None
    if not isinstance(op, dict) or op.get("seq") != seq or op.get("id") != op_id:
        return None
    return end
