"""The Action handlers of the reference M-Instance's Process Action engine (instance/world/actions,
MMM-TEC V2.2 Actions): for each Action, what a performed request changes in the World and names in
its RS Complements, and the PA Status error code of each refusal, which leaves the World unchanged.

Each section adds its refusal cases to REFUSALS, run by test_refusals at the end. The pipeline
(check order, retries, Activity Data, replay) is tested in test_mmm_engine.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from mmm_helpers import (
    ACTIVITY,
    AUTHOR_SERVICE,
    CONVERSION,
    EUR,
    MANAGER,
    OPENING_MINOR,
    PARCEL1,
    PARCELS,
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
    item_draft,
    loc,
    location_draft,
    may,
    may_not,
    message,
    model_draft,
    pid,
    register,
    register_request,
    req,
    snapshot,
)

from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    ProcessType,
    RightLevel,
    RightSpec,
    Value,
)
from instance.world.seed import rules_item
from instance.world.world import Rendering

T = START_MS + 100
VISITOR = "mmm://b.example/processes/v1"
GHOST = pid("ghost")
CLASH, FAULTY, INC_DQ, INC_ID = PAErrorCode.CLASH, PAErrorCode.FAULTY_REQ, PAErrorCode.INC_DQ, PAErrorCode.INC_ID
INS_RIGHTS, INS_VALUE, LOC_OOR = PAErrorCode.INS_RIGHTS, PAErrorCode.INS_VALUE, PAErrorCode.LOC_OOR
Engine = ProcessActionEngine
Users = tuple[User, User]
Case = Callable[[Engine, User, User], ProcessActionRequest]
"""Sets the World up (u1 and u2 registered) and builds a request that must be refused."""
REFUSALS: dict[str, tuple[Case, PAErrorCode]] = {}


@pytest.fixture
def users(engine: Engine) -> Users:
    return register(engine, "u1"), register(engine, "u2")


def ok(engine: Engine, request: ProcessActionRequest, origin: str | None = None) -> ProcessActionResponse:
    response = engine.handle(request, origin=origin)
    assert code(response) == "Ack", response.status
    return response


def refused(engine: Engine, request: ProcessActionRequest, error: PAErrorCode, origin: str | None = None) -> Any:
    """Handle ``request``: Error ``error``, and the World did not change."""
    before = snapshot(engine.world)
    response = engine.handle(request, origin=origin)
    assert_error(response, error)
    assert snapshot(engine.world) == before
    return response


def rs(response: ProcessActionResponse) -> list[tuple[str, str]]:
    return [(c.kind.value, c.ref_id) for c in response.complements]


def new_note(engine: Engine, user: User, local: str = "note", text: str = "hello") -> str:
    draft = message(local, text, producer=user.id)
    author(engine, user.id, draft)
    return draft["ItemID"]


def place(engine: Engine, user: User, item: str | None = None, at: str = SQUARE) -> str:
    """``user`` places ``item`` (its Persona by default) At ``at``; returns the Item."""
    item = item or user.persona
    ok(engine, req(user.id, user.id, Action.MM_ADD, nil=item, at=at, time_ms=T))
    return item


def acquire_room(engine: Engine, user: User) -> None:
    specs = [RightSpec(DeonticVerb.MAY, a, RightLevel.ACQUIRED) for a in (Action.MM_ADD, Action.RIGHTS_MANAGE)]
    ok(engine, req(user.id, AUTHOR_SERVICE, Action.RIGHTS_MANAGE, nil=ROOM1, to=user.id, rights=specs, time_ms=T))


# Register
def test_register_creates_user_device_account_wallet_and_internal_rights(engine: Engine) -> None:
    """Register: the Registration Service makes the User and Device, the Account, a Wallet opening
    with the Rules' amount (integer minor units) and the Internal Rights of a Basic Account."""
    response = ok(engine, register_request("u1", time_ms=T))
    u1, world = User("u1"), engine.world
    assert rs(response) == [("Nil", u1.id), ("To", u1.device), ("Of", u1.account), ("With", u1.persona)]
    user, device = world.processes[u1.id], world.processes[u1.device]
    assert (user.type, user.account_type, user.wallet_id) == (ProcessType.USER, "Basic", u1.wallet)
    assert device.type is ProcessType.DEVICE and Action.MU_ACTUATE in device.capabilities
    assert world.wallets[u1.wallet] == {EUR: OPENING_MINOR} and type(world.balance(u1.wallet, EUR)) is int
    assert world.items[u1.wallet]["Balances"] == [{"Amount": OPENING_MINOR, "CurrencyID": EUR}]
    assert world.items[u1.account]["AccountType"] == "Basic"
    assert world.items[u1.persona]["ICapabilities"][0]["ProcessID"] == u1.id
    assert world.may(u1.id, Action.AUTHOR, None, T) and world.may(u1.id, Action.MM_ADD, SQUARE, T)
    assert world.may(u1.id, Action.MODIFY, u1.persona, T) and world.may(u1.id, Action.TRANSACT, u1.wallet, T)
    assert not world.may(u1.id, Action.MM_ADD, ROOM1, T)


