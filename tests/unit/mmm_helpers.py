"""Shared helpers for the tests of the reference M-Instance's Process Action engine
(``instance/world``): ids of the seeded World, request builders, Registration of Users, Item drafts
and a snapshot of the World's state to compare before and after a request."""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.itemdocs import item_doc
from instance.world.model import (
    Action,
    DeonticVerb,
    IfEvent,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    Profile,
    RightSpec,
    Value,
    complements,
)
from instance.world.seed import new_world
from instance.world.world import World
from mmmfed.cli.phase0 import persona_draft

M = "a.example"
EUR = "EUR"
START_MS = 1_000_000
OPENING_MINOR = 10_000
"""Rules v1: a Basic Account's Wallet opens with 100.00 EUR (seed.rules_item)."""


def pid(name: str, m: str = M) -> str:
    return f"mmm://{m}/processes/{name}"


def loc(name: str, m: str = M) -> str:
    return f"mmm://{m}/locations/{name}"


def item_id(local: str, m: str = M) -> str:
    return f"mmm://{m}/items/{local}"


MANAGER = pid("manager")
REGISTRATION = pid("registration")
ACTIVITY = pid("activity")
PARCELS = pid("parcels")
AUTHOR_SERVICE = pid("author")
RESOLUTION = pid("resolution")
CONVERSION = pid("conversion")
APP = pid("app")
SQUARE = loc("mm-square")
PARCEL1, PARCEL2 = loc("parcel-1"), loc("parcel-2")
ROOM1, ROOM2 = loc("room-1"), loc("room-2")
RULES_ID = f"mmm://{M}/rules/current"


def make_engine(*, profile: Profile = Profile.FINANCE, activity: ActivityLog | None = None) -> ProcessActionEngine:
    """A fresh seeded World of ``a.example`` and its engine, Activity Data in memory by default."""
    return ProcessActionEngine(new_world(M, profile=profile), activity or ActivityLog(":memory:"))


_counter = itertools.count(1)


def new_pa_id(source: str = "") -> str:
    """A fresh ProcessActionID of the source's M-Instance (``a.example`` for a non-mmm source)."""
    m = source.removeprefix("mmm://").split("/", 1)[0] if source.startswith("mmm://") else M
    return f"mmm://{m}/pa/t{next(_counter)}"


def req(
    source: str,
    destination: str,
    action: Action,
    *,
    nil: str | None = None,
    at: str | None = None,
    to: str | None = None,
    frm: str | None = None,
    of: str | None = None,
    with_: str | None = None,
    items: Sequence[dict[str, Any]] = (),
    rights: Sequence[RightSpec] = (),
    payment: Value | None = None,
    verb: DeonticVerb = DeonticVerb.MAY,
    time_ms: int = START_MS,
    pa_id: str | None = None,
    if_event: IfEvent | None = None,
) -> ProcessActionRequest:
    """A request as ``mmmfed/cli/phase0.py`` builds them (a Complement naming ``/processes/`` names
    a Process)."""
    return ProcessActionRequest(
        verb,
        action,
        source,
        destination,
        complements(nil=nil, at=at, to=to, frm=frm, of=of, with_=with_),
        time_ms,
        payment,
        process_action_id=pa_id or new_pa_id(source),
        if_event=if_event,
        rights=tuple(rights),
        items=tuple(items),
    )


def code(response: ProcessActionResponse) -> str:
    """``Ack``, ``Request`` or the error code of the response's PA Status."""
    status = response.status
    if status.kind is PAStatusKind.ERROR:
        assert status.error is not None and status.reason, status
        return status.error.value
    return status.kind.value


def assert_error(response: ProcessActionResponse, error: PAErrorCode) -> None:
    status = response.status
    assert status.kind is PAStatusKind.ERROR, status
    assert status.error is error, status
    assert status.reason, status


# Item drafts


