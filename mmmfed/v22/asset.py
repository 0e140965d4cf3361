"""The Asset (``MMM-ASS-V2.2``) field mapping of the V2.2 codec: an ASS Item's AssetDate,
CurrencyID, MarketClass, Provenance and ValueMetadata in their MMM-TEC V2.2 places
(``MMM4_V22_Asset``; docs/v22-items.md has the table).

* ``AssetDate`` -> ``AssetTime``, an OSD Time (``OSD-TIM-V1.5``) whose ``Data`` is the RFC 3339 text.
* ``MarketClass`` -> ``MarketClass``, one of MPAI's ``MC-*`` codes (:mod:`mmmfed.market`).
* ``Provenance`` (the TransactionIDs of the Transactions on the Asset, registration first) ->
  ``Provenance``, an ``MMM4_V22_Provenance`` (``MMM-PRV-V2.2``, ``ProvenanceID``
  ``<AssetID>#provenance``) with one ``transaction`` event per TransactionID, in order. The Asset
  Item names its Transactions only; their time and parties are the Transaction Items' own (TRA
  Items, the ASIR-103 history), so each event's ``Time.Data``, ``ProcessID``, ``SenderUserID`` and
  ``ReceiverUserID`` are empty strings: not stated here rather than guessed. An empty Provenance
  has no ``Provenance`` (MPAI's needs one event at least).
* ``ValueMetadata`` ``{"Price": {"Amount", "CurrencyID"}}`` -> ``ValueMetadata``
  ``["VM-ListPrice"]`` (MPAI's Value Metadata ID of a declared price) and the price itself as the
  Asset's ``ServicePricingModel`` (``MMM-SPM-V2.2``, ``SPMContext`` ``AssetPosting``, ``ModelType``
  ``OneTime``, ``OneTime.Price`` in the Currency's minor units as every mmmfed Value, the Currency in
  ``CurrencyObject``). ``{}`` -> ``[]``.

An ``MC-Service`` Asset must state its price (MPAI: an MC-Service Asset requires a
ServicePricingModel). Raises InvalidInput ``ITEM_MALFORMED`` naming the field for what has no such
form (a MarketClass that is not an MC code, another ValueMetadata, an event of another kind).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from mmmfed.errors import InvalidInput
from mmmfed.market import MARKET_CLASSES, SERVICE
from mmmfed.v22.datatype import need, take

Doc = dict[str, Any]
PROVENANCE_HEADER: Final = "MMM-PRV-V2.2"
PRICING_HEADER: Final = "MMM-SPM-V2.2"
TIME_HEADER: Final = "OSD-TIM-V1.5"
LIST_PRICE: Final = "VM-ListPrice"


def _malformed(message: str) -> InvalidInput:
    return InvalidInput(message, reason="ITEM_MALFORMED")


def provenance_doc(asset_id: str, m_instance_id: str, transaction_ids: Sequence[str]) -> Doc:
    """The ``MMM4_V22_Provenance`` of an Asset whose Transactions are ``transaction_ids`` (oldest first)."""
    events = [
        {
            "EventID": f"{asset_id}#provenance/{n}",
            "EventType": "transaction",
            "Time": {"Header": TIME_HEADER, "TimeID": f"{tid}#time", "Data": ""},
            "ProcessID": "",
            "TransactionID": tid,
            "ItemID": asset_id,
            "SenderUserID": "",
            "ReceiverUserID": "",
        }
        for n, tid in enumerate(transaction_ids)
    ]
    return {
        "Header": PROVENANCE_HEADER,
        "MInstanceID": m_instance_id,
        "ProvenanceID": f"{asset_id}#provenance",
        "AssetID": asset_id,
        "ProvenanceData": events,
    }


def transaction_ids_of(provenance: object, asset_id: str) -> list[str]:
    """The TransactionIDs of an Asset's ``MMM4_V22_Provenance``, in order (its other event fields
    are the Transaction Items' and are not kept)."""
    if not isinstance(provenance, Mapping) or provenance.get("AssetID") != asset_id:
        raise _malformed("an Asset's Provenance is a Provenance of that Asset (AssetID)")
    events = provenance.get("ProvenanceData")
    if not isinstance(events, list):
        raise _malformed("an Asset's Provenance lists its events (ProvenanceData)")
    out = []
    for event in events:
        if not isinstance(event, Mapping) or event.get("EventType") != "transaction":
            raise _malformed("mmmfed reads an Asset's Provenance as transaction events only")
        tid = event.get("TransactionID")
        if not isinstance(tid, str) or event.get("ItemID") != asset_id:
            raise _malformed("a Provenance transaction event names a TransactionID on this Asset")
        out.append(tid)
    return out


