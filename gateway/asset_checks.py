"""What a gateway checks before it signs or accepts an asset message (FGMV-43 9.2; issue 12
item 3), as pure functions over the messages.

Sending side: an offer or a decision is signed only as this M-Instance's journal holds it
(:func:`journalled_offer`, :func:`journalled_decision`), never as a caller hands it over; a
mismatch or a transfer the journal does not hold is FAILED_PRECONDITION ``NOT_JOURNALLED``.
Receiving side: an offer's exchange must be what the origin's published policy
``asset.exchange.<destination>`` gives for the amount paid (:func:`check_exchange`), else
FAILED_PRECONDITION ``EXCHANGE_MISMATCH``.
"""

from __future__ import annotations

from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.errors import FailedPrecondition, InvalidInput
from mmmfed.exchange import ExchangePolicy, exchange

NOT_JOURNALLED = "NOT_JOURNALLED"
EXCHANGE_MISMATCH = "EXCHANGE_MISMATCH"
# Origin journal states in which each kind of message is the journalled one.
_OFFER_STATES = frozenset({"PENDING"})
_DECISION_STATES = {
    "COMMIT": frozenset({"COMMITTED", "COMPLETED"}),
    "ABORT": frozenset({"ABORTING", "CANCELLED", "FAILED"}),
}


def _bare(offer: apb.AssetOffer) -> bytes:
    out = apb.AssetOffer()
    out.CopyFrom(offer)
    out.ClearField("envelope_json")
    out.ClearField("origin_m_instance_id")
    return out.SerializeToString(deterministic=True)


def journalled_offer(asked: apb.AssetOffer, record: apb.AssetTransferRecord) -> apb.AssetOffer:
    """The offer to sign: the journalled one, when ``asked`` is exactly it and the transfer is
    still PENDING. FailedPrecondition ``NOT_JOURNALLED`` otherwise."""
    if record.view.state not in _OFFER_STATES:
        raise FailedPrecondition(
            f"transfer {asked.transfer_id[:256]} is {record.view.state} here: no offer to sign", reason=NOT_JOURNALLED
        )
    if _bare(asked) != _bare(record.offer):
        raise FailedPrecondition(
            f"the offer of transfer {asked.transfer_id[:256]} is not the one journalled", reason=NOT_JOURNALLED
        )
    return record.offer


def journalled_decision(asked: apb.AssetDecision, kind: str, record: apb.AssetTransferRecord) -> apb.AssetDecision:
    """The decision to sign: built from the journal (kind by its state, content digest, peer,
    Transaction), when ``asked`` says the same. FailedPrecondition ``NOT_JOURNALLED`` otherwise."""
    view = record.view
    if view.state not in _DECISION_STATES[kind]:
        raise FailedPrecondition(
            f"transfer {asked.transfer_id[:256]} is {view.state or 'unknown'} here, not decided {kind}",
            reason=NOT_JOURNALLED,
        )
    out = apb.AssetDecision(
        transfer_id=view.transfer_id,
        decision=asked.decision,
        content_digest=record.offer.content_digest,
        destination_m_instance_id=view.peer_m_instance_id,
    )
    if kind == "COMMIT":
        out.transaction.item_json = record.transaction_json
    same = (
        asked.content_digest == out.content_digest
        and asked.destination_m_instance_id == out.destination_m_instance_id
        and asked.transaction.item_json == out.transaction.item_json
    )
    if not same:
        raise FailedPrecondition(
            f"the decision on transfer {asked.transfer_id[:256]} is not the one journalled", reason=NOT_JOURNALLED
        )
    return out


def check_exchange(record: apb.ExchangeRecord, policies: dict[str, str], *, origin: str, destination: str) -> None:
    """The exchange an offer from ``origin`` declares must be what ``origin``'s published policy
    for ``destination`` (manifesto policies ``asset.currency``, ``asset.exchange.<destination>``)
    gives for the amount paid: fee, received, currencies, rate and rounding. An offer without
    payment declares nothing. FailedPrecondition ``EXCHANGE_MISMATCH`` otherwise."""
    if not (record.paid.amount_minor or record.fee.amount_minor or record.received.amount_minor):
        return
    described = policies.get(f"asset.exchange.{destination}")
    currency = policies.get("asset.currency", "")
    if described is None:
        raise FailedPrecondition(
            f"{origin} published no exchange policy for payments to {destination}", reason=EXCHANGE_MISMATCH
        )
    try:
        policy = ExchangePolicy.parse(described, from_currency=currency, source="")
        expected = exchange(record.paid.amount_minor, policy)
    except InvalidInput as err:
        raise FailedPrecondition(
            f"the offer's payment does not follow {origin}'s policy {described[:200]!r}: {err.message}",
            reason=EXCHANGE_MISMATCH,
        ) from err
    declared = (
        record.paid.currency_id,
        record.fee.amount_minor,
        record.fee.currency_id,
        record.received.amount_minor,
        record.received.currency_id,
        record.rate,
        record.rounding,
    )
    wanted = (
        policy.from_currency,
        expected.fee,
        policy.from_currency,
        expected.received,
        policy.to_currency,
        str(policy.rate),
        policy.rounding,
    )
    if declared != wanted:
        raise FailedPrecondition(
            f"the offer declares {record.paid.amount_minor} {record.paid.currency_id} paid, fee "
            f"{record.fee.amount_minor}, {record.received.amount_minor} {record.received.currency_id} received; "
            f"{origin}'s policy {described[:200]!r} gives fee {expected.fee}, {expected.received} {policy.to_currency}",
            reason=EXCHANGE_MISMATCH,
        )
