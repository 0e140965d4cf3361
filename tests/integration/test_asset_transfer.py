"""Asset migration, FGMV-43 9.2, over real gRPC and mTLS between two M-Instances and their gateways:
the flow with and without currency exchange (ASEF), duplicate and reordered messages, expiry,
and refusals that change nothing (ASIR-001, ASIR-103, ASIR-105)."""

from __future__ import annotations

import asyncio
import json
import time

import grpc
import pytest
from assetflow import (
    ALICE,
    BOB,
    GLB,
    audit_events,
    make_decision,
    make_offer,
    negotiate_a_with_b,
    read_ledgers,
    register_asset,
    register_owner,
    start_transfer,
    wait_terminal,
    wallet_balances,
)
from rpcassert import refused
from sample_assets import BOX, SPHERE, VRM1, needs_samples, usdz_package

from gateway.assets import ASSET_COMMITTED
from gateway.node import GatewayNode
from instance.assets import offers
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import Federation
from mmmfed.errors import RemoteError
from mmmfed.items import domain_doc, parse_item
from mmmfed.proofs import verify_document

pytestmark = [needs_samples]
A, B = "a.example", "b.example"
CAROL = "mmm://a.example/processes/user/carol"


async def test_asset_migrates_with_one_owner_of_record_and_shared_provenance(federation: Federation) -> None:
    """9.2 steps 2-9 without a payment: the Asset is MIGRATED at a.example with a pointer to its new
    home, OWNED by bob at b.example (SourceItemID = the home AssetID), and the same Transaction,
    signed by a.example, closes the Provenance on both sides; each gateway audits the commit once;
    the history at the peer can be asked through the gateway (ASIR-103)."""
    fed = federation
    await negotiate_a_with_b(fed)
    asset_id = await register_asset(fed)
    begun = await start_transfer(fed, asset_id)
    assert begun.state == "PENDING"
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.transaction_status, done.terminal) == ("COMPLETED", "Final", True)

    ledger_a, ledger_b = await read_ledgers(fed)
    (home,) = ledger_a.assets
    (moved,) = ledger_b.assets
    moved_doc = domain_doc(moved.asset.item_json)
    assert (home.state, home.owner_process_id, home.migrated_to) == ("MIGRATED", "", done.destination_asset_id)
    assert (moved.state, moved.owner_process_id) == ("OWNED", BOB)
    assert moved_doc["AssetID"] == done.destination_asset_id and moved_doc["SourceItemID"] == asset_id
    assert moved_doc["ICapabilities"] == [{"ProcessID": BOB, "Rights": list(offers.ASSET_RIGHTS)}]

    assert fed.at_a is not None and fed.at_b is not None
    history_a = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    history_b = await fed.at_b.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=done.destination_asset_id))
    assert history_a.provenance[-1].item_json == history_b.provenance[-1].item_json
    tra = parse_item(history_b.provenance[-1].item_json)
    assert (tra.doc["TransactionID"], tra.doc["Status"]) == (offers.transaction_id(A, begun.transfer_id), "Final")
    assert (tra.doc["PayerProcessID"], tra.doc["PayeeProcessID"], tra.doc["AssetID"]) == (ALICE, BOB, asset_id)
    keys = fed.nodes["gateway-a"].keys
    record = keys.current()[0]
    proof = verify_document(tra.wire, resolve_key={keys.method(record): record.public_key}.__getitem__)
    assert proof.verified  # signed by a.example's key (b.example's gateway verified it before storing)
    # the home Provenance: the registration (first), then the transfer (last), on both sides
    assert domain_doc(history_a.asset.asset.item_json)["Provenance"] == moved_doc["Provenance"]
    assert moved_doc["Provenance"][-1] == tra.doc["TransactionID"] and len(moved_doc["Provenance"]) == 2

    for node in ("gateway-a", "gateway-b"):
        assert [e.subject for e in await audit_events(fed, node, ASSET_COMMITTED)] == [begun.transfer_id]
    remote = await fed.at_a.gateway.GetPeerAssetHistory(
        gpb.PeerAssetHistoryRequest(peer_m_instance_id=B, asset_id=done.destination_asset_id)
    )
    assert (
        remote.asset.owner_process_id == BOB and remote.provenance[-1].item_json == history_b.provenance[-1].item_json
    )


