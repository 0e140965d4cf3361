"""Shared helpers for the tests of Rights Levels, Rules versions and deferred Process Actions of the
reference M-Instance (instance/world: actions/rights.py, rulebook.py, engine.py; MMM-TEC V2.2
Rights, Rules and If Events): the times of a Rules change (its notice and Effective Time), request
builders, a Rules change, the Fault Behaviour Report a response names, and the Rights a Process
holds."""

from __future__ import annotations

from typing import Any

from mmm_helpers import AUTHOR_SERVICE, MANAGER, ROOM1, RULES_ID, SQUARE, START_MS, User, code, message, req

from instance.world.engine import ProcessActionEngine
from instance.world.model import (
    Action,
    ComplementKind,
    DeonticVerb,
    ProcessActionRequest,
    ProcessActionResponse,
    RightLevel,
    RightSpec,
)
from instance.world.seed import rules_item

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
