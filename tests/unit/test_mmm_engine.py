"""Process Action evaluation (MMM-TEC V2.2): PA Status from Profile, Capabilities and Rights."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instance.mmm.engine import ProcessActionEngine
from instance.mmm.model import (
    ANY_TARGET,
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    PAStatusKind,
    Process,
    ProcessActionRequest,
    ProcessType,
    Profile,
    Right,
    RightLevel,
    Value,
)
from mmmfed.errors import AlreadyExists, InvalidInput, NotFound

USER = Process("mmm://a/p/user", ProcessType.USER)
AUTHOR = Process("mmm://a/p/author", ProcessType.SERVICE, frozenset({Action.AUTHOR, Action.MM_ADD, Action.TRANSACT}))
ITEM = "mmm://a/i/chair"
EUR = "EUR"


def may(action: Action = Action.MM_ADD, target: str = ITEM, *, rid: str = "r1", **kw: object) -> Right:
    return Right(rid, USER.process_id, DeonticVerb.MAY, action, target, RightLevel.INTERNAL, "mmm://a", **kw)  # type: ignore[arg-type]


def may_not(action: Action = Action.MM_ADD, target: str = ITEM, *, rid: str = "r2") -> Right:
    return Right(rid, USER.process_id, DeonticVerb.MAY_NOT, action, target, RightLevel.GRANTED, AUTHOR.process_id)


def req(action: Action = Action.MM_ADD, target: str | None = ITEM, *, time_ms: int = 5_000, **kw: object):
    complements = (Complement(ComplementKind.NIL, target),) if target else ()
    fields = {
        "verb": DeonticVerb.MAY,
        "action": action,
        "source_id": USER.process_id,
        "destination_id": AUTHOR.process_id,
        "complements": (*complements, Complement(ComplementKind.AT, "mmm://a/loc/1")),
        "time_ms": time_ms,
    }
    fields.update(kw)
    return ProcessActionRequest(**fields)  # type: ignore[arg-type]


def engine(*rights: Right, profile: Profile = Profile.BASELINE, **kw: object) -> ProcessActionEngine:
    return ProcessActionEngine(profile, [USER, AUTHOR], rights, **kw)  # type: ignore[arg-type]


def error_of(status: PAStatus) -> PAErrorCode | None:
    assert status.kind is PAStatusKind.ERROR, status
    assert status.reason
    return status.error


# PA Status code paths


def test_a_may_right_in_force_gives_ack() -> None:
    """A May Right on the Item, in force, with the Action in Profile and Capabilities: Ack."""
    assert engine(may()).evaluate(req()) == PAStatus.ack()


def test_a_wildcard_right_covers_every_target() -> None:
    """A May Right on "*" covers the Action on any Item."""
    assert engine(may(target=ANY_TARGET)).evaluate(req(target="mmm://a/i/other")).is_ack


def test_a_right_on_another_item_does_not_cover() -> None:
    """A May Right on one Item does not cover another: InsRights."""
    assert error_of(engine(may()).evaluate(req(target="mmm://a/i/other"))) is PAErrorCode.INS_RIGHTS


def test_no_rights_gives_ins_rights() -> None:
    """Without any Right the source may do nothing."""
    assert error_of(engine().evaluate(req())) is PAErrorCode.INS_RIGHTS


def test_may_not_beats_may() -> None:
    """A May Not covering the same Action and target wins over a May, even a wildcard one."""
    status = engine(may(target=ANY_TARGET), may_not()).evaluate(req())
    assert error_of(status) is PAErrorCode.INS_RIGHTS
    assert "r2" in status.reason


def test_a_must_right_neither_permits_nor_forbids() -> None:
    """Must obligations are out of scope: a Must Right alone does not permit."""
    must = replace(may(), verb=DeonticVerb.MUST)
    assert error_of(engine(must).evaluate(req())) is PAErrorCode.INS_RIGHTS


@pytest.mark.parametrize("time_ms", [999, 2_000, 2_001])
def test_a_right_outside_its_validity_window_does_not_count(time_ms: int) -> None:
    """Valid from 1000 inclusive until 2000 exclusive: before or after, InsRights."""
    right = may(valid_from_ms=1_000, valid_until_ms=2_000)
    assert error_of(engine(right).evaluate(req(time_ms=time_ms))) is PAErrorCode.INS_RIGHTS
    assert engine(right).evaluate(req(time_ms=1_000)).is_ack
    assert engine(right).evaluate(req(time_ms=1_999)).is_ack


def test_an_expired_may_not_no_longer_forbids() -> None:
    """A May Not outside its window does not override a May in force."""
    forbid = Right("r2", USER.process_id, DeonticVerb.MAY_NOT, Action.MM_ADD, ITEM, RightLevel.GRANTED, "x", 0, 1_000)
    assert engine(may(), forbid).evaluate(req(time_ms=1_000)).is_ack


@pytest.mark.parametrize(
    "change",
    [
        {"verb": DeonticVerb.MAY_NOT},
        {"verb": DeonticVerb.MUST},
        {"verb": "Might"},
        {"action": "Teleport"},
        {"source_id": ""},
        {"destination_id": None},
        {"time_ms": -1},
        {"time_ms": True},
        {"complements": [Complement(ComplementKind.NIL, ITEM)]},
        {"complements": (Complement(ComplementKind.NIL, ""),)},
        {"complements": (Complement(ComplementKind.NIL, ITEM), Complement(ComplementKind.NIL, ITEM))},
        {"complements": (Complement(ComplementKind.TO, ITEM),)},
        {"complements": ()},
        {"payment": Value(-1, EUR)},
        {"payment": 10},
    ],
)
def test_malformed_requests_give_faulty_req(change: dict[str, object]) -> None:
    """Bad verbs, Actions, ids, times, Complements or payments give FaultyReq, never an exception."""
    assert error_of(engine(may()).evaluate(replace(req(), **change))) is PAErrorCode.FAULTY_REQ  # type: ignore[arg-type]


def test_a_non_request_gives_faulty_req() -> None:
    """Anything that is not a ProcessActionRequest is FaultyReq."""
    assert error_of(engine().evaluate("MM-Add chair")) is PAErrorCode.FAULTY_REQ  # type: ignore[arg-type]


def test_register_needs_no_target_and_only_wildcard_rights_cover_it() -> None:
    """Register has no Nil Complement: a "*" May Right covers it; a Right on an Item does not."""
    registrar = Process("mmm://a/p/reg", ProcessType.SERVICE, frozenset({Action.REGISTER}))
    request = req(Action.REGISTER, None, destination_id=registrar.process_id, complements=())
    rights = [may(Action.REGISTER, ANY_TARGET)]
    assert ProcessActionEngine(Profile.BASELINE, [USER, registrar], rights).evaluate(request).is_ack
    narrow = [may(Action.REGISTER, ITEM)]
    status = ProcessActionEngine(Profile.BASELINE, [USER, registrar], narrow).evaluate(request)
    assert error_of(status) is PAErrorCode.INS_RIGHTS


@pytest.mark.parametrize("field", ["source_id", "destination_id"])
def test_unknown_process_ids_give_inc_id(field: str) -> None:
    """A source or destination that is not a Process of the M-Instance: IncID."""
    status = engine(may()).evaluate(replace(req(), **{field: "mmm://a/p/ghost"}))
    assert error_of(status) is PAErrorCode.INC_ID


def test_an_action_outside_the_profile_gives_loc_oor() -> None:
    """Transact is not in Baseline (LocOOR) but is in Finance, with the same Rights."""
    rights = (may(Action.TRANSACT),)
    assert error_of(engine(*rights).evaluate(req(Action.TRANSACT))) is PAErrorCode.LOC_OOR
    assert engine(*rights, profile=Profile.FINANCE).evaluate(req(Action.TRANSACT)).is_ack


def test_an_action_outside_the_destination_capabilities_gives_loc_oor() -> None:
    """The destination cannot Modify, whatever the source's Rights."""
    assert error_of(engine(may(Action.MODIFY)).evaluate(req(Action.MODIFY))) is PAErrorCode.LOC_OOR


