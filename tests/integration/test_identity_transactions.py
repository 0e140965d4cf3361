"""The identity synchronisation channel in federation transactions, over real nodes and real mTLS
(issue 18 item 2; ITU FGMV-43 9.4 step 5, IDSF; RE-1 SendTransaction, RE-4 GetNonce): the home's
push worker sends the updates of several linked users in one transaction, one nonce call for
all of them; the platform answers each entry on its own, so a refused update fails no other;
the M-Instance cannot hand its gateway identity updates (RI-1); a peer asks for at most 50 nonces.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
from rpcassert import refused
from test_federation_transactions import as_gateway_a
from test_identity_migration import _home_store, _migrate, _operator
from test_identity_push import _record_presentations
from test_identity_sync import _at_b, _issue_profile, _only_on_sync

from gateway.transactions import AGREEMENT_OF_KIND, agreements_needed
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.audit import AuditEntry
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.identity.push_queue import PushQueue
from mmmfed.identity.user_did import user_did
from mmmfed.tls import secure_channel

A, B = "a.example", "b.example"
USERS = ("alice", "bob", "kit")


async def _link_all(fed: Federation) -> None:
    """alice, bob and kit each link b with their name and age_over_18 (version 1 at b); a's push
    worker is stopped, so the test runs its passes itself."""
    await _only_on_sync(fed)
    for user in USERS:
        _issue_profile(fed, user, name=user.title())
    async with _operator(fed) as home:
        for user in USERS:
            await _migrate(home, f"mmm://{A}/processes/user/{user}", "name", "age_over_18")


def _pushes(entries: list[AuditEntry]) -> list[AuditEntry]:
    return [e for e in entries if (e.details or {}).get("rpc") == "PushIdentityUpdate"]


def _key_fetches(fed: Federation) -> list[str]:
    """Every fetch of a peer's key set b's identity import makes from now on (wrapped)."""
    fetched: list[str] = []
    importer = fed.nodes["gateway-b"].identity_import
    fetch = importer._fetch_keys

    async def counting(peer_id: str) -> Any:
        fetched.append(peer_id)
        return await fetch(peer_id)

    importer._fetch_keys = counting
    return fetched


def _nonce_counts(fed: Federation) -> list[int]:
    """The count of every RE-4 GetNonce b's gateway answers from now on (the real method wrapped)."""
    counts: list[int] = []
    importer = fed.nodes["gateway-b"].identity_import
    issue = importer.nonce

    async def counting(peer_id: str, count: int = 1) -> ipb.GetIdentityNonceResponse:
        counts.append(count)
        return await issue(peer_id, count)

    importer.nonce = counting  # type: ignore[method-assign]
    return counts


async def test_idsf_issue18_updates_of_three_users_travel_in_one_transaction_with_one_nonce_call(
    negotiated: Federation,
) -> None:
    """All three are re-issued at home with new names; one pass of a's push worker: b asked
    once for three nonces and fetched a's key set once for the three presentations, b's audit
    shows three ACCEPTED PushIdentityUpdate entries of ONE transaction id, b holds version 2
    with the new names, and a's queue is empty."""
    fed = negotiated
    await _link_all(fed)
    counts = _nonce_counts(fed)
    fetched = _key_fetches(fed)
    seen = _record_presentations(fed)
    before = len(_pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A)))
    for user in USERS:
        _issue_profile(fed, user, name=f"{user.title()} 2")
    assert await fed.nodes["gateway-a"].identity_push.run_once()

    assert counts == [3] and fetched == [A]
    assert len(seen) == 3
    pushes = _pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A))[before:]
    assert [e.event for e in pushes] == ["ACCEPTED"] * 3
    assert sorted(e.subject for e in pushes) == sorted(user_did(A, u) for u in USERS)
    transaction_ids = {e.details["transaction_id"] for e in pushes}
    assert len(transaction_ids) == 1, transaction_ids
    for user in USERS:
        record = _at_b(fed).get(A, user_did(A, user))
        assert record is not None and record.version == 2 and record.claims["name"] == f"{user.title()} 2"
        assert _home_store(fed).links(user)[B]["version"] == 2
    assert PushQueue(fed.plan.gateway_a.data_dir / "identity" / "push-queue").entries(B) == []
    # the operators see it: three entries each way, in one transaction of three
    for node, direction in (("gateway-b", "in"), ("gateway-a", "out")):
        registry = fed.nodes[node].metrics.registry
        entries = {"direction": direction, "kind": "identity_update", "outcome": "accepted"}
        assert registry.get_sample_value("mmmfed_federation_entries_total", entries) == 3
        per_transaction = {"direction": direction}
        assert registry.get_sample_value("mmmfed_federation_transaction_entries_count", per_transaction) == 1
        assert registry.get_sample_value("mmmfed_federation_transaction_entries_sum", per_transaction) == 3


