"""Key revocation that holds against backdating (issue 12 item 4): a revocation's reason
(``compromised`` / ``superseded``) on disk, in the published key set, in the replicas' key cache and
in the keyring's decision; and proofs dated within their transfer envelope's issued-at."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.envelope import PROOF_ENVELOPE_SKEW_S, EnvelopeChecker, make_envelope
from gateway.keyring import Keyring, KeyUnavailable, verified_key_set
from gateway.servicer import key_set
from gateway.verification import ForeignItemRefused, ForeignItemVerifier
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.errors import InvalidInput
from mmmfed.items import proof_time
from mmmfed.keys import COMPROMISED, SUPERSEDED, InstanceKeyStore
from mmmfed.proofs import sign_document
from mmmfed.store import embedded_state
from mmmfed.v22.parts import json_data_uri

A, B = "a.example", "b.example"
T0_S = 1_800_000_000  # Unix s: when a.example's key starts
MINUTE_MS = 60_000
T0 = T0_S * 1000
REVOKED = T0 + 30 * MINUTE_MS  # when the key is revoked
BACKDATED = REVOKED - 10 * MINUTE_MS  # what a holder of the key claims as created


def _store(tmp_path: Path) -> InstanceKeyStore:
    store = InstanceKeyStore(tmp_path / "keys-a", A)
    store.rotate(at_ms=T0)
    return store


def _signed(store: InstanceKeyStore, doc: dict[str, Any], *, created_ms: int) -> dict[str, Any]:
    """``doc`` signed with a.example's first key, ``created`` at ``created_ms`` (whatever it says)."""
    record = store.records()[0]
    key = store.current(record.valid_from_ms)[1]
    return sign_document(doc, key=key, verification_method=store.method(record), created=proof_time(created_ms / 1000))


def _verifier(store: InstanceKeyStore, *, now_ms: int) -> ForeignItemVerifier:
    """b.example's verifier of a.example's proofs, its keyring fetching ``store``'s key set, at ``now_ms``."""

    async def fetch(m_instance_id: str) -> mpb.KeySet:
        return key_set(store)

    clock = lambda: now_ms / 1000  # noqa: E731 - a fixed clock
    return ForeignItemVerifier(Keyring(fetch, wall_clock=clock), clock=clock)


# -- the keyring's decision ----------------------------------------------------------------------
async def test_backdated_proof_by_compromised_key_refused(tmp_path: Path) -> None:
    """Issue 12 item 4: a proof created 10 minutes before the key's revocation as compromised is
    refused KEY_REVOKED when verified after the revocation, and the refusal names the reason."""
    store = _store(tmp_path)
    doc = _signed(store, {"Type": "test", "N": 1}, created_ms=BACKDATED)
    store.revoke(store.records()[0].key_id, at_ms=REVOKED, reason=COMPROMISED)
    with pytest.raises(ForeignItemRefused) as err:
        await _verifier(store, now_ms=REVOKED + 1_000).verify_signed_by_peer(doc, A)
    assert err.value.reason == "KEY_REVOKED"
    assert "compromised" in err.value.message


async def test_backdated_proof_by_superseded_key_verifies(tmp_path: Path) -> None:
    """Issue 12 item 4: the same proof by a key revoked as superseded verifies after the revocation
    (rotation); one created at or after the revocation is still refused KEY_REVOKED."""
    store = _store(tmp_path)
    before = _signed(store, {"Type": "test", "N": 1}, created_ms=BACKDATED)
    after = _signed(store, {"Type": "test", "N": 2}, created_ms=REVOKED)
    store.revoke(store.records()[0].key_id, at_ms=REVOKED, reason=SUPERSEDED)
    verifier = _verifier(store, now_ms=REVOKED + 1_000)
    await verifier.verify_signed_by_peer(before, A)
    with pytest.raises(ForeignItemRefused) as err:
        await verifier.verify_signed_by_peer(after, A)
    assert err.value.reason == "KEY_REVOKED"


async def test_compromised_key_verifies_until_its_revocation_time(tmp_path: Path) -> None:
    """A compromise revocation scheduled for later (``keys revoke --at``) refuses nothing verified
    before that time; from that time on it refuses proofs of any date."""
    store = _store(tmp_path)
    doc = _signed(store, {"Type": "test"}, created_ms=BACKDATED)
    store.revoke(store.records()[0].key_id, at_ms=REVOKED, reason=COMPROMISED)
    await _verifier(store, now_ms=REVOKED - 1_000).verify_signed_by_peer(doc, A)
    record = store.records()[0]
    assert record.usable_at(BACKDATED, verified_at_ms=REVOKED - 1) is None
    assert record.usable_at(BACKDATED, verified_at_ms=REVOKED) == "KEY_REVOKED"
    assert record.usable_at(T0 - 1, verified_at_ms=REVOKED - 1) == "KEY_NOT_VALID_AT_TIME"


