"""Structured logs (issue 6, item 2): the JSON formatter writes one object per line with time,
level, logger, event and every ``extra=`` field; ``configure`` picks the format the node config
names; the key=value format keeps working."""

from __future__ import annotations

import datetime
import io
import json
import logging
from collections.abc import Iterator

import pytest

from mmmfed.logs import JsonFormatter, KeyValueFormatter, configure, formatter


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through JsonFormatter into a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("mmmfed.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    """Each line of ``stream`` parsed as JSON (fails unless every line is one JSON object)."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_its_extra_fields(captured: tuple[logging.Logger, io.StringIO]) -> None:
    """time (RFC 3339 UTC), level, logger, event (arguments applied) and every extra field, one
    record per line even when a value holds newlines; values JSON cannot encode become strings."""
    logger, stream = captured
    logger.info("refused %s", "TransferAvatar", extra={"method": "/x.Y/Z", "reason": "PROOF_MISSING", "n": 3})
    logger.warning("multi\nline", extra={"services": ["a", "b"], "path": datetime.date(2025, 1, 31)})
    first, second = lines(stream)
    assert first["level"] == "INFO" and first["logger"] == "mmmfed.test.logs"
    assert first["event"] == "refused TransferAvatar"
    assert (first["method"], first["reason"], first["n"]) == ("/x.Y/Z", "PROOF_MISSING", 3)
    stamp = str(first["time"])
    assert stamp.endswith("Z")
    assert datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).utcoffset() == datetime.timedelta(0)
    assert second["event"] == "multi\nline" and second["services"] == ["a", "b"]
    assert second["path"] == "2025-01-31" and second["level"] == "WARNING"


def test_exception_info_is_included(captured: tuple[logging.Logger, io.StringIO]) -> None:
    """A record logged with exc_info carries the formatted traceback in ``exception``."""
    logger, stream = captured
    try:
        raise ValueError("bad digest")
    except ValueError:
        logger.exception("conversion failed", extra={"item_id": "urn:x"})
    (entry,) = lines(stream)
    assert entry["level"] == "ERROR" and entry["item_id"] == "urn:x"
    assert "Traceback" in str(entry["exception"]) and "ValueError: bad digest" in str(entry["exception"])


def test_an_extra_field_named_like_a_core_key_is_kept_aside(captured: tuple[logging.Logger, io.StringIO]) -> None:
    """An extra ``event`` or ``time`` does not overwrite the record's own: it becomes ``extra_<name>``."""
    logger, stream = captured
    logger.info("audited", extra={"event": "ACCEPTED", "time": 5})
    (entry,) = lines(stream)
    assert (entry["event"], entry["extra_event"], entry["extra_time"]) == ("audited", "ACCEPTED", 5)


def test_key_value_format_still_appends_extra_fields() -> None:
    """The key=value format: ``time level logger event key=value ...``."""
    record = logging.LogRecord("mmmfed.server", logging.INFO, __file__, 1, "serving", None, None)
    record.address = "127.0.0.1:50051"
    line = formatter("keyvalue").format(record)
    assert isinstance(formatter("keyvalue"), KeyValueFormatter)
    assert line.endswith("INFO mmmfed.server serving address='127.0.0.1:50051'")


def test_configure_uses_the_configured_format() -> None:
    """configure(log_format=...) installs JsonFormatter for "json" (the default) and
    KeyValueFormatter for "keyvalue" on the root logger; an unknown name is a ValueError."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure()
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        configure(log_format="keyvalue")
        assert isinstance(root.handlers[0].formatter, KeyValueFormatter)
        with pytest.raises(ValueError, match="unknown log format"):
            formatter("xml")  # type: ignore[arg-type]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
