"""A hostile peer over real mTLS: forged, tampered, unknown-key, revoked-key, future-dated and
wrongly bridged Personae are refused by the receiving gateway with their reason, and nothing is
stored (issue "Federated trust", items 4 and 6; FGMV-43 GPIR-003)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from personaflow import (
    assert_nothing_stored,
    chunks_of,
    persona,
    signed_by_a,
    stored,
    transfer,
    transfer_header,
)
from rpcassert import refused

from gateway.envelope import make_envelope
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.audit import entry_hash
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.items import Item, item_of, item_of_wire, proof_time, sign_item
from mmmfed.keys import did_web_method
from mmmfed.proofs import SigningKey, sign_document
from mmmfed.tls import secure_channel

DENIED = grpc.StatusCode.PERMISSION_DENIED


def _item(doc: dict[str, Any]) -> Item:
    """The Item of a domain document, or of a V2.2 form (one with a proof made over it)."""
    return item_of_wire(doc) if "DataXMData" in doc else item_of(doc)


async def _send(fed: Federation, item: Item, data: bytes, *, envelope: bool = True) -> Any:
    messages = [transfer_header(item), *(gpb.TransferAvatarRequest(chunk=c) for c in chunks_of(data))]
    return await transfer(fed, messages, envelope=envelope)


def _signed_as(key: SigningKey, method: str, item: Item, *, created: str | None = None) -> Item:
    doc = sign_document(item.wire, key=key, verification_method=method, created=created or proof_time())
    return _item(doc)


def _self_signed(item: Item) -> Item:
    stranger = SigningKey.generate()
    return _signed_as(stranger, stranger.verification_method, item)


def _tamper(item: Item) -> Item:
    doc = json.loads(item.raw)  # the V2.2 form, as signed
    doc["DescrMetadata"] = '{"Name":"not what was signed"}'
    return _item(doc)


CASES: dict[str, tuple[Callable[[Federation, Item], Item], str]] = {
    "unsigned": (lambda fed, item: item, "PROOF_MISSING"),
    "tampered after signing": (lambda fed, item: _tamper(signed_by_a(fed, item)), "SIGNATURE_INVALID"),
    "a stranger's did:key": (lambda fed, item: _self_signed(item), "KEY_METHOD_MALFORMED"),
    "a key a.example never published": (
        lambda fed, item: _signed_as(SigningKey.generate(), did_web_method("a.example", "k-forged"), item),
        "KEY_UNKNOWN",
    ),
    "a.example's method, another key": (
        lambda fed, item: _signed_as(
            SigningKey.generate(), fed.nodes["gateway-a"].keys.method(fed.nodes["gateway-a"].keys.records()[0]), item
        ),
        "SIGNATURE_INVALID",
    ),
    "dated an hour ahead": (
        lambda fed, item: _signed_as(
            fed.nodes["gateway-a"].keys.current()[1],
            fed.nodes["gateway-a"].keys.method(fed.nodes["gateway-a"].keys.current()[0]),
            item,
            created=proof_time(time.time() + 3600),
        ),
        "PROOF_FROM_FUTURE",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_forged_personae_are_refused_and_nothing_is_stored(
    negotiated: Federation,
    good_glb: bytes,
    case: str,
) -> None:
    """Each forgery is refused PERMISSION_DENIED with its own reason before any byte is stored."""
    fed, before = negotiated, stored(negotiated)
    make, reason = CASES[case]
    await refused(_send(fed, make(fed, persona(good_glb)), good_glb), DENIED, reason)
    await assert_nothing_stored(fed, before)


async def test_revoked_key_fails_for_what_it_signs_after_revocation(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """An Item signed with a key after its revocation is refused KEY_REVOKED, seen by the peer's
    keyring once it refreshes (here: the key id is new to it, so it fetches)."""
    fed, before = negotiated, stored(negotiated)
    fed.nodes["gateway-b"].keyring.min_refresh_s = 0.0  # the default 5 s interval would only delay the test
    keys = fed.nodes["gateway-a"].keys
    fresh = keys.rotate()
    _, key = keys.current()
    keys.revoke(fresh.key_id, at_ms=int(time.time() - 5) * 1000)
    item = _signed_as(key, keys.method(fresh), persona(good_glb))
    # a.example now has no usable key, so no envelope either: the Persona's proof is checked first
    await refused(_send(fed, item, good_glb, envelope=False), DENIED, "KEY_REVOKED")
    await assert_nothing_stored(fed, before)


async def test_rotation_needs_nobody_on_the_receiving_side(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """After a.example rotates its key, b.example's keyring fetches the new key by itself and
    the next Persona is imported."""
    fed = negotiated
    fed.nodes["gateway-b"].keyring.min_refresh_s = 0.0  # the default 5 s interval would only delay the test
    fed.nodes["gateway-a"].keys.rotate()
    result = await _send(fed, signed_by_a(fed, persona(good_glb)), good_glb)
    assert result.bytes_received == len(good_glb)


async def test_bridge_proofs_must_come_from_the_agreed_bridge(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """A 'converted' Persona signed by a bridge key not in offer manifesto V is refused
    BRIDGE_NOT_ALLOWED; one whose embedded original was altered fails the bridge's proof."""
    fed, before = negotiated, stored(negotiated)
    original = signed_by_a(fed, persona(good_glb, attributes={"Triangles": "12"}))
    converted = persona(good_glb)
    doc = {**converted.doc, "SourceItemID": original.item_id, "SourceItem": dict(original.wire)}
    await refused(_send(fed, _self_signed(_item(doc)), good_glb), DENIED, "BRIDGE_NOT_ALLOWED")
    bridge_key = fed.nodes["bridge"].service._key
    forged_source = {**doc, "SourceItem": {**original.wire, "DescrMetadata": '{"Name":"swapped"}'}}
    bridged = sign_item(_item(forged_source), key=bridge_key, verification_method=bridge_key.verification_method)
    await refused(_send(fed, bridged, good_glb), DENIED, "SIGNATURE_INVALID")
    await assert_nothing_stored(fed, before)


