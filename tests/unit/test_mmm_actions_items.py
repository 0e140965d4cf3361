"""The Action handlers of the reference M-Instance's Process Action engine (instance/world/actions,
MMM-TEC V2.2 Actions): the Actions that make, change and check Users and Items: Register,
Authenticate, Identify, Author, Modify (of an Item and of the Rules Item), Convert, Hide and
Validate; what a performed request changes in the World and names in its RS Complements.

The refusal cases of these Actions are in action_refusals.py, run by test_mmm_actions_refusals.py;
the pipeline (check order, retries, Activity Data, replay) is tested in test_mmm_engine_*.py."""

from __future__ import annotations

from action_helpers import CLASH, INC_DQ, VISITOR, Engine, T, Users, new_note, ok, refused, rs
from action_refusals import MODEL, _convert
from mmm_helpers import (
    CONVERSION,
    EUR,
    MANAGER,
    OPENING_MINOR,
    REGISTRATION,
    RESOLUTION,
    ROOM1,
    RULES_ID,
    SQUARE,
    User,
    item_draft,
    loc,
    location_draft,
    message,
    model_draft,
    register_request,
    req,
    snapshot,
)

from instance.world.model import Action, ProcessType
from instance.world.seed import rules_item


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