def pricing_doc(asset_id: str, price: Mapping[str, Any]) -> Doc:
    """The ``ServicePricingModel`` of an Asset offered at ``price`` (``{"Amount", "CurrencyID"}``)."""
    amount, currency = price.get("Amount"), price.get("CurrencyID")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0 or not isinstance(currency, str):
        raise _malformed("ValueMetadata Price is a whole, non-negative Amount of minor units and a CurrencyID")
    return {
        "Header": PRICING_HEADER,
        "SPMID": f"{asset_id}#price",
        "SPMContext": "AssetPosting",
        "ModelType": "OneTime",
        "CurrencyObject": {"Header": "MMM-CUO-V2.2", "CurrencyData": currency},
        "OneTime": {"Price": amount},
    }


def price_of(pricing: object) -> Doc:
    """``{"Amount", "CurrencyID"}`` from a :func:`pricing_doc`."""
    one_time = pricing.get("OneTime") if isinstance(pricing, Mapping) else None
    currency_object = pricing.get("CurrencyObject") if isinstance(pricing, Mapping) else None
    amount = one_time.get("Price") if isinstance(one_time, Mapping) else None
    currency = currency_object.get("CurrencyData") if isinstance(currency_object, Mapping) else None
    whole = isinstance(amount, int) and not isinstance(amount, bool)
    if not whole or not isinstance(currency, str) or not isinstance(pricing, Mapping):
        raise _malformed("a VM-ListPrice Asset states a OneTime price of whole minor units")
    if pricing.get("ModelType") != "OneTime":
        raise _malformed("a VM-ListPrice Asset states a OneTime price of whole minor units")
    return {"Amount": amount, "CurrencyID": currency}


def asset_to(rest: Doc, ctx: Doc) -> Doc:
    """The V2.2 Asset fields of a domain ASS Item (pops what it places from ``rest``)."""
    asset_id = take(rest, "AssetID")
    out: Doc = {"AssetID": asset_id}
    out["AssetTime"] = {"Header": TIME_HEADER, "TimeID": f"{asset_id}#date", "Data": take(rest, "AssetDate")}
    out["CurrencyID"] = take(rest, "CurrencyID")
    market = rest.pop("MarketClass", None)
    if market is not None:
        if market not in MARKET_CLASSES:
            raise _malformed(f"MarketClass {str(market)[:64]!r} is not an MMM-TEC V2.2 Market Class (MC-*)")
        out["MarketClass"] = market
    transaction_ids = take(rest, "Provenance")
    if not isinstance(transaction_ids, list) or not all(isinstance(t, str) for t in transaction_ids):
        raise _malformed("an Asset's Provenance is a list of TransactionIDs")
    if transaction_ids:
        out["Provenance"] = provenance_doc(asset_id, str(ctx["MInstanceID"]), transaction_ids)
    if "ValueMetadata" in rest:
        value_metadata = rest.pop("ValueMetadata")
        if not isinstance(value_metadata, Mapping) or set(value_metadata) - {"Price"}:
            raise _malformed("an Asset's ValueMetadata holds its Price only")
        out["ValueMetadata"] = [LIST_PRICE] if "Price" in value_metadata else []
        if "Price" in value_metadata:
            out["ServicePricingModel"] = pricing_doc(asset_id, value_metadata["Price"])
    if market == SERVICE and "ServicePricingModel" not in out:
        raise _malformed("an MC-Service Asset states its price (ValueMetadata Price: MPAI's ServicePricingModel)")
    return out


def asset_of(wire: Doc, ctx: Doc) -> Doc:
    """The domain fields of a V2.2 Asset (pops what it reads from ``wire``)."""
    time = need(wire, "AssetTime")
    if not isinstance(time, dict) or not isinstance(time.get("Data"), str):
        raise _malformed("AssetTime must be an OSD Time with Data")
    asset_id = need(wire, "AssetID")
    out: Doc = {"AssetID": asset_id, "AssetDate": time["Data"], "CurrencyID": need(wire, "CurrencyID")}
    if "MarketClass" in wire:
        out["MarketClass"] = wire.pop("MarketClass")
    provenance = wire.pop("Provenance", None)
    out["Provenance"] = [] if provenance is None else transaction_ids_of(provenance, asset_id)
    if "ValueMetadata" in wire:
        ids = wire.pop("ValueMetadata")
        if ids not in ([], [LIST_PRICE]):
            raise _malformed(f"mmmfed reads an Asset's ValueMetadata as [] or [{LIST_PRICE!r}] only")
        out["ValueMetadata"] = {"Price": price_of(need(wire, "ServicePricingModel"))} if ids else {}
    return out
