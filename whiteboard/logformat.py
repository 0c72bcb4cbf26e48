"""How log lines look: text for people by default, JSON for log pipelines (``log_format``).

Notable events go through :func:`log_event`: an event name and its fields (board, peer, code,
reason...). The text format writes them as ``closed board=b peer=3 code=4004 reason=...``, one
line; the JSON format (python-json-logger) writes each field as a key of its own, so a pipeline
can count closes by code or follow one board without parsing sentences. Request paths of board
pages are never logged at info level (Hypercorn's access log is off): a board's id is its key.
"""

from __future__ import annotations

import logging
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(log_format: str = "text") -> None:
    """Root logging at INFO in ``log_format``; replaces the formatter of existing handlers."""
    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    formatter = make_formatter(log_format)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
    return logging.Formatter(TEXT_FORMAT)


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """One line for one event: ``event key=value ...`` in text, separate keys in JSON."""
    if not logger.isEnabledFor(level):
        return
    text = " ".join(f"{key}={_text(value)}" for key, value in fields.items())
    logger.log(level, "%s %s", event, text, extra={"event": event, **fields})


def _text(value: Any) -> str:
    text = str(value)
    return repr(text) if (" " in text or not text) else text
