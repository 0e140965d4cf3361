"""Structured logs: ``time level logger event key=value ...`` from the record's ``extra`` fields."""

from __future__ import annotations

import logging

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


class KeyValueFormatter(logging.Formatter):
    """Appends every non-standard record attribute (what ``extra=`` passed) as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD)
        return f"{line} {fields}" if fields else line


def configure(level: int = logging.INFO) -> None:
    """Log to stderr in the key=value format (used by ``mmmfed serve``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
