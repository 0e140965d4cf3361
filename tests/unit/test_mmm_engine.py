"""The Process Action engine's pipeline (instance/world/engine.py, MMM-TEC V2.2 Inter-Process
Protocol): check order and PA Status codes, idempotency by ProcessActionID, Activity Data, a refused
request changing nothing, and rebuilding the World from the Activity Data on restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mmm_helpers import (
    ACTIVITY,
    EUR,
    PARCEL1,
    REGISTRATION,
    ROOM1,
    SQUARE,
    START_MS,
    assert_error,
    author,
    code,
    item_draft,
    make_engine,
    may,
    message,
    new_pa_id,
    register,
    req,
    snapshot,
)

from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    Profile,
    RightLevel,
    RightSpec,
    Value,
)
from instance.world.seed import new_world

T = START_MS + 100


def placing(engine: ProcessActionEngine) -> ProcessActionRequest:
    """A well-formed request u1 is allowed to make: place its Persona at the MM-Square."""
    u1 = register(engine, "u1")
    return req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T)


# 2. FaultyReq: malformed requests


def _two_nils(r: ProcessActionRequest) -> dict[str, Any]:
    return {"complements": (*r.complements, Complement(ComplementKind.NIL, PARCEL1))}


def _no_nil(r: ProcessActionRequest) -> dict[str, Any]:
    return {"complements": tuple(c for c in r.complements if c.kind is not ComplementKind.NIL)}


MALFORMED: dict[str, Any] = {
    "May Not verb": lambda r: {"verb": DeonticVerb.MAY_NOT},
    "ProcessActionID of another M-Instance": lambda r: {"process_action_id": "mmm://b.example/pa/1"},
    "empty ProcessActionID": lambda r: {"process_action_id": ""},
    "two Nil Complements": _two_nils,
    "no Nil Complement": _no_nil,
    "Complement with an empty id": lambda r: {"complements": (Complement(ComplementKind.NIL, ""),)},
    "Complements not a tuple": lambda r: {"complements": list(r.complements)},
    "negative time": lambda r: {"time_ms": -1},
    "float time": lambda r: {"time_ms": 1.5},
    "bool time": lambda r: {"time_ms": True},
    "negative payment": lambda r: {"payment": Value(-1, EUR)},
    "float payment": lambda r: {"payment": Value(1.5, EUR)},  # type: ignore[arg-type]
    "payment without Currency": lambda r: {"payment": Value(5, "")},
    "If Event with two conditions": lambda r: {
        "if_event": IfEvent(process_action_id="mmm://a.example/pa/x", at_time_ms=T + 10)
    },
    "If Event with no condition": lambda r: {"if_event": IfEvent()},
    "If Event with a float Time": lambda r: {"if_event": IfEvent(at_time_ms=1.5)},  # type: ignore[arg-type]
    "33 carried Items": lambda r: {"items": tuple({"ItemID": f"x{i}"} for i in range(33))},
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_request_is_faultyreq_and_changes_nothing(engine: ProcessActionEngine, case: str) -> None:
    """A malformed request (MMM-TEC request syntax violated) is answered Error FaultyReq, is
    recorded in the Activity Data, and leaves the World unchanged."""
    good = placing(engine)
    bad = replace(good, **MALFORMED[case](good))
    before, records = snapshot(engine.world), len(engine.activity)
    response = engine.handle(bad)
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before
    assert len(engine.activity) == records + 1
    assert engine.activity.query(limit=100_000)[-1].error == "FaultyReq"


NOT_MMM_IDS: dict[str, Any] = {
    "ProcessActionID that is not an mmm:// id": {"process_action_id": "pa-1"},
    "source that is not an mmm:// id": {"source_id": "user1"},
    "destination that is not an mmm:// id": {"destination_id": "user1"},
    "deontic verb that is not a DeonticVerb": {"verb": "May"},
    "Action that is not an Action": {"action": "MM-Add"},
    "ProcessActionID None": {"process_action_id": None},
    "source None": {"source_id": None},
}


@pytest.mark.parametrize("case", sorted(NOT_MMM_IDS))
def test_badly_typed_request_is_faultyreq_never_an_exception(engine: ProcessActionEngine, case: str) -> None:
    """ProcessActionRequest is not validated on construction; the engine "never raises for a bad
    request: the PA Status says what is wrong" (engine.handle). Ids that are not mmm:// ids and
    fields of the wrong type are Error FaultyReq, recorded, and change nothing."""
    good = placing(engine)
    bad = replace(good, **NOT_MMM_IDS[case])
    before = snapshot(engine.world)
    response = engine.handle(bad)
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before


def test_a_request_that_is_not_a_request_object_is_faultyreq(engine: ProcessActionEngine) -> None:
    """engine.handle of something that is not a ProcessActionRequest answers FaultyReq
    (malformed(): "not a Process Action Request") rather than raising."""
    response = engine.handle("MM-Add my Persona please")  # type: ignore[arg-type]
    assert_error(response, PAErrorCode.FAULTY_REQ)


# 3. IncID: sources and destinations


def test_unknown_source_is_incid(engine: ProcessActionEngine) -> None:
    """A source that is no Process of this M-Instance: Error IncID, nothing changes."""
    good = placing(engine)
    before = snapshot(engine.world)
    response = engine.handle(replace(good, source_id="mmm://a.example/processes/ghost"))
    assert_error(response, PAErrorCode.INC_ID)
    assert "ghost" in response.status.reason
    assert snapshot(engine.world) == before


def test_unknown_destination_is_incid(engine: ProcessActionEngine) -> None:
    """A destination that is no Process of this M-Instance: Error IncID."""
    good = placing(engine)
    response = engine.handle(replace(good, destination_id="mmm://a.example/processes/ghost"))
    assert_error(response, PAErrorCode.INC_ID)
    assert engine.world.placements == {}


def test_local_request_to_a_process_of_another_m_instance_is_incid(engine: ProcessActionEngine) -> None:
    """A local Process asking a Process of another M-Instance directly (not through Resolution):
    Error IncID, whose reason points at Resolution."""
    good = placing(engine)
    response = engine.handle(replace(good, destination_id="mmm://b.example/processes/u9"))
    assert_error(response, PAErrorCode.INC_ID)
    assert "Resolution" in response.status.reason
    assert engine.world.placements == {}


def test_source_of_another_m_instance_without_resolution_is_incid(engine: ProcessActionEngine) -> None:
    """A request whose source is a Process of another M-Instance, handed in as local (origin None)
    with a ProcessActionID of that M-Instance: Error IncID."""
    good = placing(engine)
    response = engine.handle(
        replace(good, source_id="mmm://b.example/processes/u9", process_action_id="mmm://b.example/pa/1")
    )
    assert_error(response, PAErrorCode.INC_ID)


def test_resolved_request_whose_source_is_not_of_its_origin_is_incid(engine: ProcessActionEngine) -> None:
    """Through Resolution (origin b.example), a source of c.example: Error IncID."""
    u1 = register(engine, "u1")
    response = engine.handle(
        req("mmm://c.example/processes/x", u1.id, Action.DISCOVER, of=u1.id, time_ms=T),
        origin="b.example",
    )
    assert_error(response, PAErrorCode.INC_ID)


# 4. FaultyReq: Profile, handler, Capabilities


def test_action_outside_the_profile_is_faultyreq_naming_the_profile() -> None:
    """A Baseline-Profile M-Instance asked to Transact (a Finance Action): Error FaultyReq whose
    reason names the Profile; never an exception, nothing moves."""
    engine = make_engine(profile=Profile.BASELINE)
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    assert Action.TRANSACT not in engine.world.profile.actions
    before = snapshot(engine.world)
    response = engine.handle(
        req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(100, EUR), time_ms=T)
    )
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert "Transact" in response.status.reason and "Baseline Profile" in response.status.reason
    assert snapshot(engine.world) == before


def test_baseline_profile_has_no_financial_items() -> None:
    """The Baseline Profile bounds Items too: a Registration opens no Wallet there, and a request
    carrying a Transaction Item (TRA) is Error FaultyReq naming the Profile, changing nothing; the
    Finance Profile opens the Wallet the Rules give."""
    baseline, finance = make_engine(profile=Profile.BASELINE), make_engine(profile=Profile.FINANCE)
    u1, f1 = register(baseline, "u1"), register(finance, "u1")
    assert u1.wallet not in baseline.world.items and baseline.world.processes[u1.id].wallet_id is None
    assert finance.world.items[f1.wallet]["ItemType"] == "WAL"
    transaction = item_draft("tx1", producer=u1.id, item_type="TRA", sub_type="Transaction")
    before = snapshot(baseline.world)
    response = baseline.handle(req(u1.id, u1.id, Action.AUTHOR, nil=transaction["ItemID"], items=[transaction]))
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert "TRA Items are not in the Baseline Profile" in response.status.reason
    assert snapshot(baseline.world) == before


def test_action_in_the_profile_without_a_handler_is_faultyreq() -> None:
    """A High-Profile M-Instance asked to Execute (in the Profile, no handler): Error FaultyReq
    naming the Action, not an exception."""
    engine = make_engine(profile=Profile.HIGH)
    u1 = register(engine, "u1")
    response = engine.handle(req(u1.id, u1.id, Action.EXECUTE, nil=u1.persona, time_ms=T))
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert "Execute" in response.status.reason


def test_action_outside_the_destination_capabilities_is_faultyreq(engine: ProcessActionEngine) -> None:
    """The Registration Service cannot MM-Add: Error FaultyReq whose reason says it is not a
    Capability of the destination."""
    u1 = register(engine, "u1")
    response = engine.handle(req(u1.id, REGISTRATION, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T))
    assert_error(response, PAErrorCode.FAULTY_REQ)
    assert "Capability" in response.status.reason and REGISTRATION in response.status.reason
    assert engine.world.placements == {}


# Check order


def test_faultyreq_comes_before_incid(engine: ProcessActionEngine) -> None:
    """Malformed (two Nils) and an unknown source: the malformed check (step 2) answers."""
    good = placing(engine)
    bad = replace(good, source_id="mmm://a.example/processes/ghost", **_two_nils(good))
    assert code(engine.handle(bad)) == "FaultyReq"


def test_incid_comes_before_profile() -> None:
    """Unknown source and an Action outside the Profile: IncID (step 3) before FaultyReq (step 4)."""
    engine = make_engine(profile=Profile.BASELINE)
    u1 = register(engine, "u1")
    response = engine.handle(
        req("mmm://a.example/processes/ghost", u1.id, Action.TRANSACT, nil=u1.wallet, to=u1.id, time_ms=T)
    )
    assert code(response) == "IncID"


def test_capabilities_come_before_rights(engine: ProcessActionEngine) -> None:
    """Asking the Registration Service to place someone else's Persona in a Room u1 has no Right
    on: FaultyReq (Capabilities, step 4) before InsRights (step 5)."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    response = engine.handle(req(u1.id, REGISTRATION, Action.MM_ADD, nil=u2.persona, at=ROOM1, time_ms=T))
    assert code(response) == "FaultyReq"


