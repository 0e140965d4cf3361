"""The audit hash chain (LAF, FGMV-43 7.5.3): walking it, and the log protocol backends keep.

Who checks what. The operator runs :meth:`AuditLog.verify`: it walks the whole chain, recomputes
every hash and link and names the first broken ``seq`` (``SEQ_GAP``, ``HASH_MISMATCH``,
``LINK_BROKEN``). A peer given its part (entries filtered by ``peer_id``, so not contiguous)
recomputes each entry's own hash (:func:`verify_entry`); :func:`check_chain` checks a contiguous
run. A chain proves order and integrity only relative to a hash held elsewhere: someone who can
write the file can drop the newest entries, or rewrite an entry and rehash everything after it,
and the chain still verifies. Signed checkpoints (:mod:`mmmfed.audit.checkpoint`, issue 12 item 7)
are that hash held elsewhere. An edited entry that was rehashed alone shows as ``LINK_BROKEN`` at
the next seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mmmfed.audit.entries import (
    FIELDS,
    GENESIS_HASH,
    AuditEntry,
    Unreadable,
    decode_row,
    is_int,
    verify_entry,
)
from mmmfed.errors import InvalidInput

# VerifyResult.reason
VERIFIED = "VERIFIED"
SEQ_GAP = "SEQ_GAP"
HASH_MISMATCH = "HASH_MISMATCH"
LINK_BROKEN = "LINK_BROKEN"


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


def check_chain(entries: Iterable[AuditEntry], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH) -> VerifyResult:
    """Check a contiguous run of entries that should start at ``first_seq`` and link to
    ``prev_hash`` (the whole log: the defaults). Backends' ``verify`` uses this walk."""
    return walk(entries, first_seq=first_seq, prev_hash=prev_hash)


def check_rows(rows: Iterable[Sequence[Any] | None], *, first_seq: int, prev_hash: str) -> VerifyResult:
    """:func:`check_chain` over stored rows (None or a row that cannot be read: ``HASH_MISMATCH``
    at that place) - what a backend's ``verify`` walks."""

    def decoded(row: Sequence[Any] | None, at: int) -> AuditEntry | Unreadable:
        if row is None or len(row) != len(FIELDS):
            return Unreadable(at, "the stored row is not an audit entry")
        return decode_row(tuple(row))

    return walk((decoded(row, first_seq + i) for i, row in enumerate(rows)), first_seq=first_seq, prev_hash=prev_hash)


def check_entries_query(*, peer_id: object, since_seq: object, limit: object) -> None:
    """The arguments of :meth:`AuditLog.entries`; InvalidInput ``AUDIT_QUERY_MALFORMED``."""
    if peer_id is not None and not isinstance(peer_id, str):
        raise InvalidInput("peer_id must be a string or None", reason="AUDIT_QUERY_MALFORMED")
    if not is_int(since_seq) or not is_int(limit) or limit < 1:
        raise InvalidInput("since_seq must be an int and limit a positive int", reason="AUDIT_QUERY_MALFORMED")


def check_verify_from(from_seq: object) -> None:
    """The argument of :meth:`AuditLog.verify`; InvalidInput ``AUDIT_QUERY_MALFORMED``."""
    if not is_int(from_seq) or from_seq < 1:
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


def walk(items: Iterable[AuditEntry | Unreadable], *, first_seq: int, prev_hash: str) -> VerifyResult:
    """Check ``items`` (entries, or rows that could not be read) as the run from ``first_seq``
    linked to ``prev_hash``: the walk behind :func:`check_chain`, :func:`check_rows` and backends."""
    expected, last_hash, checked = first_seq, prev_hash, 0

    def broken(reason: str, seq: int, message: str) -> VerifyResult:
        return VerifyResult(False, reason, seq, checked, expected - 1, last_hash, message)

    for item in items:
        if item.seq != expected:
            return broken(SEQ_GAP, expected, f"entry {expected} missing: the next stored entry is {item.seq!r}")
        if isinstance(item, Unreadable):
            return broken(HASH_MISMATCH, expected, f"entry {expected} cannot be read: {item.why}")
        if not verify_entry(item):
            return broken(HASH_MISMATCH, expected, f"entry {expected}'s fields do not give its hash")
        if item.prev_hash != last_hash:
            return broken(LINK_BROKEN, expected, f"entry {expected}'s prev_hash is not entry {expected - 1}'s hash")
        expected, last_hash, checked = expected + 1, item.hash, checked + 1
    return VerifyResult(True, VERIFIED, None, checked, expected - 1, last_hash)