async def test_idsf_issue18_a_refused_update_fails_no_other_entry_of_its_transaction(
    negotiated: Federation,
) -> None:
    """bob's link at home is made to disclose languages too, outside the scope he consented to
    at b: in the one transaction, b refuses his entry SCOPE_EXCEEDED and stores nothing of it,
    and takes alice's and kit's; bob stays queued at a, at version 1 there and at b."""
    fed = negotiated
    await _link_all(fed)
    home = _home_store(fed)
    links_file = home.directory / "users" / "bob" / "links.json"
    links = json.loads(links_file.read_text())
    links[B]["disclosed"] = [*links[B]["disclosed"], "languages"]
    links_file.write_text(json.dumps(links))
    for user in USERS:
        _issue_profile(fed, user, name=f"{user.title()} 2", languages=("fr-FR",))
    assert await fed.nodes["gateway-a"].identity_push.run_once()

    pushes = _pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A))
    last = {e.subject: e for e in pushes}
    assert last[user_did(A, "bob")].event == "REFUSED" and last[user_did(A, "bob")].reason == "SCOPE_EXCEEDED"
    assert last[user_did(A, "alice")].event == last[user_did(A, "kit")].event == "ACCEPTED"
    assert len({last[user_did(A, u)].details["transaction_id"] for u in USERS}) == 1
    bob = _at_b(fed).get(A, user_did(A, "bob"))
    assert bob is not None and bob.version == 1 and bob.claims["name"] == "Bob" and "languages" not in bob.claims
    for user in ("alice", "kit"):
        record = _at_b(fed).get(A, user_did(A, user))
        assert record is not None and record.version == 2
    assert home.links("bob")[B]["version"] == 1
    queued = PushQueue(fed.plan.gateway_a.data_dir / "identity" / "push-queue").entries(B)
    assert [entry.user for entry in queued] == ["bob"]
    registry = fed.nodes["gateway-b"].metrics.registry
    refused_in = {"direction": "in", "kind": "identity_update", "outcome": "refused"}
    assert registry.get_sample_value("mmmfed_federation_entries_total", refused_in) == 1


async def test_ri1_the_m_instance_cannot_hand_its_gateway_identity_updates(negotiated: Federation) -> None:
    """RI-1 SendToPeer with an identity update entry (only the home's gateway makes them) is
    refused INVALID_ARGUMENT ENTRY_KIND, and so is an empty entry; nothing reaches b."""
    fed = negotiated
    before = len(await fed.nodes["gateway-b"].audit.entries(peer_id=A))
    update = ipb.PushIdentityUpdateRequest(did=user_did(A, "alice"), presentation="x~", version=9)
    async with secure_channel(fed.plan.instance_a.tls, peer(fed.plan.gateway_a)) as channel:
        send = gateway_pb2_grpc.PlatformGatewayStub(channel).SendToPeer
        for entry in (fpb.FederationEntry(identity_update=update), fpb.FederationEntry()):
            request = fpb.SendToPeerRequest(peer_m_instance_id=B, entries=[entry])
            await refused(send(request), grpc.StatusCode.INVALID_ARGUMENT, "ENTRY_KIND")
    assert len(await fed.nodes["gateway-b"].audit.entries(peer_id=A)) == before


