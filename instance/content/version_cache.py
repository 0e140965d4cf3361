"""Parsed content versions by id, for the content store (COIR-104; FGMV-43 9.3 steps 5-7).

Every synchronisation reads a content's whole version graph (its exports and the checks of what
is applied), and parsing a version's record means checking it is in JCS form (RFC 8785) and
hashing it: done for every version on every read, that cost grew with the history, ~40% of a
synchronisation's CPU after ten versions (py-spy, ``bench/sync_channels.py``). A version never
changes (its id is its record's digest), so a record read again is the version parsed before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from mmmfed.content.versions import ContentVersion

MAX_CACHED_BYTES = 8 * 1024 * 1024


class VersionCache:
    """Versions parsed by :meth:`ContentVersion.from_record`, by id, bounded to ``max_bytes`` of
    records (the least recently read dropped first; a record is at most 64 KiB). Thread-safe:
    the store is read from worker threads too."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self._max_bytes = max_bytes
        self._held: OrderedDict[str, ContentVersion] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def parsed(self, version_id: str, record_json: bytes) -> ContentVersion:
        """The version whose record is ``record_json`` and id ``version_id``; raises as
        :meth:`ContentVersion.from_record` does (the cache holds only records that parsed, under
        the id they hash to, and answers only for the same bytes)."""
        with self._lock:
            held = self._held.get(version_id)
            if held is not None and held.record_json == record_json:
                self._held.move_to_end(version_id)
                return held
        version = ContentVersion.from_record(record_json, version_id=version_id)
        with self._lock:
            if version_id not in self._held:
                self._held[version_id] = version
                self._bytes += len(record_json)
            while self._bytes > self._max_bytes and self._held:
                _, dropped = self._held.popitem(last=False)
                self._bytes -= len(dropped.record_json)
        return version

    def __len__(self) -> int:
        return len(self._held)