def test_rights_come_before_the_handler(engine: ProcessActionEngine) -> None:
    """MM-Add At an M-Location of another M-Instance, without a Right there: InsRights (step 5)
    is answered before the handler's LocOOR (step 6)."""
    u1 = register(engine, "u1")
    response = engine.handle(
        req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at="mmm://b.example/locations/plaza", time_ms=T)
    )
    assert code(response) == "InsRights"


def test_handler_comes_before_the_price(engine: ProcessActionEngine) -> None:
    """A priced Action the handler refuses (Discover Of an unknown Process) is an Error, not a
    Request for payment (step 6 before step 7)."""
    u1 = register(engine, "u1")
    engine.world.prices[(ACTIVITY, Action.DISCOVER)] = Value(5, EUR)
    response = engine.handle(req(u1.id, ACTIVITY, Action.DISCOVER, of="mmm://a.example/processes/ghost", time_ms=T))
    assert code(response) == "IncID"


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


def test_response_status_kinds_are_typed(engine: ProcessActionEngine) -> None:
    """A response carries its ProcessActionID and time and an Ack status with no error code."""
    good = placing(engine)
    response = engine.handle(good)
    assert response.process_action_id == good.process_action_id
    assert response.time_ms == good.time_ms
    assert response.status.kind is PAStatusKind.ACK and response.status.error is None
