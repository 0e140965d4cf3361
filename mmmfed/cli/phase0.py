"""The phase 0 use case of the MMM reference implementation (paper ``spec/001_*`` 4.1) as Process
Action requests, run against one M-Instance or, ``federated``, two (User2 lives in M-Instance B).

:func:`run_phase0` sends each step through ``send(m_instance_id, request)`` (in-process, or the
Instance ``Act`` RPC of that M-Instance, which resolves requests for Processes of another
M-Instance through the gateways) and returns every step with its response and whether its PA
Status is the one the use case expects. Steps (the paper's names in brackets):

1. Humans Register through the Registration Service (User registration).
2. Users place their Personae at the MM-Square (MM-Embed = MM-Add) and their Devices render them
   (MU-Embed = MU-Actuate); they tell the Activity Service they are present (MM-Send).
3. User1 acquires parcel-1 from the Parcel Service and room-1 from the Author Service by Rights
   transfer (Change = Rights Manage, Level Acquired), places room-1 on parcel-1 and enters it.
4. User1 asks the Activity Service whether User2 is on MMM (Discover). Federated, B's Activity
   Service charges a Process of another M-Instance: Request(Value), User1 Transacts and retries.
5. User1 invites User2 (MM-Send "Come see me at Room1"), User2 answers "Ok", User1's Device shows it.
6. User1 grants User2 the Right to enter room-1; User2 enters (federated: its Persona, signed by
   B, is placed in A through A's Resolution Service), both animate, User2 leaves.
7. User1 withdraws the Right; User2's attempt to re-enter is refused with InsRights.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instance.world.itemdocs import iso, item_doc
from instance.world.model import (
    Action,
    DeonticVerb,
    PAErrorCode,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    RightLevel,
    RightSpec,
    Value,
    complements,
)
from mmmfed.glb import inspect_glb_file

Send = Callable[[str, ProcessActionRequest], Awaitable[ProcessActionResponse]]


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step: what was asked of which M-Instance, the answer, and whether it was expected."""

    title: str
    m_instance_id: str
    request: ProcessActionRequest
    response: ProcessActionResponse
    expected: str

    @property
    def ok(self) -> bool:
        status = self.response.status
        got = status.error.value if status.error is not None else status.kind.value
        return got == self.expected


@dataclass
class _Run:
    send: Send
    tag: str
    clock_ms: int
    results: list[StepResult] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def pa_id(self, source: str) -> str:
        return f"mmm://{_instance(source)}/pa/{self.tag}-{next(self.counter)}"

    async def step(
        self, title: str, at: str, request: ProcessActionRequest, expect: str = "Ack"
    ) -> ProcessActionResponse:
        response = await self.send(at, request)
        self.results.append(StepResult(title, at, request, response, expect))
        return response

    def request(
        self,
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
    ) -> ProcessActionRequest:
        self.clock_ms += 1000
        return ProcessActionRequest(
            DeonticVerb.MAY,
            action,
            source,
            destination,
            complements(nil=nil, at=at, to=to, frm=frm, of=of, with_=with_),
            self.clock_ms,
            payment,
            process_action_id=self.pa_id(source),
            rights=tuple(rights),
            items=tuple(items),
        )


def _instance(identifier: str) -> str:
    return identifier.removeprefix("mmm://").split("/", 1)[0]


def persona_draft(m_instance_id: str, human: str, avatar: Path, *, time_ms: int) -> dict[str, Any]:
    """A Persona Item (ITM, Sub-Type Persona) for ``human`` made from the avatar file ``avatar``."""
    facts = inspect_glb_file(avatar)
    digest = hashlib.sha256(avatar.read_bytes()).hexdigest()
    user = f"mmm://{m_instance_id}/processes/{human}"
    doc = item_doc(
        m_instance_id=m_instance_id,
        item_id=f"mmm://{m_instance_id}/personae/{human}",
        item_type="ITM",
        sub_type="Persona",
        producer_id=user,
        time_ms=time_ms,
        descr={"FileName": avatar.name},
    )
    doc["ItemQualifier"] = {"SubType": "Persona", "Format": facts.format, "Attributes": facts.attributes()}
    doc["ItemData"] = {
        "MediaType": "model/gltf-binary",
        "Size": facts.size,
        "Digest": {"Algorithm": "sha-256", "Value": digest},
    }
    return doc


