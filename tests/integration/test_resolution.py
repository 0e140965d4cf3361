"""MMM-TEC Resolution across two M-Instances over real gRPC and mTLS (FGMV-43 RI-1 out, RE-1 in):
a Process of a.example asks a Process of b.example to act. The request goes from instance A
(Instance.Act) to gateway A (PlatformGateway.Resolve: checks, signs the carried Items), to gateway
B (Federation.ForwardProcessAction: origin = mTLS peer, agreement, verification pipeline), to
instance B, whose engine decides with its own Rules and Rights. A refusal by B's Rules or Rights is
an answer (a PA Status Error); a request that may not cross the agreement is a gRPC error with its
ErrorInfo reason, and nothing is recorded at B.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from rpcassert import refused
from sample_assets import FOX, GODETTE

from instance.world.itemdocs import item_doc
from instance.world.model import (
    Action,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    Value,
    complements,
)
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.phase0 import registration_items
from mmmfed.items import Item, item_of, item_of_wire, sign_item
from mmmfed.schemas import mpai
from mmmfed.tls import secure_channel
from mmmfed.v22 import encode
from mmmfed.v22.action_pa import pa_schema
from mmmfed.v22.conformance import check_conforms

A, B = "a.example", "b.example"
U1, U2 = f"mmm://{A}/processes/user1", f"mmm://{B}/processes/user2"
B_ACTIVITY = f"mmm://{B}/processes/activity"
PRICE = Value(5, "EUR")  # what b.example's Activity Service charges a visitor for Discover (instance/world/seed.py)
_ids = itertools.count(1)


def _instance(identifier: str) -> str:
    return identifier.removeprefix("mmm://").split("/", 1)[0]


def _pa(
    source: str,
    destination: str,
    action: Action,
    *,
    nil: str | None = None,
    to: str | None = None,
    of: str | None = None,
    with_: str | None = None,
    items: Sequence[dict[str, Any]] = (),
    payment: Value | None = None,
) -> ProcessActionRequest:
    """A May request with a fresh ProcessActionID of the source's M-Instance."""
    return ProcessActionRequest(
        DeonticVerb.MAY,
        action,
        source,
        destination,
        complements(nil=nil, to=to, of=of, with_=with_),
        int(time.time() * 1000),
        payment,
        process_action_id=f"mmm://{_instance(source)}/pa/res-{next(_ids)}",
        items=tuple(items),
    )


async def _act(fed: Federation, m_instance_id: str, request: ProcessActionRequest) -> ProcessActionResponse:
    """Instance.Act at ``m_instance_id``, as its operator (a request for another M-Instance resolves)."""
    client = fed.at_a if m_instance_id == A else fed.at_b
    assert client is not None
    return response_from_proto(await client.instance.Act(ipb.ActRequest(request=request_to_proto(request))))


def _kind(response: ProcessActionResponse) -> str:
    status = response.status
    return status.error.value if status.error is not None else status.kind.value


async def _activity(fed: Federation, m_instance_id: str) -> list[dict[str, Any]]:
    """Activity Data of ``m_instance_id`` (Instance.QueryActivity), as ACD Items. Each carries
    the Process Action it records, request and response, in the MMM-TEC V2.2 form, which
    conforms to MPAI's types (issue 15 item 3): the ACD's V2.2 form (MMM4_V22_ActivityData, its IPP
    Message's PAIDOrPA), each MMM4_V22_ProcessAction and the Action's *PA document."""
    client = fed.at_a if m_instance_id == A else fed.at_b
    assert client is not None
    reply = await client.instance.QueryActivity(ipb.QueryActivityRequest())
    records = [json.loads(raw) for raw in reply.records_json]
    for record in records:
        assert check_conforms(encode(record)) == "MMM4_V22_ActivityData"
        for pa in (record["ProcessAction"], record["ProcessActionResponse"]):
            assert mpai.errors("MMM4_V22_ProcessAction", pa) == []
            name = pa_schema(pa["Action"])
            assert name is None or mpai.errors(name, pa["mmmfed:ActionPA"]) == []
    return records


