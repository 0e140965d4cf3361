"""Rights Levels, Rules versions and deferred Process Actions of the reference M-Instance
(instance/world: actions/rights.py, rulebook.py, engine.py; MMM-TEC V2.2 Rights, Rules and If Events)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from mmm_helpers import (
    AUTHOR_SERVICE,
    MANAGER,
    PARCEL1,
    PARCEL2,
    REGISTRATION,
    RESOLUTION,
    ROOM1,
    RULES_ID,
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
    model_draft,
    register,
    register_request,
    req,
    snapshot,
)

from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    ANY_TARGET,
    Action,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    RightLevel,
    RightSpec,
)
from instance.world.seed import FOREIGN_ACTIONS, USER_INTERNAL_RIGHTS, rules_item

T = START_MS + 100
NOTICE = 60_000  # MinNoticeMs of the seeded Rules (seed.rules_item)
E = T + NOTICE  # the Effective Time of a Rules version announced at T with the least notice allowed
VISITOR = "mmm://b.example/processes/v1"
PUBLIC = {SQUARE, *(f"mmm://a.example/locations/parcel-{i}" for i in range(1, 5))}


def put(user: User, at: str, *, action: Action = Action.MM_ADD, **kw: Any) -> ProcessActionRequest:
    """``user`` MM-Adds (or ``action``) its Persona At ``at``."""
    return req(user.id, user.id, action, nil=user.persona, at=at, **kw)


def codes(engine: ProcessActionEngine, *requests: ProcessActionRequest) -> list[str]:
    return [code(engine.handle(r)) for r in requests]


def acquired(*actions: Action) -> list[RightSpec]:
    return [RightSpec(DeonticVerb.MAY, a, RightLevel.ACQUIRED) for a in actions]


def own_room(engine: ProcessActionEngine, user: User, *actions: Action) -> None:
    """``user`` asks the Author Service for Room1's Rights for ``actions`` (Acquired: a transfer)."""
    specs = acquired(*actions)
    response = engine.handle(req(user.id, AUTHOR_SERVICE, Action.RIGHTS_MANAGE, nil=ROOM1, to=user.id, rights=specs))
    assert code(response) == "Ack", response.status


def modify_note(engine: ProcessActionEngine, who: str, text: str, *, time_ms: int) -> ProcessActionResponse:
    """``who`` Modifies u1's note to ``text``."""
    draft = message("note", text, producer="mmm://a.example/processes/u1")
    return engine.handle(req(who, who, Action.MODIFY, nil=draft["ItemID"], items=[draft], time_ms=time_ms))


def change_rules(
    engine: ProcessActionEngine, version: str, effective_ms: int, *, at_ms: int = T, by: str = MANAGER, **rules: Any
) -> ProcessActionResponse:
    """``by`` Modifies the Rules Item to a new version (seed.rules_item, with ``rules`` replaced)."""
    doc = rules_item("a.example", version_id=version, effective_ms=effective_ms)
    doc["Rules"].update(rules)
    return engine.handle(req(by, by, Action.MODIFY, nil=RULES_ID, items=[doc], time_ms=at_ms))


def report(engine: ProcessActionEngine, response: ProcessActionResponse) -> dict[str, Any]:
    """The report a response names With, checked to be the latest report the World keeps."""
    with_ids = [c.ref_id for c in response.complements if c.kind is ComplementKind.WITH]
    assert with_ids == [engine.world.reports[-1]], response
    doc = engine.world.items[with_ids[0]]
    assert [dict(i) for i in response.items] == [doc]
    return doc


def rights_of(engine: ProcessActionEngine, holder: str) -> set[tuple[str, str, str, str]]:
    return {(r.verb.value, r.action.value, r.target_id, r.level.value) for r in engine.world.rights_of(holder)}


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


# 2. Rules versions


def test_a_lower_max_message_chars_takes_effect_at_its_effective_time(engine: ProcessActionEngine) -> None:
    """The manager's Rules change (v2: at most 10 characters) is Ack and changes nothing before its
    Effective Time: a 40-character MM-Send at E-1 is Ack under v1; at E it is IncDQ with a Fault
    Behaviour Report naming v2 and changes nothing; the Activity Data says which version decided."""
    u1, u2 = register(engine, "u1"), register(engine, "u2")
    long_note = message("long", "x" * 40, producer=u1.id)
    author(engine, u1.id, long_note)
    assert code(change_rules(engine, "v2", E, MaxMessageChars=10)) == "Ack"
    assert [v.version_id for v in engine.world.rules.versions] == ["v1", "v2"]
    assert engine.world.rules.in_force(E - 1).version_id == "v1"
    send = req(u1.id, u2.id, Action.MM_SEND, nil=long_note["ItemID"], to=u2.id, time_ms=E - 1)
    assert code(engine.handle(send)) == "Ack"
    assert engine.world.inboxes[u2.id] == [long_note["ItemID"]]
    before = snapshot(engine.world)
    late = engine.handle(req(u1.id, u2.id, Action.MM_SEND, nil=long_note["ItemID"], to=u2.id, time_ms=E))
    assert_error(late, PAErrorCode.INC_DQ)
    assert snapshot(engine.world) == before
    fbr = report(engine, late)
    assert (fbr["ItemType"], fbr["Rule"], fbr["RulesVersionID"]) == ("FBR", "MaxMessageChars", "v2")
    assert fbr["FaultyProcessID"] == u1.id
    records = engine.activity.query(process_id=u2.id)[-2:]
    assert [(r.status, r.rules_version) for r in records] == [("Ack", "v1"), ("Error", "v2")]
    assert engine.activity.query(process_id=MANAGER)[-1].rules_version == "v1"


