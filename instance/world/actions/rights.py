"""Rights Manage: a Process gives (To) or withdraws (From) Rights on the Nil Item or Process
(phase 0 "Change Rights"; MMM-TEC Levels Granted and Acquired).

The destination is the grantor, acting on its own authority (``actions/authority.py``): it needs
a May Rights Manage Right on the Nil target, and may give only May Rights for Actions it may
perform there itself, so no sequence of grants lets a Process obtain more than its grantor had.
A May Not Right (a prohibition) needs only Rights Manage. Must is not a Right one grants (an
obligation is a request with the deontic verb Must and an If Event), nor is Internal (the Rules
assign Internal Rights at Registration).

* Level Granted: the grantor keeps its Rights (User1 lets User2 enter Room1).
* Level Acquired: a transfer; the grantor's May Rights for those Actions on the target pass to the
  holder (the Parcel Service hands a parcel over).

A Process grants on its own initiative (source = destination). A Service that offers an Item
(``World.offers``: parcels, rooms) also grants Rights on it to a Process that asks for itself,
possibly for a price (Service Pricing Model). Withdrawing removes the Granted Rights the grantor
gave the From Process on the target (those for the listed Actions, or all of them); an Acquired
Right is final: the previous holder cannot take back what it transferred.
"""

from __future__ import annotations

from instance.world.actions.assets import settle
from instance.world.actions.base import ActionContext
from instance.world.itemdocs import iso, item_doc, local_part
from instance.world.model import (
    ComplementKind,
    DeonticVerb,
    PAErrorCode,
    PAStatus,
    Right,
    RightLevel,
)
from mmmfed.errors import MmmfedError


def rights_manage(ctx: ActionContext) -> PAStatus | None:
    """Grant or withdraw; see the module docstring. RS: Nil target, To/From holder, RGT Items.
    The Rights on an Asset held here change by its transfer only (``assets.py``)."""
    target = ctx.target() or ""
    if ctx.world.is_asset(target):
        return settle(ctx)
    to = ctx.target(ComplementKind.TO)
    frm = ctx.target(ComplementKind.FROM)
    if (to is None) == (frm is None):
        return ctx.refuse(
            PAErrorCode.FAULTY_REQ, "Rights Manage names the holder with exactly one of To (grant) or From (withdraw)"
        )
    if target not in ctx.world.items and target not in ctx.world.processes:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item or Process {target} here")
    if to is not None:
        return _grant(ctx, target, to)
    return _withdraw(ctx, target, frm or "")


def _grant(ctx: ActionContext, target: str, holder: str) -> PAStatus | None:
    world = ctx.world
    grantor = ctx.destination
    if ctx.source != grantor:
        if world.offers.get(target) != grantor:
            return ctx.refuse(PAErrorCode.INS_RIGHTS, f"{grantor} gives Rights on {target} only on its own initiative")
        if holder != ctx.source:
            return ctx.refuse(
                PAErrorCode.INS_RIGHTS, f"a Process asks {grantor} for Rights for itself, not for {holder}"
            )
    if holder not in world.processes and (world.is_local(holder) or not holder.startswith("mmm://")):
        return ctx.refuse(PAErrorCode.INC_ID, f"no Process {holder} to hold the Rights")
    if not ctx.request.rights:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "a grant lists the Rights it gives")
    new: list[Right] = []
    transferred: list[str] = []
    for index, spec in enumerate(ctx.request.rights):
        if spec.verb is DeonticVerb.MUST or spec.level is RightLevel.INTERNAL:
            return ctx.refuse(
                PAErrorCode.FAULTY_REQ,
                f"a {spec.verb.value} Right at Level {spec.level.value} is not granted by Rights Manage",
            )
        if spec.verb is DeonticVerb.MAY_NOT and spec.level is RightLevel.ACQUIRED:
            return ctx.refuse(
                PAErrorCode.FAULTY_REQ,
                "a May Not Right is not transferred: give it at Level Granted, so its grantor can withdraw it",
            )
        if spec.verb is DeonticVerb.MAY and not ctx.holds(grantor, spec.action, target):
            return ctx.refuse(
                PAErrorCode.INS_RIGHTS,
                f"{grantor} may not {spec.action.value} {target} itself, so it cannot give that Right",
            )
        try:
            new.append(
                Right(
                    world.id("rights", f"{local_part(ctx.request.process_action_id)}-{index}"),
                    holder,
                    spec.verb,
                    spec.action,
                    target,
                    spec.level,
                    grantor,
                    max(spec.valid_from_ms, 0),
                    spec.valid_until_ms,
                )
            )
        except MmmfedError as err:
            return ctx.refuse(PAErrorCode.FAULTY_REQ, err.message)
        if spec.level is RightLevel.ACQUIRED and spec.verb is DeonticVerb.MAY:
            transferred += [
                r.rights_id
                for r in world.covering(grantor, spec.action, target, ctx.now)
                if r.verb is DeonticVerb.MAY and r.target_id == target
            ]
    if any(r.rights_id in world.rights for r in new):
        return ctx.refuse(PAErrorCode.CLASH, f"Rights ids of {ctx.request.process_action_id} are already used")

    def apply() -> None:
        for rights_id in transferred:
            world.rights.pop(rights_id, None)
        for right in new:
            world.rights[right.rights_id] = right
        if transferred and world.offers.get(target) == grantor:
            del world.offers[target]
        _refresh_capabilities(ctx, target)

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, target)
    ctx.produce(ComplementKind.TO, holder, is_process=True)
    for right in new:
        ctx.out_items.append(_right_item(ctx, right))
    return None


def _withdraw(ctx: ActionContext, target: str, holder: str) -> PAStatus | None:
    world = ctx.world
    grantor = ctx.destination
    if ctx.source != grantor:
        return ctx.refuse(PAErrorCode.INS_RIGHTS, f"{grantor} withdraws Rights only on its own initiative")
    actions = {spec.action for spec in ctx.request.rights}
    gone = [
        r.rights_id
        for r in world.rights_of(holder)
        if r.target_id == target
        and r.granted_by == grantor
        and r.level is not RightLevel.ACQUIRED  # a transfer is final: only Granted Rights are withdrawn
        and (not actions or r.action in actions)
    ]
    if not gone:
        return ctx.refuse(PAErrorCode.CLASH, f"{holder} holds no Rights on {target} given by {grantor} to withdraw")

    def apply() -> None:
        for rights_id in gone:
            del world.rights[rights_id]
        _refresh_capabilities(ctx, target)

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, target)
    ctx.produce(ComplementKind.FROM, holder, is_process=True)
    return None


def _refresh_capabilities(ctx: ActionContext, target: str) -> None:
    doc = ctx.world.items.get(target)
    if doc is not None and doc.get("MInstanceID") == ctx.world.m_instance_id:
        doc["ICapabilities"] = ctx.world.capabilities_doc(target)


def _right_item(ctx: ActionContext, right: Right) -> dict[str, object]:
    fields: dict[str, object] = {
        "RightsID": right.rights_id,
        "HolderID": right.holder_id,
        "DeonticVerb": right.verb.value,
        "Action": right.action.value,
        "TargetID": right.target_id,
        "Level": right.level.value,
        "GrantedBy": right.granted_by,
        "ValidFrom": iso(right.valid_from_ms),
    }
    if right.valid_until_ms is not None:
        fields["ValidUntil"] = iso(right.valid_until_ms)
    return item_doc(
        m_instance_id=ctx.world.m_instance_id,
        item_id=right.rights_id,
        item_type="RGT",
        sub_type="Right",
        producer_id=right.granted_by,
        time_ms=ctx.now,
        fields=fields,
    )