def _register(item_type: str = "", change: Callable[[dict[str, Any]], Any] = dict, **kw: Any) -> Case:
    """Register u9, its carried Item of ``item_type`` changed in place (dropped if it returns False)."""

    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        request = register_request("u9", **kw)
        items = [copy.deepcopy(dict(i)) for i in request.items]
        return replace(request, items=tuple(d for d in items if d["ItemType"] != item_type or change(d) is not False))

    return build


REFUSALS |= {
    "Register: no Personal Profile": (_register("PPR", lambda d: False), FAULTY),
    "Register: Persona named but not carried": (_register("ITM", lambda d: False), INC_ID),
    "Register: already registered": (lambda e, u1, u2: register_request("u1"), CLASH),
    "Register: Account type not in the Rules": (_register(account_type="Gold"), INC_DQ),
    "Register: Personal Profile not valid": (_register("PPR", lambda d: d.pop("Personae")), INC_DQ),
    "Register: User id outside /processes/": (_register("PPR", lambda d: d.update(ProcessID=loc("u9"))), INC_ID),
    "Register: not a Persona": (_register("ITM", lambda d: d["ItemQualifier"].update(SubType="Body")), INC_DQ),
    "Register: Account type not a string": (_register("ACC", lambda d: d.update(AccountType=["Basic"])), INC_DQ),
    "Register: Profile id taken (Rules Item)": (_register("PPR", lambda d: d.update(ItemID=RULES_ID)), CLASH),
}


# Authenticate
def test_authenticate_a_local_process_returns_its_prc_item(engine: Engine, users: Users) -> None:
    """Authenticate of a Process of this M-Instance: RS Nil Process with its PRC Item; nothing changes."""
    u1, u2 = users
    before = snapshot(engine.world)
    response = ok(engine, req(u1.id, REGISTRATION, Action.AUTHENTICATE, nil=u2.id, time_ms=T))
    assert rs(response) == [("Nil", u2.id)] and response.complements[0].is_process
    assert response.items[0]["ItemType"] == "PRC" and response.items[0]["ProcessID"] == u2.id
    assert snapshot(engine.world) == before


def test_authenticate_the_requesting_visitor_through_resolution(engine: Engine) -> None:
    """Authenticate (a ForeignProcessAction of Rules v1) of the requesting Process of the M-Instance
    the request came from (its gateway authenticated it by mTLS): Ack, RS Nil Process."""
    response = ok(engine, req(VISITOR, RESOLUTION, Action.AUTHENTICATE, nil=VISITOR, time_ms=T), origin="b.example")
    assert rs(response) == [("Nil", VISITOR)]


REFUSALS |= {
    f"Authenticate: {nil}": (lambda e, u1, u2, nil=nil: req(u1.id, REGISTRATION, Action.AUTHENTICATE, nil=nil), INC_ID)
    for nil in (GHOST, "mmm://a.example/items/nothing")
}


# Identify
def test_identify_turns_captured_data_into_an_owned_item(engine: Engine, users: Users) -> None:
    """Identify: a carried draft with ItemData becomes an Item of this M-Instance owned by the source."""
    u1 = users[0]
    draft = model_draft("scan", producer=u1.id, fmt="glTF/2.0-binary")
    response = ok(engine, req(u1.id, u1.id, Action.IDENTIFY, nil=draft["ItemID"], items=[draft], time_ms=T))
    stored = engine.world.items[draft["ItemID"]]
    assert rs(response) == [("Nil", draft["ItemID"])] and response.items[0]["ItemData"] == draft["ItemData"]
    assert stored["Trace"][-1]["ProcessID"] == u1.id and stored["ItemData"] == draft["ItemData"]
    assert engine.world.may(u1.id, Action.MODIFY, draft["ItemID"], T)


SAID = message("said", "no ItemData: nothing was captured", producer=pid("u1"))
REFUSALS |= {
    "Identify: no ItemData": (
        lambda e, u1, u2: req(u1.id, u1.id, Action.IDENTIFY, nil=SAID["ItemID"], items=[SAID]),
        INC_DQ,
    )
}


# Author
def test_author_stores_the_item_with_trace_and_owner_rights(engine: Engine, users: Users) -> None:
    """Author: the draft is stored, Final, traced to its author, who gets the owner Rights; the RS
    Item is the Item as stored (with its ICapabilities). An M-Location records where it lies."""
    u1, u2 = users
    draft = message("hi", "hello", producer=u1.id)
    response = ok(engine, req(u1.id, u1.id, Action.AUTHOR, nil=draft["ItemID"], items=[draft], time_ms=T))
    stored = engine.world.items[draft["ItemID"]]
    assert stored["Content"] == {"Text": "hello"} and stored["ItemStatus"] == "Final"
    assert stored["ICapabilities"][0]["ProcessID"] == u1.id and "Modify" in stored["ICapabilities"][0]["Rights"]
    assert all(engine.world.may(u1.id, a, draft["ItemID"], T) for a in (Action.MODIFY, Action.HIDE, Action.MM_SEND))
    assert not engine.world.may(u2.id, Action.MODIFY, draft["ItemID"], T)
    stage = location_draft("stage", producer=u1.id, parent=SQUARE)
    ok(engine, req(u1.id, u1.id, Action.AUTHOR, nil=stage["ItemID"], items=[stage], time_ms=T))
    assert engine.world.location_chain(loc("stage")) == [loc("stage"), SQUARE]
    assert rs(response) == [("Nil", draft["ItemID"])] and response.items[0] == stored


