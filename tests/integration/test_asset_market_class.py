"""RegisterAsset takes MPAI's Market Classes (MMM-TEC V2.2 ``MMM4_V22_MarketClasses``, the
``MC-*`` codes) and nothing else: an unknown class, and an MC-Service Asset without a price (its
V2.2 form requires a ServicePricingModel), are refused INVALID_ARGUMENT with their ErrorInfo reason
and nothing is stored; a registered Asset's V2.2 Item carries its MarketClass, price and
Provenance in MPAI's places."""

from __future__ import annotations

import json

import grpc
from assetflow import ALICE, GLB, register_owner
from rpcassert import refused
from sample_assets import BOX, needs_samples

from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.cli.inprocess import Federation
from mmmfed.items import domain_doc

pytestmark = needs_samples


async def test_register_asset_takes_mpai_market_classes_only(federation: Federation) -> None:
    """MMM-TEC V2.2 Market Classes: "collectible" (a CLI word, not a code) is INVALID_ARGUMENT
    MARKET_CLASS_UNKNOWN naming it; MC-Service without a price is ASSET_PRICE_MISSING; the ledger
    is unchanged. MC-Service with a price is registered, its V2.2 Item naming the class, the price
    (VM-ListPrice, a OneTime ServicePricingModel) and its registration Transaction (Provenance)."""
    fed = federation
    assert fed.at_a is not None
    await register_owner(fed, ALICE)
    before = await fed.at_a.instance.GetLedger(apb.GetLedgerRequest())
    box = BOX.read_bytes()

    def request(market_class: str, price: int = 0) -> apb.RegisterAssetRequest:
        value = papb.Value(amount_minor=price, currency_id="ACU") if price else None
        return apb.RegisterAssetRequest(
            owner_process_id=ALICE, format=GLB, data=box, market_class=market_class, price=value
        )

    for market_class, reason in (("collectible", "MARKET_CLASS_UNKNOWN"), ("MC-Service", "ASSET_PRICE_MISSING")):
        call = fed.at_a.instance.RegisterAsset(request(market_class))
        await refused(
            call, grpc.StatusCode.INVALID_ARGUMENT, reason, repr(market_class) if "UNKNOWN" in reason else "price"
        )
    assert await fed.at_a.instance.GetLedger(apb.GetLedgerRequest()) == before

    view = await fed.at_a.instance.RegisterAsset(request("MC-Service", price=250))
    wire = json.loads(view.asset.item_json)
    doc = domain_doc(view.asset.item_json)
    assert (wire["Header"], wire["MarketClass"], wire["ValueMetadata"]) == (
        "MMM-ASS-V2.2",
        "MC-Service",
        ["VM-ListPrice"],
    )
    assert wire["ServicePricingModel"]["OneTime"] == {"Price": 250}
    (event,) = wire["Provenance"]["ProvenanceData"]
    assert (event["EventType"], event["TransactionID"]) == ("transaction", doc["Provenance"][0])
    assert doc["ValueMetadata"] == {"Price": {"Amount": 250, "CurrencyID": "ACU"}}
