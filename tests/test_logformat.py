"""Log lines: one per notable event, with its fields as text for people or as JSON keys for a
log pipeline (``--log-format json``)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from whiteboard.logformat import log_event, make_formatter
from whiteboard.settings import Settings


def capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format))
    logger = logging.getLogger(f"test.logformat.{log_format}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_an_event_is_one_text_line_with_its_fields() -> None:
    logger, stream = capture("text")
    log_event(logger, logging.INFO, "closed", board="retro", peer=3, code=4004, reason="too slow")
    (line,) = stream.getvalue().splitlines()
    assert line.endswith("closed board=retro peer=3 code=4004 reason='too slow'")
    assert " INFO test.logformat.text: " in line


def test_an_event_in_json_carries_each_field_as_a_key() -> None:
    logger, stream = capture("json")
    log_event(logger, logging.WARNING, "redis_down", worker="host:12:ab")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "redis_down"
    assert record["worker"] == "host:12:ab"
    assert record["level"] == "WARNING"
    assert record["logger"] == "test.logformat.json"


def test_events_below_the_level_cost_nothing_and_write_nothing() -> None:
    logger, stream = capture("text")
    log_event(logger, logging.DEBUG, "closed", board="b", peer=1, code=1001, reason="")
    assert stream.getvalue() == ""


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log_format must be one of text, json"):
        Settings(log_format="xml")
