"""Federation transactions between two gateways over real gRPC and mTLS (issue 18 item 2; FGMV-43
RE-1 between the MIFMs, RI-1 from the M-Instance): Items in transactions of up to 50, a result
per entry, applied once per transaction id, limits enforced before anything is stored, one
transaction in flight per destination delivered in order through an outage, peers only.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid

import grpc
import pytest
from rpcassert import refused

from bench.verify import persona
from gateway.node import GatewayNode
from gateway.outbox import OutboxLimits
from gateway.transactions import MAX_TRANSACTION_BYTES, NS_TRANSACTIONS, RECORD_KEEP_S
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.audit import AuditEntry
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.items import parse_item, sign_item
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"


def signed_items(fed: Federation, count: int, *, seed: int = 0) -> list[bytes]:
    """``count`` Persona Items of a.example signed with its instance key, as gateway A signs."""
    keys = fed.nodes["gateway-a"].keys
    record, key = keys.current()
    rng = random.Random(seed)
    return [sign_item(persona(i, rng), key=key, verification_method=keys.method(record)).raw for i in range(count)]


def now_ms() -> int:
    return int(time.time() * 1000)


def unsigned_items(count: int, *, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [persona(i, rng).raw for i in range(count)]


def transaction(items: list[bytes], *, origin: str = A, transaction_id: str = "") -> fpb.FederationTransaction:
    return fpb.FederationTransaction(
        transaction_id=transaction_id or f"urn:uuid:{uuid.uuid4()}",
        origin_m_instance_id=origin,
        entries=[fpb.FederationEntry(item_json=raw) for raw in items],
    )


def tampered(raw: bytes) -> bytes:
    """The same Item with one byte of its name changed after signing."""
    doc = json.loads(raw)
    text = json.dumps(doc, separators=(",", ":"))
    out = text.replace("avatar", "avatxr", 1)
    assert out != text
    return out.encode()


def as_gateway_a(fed: Federation) -> grpc.aio.Channel:
    """A channel to gateway B presenting gateway A's certificate (the peer B is configured with)."""
    b = fed.plan.gateway_b
    return secure_channel(fed.plan.gateway_a.tls, peer(b), roots=b.tls.ca_cert.read_bytes())


async def b_entries(fed: Federation, transaction_id: str) -> list[AuditEntry]:
    entries = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
    return [e for e in entries if e.details.get("transaction_id") == transaction_id]


async def test_re1_transaction_of_50_with_one_tampered_item_answers_49_accepted_and_1_refused(
    negotiated: Federation,
) -> None:
    fed = negotiated
    items = signed_items(fed, 50)
    items[17] = tampered(items[17])
    txn = transaction(items)
    async with as_gateway_a(fed) as channel:
        result = await gateway_pb2_grpc.FederationStub(channel).SendTransaction(txn)
    assert result.transaction_id == txn.transaction_id
    assert [r.accepted for r in result.results] == [i != 17 for i in range(50)]
    assert result.results[17].reason == "SIGNATURE_INVALID", result.results[17].message
    # one audit group commit: 50 entries, consecutive in the chain, in entry order
    audited = await b_entries(fed, txn.transaction_id)
    assert [e.details["entry"] for e in audited] == list(range(50))
    assert [e.seq for e in audited] == list(range(audited[0].seq, audited[0].seq + 50))
    assert [e.event for e in audited].count("REFUSED") == 1
    record = await fed.nodes["gateway-b"].store.get_record(
        NS_TRANSACTIONS, f"{A} {txn.transaction_id}", now_ms=now_ms()
    )
    assert record is not None and fpb.FederationTransactionResult.FromString(record) == result
    # kept RECORD_KEEP_S, then gone: what a peer makes b store is bounded in time
    later = now_ms() + RECORD_KEEP_S * 1000 + 1
    assert (
        await fed.nodes["gateway-b"].store.get_record(NS_TRANSACTIONS, f"{A} {txn.transaction_id}", now_ms=later)
        is None
    )


async def test_re1_retried_transaction_id_is_answered_the_same_and_not_applied_twice(negotiated: Federation) -> None:
    fed = negotiated
    txn = transaction(signed_items(fed, 5))
    async with as_gateway_a(fed) as channel:
        send = gateway_pb2_grpc.FederationStub(channel).SendTransaction
        first = await send(txn)
        again = await asyncio.gather(send(txn), send(txn))
    assert all(r == first for r in again)
    assert len(await b_entries(fed, txn.transaction_id)) == 5
    stored = await fed.nodes["gateway-b"].store.get_record(
        NS_TRANSACTIONS, f"{A} {txn.transaction_id}", now_ms=now_ms()
    )
    assert stored == first.SerializeToString()


