"""Answers to retries stay the same once memory lets them go (issue 14's World; DEVELOPERS: what a
peer can make us spend has a limit): the engine keeps the answers of the last N ProcessActionIDs
in memory and finds older ones in Activity Data, so a retry is never performed twice and a reused
ProcessActionID is still a Clash."""

from __future__ import annotations

import pickle
from dataclasses import replace

from mmm_helpers import code, make_engine, register, req

from instance.world.model import Action, Value
from instance.world.world import SeenResponses


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