def item_draft(
    local_or_id: str,
    *,
    producer: str,
    sub_type: str = "Message",
    content: dict[str, Any] | None = None,
    item_type: str = "ITM",
    fields: dict[str, Any] | None = None,
    qualifier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Item draft of ``a.example`` (``local_or_id``: an ``mmm://`` id or a local name under /items/)."""
    the_id = local_or_id if local_or_id.startswith("mmm://") else item_id(local_or_id)
    m = the_id.removeprefix("mmm://").split("/", 1)[0]
    all_fields: dict[str, Any] = {"Content": content} if content is not None else {}
    all_fields.update(fields or {})
    doc = item_doc(
        m_instance_id=m,
        item_id=the_id,
        item_type=item_type,
        sub_type=sub_type,
        producer_id=producer,
        time_ms=START_MS,
        fields=all_fields,
    )
    if qualifier is not None:
        doc["ItemQualifier"] = {"SubType": sub_type, **qualifier}
    return doc


def message(local: str, text: str, *, producer: str) -> dict[str, Any]:
    return item_draft(local, producer=producer, sub_type="Message", content={"Text": text})


def location_draft(local: str, *, producer: str, parent: str | None) -> dict[str, Any]:
    """An M-Location draft lying in ``parent`` (None: top level)."""
    return item_draft(
        loc(local), producer=producer, sub_type="M-Location", content={"Parent": parent} if parent else {}
    )


def model_draft(local: str, *, producer: str, fmt: str) -> dict[str, Any]:
    """A 3D-model ITM Item (not a Persona) with Qualifier Format ``fmt`` and an ItemData binding."""
    return item_draft(
        local,
        producer=producer,
        sub_type="Model",
        qualifier={"Format": fmt},
        fields={"ItemData": _binding(local.encode())},
    )


def _binding(data: bytes) -> dict[str, Any]:
    return {
        "MediaType": "model/gltf-binary",
        "Size": len(data),
        "Digest": {"Algorithm": "sha-256", "Value": hashlib.sha256(data).hexdigest()},
    }


@functools.cache
def _real_persona(m: str, human: str, avatar: str) -> dict[str, Any]:
    return persona_draft(m, human, Path(avatar), time_ms=START_MS)


def persona(human: str, *, avatar: Path | None = None, m: str = M) -> dict[str, Any]:
    """The Persona draft of ``human``: made from the sample ``avatar`` file (``persona_draft`` of
    mmmfed/cli/phase0.py) when it exists, else a synthetic VRM 0.x one of the same shape."""
    if avatar is not None and avatar.is_file():
        return copy.deepcopy(_real_persona(m, human, str(avatar)))
    doc = item_draft(
        f"mmm://{m}/personae/{human}",
        producer=pid(human, m),
        sub_type="Persona",
        qualifier={"Format": "VRM/0.x", "Attributes": {"Triangles": "3439"}},
        fields={"ItemData": _binding(human.encode())},
    )
    return doc


def profile_items(
    human: str, *, personae: Sequence[dict[str, Any]], account_type: str | None = "Basic", m: str = M
) -> list[dict[str, Any]]:
    """The PPR (naming the Personae) and, unless ``account_type`` is None, the ACC draft of ``human``."""
    user = pid(human, m)
    ppr = item_doc(
        m_instance_id=m,
        item_id=f"mmm://{m}/profiles/{human}",
        item_type="PPR",
        sub_type="PersonalProfile",
        producer_id=user,
        time_ms=START_MS,
        fields={"ProcessID": user, "Personae": [p["ItemID"] for p in personae]},
    )
    out = [ppr]
    if account_type is not None:
        out.append(
            item_doc(
                m_instance_id=m,
                item_id=f"mmm://{m}/accounts/{human}",
                item_type="ACC",
                sub_type="Account",
                producer_id=user,
                time_ms=START_MS,
                fields={
                    "AccountID": f"mmm://{m}/accounts/{human}",
                    "ProcessID": user,
                    "HumanID": human,
                    "AccountType": account_type,
                },
            )
        )
    return out


def register_request(
    human: str,
    *,
    avatar: Path | None = None,
    account_type: str | None = "Basic",
    time_ms: int = START_MS,
    pa_id: str | None = None,
) -> ProcessActionRequest:
    """The App asks the Registration Service to Register ``human`` (PPR + ACC + Persona drafts)."""
    the_persona = persona(human, avatar=avatar)
    items = [*profile_items(human, personae=[the_persona], account_type=account_type), the_persona]
    return req(APP, REGISTRATION, Action.REGISTER, items=items, time_ms=time_ms, pa_id=pa_id)


@dataclass(frozen=True)
class User:
    """A registered User and what Registration made for it."""

    human: str

    @property
    def id(self) -> str:
        return pid(self.human)

    @property
    def device(self) -> str:
        return pid(f"{self.human}-device")

    @property
    def persona(self) -> str:
        return f"mmm://{M}/personae/{self.human}"

    @property
    def wallet(self) -> str:
        return f"mmm://{M}/wallets/{self.human}"

    @property
    def account(self) -> str:
        return f"mmm://{M}/accounts/{self.human}"


def register(engine: ProcessActionEngine, human: str, *, avatar: Path | None = None, time_ms: int = START_MS) -> User:
    """Register ``human`` and check it was Ack'd."""
    response = engine.handle(register_request(human, avatar=avatar, time_ms=time_ms))
    assert code(response) == "Ack", response.status
    return User(human)


def author(
    engine: ProcessActionEngine, user: str, draft: dict[str, Any], *, time_ms: int = START_MS
) -> ProcessActionResponse:
    """``user`` Authors ``draft`` (carried), asking itself; checked Ack."""
    response = engine.handle(req(user, user, Action.AUTHOR, nil=draft["ItemID"], items=[draft], time_ms=time_ms))
    assert code(response) == "Ack", response.status
    return response


def grant(
    engine: ProcessActionEngine,
    grantor: str,
    target: str,
    holder: str,
    *specs: RightSpec,
    time_ms: int = START_MS,
) -> ProcessActionResponse:
    """``grantor`` gives ``holder`` Rights on ``target`` on its own initiative (not checked)."""
    return engine.handle(
        req(grantor, grantor, Action.RIGHTS_MANAGE, nil=target, to=holder, rights=specs, time_ms=time_ms)
    )


def may(action: Action, **kw: Any) -> RightSpec:
    return RightSpec(DeonticVerb.MAY, action, **kw)


def may_not(action: Action, **kw: Any) -> RightSpec:
    return RightSpec(DeonticVerb.MAY_NOT, action, **kw)


# World state


def snapshot(world: World) -> dict[str, Any]:
    """A deep copy of everything a Process Action may change, except ``seen`` (a refused request is
    remembered, so its retry gets the same answer) and the reports a broken Rule raises."""
    reports = set(world.reports)
    return copy.deepcopy(
        {
            "processes": world.processes,
            "items": {k: v for k, v in world.items.items() if k not in reports},
            "rights": world.rights,
            "locations": world.locations,
            "placements": world.placements,
            "placed_by": world.placed_by,
            "public_locations": world.public_locations,
            "wallets": world.wallets,
            "transactions": world.transactions,
            "consumed": world.consumed,
            "prices": world.prices,
            "offers": world.offers,
            "presence": world.presence,
            "inboxes": world.inboxes,
            "renderings": world.renderings,
            "animations": world.animations,
            "hidden": world.hidden,
            "posted": world.posted,
            "validated": world.validated,
            "pending": world.pending,
            "rules": [v.version_id for v in world.rules.versions],
        }
    )


__all__ = [
    "ACTIVITY",
    "APP",
    "AUTHOR_SERVICE",
    "CONVERSION",
    "EUR",
    "MANAGER",
    "OPENING_MINOR",
    "PARCEL1",
    "PARCEL2",
    "PARCELS",
    "REGISTRATION",
    "RESOLUTION",
    "ROOM1",
    "ROOM2",
    "RULES_ID",
    "SQUARE",
    "START_MS",
    "M",
    "User",
    "assert_error",
    "author",
    "code",
    "grant",
    "item_draft",
    "item_id",
    "loc",
    "location_draft",
    "make_engine",
    "may",
    "may_not",
    "message",
    "model_draft",
    "new_pa_id",
    "persona",
    "pid",
    "profile_items",
    "register",
    "register_request",
    "req",
    "snapshot",
]
