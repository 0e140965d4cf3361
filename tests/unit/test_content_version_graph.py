"""Content versions (COIR-104): content-addressed records, the version graph (heads, nearest
common ancestor, id prefixes) and the three-way merges of concurrent text versions (COSF)."""

from __future__ import annotations

import hashlib
import json

import pytest
import rfc8785

from mmmfed.content.item import PartRef
from mmmfed.content.versions import ContentVersion, VersionGraph, merge_metadata, merge_text
from mmmfed.errors import DataIntegrityError, InvalidInput, NotFound

CONTENT = "mmm://a.example/items/notes"


def _version(parents: list[str], data: bytes, *, time_ms: int = 1, title: str = "Notes") -> ContentVersion:
    return ContentVersion.make(
        content_id=CONTENT,
        parents=parents,
        author="mmm://a.example/processes/user/alice",
        time_ms=time_ms,
        qualifier={"SubType": "Text", "Format": "text/markdown", "Attributes": {}},
        metadata={"Title": title, "Licence": "MIT"},
        parts=[PartRef("notes.md", "text/markdown", len(data), hashlib.sha256(data).hexdigest())],
    )


def test_coir_104_a_version_id_is_the_sha256_of_its_jcs_record() -> None:
    v = _version([], b"one\n")
    assert v.version_id == hashlib.sha256(v.record_json).hexdigest()
    assert rfc8785.dumps(json.loads(v.record_json)) == v.record_json
    assert ContentVersion.from_record(v.record_json, version_id=v.version_id) == v
    assert _version([], b"one\n").version_id == v.version_id  # the same record, the same id
    assert _version([], b"one\n", time_ms=2).version_id != v.version_id  # time is covered
    assert _version([v.version_id], b"one\n").version_id != v.version_id  # parents too


def test_coir_104_a_record_that_is_not_what_its_id_says_or_not_jcs_is_refused() -> None:
    v = _version([], b"one\n")
    with pytest.raises(DataIntegrityError) as caught:
        ContentVersion.from_record(v.record_json, version_id="0" * 64)
    assert caught.value.reason == "VERSION_ID_MISMATCH"
    spaced = json.dumps(json.loads(v.record_json), indent=1).encode()
    for bad in (spaced, b"[]", b"{", b'{"Parents": []}'):
        with pytest.raises(InvalidInput) as refused:
            ContentVersion.from_record(bad)
        assert refused.value.reason == "VERSION_MALFORMED"


def test_cosf_heads_and_the_nearest_common_ancestor_of_two_concurrent_versions() -> None:
    root = _version([], b"a\nb\nc\n")
    left = _version([root.version_id], b"A\nb\nc\n", time_ms=2)
    right = _version([root.version_id], b"a\nb\nC\n", time_ms=3)
    graph = VersionGraph([root, left, right])
    assert [h.version_id for h in graph.heads()] == [left.version_id, right.version_id]
    assert graph.base_of(left.version_id, right.version_id) == root
    merge = _version(sorted([left.version_id, right.version_id]), b"A\nb\nC\n", time_ms=3)
    graph.versions[merge.version_id] = merge
    assert graph.heads() == [merge]
    assert graph.find(root.version_id[:8]) == root
    with pytest.raises(NotFound) as caught:
        graph.find(root.version_id[:7])  # too short to name a version
    assert caught.value.reason == "VERSION_NOT_FOUND"


def test_cosf_text_merges_take_both_sides_changes_in_an_order_both_sides_share() -> None:
    base = b"title\n\none\ntwo\nthree\n"
    ours = base.replace(b"one", b"ONE")
    theirs = base.replace(b"three", b"THREE")
    assert merge_text(base, ours, theirs) == b"title\n\nONE\ntwo\nTHREE\n"
    both = merge_text(base, base.replace(b"two", b"2 (a)"), base.replace(b"two", b"2 (b)"))
    assert both == b"title\n\none\n2 (a)\n2 (b)\nthree\n"  # no markers: both kept, ours first
    assert merge_text(base, base, theirs) == theirs


def test_cosf_metadata_merges_per_field() -> None:
    base = {"Title": "Notes", "Tags": ["a"], "Licence": "MIT"}
    ours = {**base, "Title": "Notes (a)"}
    theirs = {**base, "Tags": ["b"]}
    assert merge_metadata(base, ours, theirs) == {"Title": "Notes (a)", "Tags": ["b"], "Licence": "MIT"}