def _author(draft: dict[str, Any], carried: bool = True) -> Case:
    return lambda e, u1, u2: req(u1.id, u1.id, Action.AUTHOR, nil=draft["ItemID"], items=[draft][:carried])


U1 = pid("u1")
ACCOUNT = item_draft(
    "mmm://a.example/accounts/extra",
    producer=U1,
    item_type="ACC",
    sub_type="Account",
    fields={"AccountID": "mmm://a.example/accounts/extra", "ProcessID": U1, "AccountType": "Basic"},
)
BAD_PARENT = item_draft(loc("s"), producer=U1, sub_type="M-Location", content={"Parent": [SQUARE]})
REFUSALS |= {
    "Author: draft not carried": (_author(message("x", "x", producer=U1), carried=False), INC_ID),
    "Author: draft not valid": (_author(item_draft("x", producer=U1, fields={"Bogus": 1})), INC_DQ),
    "Author: reserved Item type (ACC)": (_author(ACCOUNT), FAULTY),
    "Author: id of another M-Instance": (_author(message("mmm://b.example/items/x", "x", producer=U1)), INC_ID),
    "Author: id taken (a Persona)": (_author(item_draft("mmm://a.example/personae/u1", producer=U1)), CLASH),
    "Author: M-Location in no M-Location": (_author(location_draft("s", producer=U1, parent=loc("no"))), LOC_OOR),
    "Author: M-Location Parent not an id": (_author(BAD_PARENT), LOC_OOR),
}


# Modify
def test_modify_replaces_the_item_keeping_trace_and_capabilities(engine: Engine, users: Users) -> None:
    """Modify: the new version replaces the Item; its Trace grows, its ICapabilities stay; RS Nil."""
    u1 = users[0]
    note = new_note(engine, u1)
    old = engine.world.items[note]
    draft = message("note", "edited", producer=u1.id)
    response = ok(engine, req(u1.id, u1.id, Action.MODIFY, nil=note, items=[draft], time_ms=T + 1))
    new = engine.world.items[note]
    assert rs(response) == [("Nil", note)]
    assert new["Content"] == {"Text": "edited"} and new["ICapabilities"] == old["ICapabilities"]
    assert [t["ProcessID"] for t in new["Trace"]] == [u1.id, u1.id]


def test_modify_of_the_rules_item_adds_a_version_from_its_effective_time(engine: Engine) -> None:
    """Modify of the Rules Item by the Manager (Rules change procedure): v2 rules from its Effective Time."""
    v2 = rules_item("a.example", version_id="v2", effective_ms=T + 60_000, max_message_chars=10)
    response = ok(engine, req(MANAGER, MANAGER, Action.MODIFY, nil=RULES_ID, items=[v2], time_ms=T))
    assert rs(response) == [("Nil", RULES_ID)]
    assert [v.version_id for v in engine.world.rules.versions] == ["v1", "v2"]
    assert engine.world.rules.in_force(T + 59_999).version_id == "v1"
    assert engine.world.rules.in_force(T + 60_000).max_message_chars == 10


def _modify(draft: Callable[[User], dict[str, Any]], carried: bool = True) -> Case:
    return lambda e, u1, u2: req(u1.id, u1.id, Action.MODIFY, nil=new_note(e, u1), items=[draft(u1)][:carried])


def _rules(version: str, effective_ms: int) -> Case:
    doc = rules_item("a.example", version_id=version, effective_ms=effective_ms)
    return lambda e, u1, u2: req(MANAGER, MANAGER, Action.MODIFY, nil=RULES_ID, items=[doc], time_ms=T)


REFUSALS |= {
    "Modify: new version not carried": (_modify(lambda u: message("note", "x", producer=u.id), False), INC_ID),
    "Modify: new version not valid": (_modify(lambda u: item_draft("note", producer=u.id, fields={"X": 1})), INC_DQ),
    "Modify: ItemType changed": (_modify(lambda u: {**ACCOUNT, "ItemID": "mmm://a.example/items/note"}), INC_DQ),
    "Modify: Rules change without the notice": (_rules("v2", T + 59_999), CLASH),
    "Modify: Rules version that exists": (_rules("v1", T + 60_000), CLASH),
}


# Convert
MODEL = "mmm://a.example/items/m1"


def _convert(fmt: str, to: str | None = "m1-glb", carried: bool = True) -> Case:
    """u1 authors a VRM/0.x model and asks the Conversion Service for a ``fmt`` version ``to``."""

    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        author(e, u1.id, model_draft("m1", producer=u1.id, fmt="VRM/0.x"), time_ms=T)
        draft = model_draft(to or "m1-glb", producer=u1.id, fmt=fmt)
        result = draft["ItemID"] if to else None
        return req(u1.id, CONVERSION, Action.CONVERT, nil=MODEL, to=result, items=[draft][:carried], time_ms=T)

    return build