async def _register(fed: Federation, user: str) -> None:
    m, human = _instance(user), user.rsplit("/", 1)[-1]
    items = registration_items(m, human, GODETTE if m == A else FOX, time_ms=int(time.time() * 1000))
    request = _pa(f"mmm://{m}/processes/app", f"mmm://{m}/processes/registration", Action.REGISTER, items=items)
    assert _kind(await _act(fed, m, request)) == "Ack"


def _message(author: str, local: str, text: str = "Come see me at Room1") -> dict[str, Any]:
    m = _instance(author)
    return item_doc(
        m_instance_id=m,
        item_id=f"mmm://{m}/messages/{local}",
        item_type="ITM",
        sub_type="Message",
        producer_id=author,
        time_ms=int(time.time() * 1000),
        fields={"Content": {"Text": text}},
    )


async def _users(fed: Federation, *, negotiate: bool = True) -> dict[str, Any]:
    """user1 registered at a.example with a Message it Authored, user2 registered at b.example."""
    assert fed.at_a is not None
    if negotiate:
        await fed.at_a.negotiate(B)
    await _register(fed, U1)
    await _register(fed, U2)
    message = _message(U1, "invite")
    authored = await _act(fed, A, _pa(U1, U1, Action.AUTHOR, nil=message["ItemID"], items=[message]))
    assert _kind(authored) == "Ack", authored.status.reason
    return message


def _send_message(message: dict[str, Any]) -> ProcessActionRequest:
    return _pa(U1, U2, Action.MM_SEND, nil=message["ItemID"], to=U2)


def _item(doc: dict[str, Any]) -> Item:
    """The Item of a domain document, or of a V2.2 form (one with a proof made over it)."""
    return item_of_wire(doc) if "DataXMData" in doc else item_of(doc)


def _signed_by_a(fed: Federation, doc: dict[str, Any]) -> Item:
    keys = fed.nodes["gateway-a"].keys
    record, key = keys.current()
    return sign_item(_item(doc), key=key, verification_method=keys.method(record))


async def _audited(fed: Federation, gateway: str, request: ProcessActionRequest) -> list[tuple[str, str, str]]:
    """(event, peer, reason) of the audit entries of ``gateway`` about ``request``."""
    entries = await fed.nodes[gateway].audit.entries()
    return [(e.event, e.peer_id, e.reason) for e in entries if e.subject == request.process_action_id]


async def test_a_message_is_resolved_at_b_recorded_by_both_and_audited(federation: Federation) -> None:
    """MMM-TEC Resolution, FGMV-43 RI-1/RE-1: user1 of a.example MM-Sends its Message to user2 of
    b.example: Ack decided by b.example, in both instances' Activity Data (a.example's with trigger
    "resolution"), and audited ACCEPTED by both gateways."""
    message = await _users(federation)
    request = _send_message(message)
    response = await _act(federation, A, request)
    assert (_kind(response), response.decided_by) == ("Ack", B), response.status.reason
    pa_id = request.process_action_id

    at_a = [r for r in await _activity(federation, A) if r["ProcessActionID"] == pa_id]
    assert [(r["Trigger"], r["PAStatus"]["Status"]) for r in at_a] == [("resolution", "Ack")]
    at_b = [r for r in await _activity(federation, B) if r["ProcessActionID"] == pa_id]
    assert [(r["SourceProcessID"], r["Action"], r["PAStatus"]["Status"]) for r in at_b] == [(U1, "MM-Send", "Ack")]
    assert message["ItemID"] in federation.nodes["instance-b"].process_actions.world.inboxes[U2]

    for gateway, other, direction in (("gateway-a", B, "out"), ("gateway-b", A, "in")):
        entries = [e for e in await federation.nodes[gateway].audit.entries() if e.subject == pa_id]
        assert [(e.event, e.peer_id, e.details["direction"], e.details["pa_status"]) for e in entries] == [
            ("ACCEPTED", other, direction, "ACK")
        ]