async def test_payment_is_exchanged_and_value_is_conserved(federation: Federation) -> None:
    """9.2 steps 3, 5 (ASEF): 1001 ACU paid; the 50 bp fee is rounded up (6), 995 ACU are exchanged
    at 3/2 = 1492.5, rounded half to even: 1492 BCU. Every M-Instance's ledger still sums to 0, and
    the Transaction records the exchange."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=5000))
    begun = await start_transfer(fed, asset_id, payment_amount=1001)
    assert begun.exchange.fee.amount_minor == 6 and begun.exchange.received.amount_minor == 1492
    done = await wait_terminal(fed, begun.transfer_id)
    assert done.state == "COMPLETED"
    ledger_a, ledger_b = await read_ledgers(fed)
    a, b = wallet_balances(ledger_a), wallet_balances(ledger_b)
    assert a == {"treasury": -5000, ALICE: 3999, "escrow": 0, "exchange-fees": 6, "settlement:b.example": 995}
    assert b == {BOB: 1492, "settlement:a.example": -1492}
    assert sum(a.values()) == 0 and sum(b.values()) == 0
    history = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    tra = parse_item(history.provenance[-1].item_json)
    assert tra.doc["Value"] == {"Amount": 1001, "CurrencyID": "ACU"}
    assert tra.doc["Exchange"]["Received"] == {"Amount": 1492, "CurrencyID": "BCU"}
    assert tra.doc["Exchange"]["Rate"] == "3/2" and tra.doc["Exchange"]["Fee"]["Amount"] == 6


async def test_transfer_id_is_idempotent_and_reuse_with_other_content_is_refused(federation: Federation) -> None:
    """The same transfer id and request return the same transfer (no second lock or payment);
    the same id for another request is ALREADY_EXISTS TRANSFER_ID_REUSED and changes nothing."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=100))
    first = await start_transfer(fed, asset_id, transfer_id="urn:test:once", payment_amount=100)
    again = await start_transfer(fed, asset_id, transfer_id="urn:test:once", payment_amount=100)
    assert again.transfer_id == first.transfer_id == "urn:test:once"
    await wait_terminal(fed, "urn:test:once")
    before = await read_ledgers(fed)
    await refused(
        start_transfer(fed, asset_id, transfer_id="urn:test:once", payment_amount=99),
        grpc.StatusCode.ALREADY_EXISTS,
        "TRANSFER_ID_REUSED",
    )
    assert await read_ledgers(fed) == before
    assert wallet_balances(before[0])[ALICE] == 0  # paid once


