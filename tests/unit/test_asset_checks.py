"""gateway/asset_checks.py: the exchange a destination accepts, and the journalled messages a
gateway signs (issue 12 item 3)."""

from __future__ import annotations

import pytest

from gateway.asset_checks import check_exchange, journalled_decision, journalled_offer
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.errors import FailedPrecondition

POLICIES = {"asset.currency": "ACU", "asset.exchange.b.example": "to=BCU rate=3/2 fee_bp=50 rounding=half_even"}


def _record(paid: int, fee: int, received: int, *, rate: str = "3/2", to: str = "BCU") -> apb.ExchangeRecord:
    return apb.ExchangeRecord(
        paid=papb.Value(amount_minor=paid, currency_id="ACU"),
        fee=papb.Value(amount_minor=fee, currency_id="ACU"),
        received=papb.Value(amount_minor=received, currency_id=to),
        rate=rate,
        rounding="half_even",
    )


def test_the_exchange_the_policy_gives_passes_and_no_payment_needs_no_policy() -> None:
    """1001 ACU: fee 6, 1492 BCU, as the published policy gives; an offer without payment passes
    even when the origin publishes no policy."""
    check_exchange(_record(1001, 6, 1492), POLICIES, origin="a.example", destination="b.example")
    check_exchange(apb.ExchangeRecord(), {}, origin="a.example", destination="b.example")


@pytest.mark.parametrize(
    ("record", "policies"),
    [
        (_record(1, 0, 10**15), POLICIES),  # received inflated
        (_record(1001, 0, 1492), POLICIES),  # fee left out
        (_record(1001, 6, 2985, rate="3/1"), POLICIES),  # another rate
        (_record(1001, 6, 1492, to="XCU"), POLICIES),  # another currency
        (_record(1001, 6, 1492), {"asset.currency": "ACU"}),  # no policy published for b.example
        (_record(0, 0, 5), POLICIES),  # nothing paid, something received
    ],
)
def test_an_exchange_the_policy_does_not_give_is_refused(record: apb.ExchangeRecord, policies: dict[str, str]) -> None:
    """Each is FailedPrecondition EXCHANGE_MISMATCH."""
    with pytest.raises(FailedPrecondition) as caught:
        check_exchange(record, policies, origin="a.example", destination="b.example")
    assert caught.value.reason == "EXCHANGE_MISMATCH"


def test_only_the_journalled_offer_and_decision_are_signed() -> None:
    """An offer differing from the journal's in any field, or asked in a state that is not PENDING,
    and a decision of the other kind than the journal's, are NOT_JOURNALLED."""
    offer = apb.AssetOffer(transfer_id="t", destination_process_id="mmm://b.example/processes/bob", content_digest="d")
    record = apb.AssetTransferRecord(
        view=apb.AssetTransferView(transfer_id="t", state="PENDING", peer_m_instance_id="b.example"), offer=offer
    )
    assert journalled_offer(offer, record) == offer
    other = apb.AssetOffer()
    other.CopyFrom(offer)
    other.exchange.received.amount_minor = 10**15
    abort = apb.AssetDecision(
        transfer_id="t",
        decision=apb.ASSET_DECISION_KIND_ABORT,
        content_digest="d",
        destination_m_instance_id="b.example",
    )
    for attempt in (
        lambda: journalled_offer(other, record),
        lambda: journalled_decision(abort, "ABORT", record),  # PENDING: not decided
    ):
        with pytest.raises(FailedPrecondition) as caught:
            attempt()
        assert caught.value.reason == "NOT_JOURNALLED"
    record.view.state = "ABORTING"
    assert journalled_decision(abort, "ABORT", record) == abort
    with pytest.raises(FailedPrecondition) as caught:
        journalled_offer(offer, record)
    assert caught.value.reason == "NOT_JOURNALLED"