async def test_a_visitor_pays_b_activity_service_once_per_transaction(federation: Federation) -> None:
    """MMM-TEC Service Pricing Model through Resolution: b.example's Activity Service answers a
    Discover of a.example's user1 with Request(5 EUR); user1 Transacts, retries with the payment
    and gets Ack; its Wallet lost exactly 5; the same Transaction cannot pay again (Clash)."""
    await _users(federation)
    world_a = federation.nodes["instance-a"].process_actions.world
    wallet = f"mmm://{A}/wallets/user1"
    before = world_a.balance(wallet, "EUR")

    asked = await _act(federation, A, _pa(U1, B_ACTIVITY, Action.DISCOVER, of=U2))
    assert (asked.status.kind, asked.status.value, asked.decided_by) == (PAStatusKind.REQUEST, PRICE, B)
    paid = await _act(federation, A, _pa(U1, U1, Action.TRANSACT, nil=wallet, to=B_ACTIVITY, payment=PRICE))
    assert _kind(paid) == "Ack", paid.status.reason
    transaction = paid.complements[0].ref_id
    assert isinstance(before, int) and world_a.balance(wallet, "EUR") == before - PRICE.amount_minor

    retried = await _act(federation, A, _pa(U1, B_ACTIVITY, Action.DISCOVER, of=U2, with_=transaction, payment=PRICE))
    assert (_kind(retried), retried.decided_by) == ("Ack", B), retried.status.reason
    again = await _act(federation, A, _pa(U1, B_ACTIVITY, Action.DISCOVER, of=U2, with_=transaction, payment=PRICE))
    assert (_kind(again), again.decided_by) == ("Clash", B), again.status.reason
    assert world_a.balance(wallet, "EUR") == before - PRICE.amount_minor
    world_b = federation.nodes["instance-b"].process_actions.world
    assert world_b.balance(f"mmm://{B}/wallets/activity", "EUR") == PRICE.amount_minor


async def test_b_refuses_with_a_pa_status_by_its_own_rules(federation: Federation) -> None:
    """MMM-TEC Resolution: b.example decides with its own Rules: Modify is not in its
    ForeignProcessActions, so a visitor's request is an Error InsRights answer with a Fault
    Detection Report naming a.example; a Process b.example does not have is IncID."""
    await _users(federation)
    rules = f"mmm://{B}/rules/current"
    modify = await _act(federation, A, _pa(U1, f"mmm://{B}/processes/manager", Action.MODIFY, nil=rules))
    assert (_kind(modify), modify.decided_by) == (PAErrorCode.INS_RIGHTS.value, B), modify.status.reason
    reports = [i for i in modify.items if i.get("ItemType") == "FDR"]
    assert [(r["FaultyProcessID"], r["ReportedMInstanceID"], r["Rule"]) for r in reports] == [
        (U1, A, "ForeignProcessActions")
    ]
    assert (ComplementKind.WITH, reports[0]["ItemID"]) in [(c.kind, c.ref_id) for c in modify.complements]

    nobody = await _act(federation, A, _pa(U1, f"mmm://{B}/processes/nobody", Action.DISCOVER, of=U2))
    assert (_kind(nobody), nobody.decided_by) == (PAErrorCode.INC_ID.value, B), nobody.status.reason
    recorded = {r["ProcessActionID"]: r["PAStatus"].get("ErrorCode") for r in await _activity(federation, B)}
    assert recorded[modify.process_action_id] == "InsRights" and recorded[nobody.process_action_id] == "IncID"


async def test_a_signs_only_items_its_process_may_use(federation: Federation) -> None:
    """MMM-TEC Resolution ("a signed assembly with Capabilities including Rights held by identified
    Processes"): a.example does not sign a copy of its M-Location room-1 whose ICapabilities user1
    rewrote to give itself MM-Send: the request is refused at a.example (InsRights, as without the
    copy) and nothing reaches b.example."""
    await _users(federation)
    room = f"mmm://{A}/locations/room-1"
    plain = await _act(federation, A, _pa(U1, U2, Action.MM_SEND, nil=room, to=U2))
    assert (_kind(plain), plain.decided_by) == (PAErrorCode.INS_RIGHTS.value, B), plain.status.reason
    at_b = await _activity(federation, B)
    forged = dict(federation.nodes["instance-a"].process_actions.world.items[room])
    forged["ICapabilities"] = [{"ProcessID": U1, "Rights": ["MM-Send"]}]
    request = _pa(U1, U2, Action.MM_SEND, nil=room, to=U2, items=[forged])
    response = await _act(federation, A, request)
    assert (_kind(response), response.decided_by) == (PAErrorCode.INS_RIGHTS.value, A), response.status.reason
    assert await _activity(federation, B) == at_b