def test_foreign_process_actions_change_at_their_effective_time(engine: ProcessActionEngine) -> None:
    """A version that no longer lets other M-Instances ask for Resolve: a visitor's Resolve is Ack
    at E-1 and InsRights with a Fault Detection Report about b.example from E."""
    u1 = register(engine, "u1")
    no_resolve = [a for a in FOREIGN_ACTIONS if a != "Resolve"]
    assert code(change_rules(engine, "v2", E, ForeignProcessActions=no_resolve)) == "Ack"
    early = engine.handle(req(VISITOR, RESOLUTION, Action.RESOLVE, nil=u1.persona, time_ms=E - 1), origin="b.example")
    assert code(early) == "Ack"
    before = snapshot(engine.world)
    late = engine.handle(req(VISITOR, RESOLUTION, Action.RESOLVE, nil=u1.persona, time_ms=E), origin="b.example")
    assert_error(late, PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    fdr = report(engine, late)
    assert (fdr["ItemType"], fdr["Rule"], fdr["RulesVersionID"]) == ("FDR", "ForeignProcessActions", "v2")
    assert fdr["ReportedMInstanceID"] == "b.example" and fdr["FaultyProcessID"] == VISITOR


def test_max_placements_per_process_changes_at_its_effective_time(engine: ProcessActionEngine) -> None:
    """v2 allows one placed Item per Process: u1's second placement is Ack at E-1, its third is
    refused at E with a Fault Behaviour Report, and nothing is placed."""
    u1 = register(engine, "u1")
    for name in ("m1", "m2"):
        author(engine, u1.id, model_draft(name, producer=u1.id, fmt="glTF/2.0-binary"))
    assert codes(engine, put(u1, SQUARE)) == ["Ack"]
    assert code(change_rules(engine, "v2", E, MaxPlacementsPerProcess=1)) == "Ack"
    m1, m2 = "mmm://a.example/items/m1", "mmm://a.example/items/m2"
    assert code(engine.handle(req(u1.id, u1.id, Action.MM_ADD, nil=m1, at=SQUARE, time_ms=E - 1))) == "Ack"
    before = snapshot(engine.world)
    late = engine.handle(req(u1.id, u1.id, Action.MM_ADD, nil=m2, at=SQUARE, time_ms=E))
    assert_error(late, PAErrorCode.CLASH)
    assert snapshot(engine.world) == before
    assert (report(engine, late)["Rule"], m2 in engine.world.placements) == ("MaxPlacementsPerProcess", False)


def test_only_the_change_procedure_process_changes_the_rules(engine: ProcessActionEngine) -> None:
    """A User's Modify of the Rules Item, itself or through the manager, is InsRights and leaves
    the Rules and their Item unchanged."""
    u1 = register(engine, "u1")
    before = snapshot(engine.world)
    assert_error(change_rules(engine, "v2", E, by=u1.id), PAErrorCode.INS_RIGHTS)
    doc = rules_item("a.example", version_id="v2", effective_ms=E)
    via_manager = engine.handle(req(u1.id, MANAGER, Action.MODIFY, nil=RULES_ID, items=[doc], time_ms=T))
    assert_error(via_manager, PAErrorCode.INS_RIGHTS)
    assert snapshot(engine.world) == before
    assert engine.world.items[RULES_ID]["RulesVersionID"] == "v1"


def test_a_rules_change_needs_notice_a_new_version_and_a_later_effective_time(engine: ProcessActionEngine) -> None:
    """Announced 1 ms short of MinNoticeMs: refused; exactly MinNoticeMs: Ack. Then v1 or v2 again,
    or a v3 effective at or before v2, are refused changing nothing; a v3 effective after v2 is Ack."""
    before = snapshot(engine.world)
    short = change_rules(engine, "v2", E - 1)
    assert short.status.kind is PAStatusKind.ERROR and "less than" in short.status.reason
    assert snapshot(engine.world) == before
    assert code(change_rules(engine, "v2", E + 10, at_ms=T + 10)) == "Ack"
    assert engine.world.items[RULES_ID]["RulesVersionID"] == "v2"
    before = snapshot(engine.world)
    for version_id, effective in (("v1", E + 20), ("v2", E + 20), ("v3", E + 10), ("v3", E)):
        refused = change_rules(engine, version_id, effective)
        assert refused.status.kind is PAStatusKind.ERROR, (version_id, effective, refused.status)
    assert snapshot(engine.world) == before
    assert code(change_rules(engine, "v3", E + 11)) == "Ack"
    assert [v.version_id for v in engine.world.rules.versions] == ["v1", "v2", "v3"]


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
