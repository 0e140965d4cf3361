"""Finding contents (ITU FGMV-43 9.3, COIR-101/105): a query (:mod:`mmmfed.content.query`) over
the M-Instance's own contents, and what it shares with each peer, which is all a peer's search
may find here.

Hits are ranked by where the query's words matched (title 3, a tag 2, creator or description 1
each), then oldest first, and cut at the query's limit. Matching reads each candidate's
DescrMetadata after the exact filters ran in SQL, so its cost grows with the contents the filters
leave (fine for the reference M-Instance; a full-text index would be the next step).

Sharing (:class:`ContentShares`): the table ``content_shares`` (content id, peer M-Instance id,
time) in the M-Instance's one database. Only a content whose home is this M-Instance is shared
(one that migrated here is its home's to share: FailedPrecondition ``NOT_HOME_CONTENT``).
"""

from __future__ import annotations

import time

from instance.content.store import ContentFilter, ContentStore, StoredContent
from mmmfed.content.metadata import ContentMetadata
from mmmfed.content.query import ContentQuery
from mmmfed.errors import FailedPrecondition, InvalidInput
from mmmfed.items import check_instance_id

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_shares (
    content_id TEXT NOT NULL, peer_m_instance_id TEXT NOT NULL, shared_ms INTEGER NOT NULL,
    PRIMARY KEY (content_id, peer_m_instance_id));
CREATE INDEX IF NOT EXISTS content_shares_by_peer ON content_shares (peer_m_instance_id);
"""


def _score(metadata: ContentMetadata, words: tuple[str, ...]) -> int | None:
    """How well ``metadata`` matches ``words`` (module docstring); None if a word is missing."""
    title, creator, description = (
        metadata.title.casefold(),
        metadata.creator.casefold(),
        metadata.description.casefold(),
    )
    tags = [t.casefold() for t in metadata.tags]
    score = 0
    for word in words:
        found = 3 * (word in title) + 2 * any(word in t for t in tags) + (word in creator) + (word in description)
        if not found:
            return None
        score += found
    return score


def search(store: ContentStore, query: ContentQuery, *, among: frozenset[str] | None = None) -> list[StoredContent]:
    """The contents of ``store`` matching ``query``, best first, at most ``query.limit``; only
    those whose ids are in ``among`` when given (what is shared with a peer)."""
    where = ContentFilter(kind=query.kind, tag=query.tag, creator=query.creator, licence=query.licence)
    ranked: list[tuple[int, int, StoredContent]] = []
    for order, stored in enumerate(store.search(where)):
        if among is not None and stored.item.item_id not in among:
            continue
        metadata = ContentMetadata.from_descr(stored.item.doc.get("DescrMetadata") or {})
        score = _score(metadata, query.words)
        if score is not None:
            ranked.append((-score, order, stored))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return [stored for _, _, stored in ranked[: query.limit]]


class ContentShares:
    """Which of ``store``'s contents are shared with which peer (module docstring)."""

    def __init__(self, store: ContentStore, m_instance_id: str) -> None:
        self._store = store
        self._id = m_instance_id
        store.database.ensure_schema(_SCHEMA)

    def set(self, content_id: str, peer: str, *, shared: bool) -> list[str]:
        """Share ``content_id`` with ``peer`` (or stop, ``shared=False``); every peer it is shared
        with afterwards, sorted. NotFound ``CONTENT_NOT_FOUND``, FailedPrecondition
        ``NOT_HOME_CONTENT``, InvalidInput ``BAD_PEER`` (not an M-Instance id, or this one)."""
        self._store.get(content_id)
        try:
            check_instance_id(peer)
        except InvalidInput as err:
            raise InvalidInput(f"peer {peer[:100]!r}: {err.message}", reason="BAD_PEER") from err
        if peer == self._id:
            raise InvalidInput("a content is shared with another M-Instance, not this one", reason="BAD_PEER")
        if self._store.home_of(content_id):
            raise FailedPrecondition(
                f"{content_id} migrated here from {self._store.home_of(content_id)}; its home shares it",
                reason="NOT_HOME_CONTENT",
            )
        with self._store.database.write("content.share") as db:
            if shared:
                db.execute(
                    "INSERT INTO content_shares VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (content_id, peer, int(time.time() * 1000)),
                )
            else:
                db.execute(
                    "DELETE FROM content_shares WHERE content_id = ? AND peer_m_instance_id = ?", (content_id, peer)
                )
        return self.shared_with(content_id)

    def shared_with(self, content_id: str) -> list[str]:
        """The peers ``content_id`` is shared with, sorted."""
        with self._store.database.read() as db:
            rows = db.execute(
                "SELECT peer_m_instance_id FROM content_shares WHERE content_id = ? ORDER BY 1", (content_id,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def shared_to(self, peer: str) -> frozenset[str]:
        """The ids of the contents shared with ``peer``."""
        with self._store.database.read() as db:
            rows = db.execute("SELECT content_id FROM content_shares WHERE peer_m_instance_id = ?", (peer,)).fetchall()
        return frozenset(str(r[0]) for r in rows)
