"""The Asset Item (MMM-TEC V2.2 ``MMM4_V22_Asset``, Header ``MMM-ASS-V2.2``) carries its
Provenance, ValueMetadata and MarketClass in MPAI's places (mmmfed/v22/asset.py, docs/v22-items.md),
comes back from them unchanged, and refuses what has no V2.2 form; the Market Classes the domain
takes are MPAI's ``MMM4_V22_MarketClasses``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from instance.assets.offers import asset_item
from mmmfed.errors import InvalidInput
from mmmfed.items import DataBinding, Item
from mmmfed.market import MARKET_CLASS_WORDS, MARKET_CLASSES, check_market_class, market_class_of
from mmmfed.schemas import mpai
from mmmfed.v22 import decode, encode
from mmmfed.v22.conformance import check_conforms
from mmmfed.v22.parts import EXTENSION_KEY

A = "a.example"
ASSET = f"mmm://{A}/assets/box"
OWNER = f"mmm://{A}/processes/user/alice"
MINT, MOVE = f"mmm://{A}/transactions/t1", f"mmm://{A}/transactions/t2"
PRICE = {"Price": {"Amount": 700, "CurrencyID": "ACU"}}


def _asset(
    provenance: list[str] | None = None,
    market_class: str = "MC-DigitalCollectible",
    value_metadata: dict[str, Any] | None = PRICE,
) -> Item:
    return asset_item(
        m_instance_id=A,
        asset_id=ASSET,
        owner_process_id=OWNER,
        qualifier={"SubType": "Model", "Format": "glTF/2.0-binary"},
        data=DataBinding(2048, "ab" * 32, "model/gltf-binary"),
        currency_id="ACU",
        provenance=[MINT, MOVE] if provenance is None else provenance,
        market_class=market_class,
        value_metadata=value_metadata,
    )


def test_market_classes_are_mpai_v22_market_classes() -> None:
    """MMM-TEC V2.2 Market Classes: the codes the domain takes are MPAI's enum, in its order, and
    every CLI word names exactly one of them."""
    enum = mpai.bundle()["$defs"]["MMM4_V22_MarketClasses"]["enum"]
    assert list(MARKET_CLASSES) == enum
    assert sorted(MARKET_CLASS_WORDS.values()) == sorted(MARKET_CLASSES)


def test_asset_v22_form_carries_provenance_value_metadata_and_market_class_in_mpai_places() -> None:
    """MMM-TEC V2.2 Asset: MarketClass is the MC code; Provenance an MMM-PRV-V2.2 Provenance with
    one transaction event per TransactionID, registration first; ValueMetadata ["VM-ListPrice"]
    with the price as a OneTime ServicePricingModel; none of them under mmmfed:Fields."""
    doc = _asset().doc
    wire = encode(doc)
    assert check_conforms(wire) == "MMM4_V22_Asset"
    assert wire["MarketClass"] == "MC-DigitalCollectible"
    provenance = wire["Provenance"]
    assert mpai.errors("MMM4_V22_Provenance", provenance) == []
    assert (provenance["Header"], provenance["AssetID"], provenance["MInstanceID"]) == ("MMM-PRV-V2.2", ASSET, A)
    events = provenance["ProvenanceData"]
    assert [(e["EventType"], e["TransactionID"], e["ItemID"]) for e in events] == [
        ("transaction", MINT, ASSET),
        ("transaction", MOVE, ASSET),
    ]
    assert wire["ValueMetadata"] == ["VM-ListPrice"]
    pricing = wire["ServicePricingModel"]
    assert (pricing["SPMContext"], pricing["ModelType"], pricing["OneTime"]) == (
        "AssetPosting",
        "OneTime",
        {"Price": 700},
    )
    assert pricing["CurrencyObject"]["CurrencyData"] == "ACU"
    assert set(wire[EXTENSION_KEY]) == {"OwnerProcessID"}
    assert decode(wire) == doc


@pytest.mark.parametrize(
    ("provenance", "market_class", "value_metadata"),
    [([MINT], "", None), ([], "MC-Donation", None), ([MINT], "MC-Service", PRICE)],
    ids=["no-class-no-price", "empty-provenance", "service-with-price"],
)
def test_asset_round_trips_through_v22_without_optional_parts(
    provenance: list[str], market_class: str, value_metadata: dict[str, Any] | None
) -> None:
    """MMM-TEC V2.2 Asset: without a MarketClass or a price, with an empty Provenance (no
    Provenance: MPAI's needs an event), and an MC-Service Asset with its ServicePricingModel, the
    V2.2 form conforms and decodes to the same document."""
    doc = _asset(provenance, market_class, value_metadata).doc
    wire = encode(doc)
    assert check_conforms(wire) == "MMM4_V22_Asset"
    assert ("Provenance" in wire) == bool(provenance) and ("MarketClass" in wire) == bool(market_class)
    assert decode(wire) == doc


def test_empty_value_metadata_round_trips_as_no_ids() -> None:
    """MMM-TEC V2.2 Asset ValueMetadata: a domain ``{}`` is ``[]`` and comes back ``{}``."""
    doc = {**_asset(value_metadata=None).doc, "ValueMetadata": {}}
    wire = encode(doc)
    assert wire["ValueMetadata"] == [] and "ServicePricingModel" not in wire
    assert decode(wire) == doc


def test_unknown_market_class_is_refused_naming_it() -> None:
    """MMM-TEC V2.2 Market Classes: a word the CLI knows maps to its code; anything else is refused
    MARKET_CLASS_UNKNOWN, naming the value and listing the choices; the domain takes codes only."""
    assert market_class_of("collectible") == market_class_of("MC-DigitalCollectible") == "MC-DigitalCollectible"
    assert market_class_of("") == check_market_class("") == ""
    with pytest.raises(InvalidInput) as caught:
        market_class_of("rare")
    assert caught.value.reason == "MARKET_CLASS_UNKNOWN"
    assert "'rare'" in caught.value.message and "MC-DigitalCollectible (collectible)" in caught.value.message
    for refused in ("collectible", "mc-service"):
        with pytest.raises(InvalidInput) as caught:
            _asset(market_class=refused)
        assert caught.value.reason == "MARKET_CLASS_UNKNOWN" and repr(refused) in caught.value.message


def test_encode_refuses_an_asset_with_no_v22_form() -> None:
    """MMM-TEC V2.2 Asset: a free-text MarketClass (MPAI's is an enum), a ValueMetadata other than a
    Price, and an MC-Service Asset without a price (MPAI requires its ServicePricingModel) are
    ITEM_MALFORMED naming the field, not dropped."""
    doc = _asset().doc
    for changed, mention in (
        ({"MarketClass": "collectible"}, "MarketClass"),
        ({"ValueMetadata": {"Discount": 5}}, "ValueMetadata"),
        ({"MarketClass": "MC-Service", "ValueMetadata": {}}, "MC-Service"),
    ):
        with pytest.raises(InvalidInput) as caught:
            encode({**doc, **changed})
        assert caught.value.reason == "ITEM_MALFORMED" and mention in caught.value.message


def _with(wire: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    out = copy.deepcopy(wire)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "mention"),
    [
        (("Provenance", "ProvenanceData", 0, "EventType"), "create", "transaction events"),
        (("Provenance", "ProvenanceData", 1, "ItemID"), f"mmm://{A}/assets/other", "this Asset"),
        (("Provenance", "AssetID"), f"mmm://{A}/assets/other", "Provenance of that Asset"),
        (("ValueMetadata",), ["VM-Region"], "VM-ListPrice"),
        (("ServicePricingModel", "ModelType"), "Subscription", "OneTime"),
    ],
    ids=["other-event", "other-item", "other-asset", "other-value-metadata", "other-pricing"],
)
def test_decode_refuses_what_the_domain_cannot_hold(path: tuple[str | int, ...], value: object, mention: str) -> None:
    """MMM-TEC V2.2 Asset Provenance and ValueMetadata: another kind of event, an event or
    Provenance of another Item, another Value Metadata ID or pricing model is ITEM_MALFORMED."""
    wire = _with(encode(_asset().doc), path, value)
    with pytest.raises(InvalidInput) as caught:
        decode(wire)
    assert caught.value.reason == "ITEM_MALFORMED" and mention in caught.value.message
