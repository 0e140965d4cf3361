"""Deferred Process Actions of the reference M-Instance (instance/world: engine.py; MMM-TEC V2.2 If
Events and Must obligations): If Event Time, ProcessActionID and Action-on-Item events, a deferred
request decided under the Rules and Rights at its event time, and the Fault Behaviour Report of a
Must request that ends in an Error."""

from __future__ import annotations

from dataclasses import replace

from mmm_helpers import (
    PARCEL1,
    PARCEL2,
    REGISTRATION,
    ROOM1,
    SQUARE,
    assert_error,
    author,
    code,
    grant,
    may,
    message,
    register,
    req,
    snapshot,
)
from rules_rights_helpers import E, T, change_rules, codes, own_room, put, report

from instance.world.engine import ProcessActionEngine
from instance.world.model import Action, DeonticVerb, IfEvent, PAErrorCode

# 3. If Events and Must obligations


def test_if_event_time_defers_until_tick(engine: ProcessActionEngine) -> None:
    """A request with an If Event Time is Ack "deferred" and only pending; tick before the time runs
    nothing, tick at the time performs it once (recorded with trigger "time" at that time)."""
    u1 = register(engine, "u1")
    before = snapshot(engine.world)
    deferred = put(u1, SQUARE, if_event=IfEvent(at_time_ms=T + 100))
    response = engine.handle(deferred)
    assert code(response) == "Ack" and response.status.reason.startswith("deferred")
    after = snapshot(engine.world)
    assert {**after, "pending": {}} == before and list(engine.world.pending) == [deferred.process_action_id]
    assert engine.tick(T + 99) == [] and snapshot(engine.world) == after
    fired = engine.tick(T + 100)
    assert [code(r) for r in fired] == ["Ack"]
    assert engine.world.placements == {u1.persona: SQUARE} and engine.world.pending == {}
    record = engine.activity.query(limit=100_000)[-1]
    assert (record.process_action_id, record.trigger, record.time_ms) == (deferred.process_action_id, "time", T + 100)
    assert engine.tick(T + 1000) == []


def test_deferred_request_is_decided_under_the_rules_and_rights_at_its_event_time(engine: ProcessActionEngine) -> None:
    """A deferred MM-Send whose time comes after a stricter Rules version is refused under it (IncDQ,
    report, recorded as v2); a deferred MM-Add is decided with a Right valid only from its time."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("long", "x" * 40, producer=u1.id)
    author(engine, u1.id, note)
    own_room(engine, u1, Action.MM_ADD, Action.RIGHTS_MANAGE)
    assert code(change_rules(engine, "v2", E, MaxMessageChars=10)) == "Ack"
    send = req(u1.id, u2.id, Action.MM_SEND, nil=note["ItemID"], to=u2.id, if_event=IfEvent(at_time_ms=E))
    enter = put(u2, ROOM1, if_event=IfEvent(at_time_ms=E))
    assert codes(engine, send, enter) == ["Ack", "Ack"]
    assert code(grant(engine, u1.id, ROOM1, u2.id, may(Action.MM_ADD, valid_from_ms=E), time_ms=T + 1)) == "Ack"
    fired = {r.process_action_id: r for r in engine.tick(E)}
    assert {k: code(r) for k, r in fired.items()} == {send.process_action_id: "IncDQ", enter.process_action_id: "Ack"}
    assert report(engine, fired[send.process_action_id])["RulesVersionID"] == "v2"
    assert u2.id not in engine.world.inboxes and engine.world.placements == {u2.persona: ROOM1}
    assert [r.rules_version for r in engine.activity.query(limit=100_000)[-2:]] == ["v2", "v2"]


def test_if_event_on_a_process_action_id(engine: ProcessActionEngine) -> None:
    """A request waiting for ProcessActionID X runs when X is performed (trigger X), not on other
    Process Actions; one waiting for an X already performed runs at once."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    first = put(u1, SQUARE, time_ms=T + 10)
    follow = put(u2, SQUARE, if_event=IfEvent(first.process_action_id))
    assert codes(engine, follow, req(u1.id, u1.id, Action.HIDE, nil=u1.persona, time_ms=T + 5)) == ["Ack", "Ack"]
    assert list(engine.world.pending) == [follow.process_action_id] and u2.persona not in engine.world.placements
    assert codes(engine, first) == ["Ack"]
    assert engine.world.placements == {u1.persona: SQUARE, u2.persona: SQUARE} and engine.world.pending == {}
    record = engine.activity.query(limit=100_000)[-1]
    assert (record.process_action_id, record.trigger) == (follow.process_action_id, first.process_action_id)
    assert codes(engine, put(u2, PARCEL1, action=Action.MM_MOVE, if_event=IfEvent(first.process_action_id))) == ["Ack"]
    assert engine.world.placements[u2.persona] == PARCEL1 and engine.world.pending == {}


