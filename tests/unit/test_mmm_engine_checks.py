"""The Process Action engine's pipeline (instance/world/engine.py, MMM-TEC V2.2 Inter-Process
Protocol): the checks a request passes and their PA Status codes: FaultyReq for
a malformed or badly typed request, IncID for unknown or misplaced sources and destinations,
FaultyReq for an Action outside the Profile, without a handler or outside the destination's
Capabilities, and the order of the checks (FaultyReq, IncID, Profile, Capabilities, Rights,
handler, price)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from engine_helpers import T, placing
from mmm_helpers import (
    ACTIVITY,
    EUR,
    PARCEL1,
    REGISTRATION,
    ROOM1,
    SQUARE,
    assert_error,
    code,
    item_draft,
    make_engine,
    register,
    req,
    snapshot,
)

from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    PAErrorCode,
    ProcessActionRequest,
    Profile,
    Value,
)

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
