"""Instance keys and the gateway keyring: rotation without restart, revocation, validity at the
signing time, caching, single flight and rate-limited refresh (issue "Federated trust", item 4)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.keyring import Keyring, KeyUnavailable
from gateway.servicer import key_set
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.did import multibase_encode
from mmmfed.errors import FailedPrecondition, InvalidInput, NotFound
from mmmfed.keys import InstanceKeyStore, did_web_method, parse_did_web_method
from mmmfed.proofs import SigningKey

T0 = 1_800_000_000_000  # Unix ms


def test_rotation_keeps_old_signatures_verifiable(tmp_path: Path) -> None:
    """After a rotation the new key signs; the old one stays valid for times before the rotation."""
    store = InstanceKeyStore(tmp_path, "a.example")
    first = store.rotate(at_ms=T0)
    second = store.rotate(at_ms=T0 + 60_000)
    old, new = store.records()
    assert (old.key_id, new.key_id) == (first.key_id, second.key_id)
    assert old.usable_at(T0 + 1_000) is None
    assert old.usable_at(T0 + 60_000) == "KEY_NOT_VALID_AT_TIME"
    assert store.current(T0 + 61_000)[0].key_id == second.key_id


def test_a_second_store_sees_changes_without_restart(tmp_path: Path) -> None:
    """What `mmmfed keys rotate` writes is seen by the running gateway's store (re-read on change)."""
    running = InstanceKeyStore(tmp_path, "a.example")
    running.rotate(at_ms=T0)
    cli = InstanceKeyStore(tmp_path, "a.example")
    newest = cli.rotate(at_ms=T0 + 1_000)
    assert running.current(T0 + 2_000)[0].key_id == newest.key_id


def test_revocation_and_errors(tmp_path: Path) -> None:
    """A revoked key fails from its revocation time; unknown ids and empty stores say so."""
    store = InstanceKeyStore(tmp_path, "a.example")
    with pytest.raises(FailedPrecondition) as no_key:
        store.current(T0)
    assert no_key.value.reason == "NO_SIGNING_KEY"
    key = store.rotate(at_ms=T0)
    revoked = store.revoke(key.key_id, at_ms=T0 + 5_000)
    assert revoked.usable_at(T0 + 4_000) is None
    assert revoked.usable_at(T0 + 5_000) == "KEY_REVOKED"
    with pytest.raises(NotFound) as unknown:
        store.revoke("k-nope")
    assert unknown.value.reason == "KEY_UNKNOWN"


def test_did_web_methods_round_trip() -> None:
    """Instance keys are named did:web:<instance>#<key id>; malformed ones are refused."""
    assert parse_did_web_method(did_web_method("a.example", "k-1")) == ("a.example", "k-1")
    for bad in ("did:key:z6Mk#z6Mk", "did:web:a.example", "did:web:A_B#k", "did:web:a.example#"):
        with pytest.raises(InvalidInput) as err:
            parse_did_web_method(bad)
        assert err.value.reason == "KEY_METHOD_MALFORMED"


class FakePeer:
    """A peer key service over an InstanceKeyStore that counts fetches and can be slow."""

    def __init__(self, store: InstanceKeyStore) -> None:
        self.store = store
        self.calls = 0

    async def fetch(self, m_instance_id: str) -> mpb.KeySet:
        self.calls += 1
        await asyncio.sleep(0.01)
        return key_set(self.store)


async def test_keyring_caches_and_fetches_once_for_concurrent_lookups(tmp_path: Path) -> None:
    """Many concurrent resolutions of one peer cause one fetch (single flight), then none."""
    store = InstanceKeyStore(tmp_path, "a.example")
    key = store.rotate(at_ms=T0)
    peer = FakePeer(store)
    ring = Keyring(peer.fetch)
    method = did_web_method("a.example", key.key_id)
    keys = await asyncio.gather(*(ring.resolve(method, at_ms=T0 + 1, expected_instance="a.example") for _ in range(20)))
    assert set(keys) == {key.public_key}
    await ring.resolve(method, at_ms=T0 + 1, expected_instance="a.example")
    assert peer.calls == 1


async def test_unknown_key_id_refreshes_at_most_once_per_interval(tmp_path: Path) -> None:
    """A rotation at the peer is picked up by the first Item signed with the new key; a stream
    of unknown ids cannot make the keyring hammer the peer."""
    store = InstanceKeyStore(tmp_path, "a.example")
    store.rotate(at_ms=T0)
    peer = FakePeer(store)
    now = [0.0]
    ring = Keyring(peer.fetch, min_refresh_s=5.0, clock=lambda: now[0])
    await ring.resolve(did_web_method("a.example", store.records()[0].key_id), at_ms=T0, expected_instance="a.example")
    rotated = store.rotate(at_ms=T0 + 10_000)
    now[0] = 6.0
    new_key = await ring.resolve(
        did_web_method("a.example", rotated.key_id), at_ms=T0 + 11_000, expected_instance="a.example"
    )
    assert new_key == rotated.public_key and peer.calls == 2
    for _ in range(5):
        with pytest.raises(KeyUnavailable) as err:
            await ring.resolve(did_web_method("a.example", "k-forged"), at_ms=T0, expected_instance="a.example")
        assert err.value.reason == "KEY_UNKNOWN"
    assert peer.calls == 2  # within the interval: no refetch


async def test_keyring_refuses_other_instances_keys_and_bad_times(tmp_path: Path) -> None:
    """A key of another instance, a revoked key and a key outside its validity are refused."""
    store = InstanceKeyStore(tmp_path, "a.example")
    key = store.rotate(at_ms=T0)
    store.revoke(key.key_id, at_ms=T0 + 1_000)
    ring = Keyring(FakePeer(store).fetch)
    method = did_web_method("a.example", key.key_id)
    cases = [
        (dict(at_ms=T0, expected_instance="c.example"), "KEY_UNKNOWN"),
        (dict(at_ms=T0 + 1_000, expected_instance="a.example"), "KEY_REVOKED"),
        (dict(at_ms=T0 - 1, expected_instance="a.example"), "KEY_NOT_VALID_AT_TIME"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(KeyUnavailable) as err:
            await ring.resolve(method, **kwargs)
        assert err.value.reason == reason


async def test_a_key_set_must_be_signed_by_one_of_its_keys(tmp_path: Path) -> None:
    """The keyring takes a peer's keys only from its signed key set: unsigned, altered or
    signed-by-a-stranger sets are refused KEY_SET_INVALID."""
    store = InstanceKeyStore(tmp_path, "a.example")
    key = store.rotate(at_ms=T0)
    good = key_set(store)
    doc = json.loads(good.signed_json)
    doc["Keys"][0]["public_key_multibase"] = multibase_encode(SigningKey.generate().public_key_bytes)
    altered = mpb.KeySet(m_instance_id="a.example", keys=good.keys, signed_json=json.dumps(doc).encode())
    unsigned = mpb.KeySet(m_instance_id="a.example", keys=good.keys)
    for bad in (altered, unsigned):

        async def fetch(m_instance_id: str, bad: mpb.KeySet = bad) -> mpb.KeySet:
            return bad

        ring = Keyring(fetch)
        with pytest.raises(KeyUnavailable) as err:
            await ring.resolve(did_web_method("a.example", key.key_id), at_ms=T0 + 1, expected_instance="a.example")
        assert err.value.reason == "KEY_SET_INVALID"
