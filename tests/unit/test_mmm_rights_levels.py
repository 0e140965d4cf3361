"""Rights Levels of the reference M-Instance (instance/world: actions/rights.py, engine.py; MMM-TEC
V2.2 Rights): Internal Rights given at Registration by the Rules in force, Acquired transfers
(final), Granted Rights until withdrawn, what Rights Manage may not give, May Not over May, validity
windows, a May Not Right never transferred, and no Right gained by MM-Sending an Item to oneself."""

from __future__ import annotations

import pytest
from mmm_helpers import (
    AUTHOR_SERVICE,
    MANAGER,
    PARCEL1,
    ROOM1,
    SQUARE,
    START_MS,
    User,
    assert_error,
    author,
    code,
    grant,
    may,
    may_not,
    message,
    register,
    register_request,
    req,
    snapshot,
)
from rules_rights_helpers import PUBLIC, E, T, acquired, change_rules, codes, modify_note, own_room, put, rights_of

from instance.world.engine import ProcessActionEngine
from instance.world.model import ANY_TARGET, Action, DeonticVerb, PAErrorCode, PAStatusKind, RightLevel, RightSpec
from instance.world.seed import USER_INTERNAL_RIGHTS

# 1. Rights Levels


def test_registration_gives_exactly_the_internal_rights_of_the_account_type(engine: ProcessActionEngine) -> None:
    """A Basic User gets one May Right (Level Internal, from the M-Instance) per Action the Rules
    list: the "*" ones, placement on every public M-Location, Transact on its Wallet and the Item
    Actions on its Persona; no Action outside the list, no Right that ends."""
    u1 = register(engine, "u1", time_ms=T)
    rights = engine.world.rights_of(u1.id)
    assert {r.action.value for r in rights} == set(USER_INTERNAL_RIGHTS)
    assert all(r.verb is DeonticVerb.MAY and r.level is RightLevel.INTERNAL for r in rights)
    assert all(r.granted_by == MANAGER and r.valid_from_ms == T and r.valid_until_ms is None for r in rights)
    by_target = {t: {r.action.value for r in rights if r.target_id == t} for t in {r.target_id for r in rights}}
    assert by_target.keys() == {ANY_TARGET, u1.persona, u1.wallet, *PUBLIC}
    assert by_target[ANY_TARGET] == {"Author", "Identify", "Discover", "Resolve", "Authenticate"}
    assert by_target[u1.wallet] == {"Transact"}
    assert all(by_target[p] == {"MM-Add", "MM-Move"} for p in PUBLIC)
    assert by_target[u1.persona] == set(USER_INTERNAL_RIGHTS) - by_target[ANY_TARGET] - {"Transact"}


def test_internal_rights_follow_the_rules_version_in_force_at_registration(engine: ProcessActionEngine) -> None:
    """An Account type only a new Rules version has is IncDQ before its Effective Time (nothing made)
    and gives exactly its listed Internal Rights from then on; Users registered earlier keep theirs."""
    u1 = register(engine, "u1", time_ms=T)
    before_u1 = rights_of(engine, u1.id)
    guest = {"InternalRights": ["Discover", "MM-Add"]}
    assert code(change_rules(engine, "v2", E, AccountTypes={"Guest": guest})) == "Ack"
    before = snapshot(engine.world)
    assert_error(engine.handle(register_request("g1", account_type="Guest", time_ms=E - 1)), PAErrorCode.INC_DQ)
    assert snapshot(engine.world) == before
    assert code(engine.handle(register_request("g2", account_type="Guest", time_ms=E))) == "Ack"
    g2 = User("g2")
    assert rights_of(engine, g2.id) == {
        ("May", "Discover", ANY_TARGET, "Internal"),
        ("May", "MM-Add", g2.persona, "Internal"),
        *{("May", "MM-Add", p, "Internal") for p in PUBLIC},
    }
    assert engine.world.processes[g2.id].wallet_id is None and g2.wallet not in engine.world.wallets
    assert rights_of(engine, u1.id) == before_u1


