"""Audit entries (LAF, FGMV-43 7.5.3): the record, its hash, and how it is checked and stored.

An :class:`AuditEntry` has ``seq`` (1, 2, ...), ``time_ms`` (Unix ms), ``event`` (UPPER_SNAKE, e.g.
``ACCEPTED``), ``peer_id`` (M-Instance id, "" when no peer is involved), ``subject`` (Item or
agreement id), ``reason`` (the ErrorInfo reason of a refusal, else ""), ``details`` (a JSON
object), ``prev_hash`` and ``hash``, both 64 lower-case hex digits::

    hash = hex(SHA-256(JCS({"seq", "time_ms", "event", "peer_id", "subject", "reason", "details",
                            "prev_hash"})))       # RFC 8785, the member names exactly as above

``prev_hash`` is the previous entry's ``hash``, or :data:`GENESIS_HASH` (64 zeros) for seq 1.
All numbers are JCS numbers (IEEE doubles): integers beyond +-(2**53-1) are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from mmmfed.errors import DataIntegrityError, InvalidInput
from mmmfed.proofs import canonicalize

GENESIS_HASH = "0" * 64

# Events the gateway records; others in UPPER_SNAKE are accepted too.
ACCEPTED = "ACCEPTED"
REFUSED = "REFUSED"
AGREEMENT_PROPOSED = "AGREEMENT_PROPOSED"
AGREEMENT_ACCEPTED = "AGREEMENT_ACCEPTED"
AGREEMENT_REJECTED = "AGREEMENT_REJECTED"
AGREEMENT_REVOKED = "AGREEMENT_REVOKED"
AGREEMENT_EXPIRED = "AGREEMENT_EXPIRED"


MAX_SAFE_INT = 2**53 - 1
_EVENT = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
FIELDS = ("seq", "time_ms", "event", "peer_id", "subject", "reason", "details", "prev_hash", "hash")


@dataclass(frozen=True)
class AuditEntry:
    """One record of the log; ``hash`` covers every other field (module docstring)."""

    seq: int
    time_ms: int
    event: str
    peer_id: str
    subject: str
    reason: str
    details: dict[str, Any] = field(hash=False)
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        """The JSON object whose JCS bytes are hashed: every field but ``hash``."""
        return {name: getattr(self, name) for name in FIELDS[:-1]}


def entry_hash(fields: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the JCS bytes of ``fields`` (an entry without ``hash``).

    Raises InvalidInput ``NOT_CANONICALIZABLE`` (:func:`mmmfed.proofs.canonicalize`)."""
    return hashlib.sha256(canonicalize(dict(fields))).hexdigest()


def verify_entry(entry: AuditEntry) -> bool:
    """True if ``entry.hash`` is the hash of its other fields: what a peer checks of each entry
    it is served. Never raises for an entry's content."""
    try:
        return isinstance(entry.hash, str) and entry_hash(entry.hashed_fields()) == entry.hash
    except InvalidInput:
        return False


@dataclass(frozen=True)
class AuditDraft:
    """An entry checked and canonicalised, waiting for its place in the chain (``seq`` and
    ``prev_hash``): every backend builds entries this way, so they hash alike."""

    time_ms: int
    event: str
    peer_id: str
    subject: str
    reason: str
    details_json: str  # the JCS text of ``details``, as stored
    once: str = ""  # an idempotency key: an entry with this key is written at most once (not hashed)

    def place(self, seq: int, prev_hash: str) -> AuditEntry:
        """The entry at ``seq`` after the entry whose hash is ``prev_hash``, with its hash."""
        values = (seq, self.time_ms, self.event, self.peer_id, self.subject, self.reason)
        fields: dict[str, Any] = dict(zip(FIELDS[:6], values, strict=True))
        fields.update(details=_load_details(self.details_json), prev_hash=prev_hash)
        return AuditEntry(**fields, hash=entry_hash(fields))


