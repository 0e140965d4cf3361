"""The Action handlers of the reference M-Instance's Process Action engine (instance/world/actions,
MMM-TEC V2.2 Actions): placing and rendering: MM-Add (and the MaxPlacementsPerProcess Rule),
MM-Move, MM-Animate, MU-Actuate and MU-Add; what a performed request changes in the World and names
in its RS Complements.

The refusal cases of these Actions are in action_refusals.py, run by test_mmm_actions_refusals.py;
the pipeline (check order, retries, Activity Data, replay) is tested in test_mmm_engine_*.py."""

from __future__ import annotations

import pytest
from action_helpers import CLASH, Engine, T, Users, acquire_room, new_note, ok, place, refused, rs
from mmm_helpers import PARCEL1, ROOM1, SQUARE, req

from instance.world.model import Action
from instance.world.world import Rendering


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


# MM-Move
def test_mm_move_moves_and_names_where_it_left(engine: Engine, users: Users) -> None:
    """MM-Move: the placed Persona moves to a parcel; RS Nil, At and From the M-Location it left."""
    u1 = users[0]
    place(engine, u1)
    response = ok(engine, req(u1.id, u1.id, Action.MM_MOVE, nil=u1.persona, at=PARCEL1, time_ms=T + 1))
    assert rs(response) == [("Nil", u1.persona), ("At", PARCEL1), ("From", SQUARE)]
    assert engine.world.placements == {u1.persona: PARCEL1}


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


# MU-Actuate and MU-Add
@pytest.mark.parametrize("action, at", [(Action.MU_ACTUATE, None), (Action.MU_ADD, "mmm://a.example/ulocations/desk")])
def test_a_device_renders_the_item(engine: Engine, users: Users, action: Action, at: str | None) -> None:
    """MU-Actuate / MU-Add: u1's Device renders its Persona (At a U-Location for MU-Add); the
    rendering is recorded; RS Nil."""
    u1 = users[0]
    response = ok(engine, req(u1.id, u1.device, action, nil=u1.persona, at=at, time_ms=T))
    assert rs(response) == [("Nil", u1.persona)]
    assert engine.world.renderings == [Rendering(u1.device, u1.persona, action, at, T)]