def test_acquired_transfer_moves_the_rights_from_the_author_service(engine: ProcessActionEngine) -> None:
    """Asking the Author Service for Room1 at Level Acquired moves its May Rights for those Actions
    to the User (ICapabilities follow); the Service keeps the others, can no longer give Room1 to
    anyone (InsRights, nothing changes) and no longer offers it."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    own_room(engine, u1, Action.MM_ADD, Action.MM_MOVE, Action.RIGHTS_MANAGE)
    assert rights_of(engine, u1.id) >= {("May", a, ROOM1, "Acquired") for a in ("MM-Add", "MM-Move", "Rights Manage")}
    assert {r.granted_by for r in engine.world.rights_of(u1.id) if r.target_id == ROOM1} == {AUTHOR_SERVICE}
    assert {a for _, a, t, _ in rights_of(engine, AUTHOR_SERVICE) if t == ROOM1} == {"Post", "Hide"}
    assert ROOM1 not in engine.world.offers
    caps = {c["ProcessID"]: set(c["Rights"]) for c in engine.world.items[ROOM1]["ICapabilities"]}
    assert caps == {u1.id: {"MM-Add", "MM-Move", "Rights Manage"}, AUTHOR_SERVICE: {"Post", "Hide"}}
    assert codes(engine, put(u1, ROOM1)) == ["Ack"]
    before = snapshot(engine.world)
    assert_error(grant(engine, AUTHOR_SERVICE, ROOM1, u2.id, may(Action.MM_ADD), time_ms=T), PAErrorCode.INS_RIGHTS)
    asked = req(u2.id, AUTHOR_SERVICE, Action.RIGHTS_MANAGE, nil=ROOM1, to=u2.id, rights=acquired(Action.MM_ADD))
    assert_error(engine.handle(asked), PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before


def test_acquired_transfer_between_users_is_final(engine: ProcessActionEngine) -> None:
    """A User who transfers a Right (Acquired) no longer has it, and cannot take it back with
    Rights Manage From (an Error that changes nothing): the new holder keeps it."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    own_room(engine, u1, Action.MM_ADD, Action.RIGHTS_MANAGE)
    sold = grant(engine, u1.id, ROOM1, u2.id, *acquired(Action.MM_ADD), time_ms=T)
    assert code(sold) == "Ack"
    assert ("May", "MM-Add", ROOM1, "Acquired") in rights_of(engine, u2.id)
    assert not engine.world.may(u1.id, Action.MM_ADD, ROOM1, T)
    assert codes(engine, put(u1, ROOM1)) == ["InsRights"]
    before = snapshot(engine.world)
    taken_back = engine.handle(req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=ROOM1, frm=u2.id, time_ms=T + 1))
    assert taken_back.status.kind is PAStatusKind.ERROR, taken_back.status
    assert snapshot(engine.world) == before
    assert codes(engine, put(u2, ROOM1, time_ms=T + 2)) == ["Ack"]


