"""Plain counters the hot paths bump (an attribute increment, no lock, no I/O); ``metrics.py``
copies them into Prometheus metrics about once a second and at every scrape.

Prometheus' own counters take a lock (and, across workers, write a memory-mapped file) per
increment: fine per tick or per request, too dear per frame sent to each of a thousand viewers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counts:
    frames_in: int = 0
    ops_in: int = 0
    frames_out: int = 0
    bytes_out: int = 0
    ops_committed: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # error code -> answers sent
    closes: Counter[int] = field(default_factory=Counter)  # close code -> connections closed
    lease_changes: int = 0  # (Redis mode) boards this worker took ownership of
    fencing_refusals: int = 0  # (Redis mode) appends Redis refused: another worker owned it
    gaps_filled: int = 0  # (Redis mode) committed groups read from the stream, missed live


COUNTS = Counts()
"""This process's counters (one event loop per process, so no locking is needed)."""