async def test_re4_get_nonce_gives_up_to_50_distinct_nonces_and_refuses_more(negotiated: Federation) -> None:
    fed = negotiated
    stub = fed.nodes["gateway-a"].channels.identity_peer(B)  # a's gateway, its own certificate
    one = await stub.GetNonce(ipb.GetIdentityNonceRequest())
    assert one.nonce and list(one.nonces) == []
    many = await stub.GetNonce(ipb.GetIdentityNonceRequest(count=50))
    assert len(set(many.nonces)) == 50 and many.nonce == many.nonces[0]
    await refused(stub.GetNonce(ipb.GetIdentityNonceRequest(count=51)), grpc.StatusCode.INVALID_ARGUMENT, "NONCE_COUNT")


async def test_re1_an_identity_update_entry_needs_the_agreement_to_cover_identities(negotiated: Federation) -> None:
    """A transaction's entries name the (Item type, Action) each needs covered; an identity
    update from a is verified as a push is: one with a presentation b cannot read is refused on
    its own (PRESENTATION_MALFORMED) and audited as a PushIdentityUpdate."""
    entries = [
        fpb.FederationEntry(item_json=b"{}"),
        fpb.FederationEntry(identity_update=ipb.PushIdentityUpdateRequest()),
    ]
    assert agreements_needed(entries) == sorted({AGREEMENT_OF_KIND["item_json"], AGREEMENT_OF_KIND["identity_update"]})
    assert AGREEMENT_OF_KIND["identity_update"] == ("PPR", "Register")

    fed = negotiated
    _issue_profile(fed, "alice", name="Alice")
    async with _operator(fed) as home:
        await _migrate(home, f"mmm://{A}/processes/user/alice", "name", "age_over_18")
    update = ipb.PushIdentityUpdateRequest(did=user_did(A, "alice"), presentation="not an sd-jwt", version=2)
    txn = fpb.FederationTransaction(
        transaction_id=f"urn:uuid:{uuid.uuid4()}",
        origin_m_instance_id=A,
        entries=[fpb.FederationEntry(identity_update=update)],
    )
    async with as_gateway_a(fed) as channel:
        answer = await gateway_pb2_grpc.FederationStub(channel).SendTransaction(txn)
    (result,) = answer.results
    assert not result.accepted and result.subject == user_did(A, "alice"), result
    assert result.reason == "PRESENTATION_MALFORMED"
    pushes = [e for e in _pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A))
              if e.details.get("transaction_id") == txn.transaction_id]  # fmt: skip
    assert [(e.event, e.reason) for e in pushes] == [("REFUSED", "PRESENTATION_MALFORMED")]
    record = _at_b(fed).get(A, user_did(A, "alice"))
    assert record is not None and record.version == 1


async def test_idsf_a_platform_that_takes_no_identity_entries_gets_the_pushes_by_single_calls(
    negotiated: Federation,
) -> None:
    """b's gateway takes no identity entries in transactions (as one that does not know them):
    it refuses them IDENTITY_NOT_SERVED having checked nothing, and a's pass sends the same
    pushes by PushIdentityUpdate, which b takes; later passes go by single calls at once."""
    fed = negotiated
    await _link_all(fed)
    fed.nodes["gateway-b"].transactions.identity = None
    counts = _nonce_counts(fed)
    for user in USERS:
        _issue_profile(fed, user, name=f"{user.title()} 2")
    assert await fed.nodes["gateway-a"].identity_push.run_once()

    assert counts == [3]  # the nonces given for the transaction serve the single calls
    for user in USERS:
        record = _at_b(fed).get(A, user_did(A, user))
        assert record is not None and record.version == 2 and record.claims["name"] == f"{user.title()} 2"
    pushes = _pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A))
    refused_here = [e for e in pushes if e.event == "REFUSED"]
    assert {e.reason for e in refused_here} == {"IDENTITY_NOT_SERVED"} and len(refused_here) == 3
    single = [e for e in pushes if e.event == "ACCEPTED" and "transaction_id" not in e.details]
    assert sorted(e.subject for e in single) == sorted(user_did(A, u) for u in USERS)

    _issue_profile(fed, "alice", name="Alice 3")
    assert await fed.nodes["gateway-a"].identity_push.run_once()
    record = _at_b(fed).get(A, user_did(A, "alice"))
    assert record is not None and record.version == 3
    assert len([e for e in _pushes(await fed.nodes["gateway-b"].audit.entries(peer_id=A)) if e.event == "REFUSED"]) == 3