async def test_refusals_change_nothing(federation: Federation) -> None:
    """A Process without the Transact Right (PERMISSION_DENIED NO_TRANSACT_RIGHT), a payment
    beyond the Wallet (INSUFFICIENT_FUNDS), an unknown Asset, a local destination: each refused
    with its status and the ledgers unchanged."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    await register_owner(fed, CAROL)  # a registered Process, without a Right on the Asset
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=10))
    before = await read_ledgers(fed)
    stub = fed.at_a.instance
    await refused(
        stub.TransferAsset(
            apb.TransferAssetRequest(asset_id=asset_id, source_process_id=CAROL, destination_process_id=BOB)
        ),
        grpc.StatusCode.PERMISSION_DENIED,
        "NO_TRANSACT_RIGHT",
        CAROL,
    )
    await refused(
        start_transfer(fed, asset_id, payment_amount=11), grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_FUNDS"
    )
    await refused(start_transfer(fed, "mmm://a.example/assets/none"), grpc.StatusCode.NOT_FOUND, "ASSET_NOT_FOUND")
    await refused(
        stub.TransferAsset(
            apb.TransferAssetRequest(asset_id=asset_id, source_process_id=ALICE, destination_process_id=CAROL)
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_PROCESS_ID",
    )
    assert await read_ledgers(fed) == before


async def test_locked_asset_refused_then_expiry_unlocks_and_refunds(federation: Federation) -> None:
    """With b.example's gateway down, a transfer stays PENDING (retried with backoff) and the Asset
    is LOCKED: a second transfer is FAILED_PRECONDITION ASSET_LOCKED. When the transfer expires it
    is aborted: unlocked, payment refunded, Transaction Failed; once b.example is back it
    acknowledges the abort and the transfer is terminal (FAILED)."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=50))
    await fed.nodes["gateway-b"].stop()
    begun = await start_transfer(fed, asset_id, payment_amount=50, timeout_ms=1500)
    ledger_a, _ = await read_ledgers(fed)
    assert ledger_a.assets[0].state == "LOCKED" and wallet_balances(ledger_a)["escrow"] == 50
    await refused(start_transfer(fed, asset_id), grpc.StatusCode.FAILED_PRECONDITION, "ASSET_LOCKED", begun.transfer_id)

    await asyncio.sleep(2.0)
    aborting = await fed.at_a.instance.GetAssetTransfer(apb.GetAssetTransferRequest(transfer_id=begun.transfer_id))
    assert (aborting.state, aborting.transaction_status, aborting.reason) == ("ABORTING", "Failed", "TRANSFER_EXPIRED")
    ledger_a, _ = await read_ledgers(fed)
    assert ledger_a.assets[0].state == "OWNED" and wallet_balances(ledger_a)[ALICE] == 50

    fed.nodes["gateway-b"] = GatewayNode(fed.plan.gateway_b)
    await fed.nodes["gateway-b"].start()
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.terminal) == ("FAILED", True)
    _, ledger_b = await read_ledgers(fed)
    assert [(t.state, t.reason) for t in ledger_b.transfers] == [("ABORTED", "ABORTED_BEFORE_STAGED")]
    assert not ledger_b.assets


async def test_destination_refuses_asset_type(federation: Federation) -> None:
    """b.example accepts Assets only as glTF binary: a USDZ Asset is refused at staging
    (QUALIFIER_NOT_SUPPORTED); the origin records the reason, the Transaction is Rejected, and
    the Asset is its owner's again, with nothing at b.example."""
    fed = federation
    await negotiate_a_with_b(fed)
    asset_id = await register_asset(fed, fmt="USDZ/1.0", data=usdz_package())
    begun = await start_transfer(fed, asset_id)
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.transaction_status, done.reason) == ("CANCELLED", "Rejected", "QUALIFIER_NOT_SUPPORTED")
    ledger_a, ledger_b = await read_ledgers(fed)
    assert (ledger_a.assets[0].state, ledger_a.assets[0].owner_process_id) == ("OWNED", ALICE)
    assert not ledger_b.assets
    assert await audit_events(fed, "gateway-b", ASSET_COMMITTED) == []


