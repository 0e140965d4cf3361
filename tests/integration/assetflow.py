"""Asset migration (FGMV-43 9.2) helpers shared by the integration tests: register an Asset at
a.example, transfer it to bob at b.example, read both ledgers, and build offers and decisions as
a.example's instance would journal them (to hand to a gateway directly)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sample_assets import BOX

from instance.assets import offers
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import Federation
from mmmfed.items import domain_doc

A, B = "a.example", "b.example"
ALICE = "mmm://a.example/processes/user/alice"
BOB = "mmm://b.example/processes/user/bob"
GLB = "glTF/2.0-binary"


async def negotiate_a_with_b(fed: Federation) -> None:
    assert fed.at_a is not None and fed.at_b is not None
    await fed.at_a.negotiate(B)


async def register_owner(fed: Federation, process_id: str) -> None:
    """Make ``process_id`` a registered Process of its M-Instance (the Register Process Action),
    so it can Transact its Assets; once is enough."""
    client = fed.at_a if process_id.startswith(f"mmm://{A}/") else fed.at_b
    assert client is not None
    response = await client.register_process(process_id)
    status = response.pa_status
    assert status.ack or status.error.code == papb.PA_ERROR_CODE_CLASH, status  # Clash: registered already


async def register_asset(
    fed: Federation, *, owner: str = ALICE, fmt: str = GLB, data: bytes | None = None, media_type: str = ""
) -> str:
    """Register an Asset of ``owner`` at a.example (registering ``owner`` as a Process first);
    ``data`` must be a file of ``fmt`` (BoxTextured.glb by default); ``media_type`` "": the
    format's own."""
    assert fed.at_a is not None
    await register_owner(fed, owner)
    view = await fed.at_a.instance.RegisterAsset(
        apb.RegisterAssetRequest(
            owner_process_id=owner,
            format=fmt,
            media_type=media_type,
            data=BOX.read_bytes() if data is None else data,
            market_class="MC-DigitalCollectible",
            title="BoxTextured",
        )
    )
    return str(domain_doc(view.asset.item_json)["AssetID"])


async def wait_terminal(fed: Federation, transfer_id: str, timeout_s: float = 20.0) -> apb.AssetTransferView:
    assert fed.at_a is not None
    deadline = time.monotonic() + timeout_s
    while True:
        view = await fed.at_a.instance.GetAssetTransfer(apb.GetAssetTransferRequest(transfer_id=transfer_id))
        if view.terminal or time.monotonic() > deadline:
            return view
        await asyncio.sleep(0.05)


async def read_ledgers(fed: Federation) -> tuple[apb.Ledger, apb.Ledger]:
    assert fed.at_a is not None and fed.at_b is not None
    return (
        await fed.at_a.instance.GetLedger(apb.GetLedgerRequest()),
        await fed.at_b.instance.GetLedger(apb.GetLedgerRequest()),
    )


def wallet_balances(ledger: apb.Ledger) -> dict[str, int]:
    return {w.holder: w.balance.amount_minor for w in ledger.wallets}


async def audit_events(fed: Federation, node: str, event: str) -> list[Any]:
    return [e for e in await fed.nodes[node].audit.entries(limit=10_000) if e.event == event]


async def start_transfer(fed: Federation, asset_id: str, **fields: Any) -> apb.AssetTransferView:
    assert fed.at_a is not None
    request = apb.TransferAssetRequest(asset_id=asset_id, source_process_id=ALICE, destination_process_id=BOB)
    for key, value in fields.items():
        setattr(request, key, value)
    return await fed.at_a.instance.TransferAsset(request)


def make_offer(fed: Federation, view: apb.AssetView, data: bytes, transfer_id: str, **changes: Any) -> apb.AssetOffer:
    offer = apb.AssetOffer(
        transfer_id=transfer_id,
        source_process_id=ALICE,
        destination_process_id=BOB,
        asset=view.asset,
        asset_data=data,
        expires_at_ms=int(time.time() * 1000) + 60_000,
    )
    for key, value in changes.items():
        setattr(offer, key, value)
    offer.content_digest = offers.content_digest(offer)
    return offer


def make_decision(offer: apb.AssetOffer, kind: int) -> apb.AssetDecision:
    decision = apb.AssetDecision(
        transfer_id=offer.transfer_id, decision=kind, content_digest=offer.content_digest, destination_m_instance_id=B
    )
    if kind == apb.ASSET_DECISION_KIND_COMMIT:
        tra = offers.transaction_item(
            m_instance_id=A,
            transaction_id=offers.transaction_id(A, offer.transfer_id),
            payer_process_id=ALICE,
            payee_process_id=BOB,
            value=(0, "ACU"),
            status="Final",
            transfer_id=offer.transfer_id,
        )
        decision.transaction.item_json = tra.raw
    return decision
