"""Three replicas of b.example's gateway behind one Redis (issue 6 item 1): an agreement made
through one is ACTIVE on all, a.example's avatars are accepted by each, a transfer is accepted
once whichever replicas it is replayed to, and every replica reads ONE audit chain that verifies
(LAF, FGMV-43 7.5.3). Real redis-server, real gRPC over mTLS, the loopback federation."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cliproc import mmmfed_in_thread as mmmfed
from personaflow import (
    assert_nothing_stored,
    chunks_of,
    persona,
    send,
    signed_by_a,
    stored,
    transfer_header,
    with_envelope,
)
from rpcassert import refused

from gateway.agreements import ACTIVE
from gateway.node import GatewayNode
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import A, B, plan
from mmmfed.config import GatewayConfig, StoreConfig
from mmmfed.items import domain_doc
from mmmfed.rpc import error_info
from mmmfed.testing import RedisServer
from mmmfed.tls import secure_channel

DENIED = grpc.StatusCode.PERMISSION_DENIED


@dataclass
class Replicas:
    """The federation, b.example's three gateway replicas (the first is the plan's
    ``gateway-b``) and their configurations with the addresses they serve on."""

    fed: Federation
    nodes: list[GatewayNode]
    configs: list[GatewayConfig]


@pytest.fixture
async def replicas(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Replicas]:
    """The loopback federation with b.example's gateway on Redis, plus two more replicas: the same
    configuration (and data_dir, so the same instance keys) but for their listen port."""
    p = plan(tmp_path / "fed")
    store = StoreConfig(backend="redis", redis_url=redis_server.url)
    p = dataclasses.replace(p, gateway_b=p.gateway_b.model_copy(update={"store": store}))
    fed = Federation(p)
    extra: list[GatewayNode] = []
    try:
        await fed.start()
        configs = [p.gateway_b]
        for _ in range(2):
            extra.append(GatewayNode(p.gateway_b.model_copy(update={"listen": "127.0.0.1:0"})))
            configs.append(p.gateway_b.model_copy(update={"listen": await extra[-1].start()}))
        yield Replicas(fed, [fed.nodes["gateway-b"], *extra], configs)
    finally:
        for node in extra:
            await node.stop()
        await fed.stop()


def start_transfer(r: Replicas, glb: bytes) -> list[Any]:
    """A transfer as gateway A sends it: header with its signed envelope, then the chunks."""
    header = with_envelope(r.fed, transfer_header(signed_by_a(r.fed, persona(glb))))
    return [header, *(gpb.TransferAvatarRequest(chunk=c) for c in chunks_of(glb))]


async def _send_to(r: Replicas, replica: int, messages: list[Any]) -> Any:
    """TransferAvatar at one replica, presenting gateway A's certificate."""
    tls, stub = r.fed.plan.gateway_a.tls, gateway_pb2_grpc.FederationStub
    return await send(tls, r.configs[replica], stub, "TransferAvatar", messages)


def _reason(err: grpc.aio.AioRpcError) -> str | None:
    info = error_info(err)
    return info.reason if info else None


async def _one_chain(r: Replicas) -> list[Any]:
    """The audit chain as every replica reads it (asserting they all read the same, verified
    chain, locally and over RE-5); returns its entries."""
    entries = await r.nodes[0].audit.entries()
    for node, config in zip(r.nodes, r.configs, strict=True):
        result = await node.audit.verify()
        assert result.ok and result.checked == len(entries), result
        assert await node.audit.entries() == entries
        async with secure_channel(r.fed.plan.gateway_a.tls, peer(config)) as channel:
            part = await gateway_pb2_grpc.FederationStub(channel).GetAuditEntries(gpb.GetAuditEntriesRequest())
        assert (part.head_seq, part.head_hash) == (entries[-1].seq, entries[-1].hash)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    return entries


async def test_an_agreement_made_through_one_replica_is_active_on_every_replica(replicas: Replicas) -> None:
    """a.example negotiates through replica 1; replicas 2 and 3 hold the same ACTIVE agreement,
    signed by both, and the same answer manifesto."""
    r = replicas
    result = await r.fed.at_a.negotiate(B)
    doc = json.loads(result.agreement_json)
    for node in r.nodes:
        record = await node.agreements.record(A)
        assert record["Status"] == ACTIVE and record["Document"] == doc
        assert (await node.negotiation.answer_for(A, incoming=True)).manifesto_id == result.answer.manifesto_id
    assert [e.event for e in await _one_chain(r)] == ["AGREEMENT_PROPOSED", "AGREEMENT_ACCEPTED"]