def test_profiles_nest_and_baseline_is_as_documented() -> None:
    """Each Profile includes the one before; Baseline has 19 Actions, Finance adds Transact, High has all."""
    assert len(Profile.BASELINE.actions) == 19
    assert Profile.FINANCE.actions - Profile.BASELINE.actions == {Action.TRANSACT}
    assert Profile.BASELINE.actions < Profile.FINANCE.actions < Profile.MANAGEMENT.actions < Profile.HIGH.actions
    assert Profile.HIGH.actions == frozenset(Action)


def test_a_priced_action_requests_a_value_then_acks_when_paid() -> None:
    """The destination charges: Request with the price; enough payment: Ack; too little or wrong Currency: InsValue."""
    price = Value(250, EUR)
    eng = engine(may(), prices={(AUTHOR.process_id, Action.MM_ADD): price})
    assert eng.evaluate(req()) == PAStatus.request(price, eng.evaluate(req()).reason)
    assert eng.evaluate(req()).value == price
    assert eng.evaluate(req(payment=Value(250, EUR))).is_ack
    assert error_of(eng.evaluate(req(payment=Value(249, EUR)))) is PAErrorCode.INS_VALUE
    assert error_of(eng.evaluate(req(payment=Value(250, "USD")))) is PAErrorCode.INS_VALUE


