"""Items of every type the M-Instance's World makes (Process, Account, Personal Profile, Wallet,
Rights, Rules, Transaction, Activity Data, Fault Behaviour and Fault Detection Reports, Personae
and a Message with inline Content), produced by a real engine run: two registrations, a grant, a
payment, a message over the Rules' length and a refused request from another M-Instance."""

from __future__ import annotations

from typing import Any

from action_helpers import VISITOR, T, new_note
from mmm_helpers import EUR, M, make_engine, may, message, register, req

from instance.world.actions.base import BrokenRule
from instance.world.activity import ActivityLog
from instance.world.model import Action, PAErrorCode, PAStatus, Value


def world_items() -> list[dict[str, Any]]:
    """Every Item document the run left in the World or answered with (a grant's Rights, a
    refusal's Fault reports), then its Activity Data as ACD Items."""
    engine = make_engine()
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    grant = (may(Action.MM_ANIMATE),)
    note = new_note(engine, u1, "long", "x" * 281)
    far = message("mmm://b.example/items/long", "x" * 281, producer=VISITOR)  # breaks a Rule from afar
    requests = [
        (req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=u1.persona, to=u2.id, rights=grant, time_ms=T), None),
        (req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(250, EUR), time_ms=T), None),
        (req(u1.id, u2.id, Action.MM_SEND, nil=note, to=u2.id, time_ms=T), None),
        (req(VISITOR, u1.id, Action.MM_SEND, nil=far["ItemID"], to=u1.id, items=[far], time_ms=T), "b.example"),
    ]
    answered = [item for r, origin in requests for item in engine.handle(r, origin=origin).items]
    # the engine's Fault Detection Report on a Process of b.example that broke a Rule of a.example
    foreign = BrokenRule("MaxMessageChars", "281 characters; Rules version v1 allows 280")
    answered.append(
        engine._report(requests[-1][0], "b.example", foreign, PAStatus.fail(PAErrorCode.INC_DQ, "too long"))
    )
    activity = engine.activity
    assert isinstance(activity, ActivityLog)
    return [*engine.world.items.values(), *answered, *(ActivityLog.to_item(r, M) for r in activity)]
