"""The durable store of contents: their tables in the M-Instance's one database
(:class:`instance.database.Database`), beside Activity Data and the asset ledger (persistence
only: what may be published is the World's decision, :mod:`instance.content.service`).

Tables: ``contents`` (the Item's exact V2.2 bytes and the metadata it is searched by),
``content_tags``, ``content_parts`` (each part's path and sha-256, in package order) and
``content_blobs`` (the parts' bytes, content-addressed: a part two contents share is kept once)
and ``content_homes`` (for a content migrated here from a peer, FGMV-43 9.3 step 4: the
M-Instance it came from, whose ItemID it keeps, and the transfer that brought it).
A content and all its rows are written by :meth:`ContentStore.insert` in ONE write, which joins
the decision open on this thread (the Author Process Action and its Activity Data record), so a
crash leaves the content with its record or neither. Each table has one INSERT.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from instance.database import Database
from mmmfed.content.item import check_parts, parts_of
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.errors import NotFound
from mmmfed.items import Item, parse_item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contents (
    content_id TEXT PRIMARY KEY, item_json BLOB NOT NULL, kind TEXT NOT NULL, format TEXT NOT NULL,
    title TEXT NOT NULL, creator TEXT NOT NULL, licence TEXT NOT NULL, owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS content_tags (
    content_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (content_id, tag));
CREATE INDEX IF NOT EXISTS content_tags_by_tag ON content_tags (tag);
CREATE TABLE IF NOT EXISTS content_parts (
    content_id TEXT NOT NULL, seq INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (content_id, seq));
CREATE TABLE IF NOT EXISTS content_blobs (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS content_homes (
    content_id TEXT PRIMARY KEY, home_m_instance_id TEXT NOT NULL, transfer_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class ContentFilter:
    """A local search (COIR-101/105): every field given must match (``tag``: one of its tags;
    ``licence``: the SPDX expression as the Item spells it); None matches anything."""

    kind: str | None = None
    tag: str | None = None
    creator: str | None = None
    licence: str | None = None
    owner: str | None = None


class StoredContent(NamedTuple):
    """A content as stored: its Item (exact V2.2 bytes) and its owner's ProcessID."""

    item: Item
    owner: str


class ContentStore:
    """The contents' tables in ``database`` (the M-Instance's one database, or one of its own at a
    path). Thread-safe; each method is one short transaction or joins the write open on this
    thread. Errors leave nothing written."""

    def __init__(self, database: Database | Path) -> None:
        self.database = database if isinstance(database, Database) else Database(database)
        self.database.ensure_schema(_SCHEMA)

    def insert(
        self,
        item: Item,
        *,
        owner: str,
        package: ContentPackage,
        created_ms: int,
        home: str = "",
        transfer_id: str = "",
    ) -> None:
        """Store a content: its Item (as the World holds it, or as its ``home`` M-Instance signed
        it, for a content migrated here by ``transfer_id``) and its parts, which must be those
        the Item lists (:func:`~mmmfed.content.item.check_parts`: ``DIGEST_MISMATCH``...)."""
        check_parts(item.doc, package)
        metadata = ContentMetadata.from_descr(item.doc.get("DescrMetadata") or {})
        qualifier = item.qualifier
        with self.database.write("content.insert") as db:
            db.execute(
                "INSERT INTO contents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    item.item_id,
                    item.raw,
                    str(qualifier.get("SubType", "")),
                    str(qualifier.get("Format", "")),
                    metadata.title,
                    metadata.creator,
                    metadata.licence,
                    owner,
                    created_ms,
                ),
            )
            db.executemany("INSERT INTO content_tags VALUES (?, ?)", [(item.item_id, t) for t in metadata.tags])
            db.executemany(
                "INSERT INTO content_parts VALUES (?, ?, ?, ?)",
                [(item.item_id, seq, p.path, p.sha256) for seq, p in enumerate(package.parts)],
            )
            db.executemany(
                "INSERT INTO content_blobs VALUES (?, ?) ON CONFLICT(sha256) DO NOTHING",
                [(p.sha256, p.data) for p in package.parts],
            )
            if home:
                db.execute(
                    "INSERT INTO content_homes VALUES (?, ?, ?, ?)", (item.item_id, home, transfer_id, created_ms)
                )

    def get(self, content_id: str) -> StoredContent:
        """The content's Item and owner; NotFound ``CONTENT_NOT_FOUND``."""
        with self.database.read() as db:
            row = db.execute("SELECT item_json, owner FROM contents WHERE content_id = ?", (content_id,)).fetchone()
        if row is None:
            raise NotFound(
                f"no content {content_id} here", reason="CONTENT_NOT_FOUND", metadata={"item_id": content_id}
            )
        return StoredContent(parse_item(bytes(row[0])), str(row[1]))

    def has(self, content_id: str) -> bool:
        """Whether a content with this ItemID is held here."""
        with self.database.read() as db:
            return db.execute("SELECT 1 FROM contents WHERE content_id = ?", (content_id,)).fetchone() is not None

    def home_of(self, content_id: str) -> str:
        """The M-Instance a content migrated here from ("" for one published here)."""
        with self.database.read() as db:
            row = db.execute(
                "SELECT home_m_instance_id FROM content_homes WHERE content_id = ?", (content_id,)
            ).fetchone()
        return str(row[0]) if row else ""

    def migrated_here(self) -> list[StoredContent]:
        """The contents that migrated here from peers, oldest first."""
        with self.database.read() as db:
            rows = db.execute(
                "SELECT c.item_json, c.owner FROM contents c JOIN content_homes h ON h.content_id = c.content_id"
                " ORDER BY h.received_ms, h.rowid"
            ).fetchall()
        return [StoredContent(parse_item(bytes(r[0])), str(r[1])) for r in rows]

    def package(self, content_id: str) -> ContentPackage:
        """The content's parts as stored, checked against its Item again (a blob changed on disk
        is DataIntegrityError ``DIGEST_MISMATCH``, never served). NotFound ``CONTENT_NOT_FOUND``."""
        item = self.get(content_id).item
        with self.database.read() as db:
            rows = db.execute(
                "SELECT p.path, b.data FROM content_parts p JOIN content_blobs b ON b.sha256 = p.sha256"
                " WHERE p.content_id = ? ORDER BY p.seq",
                (content_id,),
            ).fetchall()
        media = {p.path: p.media_type for p in parts_of(item.doc)}
        package = ContentPackage(tuple(ContentPart.of(path, bytes(data), media.get(path, "")) for path, data in rows))
        check_parts(item.doc, package)
        return package

    def search(self, where: ContentFilter) -> list[StoredContent]:
        """The contents matching ``where``, oldest first."""
        with self.database.read() as db:
            rows = _search(db, where)
        return [StoredContent(parse_item(bytes(r[0])), str(r[1])) for r in rows]


def _search(db: sqlite3.Connection, where: ContentFilter) -> list[tuple[bytes, str]]:
    return db.execute(
        "SELECT item_json, owner FROM contents c WHERE (:kind IS NULL OR kind = :kind)"
        " AND (:creator IS NULL OR creator = :creator) AND (:licence IS NULL OR licence = :licence)"
        " AND (:owner IS NULL OR owner = :owner) AND (:tag IS NULL OR EXISTS"
        " (SELECT 1 FROM content_tags t WHERE t.content_id = c.content_id AND t.tag = :tag))"
        " ORDER BY created_ms, rowid",
        dataclasses.asdict(where),
    ).fetchall()