def test_convert_makes_a_new_item_from_the_source_for_the_requester(engine: Engine, users: Users) -> None:
    """Convert: VRM/0.x to glTF/2.0-binary; the result names its SourceItemID, is traced through the
    Conversion Service and belongs to the requester; RS To it, as stored."""
    u1 = users[0]
    response = ok(engine, _convert("glTF/2.0-binary")(engine, *users))
    result = "mmm://a.example/items/m1-glb"
    doc = engine.world.items[result]
    assert doc["SourceItemID"] == MODEL and doc["ItemQualifier"]["Format"] == "glTF/2.0-binary"
    assert [t["ProcessID"] for t in doc["Trace"]] == [u1.id, CONVERSION]
    assert engine.world.may(u1.id, Action.MODIFY, result, T)
    assert rs(response) == [("To", result)] and response.items[0] == doc


REFUSALS |= {
    "Convert: Format pair not supported": (_convert("FBX/7.4"), PAErrorCode.QUAL_NS),
    "Convert: no To Complement": (_convert("glTF/2.0-binary", to=None), FAULTY),
    "Convert: To draft not carried": (_convert("glTF/2.0-binary", carried=False), INC_ID),
    "Convert: To id already taken": (_convert("glTF/2.0-binary", to="m1"), CLASH),
}


# Discover
@pytest.mark.parametrize("online", [False, True])
def test_discover_of_a_process_reports_its_presence_and_place(engine: Engine, users: Users, online: bool) -> None:
    """Discover Of a Process: RS Of it and With a Presence Item saying where it is and whether it is
    online (an MM-Send of a Presence Item to the Activity Service sets that); nothing changes."""
    u1, u2 = users
    place(engine, u2, at=PARCEL1)
    if online:
        draft = item_draft("here", producer=u2.id, sub_type="Presence", content={"Online": True})
        author(engine, u2.id, draft)
        ok(engine, req(u2.id, ACTIVITY, Action.MM_SEND, nil=draft["ItemID"], to=ACTIVITY, time_ms=T))
        assert engine.world.presence == {u2.id: True}
    before = snapshot(engine.world)
    response = ok(engine, req(u1.id, ACTIVITY, Action.DISCOVER, of=u2.id, time_ms=T))
    presence = response.items[0]
    assert rs(response) == [("Of", u2.id), ("With", presence["ItemID"])]
    assert presence["Content"] == {"ProcessID": u2.id, "Online": online, "Place": PARCEL1}
    assert snapshot(engine.world) == before


def test_discover_at_lists_placed_items_and_inner_locations_not_hidden_ones(engine: Engine, users: Users) -> None:
    """Discover At: RS With each Item placed there (not Hidden ones) and each M-Location inside it."""
    u1, u2 = users
    note = place(engine, u1, new_note(engine, u1))
    place(engine, u1)
    place(engine, u2, at=PARCEL1)
    ok(engine, req(u1.id, u1.id, Action.HIDE, nil=note, time_ms=T))
    response = ok(engine, req(u2.id, ACTIVITY, Action.DISCOVER, at=SQUARE, time_ms=T))
    assert rs(response) == [("With", u1.persona)] + [("With", loc(f"parcel-{i}")) for i in range(1, 5)]


REFUSALS |= {
    "Discover: Of an unknown Process": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER, of=GHOST), INC_ID),
    "Discover: At no M-Location": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER, at=u1.persona), LOC_OOR),
    "Discover: neither Of nor At": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER), FAULTY),
}


# Inform
def test_inform_puts_a_reference_in_the_to_inbox(engine: Engine, users: Users) -> None:
    """Inform: the To Process's inbox gets the Nil Item; RS Nil Item and To Process."""
    u1, u2 = users
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, ACTIVITY, Action.INFORM, nil=note, to=u2.id, time_ms=T))
    assert rs(response) == [("Nil", note), ("To", u2.id)] and engine.world.inboxes == {u2.id: [note]}


REFUSALS |= {
    f"Inform: To {to}": (
        lambda e, u1, u2, to=to: req(u1.id, ACTIVITY, Action.INFORM, nil=new_note(e, u1), to=to),
        INC_ID,
    )
    for to in (None, GHOST, "mmm://b.example/processes/u9")
}


# Post
def test_post_records_the_item_at_the_m_location(engine: Engine, users: Users) -> None:
    """Post: the Nil Item is Posted At an M-Location; RS Nil and At."""
    u1 = users[0]
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.POST, nil=note, at=SQUARE, time_ms=T))
    assert rs(response) == [("Nil", note), ("At", SQUARE)] and engine.world.posted == {note: SQUARE}


def _post(at: str | None, before: Action | None = None) -> Case:
    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        note = new_note(e, u1)
        if before is not None:
            ok(e, req(u1.id, u1.id, before, nil=note, at=SQUARE if before is Action.POST else None, time_ms=T))
        return req(u1.id, u1.id, Action.POST, nil=note, at=at, time_ms=T + 1)

    return build


REFUSALS |= {
    "Post: a Hidden Item": (_post(SQUARE, Action.HIDE), PAErrorCode.POST_REF),
    "Post: no At": (_post(None), LOC_OOR),
    "Post: At no M-Location": (_post(U1), LOC_OOR),
    "Post: already Posted there": (_post(SQUARE, Action.POST), CLASH),
}