async def test_migrations_are_accepted_by_each_replica_in_one_audit_chain(
    replicas: Replicas,
    good_glb: bytes,
    tmp_path: Path,
) -> None:
    """a.example's gateway migrates one avatar to each replica in turn (its channel to b.example
    pointed at replica 1, 2, 3), then transfers reach the three at once: all are accepted,
    replicas 2 and 3 verify with the keys replica 1 fetched (no fetch of their own), and the
    chain every replica reads verifies and holds each accept once."""
    r = replicas
    await r.fed.at_a.negotiate(B)
    avatar = tmp_path / "visitor.glb"
    avatar.write_bytes(good_glb)
    home = r.fed.nodes["gateway-a"]
    accepted = []
    for i, config in enumerate(r.configs):
        home.channels.peers[B] = peer(config)  # a.example's gateway now reaches replica i + 1
        registered = await r.fed.at_a.register_human(f"visitor{i}", avatar)
        result = await r.fed.at_a.migrate(registered.user_process_id, B)
        assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
        accepted.append(domain_doc(result.peer_persona.item_json)["ItemID"])
    assert [node.keyring.fetches for node in r.nodes[1:]] == [0, 0]

    transfers = [start_transfer(r, good_glb) for _ in r.configs]
    results = await asyncio.gather(*(_send_to(r, i, messages) for i, messages in enumerate(transfers)))
    accepted += [domain_doc(result.persona.item_json)["ItemID"] for result in results]

    entries = await _one_chain(r)
    subjects = [e.subject for e in entries if e.event == "ACCEPTED"]
    assert sorted(subjects) == sorted(accepted) and len(set(accepted)) == 6


async def test_a_transfer_accepted_by_one_replica_is_refused_as_replayed_by_the_others(
    replicas: Replicas,
    good_glb: bytes,
    tmp_path: Path,
) -> None:
    """The same signed transfer accepted by replica 1 is refused REPLAYED by replicas 2 and 3,
    storing nothing; one sent to the three at once is accepted by exactly one. The audit chain,
    read from any replica (and by `mmmfed audit verify` on the Redis configuration), verifies and
    holds each accept once."""
    r = replicas
    await r.fed.at_a.negotiate(B)
    messages = start_transfer(r, good_glb)
    first = await _send_to(r, 0, messages)
    assert first.bytes_received == len(good_glb)
    before = stored(r.fed)
    for replica in (1, 2):
        await refused(_send_to(r, replica, messages), DENIED, "REPLAYED")
    await assert_nothing_stored(r.fed, before)

    racing = start_transfer(r, good_glb)
    outcomes = await asyncio.gather(*(_send_to(r, i, racing) for i in range(3)), return_exceptions=True)
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    losers = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(winners) == 1 and len(losers) == 2, outcomes
    assert [(err.code(), _reason(err)) for err in losers] == [(DENIED, "REPLAYED")] * 2

    entries = await _one_chain(r)
    accepted = [e.subject for e in entries if e.event == "ACCEPTED"]
    assert len(accepted) == len(set(accepted)) == 2
    assert [e.reason for e in entries if e.event == "REFUSED"] == ["REPLAYED"] * 4

    config = tmp_path / "gateway-b.json"
    config.write_text(r.configs[1].model_dump_json())
    verified = await mmmfed("audit", "verify", "--config", str(config))
    assert verified.returncode == 0 and verified.stdout.startswith(f"VERIFIED {len(entries)} entries"), verified
    shown = await mmmfed("agreement", "show", "--config", str(config), "--json")
    assert json.loads(shown.stdout)[A]["Status"] == ACTIVE, shown.stderr


async def test_serve_refuses_a_redis_that_could_lose_acknowledged_writes(tmp_path: Path) -> None:
    """`mmmfed serve gateway` on a Redis with appendfsync everysec and no WAITAOF (Redis 7.0)
    exits 2 with the reason STORE_NOT_DURABLE and what to change, not a traceback: ownership of
    record must not rest on writes Redis could still lose (issue 6 item 1)."""
    server = RedisServer(tmp_path / "redis", appendfsync="everysec").start()
    try:
        p = plan(tmp_path / "fed")
        p.ports.release()
        config = tmp_path / "gateway-b.json"
        store = StoreConfig(backend="redis", redis_url=server.url)
        config.write_text(p.gateway_b.model_copy(update={"store": store}).model_dump_json())
        result = await mmmfed("serve", "gateway", "--config", str(config))
    finally:
        server.stop()
    assert result.returncode == 2, result.stderr
    assert "STORE_NOT_DURABLE" in result.stderr and "appendfsync always" in result.stderr
    assert "Traceback" not in result.stderr


