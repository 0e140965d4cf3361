"""Issue 12 items 3 and 8 over real gRPC and mTLS (FGMV-43 9.2): a gateway signs only offers and
decisions its instance journalled, a destination credits only what the origin's published exchange
policy gives, decisions and history only for the transfer's parties, and a transfer to a peer that
is gone ends FAILED with the payment refunded."""

from __future__ import annotations

import grpc
from assetflow import (
    ALICE,
    BOB,
    make_decision,
    make_offer,
    negotiate_a_with_b,
    read_ledgers,
    register_asset,
    start_transfer,
    wait_terminal,
)
from rpcassert import refused
from sample_assets import BOX, needs_samples

from instance.assets import offers
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.errors import MmmfedError
from mmmfed.items import domain_doc
from mmmfed.tls import secure_channel

pytestmark = [needs_samples]
A, B = "a.example", "b.example"


def _as(fed: Federation, node: str) -> tuple[grpc.aio.Channel, gateway_pb2_grpc.PlatformGatewayStub]:
    """A channel to a.example's gateway with the certificate of ``node`` of the loopback plan."""
    channel = secure_channel(getattr(fed.plan, node).tls, peer(fed.plan.gateway_a))
    return channel, gateway_pb2_grpc.PlatformGatewayStub(channel)


async def _unchanged_owner(fed: Federation, asset_id: str) -> None:
    ledger_a, ledger_b = await read_ledgers(fed)
    assert [(a.state, a.owner_process_id) for a in ledger_a.assets] == [("OWNED", ALICE)]
    assert not ledger_b.assets and not ledger_b.transfers and not ledger_b.wallets
    assert [json_id(a) for a in ledger_a.assets] == [asset_id]


def json_id(view: apb.AssetView) -> str:
    return str(domain_doc(view.asset.item_json)["AssetID"])


async def test_fgmv43_9_2_gateway_refuses_unjournalled_offer(federation: Federation) -> None:
    """An offer and a COMMIT a.example never journalled: from an operator certificate or from b's
    gateway certificate PERMISSION_DENIED (only a's instance may hand them over); from a's own
    instance identity FAILED_PRECONDITION NOT_JOURNALLED. Nothing is signed or staged: a still
    owns the Asset, b has no record of it."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    view = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    offer = make_offer(fed, view.asset, BOX.read_bytes(), "urn:test:forged")
    commit = make_decision(offer, apb.ASSET_DECISION_KIND_COMMIT)

    await refused(fed.at_a.gateway.SendAssetOffer(offer), grpc.StatusCode.PERMISSION_DENIED, "NOT_OWN_INSTANCE")
    await refused(fed.at_a.gateway.SendAssetDecision(commit), grpc.StatusCode.PERMISSION_DENIED, "NOT_OWN_INSTANCE")
    channel, as_peer = _as(fed, "gateway_b")
    async with channel:
        await refused(as_peer.SendAssetOffer(offer), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
        await refused(as_peer.SendAssetDecision(commit), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
    channel, as_instance = _as(fed, "instance_a")
    async with channel:
        await refused(as_instance.SendAssetOffer(offer), grpc.StatusCode.FAILED_PRECONDITION, "NOT_JOURNALLED")
        await refused(as_instance.SendAssetDecision(commit), grpc.StatusCode.FAILED_PRECONDITION, "NOT_JOURNALLED")
    await _unchanged_owner(fed, asset_id)


async def test_fgmv43_9_2_gateway_signs_only_the_journalled_decision(federation: Federation) -> None:
    """After a completed transfer, a's own instance identity gets the journalled COMMIT signed
    again (a duplicate), but a COMMIT whose Transaction names another payee, an ABORT of the
    committed transfer, and the offer again (no longer PENDING) are NOT_JOURNALLED."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    asset_id = await register_asset(fed)
    begun = await start_transfer(fed, asset_id)
    assert (await wait_terminal(fed, begun.transfer_id)).state == "COMPLETED"
    record = fed.nodes["instance-a"].ledger.record(begun.transfer_id)
    commit = apb.AssetDecision(
        transfer_id=begun.transfer_id,
        decision=apb.ASSET_DECISION_KIND_COMMIT,
        content_digest=record.offer.content_digest,
        destination_m_instance_id=B,
    )
    commit.transaction.item_json = record.transaction_json
    forged = apb.AssetDecision()
    forged.CopyFrom(commit)
    forged.transaction.item_json = record.transaction_json.replace(BOB.encode(), b"mmm://b.example/processes/user/eve")
    abort = apb.AssetDecision()
    abort.CopyFrom(commit)
    abort.decision = apb.ASSET_DECISION_KIND_ABORT
    abort.ClearField("transaction")
    channel, as_instance = _as(fed, "instance_a")
    async with channel:
        again = await as_instance.SendAssetDecision(commit)
        assert (again.state, again.duplicate) == ("COMMITTED", True)
        for wrong in (forged, abort):
            await refused(as_instance.SendAssetDecision(wrong), grpc.StatusCode.FAILED_PRECONDITION, "NOT_JOURNALLED")
        await refused(as_instance.SendAssetOffer(record.offer), grpc.StatusCode.FAILED_PRECONDITION, "NOT_JOURNALLED")
    _, ledger_b = await read_ledgers(fed)
    assert [a.owner_process_id for a in ledger_b.assets] == [BOB]


