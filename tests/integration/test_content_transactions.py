"""The content synchronisation channel in federation transactions, over real nodes and real mTLS
(issue 18 item 2; ITU FGMV-43 9.3 steps 5-7, COSF; RE-1 SendTransaction beside RE-3
ExchangeContentVersions): the M-Instance's queue synchronises a destination's contents side by
side, and the gateway carries their messages together in transactions; a message or an answer
larger than a transaction's share (256 KiB) travels by RE-3 itself; a retried transaction is
answered with a signed stand-in that tells the sender to ask again, never applied twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import grpc
from cliproc import mmmfed_in_thread as mmmfed
from contentflow import cli_json, operators
from test_content_versions import TEXT_V1, _file, _heads, _pause_sync, _publish
from test_federation_transactions import as_gateway_a

from gateway.content_sync import MAX_ENTRY_BYTES
from gateway.version_signing import sign_versions
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.audit import AuditEntry
from mmmfed.cli.inprocess import Federation

A, B = "a.example", "b.example"


async def _linked_contents(fed: Federation, at_a: list[str], tmp_path: Path, count: int) -> list[str]:
    """``count`` text contents published at a and migrated to b (linked both ways)."""
    ids = []
    for i in range(count):
        content_id = await _publish(at_a, _file(tmp_path, f"n{i}.md", f"{TEXT_V1}content {i}\n".encode()))
        done = await mmmfed("content", "migrate", content_id, *at_a, "--to", B, "--json")
        assert done.returncode == 0, done.stdout
        ids.append(content_id)
    return ids


async def _exchanges_at_b(fed: Federation) -> list[AuditEntry]:
    entries = await fed.nodes["gateway-b"].audit.entries(peer_id=A)
    return [e for e in entries if (e.details or {}).get("rpc") == "ExchangeContentVersions"]


async def test_cosf_issue18_a_destinations_contents_synchronise_together_in_transactions(
    negotiated: Federation, tmp_path: Path
) -> None:
    """Six contents linked with b get a new version each while a's queue is paused; one pass of
    a's queue brings every new version to b, and b received the twelve messages (a pull and a
    push per content) in fewer transactions than messages, each entry audited ACCEPTED."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    ids = await _linked_contents(fed, at_a, tmp_path, 6)
    await _pause_sync(fed)
    before = len(await _exchanges_at_b(fed))
    made = {}
    for i, content_id in enumerate(ids):
        text = f"{TEXT_V1}content {i}, second version\n".encode()
        made[content_id] = await cli_json(
            "content", "update", content_id, str(_file(tmp_path, f"m{i}.md", text)), *at_a
        )
    worker = fed.nodes["instance-a"].content_sync
    assert worker is not None
    await worker.drain_once()

    for content_id in ids:
        assert _heads(fed, "instance-b", content_id) == [made[content_id]["version_id"]]
    assert fed.nodes["instance-a"].contents.store.queued() == []
    in_transactions = [e for e in (await _exchanges_at_b(fed))[before:] if "transaction_id" in e.details]
    assert len(in_transactions) == 12 and {e.event for e in in_transactions} == {"ACCEPTED"}
    assert Counter(e.subject for e in in_transactions) == Counter({content_id: 2 for content_id in ids})
    per_transaction = Counter(e.details["transaction_id"] for e in in_transactions)
    assert len(per_transaction) < 12, per_transaction


