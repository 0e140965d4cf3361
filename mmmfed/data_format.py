"""The data-dir format: which shape of stored data a store holds, and the check every durable
store makes when it is opened (issue 15 item 5).

Formats:

* **1**: Items in the pre-V2.2 envelope (one Header ``MMM-ITM-V2.2`` plus an ``ItemType`` code).
  Releases that wrote it never stamped a format, so a store with tables or keys but no stamp
  (SQLite ``PRAGMA user_version`` 0, no ``<base>:format`` key in Redis) is format 1.
* **2** (:data:`STORE_FORMAT`): Items in MPAI MMM-TEC V2.2 data types (a Header per type).

A node does not migrate a store of another format: it refuses to open it (FailedPrecondition
``DATA_DIR_FORMAT``, exit 2 from ``mmmfed serve``). The Items it holds carry eddsa-jcs-2022
Data Integrity proofs, many made by other M-Instances over the old shape; a re-shaped copy would
no longer verify, and only their signers could sign it again. The operator keeps that data_dir
with the release that wrote it, or starts the node on a new one.

Where it is stamped: SQLite files in ``PRAGMA user_version`` (:func:`open_sqlite_format`, every
SQLite file a node keeps in its data_dir, :data:`DATA_DIR_FILES`); the gateways' shared Redis
state in the key ``<redis_key_prefix>:{<M-Instance id>}:format``
(:meth:`mmmfed.store.redis.RedisState.start`). A new, empty store is stamped with
:data:`STORE_FORMAT` before anything is written to it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mmmfed.errors import FailedPrecondition

STORE_FORMAT = 2
UNSTAMPED_FORMAT = 1  # what a store with data but no stamp holds: written before stores carried one

# Every SQLite file a node keeps in its data_dir, and what it is (``mmmfed config check`` and
# ``mmmfed serve``'s preflight look at each one there; the stores themselves check on opening).
DATA_DIR_FILES = {
    "store.sqlite3": "the Item store",
    "audit.sqlite3": "the audit log",
    "m-instance.sqlite3": "the M-Instance database",
    "virtual-bridges.sqlite": "the bridge's virtual bridge database",
}

_DESCRIBED = {
    1: "Items in the pre-V2.2 envelope, Header MMM-ITM-V2.2 plus ItemType",
    2: "Items in MPAI MMM-TEC V2.2 data types",
}


def check_store_format(found: int | None, *, what: str, path: str) -> None:
    """Refuse a store whose format is not :data:`STORE_FORMAT`.

    Args:
        found: the store's format; None for a new, empty store (the caller stamps it).
        what: what the store is, for the message (e.g. ``"the M-Instance database"``).
        path: the file or Redis key, for the message and ``metadata["path"]``.

    Raises:
        FailedPrecondition ``DATA_DIR_FORMAT`` (metadata ``path``, ``found``, ``expected``): the
            message names the store, its format, the one this release reads, and what to do.
    """
    if found is None or found == STORE_FORMAT:
        return
    if found == UNSTAMPED_FORMAT:
        has = f"{_DESCRIBED[found]}; no format stamp: written by a release before stores carried one"
    elif found in _DESCRIBED:
        has = _DESCRIBED[found]
    elif found > STORE_FORMAT:
        has = "written by a newer release"
    else:
        has = "unknown to this release"
    raise FailedPrecondition(
        f"{what} {path} is in data-dir format {found} ({has}), but this release reads only format "
        f"{STORE_FORMAT} ({_DESCRIBED[STORE_FORMAT]}). No migration exists: the Items of a data_dir carry "
        "Data Integrity proofs, many made by other M-Instances over the shape they were written in, which a "
        "re-shaped copy would no longer verify. Start the node on a new data_dir, or run the release that "
        "wrote this one.",
        reason="DATA_DIR_FORMAT",
        metadata={"path": path, "found": str(found), "expected": str(STORE_FORMAT)},
    )


def sqlite_format(db: sqlite3.Connection) -> int | None:
    """The format of the SQLite database on ``db``: its ``PRAGMA user_version`` when set,
    :data:`UNSTAMPED_FORMAT` when it is 0 but the file has tables (or any schema object), None
    when it is new and empty. Reads only. sqlite3.DatabaseError for a file that is not SQLite."""
    stamped = int(db.execute("PRAGMA user_version").fetchone()[0])
    if stamped:
        return stamped
    has_schema = db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None
    return UNSTAMPED_FORMAT if has_schema else None


def open_sqlite_format(db: sqlite3.Connection, *, what: str, path: str) -> None:
    """Check the format of the database on ``db`` (autocommit connection, nothing else open on
    it) and stamp a new one with :data:`STORE_FORMAT`, in one ``BEGIN IMMEDIATE`` transaction so
    two processes opening one new file agree. Call it before any schema is created. A refused file
    is left unchanged (the caller closes ``db``).

    Raises:
        FailedPrecondition ``DATA_DIR_FORMAT``: :func:`check_store_format`.
        sqlite3.DatabaseError: not an SQLite file; sqlite3.OperationalError: locked past the
            connection's timeout.
    """
    if str(path) == ":memory:":
        db.execute(f"PRAGMA user_version = {STORE_FORMAT}")
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        found = sqlite_format(db)
        check_store_format(found, what=what, path=path)
        if found is None:
            db.execute(f"PRAGMA user_version = {STORE_FORMAT}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def open_checked(path: str, *, what: str, timeout: float = 5.0, check_same_thread: bool = True) -> sqlite3.Connection:
    """An autocommit connection to the SQLite file ``path`` after :func:`open_sqlite_format`;
    the connection is closed again when the check refuses. Errors as :func:`open_sqlite_format`."""
    db = sqlite3.connect(path, isolation_level=None, timeout=timeout, check_same_thread=check_same_thread)
    try:
        open_sqlite_format(db, what=what, path=path)
    except BaseException:
        db.close()
        raise
    return db


def peek_sqlite_format(path: str) -> int | None:
    """The format of the existing SQLite file ``path`` as its main file says, read with
    ``immutable=1`` so that nothing is created or changed (a read-only connection to a WAL file
    would leave ``-wal`` and ``-shm`` files behind); None for a new, empty file.

    The main file alone is consistent: the stamp is the first write to a new file and sits on
    page 1 with the schema, so a main file with tables also has its stamp.

    Raises:
        sqlite3.OperationalError: a ``-wal`` or ``-shm`` file is there (the file is open, or was
            not closed cleanly): only the store's own open may read it, through the WAL.
        sqlite3.Error: the file cannot be read as SQLite.
    """
    for suffix in ("-wal", "-shm"):
        if Path(path + suffix).exists():
            raise sqlite3.OperationalError(f"{path}{suffix} exists: {path} is open or was not closed cleanly")
    uri = f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        return sqlite_format(db)
    finally:
        db.close()
