"""Items of every type the M-Instance's World makes (Process, Account, Personal Profile, Wallet,
Rights, Rules, Transaction, Activity Data, Fault Behaviour and Fault Detection Reports, Personae
and a Message with inline Content), produced by a real engine run: two registrations, a grant, a
payment, a message over the Rules' length and a refused request from another M-Instance."""

from __future__ import annotations

from typing import Any

from action_helpers import VISITOR, T, new_note
from mmm_helpers import EUR, M, make_engine, may, register, req

from instance.world.activity import ActivityLog
from instance.world.model import Action, Value


def world_items() -> list[dict[str, Any]]:
    """Every Item document the run left in the World, then its Activity Data as ACD Items."""
    engine = make_engine()
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    engine.handle(req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=u1.persona, to=u2.id, rights=(may(Action.MM_ANIMATE),), time_ms=T))
    engine.handle(req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(250, EUR), time_ms=T))
    note = new_note(engine, u1, "long", "x" * 281)
    engine.handle(req(u1.id, u2.id, Action.MM_SEND, nil=note, to=u2.id, time_ms=T))
    engine.handle(req(VISITOR, u1.id, Action.MM_ADD, nil=u1.persona, time_ms=T), origin="b.example")
    activity = engine.activity
    assert isinstance(activity, ActivityLog)
    return [*engine.world.items.values(), *(ActivityLog.to_item(r, M) for r in activity)]
