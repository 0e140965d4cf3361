"""The Process Action engine's pipeline (instance/world/engine.py, MMM-TEC V2.2 Inter-Process
Protocol): idempotency by ProcessActionID (a retry gets the same response, a
changed request under the same id is Clash), Activity Data (every decision recorded, queryable, as
an ACD Item), a refused request leaving the World unchanged, and typed response status kinds."""

from __future__ import annotations

from dataclasses import replace

from engine_helpers import T, placing
from mmm_helpers import (
    ACTIVITY,
    EUR,
    PARCEL1,
    ROOM1,
    SQUARE,
    assert_error,
    author,
    code,
    may,
    message,
    register,
    req,
    snapshot,
)

from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.model import Action, Complement, ComplementKind, IfEvent, PAErrorCode, PAStatusKind, Value

# 1. Idempotency by ProcessActionID


def test_retry_with_the_same_id_gets_the_same_response_and_one_record(engine: ProcessActionEngine) -> None:
    """The same request under the same ProcessActionID, sent twice: the identical response, one
    Activity record, the Action performed once."""
    good = placing(engine)
    records = len(engine.activity)
    first = engine.handle(good)
    after_first = snapshot(engine.world)
    second = engine.handle(good)
    assert code(first) == "Ack"
    assert second == first
    assert len(engine.activity) == records + 1
    assert snapshot(engine.world) == after_first


def test_retry_of_a_refused_request_gets_the_same_refusal(engine: ProcessActionEngine) -> None:
    """A refused request retried under its ProcessActionID gets the same Error, recorded once."""
    u1 = register(engine, "u1")
    refused = req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=ROOM1, time_ms=T)
    first = engine.handle(refused)
    records = len(engine.activity)
    assert engine.handle(refused) == first
    assert code(first) == "InsRights"
    assert len(engine.activity) == records


def test_same_id_with_different_content_is_clash_and_changes_nothing(engine: ProcessActionEngine) -> None:
    """A ProcessActionID reused for another request: Error Clash; the World is unchanged and the
    first request's answer is still the one a retry gets."""
    good = placing(engine)
    first = engine.handle(good)
    before = snapshot(engine.world)
    other = replace(
        good,
        complements=(
            Complement(ComplementKind.NIL, good.complements[0].ref_id),
            Complement(ComplementKind.AT, PARCEL1),
        ),
    )
    clash = engine.handle(other)
    assert_error(clash, PAErrorCode.CLASH)
    assert snapshot(engine.world) == before
    assert engine.world.placements == {good.complements[0].ref_id: SQUARE}
    assert engine.handle(good) == first


def test_same_id_at_another_time_is_clash(engine: ProcessActionEngine) -> None:
    """The request time is part of the request: the same id at another time is a Clash."""
    good = placing(engine)
    engine.handle(good)
    assert code(engine.handle(replace(good, time_ms=good.time_ms + 1))) == "Clash"


# Activity Data


def test_every_decision_is_recorded(engine: ProcessActionEngine) -> None:
    """Every decision, Ack, Request or Error, is appended to the Activity Data with its PA Status,
    error code, Rules version and the request and response in JSON form."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    engine.world.prices[(ACTIVITY, Action.DISCOVER)] = Value(5, EUR)
    sent = [
        req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T),
        req(u2.id, u2.id, Action.MM_ADD, nil=u2.persona, at=ROOM1, time_ms=T + 1),
        req(u1.id, ACTIVITY, Action.DISCOVER, of=u2.id, time_ms=T + 2),
        replace(req(u1.id, u1.id, Action.MM_MOVE, nil=u1.persona, at=PARCEL1, time_ms=T + 3), time_ms=-5),
    ]
    before = len(engine.activity)
    responses = [engine.handle(r) for r in sent]
    records = engine.activity.query(limit=100_000)[before:]
    assert [code(r) for r in responses] == ["Ack", "InsRights", "Request", "FaultyReq"]
    assert [r.process_action_id for r in records] == [r.process_action_id for r in sent]
    assert [r.status for r in records] == ["Ack", "Error", "Request", "Error"]
    assert [r.error for r in records] == [None, "InsRights", None, "FaultyReq"]
    assert all(r.rules_version == "v1" and r.trigger is None for r in records)
    assert records[0].request["Action"] == "MM-Add"
    assert records[0].response["PAStatus"] == {"Status": "Ack"}
    assert records[2].response["PAStatus"]["Value"] == {"Amount": 5, "CurrencyID": EUR}


def test_activity_is_queryable_by_process_item_and_time(engine: ProcessActionEngine) -> None:
    """Activity Data can be asked for by Process (source or destination), by Item (named by any
    Complement of the request or the response) and by a time window [since_ms, until_ms)."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("note", "hello", producer=u1.id)
    author(engine, u1.id, note, time_ms=T)
    engine.handle(req(u1.id, u2.id, Action.MM_SEND, nil=note["ItemID"], to=u2.id, time_ms=T + 10))
    engine.handle(req(u2.id, u2.id, Action.MM_ADD, nil=u2.persona, at=SQUARE, time_ms=T + 20))
    engine.handle(req(u2.id, u2.id, Action.MM_ADD, nil=u2.persona, at=ROOM1, time_ms=T + 30))

    by_u1 = engine.activity.query(process_id=u1.id)
    assert [(r.action, r.time_ms) for r in by_u1] == [("Author", T), ("MM-Send", T + 10)]
    by_u2 = engine.activity.query(process_id=u2.id)
    assert [(r.action, r.time_ms) for r in by_u2] == [("MM-Send", T + 10), ("MM-Add", T + 20), ("MM-Add", T + 30)]
    by_note = engine.activity.query(item_id=note["ItemID"])
    assert [r.action for r in by_note] == ["Author", "MM-Send"]
    by_persona = engine.activity.query(item_id=u2.persona)
    assert [r.action for r in by_persona] == ["Register", "MM-Add", "MM-Add"]  # Register names it in RS
    window = engine.activity.query(since_ms=T + 10, until_ms=T + 30)
    assert [r.time_ms for r in window] == [T + 10, T + 20]
    assert [r.error for r in engine.activity.query(process_id=u2.id, since_ms=T + 30)] == ["InsRights"]