async def test_accepts_and_refusals_are_audited_and_the_peer_can_read_its_part(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """Gateway B's hash-chained audit log records the agreement, an accepted Persona and a
    refused one with its reason; gateway A reads its part over RE-5 and recomputes every hash
    (LAF, FGMV-43 7.5.3)."""
    fed = negotiated
    accepted = signed_by_a(fed, persona(good_glb))
    await _send(fed, accepted, good_glb)
    await refused(_send(fed, persona(good_glb), good_glb), DENIED, "PROOF_MISSING")

    audit = fed.nodes["gateway-b"].audit
    events = [(e.event, e.peer_id, e.reason) for e in await audit.entries()]
    assert events == [
        ("AGREEMENT_PROPOSED", "a.example", ""),
        ("AGREEMENT_ACCEPTED", "a.example", ""),
        ("ACCEPTED", "a.example", ""),
        ("REFUSED", "a.example", "PROOF_MISSING"),
    ]
    assert (await audit.entries())[2].subject == accepted.item_id
    assert (await audit.verify()).ok

    async with secure_channel(fed.plan.gateway_a.tls, peer(fed.plan.gateway_b)) as channel:
        part = await gateway_pb2_grpc.FederationStub(channel).GetAuditEntries(gpb.GetAuditEntriesRequest())
    assert [e.event for e in part.entries] == ["AGREEMENT_PROPOSED", "AGREEMENT_ACCEPTED", "ACCEPTED", "REFUSED"]
    assert part.head_hash == (await audit.head()).hash
    for e in part.entries:
        fields = {
            "seq": e.seq,
            "time_ms": e.time_ms,
            "event": e.event,
            "peer_id": e.peer_id,
            "subject": e.subject,
            "reason": e.reason,
            "details": json.loads(e.details_json),
            "prev_hash": e.prev_hash,
        }
        assert entry_hash(fields) == e.hash


def _header_with(fed: Federation, item: Item, **envelope: Any) -> gpb.TransferAvatarRequest:
    """A header whose envelope is made with ``envelope`` overrides (destination, item_json, ...)."""
    message = transfer_header(item)
    options = {
        "keys": fed.nodes["gateway-a"].keys,
        "destination": "b.example",
        "transfer_id": message.header.transfer_id,
        "item_json": item.raw,
        **envelope,
    }
    message.header.envelope_json = make_envelope(**options)
    return message


def _tampered_envelope(fed: Federation, item: Item) -> gpb.TransferAvatarRequest:
    message = _header_with(fed, item)
    doc = json.loads(message.header.envelope_json)
    doc["ExpiresAtMs"] += 3_600_000
    message.header.envelope_json = json.dumps(doc).encode()
    return message


ENVELOPE_CASES: dict[str, tuple[Callable[[Federation, Item], gpb.TransferAvatarRequest], str]] = {
    "no envelope": (lambda fed, item: transfer_header(item), "ENVELOPE_MISSING"),
    "for another destination": (
        lambda fed, item: _header_with(fed, item, destination="c.example"),
        "ENVELOPE_MISMATCH",
    ),
    "for other Item bytes": (lambda fed, item: _header_with(fed, item, item_json=b"{}"), "ENVELOPE_MISMATCH"),
    "expired": (lambda fed, item: _header_with(fed, item, lifetime_s=-600), "ENVELOPE_EXPIRED"),
    "extended after signing": (_tampered_envelope, "SIGNATURE_INVALID"),
}


@pytest.mark.parametrize("case", sorted(ENVELOPE_CASES))
async def test_bad_envelopes_are_refused(
    negotiated: Federation,
    good_glb: bytes,
    case: str,
) -> None:
    """A transfer whose envelope is missing, bound to something else, expired or altered is
    refused with its reason, and nothing is stored (replay protection)."""
    fed, before = negotiated, stored(negotiated)
    make, reason = ENVELOPE_CASES[case]
    header = make(fed, signed_by_a(fed, persona(good_glb)))
    messages = [header, *(gpb.TransferAvatarRequest(chunk=c) for c in chunks_of(good_glb))]
    await refused(transfer(fed, messages, envelope=False), DENIED, reason)
    await assert_nothing_stored(fed, before)


async def test_a_replayed_transfer_is_refused(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """The same signed transfer sent twice is accepted once and refused REPLAYED the second time."""
    fed = negotiated
    header = _header_with(fed, signed_by_a(fed, persona(good_glb)))
    messages = [header, *(gpb.TransferAvatarRequest(chunk=c) for c in chunks_of(good_glb))]
    await transfer(fed, messages, envelope=False)
    before = stored(fed)
    await refused(transfer(fed, messages, envelope=False), DENIED, "REPLAYED")
    await assert_nothing_stored(fed, before)
