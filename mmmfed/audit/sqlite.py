"""The embedded audit log: :class:`SqliteAuditLog`, one SQLite file (LAF, FGMV-43 7.5.3).

Append-only. The API has no update or delete, and SQLite triggers in the file refuse UPDATE and
DELETE on the table and any INSERT that does not extend the chain (wrong seq or prev_hash), on
every connection (``sqlite3.IntegrityError``). Editing the file by other means is what ``verify``
detects, and what a signed checkpoint (:mod:`mmmfed.audit.checkpoint`) shows when the tail itself
was cut or rewritten.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmmfed.audit.chain import SEQ_GAP, VerifyResult, check_entries_query, check_verify_from, walk
from mmmfed.audit.entries import FIELDS, GENESIS_HASH, AuditDraft, AuditEntry, decode_entry, decode_row, draft_entry
from mmmfed.data_format import open_checked

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


class SqliteAuditLog:
    """:class:`AuditLog` in its own SQLite file (WAL, ``synchronous=FULL``: an entry returned by
    ``append`` survives a crash). Safe to share between threads; several instances or processes
    on one file serialise appends through ``BEGIN IMMEDIATE``, waiting up to ``busy_timeout_s``
    (then ``sqlite3.OperationalError`` "database is locked" propagates). Opening a file of
    another data-dir format raises FailedPrecondition ``DATA_DIR_FORMAT`` and leaves it unchanged
    (:mod:`mmmfed.data_format`); a new file is stamped."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        # DATA_DIR_FORMAT before anything is written: a log of another format is left as it is.
        self._db = open_checked(str(self._path), what="the audit log", timeout=busy_timeout_s, check_same_thread=False)
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
                                f"SELECT {', '.join(FIELDS)} FROM audit_log WHERE seq = ?", done
                            ).fetchone()
                            entries.append(decode_entry(row))
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
                f"SELECT {', '.join(FIELDS)} FROM audit_log WHERE seq > ?1 AND (?2 IS NULL OR peer_id = ?2)"
                " ORDER BY seq LIMIT ?3",
                (since_seq, peer_id, limit),
            ).fetchall()
        return [decode_entry(row) for row in rows]

    def head(self) -> AuditEntry | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(FIELDS)} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        return decode_entry(row) if row else None

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
            rows = reader.execute(f"SELECT {', '.join(FIELDS)} FROM audit_log WHERE seq >= ? ORDER BY seq", (from_seq,))
            return walk((decode_row(row) for row in rows), first_seq=from_seq, prev_hash=prev_hash)
        finally:
            reader.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteAuditLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
