"""Trust agreements (issue "Federated trust", item 5): signed by both M-Instances, enforced in both
directions, revocable at once (in-flight work included), expiring, renegotiable."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

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
    with_envelope,
)
from rpcassert import refused
from sample_assets import GODETTE, needs_samples

from gateway.agreements import ACTIVE, NS, REVOKED
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import plan
from mmmfed.errors import RemoteError
from mmmfed.proofs import verify_document
from mmmfed.rules import RuleSet
from mmmfed.tls import secure_channel

pytestmark = needs_samples


async def test_negotiation_leaves_one_agreement_signed_by_both(federation: Federation) -> None:
    """Both gateways hold the same ACTIVE agreement, with one valid proof by each instance's key."""
    result = await federation.at_a.negotiate("b.example")
    doc = json.loads(result.agreement_json)
    assert doc["Parties"] == ["a.example", "b.example"] and doc["Scope"]["ItemTypes"] == ["ASS", "ITM", "PAC", "PPR"]
    assert doc["Scope"]["Actions"] == ["MM-Add", "Resolve", "Transact", "Post", "Register"]
    methods = sorted(p["verificationMethod"].split("#")[0] for p in doc["proof"])
    assert methods == ["did:web:a.example", "did:web:b.example"]
    keys = {}
    for name in ("gateway-a", "gateway-b"):
        store = federation.nodes[name].keys
        record = store.records()[-1]
        keys[store.method(record)] = record.public_key
    assert verify_document(doc, resolve_key=keys.__getitem__).verified
    for name, other in (("gateway-a", "b.example"), ("gateway-b", "a.example")):
        record = await federation.nodes[name].agreements.record(other)
        assert record["Status"] == ACTIVE and record["Document"] == doc


async def test_revocation_stops_traffic_both_ways_and_is_audited(federation: Federation) -> None:
    """After a.example's operator revokes, both sides hold it REVOKED: a.example sends nothing
    and b.example accepts nothing; both audit logs say so. A new negotiation restores it."""
    await federation.at_a.negotiate("b.example")
    reg = await federation.at_a.register_human("godette", GODETTE)
    request = gpb.RevokePeerAgreementRequest(peer_m_instance_id="b.example", reason="operator test")
    await federation.at_a.gateway.RevokeAgreement(request)
    for name, other in (("gateway-a", "b.example"), ("gateway-b", "a.example")):
        assert (await federation.nodes[name].agreements.record(other))["Status"] == REVOKED
        assert (await federation.nodes[name].audit.entries())[-1].event == "AGREEMENT_REVOKED"
    with pytest.raises(RemoteError) as err:
        await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert err.value.reason == "AGREEMENT_REVOKED"

    await federation.at_a.negotiate("b.example")
    result = await federation.at_a.migrate(reg.user_process_id, "b.example")
    assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED


async def test_incoming_traffic_outside_an_active_agreement_is_refused(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """b.example refuses a transfer once it revoked the agreement itself, or once it expired."""
    fed, before = negotiated, stored(negotiated)
    book = fed.nodes["gateway-b"].agreements
    record = await book.record("a.example")
    expired = {**record, "Document": {**record["Document"], "ValidUntilMs": 1}}
    await fed.nodes["gateway-b"].store.put_document(NS, "a.example", json.dumps(expired).encode())
    messages = [transfer_header(signed_by_a(fed, persona(good_glb))), *map(_chunk, chunks_of(good_glb))]
    await refused(transfer(fed, messages), grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_EXPIRED")
    await book.revoke("a.example", reason="test")
    messages = [transfer_header(signed_by_a(fed, persona(good_glb))), *map(_chunk, chunks_of(good_glb))]
    await refused(transfer(fed, messages), grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_REVOKED")
    await assert_nothing_stored(fed, before)


def _chunk(data: bytes) -> gpb.TransferAvatarRequest:
    return gpb.TransferAvatarRequest(chunk=data)


async def test_revocation_stops_a_transfer_in_flight(
    negotiated: Federation,
    good_glb: bytes,
) -> None:
    """A transfer already streaming when b.example revokes is cut off: refused
    AGREEMENT_REVOKED, and the part received is dropped."""
    fed, before = negotiated, stored(negotiated)
    header = with_envelope(fed, transfer_header(signed_by_a(fed, persona(good_glb))))
    chunks = chunks_of(good_glb)

    async def stream() -> AsyncIterator[gpb.TransferAvatarRequest]:
        yield header
        yield _chunk(chunks[0])
        await asyncio.sleep(0.2)
        await fed.nodes["gateway-b"].agreements.revoke("a.example", reason="revoked mid-transfer")
        for chunk in chunks[1:]:
            yield _chunk(chunk)

    async with secure_channel(fed.plan.gateway_a.tls, peer(fed.plan.gateway_b)) as channel:
        call = gateway_pb2_grpc.FederationStub(channel).TransferAvatar(stream(), timeout=15)
        await refused(call, grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_REVOKED")
    await assert_nothing_stored(fed, before)


async def test_local_rules_apply_from_their_effective_time(tmp_path: Path, good_glb: bytes) -> None:
    """b.example accepts under its Rules version in force and refuses RULE_VIOLATION once a
    version refusing a.example is in force (a change effective later changes nothing now)."""
    now_ms = int(time.time() * 1000)
    later = RuleSet(version_id="2027-refuse-a", effective_from_ms=now_ms + 3_600_000, refuse_origins=["a.example"])
    earlier = RuleSet(version_id="2026-refuse-a", effective_from_ms=0, refuse_origins=["a.example"])
    for rules, refused_by in (([later], None), ([earlier], "2026-refuse-a")):
        p = plan(tmp_path / (refused_by or "accepting"))
        p = dataclasses.replace(p, gateway_b=p.gateway_b.model_copy(update={"rules": rules}))
        fed = await Federation(p).start()
        try:
            await fed.at_a.negotiate("b.example")
            messages = [transfer_header(signed_by_a(fed, persona(good_glb))), *map(_chunk, chunks_of(good_glb))]
            if refused_by is None:
                assert (await transfer(fed, messages)).bytes_received == len(good_glb)
            else:
                err = await refused(transfer(fed, messages), grpc.StatusCode.PERMISSION_DENIED, "RULE_VIOLATION")
                assert refused_by in (err.details() or "")
        finally:
            await fed.stop()