async def test_cosf_issue18_a_version_larger_than_a_transactions_share_travels_by_re3(
    negotiated: Federation, tmp_path: Path
) -> None:
    """A 300 KiB version: the pull travels in a transaction, the push (over 256 KiB) by RE-3
    ExchangeContentVersions itself, and b holds the version."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    (content_id,) = await _linked_contents(fed, at_a, tmp_path, 1)
    await _pause_sync(fed)
    before = len(await _exchanges_at_b(fed))
    big = (TEXT_V1 + "a long line of notes, repeated\n" * 10_000).encode()
    assert len(big) > MAX_ENTRY_BYTES
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "big.md", big)), *at_a)
    worker = fed.nodes["instance-a"].content_sync
    assert worker is not None
    await worker.drain_once()

    assert _heads(fed, "instance-b", content_id) == [made["version_id"]]
    seen = [e for e in (await _exchanges_at_b(fed))[before:] if e.subject == content_id]
    assert [("transaction_id" in e.details, e.details.get("applied")) for e in seen] == [(True, None), (False, 1)]


async def test_re1_a_retried_content_entry_is_answered_by_a_signed_stand_in_and_applied_once(
    negotiated: Federation, tmp_path: Path
) -> None:
    """a asks b, in a transaction, for the versions beyond the first one: b answers with the
    second version, signed by b. The same transaction again (a retry after a lost answer) is
    answered from b's record: no versions, ``more`` set, the same ids, signed, so a asks again;
    b audited the entry once."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    (content_id,) = await _linked_contents(fed, at_a, tmp_path, 1)
    await _pause_sync(fed)
    (first_id,) = _heads(fed, "instance-a", content_id)
    text = f"{TEXT_V1}content 0, second version\n".encode()
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "m.md", text)), *at_a)
    worker = fed.nodes["instance-a"].content_sync
    assert worker is not None
    await worker.drain_once()  # b holds the second version now
    assert _heads(fed, "instance-b", content_id) == [made["version_id"]]

    ask = cpb.ContentVersions(content_id=content_id, known_ids=[first_id])
    signed = sign_versions(ask, keys=fed.nodes["gateway-a"].keys, destination=B)
    txn = fpb.FederationTransaction(
        transaction_id=f"urn:uuid:{uuid.uuid4()}",
        origin_m_instance_id=A,
        entries=[fpb.FederationEntry(content_versions=signed)],
    )
    async with as_gateway_a(fed) as channel:
        send = gateway_pb2_grpc.FederationStub(channel).SendTransaction
        first = (await send(txn)).results[0]
        again = (await send(txn)).results[0]
    assert first.accepted and [v.version_id for v in first.content_versions.versions] == [made["version_id"]]
    assert first.content_versions.envelope_json and not first.content_versions.more
    stand_in = again.content_versions
    assert again.accepted and not stand_in.versions and stand_in.more and stand_in.envelope_json
    assert sorted(stand_in.known_ids) == sorted(first.content_versions.known_ids)
    assert stand_in.transfer_id != first.content_versions.transfer_id
    audited = [e for e in await _exchanges_at_b(fed) if e.details.get("transaction_id") == txn.transaction_id]
    assert len(audited) == 1


async def test_cosf_a_peer_that_takes_no_content_entries_gets_the_messages_by_re3(
    negotiated: Federation, tmp_path: Path
) -> None:
    """b's gateway takes no content entries in transactions (as one that does not know them):
    it refuses the first CONTENT_NOT_SERVED having checked nothing, and a's gateway sends that
    message and every later one by RE-3 ExchangeContentVersions; b holds the new version."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    (content_id,) = await _linked_contents(fed, at_a, tmp_path, 1)
    await _pause_sync(fed)
    fed.nodes["gateway-b"].transactions.content = None
    before = len(await _exchanges_at_b(fed))
    text = f"{TEXT_V1}content 0, second version\n".encode()
    made = await cli_json("content", "update", content_id, str(_file(tmp_path, "m.md", text)), *at_a)
    worker = fed.nodes["instance-a"].content_sync
    assert worker is not None
    await worker.drain_once()

    assert _heads(fed, "instance-b", content_id) == [made["version_id"]]
    seen = [(e.event, e.reason, "transaction_id" in e.details) for e in (await _exchanges_at_b(fed))[before:]]
    assert seen == [("REFUSED", "CONTENT_NOT_SERVED", True), ("ACCEPTED", "", False)]


async def test_re1_an_unsigned_content_entry_is_refused_on_its_own_and_changes_nothing(
    negotiated: Federation, tmp_path: Path
) -> None:
    """A content entry without the sending gateway's envelope, beside a signed one: b refuses it
    PERMISSION_DENIED ENVELOPE_MISSING (the code the single call answers), takes the other, and
    audits both; the content at b is as it was."""
    fed = negotiated
    at_a, _ = await operators(fed, tmp_path)
    (content_id,) = await _linked_contents(fed, at_a, tmp_path, 1)
    await _pause_sync(fed)
    heads = _heads(fed, "instance-b", content_id)
    ask = cpb.ContentVersions(content_id=content_id, known_ids=heads)
    signed = sign_versions(ask, keys=fed.nodes["gateway-a"].keys, destination=B)
    txn = fpb.FederationTransaction(
        transaction_id=f"urn:uuid:{uuid.uuid4()}",
        origin_m_instance_id=A,
        entries=[fpb.FederationEntry(content_versions=ask), fpb.FederationEntry(content_versions=signed)],
    )
    async with as_gateway_a(fed) as channel:
        unsigned, accepted = (await gateway_pb2_grpc.FederationStub(channel).SendTransaction(txn)).results
    assert (unsigned.accepted, unsigned.reason) == (False, "ENVELOPE_MISSING")
    assert unsigned.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and unsigned.subject == content_id
    assert accepted.accepted and accepted.content_versions.envelope_json
    audited = [e for e in await _exchanges_at_b(fed) if e.details.get("transaction_id") == txn.transaction_id]
    assert [(e.event, e.reason) for e in audited] == [("REFUSED", "ENVELOPE_MISSING"), ("ACCEPTED", "")]
    assert _heads(fed, "instance-b", content_id) == heads