async def test_never_negotiated_nothing_crosses(federation: Federation) -> None:
    """FGMV-43 RI-1: without a trust agreement gateway A refuses FAILED_PRECONDITION NO_AGREEMENT
    (negotiate first) and audits the refusal; b.example records nothing."""
    message = await _users(federation, negotiate=False)
    at_b = await _activity(federation, B)
    request = _send_message(message)
    await refused(_act(federation, A, request), grpc.StatusCode.FAILED_PRECONDITION, "NO_AGREEMENT")
    assert await _audited(federation, "gateway-a", request) == [("REFUSED", B, "NO_AGREEMENT")]
    assert await _activity(federation, B) == at_b


async def test_after_revocation_nothing_crosses(federation: Federation) -> None:
    """FGMV-43 RE-1 / RE-5: once b.example alone revokes, its gateway refuses FAILED_PRECONDITION
    AGREEMENT_REVOKED; once a.example's operator revokes, gateway A refuses it before sending. Each
    refusal is audited by the gateway that refused; b.example records nothing."""
    message = await _users(federation)
    at_b = await _activity(federation, B)
    await federation.nodes["gateway-b"].agreements.revoke(A, reason="b.example revokes alone")
    request = _send_message(message)
    await refused(_act(federation, A, request), grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_REVOKED")
    assert await _audited(federation, "gateway-b", request) == [("REFUSED", A, "AGREEMENT_REVOKED")]

    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    revoke = gpb.RevokePeerAgreementRequest(peer_m_instance_id=B, reason="operator test")
    await federation.at_a.gateway.RevokeAgreement(revoke)
    request = _send_message(message)
    await refused(_act(federation, A, request), grpc.StatusCode.FAILED_PRECONDITION, "AGREEMENT_REVOKED")
    assert await _audited(federation, "gateway-a", request) == [("REFUSED", B, "AGREEMENT_REVOKED")]
    assert await _activity(federation, B) == at_b


async def test_gateway_a_sends_only_requests_of_a_processes(federation: Federation) -> None:
    """MMM-TEC Resolution, FGMV-43 RI-1: PlatformGateway.Resolve called by a.example's instance with
    a source that is not a Process of a.example is INVALID_ARGUMENT PROCESS_ACTION_MALFORMED; called
    with an operator certificate, PERMISSION_DENIED NOT_OWN_INSTANCE (issue 12 item 3: the gateway
    signs only Items its instance attached); nothing reaches b.example."""
    from mmmfed.api.v1 import gateway_pb2_grpc
    from mmmfed.cli.inprocess import peer
    from mmmfed.tls import secure_channel

    message = await _users(federation)
    at_b = await _activity(federation, B)
    assert federation.at_a is not None
    own = _pa(U1, U2, Action.MM_SEND, nil=message["ItemID"], to=U2)
    call = federation.at_a.gateway.Resolve(request_to_proto(own))
    await refused(call, grpc.StatusCode.PERMISSION_DENIED, "NOT_OWN_INSTANCE")
    plan = federation.plan
    async with secure_channel(plan.instance_a.tls, peer(plan.gateway_a)) as channel:
        as_instance = gateway_pb2_grpc.PlatformGatewayStub(channel)
        for source in (f"mmm://{B}/processes/user2", "mmm://c.example/processes/mallory"):
            request = _pa(source, U2, Action.MM_SEND, nil=message["ItemID"], to=U2)
            call = as_instance.Resolve(request_to_proto(request))
            await refused(call, grpc.StatusCode.INVALID_ARGUMENT, "PROCESS_ACTION_MALFORMED", source)
    assert await _activity(federation, B) == at_b


def _tampered(fed: Federation, doc: dict[str, Any]) -> Item:
    signed = dict(_signed_by_a(fed, doc).doc)
    signed["Content"] = {"Text": "not what a.example signed"}
    return _item(signed)


def _claims(m_instance_id: str) -> Callable[[Federation, dict[str, Any]], Item]:
    """An Item of ``m_instance_id`` (ItemID and MInstanceID), yet signed by a.example."""

    def make(fed: Federation, doc: dict[str, Any]) -> Item:
        item_id = doc["ItemID"].replace(f"mmm://{A}/", f"mmm://{m_instance_id}/")
        return _signed_by_a(fed, {**doc, "MInstanceID": m_instance_id, "ItemID": item_id})

    return make


async def test_b_refuses_what_a_hostile_gateway_forwards(federation: Federation) -> None:
    """FGMV-43 RE-1, GPIR-003: gateway A's own certificate calling Federation.ForwardProcessAction
    with a carried Item tampered after signing, unsigned, or claiming another M-Instance, or with
    a source of another M-Instance, is refused PERMISSION_DENIED with the verification pipeline's reason, audited,
    and b.example's Activity Data is unchanged; the same request honestly signed is Ack."""
    await _users(federation)
    at_b = await _activity(federation, B)
    doc = _message(U1, "forwarded")
    doc["ICapabilities"] = [{"ProcessID": U1, "Rights": ["MM-Send"]}]
    cases = [
        (U1, _tampered, "SIGNATURE_INVALID"),
        (U1, lambda fed, d: _item(d), "PROOF_MISSING"),
        (U1, _claims(B), "ORIGIN_MISMATCH"),
        (U1, _claims("c.example"), "ORIGIN_MISMATCH"),
        ("mmm://c.example/processes/mallory", _signed_by_a, "ORIGIN_MISMATCH"),
    ]
    plan = federation.plan
    async with secure_channel(plan.gateway_a.tls, peer(plan.gateway_b)) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        for source, make, reason in cases:
            request = _pa(source, U2, Action.MM_SEND, nil=doc["ItemID"], to=U2, items=[make(federation, doc).doc])
            await refused(
                stub.ForwardProcessAction(request_to_proto(request)), grpc.StatusCode.PERMISSION_DENIED, reason
            )
            entry = (await federation.nodes["gateway-b"].audit.entries())[-1]
            assert (entry.event, entry.subject, entry.reason) == ("REFUSED", request.process_action_id, reason)
        assert await _activity(federation, B) == at_b

        honest = _pa(U1, U2, Action.MM_SEND, nil=doc["ItemID"], to=U2, items=[_signed_by_a(federation, doc).doc])
        response = response_from_proto(await stub.ForwardProcessAction(request_to_proto(honest)))
    assert (_kind(response), response.decided_by) == ("Ack", B), response.status.reason


async def test_only_the_own_gateway_may_set_an_origin(federation: Federation) -> None:
    """MMM-TEC Resolution: Instance.Act with origin_m_instance_id set by b.example's operator is
    PERMISSION_DENIED ORIGIN_NOT_GATEWAY (another M-Instance's gateway may not call it at all: its
    certificate is of another trust domain, refused at the handshake), and nothing is decided."""
    message = await _users(federation)
    at_b = await _activity(federation, B)
    request = request_to_proto(_send_message(message))
    assert federation.at_b is not None
    act = ipb.ActRequest(request=request, origin_m_instance_id=A)
    await refused(federation.at_b.instance.Act(act), grpc.StatusCode.PERMISSION_DENIED, "ORIGIN_NOT_GATEWAY")
    plan = federation.plan
    async with secure_channel(plan.gateway_a.tls, peer(plan.instance_b)) as channel:
        call = instance_pb2_grpc.InstanceStub(channel).Act(act)
        await refused(call, grpc.StatusCode.UNAVAILABLE, None)
    assert await _activity(federation, B) == at_b
