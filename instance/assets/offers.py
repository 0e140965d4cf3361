"""What both sides of an asset transfer compute alike (FGMV-43 9.2): the content digest that a
transfer id names, the Transaction id, and the Asset and Transaction Items.

The content digest is the sha-256 (hex) of the JCS of the offer's content: transfer id, the two
Processes, the Asset's ItemID and data digest, the exchange record and the expiry. It leaves out
the Item's proofs (the origin's gateway adds one) and reads the origin's Item even when a bridge
converted it on the way (:func:`origin_item`), so the origin's instance and the destination
compute the same digest; the Items themselves are bound by the origin's and the bridge's
signatures.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import rfc8785

from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.exchange import Exchanged
from mmmfed.items import DataBinding, Item, build_item, item_of, item_of_wire, now_iso, parse_item, sha256_hex
from mmmfed.market import check_market_class

ASSET_RIGHTS = ("Transact", "MM-Add", "Author")
"""The Rights an Asset's owner holds on it (ICapabilities): Transact is the Right to transfer."""


def content_digest(offer: apb.AssetOffer) -> str:
    """sha-256 hex of the JCS of the offer's content (see the module doc). Raises InvalidInput
    (the ``JSON_*`` reasons, ``ITEM_MALFORMED``) when the carried Asset Item does not parse."""
    item = origin_item(parse_item(offer.asset.item_json))
    binding = item.data
    ex = offer.exchange
    content: dict[str, Any] = {
        "TransferID": offer.transfer_id,
        "SourceProcessID": offer.source_process_id,
        "DestinationProcessID": offer.destination_process_id,
        "AssetID": item.item_id,
        "DataSHA256": binding.sha256 if binding is not None else "",
        "Exchange": [
            ex.paid.amount_minor,
            ex.paid.currency_id,
            ex.fee.amount_minor,
            ex.received.amount_minor,
            ex.received.currency_id,
            ex.rate,
            ex.rounding,
        ],
        "ExpiresAtMs": offer.expires_at_ms,
    }
    return sha256_hex(rfc8785.dumps(content))


def origin_item(item: Item) -> Item:
    """The origin's Asset Item: ``item`` itself, or the original a bridge's conversion embeds."""
    source = item.doc.get("SourceItem")
    if isinstance(source, Mapping):
        return item_of_wire(source)  # the domain's SourceItem is the original's V2.2 form
    return item


def transaction_id(origin_m_instance_id: str, transfer_id: str) -> str:
    """The TransactionID of a transfer, the same on both sides: ``mmm://<origin>/transactions/<uuid5>``."""
    return f"mmm://{origin_m_instance_id}/transactions/{uuid.uuid5(uuid.NAMESPACE_URL, transfer_id)}"


def exchange_record(done: Exchanged | None) -> apb.ExchangeRecord:
    """The wire record of an exchange (an empty record for a transfer without payment)."""
    if done is None:
        return apb.ExchangeRecord()
    p = done.policy
    return apb.ExchangeRecord(
        paid=papb.Value(amount_minor=done.paid, currency_id=p.from_currency),
        fee=papb.Value(amount_minor=done.fee, currency_id=p.from_currency),
        received=papb.Value(amount_minor=done.received, currency_id=p.to_currency),
        rate=str(p.rate),
        rounding=p.rounding,
        policy_source=p.source,
    )


def exchange_doc(record: apb.ExchangeRecord) -> dict[str, Any]:
    """The record as the Transaction Item's ``Exchange`` object (integers, no floats)."""
    return {
        "Paid": {"Amount": record.paid.amount_minor, "CurrencyID": record.paid.currency_id},
        "Fee": {"Amount": record.fee.amount_minor, "CurrencyID": record.fee.currency_id},
        "Received": {"Amount": record.received.amount_minor, "CurrencyID": record.received.currency_id},
        "Rate": record.rate,
        "Rounding": record.rounding,
        "PolicySource": record.policy_source,
    }


def asset_item(
    *,
    m_instance_id: str,
    asset_id: str,
    owner_process_id: str,
    qualifier: Mapping[str, Any],
    data: DataBinding | None,
    currency_id: str,
    provenance: Sequence[str],
    source_item_id: str | None = None,
    trace: list[Mapping[str, Any]] | None = None,
    market_class: str = "",
    value_metadata: Mapping[str, Any] | None = None,
    descr: Mapping[str, Any] | None = None,
) -> Item:
    """An ASS Item (MMM-TEC Asset): the owner holds :data:`ASSET_RIGHTS` in its ICapabilities.
    ``market_class`` is one of MPAI's MC-* codes or "" (InvalidInput ``MARKET_CLASS_UNKNOWN``);
    ``value_metadata`` is ``{"Price": {"Amount", "CurrencyID"}}`` or None; ``provenance`` the
    TransactionIDs on the Asset, registration first."""
    extra: dict[str, Any] = {
        "AssetID": asset_id,
        "AssetDate": now_iso(),
        "OwnerProcessID": owner_process_id,
        "Provenance": list(provenance),
        "CurrencyID": currency_id,
    }
    if check_market_class(market_class):
        extra["MarketClass"] = market_class
    if value_metadata:
        extra["ValueMetadata"] = dict(value_metadata)
    return build_item(
        m_instance_id=m_instance_id,
        item_id=asset_id,
        item_type="ASS",
        qualifier=qualifier,
        data=data,
        producer_process_id=owner_process_id,
        source_item_id=source_item_id,
        capabilities=[{"ProcessID": owner_process_id, "Rights": list(ASSET_RIGHTS)}],
        descr=descr,
        extra=extra,
        trace=trace,
    )


def with_provenance(item: Item, transaction_ids: Sequence[str]) -> Item:
    """``item`` (an unsigned ASS Item) with ``transaction_ids`` appended to its Provenance."""
    doc = dict(item.doc)
    doc["Provenance"] = [
        *doc.get("Provenance", []),
        *[t for t in transaction_ids if t not in doc.get("Provenance", [])],
    ]
    return item_of(doc)


def transaction_item(
    *,
    m_instance_id: str,
    transaction_id: str,
    payer_process_id: str,
    payee_process_id: str,
    value: tuple[int, str],
    status: str,
    asset_id: str | None = None,
    destination_asset_id: str | None = None,
    transfer_id: str | None = None,
    exchange: apb.ExchangeRecord | None = None,
) -> Item:
    """A TRA Item (MMM-TEC Transaction) with ``Status`` one of Model, Pending, Final, Rejected,
    Failed, Cancelled; ``value`` is (amount in minor units, CurrencyID)."""
    extra: dict[str, Any] = {
        "TransactionID": transaction_id,
        "PayerProcessID": payer_process_id,
        "PayeeProcessID": payee_process_id,
        "Value": {"Amount": value[0], "CurrencyID": value[1]},
        "Status": status,
        "Time": now_iso(),
    }
    payee_instance = payee_process_id.split("/")[2] if payee_process_id.startswith("mmm://") else ""
    if payee_instance and payee_instance != m_instance_id:
        extra["PayeeMInstanceID"] = payee_instance
    if asset_id:
        extra["AssetID"] = asset_id
    if destination_asset_id:
        extra["DestinationAssetID"] = destination_asset_id
    if transfer_id:
        extra["TransferID"] = transfer_id
    if exchange is not None and exchange.paid.amount_minor:
        extra["Exchange"] = exchange_doc(exchange)
    return build_item(
        m_instance_id=m_instance_id,
        item_id=transaction_id,
        item_type="TRA",
        qualifier={"SubType": "Transaction"},
        producer_process_id=payer_process_id,
        extra=extra,
    )
