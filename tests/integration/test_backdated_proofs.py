"""Key revocation that holds against backdating, over the real loopback federation (issue 12
item 4): a.example's gateway sends b.example's gateway avatar transfers (RE-1 TransferAvatar,
real mTLS) whose Persona proofs are dated ten minutes before a.example revoked the key; b.example
learns the revocation and its reason through a.example's key service (RE-5 GetKeys) and refuses
or accepts by that reason, and refuses a proof dated away from its transfer envelope."""

from __future__ import annotations

import time
from typing import Any

import grpc
from personaflow import assert_nothing_stored, chunks_of, persona, stored, transfer, transfer_header
from rpcassert import refused

from gateway.envelope import make_envelope
from gateway.keyring import verified_key_set
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.items import Item, item_of, item_of_wire, proof_time
from mmmfed.keys import COMPROMISED, SUPERSEDED, PublicKeyRecord, now_ms
from mmmfed.proofs import sign_document
from mmmfed.tls import secure_channel

DENIED = grpc.StatusCode.PERMISSION_DENIED
MINUTE_S = 60


def _key_from_twenty_minutes_ago(fed: Federation) -> PublicKeyRecord:
    """A new current key of a.example valid from 20 minutes ago, so that it can date proofs ten
    minutes back; b.example's keyring refreshes on any unknown key id at once."""
    fed.nodes["gateway-b"].keyring.min_refresh_s = 0.0  # the default 5 s interval would only delay the test
    return fed.nodes["gateway-a"].keys.rotate(at_ms=now_ms() - 20 * MINUTE_S * 1000)


def _signed_with(fed: Federation, record: PublicKeyRecord, item: Item, *, at_s: float) -> Item:
    """``item`` with a proof by a.example's key ``record`` whose created says ``at_s`` (what
    anyone holding the key can write)."""
    keys = fed.nodes["gateway-a"].keys
    key = keys.current(record.valid_from_ms)[1]
    doc = sign_document(item.wire, key=key, verification_method=keys.method(record), created=proof_time(at_s))
    return _item(doc)


def _item(doc: dict[str, Any]) -> Item:
    """The Item of a domain document, or of a V2.2 form (one with a proof made over it)."""
    return item_of_wire(doc) if "DataXMData" in doc else item_of(doc)


def _backdated_transfer(fed: Federation, item: Item, *, issued_at_s: float) -> list[gpb.TransferAvatarRequest]:
    """The transfer of ``item`` with an envelope issued (and signed, with the key current then) at
    ``issued_at_s``, living 10 minutes: as a holder of that key can make it."""
    header = transfer_header(item)
    header.header.envelope_json = make_envelope(
        keys=fed.nodes["gateway-a"].keys,
        destination="b.example",
        transfer_id=header.header.transfer_id,
        item_json=item.raw,
        lifetime_s=10 * MINUTE_S,
        issued_at_s=issued_at_s,
    )
    return [header]


async def _send(fed: Federation, messages: list[gpb.TransferAvatarRequest], data: bytes) -> gpb.TransferAvatarResponse:
    return await transfer(fed, [*messages, *(gpb.TransferAvatarRequest(chunk=c) for c in chunks_of(data))])


def _revoke_and_rotate(fed: Federation, record: PublicKeyRecord, reason: str) -> float:
    """Revoke ``record`` now for ``reason``, give a.example a new current key; the revocation time
    (Unix s). b.example's keyring cache is made to look old (max_age_s 0), as it is at most
    max_age_s (300 s) after a revocation."""
    keys = fed.nodes["gateway-a"].keys
    revoked_at_ms = now_ms()
    keys.revoke(record.key_id, at_ms=revoked_at_ms, reason=reason)
    keys.rotate()
    fed.nodes["gateway-b"].keyring.max_age_s = 0.0
    return revoked_at_ms / 1000


