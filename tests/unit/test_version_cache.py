"""The content store's cache of parsed versions (instance/content/version_cache.py; COIR-104):
a record read again is the version parsed before, other bytes under a known id are parsed (and
refused) anew, and the cache stays within its bound in bytes of records."""

from __future__ import annotations

import hashlib

import pytest

from instance.content.version_cache import VersionCache
from mmmfed.content.item import PartRef
from mmmfed.content.versions import ContentVersion
from mmmfed.errors import MmmfedError


def _version(i: int) -> ContentVersion:
    data = f"note {i}\n".encode()
    return ContentVersion.make(
        content_id="mmm://a.example/items/note",
        parents=[],
        author="mmm://a.example/processes/user/alice",
        time_ms=1_700_000_000_000 + i,
        qualifier={"SubType": "Text", "Format": "text/markdown", "Attributes": {}},
        metadata={"Title": f"Note {i}", "Licence": "MIT"},
        parts=[PartRef("notes.md", "text/markdown", len(data), hashlib.sha256(data).hexdigest())],
    )


def test_a_record_read_again_is_the_version_parsed_before() -> None:
    cache = VersionCache()
    v = _version(1)
    first = cache.parsed(v.version_id, bytes(v.record_json))
    again = cache.parsed(v.version_id, bytes(v.record_json))
    assert first == v and again is first and len(cache) == 1


def test_other_bytes_under_a_known_id_are_parsed_anew_and_refused() -> None:
    cache = VersionCache()
    v, other = _version(1), _version(2)
    cache.parsed(v.version_id, v.record_json)
    with pytest.raises(MmmfedError) as refused:
        cache.parsed(v.version_id, other.record_json)
    assert refused.value.reason == "VERSION_ID_MISMATCH"
    assert cache.parsed(v.version_id, v.record_json) == v


def test_the_cache_keeps_within_its_bound_dropping_the_least_recently_read() -> None:
    versions = [_version(i) for i in range(10)]
    size = len(versions[0].record_json)
    cache = VersionCache(max_bytes=4 * size + size // 2)  # room for four records
    for v in versions[:4]:
        cache.parsed(v.version_id, v.record_json)
    kept = cache.parsed(versions[0].version_id, versions[0].record_json)  # read again: most recent now
    for v in versions[4:7]:
        cache.parsed(v.version_id, v.record_json)
    assert len(cache) == 4
    assert cache.parsed(versions[0].version_id, versions[0].record_json) is kept