def draft_entry(
    event: str,
    *,
    peer_id: str,
    subject: str,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
    time_ms: int | None = None,
    once: str = "",
) -> AuditDraft:
    """Check an entry's fields before anything is written (``time_ms`` defaults to now, Unix ms).

    Raises InvalidInput ``AUDIT_ENTRY_MALFORMED`` or ``NOT_CANONICALIZABLE`` (see
    :meth:`AuditLog.append`)."""
    when = int(time.time() * 1000) if time_ms is None else time_ms
    _check_append(event, peer_id=peer_id, subject=subject, reason=reason, details=details, time_ms=when)
    details_json = canonicalize(dict(details or {})).decode()
    if not isinstance(once, str) or len(once) > 1024:
        raise InvalidInput("once must be a string of at most 1024 characters", reason="AUDIT_ENTRY_MALFORMED")
    return AuditDraft(when, event, peer_id, subject, reason, details_json, once)


def entry_row(entry: AuditEntry) -> tuple[Any, ...]:
    """How a backend stores ``entry``: its nine fields in order, ``details`` as JCS text."""
    return tuple(canonicalize(entry.details).decode() if name == "details" else getattr(entry, name) for name in FIELDS)


def entry_from_row(row: Sequence[Any]) -> AuditEntry:
    """A stored row (:func:`entry_row`) as an entry; DataIntegrityError ``AUDIT_LOG_CORRUPT`` if it
    cannot be one."""
    return decode_entry(tuple(row))


@dataclass(frozen=True)
class Unreadable:
    """A stored row that is not an entry: where (``seq`` as stored) and why."""

    seq: object
    why: str


def is_int(value: object) -> TypeGuard[int]:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_append(
    event: object, *, peer_id: object, subject: object, reason: object, details: object, time_ms: object
) -> None:
    def bad(message: str) -> InvalidInput:
        return InvalidInput(message, reason="AUDIT_ENTRY_MALFORMED")

    if not isinstance(event, str) or not _EVENT.fullmatch(event):
        raise bad(f"event {event!r} is not an UPPER_SNAKE name such as ACCEPTED")
    if not all(isinstance(v, str) for v in (peer_id, subject, reason)):
        raise bad("peer_id, subject and reason must be strings")
    if details is not None and not isinstance(details, Mapping):
        raise bad("details must be a JSON object (a mapping) or None")
    if not (isinstance(time_ms, int) and not isinstance(time_ms, bool) and 0 <= time_ms <= MAX_SAFE_INT):
        raise bad(f"time_ms {time_ms!r} is not Unix milliseconds in 0..2**53-1")


def _jcs_number(text: str) -> int | float:
    """JCS writes every number as a double; big integral doubles come back as big ints, which
    JCS refuses: read those as the doubles they were."""
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INT else float(text)


def _load_details(text: str) -> dict[str, Any]:
    details = json.loads(text, parse_int=_jcs_number)
    if not isinstance(details, dict):
        raise ValueError("details is not a JSON object")
    return details


def decode_entry(row: tuple[Any, ...]) -> AuditEntry:
    """A stored row as an entry; DataIntegrityError ``AUDIT_LOG_CORRUPT`` if it cannot be one."""
    entry = decode_row(row)
    if isinstance(entry, Unreadable):
        raise DataIntegrityError(
            f"audit log entry {entry.seq!r} cannot be read: {entry.why}", reason="AUDIT_LOG_CORRUPT"
        )
    return entry


def decode_row(row: tuple[Any, ...]) -> AuditEntry | Unreadable:
    """A stored row (:func:`entry_row`) as an entry, or :class:`Unreadable` saying why not."""
    values = dict(zip(FIELDS, row, strict=True))
    types = {"seq": int, "time_ms": int, "details": str}
    for name, value in values.items():
        if type(value) is not types.get(name, str):
            return Unreadable(values["seq"], f"{name} is stored as {type(value).__name__}")
    try:
        values["details"] = _load_details(values["details"])
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        return Unreadable(values["seq"], f"details: {err}")
    return AuditEntry(**values)
