"""Repeated identical log lines are written once per minute, then counted.

When a resource runs out, the same failure repeats for every request: running out of file
descriptors once wrote 37,411 "Too many open files" lines (17.8 MB in 22 s), which buried the one
line that mattered and could fill the disk the boards live on. :class:`RepeatFilter` lets the first
of identical lines (same logger, level, message and exception type) through, drops repeats for
``window_s``, and the first one after the window says how many were dropped.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

WINDOW_S = 60.0
MAX_REMEMBERED_LINES = 1024


class RepeatFilter(logging.Filter):
    def __init__(self, window_s: float = WINDOW_S) -> None:
        super().__init__()
        self.window_s = window_s
        self._seen: OrderedDict[tuple[object, ...], list[float]] = OrderedDict()  # [first, count]

    def filter(self, record: logging.LogRecord) -> bool:
        exc_type = record.exc_info[0] if record.exc_info else None
        key = (record.name, record.levelno, record.getMessage(), exc_type)
        now = time.monotonic()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.getMessage()} (and {int(seen[1])} more like it in the last "
            record.msg += f"{now - seen[0]:.0f} s, not shown)"
            record.args = None
        self._seen[key] = [now, 0]
        self._seen.move_to_end(key)
        if len(self._seen) > MAX_REMEMBERED_LINES:
            self._seen.popitem(last=False)
        return True


def limit_repeats(*loggers: logging.Logger) -> None:
    """Install one :class:`RepeatFilter` on every handler of ``loggers`` (the root by default)."""
    repeat_filter = RepeatFilter()
    for logger in loggers or (logging.getLogger(),):
        for handler in logger.handlers:
            if not any(isinstance(f, RepeatFilter) for f in handler.filters):
                handler.addFilter(repeat_filter)
