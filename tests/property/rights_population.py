"""The seeded World of the Rights property test (test_rights_property.py) and how the test reads it:
ids of a.example's Processes, Items, M-Locations and Wallets (the population the requests are drawn
from), the documented reading of whose Rights an Action needs and on what
(instance/world/actions/authority.py), whether a Right is held at a time (a May Right and no May Not
Right, MMM-TEC V2.2 Rights), a copy of the World's state, the Wallets' totals per Currency, and a
request on one line."""

from __future__ import annotations

import dataclasses
import pickle
from collections import Counter
from collections.abc import Mapping
from typing import Any

from instance.world.model import ANY_TARGET, Action, ComplementKind, DeonticVerb, ProcessActionRequest, Right, Value
from instance.world.world import World

M = "a.example"
EUR = "EUR"
START_MS = 1_000_000
PRICE = Value(250, EUR)
"""What the Parcel Service charges for Rights Manage in this test (Service Pricing Model)."""


def pid(name: str) -> str:
    return f"mmm://{M}/processes/{name}"


def loc(name: str) -> str:
    return f"mmm://{M}/locations/{name}"


def persona_id(human: str) -> str:
    return f"mmm://{M}/personae/{human}"


def note_id(human: str) -> str:
    return f"mmm://{M}/items/note-{human}"


def wallet_id(human: str) -> str:
    return f"mmm://{M}/wallets/{human}"


# The population

REGISTERED = ("u1", "u2", "u3")
HUMANS = (*REGISTERED, "u4")
"""u4 is not registered at the start: a Register may make it."""
USERS = tuple(pid(h) for h in HUMANS)
DEVICES = tuple(pid(f"{h}-device") for h in HUMANS)
MANAGER, REGISTRATION, ACTIVITY = pid("manager"), pid("registration"), pid("activity")
PARCELS, AUTHOR_SERVICE, APP = pid("parcels"), pid("author"), pid("app")
SERVICES = (MANAGER, REGISTRATION, ACTIVITY, PARCELS, AUTHOR_SERVICE, pid("resolution"), pid("conversion"), APP)
GHOST, FOREIGN = pid("ghost"), "mmm://b.example/processes/x"
PROCESSES = (*USERS, *DEVICES, *SERVICES, GHOST, FOREIGN)

PERSONAE = tuple(persona_id(h) for h in HUMANS)
NOTES = tuple(note_id(h) for h in HUMANS)
"""Each registered User Authors its note at the start."""
MESSAGES = tuple(f"mmm://{M}/items/m{i}" for i in range(1, 4))
HALLS = (loc("hall-1"), loc("hall-2"))
"""M-Locations a User may Author."""
SEEDED_LOCATIONS = (loc("mm-square"), loc("parcel-1"), loc("parcel-2"), loc("room-1"), loc("room-2"))
LOCATIONS = (*SEEDED_LOCATIONS, *HALLS)
PUBLIC = SEEDED_LOCATIONS[:3]
"""Where every User may walk (the MM-Square and its parcels)."""
OFFERED = (loc("parcel-1"), loc("parcel-2"), loc("room-1"), loc("room-2"))
WALLETS = tuple(wallet_id(h) for h in HUMANS)
RULES_ID = f"mmm://{M}/rules/current"
ITEMS = (
    *PERSONAE,
    *NOTES,
    *MESSAGES,
    *LOCATIONS,
    *WALLETS,
    RULES_ID,
    f"mmm://{M}/items/nowhere",
    "mmm://b.example/items/y",
)
AUTHORED = (*MESSAGES, *HALLS, note_id("u4"))

GRANTABLE = (
    Action.MM_ADD,
    Action.MM_MOVE,
    Action.MM_ANIMATE,
    Action.MU_ACTUATE,
    Action.MODIFY,
    Action.HIDE,
    Action.POST,
    Action.MM_SEND,
    Action.RIGHTS_MANAGE,
    Action.TRANSACT,
    Action.INFORM,
)
PREVIOUS_TX = "mmm://a.example/transactions/PREVIOUS"
"""Placeholder in a template: the Transaction made by the step's previous request."""

