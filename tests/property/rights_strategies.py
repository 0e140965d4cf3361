"""Hypothesis strategies of the Rights property test (test_rights_property.py): templates of
requests (doing, delegating, walking, visiting, authoring, granting, withdrawing, paying, finding,
registering), Rights with validity windows, If Events and Must requests, and the Steps of a run
(send, tick, retry, clash), each kind weighted."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st
from rights_population import (
    ACTIVITY,
    APP,
    AUTHOR_SERVICE,
    AUTHORED,
    EUR,
    FOREIGN,
    GHOST,
    GRANTABLE,
    HALLS,
    ITEMS,
    LOCATIONS,
    MANAGER,
    NOTES,
    OFFERED,
    PARCELS,
    PERSONAE,
    PREVIOUS_TX,
    PRICE,
    PROCESSES,
    PUBLIC,
    REGISTERED,
    REGISTRATION,
    USERS,
    WALLETS,
    M,
    note_id,
    persona_id,
    pid,
    wallet_id,
)
from rights_requests import draft, register_request, request

from instance.world.model import Action, DeonticVerb, IfEvent, ProcessActionRequest, RightLevel, RightSpec, Value


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