# Hide
def test_hide_marks_the_item_hidden_once(engine: Engine, users: Users) -> None:
    """Hide: the Nil Item is Hidden, RS Nil; hiding it again is Error Clash and changes nothing."""
    u1 = users[0]
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.HIDE, nil=note, time_ms=T))
    assert rs(response) == [("Nil", note)] and engine.world.hidden == {note}
    refused(engine, req(u1.id, u1.id, Action.HIDE, nil=note, time_ms=T + 1), CLASH)


# Validate
def test_validate_records_the_rules_version(engine: Engine, users: Users) -> None:
    """Validate: a valid Item is recorded as validated under the Rules version in force; RS Nil."""
    u1 = users[0]
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.VALIDATE, nil=note, time_ms=T))
    assert rs(response) == [("Nil", note)] and engine.world.validated == {note: "v1"}


def test_validate_of_an_invalid_carried_item_is_incdq(engine: Engine) -> None:
    """Validate of a visitor's carried Item (its ICapabilities let it) that fails its schema: IncDQ."""
    doc = item_draft("mmm://b.example/items/x", producer=VISITOR, fields={"Bogus": 1})
    doc["ICapabilities"] = [{"ProcessID": VISITOR, "Rights": ["Validate"]}]
    request = req(VISITOR, RESOLUTION, Action.VALIDATE, nil=doc["ItemID"], items=[doc], time_ms=T)
    refused(engine, request, INC_DQ, origin="b.example")


# MM-Send
def test_mm_send_delivers_and_lets_the_receiver_render_it(engine: Engine, users: Users) -> None:
    """MM-Send: the To User's inbox gets the Item and the User acquires May MU-Actuate on it, so its
    Device can render it; RS Nil and To. (Presence: see the Discover test.)"""
    u1, u2 = users
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, u2.id, Action.MM_SEND, nil=note, to=u2.id, time_ms=T))
    assert rs(response) == [("Nil", note), ("To", u2.id)] and engine.world.inboxes == {u2.id: [note]}
    (right,) = engine.world.covering(u2.id, Action.MU_ACTUATE, note, T)
    assert (right.verb, right.level, right.granted_by) == (DeonticVerb.MAY, RightLevel.ACQUIRED, u1.id)
    ok(engine, req(u2.id, u2.device, Action.MU_ACTUATE, nil=note, time_ms=T + 1))
    assert engine.world.renderings[-1].item_id == note


def test_mm_send_message_length_rule_is_incdq_with_a_report(engine: Engine, users: Users) -> None:
    """Rule MaxMessageChars (280 in v1): 280 characters are delivered; 281 are Error IncDQ with a Fault
    Behaviour Report (Rule, faulty Process) in the response, and not delivered."""
    u1, u2 = users
    fits, too_long = new_note(engine, u1, "fits", "x" * 280), new_note(engine, u1, "long", "x" * 281)
    ok(engine, req(u1.id, u2.id, Action.MM_SEND, nil=fits, to=u2.id, time_ms=T))
    response = refused(engine, req(u1.id, u2.id, Action.MM_SEND, nil=too_long, to=u2.id, time_ms=T), INC_DQ)
    report = response.items[0]
    assert (report["ItemType"], report["Rule"], report["FaultyProcessID"]) == ("FBR", "MaxMessageChars", u1.id)
    assert rs(response) == [("With", report["ItemID"])] and engine.world.reports == [report["ItemID"]]
    assert engine.world.inboxes == {u2.id: [fits]}


REFUSALS |= {
    f"MM-Send: To {to}": (
        lambda e, u1, u2, to=to: req(u1.id, ACTIVITY, Action.MM_SEND, nil=new_note(e, u1), to=to),
        INC_ID,
    )
    for to in (GHOST, "mmm://b.example/processes/u9")
}


# Rights Manage
def grant(grantor: User, target: str, holder: User, *specs: RightSpec) -> ProcessActionRequest:
    return req(grantor.id, grantor.id, Action.RIGHTS_MANAGE, nil=target, to=holder.id, rights=specs, time_ms=T)


def test_rights_manage_grant_gives_a_granted_right(engine: Engine, users: Users) -> None:
    """Rights Manage To u2: the Granted Right to render u1's Persona exists and works, u1 keeps its own,
    RGT Items are returned, ICapabilities name u2. From u2: all u1 gave u2 there is withdrawn."""
    u1, u2 = users
    response = ok(engine, grant(u1, u1.persona, u2, may(Action.MU_ACTUATE), may_not(Action.MM_ADD)))
    (right,) = engine.world.covering(u2.id, Action.MU_ACTUATE, u1.persona, T)
    assert (right.level, right.granted_by) == (RightLevel.GRANTED, u1.id)
    assert rs(response) == [("Nil", u1.persona), ("To", u2.id)]
    assert response.items[0]["ItemType"] == "RGT" and response.items[0]["RightsID"] == right.rights_id
    assert engine.world.may(u1.id, Action.MU_ACTUATE, u1.persona, T)
    assert {"ProcessID": u2.id, "Rights": ["MU-Actuate"]} in engine.world.items[u1.persona]["ICapabilities"]
    ok(engine, req(u2.id, u2.device, Action.MU_ACTUATE, nil=u1.persona, time_ms=T + 1))
    withdrawn = ok(engine, req(u1.id, u1.id, Action.RIGHTS_MANAGE, nil=u1.persona, frm=u2.id, time_ms=T + 2))
    assert rs(withdrawn) == [("Nil", u1.persona), ("From", u2.id)]
    assert [r for r in engine.world.rights_of(u2.id) if r.target_id == u1.persona] == []