def registration_items(m_instance_id: str, human: str, avatar: Path, *, time_ms: int) -> list[dict[str, Any]]:
    """What a Register request carries for ``human``: the Personal Profile (PPR) naming the User
    Process ``mmm://<m_instance_id>/processes/<human>`` and its Persona, a Basic Account (ACC), and
    the Persona (ITM) made from ``avatar``."""
    return [
        *_profile(m_instance_id, human, time_ms=time_ms),
        persona_draft(m_instance_id, human, avatar, time_ms=time_ms),
    ]


def _profile(m_instance_id: str, human: str, *, time_ms: int) -> list[dict[str, Any]]:
    user = f"mmm://{m_instance_id}/processes/{human}"
    profile = item_doc(
        m_instance_id=m_instance_id,
        item_id=f"mmm://{m_instance_id}/profiles/{human}",
        item_type="PPR",
        sub_type="PersonalProfile",
        producer_id=user,
        time_ms=time_ms,
        fields={"ProcessID": user, "Personae": [f"mmm://{m_instance_id}/personae/{human}"]},
    )
    account = item_doc(
        m_instance_id=m_instance_id,
        item_id=f"mmm://{m_instance_id}/accounts/{human}",
        item_type="ACC",
        sub_type="Account",
        producer_id=user,
        time_ms=time_ms,
        fields={
            "AccountID": f"mmm://{m_instance_id}/accounts/{human}",
            "ProcessID": user,
            "HumanID": human,
            "AccountType": "Basic",
        },
    )
    return [profile, account]


def _message(author: str, local: str, sub_type: str, content: dict[str, Any], *, time_ms: int) -> dict[str, Any]:
    m = _instance(author)
    return item_doc(
        m_instance_id=m,
        item_id=f"mmm://{m}/messages/{local}",
        item_type="ITM",
        sub_type=sub_type,
        producer_id=author,
        time_ms=time_ms,
        fields={"Content": content},
    )


