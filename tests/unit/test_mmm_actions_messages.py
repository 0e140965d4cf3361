"""The Action handlers of the reference M-Instance's Process Action engine (instance/world/actions,
MMM-TEC V2.2 Actions): the Actions that find, tell and deliver: Discover (Of a Process, At an
M-Location), Inform, Post, MM-Send (and the MaxMessageChars Rule) and Resolve; what a performed
request changes in the World and names in its RS Complements.

The refusal cases of these Actions are in action_refusals.py, run by test_mmm_actions_refusals.py;
the pipeline (check order, retries, Activity Data, replay) is tested in test_mmm_engine_*.py."""

from __future__ import annotations

import pytest
from action_helpers import INC_DQ, Engine, T, Users, new_note, ok, place, refused, rs
from mmm_helpers import ACTIVITY, PARCEL1, RESOLUTION, ROOM1, SQUARE, author, item_draft, loc, pid, req, snapshot

from instance.world.model import Action, DeonticVerb, RightLevel


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


# Inform
def test_inform_puts_a_reference_in_the_to_inbox(engine: Engine, users: Users) -> None:
    """Inform: the To Process's inbox gets the Nil Item; RS Nil Item and To Process."""
    u1, u2 = users
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, ACTIVITY, Action.INFORM, nil=note, to=u2.id, time_ms=T))
    assert rs(response) == [("Nil", note), ("To", u2.id)] and engine.world.inboxes == {u2.id: [note]}


# Post
def test_post_records_the_item_at_the_m_location(engine: Engine, users: Users) -> None:
    """Post: the Nil Item is Posted At an M-Location; RS Nil and At."""
    u1 = users[0]
    note = new_note(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.POST, nil=note, at=SQUARE, time_ms=T))
    assert rs(response) == [("Nil", note), ("At", SQUARE)] and engine.world.posted == {note: SQUARE}


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


# Resolve
@pytest.mark.parametrize("target, is_process", [(pid("u2"), True), (ROOM1, False), ("mmm://b.example/items/x", False)])
def test_resolve_names_where_the_id_lives(engine: Engine, users: Users, target: str, is_process: bool) -> None:
    """Resolve of a Process or Item of this M-Instance, or of any id of another: RS Nil id."""
    response = ok(engine, req(users[0].id, RESOLUTION, Action.RESOLVE, nil=target, time_ms=T))
    assert rs(response) == [("Nil", target)] and response.complements[0].is_process is is_process