def test_rights_manage_acquired_from_a_service_transfers_the_room(engine: Engine, users: Users) -> None:
    """Rights Manage (Acquired) asked of the Author Service: its Rights on Room1 pass to u1 and the
    offer ends, so a second asker is Error InsRights."""
    u1, u2 = users
    acquire_room(engine, u1)
    world = engine.world
    assert world.may(u1.id, Action.MM_ADD, ROOM1, T) and world.may(u1.id, Action.RIGHTS_MANAGE, ROOM1, T)
    assert world.covering(u1.id, Action.MM_ADD, ROOM1, T)[0].level is RightLevel.ACQUIRED
    assert not world.may(AUTHOR_SERVICE, Action.MM_ADD, ROOM1, T) and ROOM1 not in world.offers
    spec = RightSpec(DeonticVerb.MAY, Action.MM_ADD, RightLevel.ACQUIRED)
    request = req(u2.id, AUTHOR_SERVICE, Action.RIGHTS_MANAGE, nil=ROOM1, to=u2.id, rights=[spec], time_ms=T + 1)
    refused(engine, request, INS_RIGHTS)


def _rm(*specs: RightSpec, to: str | None = "u2", frm: str | None = None, by: str = "u1", dest: str = "u1") -> Case:
    """A Rights Manage request of ``by`` to ``dest``: on u1's Persona, or on what a Service holds."""

    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        ids: dict[str | None, str | None] = {"u1": u1.id, "u2": u2.id, None: None}
        target = {AUTHOR_SERVICE: ROOM1, MANAGER: SQUARE}.get(dest, u1.persona)
        holder, source, destination = ids.get(to, to), ids[by] or "", ids.get(dest, dest) or ""
        return req(source, destination, Action.RIGHTS_MANAGE, nil=target, to=holder, frm=ids[frm], rights=specs)

    return build


MU = may(Action.MU_ACTUATE)
REFUSALS |= {
    "Rights Manage: both To and From": (_rm(MU, frm="u2"), FAULTY),
    "Rights Manage: neither To nor From": (_rm(MU, to=None), FAULTY),
    "Rights Manage: no Rights listed": (_rm(), FAULTY),
    "Rights Manage: a Must Right": (_rm(RightSpec(DeonticVerb.MUST, Action.MU_ACTUATE)), FAULTY),
    "Rights Manage: an Internal Right": (_rm(may(Action.MU_ACTUATE, level=RightLevel.INTERNAL)), FAULTY),
    "Rights Manage: an empty validity window": (_rm(may(Action.MU_ACTUATE, valid_from_ms=T, valid_until_ms=T)), FAULTY),
    "Rights Manage: a Right the grantor lacks": (_rm(may(Action.TRANSACT)), INS_RIGHTS),
    "Rights Manage: an unknown holder": (_rm(MU, to=GHOST), INC_ID),
    "Rights Manage: asking for what is not offered": (_rm(MU, to="u1", dest=MANAGER), INS_RIGHTS),
    "Rights Manage: asking a Service for another": (_rm(may(Action.MM_ADD), dest=AUTHOR_SERVICE), INS_RIGHTS),
    "Rights Manage: withdrawal asked by another": (_rm(to=None, frm="u2", by="u2"), INS_RIGHTS),
    "Rights Manage: withdrawing what was not given": (_rm(to=None, frm="u2"), CLASH),
}


# Resolve
@pytest.mark.parametrize("target, is_process", [(pid("u2"), True), (ROOM1, False), ("mmm://b.example/items/x", False)])
def test_resolve_names_where_the_id_lives(engine: Engine, users: Users, target: str, is_process: bool) -> None:
    """Resolve of a Process or Item of this M-Instance, or of any id of another: RS Nil id."""
    response = ok(engine, req(users[0].id, RESOLUTION, Action.RESOLVE, nil=target, time_ms=T))
    assert rs(response) == [("Nil", target)] and response.complements[0].is_process is is_process


REFUSALS |= {
    "Resolve: unknown id here": (lambda e, u1, u2: req(u1.id, RESOLUTION, Action.RESOLVE, nil=GHOST), INC_ID),
    "Resolve: not an mmm:// id": (lambda e, u1, u2: req(u1.id, RESOLUTION, Action.RESOLVE, nil="room-1"), FAULTY),
}


# Transact, and paying for a Process Action
def test_transact_moves_exactly_the_amount(engine: Engine, users: Users) -> None:
    """Transact: 2.50 EUR moves from u1's Wallet to u2's, in integer minor units; RS Nil TRA Item. To a
    Process of another M-Instance, this M-Instance's clearing Wallet for it is credited."""
    u1, u2 = users
    response = ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id, payment=Value(250, EUR)))
    world = engine.world
    assert world.wallets[u1.wallet] == {EUR: OPENING_MINOR - 250}
    assert world.wallets[u2.wallet] == {EUR: OPENING_MINOR + 250}
    ((kind, tx),) = rs(response)
    doc = world.transactions[tx]
    assert kind == "Nil" and world.items[tx] == doc == response.items[0]
    assert (doc["PayerProcessID"], doc["PayeeProcessID"], doc["Status"]) == (u1.id, u2.id, "Final")
    assert doc["Value"] == {"Amount": 250, "CurrencyID": EUR} and type(doc["Value"]["Amount"]) is int
    ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=VISITOR, payment=Value(100, EUR)))
    assert world.balance(world.clearing_wallet("b.example"), EUR) == 100
    assert world.balance(u1.wallet, EUR) == OPENING_MINOR - 350


