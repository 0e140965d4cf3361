"""The durable store of contents: their tables in the M-Instance's one database
(:class:`instance.database.Database`), beside Activity Data and the asset ledger (persistence
only: what may be published is the World's decision, :mod:`instance.content.service`).

Tables: ``contents`` (the Item's exact V2.2 bytes and the metadata it is searched by),
``content_tags``, ``content_parts`` (each part's path and sha-256, in package order) and
``content_blobs`` (the parts' bytes, content-addressed: a part two contents share is kept once)
``content_homes`` (for a content migrated here from a peer, FGMV-43 9.3 step 4: the
M-Instance it came from, whose ItemID it keeps, and the transfer that brought it).

Versions (COIR-104, :mod:`mmmfed.content.versions`): ``content_versions`` holds each version's
record (JCS bytes; its id is their sha-256), in the order they arrived here (a version after its
parents); their parts' bytes are in ``content_blobs`` like every part. ``contents`` and
``content_parts`` describe the current version (the one head, or the head shown while a
conflict waits). Synchronisation (COSF): ``content_links`` names, at a content's home, each peer
it migrated to (the peer end of the link is ``content_homes``); ``content_sync_queue`` is the
durable per-destination queue: a (peer, content) row waits until a synchronisation with that
peer succeeds after its ``mark`` was set (a crash or an outage leaves it to be retried).
Converted contents (COCF with COSF, :mod:`mmmfed.content.renditions`): ``content_sources`` names,
for a content the bridge converted on its migration here, the home content it was converted
from (whose ItemID its version records carry); ``content_renditions`` holds, for each version
held here only converted, the bridge's converted Item, the bridge, its report and the version it
came from (its parts' bytes in ``content_blobs``).
These tables were added to format 2 (:mod:`mmmfed.data_format`): they are new tables, created
when missing, and change nothing in what an older release wrote; a content published before
them gets its first version from its Item when its history is first read.
A content and all its rows are written by :meth:`ContentStore.insert` in ONE write, which joins
the decision open on this thread (the Author Process Action and its Activity Data record), so a
crash leaves the content with its record or neither. Each table has one INSERT.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from instance.content.version_cache import VersionCache
from instance.database import Database
from mmmfed.content.item import PartRef, check_parts, parts_of
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.package import ContentPackage, ContentPart
from mmmfed.content.renditions import Rendition
from mmmfed.content.versions import ContentVersion, check_package
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
CREATE TABLE IF NOT EXISTS content_versions (
    version_id TEXT PRIMARY KEY, content_id TEXT NOT NULL, record_json BLOB NOT NULL,
    received_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS content_versions_by_content ON content_versions (content_id);
CREATE TABLE IF NOT EXISTS content_links (
    content_id TEXT NOT NULL, peer TEXT NOT NULL, linked_ms INTEGER NOT NULL,
    PRIMARY KEY (content_id, peer));
CREATE TABLE IF NOT EXISTS content_sources (
    content_id TEXT PRIMARY KEY, source_item_id TEXT NOT NULL, home_m_instance_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS content_sources_by_source ON content_sources (source_item_id);
CREATE TABLE IF NOT EXISTS content_renditions (
    version_id TEXT PRIMARY KEY, content_id TEXT NOT NULL, item_json BLOB NOT NULL,
    bridge_id TEXT NOT NULL, report_json BLOB NOT NULL, source_version_id TEXT NOT NULL,
    received_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS content_sync_queue (
    peer TEXT NOT NULL, content_id TEXT NOT NULL, mark INTEGER NOT NULL, queued_ms INTEGER NOT NULL,
    PRIMARY KEY (peer, content_id));
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
        self._versions = VersionCache()  # parsed once: a version's record never changes

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
                source = item.doc.get("SourceItemID")
                if isinstance(source, str) and source and "SourceItem" in item.doc:  # converted on the way
                    db.execute("INSERT INTO content_sources VALUES (?, ?, ?)", (item.item_id, source, home))

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

    def source_of(self, content_id: str) -> str:
        """The home content a content converted on its migration here was converted from ("" for
        any other content): the ContentID of its version records (COCF with COSF)."""
        with self.database.read() as db:
            row = db.execute(
                "SELECT source_item_id FROM content_sources WHERE content_id = ?", (content_id,)
            ).fetchone()
        return str(row[0]) if row else ""

    def converted_from(self, source_item_id: str, home: str) -> str:
        """The content held here converted from ``home``'s content ``source_item_id`` (the first
        that arrived), "" when none."""
        with self.database.read() as db:
            row = db.execute(
                "SELECT content_id FROM content_sources WHERE source_item_id = ? AND home_m_instance_id = ?"
                " ORDER BY rowid LIMIT 1",
                (source_item_id, home),
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

    # -- versions (COIR-104) --------------------------------------------------------------
    def versions(self, content_id: str) -> list[ContentVersion]:
        """The content's versions in the order they arrived here (each after its parents)."""
        with self.database.read() as db:
            rows = db.execute(
                "SELECT version_id, record_json FROM content_versions WHERE content_id = ? ORDER BY rowid",
                (content_id,),
            ).fetchall()
        return [self._versions.parsed(str(r[0]), bytes(r[1])) for r in rows]

    def has_version(self, version_id: str) -> bool:
        """Whether the version with this id is held here."""
        with self.database.read() as db:
            found = db.execute("SELECT 1 FROM content_versions WHERE version_id = ?", (version_id,)).fetchone()
        return found is not None

    def add_version(
        self,
        version: ContentVersion,
        package: ContentPackage,
        *,
        current: Item | None = None,
        now_ms: int,
        mark_peers: bool = True,
        except_peer: str = "",
        local_id: str = "",
        rendition: Rendition | None = None,
    ) -> bool:
        """Store ``version`` and its parts (``package``, checked against it) in one write, joining
        the write open on this thread; with ``current``, the content's Item becomes it (the
        current version's Item: its ItemParts those of ``version``). ``mark_peers``: queue a
        synchronisation with every peer the content is linked to (but ``except_peer``). False
        when the version was held already (nothing written: applied once).

        ``local_id``: the content's ItemID here when it is not the record's ContentID (a content
        converted on its migration here). ``rendition``: the version is held here converted;
        ``package`` is then the rendition's parts (checked against its Item), and the record's
        own parts are not held here."""
        if rendition is None:
            check_package(version, package)
        else:
            check_parts(rendition.item.doc, package)
        content_id = local_id or version.content_id
        with self.database.write("content.version") as db:
            held = db.execute("SELECT 1 FROM content_versions WHERE version_id = ?", (version.version_id,)).fetchone()
            if held is not None:
                return False
            db.execute(
                "INSERT INTO content_versions VALUES (?, ?, ?, ?)",
                (version.version_id, content_id, version.record_json, now_ms),
            )
            if rendition is not None:
                db.execute(
                    "INSERT INTO content_renditions VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        version.version_id,
                        content_id,
                        rendition.item.raw,
                        rendition.bridge_id,
                        rendition.report_json(),
                        rendition.source_version_id,
                        now_ms,
                    ),
                )
            db.executemany(
                "INSERT INTO content_blobs VALUES (?, ?) ON CONFLICT(sha256) DO NOTHING",
                [(p.sha256, p.data) for p in package.parts],
            )
            if current is not None:
                self._replace_current(db, current, package)
            if mark_peers:
                self._mark(db, content_id, now_ms, except_peer=except_peer)
        return True

    def rendition(self, version: ContentVersion) -> Rendition | None:
        """The converted representation of ``version`` held here (None: its record's own parts
        are held), its parts checked against its Item (DataIntegrityError ``DIGEST_MISMATCH``)."""
        with self.database.read() as db:
            row = db.execute(
                "SELECT item_json, bridge_id, report_json, source_version_id FROM content_renditions"
                " WHERE version_id = ?",
                (version.version_id,),
            ).fetchone()
        if row is None:
            return None
        item = parse_item(bytes(row[0]))
        package = self._blobs(parts_of(item.doc), version.version_id)
        return Rendition.of(version, item, package, str(row[1]), bytes(row[2]), source_version_id=str(row[3]))

    def rendition_items(self, content_id: str) -> dict[str, tuple[Item, str]]:
        """``{version_id: (converted Item, bridge_id)}`` of the versions of ``content_id`` held here
        converted (their parts not read)."""
        with self.database.read() as db:
            rows = db.execute(
                "SELECT version_id, item_json, bridge_id FROM content_renditions WHERE content_id = ? ORDER BY rowid",
                (content_id,),
            ).fetchall()
        return {str(r[0]): (parse_item(bytes(r[1])), str(r[2])) for r in rows}

    def set_current(self, item: Item, package: ContentPackage) -> None:
        """Make ``item`` (listing ``package``'s parts) the content's current Item."""
        check_parts(item.doc, package)
        with self.database.write("content.current") as db:
            self._replace_current(db, item, package)

    def _replace_current(self, db: sqlite3.Connection, item: Item, package: ContentPackage) -> None:
        check_parts(item.doc, package)
        metadata = ContentMetadata.from_descr(item.doc.get("DescrMetadata") or {})
        content_id = item.item_id
        db.execute(
            "UPDATE contents SET item_json = ?, format = ?, title = ?, creator = ?, licence = ? WHERE content_id = ?",
            (
                item.raw,
                str(item.qualifier.get("Format", "")),
                metadata.title,
                metadata.creator,
                metadata.licence,
                content_id,
            ),
        )
        db.execute("DELETE FROM content_tags WHERE content_id = ?", (content_id,))
        db.executemany("INSERT INTO content_tags VALUES (?, ?)", [(content_id, t) for t in metadata.tags])
        db.execute("DELETE FROM content_parts WHERE content_id = ?", (content_id,))
        db.executemany(
            "INSERT INTO content_parts VALUES (?, ?, ?, ?)",
            [(content_id, seq, p.path, p.sha256) for seq, p in enumerate(package.parts)],
        )

    def version_package(self, version: ContentVersion) -> ContentPackage:
        """The parts of ``version`` from the blobs, checked against it (DataIntegrityError
        ``DIGEST_MISMATCH`` for a blob changed on disk, NotFound ``PART_NOT_HELD``)."""
        package = self._blobs(version.parts, version.version_id)
        check_package(version, package)
        return package

    def _blobs(self, parts: Sequence[PartRef], version_id: str) -> ContentPackage:
        with self.database.read() as db:
            found = {
                str(r[0]): bytes(r[1])
                for r in db.execute(
                    f"SELECT sha256, data FROM content_blobs WHERE sha256 IN ({','.join('?' * len(parts))})",
                    [p.sha256 for p in parts],
                ).fetchall()
            }
        missing = [p.path for p in parts if p.sha256 not in found]
        if missing:
            raise NotFound(
                f"the parts {missing} of version {version_id[:12]} are not held here", reason="PART_NOT_HELD"
            )
        return ContentPackage(tuple(ContentPart.of(p.path, found[p.sha256], p.media_type) for p in parts))

    # -- links and the synchronisation queue (COSF) -----------------------------------------
    def link(self, content_id: str, peer: str, *, now_ms: int) -> None:
        """Record at the content's home that it migrated to ``peer`` (idempotent)."""
        with self.database.write("content.link") as db:
            db.execute(
                "INSERT INTO content_links VALUES (?, ?, ?) ON CONFLICT(content_id, peer) DO NOTHING",
                (content_id, peer, now_ms),
            )

    def linked_peers(self, content_id: str) -> list[str]:
        """The M-Instances this content stays in step with: its home (for a content that
        migrated here) and the peers it migrated to (at its home), sorted."""
        with self.database.read() as db:
            return self._linked(db, content_id)

    def _linked(self, db: sqlite3.Connection, content_id: str) -> list[str]:
        rows = db.execute(
            "SELECT peer FROM content_links WHERE content_id = ?"
            " UNION SELECT home_m_instance_id FROM content_homes WHERE content_id = ?",
            (content_id, content_id),
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def _mark(self, db: sqlite3.Connection, content_id: str, now_ms: int, *, except_peer: str = "") -> None:
        for peer in self._linked(db, content_id):
            if peer != except_peer:
                db.execute(
                    "INSERT INTO content_sync_queue VALUES (?, ?, 1, ?) ON CONFLICT(peer, content_id)"
                    " DO UPDATE SET mark = mark + 1",
                    (peer, content_id, now_ms),
                )

    def queue_sync(self, content_id: str, *, now_ms: int, peer: str = "") -> None:
        """Queue a synchronisation of the content with ``peer`` (every linked peer when "")."""
        with self.database.write("content.queue") as db:
            if peer:
                db.execute(
                    "INSERT INTO content_sync_queue VALUES (?, ?, 1, ?) ON CONFLICT(peer, content_id)"
                    " DO UPDATE SET mark = mark + 1",
                    (peer, content_id, now_ms),
                )
            else:
                self._mark(db, content_id, now_ms)

    def queued(self) -> list[tuple[str, str, int]]:
        """``(peer, content_id, mark)`` of every synchronisation waiting, oldest first."""
        with self.database.read() as db:
            rows = db.execute(
                "SELECT peer, content_id, mark FROM content_sync_queue ORDER BY queued_ms, rowid"
            ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def done_sync(self, peer: str, content_id: str, mark: int) -> None:
        """A synchronisation that started when the row's mark was ``mark`` succeeded: the row
        goes, unless a version queued it again since."""
        with self.database.write("content.synced") as db:
            db.execute(
                "DELETE FROM content_sync_queue WHERE peer = ? AND content_id = ? AND mark = ?",
                (peer, content_id, mark),
            )


def _search(db: sqlite3.Connection, where: ContentFilter) -> list[tuple[bytes, str]]:
    return db.execute(
        "SELECT item_json, owner FROM contents c WHERE (:kind IS NULL OR kind = :kind)"
        " AND (:creator IS NULL OR creator = :creator) AND (:licence IS NULL OR licence = :licence)"
        " AND (:owner IS NULL OR owner = :owner) AND (:tag IS NULL OR EXISTS"
        " (SELECT 1 FROM content_tags t WHERE t.content_id = c.content_id AND t.tag = :tag))"
        " ORDER BY created_ms, rowid",
        dataclasses.asdict(where),
    ).fetchall()