async def test_re1_over_limit_transactions_are_refused_and_nothing_is_stored(negotiated: Federation) -> None:
    fed = negotiated
    head = await fed.nodes["gateway-b"].audit.head()
    too_many = transaction(signed_items(fed, 51))
    too_large = transaction([b"x" * (MAX_TRANSACTION_BYTES // 2 + 1)] * 2)
    async with as_gateway_a(fed) as channel:
        send = gateway_pb2_grpc.FederationStub(channel).SendTransaction
        await refused(send(too_many), grpc.StatusCode.INVALID_ARGUMENT, "TRANSACTION_TOO_MANY_ENTRIES", "at most 50")
        await refused(send(too_large), grpc.StatusCode.RESOURCE_EXHAUSTED, "TRANSACTION_TOO_LARGE")
        await refused(send(transaction([])), grpc.StatusCode.INVALID_ARGUMENT, "TRANSACTION_MALFORMED")
    assert await fed.nodes["gateway-b"].audit.head() == head
    for txn in (too_many, too_large):
        key = f"{A} {txn.transaction_id}"
        assert await fed.nodes["gateway-b"].store.get_record(NS_TRANSACTIONS, key, now_ms=now_ms()) is None


async def test_re1_only_the_peer_gateway_of_its_own_origin_under_an_agreement_may_send(
    federation: Federation,
) -> None:
    fed = federation
    b = fed.plan.gateway_b
    roots = b.tls.ca_cert.read_bytes()
    txn = transaction(signed_items(fed, 2))
    async with as_gateway_a(fed) as channel:  # no trust agreement yet
        send = gateway_pb2_grpc.FederationStub(channel).SendTransaction
        await refused(send(txn), grpc.StatusCode.FAILED_PRECONDITION, "NO_AGREEMENT")
        assert fed.at_a is not None
        await fed.at_a.negotiate(B)
        await refused(
            send(transaction(signed_items(fed, 2), origin=B)), grpc.StatusCode.PERMISSION_DENIED, "ORIGIN_MISMATCH"
        )
    for tls in (fed.plan.instance_b.tls, fed.plan.operators[B]):  # b's own roles are not its peer
        async with secure_channel(tls, peer(b), roots=roots) as channel:
            send = gateway_pb2_grpc.FederationStub(channel).SendTransaction
            await refused(send(txn), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
    assert await b_entries(fed, txn.transaction_id) == []


async def test_ri1_outbox_delivers_in_order_through_an_outage_of_the_peer_gateway(negotiated: Federation) -> None:
    """Gateway B is down while instance A submits: gateway A's lane retries (backoff) and, once B
    serves again, delivers every submission, in order, signed by A and verified by B."""
    fed = negotiated
    fed.nodes["gateway-a"].outbox.limits = OutboxLimits(backoff_base_s=0.05, backoff_cap_s=0.3, give_up_s=60.0)
    await fed.nodes["gateway-b"].stop()
    items = unsigned_items(12)
    async with secure_channel(fed.plan.instance_a.tls, peer(fed.plan.gateway_a)) as channel:
        send = gateway_pb2_grpc.PlatformGatewayStub(channel).SendToPeer
        calls = []
        for i in range(0, 12, 3):  # four submissions, queued in this order
            entries = [fpb.FederationEntry(item_json=raw) for raw in items[i : i + 3]]
            calls.append(asyncio.ensure_future(send(fpb.SendToPeerRequest(peer_m_instance_id=B, entries=entries))))
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert not any(c.done() for c in calls)
        restarted = GatewayNode(fed.plan.gateway_b)
        fed.nodes["gateway-b"] = restarted
        await restarted.start()
        answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=30)
    assert all(r.accepted for answer in answers for r in answer.results), answers
    accepted = [e for e in await restarted.audit.entries(peer_id=A) if e.details.get("rpc") == "SendTransaction"]
    in_order = [parse_item(raw).item_id for raw in items]
    assert [r.subject for answer in answers for r in answer.results] == in_order
    assert [e.subject for e in accepted] == in_order


async def test_ri1_send_to_peer_is_only_for_the_own_instance(negotiated: Federation) -> None:
    fed = negotiated
    request = fpb.SendToPeerRequest(peer_m_instance_id=B, entries=[fpb.FederationEntry(item_json=unsigned_items(1)[0])])
    assert fed.at_a is not None
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await fed.at_a.gateway.SendToPeer(request)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