def _pay(amount: int | None, currency: str = EUR, to: str | None = "u2") -> Case:
    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        payment = None if amount is None else Value(amount, currency)
        return req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=u2.id if to == "u2" else to, payment=payment)

    return build


REFUSALS |= {
    "Transact: more than the balance": (_pay(OPENING_MINOR + 1), INS_VALUE),
    "Transact: a Currency the Wallet lacks": (_pay(1, "USD"), INS_VALUE),
    "Transact: no Value": (_pay(None), FAULTY),
    "Transact: no payee": (_pay(1, to=None), FAULTY),
    "Transact: a zero amount": (_pay(0), FAULTY),
    "Transact: a payee without a Wallet": (_pay(1, to=REGISTRATION), INC_ID),
    "Transact: an unknown payee": (_pay(1, to=GHOST), INC_ID),
    "Transact: a payee that is not a ProcessID": (_pay(1, to="hello"), INC_ID),
}


def test_a_priced_action_is_performed_once_paid(engine: Engine, users: Users) -> None:
    """Service Pricing Model: the Parcel Service asks 5.00 EUR (Request); u1 Transacts and repeats the
    request With the Transaction: Ack, the Right is given, the Value moved once; a wrong payment is
    InsValue, reusing the Transaction Clash."""
    u1 = users[0]
    price = Value(500, EUR)
    engine.world.prices[(PARCELS, Action.RIGHTS_MANAGE)] = price

    def ask(**kw: Any) -> ProcessActionRequest:
        return req(u1.id, PARCELS, Action.RIGHTS_MANAGE, nil=PARCEL1, to=u1.id, rights=[may(Action.POST)], **kw)

    before = snapshot(engine.world)
    asked = engine.handle(ask())
    assert asked.status.kind is PAStatusKind.REQUEST and asked.status.value == price
    assert snapshot(engine.world) == before
    paid = ok(engine, req(u1.id, u1.id, Action.TRANSACT, nil=u1.wallet, to=PARCELS, payment=price, time_ms=T))
    tx = paid.complements[0].ref_id
    refused(engine, ask(payment=Value(499, EUR), with_=tx), INS_VALUE)
    ok(engine, ask(payment=price, with_=tx))
    assert engine.world.may(u1.id, Action.POST, PARCEL1, T) and engine.world.consumed == {tx}
    assert engine.world.balance(u1.wallet, EUR) == OPENING_MINOR - 500
    assert engine.world.balance(engine.world.processes[PARCELS].wallet_id or "", EUR) == 500
    refused(engine, ask(payment=price, with_=tx), CLASH)


@pytest.mark.parametrize("value, error", [({"Amount": 5, "CurrencyID": EUR}, None), (None, INC_DQ)])
def test_a_visitor_pays_with_its_m_instance_transaction(
    engine: Engine, users: Users, value: dict[str, Any] | None, error: PAErrorCode | None
) -> None:
    """A visitor's Discover (0.05 EUR) paid by its M-Instance's carried TRA Item credits the Activity
    Service 5 from the clearing Wallet of b.example; a TRA Item without a Value is Error IncDQ."""
    fields = {"PayerProcessID": VISITOR, "PayeeProcessID": ACTIVITY, "Status": "Final", "Time": "1970-01-01T00:00:00Z"}
    tx = "mmm://b.example/transactions/t1"
    fields |= {"TransactionID": tx, **({"Value": value} if value else {})}
    doc = item_draft(tx, producer=VISITOR, item_type="TRA", sub_type="Transaction", fields=fields)
    request = replace(
        req(VISITOR, ACTIVITY, Action.DISCOVER, of=users[0].id, with_=tx, items=[doc]), payment=Value(5, EUR)
    )
    if error is not None:
        refused(engine, request, error, origin="b.example")
        return
    ok(engine, request, origin="b.example")
    assert engine.world.balance(engine.world.processes[ACTIVITY].wallet_id or "", EUR) == 5
    assert engine.world.balance(engine.world.clearing_wallet("b.example"), EUR) == -5


# MM-Add
def test_mm_add_places_the_item(engine: Engine, users: Users) -> None:
    """MM-Add: u1's Persona is placed At the MM-Square, by u1; RS Nil and At. An acquired Room placed
    At a parcel now lies in the parcel, in the MM-Square."""
    u1 = users[0]
    response = ok(engine, req(u1.id, u1.id, Action.MM_ADD, nil=u1.persona, at=SQUARE, time_ms=T))
    assert rs(response) == [("Nil", u1.persona), ("At", SQUARE)]
    assert engine.world.placements == {u1.persona: SQUARE} and engine.world.placed_by == {u1.persona: u1.id}
    acquire_room(engine, u1)
    place(engine, u1, ROOM1, PARCEL1)
    assert engine.world.location_chain(ROOM1) == [ROOM1, PARCEL1, SQUARE]