async def test_asset_in_a_qualifier_the_destination_lacks_goes_through_the_bridge(federation: Federation) -> None:
    """b.example accepts Assets only as glTF binary; a VRM Asset travels through the bridge's
    Conversion Service (the answer row is VIA_BRIDGE). b.example verifies the bridge's signature
    over a.example's signed original, and owns a glTF binary Asset whose SourceItemID is the home
    AssetID; the offer's content digest still names the original, so the transfer completes. An
    Asset the bridge refuses to convert (its glTF does not validate) is Rejected with the bridge's
    reason and stays its owner's."""
    fed = federation
    await negotiate_a_with_b(fed)
    asset_id = await register_asset(fed, fmt="VRM/1.0", data=VRM1.read_bytes())
    begun = await start_transfer(fed, asset_id)
    done = await wait_terminal(fed, begun.transfer_id, timeout_s=60)
    assert (done.state, done.reason) == ("COMPLETED", "")
    _, ledger_b = await read_ledgers(fed)
    (moved,) = ledger_b.assets
    doc = domain_doc(moved.asset.item_json)
    assert doc["ItemQualifier"]["Format"] == GLB and doc["SourceItemID"] == asset_id
    assert doc["DescrMetadata"]["ConvertedBy"] == "bridge.example"
    assert fed.at_b is not None
    history = await fed.at_b.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=doc["AssetID"]))
    assert history.asset.owner_process_id == BOB and len(history.provenance) == 1
    data = fed.nodes["instance-b"].ledger.asset_data(doc["AssetID"])
    assert data[:4] == b"glTF" and len(data) == doc["ItemData"]["Size"]

    refused_id = await register_asset(fed, owner=CAROL, fmt="VRM/0.x", data=SPHERE.read_bytes())
    assert fed.at_a is not None
    begun = await fed.at_a.instance.TransferAsset(
        apb.TransferAssetRequest(asset_id=refused_id, source_process_id=CAROL, destination_process_id=BOB)
    )
    done = await wait_terminal(fed, begun.transfer_id, timeout_s=60)
    assert (done.state, done.transaction_status, done.reason) == ("CANCELLED", "Rejected", "GLTF_VALIDATION_FAILED")
    ledger_a, ledger_b = await read_ledgers(fed)
    assert [(a.state, a.owner_process_id) for a in ledger_a.assets if a.owner_process_id == CAROL] == [("OWNED", CAROL)]
    assert len(ledger_b.assets) == 1  # the converted one only


async def test_duplicate_and_reordered_messages_are_harmless(federation: Federation) -> None:
    """RE-1 messages signed and sent as a.example's gateway does once its journal check passed
    (``_forward_*``, the destination's view of a correct origin): a repeated offer is answered from the
    journal (duplicate, nothing staged twice); a repeated COMMIT credits and audits once; an ABORT
    that overtakes its offer leaves a tombstone, so the late offer is answered ABORTED; a COMMIT
    for a transfer never staged is FAILED_PRECONDITION TRANSFER_UNKNOWN; an offer reusing a
    transfer id for other content is ALREADY_EXISTS TRANSFER_ID_REUSED."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    relay = fed.nodes["gateway-a"].assets
    asset_id = await register_asset(fed)
    view = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    data = BOX.read_bytes()

    offer = make_offer(fed, view.asset, data, "urn:test:dup")
    first = await relay._forward_offer(offer)
    second = await relay._forward_offer(offer)
    assert (first.state, first.duplicate, second.state, second.duplicate) == ("STAGED", False, "STAGED", True)
    assert second.destination_asset_id == first.destination_asset_id
    commit = make_decision(offer, apb.ASSET_DECISION_KIND_COMMIT)
    one, two = await relay._forward_decision(commit), await relay._forward_decision(commit)
    assert (one.state, one.duplicate, two.state, two.duplicate) == ("COMMITTED", False, "COMMITTED", True)
    assert one.transaction.item_json == two.transaction.item_json
    _, ledger_b = await read_ledgers(fed)
    assert [a.owner_process_id for a in ledger_b.assets] == [BOB]
    assert [e.subject for e in await audit_events(fed, "gateway-b", ASSET_COMMITTED)] == ["urn:test:dup"]
    assert (await relay._forward_offer(offer)).state == "COMMITTED"  # a late duplicate offer

    late = make_offer(fed, view.asset, data, "urn:test:late")
    ack = await relay._forward_decision(make_decision(late, apb.ASSET_DECISION_KIND_ABORT))
    assert ack.state == "ABORTED"
    assert (await relay._forward_offer(late)).state == "ABORTED"
    with pytest.raises(RemoteError) as caught:
        await relay._forward_decision(
            make_decision(make_offer(fed, view.asset, data, "urn:test:never"), apb.ASSET_DECISION_KIND_COMMIT)
        )
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "TRANSFER_UNKNOWN")
    with pytest.raises(RemoteError) as caught:
        reused = make_offer(fed, view.asset, data, "urn:test:dup", expires_at_ms=int(time.time() * 1000) + 5)
        await relay._forward_offer(reused)
    assert (caught.value.code, caught.value.reason) == (grpc.StatusCode.ALREADY_EXISTS, "TRANSFER_ID_REUSED")
    _, after = await read_ledgers(fed)
    assert [a.owner_process_id for a in after.assets] == [BOB]


async def test_tampered_offer_is_refused(federation: Federation) -> None:
    """Data that does not match the Asset's ItemData digest is DATA_LOSS DIGEST_MISMATCH; an
    expired offer FAILED_PRECONDITION TRANSFER_EXPIRED; nothing is staged."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    relay = fed.nodes["gateway-a"].assets
    asset_id = await register_asset(fed)
    view = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    data = BOX.read_bytes()
    for offer, code, reason in (
        (
            make_offer(fed, view.asset, data[:-1] + b"x", "urn:test:tampered"),
            grpc.StatusCode.DATA_LOSS,
            "DIGEST_MISMATCH",
        ),
        (
            make_offer(fed, view.asset, data, "urn:test:expired", expires_at_ms=int(time.time() * 1000) - 1),
            grpc.StatusCode.FAILED_PRECONDITION,
            "TRANSFER_EXPIRED",
        ),
    ):
        with pytest.raises(RemoteError) as caught:
            await relay._forward_offer(offer)
        assert (caught.value.code, caught.value.reason) == (code, reason)
    _, ledger_b = await read_ledgers(fed)
    assert not ledger_b.transfers and not ledger_b.assets