# -- on disk: reasons kept, older records read safely, never weakened -----------------------------
def test_revocation_without_reason_reads_as_compromised(tmp_path: Path) -> None:
    """A keys.json written before reasons existed (revoked, no reason) reads as compromised, the
    reading that fails closed; so does an unknown reason. An unrevoked key has no reason."""
    store = _store(tmp_path)
    raw = json.loads((store.directory / "keys.json").read_text())
    first = raw["keys"][0]
    legacy = {k: v for k, v in first.items() if k != "revocation_reason"}
    raw["keys"] = [
        {**legacy, "key_id": "k-legacy", "revoked_at_ms": REVOKED},
        {**legacy, "key_id": "k-unknown", "revoked_at_ms": REVOKED, "revocation_reason": "affiliationChanged"},
        {**legacy, "key_id": "k-open", "revocation_reason": "superseded"},
    ]
    (store.directory / "keys.json").write_text(json.dumps(raw))
    reasons = {r.key_id: r.revocation_reason for r in InstanceKeyStore(store.directory, A).records()}
    assert reasons == {"k-legacy": COMPROMISED, "k-unknown": COMPROMISED, "k-open": ""}


def test_revocation_is_never_weakened(tmp_path: Path) -> None:
    """superseded can become compromised, never the reverse; a revocation time only moves
    earlier; an unknown reason is InvalidInput REVOCATION_REASON_UNKNOWN and changes nothing."""
    store = _store(tmp_path)
    key_id = store.records()[0].key_id
    assert store.revoke(key_id, at_ms=REVOKED, reason=SUPERSEDED).revocation_reason == SUPERSEDED
    assert store.revoke(key_id, at_ms=REVOKED + 5_000, reason=COMPROMISED).revoked_at_ms == REVOKED
    assert store.records()[0].revocation_reason == COMPROMISED
    again = store.revoke(key_id, at_ms=REVOKED - 5_000, reason=SUPERSEDED)
    assert (again.revoked_at_ms, again.revocation_reason) == (REVOKED - 5_000, COMPROMISED)
    before = (store.directory / "keys.json").read_bytes()
    with pytest.raises(InvalidInput) as err:
        store.revoke(key_id, reason="lost")
    assert err.value.reason == "REVOCATION_REASON_UNKNOWN"
    assert (store.directory / "keys.json").read_bytes() == before


# -- on the wire (RE-5 GetKeys) and in the replicas' key cache ------------------------------------
def test_key_set_carries_the_revocation_reason(tmp_path: Path) -> None:
    """The published KeySet gives each revoked key its reason, in the proto and in the signed
    JSON the keyring reads; a key set of an older peer (no reason) reads as compromised."""
    store = _store(tmp_path)
    store.rotate(at_ms=T0 + MINUTE_MS)
    first, second = (r.key_id for r in store.records())
    store.revoke(first, at_ms=REVOKED, reason=SUPERSEDED)
    published = key_set(store)
    assert [k.revocation_reason for k in published.keys] == [
        mpb.KEY_REVOCATION_REASON_SUPERSEDED,
        mpb.KEY_REVOCATION_REASON_UNSPECIFIED,
    ]
    assert [r.revocation_reason for r in verified_key_set(published, A)] == [SUPERSEDED, ""]

    doc = json.loads(published.signed_json)
    doc.pop("proof")
    for k in doc["Keys"]:
        k.pop("revocation_reason", None)
    signer = next(r for r in store.records() if r.key_id == second)
    older = sign_document(
        doc, key=store.current(REVOKED)[1], verification_method=store.method(signer), created=proof_time(T0_S)
    )
    legacy = mpb.KeySet(m_instance_id=A, signed_json=json.dumps(older).encode())
    assert [r.revocation_reason for r in verified_key_set(legacy, A)] == [COMPROMISED, ""]


