"""Log and Audit Functions (LAF, FGMV-43 7.5.3; issue "Federated trust" item 7): an append-only,
hash-chained record of every accept and refusal and every agreement change.

FGMV-43 7.5.3 asks for "the systematic recording of events, transactions, and interactions that
occur between the platforms" so they can be audited "to ensure compliance with the interoperability
agreements", and says the record is reached through MPMF/MBMF, not by the peer directly. Here the
gateway appends; the peer under an agreement is later served its part (:meth:`AuditLog.entries`
with its ``peer_id``) through the agreement service.

Entry and hash. An :class:`AuditEntry` has ``seq`` (1, 2, ...), ``time_ms`` (Unix ms), ``event``
(UPPER_SNAKE, e.g. ``ACCEPTED``), ``peer_id`` (M-Instance id, "" when no peer is involved),
``subject`` (Item or agreement id), ``reason`` (the ErrorInfo reason of a refusal, else ""),
``details`` (a JSON object), ``prev_hash`` and ``hash``, both 64 lower-case hex digits::

    hash = hex(SHA-256(JCS({"seq", "time_ms", "event", "peer_id", "subject", "reason", "details",
                            "prev_hash"})))       # RFC 8785, the member names exactly as above

``prev_hash`` is the previous entry's ``hash``, or :data:`GENESIS_HASH` (64 zeros) for seq 1.
All numbers are JCS numbers (IEEE doubles): integers beyond +-(2**53-1) are refused.

Who checks what. The operator runs :meth:`AuditLog.verify`: it walks the whole chain, recomputes
every hash and link and names the first broken ``seq`` (``SEQ_GAP``, ``HASH_MISMATCH``,
``LINK_BROKEN``). A peer given its part (entries filtered by ``peer_id``, so not contiguous)
recomputes each entry's own hash (:func:`verify_entry`); :func:`check_chain` checks a contiguous
run. Limits: a chain proves order and integrity only relative to a hash held elsewhere. Someone
who can write the file can drop the newest entries, or rewrite an entry and rehash everything after
it, and the chain still verifies; only comparing a recorded ``head().hash`` (e.g. one given to the
peer with each answer) shows that. An edited entry that was rehashed alone shows as ``LINK_BROKEN``
at the next seq.

Append-only. The API has no update or delete, and SQLite triggers in the file refuse UPDATE and
DELETE on the table and any INSERT that does not extend the chain (wrong seq or prev_hash), on
every connection (``sqlite3.IntegrityError``). Editing the file by other means is what ``verify``
detects.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard

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

# VerifyResult.reason
VERIFIED = "VERIFIED"
SEQ_GAP = "SEQ_GAP"
HASH_MISMATCH = "HASH_MISMATCH"
LINK_BROKEN = "LINK_BROKEN"

MAX_SAFE_INT = 2**53 - 1
_EVENT = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_FIELDS = ("seq", "time_ms", "event", "peer_id", "subject", "reason", "details", "prev_hash", "hash")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    peer_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS audit_log_by_peer ON audit_log(peer_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_extends_chain BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM audit_log), 0) + 1
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
BEGIN SELECT RAISE(ABORT, 'audit log insert does not extend the chain'); END;
CREATE TABLE IF NOT EXISTS audit_once (once TEXT PRIMARY KEY, seq INTEGER NOT NULL) STRICT;
"""


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
        return {name: getattr(self, name) for name in _FIELDS[:-1]}


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a chain check.

    ``ok`` is True when every entry checked; ``reason`` is ``VERIFIED`` or, for the first broken
    entry ``broken_seq``: ``SEQ_GAP`` (entry ``broken_seq`` is missing or out of place),
    ``HASH_MISMATCH`` (its fields do not give its hash, or the row cannot be read),
    ``LINK_BROKEN`` (its ``prev_hash`` is not the previous entry's hash). ``checked`` counts the
    entries that passed; ``head_seq``/``head_hash`` are the last of them (``from_seq - 1`` and the
    hash it started from when none passed). ``message`` is for a person.
    """

    ok: bool
    reason: str
    broken_seq: int | None
    checked: int
    head_seq: int
    head_hash: str
    message: str = ""


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


def check_chain(entries: Iterable[AuditEntry], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH) -> VerifyResult:
    """Check a contiguous run of entries that should start at ``first_seq`` and link to
    ``prev_hash`` (the whole log: the defaults). Backends' ``verify`` uses this walk."""
    return _walk(entries, first_seq=first_seq, prev_hash=prev_hash)


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
        fields: dict[str, Any] = dict(zip(_FIELDS[:6], values, strict=True))
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
    return tuple(
        canonicalize(entry.details).decode() if name == "details" else getattr(entry, name) for name in _FIELDS
    )


def entry_from_row(row: Sequence[Any]) -> AuditEntry:
    """A stored row (:func:`entry_row`) as an entry; DataIntegrityError ``AUDIT_LOG_CORRUPT`` if it
    cannot be one."""
    return _decode(tuple(row))


def check_rows(rows: Iterable[Sequence[Any] | None], *, first_seq: int, prev_hash: str) -> VerifyResult:
    """:func:`check_chain` over stored rows (None or a row that cannot be read: ``HASH_MISMATCH``
    at that place) - what a backend's ``verify`` walks."""

    def decoded(row: Sequence[Any] | None, at: int) -> AuditEntry | _Unreadable:
        if row is None or len(row) != len(_FIELDS):
            return _Unreadable(at, "the stored row is not an audit entry")
        return _decode_or_none(tuple(row))

    return _walk((decoded(row, first_seq + i) for i, row in enumerate(rows)), first_seq=first_seq, prev_hash=prev_hash)


def check_entries_query(*, peer_id: object, since_seq: object, limit: object) -> None:
    """The arguments of :meth:`AuditLog.entries`; InvalidInput ``AUDIT_QUERY_MALFORMED``."""
    if peer_id is not None and not isinstance(peer_id, str):
        raise InvalidInput("peer_id must be a string or None", reason="AUDIT_QUERY_MALFORMED")
    if not _is_int(since_seq) or not _is_int(limit) or limit < 1:
        raise InvalidInput("since_seq must be an int and limit a positive int", reason="AUDIT_QUERY_MALFORMED")


def check_verify_from(from_seq: object) -> None:
    """The argument of :meth:`AuditLog.verify`; InvalidInput ``AUDIT_QUERY_MALFORMED``."""
    if not _is_int(from_seq) or from_seq < 1:
        raise InvalidInput("from_seq must be an int >= 1", reason="AUDIT_QUERY_MALFORMED")


class AuditLog(Protocol):
    """The LAF log (FGMV-43 7.5.3), synchronous: :class:`SqliteAuditLog`. Gateways use its async
    form, :class:`mmmfed.store.SharedAuditLog` (embedded over this one, or on Redis for replicas)."""

    def append(
        self,
        event: str,
        *,
        peer_id: str,
        subject: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        time_ms: int | None = None,
    ) -> AuditEntry:
        """Add one entry after the head, atomically (concurrent writers never fork the chain) and
        durably; returns it as stored. ``time_ms`` defaults to now (Unix ms).

        Raises InvalidInput: ``AUDIT_ENTRY_MALFORMED`` (event not UPPER_SNAKE, a field of the wrong
        type, time_ms outside 0..2**53-1) or ``NOT_CANONICALIZABLE`` (details not JCS-safe)."""
        ...

    def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with ``seq > since_seq`` (pass the last seq seen to page on), oldest first, at
        most ``limit``; only those of ``peer_id`` if given ("" selects entries without a peer).
        InvalidInput ``AUDIT_QUERY_MALFORMED`` for a bad argument; DataIntegrityError
        ``AUDIT_LOG_CORRUPT`` if a stored row cannot be read."""
        ...

    def verify(self, *, from_seq: int = 1) -> VerifyResult:
        """Walk the chain from ``from_seq`` to the head (see :class:`VerifyResult`). Entries
        before ``from_seq`` are trusted: the link of ``from_seq`` is checked against the stored
        hash of ``from_seq - 1``."""
        ...

    def head(self) -> AuditEntry | None:
        """The newest entry, None if the log is empty."""
        ...

    def close(self) -> None: ...


class SqliteAuditLog:
    """:class:`AuditLog` in its own SQLite file (WAL, ``synchronous=FULL``: an entry returned by
    ``append`` survives a crash). Safe to share between threads; several instances or processes
    on one file serialise appends through ``BEGIN IMMEDIATE``, waiting up to ``busy_timeout_s``
    (then ``sqlite3.OperationalError`` "database is locked" propagates)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self._path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def append(
        self,
        event: str,
        *,
        peer_id: str,
        subject: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        time_ms: int | None = None,
    ) -> AuditEntry:
        # AUDIT_ENTRY_MALFORMED / NOT_CANONICALIZABLE before any write
        draft = draft_entry(event, peer_id=peer_id, subject=subject, reason=reason, details=details, time_ms=time_ms)
        return self.append_drafts([draft])[0]

    def append_drafts(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Append ``drafts`` in order in ONE transaction (one fsync: a group commit), chained to
        the head and to each other; all or none are written. Returns the entries, in order. A
        draft whose ``once`` key was written before (or earlier in the batch) is not written
        again: its place in the result is the entry written with that key."""
        entries = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                last = self._db.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
                seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
                for draft in drafts:
                    if draft.once:
                        done = self._db.execute("SELECT seq FROM audit_once WHERE once = ?", (draft.once,)).fetchone()
                        if done is not None:
                            row = self._db.execute(
                                f"SELECT {', '.join(_FIELDS)} FROM audit_log WHERE seq = ?", done
                            ).fetchone()
                            entries.append(_decode(row))
                            continue
                        self._db.execute("INSERT INTO audit_once VALUES (?, ?)", (draft.once, seq))
                    entry = draft.place(seq, prev_hash)
                    self._db.execute(
                        "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            seq,
                            draft.time_ms,
                            entry.event,
                            entry.peer_id,
                            entry.subject,
                            entry.reason,
                            draft.details_json,
                            prev_hash,
                            entry.hash,
                        ),
                    )
                    entries.append(entry)
                    seq, prev_hash = seq + 1, entry.hash
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        return entries

    def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        check_entries_query(peer_id=peer_id, since_seq=since_seq, limit=limit)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_FIELDS)} FROM audit_log WHERE seq > ?1 AND (?2 IS NULL OR peer_id = ?2)"
                " ORDER BY seq LIMIT ?3",
                (since_seq, peer_id, limit),
            ).fetchall()
        return [_decode(row) for row in rows]

    def head(self) -> AuditEntry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(_FIELDS)} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return _decode(row) if row else None

    def verify(self, *, from_seq: int = 1) -> VerifyResult:
        check_verify_from(from_seq)
        # A read-only connection of its own: one WAL snapshot, and appends are not held up by the walk.
        uri = f"{self._path.resolve().as_uri()}?mode=ro"
        reader = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=self._busy_timeout_s)
        try:
            reader.execute("BEGIN")
            prev_hash = GENESIS_HASH
            if from_seq > 1:
                row = reader.execute("SELECT hash FROM audit_log WHERE seq = ?", (from_seq - 1,)).fetchone()
                if row is None:
                    message = f"entry {from_seq - 1}, before from_seq, is missing"
                    return VerifyResult(False, SEQ_GAP, from_seq - 1, 0, from_seq - 2, "", message)
                prev_hash = row[0]
            rows = reader.execute(
                f"SELECT {', '.join(_FIELDS)} FROM audit_log WHERE seq >= ? ORDER BY seq", (from_seq,)
            )
            return _walk((_decode_or_none(row) for row in rows), first_seq=from_seq, prev_hash=prev_hash)
        finally:
            reader.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteAuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Unreadable:
    seq: object
    why: str


def _walk(items: Iterable[AuditEntry | _Unreadable], *, first_seq: int, prev_hash: str) -> VerifyResult:
    expected, last_hash, checked = first_seq, prev_hash, 0

    def broken(reason: str, seq: int, message: str) -> VerifyResult:
        return VerifyResult(False, reason, seq, checked, expected - 1, last_hash, message)

    for item in items:
        if item.seq != expected:
            return broken(SEQ_GAP, expected, f"entry {expected} missing: the next stored entry is {item.seq!r}")
        if isinstance(item, _Unreadable):
            return broken(HASH_MISMATCH, expected, f"entry {expected} cannot be read: {item.why}")
        if not verify_entry(item):
            return broken(HASH_MISMATCH, expected, f"entry {expected}'s fields do not give its hash")
        if item.prev_hash != last_hash:
            return broken(LINK_BROKEN, expected, f"entry {expected}'s prev_hash is not entry {expected - 1}'s hash")
        expected, last_hash, checked = expected + 1, item.hash, checked + 1
    return VerifyResult(True, VERIFIED, None, checked, expected - 1, last_hash)


def _is_int(value: object) -> TypeGuard[int]:
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


def _decode(row: tuple[Any, ...]) -> AuditEntry:
    """A stored row as an entry; DataIntegrityError ``AUDIT_LOG_CORRUPT`` if it cannot be one."""
    entry = _decode_or_none(row)
    if isinstance(entry, _Unreadable):
        raise DataIntegrityError(
            f"audit log entry {entry.seq!r} cannot be read: {entry.why}", reason="AUDIT_LOG_CORRUPT"
        )
    return entry


def _decode_or_none(row: tuple[Any, ...]) -> AuditEntry | _Unreadable:
    values = dict(zip(_FIELDS, row, strict=True))
    types = {"seq": int, "time_ms": int, "details": str}
    for name, value in values.items():
        if type(value) is not types.get(name, str):
            return _Unreadable(values["seq"], f"{name} is stored as {type(value).__name__}")
    try:
        values["details"] = _load_details(values["details"])
    except ValueError as err:  # json.JSONDecodeError is a ValueError
        return _Unreadable(values["seq"], f"details: {err}")
    return AuditEntry(**values)
