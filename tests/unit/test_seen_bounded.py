"""Answers to retries stay the same once memory lets them go (issue 14's World; DEVELOPERS: what a
peer can make us spend has a limit): the engine keeps the answers of the last N ProcessActionIDs
in memory and finds older ones in Activity Data, so a retry is never performed twice and a reused
ProcessActionID is still a Clash. Likewise the ProcessActionIDs performed: the last N in memory, older
ones in Activity Data, so an If Event on an old one still runs."""

from __future__ import annotations

import pickle
from dataclasses import replace

from mmm_helpers import PARCEL1, SQUARE, code, make_engine, register, req
from rules_rights_helpers import T, codes, put

from instance.world.activity import RESOLUTION_TRIGGER
from instance.world.model import Action, IfEvent, PAStatus, ProcessActionResponse, Value
from instance.world.world import RecentIds, SeenResponses


def test_memory_of_answers_is_bounded_and_older_answers_come_from_activity_data() -> None:
    engine = make_engine()
    engine.world.seen = SeenResponses(limit=2)
    alice, bob = register(engine, "alice"), register(engine, "bob")
    pays = [
        req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(100 + i, "EUR"))
        for i in range(4)
    ]
    first = engine.handle(pays[0])
    assert code(first) == "Ack"
    for later in pays[1:]:
        assert code(engine.handle(later)) == "Ack"
    assert len(engine.world.seen) == 2 and pays[0].process_action_id not in engine.world.seen
    balance = engine.world.balance(alice.wallet, "EUR")
    records = len(engine.activity)

    again = engine.handle(pays[0])  # a retry whose answer memory let go
    assert again == first
    assert engine.world.balance(alice.wallet, "EUR") == balance  # not paid twice
    assert len(engine.activity) == records  # a retry is not a new decision

    other = req(alice.id, alice.id, Action.TRANSACT, nil=alice.wallet, to=bob.id, payment=Value(1, "EUR"))
    reused = replace(other, process_action_id=pays[0].process_action_id)
    assert code(engine.handle(reused)) == "Clash"
    assert engine.world.balance(alice.wallet, "EUR") == balance


def test_the_bounded_memory_survives_pickling_with_its_limit() -> None:
    seen = SeenResponses(limit=3)
    for i in range(5):
        seen[f"id-{i}"] = (str(i), None)  # type: ignore[assignment]
    copy = pickle.loads(pickle.dumps(seen))
    assert copy.limit == 3 and list(copy) == ["id-2", "id-3", "id-4"]


def test_memory_of_performances_is_bounded_and_older_ones_come_from_activity_data() -> None:
    """An If Event on a ProcessActionID performed long ago still runs at once; one on a request
    that was only deferred (not performed) still waits, though memory let both go."""
    engine = make_engine()
    engine.world.performed = RecentIds(limit=2)
    u1, u2, u3 = register(engine, "u1"), register(engine, "u2"), register(engine, "u3")
    done = put(u1, SQUARE)
    waiting = put(u3, SQUARE, if_event=IfEvent(at_time_ms=T + 100))  # Ack "deferred", not performed
    assert codes(engine, done, waiting) == ["Ack", "Ack"]
    for i in range(3):  # newer performances (Registers) push both out of memory
        register(engine, f"n{i}")
    assert len(engine.world.performed) == 2
    assert done.process_action_id not in engine.world.performed

    follow = put(u2, SQUARE, if_event=IfEvent(done.process_action_id))
    assert codes(engine, follow) == ["Ack"]
    assert engine.world.placements.get(u2.persona) == SQUARE and follow.process_action_id not in engine.world.pending

    after = put(u2, PARCEL1, action=Action.MM_MOVE, if_event=IfEvent(waiting.process_action_id))
    assert codes(engine, after) == ["Ack"]
    assert engine.world.placements[u2.persona] == SQUARE and after.process_action_id in engine.world.pending
    assert [code(r) for r in engine.tick(T + 100)] == ["Ack"]  # `waiting` performed, then `after` fires
    assert engine.world.placements[u2.persona] == PARCEL1 and engine.world.pending == {}


def test_activity_data_tells_a_performance_from_a_deferral_and_a_resolution() -> None:
    """``ActivityLog.performed``: True for an Ack the engine performed (directly, or fired by its
    event), False for a deferral, a refusal, a request resolved at another M-Instance, an unknown id."""
    engine = make_engine()
    u1 = register(engine, "u1")
    done = put(u1, SQUARE)
    deferred = put(u1, PARCEL1, action=Action.MM_MOVE, if_event=IfEvent(at_time_ms=T + 100))
    refused = put(u1, SQUARE)  # already placed there: Clash
    assert codes(engine, done, deferred, refused) == ["Ack", "Ack", "Clash"]
    activity = engine.activity
    assert activity.performed(done.process_action_id)
    assert not activity.performed(deferred.process_action_id)
    assert not activity.performed(refused.process_action_id)
    assert not activity.performed("mmm://a.example/pa/never")
    assert [code(r) for r in engine.tick(T + 100)] == ["Ack"]
    assert activity.performed(deferred.process_action_id)
    resolved = req(u1.id, "mmm://b.example/processes/registration", Action.DISCOVER, nil=SQUARE)
    ack = ProcessActionResponse(resolved.process_action_id, PAStatus.ack(), (), (), resolved.time_ms)
    activity.append({}, resolved, ack, trigger=RESOLUTION_TRIGGER, origin=None, rules_version="v1", refs=[])
    assert not activity.performed(resolved.process_action_id)


def test_recent_ids_keep_the_newest_and_survive_pickling() -> None:
    ids = RecentIds(limit=3)
    for i in range(5):
        ids.add(f"id-{i}")
    ids.add("id-2")  # seen again: the newest now
    assert list(ids) == ["id-3", "id-4", "id-2"] and "id-0" not in ids and "id-4" in ids
    copy = pickle.loads(pickle.dumps(ids))
    assert copy.limit == 3 and copy == ids