class DictCache:
    """The replicas' key cache (KeyCache) in a dict; TTLs ignored (the keyring ages entries)."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None:
        self.values[f"{namespace} {key}"] = value

    async def get_cached(self, namespace: str, key: str) -> bytes | None:
        return self.values.get(f"{namespace} {key}")


async def test_shared_key_cache_keeps_the_reason(tmp_path: Path) -> None:
    """A replica that takes the keys another replica fetched refuses a backdated proof by a
    compromised key too; a cache entry written before reasons existed reads as compromised."""
    store = _store(tmp_path)
    key_id = store.records()[0].key_id
    store.revoke(key_id, at_ms=REVOKED, reason=COMPROMISED)
    cache, fetches = DictCache(), []

    async def fetch(m_instance_id: str) -> mpb.KeySet:
        fetches.append(m_instance_id)
        return key_set(store)

    clock = lambda: (REVOKED + 1_000) / 1000  # noqa: E731 - a fixed clock
    method = store.method(store.records()[0])
    for _ in range(2):  # the first replica fetches and shares, the second takes the shared copy
        ring = Keyring(fetch, cache=cache, wall_clock=clock)
        with pytest.raises(KeyUnavailable) as err:
            await ring.resolve(method, at_ms=BACKDATED, expected_instance=A)
        assert err.value.reason == "KEY_REVOKED"
        assert ring.cached(A)[key_id].revocation_reason == COMPROMISED
    assert fetches == [A]

    entry = json.loads(cache.values[f"keyring {A}"])
    for k in entry["Keys"]:
        del k["revocation_reason"]
    cache.values[f"keyring {A}"] = json.dumps(entry).encode()
    ring = Keyring(fetch, cache=cache, wall_clock=clock)
    with pytest.raises(KeyUnavailable) as err:
        await ring.resolve(method, at_ms=BACKDATED, expected_instance=A)
    assert err.value.reason == "KEY_REVOKED"
    assert ring.cached(A)[key_id].revocation_reason == COMPROMISED
    assert fetches == [A]


# -- proofs dated within their envelope's issued-at ------------------------------------------------
ISSUED_S = T0_S + 20 * 60  # the envelope's issued-at
SKEW_MS = int(PROOF_ENVELOPE_SKEW_S * 1000)


async def _check(store: InstanceKeyStore, tmp_path: Path, items: list[dict[str, Any]], *, transfer_id: str) -> None:
    """b.example's EnvelopeChecker on an envelope a.example issued at ISSUED_S for ``items``."""
    state, audit = embedded_state(tmp_path / "gateway-b")
    try:
        item_json = json.dumps(items[0]).encode()
        envelope = make_envelope(
            keys=store, destination=B, transfer_id=transfer_id, item_json=item_json, issued_at_s=ISSUED_S
        )

        async def fetch(m_instance_id: str) -> mpb.KeySet:
            return key_set(store)

        clock = lambda: ISSUED_S + 1.0  # noqa: E731 - a fixed clock
        checker = EnvelopeChecker(B, Keyring(fetch, wall_clock=clock), state, clock=clock)
        await checker.check(
            envelope,
            peer_id=A,
            transfer_id=transfer_id,
            item_json=item_json,
            items=[json.dumps(i).encode() for i in items],
        )
    finally:
        await state.close()
        await audit.close()


@pytest.mark.parametrize(
    ("offset_ms", "where"),
    [
        pytest.param(-10 * MINUTE_MS, "item", id="item-created-10-min-before"),
        pytest.param(SKEW_MS + 1_000, "item", id="item-created-after-the-skew"),
        pytest.param(-10 * MINUTE_MS, "source", id="source-item-created-10-min-before"),
    ],
)
async def test_proof_created_outside_envelope_refused(tmp_path: Path, offset_ms: int, where: str) -> None:
    """Issue 12 item 4: an Item (or the SourceItem a bridge embeds) whose proof is created more
    than PROOF_ENVELOPE_SKEW_S before or after its envelope's issued-at is refused
    PROOF_CREATED_OUTSIDE_ENVELOPE, and the transfer id is not claimed (the same transfer with
    well-dated proofs then passes)."""
    store = _store(tmp_path)
    issued_ms = ISSUED_S * 1000
    outside = _signed(store, {"Type": "ITM", "N": 1}, created_ms=issued_ms + offset_ms)
    embedding = {"Type": "ITM", "ItemData": [json_data_uri(outside)]}  # a conversion embeds its original
    item = outside if where == "item" else _signed(store, embedding, created_ms=issued_ms)
    with pytest.raises(ForeignItemRefused) as err:
        await _check(store, tmp_path, [item], transfer_id="urn:uuid:t-1")
    assert err.value.reason == "PROOF_CREATED_OUTSIDE_ENVELOPE"
    assert err.value.code.name == "PERMISSION_DENIED"
    inside = _signed(store, {"Type": "ITM", "N": 1}, created_ms=issued_ms - SKEW_MS + 1_000)
    await _check(store, tmp_path, [inside], transfer_id="urn:uuid:t-1")


async def test_envelope_own_proof_must_be_dated_with_its_issued_at(tmp_path: Path) -> None:
    """An envelope whose own proof's created is far from its IssuedAtMs is refused too."""
    store = _store(tmp_path)
    state, audit = embedded_state(tmp_path / "gateway-b")
    try:
        item_json = b'{"Type":"ITM"}'
        made = make_envelope(
            keys=store, destination=B, transfer_id="urn:uuid:t-2", item_json=item_json, issued_at_s=ISSUED_S
        )
        good = json.loads(made)
        good.pop("proof")
        doc = {**good, "IssuedAtMs": ISSUED_S * 1000, "ExpiresAtMs": ISSUED_S * 1000 + 60_000}
        envelope = json.dumps(_signed(store, doc, created_ms=ISSUED_S * 1000 - 10 * MINUTE_MS)).encode()

        async def fetch(m_instance_id: str) -> mpb.KeySet:
            return key_set(store)

        clock = lambda: ISSUED_S + 1.0  # noqa: E731 - a fixed clock
        checker = EnvelopeChecker(B, Keyring(fetch, wall_clock=clock), state, clock=clock)
        with pytest.raises(ForeignItemRefused) as err:
            await checker.check(envelope, peer_id=A, transfer_id="urn:uuid:t-2", item_json=item_json)
        assert err.value.reason == "PROOF_CREATED_OUTSIDE_ENVELOPE"
    finally:
        await state.close()
        await audit.close()