def test_rights_are_checked_before_payment() -> None:
    """A source without Rights gets InsRights, not a payment Request."""
    eng = engine(prices={(AUTHOR.process_id, Action.MM_ADD): Value(1, EUR)})
    assert error_of(eng.evaluate(req())) is PAErrorCode.INS_RIGHTS


# Rights Manage


def test_grant_and_revoke_change_the_answer() -> None:
    """Granting a May Right allows the Action; revoking it takes the permission back."""
    eng = engine()
    eng.grant(may())
    assert eng.evaluate(req()).is_ack
    assert eng.revoke("r1") == may()
    assert error_of(eng.evaluate(req())) is PAErrorCode.INS_RIGHTS


def test_rights_manage_errors() -> None:
    """Duplicate RightsID, unknown holder, unknown revoke and an empty window are refused."""
    eng = engine(may())
    with pytest.raises(AlreadyExists):
        eng.grant(may())
    with pytest.raises(NotFound):
        eng.grant(replace(may(rid="r9"), holder_id="mmm://a/p/ghost"))
    with pytest.raises(NotFound):
        eng.revoke("nope")
    with pytest.raises(InvalidInput):
        may(valid_from_ms=5, valid_until_ms=5)
    with pytest.raises(AlreadyExists):
        ProcessActionEngine(Profile.BASELINE, [USER, USER])


# Property: no sequence of grant/revoke/evaluate lets a Process exceed its Rights

TARGETS = [ITEM, "mmm://a/i/table"]
ACTIONS = [Action.MM_ADD, Action.AUTHOR, Action.MODIFY, Action.TRANSACT]
right_specs = st.tuples(
    st.sampled_from([DeonticVerb.MAY, DeonticVerb.MAY_NOT, DeonticVerb.MUST]),
    st.sampled_from(ACTIONS),
    st.sampled_from([*TARGETS, ANY_TARGET]),
    st.integers(0, 10),
    st.one_of(st.none(), st.integers(1, 10)),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), right_specs),
        st.tuples(st.just("revoke"), st.integers(0, 12)),
        st.tuples(
            st.just("evaluate"), st.tuples(st.sampled_from(ACTIONS), st.sampled_from(TARGETS), st.integers(0, 12))
        ),
    ),
    max_size=30,
)


def expected_allowed(rights: dict[str, tuple], action: Action, target: str, t: int, profile: Profile) -> bool:
    """Independent model: in Profile, in Capabilities, some May in force covers, no May Not in force covers."""
    if action not in profile.actions or action not in AUTHOR.capabilities:
        return False
    live = [
        verb
        for verb, r_action, r_target, start, end in rights.values()
        if r_action == action and r_target in (target, "*") and start <= t and (end is None or t < end)
    ]
    return "May" in live and "May Not" not in live


@settings(max_examples=300, deadline=None)
@given(ops=operations, profile=st.sampled_from(list(Profile)))
def test_no_sequence_of_grants_and_revokes_exceeds_rights(ops: list[tuple], profile: Profile) -> None:
    """After any grant/revoke history, evaluate Acks exactly when the Rights in force allow the Action."""
    eng = ProcessActionEngine(profile, [USER, AUTHOR])
    model: dict[str, tuple] = {}
    for n, (op, arg) in enumerate(ops):
        if op == "grant":
            verb, action, target, start, length = arg
            end = None if length is None else start + length
            rid = f"r{n}"
            eng.grant(Right(rid, USER.process_id, verb, action, target, RightLevel.GRANTED, "x", start, end))
            model[rid] = (verb.value, action, target, start, end)
        elif op == "revoke":
            rid = f"r{arg}"
            if rid in model:
                del model[rid]
                eng.revoke(rid)
            else:
                with pytest.raises(NotFound):
                    eng.revoke(rid)
        else:
            action, target, t = arg
            status = eng.evaluate(req(action, target, time_ms=t))
            assert status.is_ack == expected_allowed(model, action, target, t, profile), (status, model)
            if not status.is_ack:
                assert status.error in {PAErrorCode.INS_RIGHTS, PAErrorCode.LOC_OOR}