def test_activity_record_as_acd_item(engine: ProcessActionEngine) -> None:
    """A record becomes an ACD Item naming the Process Action, its PA Status and Rules version."""
    good = placing(engine)
    engine.handle(good)
    record = engine.activity.query(limit=100_000)[-1]
    doc = ActivityLog.to_item(record, "a.example")
    assert doc["ItemType"] == "ACD"
    assert doc["ProcessActionID"] == good.process_action_id
    assert doc["PAStatus"] == {"Status": "Ack"}
    assert doc["RulesVersionID"] == "v1"
    assert doc["Targets"] == [good.complements[0].ref_id, SQUARE]


# A refused request leaves the World unchanged


def test_refusals_leave_the_world_unchanged(engine: ProcessActionEngine) -> None:
    """Requests refused at each step (Clash, FaultyReq, IncID, InsRights, InsValue, LocOOR, Request)
    change no Right, placement, Item, Wallet, Transaction or pending request."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    engine.handle(req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T))
    engine.world.prices[(ACTIVITY, Action.DISCOVER)] = Value(5, EUR)
    before = snapshot(engine.world)
    refused = [
        req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=PARCEL1, time_ms=T + 1),  # Clash: already placed
        req(u1.id, u1.id, Action.MM_MOVE, nil=u1.persona, at=ROOM1, time_ms=T + 2),  # InsRights
        req(u2.id, u2.id, Action.MODIFY, nil=u1.persona, items=[], time_ms=T + 3),  # InsRights
        req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(10**9, EUR), time_ms=T + 4),
        req(u1.id, u1.id, Action.TRANSACT, nil=u2.wallet, to=u1.id, payment=Value(1, EUR), time_ms=T + 5),
        req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=u1.persona, to=u2.id, rights=[may(Action.TRANSACT)], time_ms=T + 6),
        req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=ROOM1, to=u1.id, rights=[may(Action.MM_ADD)], time_ms=T + 7),
        req(u1.id, ACTIVITY, Action.DISCOVER, of=u2.id, time_ms=T + 8),  # Request(Value)
        req(u1.id, "mmm://a.example/processes/ghost", Action.MM_MOVE, nil=u1.persona, at=PARCEL1, time_ms=T + 9),
        req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, time_ms=T + 10),  # FaultyReq: no Value
    ]
    codes = [code(engine.handle(r)) for r in refused]
    assert codes == [
        "Clash",
        "InsRights",
        "InsRights",
        "InsValue",
        "InsRights",
        "InsRights",
        "InsRights",
        "Request",
        "IncID",
        "FaultyReq",
    ]
    assert snapshot(engine.world) == before


def test_a_refused_request_with_an_if_event_is_not_deferred(engine: ProcessActionEngine) -> None:
    """A deferred request is checked up to step 4 first: one to an unknown destination is IncID
    and is not left pending."""
    u1 = register(engine, "u1")
    response = engine.handle(
        req(
            u1.id,
            "mmm://a.example/processes/ghost",
            Action.MM_ADD,
            nil=u1.persona,
            at=SQUARE,
            time_ms=T,
            if_event=IfEvent(at_time_ms=T + 10),
        )
    )
    assert code(response) == "IncID"
    assert engine.world.pending == {}


def test_response_status_kinds_are_typed(engine: ProcessActionEngine) -> None:
    """A response carries its ProcessActionID and time and an Ack status with no error code."""
    good = placing(engine)
    response = engine.handle(good)
    assert response.process_action_id == good.process_action_id
    assert response.time_ms == good.time_ms
    assert response.status.kind is PAStatusKind.ACK and response.status.error is None
