"""Shared helpers for the tests of the reference M-Instance's Action handlers
(instance/world/actions, MMM-TEC V2.2 Actions): PA Status error codes, request outcomes (``ok``,
``refused``: the World unchanged), the RS Complements of a response, and small World set-ups (a
note, a placement, Room1). The ``users`` fixture (u1 and u2 registered) is in conftest.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmm_helpers import (
    AUTHOR_SERVICE,
    ROOM1,
    SQUARE,
    START_MS,
    User,
    assert_error,
    author,
    code,
    message,
    pid,
    req,
    snapshot,
)

from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    ProcessActionRequest,
    ProcessActionResponse,
    RightLevel,
    RightSpec,
)

T = START_MS + 100
VISITOR = "mmm://b.example/processes/v1"
GHOST = pid("ghost")
CLASH, FAULTY, INC_DQ, INC_ID = PAErrorCode.CLASH, PAErrorCode.FAULTY_REQ, PAErrorCode.INC_DQ, PAErrorCode.INC_ID
INS_RIGHTS, INS_VALUE, LOC_OOR = PAErrorCode.INS_RIGHTS, PAErrorCode.INS_VALUE, PAErrorCode.LOC_OOR
Engine = ProcessActionEngine
Users = tuple[User, User]
Case = Callable[[Engine, User, User], ProcessActionRequest]
"""Sets the World up (u1 and u2 registered) and builds a request that must be refused."""


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