# The documented reading of whose Rights an Action needs, and on what (actions/authority.py).
ON_DESTINATION_AUTHORITY = frozenset({Action.REGISTER, Action.RIGHTS_MANAGE})
NOTHING_TOUCHED = frozenset({Action.REGISTER, Action.AUTHOR, Action.IDENTIFY, Action.DISCOVER, Action.RESOLVE})
PLACING = frozenset({Action.MM_ADD, Action.MM_MOVE})


def needed_holder(request: ProcessActionRequest) -> str:
    return request.destination_id if request.action in ON_DESTINATION_AUTHORITY else request.source_id


def touched(request: ProcessActionRequest) -> list[str | None]:
    if request.action in NOTHING_TOUCHED:
        return [None]
    kinds = (ComplementKind.NIL, ComplementKind.AT) if request.action in PLACING else (ComplementKind.NIL,)
    return [next((c.ref_id for c in request.complements if c.kind is kind), None) for kind in kinds]


def held(rights: Mapping[str, Right], holder: str, action: Action, target: str | None, at_ms: int) -> bool:
    """A May Right of ``holder`` among ``rights`` (a World's) covers ``action`` on ``target`` (None:
    only a ``"*"`` Right) at ``at_ms`` and no May Not Right does."""
    verbs = {
        right.verb
        for right in rights.values()
        if right.holder_id == holder
        and right.action is action
        and right.target_id in {ANY_TARGET, target}
        and right.valid_from_ms <= at_ms
        and (right.valid_until_ms is None or at_ms < right.valid_until_ms)
    }
    return DeonticVerb.MAY in verbs and DeonticVerb.MAY_NOT not in verbs


IMMUTABLE_VALUES = frozenset({"processes", "rights", "prices", "foreign_prices", "pending", "conversions"})
"""World fields whose values never change in place (frozen dataclasses and tuples of them)."""


def state(world: World) -> dict[str, Any]:
    """A copy of every field of ``world`` except ``seen`` (a refused request is remembered, so its
    retry gets the same answer) and the Fault Reports a broken Rule or obligation raises."""
    reports = set(world.reports)
    shared: dict[str, Any] = {"rules": world.rules.versions}
    deep: dict[str, Any] = {}
    for name in (f.name for f in dataclasses.fields(world)):
        value = getattr(world, name)
        if name in IMMUTABLE_VALUES:
            shared[name] = dict(value)
        elif name == "items":
            deep[name] = {k: v for k, v in value.items() if k not in reports}
        elif name not in ("seen", "reports", "rules"):
            deep[name] = value
    return shared | pickle.loads(pickle.dumps(deep))  # a deep copy, faster than copy.deepcopy


def totals(world: World) -> Counter[str]:
    money: Counter[str] = Counter()
    for balances in world.wallets.values():
        for currency, amount in balances.items():
            money[currency] += amount
    return money


def show(request: ProcessActionRequest) -> str:
    """A request on one line, ids shortened."""

    def short(ref: str) -> str:
        return ref.replace(f"mmm://{M}/", "")

    parts = [f"{request.verb.value} {request.action.value} {short(request.source_id)}->{short(request.destination_id)}"]
    parts += [f"{c.kind.value}={short(c.ref_id)}" for c in request.complements]
    parts += [
        f"{s.verb.value}:{s.action.value}:{s.level.value}[{s.valid_from_ms},{s.valid_until_ms})" for s in request.rights
    ]
    if request.payment is not None:
        parts.append(f"pay={request.payment.amount_minor}{request.payment.currency_id}")
    if request.if_event is not None:
        parts.append(f"if={request.if_event}")
    return f"{short(request.process_action_id)}@{request.time_ms}: " + " ".join(parts)
