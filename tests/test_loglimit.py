"""Identical log lines are written once a minute, with a count of the ones not shown."""

from __future__ import annotations

import logging

import pytest

from whiteboard import loglimit
from whiteboard.loglimit import RepeatFilter


def record(
    message: str, *args: object, exc: type[BaseException] | None = None
) -> logging.LogRecord:
    exc_info = (exc, exc(), None) if exc else None
    return logging.LogRecord("x", logging.ERROR, __file__, 1, message, args, exc_info)


def test_repeats_within_the_window_are_dropped_then_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(loglimit.time, "monotonic", lambda: now[0])
    limit = RepeatFilter(window_s=60)
    passed = [limit.filter(record("accept failed: %s", "EMFILE")) for _ in range(1000)]
    assert passed == [True] + [False] * 999
    assert limit.filter(record("another line"))
    assert limit.filter(record("accept failed: %s", "EMFILE", exc=OSError))  # not identical
    now[0] += 61
    later = record("accept failed: %s", "EMFILE")
    assert limit.filter(later)
    assert later.getMessage() == (
        "accept failed: EMFILE (and 999 more like it in the last 61 s, not shown)"
    )
    assert not limit.filter(record("accept failed: %s", "EMFILE"))


def test_the_filter_sits_on_the_handlers_so_every_logger_is_limited() -> None:
    handler = logging.Handler()
    logger = logging.getLogger("test-loglimit")
    logger.addHandler(handler)
    try:
        loglimit.limit_repeats(logger)
        assert any(isinstance(f, RepeatFilter) for f in handler.filters)
    finally:
        logger.removeHandler(handler)
