"""The Process Action engine's pipeline (instance/world/engine.py, MMM-TEC V2.2 Inter-Process
Protocol): rebuilding the World from the Activity Data on restart (replay),
keeping the answers of Clashes, and new ProcessActionIDs working after it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine_helpers import T, placing
from mmm_helpers import EUR, PARCEL1, ROOM1, SQUARE, START_MS, code, may, new_pa_id, register, req, snapshot

from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    ProcessActionRequest,
    RightLevel,
    RightSpec,
    Value,
)
from instance.world.seed import new_world

# Restart: replay of the Activity Data


def _run_sequence(engine: ProcessActionEngine) -> list[tuple[ProcessActionRequest, Any]]:
    """A sequence touching Rights, placements, Wallets, pending requests and refusals."""
    u1, u2 = register(engine, "u1"), register(engine, "u2", time_ms=START_MS + 1)
    acquire = [
        RightSpec(DeonticVerb.MAY, a, RightLevel.ACQUIRED)
        for a in (Action.MM_ADD, Action.MM_MOVE, Action.RIGHTS_MANAGE)
    ]
    sent = [
        req(u1.id, pid_author(), Action.RIGHTS_MANAGE, nil=ROOM1, to=u1.id, rights=acquire, time_ms=T),
        req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T + 1),
        req(u1.id, u1.id, Action.MM_MOVE, nil=u1.persona, at=ROOM1, time_ms=T + 2),
        req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=ROOM1, to=u2.id, rights=[may(Action.MM_ADD)], time_ms=T + 3),
        req(u2.id, u2.id, Action.MM_ADD, nil=u2.persona, at=ROOM1, time_ms=T + 4),
        req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(250, EUR), time_ms=T + 5),
        req(
            u2.id, u2.id, Action.MM_MOVE, nil=u2.persona, at=SQUARE, time_ms=T + 6, if_event=IfEvent(at_time_ms=T + 50)
        ),
        req(
            u2.id,
            u2.id,
            Action.MM_MOVE,
            nil=u2.persona,
            at=PARCEL1,
            time_ms=T + 7,
            if_event=IfEvent(at_time_ms=T + 5000),
        ),
        req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=ROOM1, frm=u2.id, time_ms=T + 60),
        req(u2.id, u2.id, Action.MM_MOVE, nil=u2.persona, at=ROOM1, time_ms=T + 61),  # InsRights now
        req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(10**9, EUR), time_ms=T + 62),
    ]
    out = []
    for i, r in enumerate(sent):
        out.append((r, engine.handle(r)))
        if i == 7:
            engine.tick(T + 50)
    return out


def pid_author() -> str:
    return "mmm://a.example/processes/author"


def test_replay_rebuilds_the_world_from_the_activity_data(tmp_path: Path) -> None:
    """Restart: a new World and engine on the same Activity Data file, after replay(), hold the
    same Rights, placements, Wallets, Transactions, pending requests and seen ProcessActionIDs, and
    a retried ProcessActionID still gets its old response without a new record."""
    path = tmp_path / "activity.sqlite"
    first = ProcessActionEngine(new_world("a.example"), ActivityLog(path))
    sent = _run_sequence(first)
    assert [code(resp) for _, resp in sent] == [
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "Ack",
        "InsRights",
        "InsValue",
    ]
    assert len(first.world.pending) == 1
    state, seen, records = snapshot(first.world), dict(first.world.seen), len(first.activity)
    first.activity.close()

    activity = ActivityLog(path)
    second = ProcessActionEngine(new_world("a.example"), activity)
    assert second.replay() == records
    assert len(activity) == records  # replay records nothing
    assert snapshot(second.world) == state
    assert second.world.rights == state["rights"]
    assert second.world.placements == state["placements"]
    assert second.world.wallets == state["wallets"]
    assert second.world.pending.keys() == state["pending"].keys()
    assert second.world.seen == seen
    for request, response in sent:
        assert second.handle(request) == response
    assert len(activity) == records

    # the pending request still fires after the restart
    fired = second.tick(T + 5000)
    assert [code(r) for r in fired] == ["Ack"]
    assert second.world.placements["mmm://a.example/personae/u2"] == PARCEL1


def test_replay_keeps_clash_answers_and_new_ids_work(tmp_path: Path) -> None:
    """After a restart a reused ProcessActionID with other content is still a Clash, and a new
    request is decided against the rebuilt World."""
    path = tmp_path / "activity.sqlite"
    first = ProcessActionEngine(new_world("a.example"), ActivityLog(path))
    good = placing(first)
    first.handle(good)
    first.activity.close()
    second = ProcessActionEngine(new_world("a.example"), ActivityLog(path))
    second.replay()
    assert code(second.handle(replace(good, time_ms=good.time_ms + 1))) == "Clash"
    moved = second.handle(
        replace(
            good,
            action=Action.MM_MOVE,
            process_action_id=new_pa_id(good.source_id),
            complements=(good.complements[0], Complement(ComplementKind.AT, PARCEL1)),
        )
    )
    assert code(moved) == "Ack"
    assert second.world.placements[good.complements[0].ref_id] == PARCEL1