def test_mm_add_beyond_the_rules_limit_is_clash_with_a_report(engine: Engine, users: Users) -> None:
    """Rule MaxPlacementsPerProcess (8 in v1): a 9th placement is Error Clash with a Fault Behaviour
    Report, and is not placed."""
    u1 = users[0]
    for i in range(8):
        place(engine, u1, new_note(engine, u1, f"n{i}"))
    ninth = new_note(engine, u1, "n8")
    response = refused(engine, req(u1.id, u1.id, Action.MM_ADD, nil=ninth, at=SQUARE, time_ms=T), CLASH)
    assert response.items[0]["Rule"] == "MaxPlacementsPerProcess" and len(engine.world.placements) == 8


def _placing(action: Action, *, placed: bool, at: str | None = PARCEL1) -> Case:
    """u1 asks to place its Persona (placed at the MM-Square first if ``placed``) At ``at`` (None: a note)."""

    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        persona = place(e, u1) if placed else u1.persona
        return req(u1.id, u1.id, action, nil=persona, at=at or new_note(e, u1), time_ms=T + 1)

    return build


REFUSALS |= {
    "MM-Add: an Item already placed": (_placing(Action.MM_ADD, placed=True), CLASH),
    "MM-Add: At an Item that is no M-Location": (_placing(Action.MM_ADD, placed=False, at=None), LOC_OOR),
}


# MM-Move
def test_mm_move_moves_and_names_where_it_left(engine: Engine, users: Users) -> None:
    """MM-Move: the placed Persona moves to a parcel; RS Nil, At and From the M-Location it left."""
    u1 = users[0]
    place(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.MM_MOVE, nil=u1.persona, at=PARCEL1, time_ms=T + 1))
    assert rs(response) == [("Nil", u1.persona), ("At", PARCEL1), ("From", SQUARE)]
    assert engine.world.placements == {u1.persona: PARCEL1}


REFUSALS |= {
    "MM-Move: an Item not placed": (_placing(Action.MM_MOVE, placed=False), CLASH),
    "MM-Move: At an Item that is no M-Location": (_placing(Action.MM_MOVE, placed=True, at=None), LOC_OOR),
}


# MM-Animate
@pytest.mark.parametrize("with_stream", [False, True])
def test_mm_animate_animates_a_placed_item(engine: Engine, users: Users, with_stream: bool) -> None:
    """MM-Animate of a placed Persona, With a motion Item or the default animation; RS Nil."""
    u1 = users[0]
    place(engine, u1)
    stream = new_note(engine, u1, "wave") if with_stream else None
    response = ok(engine, req(u1.id, u1.id, Action.MM_ANIMATE, nil=u1.persona, with_=stream, time_ms=T + 1))
    assert rs(response) == [("Nil", u1.persona)]
    assert engine.world.animations == {u1.persona: stream or "default"}


def _animate(*, placed: bool) -> Case:
    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        persona = place(e, u1) if placed else u1.persona
        return req(u1.id, u1.id, Action.MM_ANIMATE, nil=persona, with_="mmm://a.example/items/no-motion")

    return build


REFUSALS |= {
    "MM-Animate: an Item not placed": (_animate(placed=False), CLASH),
    "MM-Animate: With an unknown animation Item": (_animate(placed=True), INC_ID),
}


# MU-Actuate and MU-Add
@pytest.mark.parametrize("action, at", [(Action.MU_ACTUATE, None), (Action.MU_ADD, "mmm://a.example/ulocations/desk")])
def test_a_device_renders_the_item(engine: Engine, users: Users, action: Action, at: str | None) -> None:
    """MU-Actuate / MU-Add: u1's Device renders its Persona (At a U-Location for MU-Add); the
    rendering is recorded; RS Nil."""
    u1 = users[0]
    response = ok(engine, req(u1.id, u1.device, action, nil=u1.persona, at=at, time_ms=T))
    assert rs(response) == [("Nil", u1.persona)]
    assert engine.world.renderings == [Rendering(u1.device, u1.persona, action, at, T)]


def _render(action: Action, *, device: bool = True, own: bool = True, at: str | None = None) -> Case:
    """u1 (u2 if not ``own``) asks its Device (itself if not ``device``) to render u1's Persona."""

    def build(e: Engine, u1: User, u2: User) -> ProcessActionRequest:
        who = u1 if own else u2
        return req(who.id, who.device if device else who.id, action, nil=u1.persona, at=at, time_ms=T)

    return build


REFUSALS |= {
    "MU-Actuate: by a User, not a Device": (_render(Action.MU_ACTUATE, device=False), FAULTY),
    "MU-Actuate: another's Persona": (_render(Action.MU_ACTUATE, own=False), INS_RIGHTS),
    "MU-Add: without an At U-Location": (_render(Action.MU_ADD), FAULTY),
    "MU-Add: by a User, not a Device": (_render(Action.MU_ADD, device=False, at=SQUARE), FAULTY),
}


# Refusals of every Action
@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals(engine: Engine, users: Users, case: str) -> None:
    """Each refusal listed above (Action: case) is Error with the code the Action must carry, and
    the World does not change."""
    build, error = REFUSALS[case]
    refused(engine, build(engine, *users), error)