def test_granted_right_lets_the_holder_act_until_withdrawn(engine: ProcessActionEngine) -> None:
    """A Granted May Modify lets u2 Modify u1's note while u1 keeps its own Right; once u1 withdraws
    it (Rights Manage From), u2's Modify is InsRights and changes nothing, and u1 still may."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("note", "v1", producer=u1.id)
    author(engine, u1.id, note)
    assert code(grant(engine, u1.id, note["ItemID"], u2.id, may(Action.MODIFY), time_ms=T)) == "Ack"
    assert ("May", "Modify", note["ItemID"], "Granted") in rights_of(engine, u2.id)
    assert code(modify_note(engine, u2.id, "by u2", time_ms=T + 1)) == "Ack"
    assert engine.world.items[note["ItemID"]]["Content"] == {"Text": "by u2"}
    withdraw = req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=note["ItemID"], frm=u2.id, time_ms=T + 2)
    assert code(engine.handle(withdraw)) == "Ack"
    assert not any(r.target_id == note["ItemID"] for r in engine.world.rights_of(u2.id))
    before = snapshot(engine.world)
    assert_error(modify_note(engine, u2.id, "again", time_ms=T + 3), PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    assert code(modify_note(engine, u1.id, "by u1", time_ms=T + 4)) == "Ack"


def test_a_process_cannot_give_a_right_it_does_not_hold(engine: ProcessActionEngine) -> None:
    """Holding Rights Manage and MM-Add on Room1 but not MM-Move, u1 cannot give MM-Move there
    (InsRights, nothing changes); its grantee can give on only what it was given itself."""
    u1, u2, u3 = register(engine, "u1"), register(engine, "u2"), register(engine, "u3")
    own_room(engine, u1, Action.MM_ADD, Action.RIGHTS_MANAGE)
    assert engine.world.may(AUTHOR_SERVICE, Action.MM_MOVE, ROOM1, T)
    before = snapshot(engine.world)
    assert_error(grant(engine, u1.id, ROOM1, u2.id, may(Action.MM_MOVE), time_ms=T), PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    given = grant(engine, u1.id, ROOM1, u2.id, may(Action.MM_ADD), may(Action.RIGHTS_MANAGE), time_ms=T + 1)
    assert code(given) == "Ack"
    assert code(grant(engine, u2.id, ROOM1, u3.id, may(Action.MM_ADD), time_ms=T + 2)) == "Ack"
    before = snapshot(engine.world)
    assert_error(grant(engine, u2.id, ROOM1, u3.id, may(Action.MM_MOVE), time_ms=T + 3), PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    assert {a for _, a, t, _ in rights_of(engine, u3.id) if t == ROOM1} == {"MM-Add"}


@pytest.mark.parametrize(
    "specs",
    [
        [RightSpec(DeonticVerb.MAY, Action.MODIFY, RightLevel.INTERNAL)],
        [RightSpec(DeonticVerb.MUST, Action.MODIFY)],
        [may(Action.MODIFY), RightSpec(DeonticVerb.MUST, Action.MODIFY, RightLevel.ACQUIRED)],
    ],
    ids=["Internal", "Must", "one Must among others"],
)
def test_internal_and_must_are_not_given_by_rights_manage(engine: ProcessActionEngine, specs: list[RightSpec]) -> None:
    """A Right at Level Internal or with the verb Must in a grant: FaultyReq, and none of the listed
    Rights is given."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("note", "v1", producer=u1.id)
    author(engine, u1.id, note)
    before = snapshot(engine.world)
    assert_error(grant(engine, u1.id, note["ItemID"], u2.id, *specs, time_ms=T), PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before


def test_may_not_overrides_may(engine: ProcessActionEngine) -> None:
    """A May Not MM-Add on the MM-Square the manager gives u2 overrides u2's Internal May there
    (InsRights, nothing changes) while it is in force, and only there."""
    u2 = register(engine, "u2")
    assert code(grant(engine, MANAGER, SQUARE, u2.id, may_not(Action.MM_ADD, valid_until_ms=T + 50))) == "Ack"
    assert ("May", "MM-Add", SQUARE, "Internal") in rights_of(engine, u2.id)
    before = snapshot(engine.world)
    assert_error(engine.handle(put(u2, SQUARE, time_ms=T + 49)), PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    assert engine.world.may(u2.id, Action.MM_ADD, PARCEL1, T + 49)
    assert codes(engine, put(u2, SQUARE, time_ms=T + 50)) == ["Ack"]
    assert engine.world.placements == {u2.persona: SQUARE}


def test_validity_windows_are_honoured_at_the_request_time(engine: ProcessActionEngine) -> None:
    """A Right valid from T+100 (inclusive) until T+200 (exclusive) covers requests at T+100 and
    T+199 only; an empty window is FaultyReq and gives nothing."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    author(engine, u1.id, message("note", "v1", producer=u1.id))
    note = "mmm://a.example/items/note"
    before = snapshot(engine.world)
    empty = may(Action.MODIFY, valid_from_ms=T + 100, valid_until_ms=T + 100)
    assert_error(grant(engine, u1.id, note, u2.id, empty, time_ms=T), PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before
    window = may(Action.MODIFY, valid_from_ms=T + 100, valid_until_ms=T + 200)
    assert code(grant(engine, u1.id, note, u2.id, window, time_ms=T)) == "Ack"
    outcomes = {t: code(modify_note(engine, u2.id, f"at {t}", time_ms=t)) for t in (T + 99, T + 100, T + 199, T + 200)}
    assert outcomes == {T + 99: "InsRights", T + 100: "Ack", T + 199: "Ack", T + 200: "InsRights"}
    assert engine.world.items[note]["Content"] == {"Text": f"at {T + 199}"}


def test_a_may_not_right_is_not_transferred(engine: ProcessActionEngine) -> None:
    """A May Not Right given at Level Acquired could never be withdrawn (a transfer is final), so
    a delegate could lock an owner out of its own Item for good: Rights Manage refuses it
    FaultyReq and changes nothing; at Level Granted it is given, and withdrawn."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("note-u1", "mine", producer=u1.id)
    author(engine, u1.id, note)
    assert code(grant(engine, u1.id, note["ItemID"], u2.id, may(Action.RIGHTS_MANAGE))) == "Ack"
    before = snapshot(engine.world)
    locked = grant(engine, u2.id, note["ItemID"], u1.id, may_not(Action.MODIFY, level=RightLevel.ACQUIRED))
    assert_error(locked, PAErrorCode.FAULTY_REQ)
    assert snapshot(engine.world) == before
    assert code(grant(engine, u2.id, note["ItemID"], u1.id, may_not(Action.MODIFY))) == "Ack"
    lifted = engine.handle(req(u2.id, u2.id, Action.RIGHTS_MANAGE, nil=note["ItemID"], frm=u1.id))
    assert code(lifted) == "Ack"
    assert engine.world.may(u1.id, Action.MODIFY, note["ItemID"], START_MS)


def test_sending_an_item_to_oneself_gives_no_right_to_render_it(engine: ProcessActionEngine) -> None:
    """MM-Send gives the receiving User the Right to render what it received, but a Process that
    sends an Item to itself gains nothing: May MM-Send alone does not become May MU-Actuate."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    note = message("note-u1", "mine", producer=u1.id)
    author(engine, u1.id, note)
    assert code(grant(engine, u1.id, note["ItemID"], u2.id, may(Action.MM_SEND))) == "Ack"
    sent = engine.handle(req(u2.id, u2.id, Action.MM_SEND, nil=note["ItemID"], to=u2.id))
    assert code(sent) == "Ack"
    assert not engine.world.may(u2.id, Action.MU_ACTUATE, note["ItemID"], START_MS)
    assert_error(engine.handle(req(u2.id, u2.device, Action.MU_ACTUATE, nil=note["ItemID"])), PAErrorCode.INS_RIGHTS)