def _paying(offer: apb.AssetOffer, *, paid: int, fee: int, received: int, rate: str = "3/2") -> apb.AssetOffer:
    offer.exchange.CopyFrom(
        apb.ExchangeRecord(
            paid=papb.Value(amount_minor=paid, currency_id="ACU"),
            fee=papb.Value(amount_minor=fee, currency_id="ACU"),
            received=papb.Value(amount_minor=received, currency_id="BCU"),
            rate=rate,
            rounding="half_even",
        )
    )
    offer.content_digest = offers.content_digest(offer)
    return offer


async def test_fgmv43_9_2_exchange_mismatch_is_refused_and_nothing_is_credited(federation: Federation) -> None:
    """Offers signed by a's gateway (as a hostile origin's would be) declaring 10^15 BCU received
    for 1 ACU paid, or another rate, are FAILED_PRECONDITION EXCHANGE_MISMATCH at b: nothing staged,
    no Wallet changed. The exchange a's published policy gives (1001 ACU: fee 6, 1492 BCU) stages."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    relay = fed.nodes["gateway-a"].assets
    asset_id = await register_asset(fed)
    view = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    data = BOX.read_bytes()
    for tid, offer in (
        ("urn:test:bomb", _paying(make_offer(fed, view.asset, data, "urn:test:bomb"), paid=1, fee=0, received=10**15)),
        (
            "urn:test:rate",
            _paying(make_offer(fed, view.asset, data, "urn:test:rate"), paid=1001, fee=6, received=2985, rate="3/1"),
        ),
    ):
        try:
            await relay._forward_offer(offer)
        except MmmfedError as err:
            assert (err.code, err.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "EXCHANGE_MISMATCH"), tid
        else:
            raise AssertionError(f"{tid} was staged")
    _, ledger_b = await read_ledgers(fed)
    assert not ledger_b.transfers and not ledger_b.assets and not ledger_b.wallets
    fair = _paying(make_offer(fed, view.asset, data, "urn:test:fair"), paid=1001, fee=6, received=1492)
    assert (await relay._forward_offer(fair)).state == "STAGED"


async def test_fgmv43_9_2_decision_only_from_the_origin(federation: Federation) -> None:
    """At b.example, a COMMIT or ABORT of a transfer a.example staged, or of one a.example
    tombstoned, is PERMISSION_DENIED ORIGIN_MISMATCH when it comes from c.example: nothing changes."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    relay = fed.nodes["gateway-a"].assets
    asset_id = await register_asset(fed)
    view = await fed.at_a.instance.AssetHistory(apb.AssetHistoryRequest(asset_id=asset_id))
    staged = make_offer(fed, view.asset, BOX.read_bytes(), "urn:test:staged")
    assert (await relay._forward_offer(staged)).state == "STAGED"
    tombstoned = make_offer(fed, view.asset, BOX.read_bytes(), "urn:test:tomb")
    assert (await relay._forward_decision(make_decision(tombstoned, apb.ASSET_DECISION_KIND_ABORT))).state == "ABORTED"
    before = await read_ledgers(fed)
    destination = fed.nodes["instance-b"].assets
    for offer in (staged, tombstoned):
        for kind in (apb.ASSET_DECISION_KIND_COMMIT, apb.ASSET_DECISION_KIND_ABORT):
            decision = make_decision(offer, kind)
            decision.origin_m_instance_id = "c.example"
            try:
                await destination.decide(decision)
            except MmmfedError as err:
                assert (err.code, err.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ORIGIN_MISMATCH")
            else:
                raise AssertionError(f"c.example decided {offer.transfer_id}")
    assert await read_ledgers(fed) == before


async def test_fgmv43_9_2_history_only_to_a_party(federation: Federation) -> None:
    """b.example answers a.example the history of an Asset it never transferred with a.example
    NOT_FOUND ASSET_NOT_FOUND, as for an Asset that does not exist (the same message shape)."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None and fed.at_b is not None
    own = await fed.at_b.instance.RegisterAsset(
        apb.RegisterAssetRequest(owner_process_id=BOB, format="glTF/2.0-binary", data=BOX.read_bytes())
    )
    own_id = json_id(own)
    missing = "mmm://b.example/assets/none"
    said = []
    for asset_id in (own_id, missing):
        request = gpb.PeerAssetHistoryRequest(peer_m_instance_id=B, asset_id=asset_id)
        err = await refused(fed.at_a.gateway.GetPeerAssetHistory(request), grpc.StatusCode.NOT_FOUND, "ASSET_NOT_FOUND")
        said.append((err.details() or "").replace(asset_id, "ID"))
    assert said == ["ASSET_NOT_FOUND: no Asset 'ID' at b.example"] * 2


async def test_fgmv43_9_2_transfer_to_a_peer_that_is_gone_ends_failed_refunded(federation: Federation) -> None:
    """Item 8: a transfer to an M-Instance not configured (c.example), to b.example once its
    gateway is removed from a's peers, and to b.example after the agreement was revoked, each
    ends FAILED (terminal) with the Asset OWNED by alice and her Wallet as it was."""
    fed = federation
    await negotiate_a_with_b(fed)
    assert fed.at_a is not None
    await fed.at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=ALICE, amount=500))

    asset_id = await register_asset(fed)
    begun = await start_transfer(fed, asset_id, destination_process_id="mmm://c.example/processes/user/carl")
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.terminal, done.reason) == ("FAILED", True, "UNKNOWN_PEER"), done

    gateway_a = fed.nodes["gateway-a"]
    b_gateway = gateway_a.channels.peers.pop(B)
    begun = await start_transfer(fed, asset_id, payment_amount=100)
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.terminal, done.reason) == ("FAILED", True, "UNKNOWN_PEER"), done
    gateway_a.channels.peers[B] = b_gateway

    await fed.at_a.gateway.RevokeAgreement(gpb.RevokePeerAgreementRequest(peer_m_instance_id=B, reason="test"))
    begun = await start_transfer(fed, asset_id, payment_amount=200)
    done = await wait_terminal(fed, begun.transfer_id)
    assert (done.state, done.terminal, done.reason) == ("FAILED", True, "AGREEMENT_REVOKED"), done

    ledger_a, ledger_b = await read_ledgers(fed)
    assert [(a.state, a.owner_process_id) for a in ledger_a.assets] == [("OWNED", ALICE)]
    balances = {w.holder: w.balance.amount_minor for w in ledger_a.wallets}
    assert (balances[ALICE], balances.get("escrow", 0)) == (500, 0)
    assert not ledger_b.assets and not ledger_b.wallets