async def run_phase0(
    send: Send, *, a: str, b: str | None, avatars: tuple[Path, Path], tag: str, start_ms: int
) -> list[StepResult]:
    """Run the use case (see the module docstring). ``b`` None: User2 lives in ``a`` too.
    ``tag`` makes the ProcessActionIDs and Item ids of this run unique."""
    home2 = b or a
    run = _Run(send, tag, start_ms)

    def pid(m: str, name: str) -> str:
        return f"mmm://{m}/processes/{name}"

    def loc(name: str) -> str:
        return f"mmm://{a}/locations/{name}"

    u1, u2 = pid(a, f"user1-{tag}"), pid(home2, f"user2-{tag}")
    d1, d2 = f"{u1}-device", f"{u2}-device"
    p1, p2 = f"mmm://{a}/personae/user1-{tag}", f"mmm://{home2}/personae/user2-{tag}"
    room, parcel, square = loc("room-1"), loc("parcel-1"), loc("mm-square")
    square2 = f"mmm://{home2}/locations/mm-square"

    for m, human, avatar in ((a, f"user1-{tag}", avatars[0]), (home2, f"user2-{tag}", avatars[1])):
        items = registration_items(m, human, avatar, time_ms=run.clock_ms)
        await run.step(
            f"{human} Registers with {m} through the Registration Service",
            m,
            run.request(pid(m, "app"), pid(m, "registration"), Action.REGISTER, items=items),
        )

    for user, device, persona, where, m in ((u1, d1, p1, square, a), (u2, d2, p2, square2, home2)):
        name = user.rsplit("/", 1)[-1]
        await run.step(
            f"{name} places its Persona at the MM-Square (MM-Embed)",
            m,
            run.request(user, user, Action.MM_ADD, nil=persona, at=where),
        )
        await run.step(
            f"{name}'s Device renders the Persona (MU-Embed)",
            m,
            run.request(user, device, Action.MU_ACTUATE, nil=persona),
        )
        presence = _message(user, f"presence-{name}", "Presence", {"Online": True}, time_ms=run.clock_ms)
        await run.step(
            f"{name} Authors a Presence Item",
            m,
            run.request(user, user, Action.AUTHOR, nil=presence["ItemID"], items=[presence]),
        )
        await run.step(
            f"{name} tells the Activity Service it is present (MM-Send)",
            m,
            run.request(user, pid(m, "activity"), Action.MM_SEND, nil=presence["ItemID"], to=pid(m, "activity")),
        )

    acquire = [
        RightSpec(DeonticVerb.MAY, act, RightLevel.ACQUIRED)
        for act in (Action.MM_ADD, Action.MM_MOVE, Action.RIGHTS_MANAGE)
    ]
    await run.step("User1 walks to parcel-1", a, run.request(u1, u1, Action.MM_MOVE, nil=p1, at=parcel))
    await run.step(
        "User1 acquires parcel-1 from the Parcel Service (Rights transfer)",
        a,
        run.request(u1, pid(a, "parcels"), Action.RIGHTS_MANAGE, nil=parcel, to=u1, rights=acquire),
    )
    await run.step(
        "User1 acquires room-1 from the Author Service (Rights transfer)",
        a,
        run.request(u1, pid(a, "author"), Action.RIGHTS_MANAGE, nil=room, to=u1, rights=acquire),
    )
    await run.step(
        "User1 places room-1 on parcel-1 (MM-Embed)", a, run.request(u1, u1, Action.MM_ADD, nil=room, at=parcel)
    )
    await run.step("User1 enters room-1", a, run.request(u1, u1, Action.MM_MOVE, nil=p1, at=room))

    activity2 = pid(home2, "activity")
    query = run.request(u1, activity2, Action.DISCOVER, of=u2)
    if b is None:
        await run.step("User1 asks the Activity Service: is User2 on MMM? (Discover)", a, query)
    else:
        asked = await run.step(
            f"User1 asks {b}'s Activity Service: is User2 on MMM? (Discover)", a, query, expect="Request"
        )
        price = asked.status.value or Value(0, "EUR")
        paid = await run.step(
            f"User1 pays {price.amount_minor} {price.currency_id} to {b}'s Activity Service (Transact)",
            a,
            run.request(u1, u1, Action.TRANSACT, nil=f"mmm://{a}/wallets/user1-{tag}", to=activity2, payment=price),
        )
        transaction = paid.complements[0].ref_id if paid.complements else ""
        await run.step(
            "User1 asks again, with the payment",
            a,
            run.request(u1, activity2, Action.DISCOVER, of=u2, with_=transaction, payment=price),
        )
    invite = _message(u1, f"invite-{tag}", "Message", {"Text": "Come see me at Room1"}, time_ms=run.clock_ms)
    await run.step(
        "User1 Authors the invitation", a, run.request(u1, u1, Action.AUTHOR, nil=invite["ItemID"], items=[invite])
    )
    await run.step(
        "User1 sends it to User2 (MM-Send)", a, run.request(u1, u2, Action.MM_SEND, nil=invite["ItemID"], to=u2)
    )
    answer = _message(u2, f"ok-{tag}", "Message", {"Text": "Ok"}, time_ms=run.clock_ms)
    await run.step(
        "User2 Authors its answer", home2, run.request(u2, u2, Action.AUTHOR, nil=answer["ItemID"], items=[answer])
    )
    await run.step(
        "User2 answers Ok (MM-Send)", home2, run.request(u2, u1, Action.MM_SEND, nil=answer["ItemID"], to=u1)
    )
    await run.step(
        "User1's Device shows the answer (MU-Embed)", a, run.request(u1, d1, Action.MU_ACTUATE, nil=answer["ItemID"])
    )

    enter = [RightSpec(DeonticVerb.MAY, act) for act in (Action.MM_ADD, Action.MM_MOVE)]
    await run.step(
        "User1 grants User2 the Right to enter room-1 (Change Rights)",
        a,
        run.request(u1, u1, Action.RIGHTS_MANAGE, nil=room, to=u2, rights=enter),
    )
    enterer = pid(a, "resolution") if b is not None else u2
    verb_in = Action.MM_ADD if b is not None else Action.MM_MOVE
    await run.step(
        "User2 enters room-1" + (f" (its Persona travels from {b})" if b else ""),
        home2,
        run.request(u2, enterer, verb_in, nil=p2, at=room),
    )
    await run.step("User1 and User2 move in room-1 (MM-Animate)", a, run.request(u1, u1, Action.MM_ANIMATE, nil=p1))
    await run.step(
        "User2 leaves room-1 for the MM-Square", home2, run.request(u2, enterer, Action.MM_MOVE, nil=p2, at=square)
    )
    await run.step(
        "User1 withdraws User2's Right to enter room-1", a, run.request(u1, u1, Action.RIGHTS_MANAGE, nil=room, frm=u2)
    )
    await run.step(
        "User2 tries to re-enter room-1 and is refused",
        home2,
        run.request(u2, enterer, Action.MM_MOVE, nil=p2, at=room),
        expect=PAErrorCode.INS_RIGHTS.value,
    )
    return run.results


__all__ = ["PAStatusKind", "StepResult", "iso", "persona_draft", "registration_items", "run_phase0"]