async def test_operator_cancels_an_undecided_transfer_with_its_refund(federation: Federation) -> None:
    """FGMV-43 9.2 step 7, an operator's ABORT (CancelAssetTransfer): a transfer stuck PENDING
    (b.example's gateway is down) ends as the Asset Transfer Service's abort: the Asset is alice's
    again and the payment refunded at once; a second cancel is FAILED_PRECONDITION
    TRANSFER_DECIDED; both decisions are Activity Data of a.example."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=500))
    await fed.nodes["gateway-b"].stop()
    begun = await start_transfer(fed, asset_id, payment_amount=300, timeout_ms=60_000, transfer_id="urn:t:cancel")
    assert begun.state == "PENDING"
    cancelled = await fed.at_a.instance.CancelAssetTransfer(
        apb.CancelAssetTransferRequest(transfer_id="urn:t:cancel", note="peer unreachable")
    )
    assert (cancelled.state, cancelled.reason) == ("ABORTING", "CANCELLED_BY_OPERATOR")
    assert "peer unreachable" in cancelled.message
    ledger_a, _ = await read_ledgers(fed)
    [asset] = [a for a in ledger_a.assets if domain_doc(a.asset.item_json)["AssetID"] == asset_id]
    assert (asset.state, asset.owner_process_id) == ("OWNED", ALICE)
    assert wallet_balances(ledger_a)[ALICE] == 500 and wallet_balances(ledger_a)["escrow"] == 0
    await refused(
        fed.at_a.instance.CancelAssetTransfer(apb.CancelAssetTransferRequest(transfer_id="urn:t:cancel")),
        grpc.StatusCode.FAILED_PRECONDITION,
        "TRANSFER_DECIDED",
        "ABORTING",
    )
    await refused(
        fed.at_a.instance.CancelAssetTransfer(apb.CancelAssetTransferRequest(transfer_id="urn:t:none")),
        grpc.StatusCode.NOT_FOUND,
        "TRANSFER_NOT_FOUND",
    )
    activity = await fed.at_a.instance.QueryActivity(ipb.QueryActivityRequest(item_id=asset_id))
    assert [json.loads(r)["Action"] for r in activity.records_json] == ["Transact", "Rights Manage"]