async def test_backdated_proof_by_compromised_key_refused(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """Issue 12 item 4: b.example imports a Persona signed with a.example's key; a.example revokes
    the key as compromised; a Persona whose proof (and envelope) that key dates ten minutes before
    the revocation is then refused PERMISSION_DENIED KEY_REVOKED, the refusal names the reason
    b.example's keyring fetched over GetKeys, and nothing is stored."""
    fed = negotiated
    record = _key_from_twenty_minutes_ago(fed)
    ring = fed.nodes["gateway-b"].keyring
    well_dated = _signed_with(fed, record, persona(good_glb), at_s=time.time())
    assert (await _send(fed, [transfer_header(well_dated)], good_glb)).bytes_received == len(good_glb)
    assert ring.cached("a.example")[record.key_id].revoked_at_ms == 0

    revoked_at_s = _revoke_and_rotate(fed, record, COMPROMISED)
    before, fetches = stored(fed), ring.fetches
    backdated = _signed_with(fed, record, persona(good_glb), at_s=revoked_at_s - 10 * MINUTE_S)
    messages = _backdated_transfer(fed, backdated, issued_at_s=revoked_at_s - 9.5 * MINUTE_S)
    await refused(_send(fed, messages, good_glb), DENIED, "KEY_REVOKED", "compromised")
    await assert_nothing_stored(fed, before)
    assert ring.fetches > fetches
    assert ring.cached("a.example")[record.key_id].revocation_reason == COMPROMISED


async def test_backdated_proof_by_superseded_key_verifies(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """Issue 12 item 4: the same backdated transfer by a key a.example retired as superseded is
    imported (rotation: what the key signed before keeps verifying), while a Persona it signs
    after its retirement is refused KEY_REVOKED."""
    fed = negotiated
    record = _key_from_twenty_minutes_ago(fed)
    revoked_at_s = _revoke_and_rotate(fed, record, SUPERSEDED)
    backdated = _signed_with(fed, record, persona(good_glb), at_s=revoked_at_s - 10 * MINUTE_S)
    messages = _backdated_transfer(fed, backdated, issued_at_s=revoked_at_s - 9.5 * MINUTE_S)
    assert (await _send(fed, messages, good_glb)).bytes_received == len(good_glb)
    assert backdated.item_id in stored(fed).items
    assert fed.nodes["gateway-b"].keyring.cached("a.example")[record.key_id].revocation_reason == SUPERSEDED

    before = stored(fed)
    late = _signed_with(fed, record, persona(good_glb, attributes={"Triangles": "2"}), at_s=revoked_at_s + 1)
    await refused(_send(fed, [transfer_header(late)], good_glb), DENIED, "KEY_REVOKED", "superseded")
    await assert_nothing_stored(fed, before)


async def test_proof_outside_envelope_issued_at_refused(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """Issue 12 item 4: a Persona whose proof, by a valid unrevoked key, is dated ten minutes
    before its envelope's issued-at is refused PERMISSION_DENIED PROOF_CREATED_OUTSIDE_ENVELOPE
    and counted by that reason; nothing is stored and the transfer id is not used up (the same
    transfer with a well-dated proof is then imported)."""
    fed = negotiated
    record = _key_from_twenty_minutes_ago(fed)
    before = stored(fed)
    backdated = _signed_with(fed, record, persona(good_glb), at_s=time.time() - 10 * MINUTE_S)
    header = transfer_header(backdated)
    await refused(_send(fed, [header], good_glb), DENIED, "PROOF_CREATED_OUTSIDE_ENVELOPE")
    await assert_nothing_stored(fed, before)
    registry = fed.nodes["gateway-b"].metrics.registry
    sample = registry.get_sample_value(
        "mmmfed_verification_refusals_total", {"reason": "PROOF_CREATED_OUTSIDE_ENVELOPE"}
    )
    assert sample == 1.0

    well_dated = _signed_with(fed, record, persona(good_glb), at_s=time.time())
    again = transfer_header(well_dated)
    again.header.transfer_id = header.header.transfer_id
    assert (await _send(fed, [again], good_glb)).bytes_received == len(good_glb)


async def test_peer_keyring_learns_revocation_reason_through_get_keys(
    negotiated: Federation,
) -> None:
    """Issue 12 item 4, RE-5: a.example's key service, called by b.example's gateway over mTLS,
    publishes each revoked key's reason in the KeySet and in its signed JSON form."""
    fed = negotiated
    keys = fed.nodes["gateway-a"].keys
    retired = keys.rotate()
    leaked = keys.rotate()
    keys.rotate()
    keys.revoke(retired.key_id, reason=SUPERSEDED)
    keys.revoke(leaked.key_id)  # the default: compromised
    async with secure_channel(fed.plan.gateway_b.tls, peer(fed.plan.gateway_a)) as channel:
        published = await gateway_pb2_grpc.FederationStub(channel).GetKeys(gpb.GetKeysRequest(), timeout=10.0)
    wire = {k.key_id: k.revocation_reason for k in published.keys}
    assert (wire[retired.key_id], wire[leaked.key_id]) == (
        mpb.KEY_REVOCATION_REASON_SUPERSEDED,
        mpb.KEY_REVOCATION_REASON_COMPROMISED,
    )
    signed = {r.key_id: r.revocation_reason for r in verified_key_set(published, "a.example")}
    assert (signed[retired.key_id], signed[leaked.key_id]) == (SUPERSEDED, COMPROMISED)
