"""One model of the M-Instance (issue 14): what the convenience RPCs create is what the MMM-TEC
World's Process Action engine knows."""

from __future__ import annotations

import time

from sample_assets import GODETTE, needs_samples

from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    Value,
    complements,
)
from instance.world.wire import request_to_proto, response_from_proto
from mmmfed.api.v1 import asset_pb2 as apb
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.cli.inprocess import Federation

A = "a.example"


@needs_samples
async def test_fgmv43_9_1_registered_human_is_a_process(federation: Federation) -> None:
    """FGMV-43 9.1 step 0 / MMM-TEC Register: a human registered with RegisterHuman is at once the
    source of a Process Action the engine decides (Ack, not Error IncID)."""
    user = (await federation.at_a.register_human("alice", GODETTE)).user_process_id
    request = ProcessActionRequest(
        DeonticVerb.MAY,
        Action.AUTHENTICATE,
        user,
        f"mmm://{A}/processes/registration",
        complements(nil=user),
        int(time.time() * 1000),
        process_action_id=f"mmm://{A}/pa/domain-model-1",
    )
    reply = await federation.at_a.instance.Act(ipb.ActRequest(request=request_to_proto(request)))
    response = response_from_proto(reply)
    assert response.status.kind is PAStatusKind.ACK, response.status
    assert [c.ref_id for c in response.complements] == [user]


@needs_samples
async def test_fgmv43_9_2_funded_wallet_is_the_wallet_transact_pays_from(federation: Federation) -> None:
    """FGMV-43 9.2 / MMM-TEC Transact: the Wallet ``asset fund`` (FundWallet) funds in the asset
    ledger's currency is the one a Transact Process Action of the same Process pays from: the
    payment leaves it and reaches the payee's, and a payment beyond it is Error InsValue."""
    at_a = federation.at_a
    user = (await at_a.register_human("alice", GODETTE)).user_process_id
    activity = f"mmm://{A}/processes/activity"
    funded = await at_a.instance.FundWallet(apb.FundWalletRequest(holder_process_id=user, amount=5000))
    currency = funded.balance.currency_id
    assert funded.balance.amount_minor == 5000

    def transact(amount: int, local: str) -> ProcessActionRequest:
        return ProcessActionRequest(
            DeonticVerb.MAY,
            Action.TRANSACT,
            user,
            user,
            complements(nil=f"mmm://{A}/wallets/user/alice", to=activity),
            int(time.time() * 1000),
            Value(amount, currency),
            process_action_id=f"mmm://{A}/pa/{local}",
        )

    async def act(request: ProcessActionRequest) -> ProcessActionResponse:
        reply = await at_a.instance.Act(ipb.ActRequest(request=request_to_proto(request)))
        return response_from_proto(reply)

    paid = await act(transact(1200, "domain-model-pay"))
    assert paid.status.kind is PAStatusKind.ACK, paid.status
    wallet = await at_a.instance.GetWallet(apb.GetWalletRequest(holder_process_id=user))
    payee = await at_a.instance.GetWallet(apb.GetWalletRequest(holder_process_id=activity))
    assert (wallet.balance.amount_minor, payee.balance.amount_minor) == (3800, 1200)

    too_much = await act(transact(3801, "domain-model-overdraw"))
    assert too_much.status.error is PAErrorCode.INS_VALUE, too_much.status
    wallet = await at_a.instance.GetWallet(apb.GetWalletRequest(holder_process_id=user))
    assert wallet.balance.amount_minor == 3800
