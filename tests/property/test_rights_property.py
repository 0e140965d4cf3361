"""Property test of the reference M-Instance's Process Action engine (``instance/world/engine.py``): no
sequence of requests lets a Process perform an Action its Rights do not allow.

Hypothesis drives one seeded World (``a.example``: its Services and M-Locations, three registered
Users with a note each, one priced Service) with sequences of up to 40 steps of requests from a
small population of Processes and Items, at non-decreasing times, and checks after every decision
the engine makes (the requests it is sent and the deferred ones it runs when their If Event
happens, through a subclass that watches ``_run``):

* performed (Ack, not deferred, not a retry): in the World as it was just before, the Process whose
  authority the Action needs held a May Right covering the Action on each Item it touches at the
  request's time, and no May Not Right covering it; a Process that gave May Rights with Rights
  Manage itself held each of them on the target; and the Rights it gave are then held as asked, the
  Granted Rights it withdrew no longer held;
* not performed (Error, Request, a retry): the World is unchanged;
* money is conserved: the Wallets' total per Currency changes only by the opening balance of a
  Register, and no Wallet goes negative.

The Rights are read here from ``World.rights`` and the documented reading of whose authority an
Action needs (``instance/world/actions/authority.py``), not through the engine's own helpers. Local
Processes only: the exceptions ``ActionContext.holds`` makes for visitors of other M-Instances do
not arise. The test also asserts that a real share of the requests is performed (about a third)
and that each kind of Action is, so that it cannot pass by refusing everything.
"""

from __future__ import annotations

import dataclasses
import functools
import pickle
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from instance.world.actions.authority import authority, rights_targets
from instance.world.activity import ActivityLog
from instance.world.engine import ProcessActionEngine
from instance.world.itemdocs import item_doc
from instance.world.model import (
    ANY_TARGET,
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    ProcessActionRequest,
    ProcessActionResponse,
    Right,
    RightLevel,
    RightSpec,
    Value,
)
from instance.world.seed import new_world
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


# The engine, watched


@dataclass(frozen=True)
class Decision:
    request: ProcessActionRequest
    trigger: str | None
    response: ProcessActionResponse
    performed: bool


class WatchedEngine(ProcessActionEngine):
    """The engine, checking every decision it makes (sent, retried or triggered) against the World
    as it was just before that decision."""

    def __init__(self, world: World, activity: ActivityLog) -> None:
        super().__init__(world, activity)
        self.decisions: list[Decision] = []
        self.history: list[str] = []

    def story(self) -> str:
        """Every decision so far, one line each (for a failure's message)."""
        return "\n".join(self.history)

    def _run(self, request: ProcessActionRequest, *args: Any, **kwargs: Any) -> ProcessActionResponse:
        rights, before = dict(self.world.rights), state(self.world)
        seen = request.process_action_id in self.world.seen
        trigger, start = kwargs.get("trigger"), len(self.decisions)
        response = super()._run(request, *args, **kwargs)
        retry = trigger is None and seen
        deferred = trigger is None and request.if_event is not None
        performed = response.status.is_ack and not retry and not deferred
        label = "id seen before" if retry else f"{response.status.kind.value} {response.status.error or ''}".strip()
        self.history.append(f"{show(request)} [{trigger or 'sent'}] -> {label} {response.status.reason[:90]}")
        if performed:
            self._check_rights(request, rights)
            if request.action is Action.RIGHTS_MANAGE and len(self.decisions) == start:  # nothing it triggered ran
                self._check_rights_managed(request)
        elif not (deferred and response.status.is_ack):
            assert state(self.world) == before, f"a request not performed changed the World\n{self.story()}"
        self.decisions.append(Decision(request, trigger, response, performed))
        return response

    def _check_rights(self, request: ProcessActionRequest, rights: Mapping[str, Right]) -> None:
        """``request`` was performed: the Rights held before it allowed it."""
        assert authority(request) == needed_holder(request), self.story()
        assert rights_targets(request) == touched(request), self.story()
        holder, at_ms = needed_holder(request), request.time_ms
        for target in touched(request):
            assert held(rights, holder, request.action, target, at_ms), (
                f"{holder} performed {request.action.value} on {target} without a May Right for it\n{self.story()}"
            )
        if request.action is Action.RIGHTS_MANAGE and request.complement(ComplementKind.TO) is not None:
            grantor, target = request.destination_id, request.complement(ComplementKind.NIL)
            for spec in request.rights:
                if spec.verb is DeonticVerb.MAY:
                    assert held(rights, grantor, spec.action, target, at_ms), (
                        f"{grantor} gave May {spec.action.value} on {target} without holding it\n{self.story()}"
                    )

    def _check_rights_managed(self, request: ProcessActionRequest) -> None:
        """A performed Rights Manage took effect: a grant's Rights are held as asked, and after a
        withdrawal the From Process holds none of the withdrawn Granted Rights the grantor gave it
        (an Acquired one is a final transfer: ``actions/rights.py``)."""
        grantor, target = request.destination_id, request.complement(ComplementKind.NIL)
        holder = request.complement(ComplementKind.TO)
        if holder is not None:
            for spec in request.rights:
                window = (max(spec.valid_from_ms, 0), spec.valid_until_ms)
                assert any(
                    (r.holder_id, r.verb, r.action, r.target_id, r.granted_by)
                    == (holder, spec.verb, spec.action, target, grantor)
                    and (r.valid_from_ms, r.valid_until_ms) == window
                    for r in self.world.rights.values()
                ), f"{grantor} gave {holder} {spec} on {target}, but it does not hold it\n{self.story()}"
            return
        holder = request.complement(ComplementKind.FROM)
        actions = {spec.action for spec in request.rights}
        left = [
            r
            for r in self.world.rights.values()
            if (r.holder_id, r.target_id, r.granted_by, r.level) == (holder, target, grantor, RightLevel.GRANTED)
            and (not actions or r.action in actions)
        ]
        assert not left, (
            f"{grantor} withdrew Rights on {target} from {holder}, but it still holds {left}\n{self.story()}"
        )


