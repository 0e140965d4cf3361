"""RE-3 content versions signed by the sending gateway (issue 16, gateway/version_signing.py):
the statement covers each version's id, parents, author, time and part digests and the ids the
sender holds; the receiver checks the envelope against the exact records it received, so a
version changed after signing, a destination other than its own, and a second delivery are
refused before anything is applied."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.envelope import EnvelopeChecker
from gateway.keyring import Keyring
from gateway.servicer import key_set
from gateway.verification import ForeignItemRefused
from gateway.version_signing import check_signed, sign_versions, statement
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.content.item import PartRef
from mmmfed.content.versions import ContentVersion
from mmmfed.items import sha256_hex
from mmmfed.keys import InstanceKeyStore
from mmmfed.store import embedded_state

A, B = "a.example", "b.example"
CONTENT = f"mmm://{A}/items/notes"


def _version(text: bytes, parents: tuple[str, ...] = ()) -> ContentVersion:
    return ContentVersion.make(
        content_id=CONTENT,
        parents=parents,
        author=f"mmm://{A}/processes/user/alice",
        time_ms=1_800_000_000_000,
        qualifier={"SubType": "Text", "Format": "text/markdown"},
        metadata={"Title": "Notes", "Licence": "MIT"},
        parts=[PartRef("notes.md", "text/markdown", len(text), sha256_hex(text))],
    )


def _message(*texts: bytes) -> cpb.ContentVersions:
    data = []
    for text in texts:
        v = _version(text)
        part = cpb.ContentPartData(path="notes.md", media_type="text/markdown", data=text)
        data.append(cpb.ContentVersionData(version_id=v.version_id, record_json=v.record_json, parts=[part]))
    return cpb.ContentVersions(content_id=CONTENT, known_ids=["1" * 64], versions=data)


def _records(message: cpb.ContentVersions) -> list[ContentVersion]:
    return [ContentVersion.from_record(d.record_json, version_id=d.version_id) for d in message.versions]


@pytest.fixture
async def checker(tmp_path: Path) -> AsyncIterator[tuple[InstanceKeyStore, EnvelopeChecker]]:
    """a.example's keys, and b.example's envelope checker fetching them."""
    keys = InstanceKeyStore(tmp_path / "keys-a", A)
    keys.rotate()

    async def fetch(m_instance_id: str) -> mpb.KeySet:
        return key_set(keys)

    state, audit = embedded_state(tmp_path / "gateway-b")
    try:
        yield keys, EnvelopeChecker(B, Keyring(fetch), state)
    finally:
        await state.close()
        await audit.close()


def test_the_statement_names_each_version_as_its_record_says() -> None:
    """What is signed: per version its id, parents, author, time and each part's size and sha-256,
    and the sorted ids the sender holds; the same versions give the same bytes."""
    v = _version(b"# Notes\n", parents=("a" * 64,))
    doc = json.loads(statement(CONTENT, ["2" * 64, "1" * 64], [v]))
    assert doc["Type"] == "mmmfed/ContentVersions/v1" and doc["KnownIDs"] == ["1" * 64, "2" * 64]
    assert doc["Versions"] == [
        {
            "VersionID": v.version_id,
            "Parents": ["a" * 64],
            "Author": v.author,
            "TimeMs": v.time_ms,
            "Parts": [{"Path": "notes.md", "Size": 8, "SHA256": sha256_hex(b"# Notes\n")}],
        }
    ]
    assert statement(CONTENT, ["1" * 64, "2" * 64], [v]) == statement(CONTENT, ["2" * 64, "1" * 64], [v])


async def test_a_signed_message_verifies_once(checker: tuple[InstanceKeyStore, EnvelopeChecker]) -> None:
    keys, envelopes = checker
    signed = sign_versions(_message(b"one\n", b"two\n"), keys=keys, destination=B)
    await check_signed(signed, _records(signed), envelopes=envelopes, peer_id=A)
    with pytest.raises(ForeignItemRefused) as err:
        await check_signed(signed, _records(signed), envelopes=envelopes, peer_id=A)
    assert err.value.reason == "REPLAYED"


async def test_what_was_changed_after_signing_or_sent_elsewhere_is_refused(
    checker: tuple[InstanceKeyStore, EnvelopeChecker],
) -> None:
    """A version swapped for another valid one, a known id added, a message signed for another
    destination, a message without an envelope: each refused before anything is applied."""
    keys, envelopes = checker
    signed = sign_versions(_message(b"one\n"), keys=keys, destination=B)
    swapped = cpb.ContentVersions()
    swapped.CopyFrom(signed)
    swapped.versions[0].CopyFrom(_message(b"not what a signed\n").versions[0])
    more_known = cpb.ContentVersions()
    more_known.CopyFrom(signed)
    more_known.known_ids.append("3" * 64)
    elsewhere = sign_versions(_message(b"one\n"), keys=keys, destination="c.example")
    cases = [(swapped, "ENVELOPE_MISMATCH"), (more_known, "ENVELOPE_MISMATCH"), (elsewhere, "ENVELOPE_MISMATCH")]
    cases.append((_message(b"one\n"), "ENVELOPE_MISSING"))
    for message, reason in cases:
        with pytest.raises(ForeignItemRefused) as err:
            await check_signed(message, _records(message), envelopes=envelopes, peer_id=A)
        assert err.value.reason == reason
