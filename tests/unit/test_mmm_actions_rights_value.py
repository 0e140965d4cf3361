"""The Action handlers of the reference M-Instance's Process Action engine (instance/world/actions,
MMM-TEC V2.2 Actions): Rights Manage (Granted Rights given and withdrawn, Acquired Rights
transferred from a Service), Transact (integer minor units, clearing Wallets) and paying for a
Process Action (Service Pricing Model, a visitor's M-Instance Transaction).

The refusal cases of these Actions are in action_refusals.py, run by test_mmm_actions_refusals.py;
the pipeline (check order, retries, Activity Data, replay) is tested in test_mmm_engine_*.py."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from action_helpers import (
    CLASH,
    INC_DQ,
    INS_RIGHTS,
    INS_VALUE,
    VISITOR,
    Engine,
    T,
    Users,
    acquire_room,
    ok,
    refused,
    rs,
)
from mmm_helpers import (
    ACTIVITY,
    AUTHOR_SERVICE,
    EUR,
    OPENING_MINOR,
    PARCEL1,
    PARCELS,
    ROOM1,
    User,
    item_draft,
    may,
    may_not,
    req,
    snapshot,
)

from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    RightLevel,
    RightSpec,
    Value,
)


# Rights Manage
def grant(grantor: User, target: str, holder: User, *specs: RightSpec) -> ProcessActionRequest:
    return req(grantor.id, grantor.id, Action.RIGHTS_MANAGE, nil=target, to=holder.id, rights=specs, time_ms=T)


def test_rights_manage_grant_gives_a_granted_right(engine: Engine, users: Users) -> None:
    """Rights Manage To u2: the Granted Right to render u1's Persona exists and works, u1 keeps its own,
    RGT Items are returned, ICapabilities name u2. From u2: all u1 gave u2 there is withdrawn."""
    u1, u2 = users
    response = ok(engine, grant(u1, u1.persona, u2, may(Action.MU_ACTUATE), may_not(Action.MM_ADD)))
    (right,) = engine.world.covering(u2.id, Action.MU_ACTUATE, u1.persona, T)
    assert (right.level, right.granted_by) == (RightLevel.GRANTED, u1.id)
    assert rs(response) == [("Nil", u1.persona), ("To", u2.id)]
    assert response.items[0]["ItemType"] == "RGT" and response.items[0]["RightsID"] == right.rights_id
    assert engine.world.may(u1.id, Action.MU_ACTUATE, u1.persona, T)
    assert {"ProcessID": u2.id, "Rights": ["MU-Actuate"]} in engine.world.items[u1.persona]["ICapabilities"]
    ok(engine, req(u2.id, u2.device, Action.MU_ACTUATE, nil=u1.persona, time_ms=T + 1))
    withdrawn = ok(engine, req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=u1.persona, frm=u2.id, time_ms=T + 2))
    assert rs(withdrawn) == [("Nil", u1.persona), ("From", u2.id)]
    assert [r for r in engine.world.rights_of(u2.id) if r.target_id == u1.persona] == []


def test_rights_manage_acquired_from_a_service_transfers_the_room(engine: Engine, users: Users) -> None:
    """Rights Manage (Acquired) asked of the Author Service: its Rights on Room1 pass to u1 and the
    offer ends, so a second asker is Error InsRights."""
    u1, u2 = users
    acquire_room(engine, u1)
    world = engine.world
    assert world.may(u1.id, Action.MM_ADD, ROOM1, T) and world.may(u1.id, Action.RIGHTS_MANAGE, ROOM1, T)
    assert world.covering(u1.id, Action.MM_ADD, ROOM1, T)[0].level is RightLevel.ACQUIRED
    assert not world.may(AUTHOR_SERVICE, Action.MM_ADD, ROOM1, T) and ROOM1 not in world.offers
    spec = RightSpec(DeonticVerb.MAY, Action.MM_ADD, RightLevel.ACQUIRED)
    request = req(u2.id, AUTHOR_SERVICE, Action.RIGHTS_MANAGE, nil=ROOM1, to=u2.id, rights=[spec], time_ms=T + 1)
    refused(engine, request, INS_RIGHTS)


# Transact, and paying for a Process Action
def test_transact_moves_exactly_the_amount(engine: Engine, users: Users) -> None:
    """Transact: 2.50 EUR moves from u1's Wallet to u2's, in integer minor units; RS Nil TRA Item. To a
    Process of another M-Instance, this M-Instance's clearing Wallet for it is credited."""
    u1, u2 = users
    response = ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(250, EUR)))
    world = engine.world
    assert world.wallets[u1.wallet] == {EUR: OPENING_MINOR - 250}
    assert world.wallets[u2.wallet] == {EUR: OPENING_MINOR + 250}
    ((kind, tx),) = rs(response)
    doc = world.transactions[tx]
    assert kind == "Nil" and world.items[tx] == doc == response.items[0]
    assert (doc["PayerProcessID"], doc["PayeeProcessID"], doc["Status"]) == (u1.id, u2.id, "Final")
    assert doc["Value"] == {"Amount": 250, "CurrencyID": EUR} and type(doc["Value"]["Amount"]) is int
    ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=VISITOR, payment=Value(100, EUR)))
    assert world.balance(world.clearing_wallet("b.example"), EUR) == 100
    assert world.balance(u1.wallet, EUR) == OPENING_MINOR - 350


