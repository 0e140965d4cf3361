"""Embedded store: SQLite (stdlib) for Items and documents, files for Item data.

Item data lives in ``<data_dir>/blobs/<sha256>`` (content-addressed); rows live in
``<data_dir>/store.sqlite3`` (WAL mode). Durable across restarts.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from mmmfed.data_format import open_checked
from mmmfed.errors import AlreadyExists, NotFound
from mmmfed.items import Item, parse_item
from mmmfed.store.base import BlobWriter, StagedBlob, fsync_rename

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    item_type TEXT NOT NULL,
    owner_id TEXT,
    item_json BLOB NOT NULL,
    data_sha256 TEXT,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS items_by_owner ON items(owner_id, item_type);
CREATE TABLE IF NOT EXISTS nonces (
    namespace TEXT NOT NULL,
    nonce TEXT NOT NULL,
    keep_until_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, nonce)
);
CREATE TABLE IF NOT EXISTS documents (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    keep_until_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS records_by_expiry ON records(keep_until_ms);
"""


class SqliteStore:
    """:class:`mmmfed.store.Store` on SQLite and blob files under ``data_dir``.

    Raises:
        FailedPrecondition ``DATA_DIR_FORMAT`` at opening: ``store.sqlite3`` holds another
            data-dir format (:mod:`mmmfed.data_format`); it is left unchanged. A new one is stamped.
    """

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir
        self._blobs = data_dir / "blobs"
        self._tmp = data_dir / "blobs" / "tmp"
        data_dir.mkdir(parents=True, exist_ok=True)
        # DATA_DIR_FORMAT before anything is written: a store of another format is left as it is.
        self._db = open_checked(str(data_dir / "store.sqlite3"), what="the Item store")
        self._tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self._tmp.glob("*.part"):
            leftover.unlink()  # partial uploads of a previous run: never committed
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def stage_blob(self, *, expected_size: int | None, expected_sha256: str | None, max_bytes: int) -> BlobWriter:
        return BlobWriter(self._tmp, expected_size=expected_size, expected_sha256=expected_sha256, max_bytes=max_bytes)

    def put_item(self, item: Item, *, item_type: str, owner_id: str | None, blob: StagedBlob | None = None) -> None:
        if self._db.execute("SELECT 1 FROM items WHERE item_id = ?", (item.item_id,)).fetchone():
            if blob is not None:
                blob.path.unlink(missing_ok=True)
            raise AlreadyExists(f"Item {item.item_id} already exists", metadata={"item_id": item.item_id})
        if blob is not None:
            final = self._blobs / blob.sha256
            if final.exists():
                blob.path.unlink(missing_ok=True)
            else:
                fsync_rename(blob.path, final)
        try:
            self._db.execute(
                "INSERT INTO items VALUES (?, ?, ?, ?, ?, ?)",
                (item.item_id, item_type, owner_id, item.raw, blob.sha256 if blob else None, int(time.time() * 1000)),
            )
        except sqlite3.IntegrityError as err:
            raise AlreadyExists(f"Item {item.item_id} already exists", metadata={"item_id": item.item_id}) from err

    def get_item(self, item_id: str) -> Item:
        row = self._db.execute("SELECT item_json FROM items WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            raise NotFound(f"no Item {item_id}", reason="ITEM_NOT_FOUND", metadata={"item_id": item_id})
        return parse_item(bytes(row[0]))

    def find_items(self, *, item_type: str | None = None, owner_id: str | None = None) -> list[Item]:
        rows = self._db.execute(
            "SELECT item_json FROM items WHERE (?1 IS NULL OR item_type = ?1) AND (?2 IS NULL OR owner_id = ?2)"
            " ORDER BY created_ms, rowid",
            (item_type, owner_id),
        ).fetchall()
        return [parse_item(bytes(r[0])) for r in rows]

    def blob_path(self, sha256: str) -> Path:
        path = self._blobs / sha256
        if len(sha256) != 64 or not path.is_file():
            raise NotFound(f"no data with sha-256 {sha256}", reason="DATA_NOT_FOUND")
        return path

    def read_blob(self, sha256: str, *, chunk_bytes: int) -> Iterator[bytes]:
        path = self.blob_path(sha256)

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as fh:
                while chunk := fh.read(chunk_bytes):
                    yield chunk

        return chunks()

    def put_document(self, namespace: str, key: str, value: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", (namespace, key, value))

    def get_document(self, namespace: str, key: str) -> bytes | None:
        row = self._db.execute(
            "SELECT value FROM documents WHERE namespace = ? AND key = ?", (namespace, key)
        ).fetchone()
        return bytes(row[0]) if row else None

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` of this connection: it moves whenever another
        connection (another process) has committed to the file since the last look."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def list_documents(self, namespace: str) -> dict[str, bytes]:
        rows = self._db.execute("SELECT key, value FROM documents WHERE namespace = ? ORDER BY key", (namespace,))
        return {str(k): bytes(v) for k, v in rows.fetchall()}

    def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        self._db.execute("DELETE FROM nonces WHERE keep_until_ms < ?", (now_ms,))
        cursor = self._db.execute("INSERT OR IGNORE INTO nonces VALUES (?, ?, ?)", (namespace, nonce, keep_until_ms))
        return cursor.rowcount == 1

    def put_record(self, namespace: str, key: str, value: bytes, *, keep_until_ms: int, now_ms: int) -> None:
        with self._db:  # one transaction: the expired records go with this write
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM records WHERE keep_until_ms < ?", (now_ms,))
            self._db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (namespace, key, value, keep_until_ms)
            )

    def get_record(self, namespace: str, key: str, *, now_ms: int) -> bytes | None:
        row = self._db.execute(
            "SELECT value FROM records WHERE namespace = ? AND key = ? AND keep_until_ms >= ?", (namespace, key, now_ms)
        ).fetchone()
        return bytes(row[0]) if row else None

    def close(self) -> None:
        self._db.close()
