"""The one SQLite database of the reference M-Instance (``<data_dir>/m-instance.sqlite3``).

MMM-TEC has one model of an M-Instance: Processes holding Rights act on Items through Process
Actions, and every decision is Activity Data. Its durable state is one database: Activity Data
(``instance/world/activity.py``) and the asset ledger (``instance/assets/store.py``: Assets,
Wallets, the transfer journal) are tables of it, so a decision and everything it changes are
written in ONE transaction (a payment and the record of the Transact that made it, a locked Asset
and the Transact that locked it): a crash leaves the state before or the state after, never a
record without its effect or an effect without its record.

:meth:`Database.write` is re-entrant on one thread: a write opened inside another joins it (the
outer one commits), so the engine can wrap a decision's effects and its Activity Data record in
one transaction while each store keeps its own small ``write`` for standalone use. Crash points
(:mod:`mmmfed.crashpoints`) sit right before and right after the outermost write only, i.e.
around each durable commit.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mmmfed.crashpoints import crashpoint
from mmmfed.data_format import open_checked

FILE_NAME = "m-instance.sqlite3"


class Database:
    """One SQLite file (WAL, ``synchronous=FULL``) shared by the M-Instance's stores.

    Args:
        path: the file, or ``":memory:"`` for a throwaway database (tests). Its directory is
            created if missing.

    Raises:
        FailedPrecondition ``DATA_DIR_FORMAT``: the file holds another data-dir format
            (:mod:`mmmfed.data_format`); it is left unchanged. A new file is stamped.

    Thread-safe: one connection behind a re-entrant lock; a write holds the lock from BEGIN to
    COMMIT, so worker threads and the event loop's thread take turns.
    """

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # DATA_DIR_FORMAT before anything is written: a database of another format is left as it is.
        self._db = open_checked(str(path), what="the M-Instance database", timeout=10.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = False

    @classmethod
    def in_dir(cls, data_dir: Path) -> Database:
        """The M-Instance's database in ``data_dir`` (:data:`FILE_NAME`)."""
        return cls(data_dir / FILE_NAME)

    def ensure_schema(self, script: str) -> None:
        """Create a store's tables and indexes (``CREATE ... IF NOT EXISTS`` statements)."""
        with self._lock:
            self._db.executescript(script)

    @contextmanager
    def write(self, point: str | None = None) -> Iterator[sqlite3.Connection]:
        """One atomic, durable write (``BEGIN IMMEDIATE`` ... ``COMMIT``); an exception rolls it
        back and leaves nothing written. Inside another write on this thread it joins that one as a
        savepoint (its exception undoes its own statements only; the outer write commits; no crash
        points of its own). Crash points ``<point>.before`` / ``<point>.after``
        around the outermost write."""
        with self._lock:
            if self._depth:
                self._depth += 1
                name = f"nested_{self._depth}"
                self._db.execute(f"SAVEPOINT {name}")
                try:
                    yield self._db
                    self._db.execute(f"RELEASE {name}")
                except BaseException:
                    self._db.execute(f"ROLLBACK TO {name}")
                    self._db.execute(f"RELEASE {name}")
                    raise
                finally:
                    self._depth -= 1
                return
        if point:
            crashpoint(f"{point}.before")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
        if point:
            crashpoint(f"{point}.after")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads (sees the open write of this thread, if any)."""
        with self._lock:
            yield self._db

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the file and empty it (``wal_checkpoint(TRUNCATE)``), so
        what a write deleted (with ``secure_delete`` on) is not left in the log's old frames
        either (IDIR-204: a linked identity's claims, ``instance/linked_identities.py``)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the connection; a second call does nothing."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