def test_a_priced_action_is_performed_once_paid(engine: Engine, users: Users) -> None:
    """Service Pricing Model: the Parcel Service asks 5.00 EUR (Request); u1 Transacts and repeats the
    request With the Transaction: Ack, the Right is given, the Value moved once; a wrong payment is
    InsValue, reusing the Transaction Clash."""
    u1 = users[0]
    price = Value(500, EUR)
    engine.world.prices[(PARCELS, Action.RIGHTS_MANAGE)] = price

    def ask(**kw: Any) -> ProcessActionRequest:
        return req(u1.id, PARCELS, Action.RIGHTS_MANAGE, nil=PARCEL1, to=u1.id, rights=[may(Action.POST)], **kw)

    before = snapshot(engine.world)
    asked = engine.handle(ask())
    assert asked.status.kind is PAStatusKind.REQUEST and asked.status.value == price
    assert snapshot(engine.world) == before
    paid = ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=PARCELS, payment=price, time_ms=T))
    tx = paid.complements[0].ref_id
    refused(engine, ask(payment=Value(499, EUR), with_=tx), INS_VALUE)
    ok(engine, ask(payment=price, with_=tx))
    assert engine.world.may(u1.id, Action.POST, PARCEL1, T) and engine.world.consumed == {tx}
    assert engine.world.balance(u1.wallet, EUR) == OPENING_MINOR - 500
    assert engine.world.balance(engine.world.processes[PARCELS].wallet_id or "", EUR) == 500
    refused(engine, ask(payment=price, with_=tx), CLASH)


@pytest.mark.parametrize("value, error", [({"Amount": 5, "CurrencyID": EUR}, None), (None, INC_DQ)])
def test_a_visitor_pays_with_its_m_instance_transaction(
    engine: Engine, users: Users, value: dict[str, Any] | None, error: PAErrorCode | None
) -> None:
    """A visitor's Discover (0.05 EUR) paid by its M-Instance's carried TRA Item credits the Activity
    Service 5 from the clearing Wallet of b.example; a TRA Item without a Value is Error IncDQ."""
    fields = {"PayerProcessID": VISITOR, "PayeeProcessID": ACTIVITY, "Status": "Final", "Time": "1970-01-01T00:00:00Z"}
    tx = "mmm://b.example/transactions/t1"
    fields |= {"TransactionID": tx, **({"Value": value} if value else {})}
    doc = item_draft(tx, producer=VISITOR, item_type="TRA", sub_type="Transaction", fields=fields)
    request = replace(
        req(VISITOR, ACTIVITY, Action.DISCOVER, of=users[0].id, with_=tx, items=[doc]), payment=Value(5, EUR)
    )
    if error is not None:
        refused(engine, request, error, origin="b.example")
        return
    ok(engine, request, origin="b.example")
    assert engine.world.balance(engine.world.processes[ACTIVITY].wallet_id or "", EUR) == 5
    assert engine.world.balance(engine.world.clearing_wallet("b.example"), EUR) == -5