def seeded_engine() -> WatchedEngine:
    """A fresh engine over a copy of the seeded World (built once)."""
    return WatchedEngine(pickle.loads(_seeded_world()), ActivityLog(":memory:"))


@functools.cache
def _seeded_world() -> bytes:
    """The seeded World of ``a.example``, the Parcel Service charging ``PRICE`` for Rights Manage,
    and the registered Users, each with a note it Authored."""
    world = new_world(M)
    world.prices[(PARCELS, Action.RIGHTS_MANAGE)] = PRICE
    engine = ProcessActionEngine(world, ActivityLog(":memory:"))
    for index, human in enumerate(REGISTERED):
        response = engine.handle(register_request(human, START_MS, f"mmm://{M}/pa/setup-{index}"))
        assert response.status.is_ack, response.status
        note = draft(note_id(human), pid(human), sub_type="Message", content={"Text": f"hello from {human}"})
        authored = request(
            Action.AUTHOR,
            pid(human),
            pid(human),
            nil=note_id(human),
            items=(note,),
            time_ms=START_MS,
            pa_id=f"mmm://{M}/pa/note-{index}",
        )
        assert engine.handle(authored).status.is_ack
    engine.activity.close()
    return pickle.dumps(world)


# Requests


def draft(item: str, producer: str, *, sub_type: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    """An ITM draft of ``item`` (a Persona gets the data binding and Qualifier facts it needs)."""
    fields: dict[str, Any] = {} if content is None else {"Content": content}
    if sub_type == "Persona":
        fields["ItemData"] = {
            "MediaType": "model/gltf-binary",
            "Size": 4,
            "Digest": {"Algorithm": "sha-256", "Value": "0" * 64},
        }
    doc = item_doc(
        m_instance_id=M, item_id=item, item_type="ITM", sub_type=sub_type, producer_id=producer, time_ms=START_MS
    )
    doc.update(fields)
    if sub_type == "Persona":
        doc["ItemQualifier"] = {"SubType": "Persona", "Format": "VRM/0.x", "Attributes": {"Triangles": "3439"}}
    return doc


def register_request(
    human: str, time_ms: int, pa_id: str, *, source: str = APP, destination: str = REGISTRATION
) -> ProcessActionRequest:
    """The App (by default) asks the Registration Service to Register ``human`` with one Persona."""
    user = pid(human)
    persona = draft(persona_id(human), user, sub_type="Persona")
    ppr = item_doc(
        m_instance_id=M,
        item_id=f"mmm://{M}/profiles/{human}",
        item_type="PPR",
        sub_type="PersonalProfile",
        producer_id=user,
        time_ms=START_MS,
        fields={"ProcessID": user, "Personae": [persona["ItemID"]]},
    )
    return request(Action.REGISTER, source, destination, items=(ppr, persona), time_ms=time_ms, pa_id=pa_id)


def request(
    action: Action,
    source: str,
    destination: str,
    *,
    nil: str | None = None,
    at: str | None = None,
    to: str | None = None,
    frm: str | None = None,
    of: str | None = None,
    with_: str | None = None,
    items: tuple[dict[str, Any], ...] = (),
    rights: tuple[RightSpec, ...] = (),
    payment: Value | None = None,
    time_ms: int = 0,
    pa_id: str = "",
) -> ProcessActionRequest:
    pairs = (
        (ComplementKind.NIL, nil),
        (ComplementKind.AT, at),
        (ComplementKind.TO, to),
        (ComplementKind.FROM, frm),
        (ComplementKind.OF, of),
        (ComplementKind.WITH, with_),
    )
    complements = tuple(Complement(k, ref, is_process="/processes/" in ref) for k, ref in pairs if ref is not None)
    return ProcessActionRequest(
        DeonticVerb.MAY,
        action,
        source,
        destination,
        complements,
        time_ms,
        payment,
        process_action_id=pa_id,
        rights=rights,
        items=items,
    )


def usually(draw: st.DrawFn, value: str, others: tuple[str, ...]) -> str:
    """``value`` seven times in eight (and when shrinking), else one of ``others``."""
    return value if draw(st.sampled_from((True,) * 7 + (False,))) else draw(st.sampled_from(others))


def own_item(draw: st.DrawFn, human: str, *, stray: int = 3) -> str:
    """Mostly an Item ``human`` owns if it exists (its Persona, its note), sometimes (``stray`` in
    nine) another User's, an Item anyone may have Authored, or any Item."""
    kind = draw(
        st.sampled_from(("persona", "note") * 6 + ("other", "other", "any")[:stray] + ("persona",) * (3 - stray))
    )
    if kind == "persona":
        return persona_id(human)
    if kind == "note":
        return note_id(human)
    if kind == "other":
        return draw(st.sampled_from((*PERSONAE, *NOTES)))
    return draw(st.sampled_from((*AUTHORED, *ITEMS)))


ACTING = st.sampled_from((*REGISTERED, *REGISTERED, "u4"))
"""A User to act as: rarely u4, which is not registered unless a Register made it."""


def user_and_source(draw: st.DrawFn) -> tuple[str, str]:
    human = draw(ACTING)
    return human, usually(draw, pid(human), PROCESSES)


DOING = (
    Action.MM_ADD,
    Action.MM_ADD,
    Action.MM_MOVE,
    Action.MM_MOVE,
    Action.MM_ANIMATE,
    Action.MU_ACTUATE,
    Action.MU_ADD,
    Action.MODIFY,
    Action.HIDE,
    Action.POST,
    Action.MM_SEND,
    Action.INFORM,
    Action.VALIDATE,
    Action.RESOLVE,
)
DELEGATED = (
    Action.MM_ADD,
    Action.MM_MOVE,
    Action.MU_ACTUATE,
    Action.MODIFY,
    Action.HIDE,
    Action.POST,
    Action.MM_SEND,
    Action.MM_ANIMATE,
    Action.RIGHTS_MANAGE,
)
"""Actions an owner lets (or forbids) another Process perform on its Item, then that one tries."""


def acting_on(draw: st.DrawFn, action: Action, human: str, source: str, nil: str) -> ProcessActionRequest:
    """``source`` (mostly ``human``'s User) asks for ``action`` on ``nil``, with what that Action needs."""
    destination = usually(draw, source, PROCESSES)
    if action in (Action.MM_ADD, Action.MM_MOVE):
        return request(action, source, destination, nil=nil, at=draw(st.sampled_from((*PUBLIC, *PUBLIC, *LOCATIONS))))
    if action is Action.MM_ANIMATE:
        return request(action, source, destination, nil=nil, with_=draw(st.sampled_from((None, *NOTES))))
    if action in (Action.MU_ACTUATE, Action.MU_ADD):
        device = usually(draw, pid(f"{human}-device"), PROCESSES)
        at = f"mmm://{M}/ulocations/desk" if action is Action.MU_ADD else None
        return request(action, source, device, nil=nil, at=at)
    if action is Action.POST:
        return request(action, source, destination, nil=nil, at=draw(st.sampled_from(LOCATIONS)))
    if action is Action.MODIFY:
        kind = "Persona" if "/personae/" in nil else "M-Location" if "/locations/" in nil else "Message"
        doc = draft(nil, source, sub_type=kind, content={"Text": "edited"} if kind == "Message" else {})
        return request(action, source, destination, nil=nil, items=(doc,))
    if action in (Action.MM_SEND, Action.INFORM):
        to = draw(st.sampled_from((*USERS, ACTIVITY, GHOST)))
        return request(action, source, usually(draw, source, (ACTIVITY, *PROCESSES)), nil=nil, to=to)
    if action is Action.RIGHTS_MANAGE:  # passing Rights on
        holder = draw(st.sampled_from(USERS))
        return request(action, source, destination, nil=nil, to=holder, rights=draw(right_specs(DELEGATED)))
    return request(action, source, destination, nil=nil)


@st.composite
def doing(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """A User (mostly) acts on an Item (mostly its own)."""
    human, source = user_and_source(draw)
    action = draw(st.sampled_from(DOING))
    return (acting_on(draw, action, human, source, own_item(draw, human)),)


@st.composite
def delegating(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """An owner gives (or forbids) a Process an Action on its Item, perhaps withdraws it, and the
    Process tries that Action then or a little later (times relative to the step's)."""
    owner, holder = draw(ACTING), draw(ACTING)
    nil = draw(st.sampled_from((persona_id(owner), note_id(owner))))
    specs = draw(right_specs(DELEGATED))
    grant = request(Action.RIGHTS_MANAGE, pid(owner), pid(owner), nil=nil, to=pid(holder), rights=specs)
    steps = [grant]
    if draw(st.sampled_from((False, False, False, True))):
        gone = draw(st.sampled_from(((), (RightSpec(DeonticVerb.MAY, specs[0].action),))))
        steps.append(request(Action.RIGHTS_MANAGE, pid(owner), pid(owner), nil=nil, frm=pid(holder), rights=gone))
    later = draw(st.sampled_from((0, 0, 20, 40, 6_000)))
    action = draw(st.sampled_from((specs[0].action, specs[-1].action, specs[0].action, *DOING)))
    steps.append(replace(acting_on(draw, action, holder, pid(holder), nil), time_ms=later))
    return tuple(steps)


@st.composite
def walking(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """A User places an Item (mostly its own), then moves or animates it."""
    human, source = user_and_source(draw)
    nil = own_item(draw, human)
    steps = [acting_on(draw, Action.MM_ADD, human, source, nil)]
    for _ in range(draw(st.integers(1, 2))):
        action = draw(st.sampled_from((Action.MM_MOVE, Action.MM_MOVE, Action.MM_ANIMATE)))
        steps.append(acting_on(draw, action, human, source, nil))
    return tuple(steps)


@st.composite
def visiting(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """A User asks the Author Service for Rights on a Room (for a while), then walks in, perhaps late."""
    human = draw(ACTING)
    room = draw(st.sampled_from(OFFERED))
    specs = draw(right_specs((Action.MM_ADD, Action.MM_MOVE, Action.POST, Action.RIGHTS_MANAGE)))
    ask = request(Action.RIGHTS_MANAGE, pid(human), AUTHOR_SERVICE, nil=room, to=pid(human), rights=specs)
    action = draw(st.sampled_from((Action.MM_ADD, Action.MM_MOVE)))
    walk = request(action, pid(human), pid(human), nil=persona_id(human), at=room)
    return (ask, replace(walk, time_ms=draw(st.sampled_from((0, 0, 20, 40, 6_000)))))


@st.composite
def authoring(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    _, source = user_and_source(draw)
    destination = usually(draw, source, PROCESSES)
    nil = draw(st.sampled_from(AUTHORED))
    if nil in HALLS:
        parent = draw(st.sampled_from((None, *LOCATIONS)))
        doc = draft(nil, source, sub_type="M-Location", content={"Parent": parent} if parent else {})
    else:
        doc = draft(nil, source, sub_type="Message", content={"Text": "x" * draw(st.sampled_from((5, 300)))})
    return (request(Action.AUTHOR, source, destination, nil=nil, items=(doc,)),)


def right_spec(verb: DeonticVerb, action: Action, level: RightLevel, window: tuple[int, int | None]) -> RightSpec:
    start, length = window
    return RightSpec(verb, action, level, start, None if length is None else start + length)


WINDOWS = st.tuples(st.sampled_from((0, 0, -1_000, 50)), st.sampled_from((None, None, 1, 30, 5_000, 0)))
"""Validity windows (from, length) relative to the request's time; a 0 length is refused."""


@functools.cache
def right_specs(actions: tuple[Action, ...]) -> st.SearchStrategy[tuple[RightSpec, ...]]:
    """One or two Rights for some of ``actions``."""
    spec = st.builds(
        right_spec,
        st.sampled_from((DeonticVerb.MAY, DeonticVerb.MAY, DeonticVerb.MAY_NOT)),
        st.sampled_from(actions),
        st.sampled_from((RightLevel.GRANTED, RightLevel.GRANTED, RightLevel.ACQUIRED)),
        WINDOWS,
    )
    return st.lists(spec, min_size=1, max_size=2).map(tuple)


@st.composite
def granting(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """A Process gives Rights on its own initiative, or asks an offering Service for some."""
    if draw(st.sampled_from((True, True, False))):
        human = draw(ACTING)
        grantor = usually(draw, pid(human), (PARCELS, AUTHOR_SERVICE, MANAGER, *PROCESSES))
        nil = own_item(draw, human, stray=1) if grantor == pid(human) else draw(st.sampled_from(ITEMS))
        source = usually(draw, grantor, PROCESSES)
        holder = draw(st.sampled_from((*USERS, *USERS, *PROCESSES)))
    else:
        source = draw(st.sampled_from(USERS))
        grantor = draw(st.sampled_from((AUTHOR_SERVICE, PARCELS)))
        nil = draw(st.sampled_from(OFFERED))
        holder = usually(draw, source, PROCESSES)
    specs = draw(right_specs(GRANTABLE))
    return (request(Action.RIGHTS_MANAGE, source, grantor, nil=nil, to=holder, rights=specs),)


@st.composite
def withdrawing(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    human = draw(ACTING)
    grantor = usually(draw, pid(human), (PARCELS, AUTHOR_SERVICE, *PROCESSES))
    nil = own_item(draw, human) if grantor == pid(human) else draw(st.sampled_from(ITEMS))
    source = usually(draw, grantor, PROCESSES)
    holder = draw(st.sampled_from((*USERS, *PROCESSES)))
    actions = draw(st.lists(st.sampled_from(GRANTABLE), max_size=1))
    specs = tuple(RightSpec(DeonticVerb.MAY, a) for a in actions)
    return (request(Action.RIGHTS_MANAGE, source, source, nil=nil, frm=holder, rights=specs),)


AMOUNTS = st.builds(
    Value, st.sampled_from((100, 250, 1, 5_000, 10_000, 20_000, 0)), st.sampled_from((EUR, EUR, EUR, "USD"))
)


@st.composite
def paying(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    """A Transact, or a Transact to the Parcel Service and the paid request it pays for."""
    human, source = user_and_source(draw)
    destination = usually(draw, source, PROCESSES)
    wallet = usually(draw, wallet_id(human), WALLETS)
    if draw(st.booleans()):
        to = draw(st.sampled_from((*USERS, AUTHOR_SERVICE, PARCELS, ACTIVITY, FOREIGN, GHOST)))
        return (request(Action.TRANSACT, source, destination, nil=wallet, to=to, payment=draw(AMOUNTS)),)
    paid = usually(draw, "price", ("other",))
    amount = PRICE if paid == "price" else draw(AMOUNTS)
    transact = request(Action.TRANSACT, source, destination, nil=wallet, to=PARCELS, payment=amount)
    specs = draw(right_specs((Action.MM_ADD, Action.MM_MOVE, Action.POST, Action.HIDE, Action.RIGHTS_MANAGE)))
    ask = request(
        Action.RIGHTS_MANAGE,
        source,
        PARCELS,
        nil=draw(st.sampled_from(OFFERED)),
        to=source,
        rights=specs,
        payment=amount,
        with_=PREVIOUS_TX,
    )
    return (transact, ask)


@st.composite
def finding(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    _, source = user_and_source(draw)
    destination = usually(draw, ACTIVITY, (source, *PROCESSES))
    if draw(st.booleans()):
        return (request(Action.DISCOVER, source, destination, of=draw(st.sampled_from(PROCESSES))),)
    return (request(Action.DISCOVER, source, destination, at=draw(st.sampled_from(LOCATIONS))),)


@st.composite
def registering(draw: st.DrawFn) -> tuple[ProcessActionRequest, ...]:
    source = usually(draw, APP, PROCESSES)
    destination = usually(draw, REGISTRATION, PROCESSES)
    human = draw(st.sampled_from(("u4", "u4", "u1", "u5")))
    return (register_request(human, 0, "", source=source, destination=destination),)


IF_EVENTS = st.one_of(
    st.builds(IfEvent, at_time_ms=st.sampled_from((0, 20, 2_000, -5))),
    st.builds(IfEvent, action=st.sampled_from(GRANTABLE), item_id=st.sampled_from((None, *ITEMS))),
    st.builds(IfEvent, process_action_id=st.integers(0, 30).map(lambda n: f"mmm://{M}/pa/r{n}")),
)


MAYBE_IF_EVENT = st.sampled_from((False,) * 9 + (True,)).flatmap(lambda yes: IF_EVENTS if yes else st.none())


@st.composite
def conditioned(
    draw: st.DrawFn, templates: st.SearchStrategy[tuple[ProcessActionRequest, ...]]
) -> tuple[ProcessActionRequest, ...]:
    """Mostly a plain May request; sometimes a Must, or one deferred until an If Event."""
    found = draw(templates)
    last = found[-1]
    verb = draw(st.sampled_from((DeonticVerb.MAY,) * 8 + (DeonticVerb.MUST,)))
    if_event = draw(MAYBE_IF_EVENT)
    return (*found[:-1], replace(last, verb=verb, if_event=if_event))


@dataclass(frozen=True)
class Step:
    """Advance the clock ``dt`` ms, then: send ``templates`` (built at that time); resend the
    ``pick``-th request sent before (a retry); send one under the id of that earlier request (a
    Clash); or run the requests deferred until now (``tick``)."""

    dt: int
    kind: str
    templates: tuple[ProcessActionRequest, ...] = ()
    pick: int = 0


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each ``weight`` times as likely (``st.one_of`` drops a strategy it
    already has, so each repeat is a distinct copy)."""
    return st.one_of([s.map(_same) for weight, s in choices for _ in range(weight)])


def _same(value: Any) -> Any:
    return value


SENDABLE = weighted(
    (5, doing()),
    (3, delegating()),
    (2, walking()),
    (1, visiting()),
    (1, authoring()),
    (1, granting()),
    (1, withdrawing()),
    (1, paying()),
    (1, finding()),
    (1, registering()),
)
STEPS = weighted(
    (12, st.builds(Step, st.sampled_from((0, 1, 7, 1_000, 60_000)), st.just("send"), conditioned(SENDABLE))),
    (1, st.builds(Step, st.sampled_from((0, 2_000, 60_000)), st.just("tick"))),
    (1, st.builds(Step, st.sampled_from((0, 1)), st.just("retry"), st.just(()), st.integers(0, 1_000))),
    (1, st.builds(Step, st.sampled_from((0, 2_000)), st.just("clash"), conditioned(SENDABLE), st.integers(0, 1_000))),
)


def build(template: ProcessActionRequest, now: int, pa_id: str, previous: str | None) -> ProcessActionRequest:
    """The template sent under ``pa_id`` at ``now`` plus its own time: its Rights windows and If
    Event Time are relative to that; ``PREVIOUS_TX`` names the Transaction of the ``previous`` request."""
    now += template.time_ms
    tx = f"mmm://{M}/transactions/{(previous or '').rsplit('/', 1)[-1]}"
    complements = tuple(replace(c, ref_id=tx) if c.ref_id == PREVIOUS_TX else c for c in template.complements)
    rights = tuple(
        replace(
            s,
            valid_from_ms=now + s.valid_from_ms,
            valid_until_ms=None if s.valid_until_ms is None else now + s.valid_until_ms,
        )
        for s in template.rights
    )
    event = template.if_event
    if event is not None and event.at_time_ms is not None:
        event = replace(event, at_time_ms=now + event.at_time_ms)
    return replace(
        template, complements=complements, rights=rights, time_ms=now, process_action_id=pa_id, if_event=event
    )


class Requests(RuleBasedStateMachine):
    """Sequences of Steps on a fresh seeded World. The Rights and unchanged-World checks are made by
    :class:`WatchedEngine` at each decision; money is checked after each step."""

    stats: ClassVar[Counter[str]] = Counter()
    """What was decided, across examples (the test resets it)."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = seeded_engine()
        self.now = START_MS
        self.sent: list[ProcessActionRequest] = []

    @rule(step=STEPS)
    def take(self, step: Step) -> None:
        engine, world = self.engine, self.engine.world
        self.now += step.dt
        before_money, start = totals(world), len(engine.decisions)
        if step.kind == "tick":
            engine.tick(self.now)
        elif step.kind == "retry" and self.sent:
            engine.handle(self.sent[step.pick % len(self.sent)])
        elif step.kind == "clash" and self.sent and step.templates:
            reused = self.sent[step.pick % len(self.sent)].process_action_id
            clash = build(step.templates[-1], self.now, reused, None)
            self.now = clash.time_ms
            engine.handle(clash)
        else:
            previous = None
            for template in step.templates:
                built = build(template, self.now, f"mmm://{M}/pa/r{len(self.sent)}", previous)
                self.now = built.time_ms
                engine.handle(built)
                self.sent.append(built)
                previous = built.process_action_id
        decided = engine.decisions[start:]
        opening = world.rules.in_force(self.now).account_types["Basic"].opening
        assert opening is not None
        registered = sum(1 for d in decided if d.performed and d.request.action is Action.REGISTER)
        expected = before_money + Counter({opening.currency_id: opening.amount_minor * registered})
        assert +totals(world) == +expected, f"money not conserved: {before_money} -> {totals(world)}\n{engine.story()}"
        negative = [w for w, balances in world.wallets.items() if any(v < 0 for v in balances.values())]
        assert not negative, f"Wallets went negative: {negative}\n{engine.story()}"
        for decision in decided:
            outcome = "performed" if decision.performed else decision.response.status.kind.value
            self.stats["decisions"] += 1
            self.stats[outcome] += 1
            self.stats[f"{decision.request.action.value}: {outcome}"] += 1
            if decision.response.status.error is not None:
                self.stats[f"error {decision.response.status.error.value}"] += 1
            event(f"{decision.request.action.value}: {outcome}")

    def teardown(self) -> None:
        self.engine.activity.close()


def test_no_sequence_of_requests_performs_an_action_without_rights() -> None:
    """Every performed request was allowed by the Rights held just before it; refused ones change
    nothing; money is conserved; and a real share of the generated requests is performed."""
    stats = Requests.stats = Counter()
    run_state_machine_as_test(
        Requests,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            derandomize=True,
            database=None,
            report_multiple_bugs=False,
            # No shrinking: shrinking a 40-step run takes longer than pytest's 300 s timeout. A failure's
            # message lists every decision of its run, one line each; add Phase.shrink to shrink locally.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    share = stats["performed"] / stats["decisions"]
    assert share >= 0.25, f"only {share:.0%} of {stats['decisions']} decisions performed: {stats.most_common()}"
    for action in (
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
        Action.AUTHOR,
        Action.DISCOVER,
        Action.REGISTER,
    ):
        assert stats[f"{action.value}: performed"] >= 10, f"{action.value} rarely performed: {stats.most_common()}"
    assert stats["error InsRights"] >= 300, f"too few requests refused for want of Rights: {stats.most_common()}"
