"""The refusal cases of every Action (MMM-TEC V2.2 Actions, PA Status error codes): REFUSALS maps
"Action: case" to a builder that sets the World up (u1 and u2 registered) and makes a request that
must be refused, and the error code it must carry. test_mmm_actions_refusals.py runs them all."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from action_helpers import (
    CLASH,
    FAULTY,
    GHOST,
    INC_DQ,
    INC_ID,
    INS_RIGHTS,
    INS_VALUE,
    LOC_OOR,
    Case,
    Engine,
    T,
    new_note,
    ok,
    place,
)
from mmm_helpers import (
    ACTIVITY,
    AUTHOR_SERVICE,
    CONVERSION,
    EUR,
    MANAGER,
    OPENING_MINOR,
    PARCEL1,
    REGISTRATION,
    RESOLUTION,
    ROOM1,
    RULES_ID,
    SQUARE,
    User,
    author,
    item_draft,
    loc,
    location_draft,
    may,
    message,
    model_draft,
    pid,
    register_request,
    req,
)

from instance.world.model import Action, DeonticVerb, PAErrorCode, ProcessActionRequest, RightLevel, RightSpec, Value
from instance.world.seed import rules_item

REFUSALS: dict[str, tuple[Case, PAErrorCode]] = {}


# Register


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


REFUSALS |= {
    f"Authenticate: {nil}": (lambda e, u1, u2, nil=nil: req(u1.id, REGISTRATION, Action.AUTHENTICATE, nil=nil), INC_ID)
    for nil in (GHOST, "mmm://a.example/items/nothing")
}


# Identify


SAID = message("said", "no ItemData: nothing was captured", producer=pid("u1"))
REFUSALS |= {
    "Identify: no ItemData": (
        lambda e, u1, u2: req(u1.id, u1.id, Action.IDENTIFY, nil=SAID["ItemID"], items=[SAID]),
        INC_DQ,
    )
}


# Author


def _author(draft: dict[str, Any], carried: bool = True) -> Case:
    return lambda e, u1, u2: req(u1.id, u1.id, Action.AUTHOR, nil=draft["ItemID"], items=[draft][:carried])


U1 = pid("u1")
ACCOUNT = item_draft(
    "mmm://a.example/accounts/extra",
    producer=U1,
    item_type="ACC",
    sub_type="Account",
    fields={"AccountID": "mmm://a.example/accounts/extra", "ProcessID": U1, "HumanID": "u1", "AccountType": "Basic"},
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


REFUSALS |= {
    "Convert: Format pair not supported": (_convert("FBX/7.4"), PAErrorCode.QUAL_NS),
    "Convert: no To Complement": (_convert("glTF/2.0-binary", to=None), FAULTY),
    "Convert: To draft not carried": (_convert("glTF/2.0-binary", carried=False), INC_ID),
    "Convert: To id already taken": (_convert("glTF/2.0-binary", to="m1"), CLASH),
}


# Discover


REFUSALS |= {
    "Discover: Of an unknown Process": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER, of=GHOST), INC_ID),
    "Discover: At no M-Location": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER, at=u1.persona), LOC_OOR),
    "Discover: neither Of nor At": (lambda e, u1, u2: req(u1.id, ACTIVITY, Action.DISCOVER), FAULTY),
}


# Inform


REFUSALS |= {
    f"Inform: To {to}": (
        lambda e, u1, u2, to=to: req(u1.id, ACTIVITY, Action.INFORM, nil=new_note(e, u1), to=to),
        INC_ID,
    )
    for to in (None, GHOST, "mmm://b.example/processes/u9")
}


# Post


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


# MM-Send


REFUSALS |= {
    f"MM-Send: To {to}": (
        lambda e, u1, u2, to=to: req(u1.id, ACTIVITY, Action.MM_SEND, nil=new_note(e, u1), to=to),
        INC_ID,
    )
    for to in (GHOST, "mmm://b.example/processes/u9")
}


# Rights Manage


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


REFUSALS |= {
    "Resolve: unknown id here": (lambda e, u1, u2: req(u1.id, RESOLUTION, Action.RESOLVE, nil=GHOST), INC_ID),
    "Resolve: not an mmm:// id": (lambda e, u1, u2: req(u1.id, RESOLUTION, Action.RESOLVE, nil="room-1"), FAULTY),
}


# Transact


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


# MM-Add and MM-Move


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


REFUSALS |= {
    "MM-Move: an Item not placed": (_placing(Action.MM_MOVE, placed=False), CLASH),
    "MM-Move: At an Item that is no M-Location": (_placing(Action.MM_MOVE, placed=True, at=None), LOC_OOR),
}


# MM-Animate


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
