"""Structured logs (issue 6, item 2): every ``extra=`` field of a record is kept as a field.

Two formats, chosen by ``observability.log_format`` (:func:`configure`, called by ``mmmfed serve``):

- ``json`` (the default): one JSON object per line, for log shippers: ``time`` (RFC 3339, UTC,
  milliseconds), ``level``, ``logger``, ``event`` (the message), every extra field, and
  ``exception`` / ``stack`` when the record has them.
- ``keyvalue``: ``time level logger event key=value ...``, for people at a terminal.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any, Literal

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
LogFormat = Literal["json", "keyvalue"]


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """What ``extra=`` passed: every non-standard record attribute."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class KeyValueFormatter(logging.Formatter):
    """Appends every non-standard record attribute (what ``extra=`` passed) as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v!r}" for k, v in _extras(record).items())
        return f"{line} {fields}" if fields else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``{"time", "level", "logger", "event", <extra fields>...}``.

    ``time`` is the record's creation time in RFC 3339 UTC (``2025-01-31T12:00:00.123Z``); ``event``
    is the message with its arguments applied. An extra field named like one of those four is kept
    as ``extra_<name>``. ``exception`` holds the formatted traceback when the record carries
    ``exc_info``, ``stack`` the stack when it carries ``stack_info``. A value JSON cannot encode is
    written as its ``str()``. Newlines in values are escaped, so a record is always one line.
    """

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        entry: dict[str, Any] = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in _extras(record).items():
            entry[f"extra_{key}" if key in entry else key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of ``log_format``; ValueError for another name."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "keyvalue":
        return KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    raise ValueError(f"unknown log format {log_format!r} (json or keyvalue)")


def configure(level: int = logging.INFO, *, log_format: LogFormat = "json") -> None:
    """Log to stderr at ``level`` in ``log_format`` (``mmmfed serve`` passes the node config's
    ``observability.log_format``), replacing any handlers the root logger had."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler], force=True)