async def test_an_asset_offered_and_committed_through_every_replica_at_once_moves_once(
    replicas: Replicas,
) -> None:
    """Issue 5 across replicas: a.example's gateway sends the same Asset offer, then the same
    COMMIT, to the three replicas at once (as retries after a lost answer would). b.example stages
    and commits it once: one Asset owned by bob, one credit, and ONE ``ASSET_COMMITTED`` entry in
    the chain every replica reads."""
    from assetflow import ALICE, BOB, make_decision, make_offer, register_asset

    from gateway.assets import ASSET_COMMITTED
    from mmmfed.api.v1 import asset_pb2 as apb

    r = replicas
    await r.fed.at_a.negotiate(B)
    asset_id = await register_asset(r.fed)
    view = await r.fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    offer = make_offer(r.fed, view.asset, _data(r, asset_id), "urn:test:replicas")
    home = r.fed.nodes["gateway-a"]

    async def at_every_replica(send: Any) -> list[Any]:
        tasks = []
        for config in r.configs:
            home.channels.peers[B] = peer(config)  # each call binds its stub before its first await
            tasks.append(asyncio.create_task(send()))
            await asyncio.sleep(0)
        return await asyncio.gather(*tasks)

    staged = await at_every_replica(lambda: home.assets._forward_offer(offer))
    assert {s.state for s in staged} == {"STAGED"} and sum(not s.duplicate for s in staged) == 1
    commit = make_decision(offer, apb.ASSET_DECISION_KIND_COMMIT)
    committed = await at_every_replica(lambda: home.assets._forward_decision(commit))
    assert {c.state for c in committed} == {"COMMITTED"} and sum(not c.duplicate for c in committed) == 1

    ledger = await r.fed.at_b.instance.GetLedger(apb.GetLedgerRequest())
    assert [(a.state, a.owner_process_id) for a in ledger.assets] == [("OWNED", BOB)]
    assert [(t.state, t.source_process_id) for t in ledger.transfers] == [("COMMITTED", ALICE)]
    entries = await _one_chain(r)
    assert [e.subject for e in entries if e.event == ASSET_COMMITTED] == ["urn:test:replicas"]


def _data(r: Replicas, asset_id: str) -> bytes:
    return r.fed.nodes["instance-a"].ledger.asset_data(asset_id)


async def test_a_presentation_nonce_from_one_replica_is_accepted_once_at_another_and_replays_are_refused(
    replicas: Replicas,
) -> None:
    """FGMV-43 9.4 step 3 across replicas (RE-4, gateway/identity_import.py): a.example's gateway
        gets a nonce from replica 1 and presents alice's identity with it at replica 2, which admits
        it (the nonce is in Redis, not in replica 1's process); the same presentation replayed at
        replica 1 or 3 is PRESENTATION_REPLAYED and a made-up nonce NONCE_UNKNOWN at any replica;
        then a push of her changed profile with a nonce from replica 3 is taken at replica 1 and
    refused as a replay at replica 2. The chain every replica reads holds one accept of each."""
    from test_identity_migration import _home_store, _issue

    from mmmfed.api.v1 import identity_pb2 as ipb
    from mmmfed.api.v1 import identity_pb2_grpc
    from mmmfed.identity.presentation import present
    from mmmfed.identity.user_did import user_did

    r = replicas
    await r.fed.at_a.negotiate(B)
    _issue(r.fed, "alice", name="Alice", years=30)
    store, did = _home_store(r.fed), user_did(A, "alice")

    async def at_replica(replica: int, rpc: str, request: Any) -> Any:
        async with secure_channel(r.fed.plan.gateway_a.tls, peer(r.configs[replica])) as channel:
            return await getattr(identity_pb2_grpc.IdentityFederationStub(channel), rpc)(request)

    def shown(nonce: str) -> ipb.PresentIdentityRequest:
        presentation = present(
            store.credential("alice"),
            disclose=["name", "age_over_18"],
            audience=B,
            nonce=nonce,
            holder_key=store.held_key("alice"),
            iat_s=int(time.time()),
        )
        return ipb.PresentIdentityRequest(did=did, presentation=presentation.serialize(), version=1)

    given = await at_replica(0, "GetNonce", ipb.GetIdentityNonceRequest())
    presented = shown(given.nonce)
    admitted = await at_replica(1, "PresentIdentity", presented)
    assert sorted(admitted.stored_claims) == ["age_over_18", "name"] and not admitted.already_linked
    for replica in (0, 2):
        await refused(at_replica(replica, "PresentIdentity", presented), grpc.StatusCode.INVALID_ARGUMENT,
                      "PRESENTATION_REPLAYED")  # fmt: skip
    await refused(at_replica(2, "PresentIdentity", shown("never-given-here-0000")),
                  grpc.StatusCode.INVALID_ARGUMENT, "NONCE_UNKNOWN")  # fmt: skip

    # IDSF across replicas: a nonce from replica 3, the push at replica 1, the link replica 2 made
    _issue(r.fed, "alice", name="Alice Liddell", years=30)
    again = await at_replica(2, "GetNonce", ipb.GetIdentityNonceRequest())
    push = ipb.PushIdentityUpdateRequest(did=did, presentation=shown(again.nonce).presentation, version=2)
    updated = await at_replica(0, "PushIdentityUpdate", push)
    assert (updated.process_id, updated.version) == (admitted.process_id, 2)
    await refused(at_replica(1, "PushIdentityUpdate", push), grpc.StatusCode.INVALID_ARGUMENT, "PRESENTATION_REPLAYED")

    entries = await _one_chain(r)
    presents = [(e.event, e.reason) for e in entries if (e.details or {}).get("rpc") == "PresentIdentity"]
    assert presents == [("ACCEPTED", ""), *[("REFUSED", "PRESENTATION_REPLAYED")] * 2, ("REFUSED", "NONCE_UNKNOWN")]