def test_if_event_on_a_deferred_process_action_waits_until_it_is_performed(engine: ProcessActionEngine) -> None:
    """A request waiting for X, where X is itself deferred (Ack "deferred", not performed), stays
    pending until X is performed at its time, then runs; if X ends in an Error it never runs."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    first = put(u1, SQUARE, if_event=IfEvent(at_time_ms=T + 100))
    follow = put(u2, SQUARE, if_event=IfEvent(first.process_action_id))
    assert codes(engine, first, follow) == ["Ack", "Ack"]
    assert engine.world.placements == {}
    assert set(engine.world.pending) == {first.process_action_id, follow.process_action_id}
    assert [code(r) for r in engine.tick(T + 100)] == ["Ack"]
    assert engine.world.placements == {u1.persona: SQUARE, u2.persona: SQUARE} and engine.world.pending == {}
    failing = put(u1, ROOM1, action=Action.MM_MOVE, if_event=IfEvent(at_time_ms=T + 200))
    assert codes(engine, failing) == ["Ack"] and [code(r) for r in engine.tick(T + 200)] == ["InsRights"]
    never = put(u2, PARCEL1, action=Action.MM_MOVE, if_event=IfEvent(failing.process_action_id))
    assert codes(engine, never) == ["Ack"]
    assert engine.world.placements[u2.persona] == SQUARE and list(engine.world.pending) == [never.process_action_id]


def test_if_event_on_an_action_and_item(engine: ProcessActionEngine) -> None:
    """A request waiting for "MM-Move of u1's Persona" ignores other Actions on it and MM-Moves of
    other Items, and runs on the first matching MM-Move; one waiting for any Hide runs on a Hide."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    follow = put(u2, PARCEL1, action=Action.MM_MOVE, if_event=IfEvent(action=Action.MM_MOVE, item_id=u1.persona))
    any_hide = put(u2, SQUARE, action=Action.MM_MOVE, if_event=IfEvent(action=Action.HIDE))
    others = [put(u2, SQUARE), follow, put(u1, SQUARE), put(u1, SQUARE), put(u2, PARCEL2, action=Action.MM_MOVE)]
    assert codes(engine, *others) == ["Ack", "Ack", "Ack", "Clash", "Ack"]
    assert list(engine.world.pending) == [follow.process_action_id]
    assert engine.world.placements[u2.persona] == PARCEL2
    matching = put(u1, PARCEL1, action=Action.MM_MOVE, time_ms=T + 1)
    assert codes(engine, matching) == ["Ack"]
    assert engine.world.placements[u2.persona] == PARCEL1 and engine.world.pending == {}
    record = engine.activity.query(limit=100_000)[-1]
    assert (record.process_action_id, record.trigger) == (follow.process_action_id, matching.process_action_id)
    assert codes(engine, any_hide, req(u1.id, u1.id, Action.HIDE, nil=u1.persona, time_ms=T + 2)) == ["Ack", "Ack"]
    assert engine.world.placements[u2.persona] == SQUARE and engine.world.pending == {}


def test_a_must_request_ending_in_an_error_raises_a_fault_behaviour_report(engine: ProcessActionEngine) -> None:
    """Must MM-Add into a Room without a Right: InsRights, nothing placed, and an FBR naming the
    obligation; the same as May raises none, nor does a Must that is performed."""
    u1 = register(engine, "u1")
    before = snapshot(engine.world)
    may_try = engine.handle(put(u1, ROOM1))
    assert_error(may_try, PAErrorCode.INS_RIGHTS)
    assert engine.world.reports == [] and may_try.items == ()
    must = engine.handle(put(u1, ROOM1, verb=DeonticVerb.MUST))
    assert_error(must, PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    fbr = report(engine, must)
    assert (fbr["ItemType"], fbr["Rule"], fbr["FaultyProcessID"]) == ("FBR", "Obligation", u1.id)
    assert "Must MM-Add" in fbr["Description"]
    assert codes(engine, put(u1, SQUARE, verb=DeonticVerb.MUST)) == ["Ack"] and len(engine.world.reports) == 1


def test_a_deferred_must_request_failing_when_triggered_raises_a_report(engine: ProcessActionEngine) -> None:
    """A Must MM-Move into Room1 deferred to T+100 raises no report when deferred; when it runs
    without a Right it is InsRights, nothing moves, and an FBR names its ProcessActionID."""
    u1 = register(engine, "u1")
    must = put(u1, ROOM1, action=Action.MM_MOVE, verb=DeonticVerb.MUST, if_event=IfEvent(at_time_ms=T + 100))
    assert codes(engine, put(u1, SQUARE), must) == ["Ack", "Ack"] and engine.world.reports == []
    [fired] = engine.tick(T + 100)
    assert_error(fired, PAErrorCode.INS_RIGHTS)
    assert engine.world.placements == {u1.persona: SQUARE} and engine.world.pending == {}
    fbr = report(engine, fired)
    assert (fbr["Rule"], fbr["ProcessActionID"]) == ("Obligation", must.process_action_id)


def test_a_refused_must_request_with_an_if_event_is_reported_not_deferred(engine: ProcessActionEngine) -> None:
    """A Must request refused before deferral (MM-Add is not a Capability of the Registration
    Service: FaultyReq) is not left pending and raises a Fault Behaviour Report."""
    u1 = register(engine, "u1")
    before = snapshot(engine.world)
    must = replace(
        put(u1, SQUARE, verb=DeonticVerb.MUST, if_event=IfEvent(at_time_ms=T + 10)), destination_id=REGISTRATION
    )
    refused = engine.handle(must)
    assert_error(refused, PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before and engine.world.pending == {}
    assert report(engine, refused)["Rule"] == "Obligation"
    assert engine.tick(T + 10) == []
