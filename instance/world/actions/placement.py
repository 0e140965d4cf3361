"""MM-Add, MM-Move, MM-Animate (in the M-Instance) and MU-Actuate, MU-Add (to the Universe).

MM-Add (phase 0 "MM-Embed") places the Nil Item At an M-Location; MM-Move moves a placed Item to
another; leaving a Room is an MM-Move out of it. The At M-Location must be one of this M-Instance
(LocOOR otherwise), and the Rights must cover both the Item and the M-Location (see
``actions/authority.py``). A Persona of another M-Instance, carried through Resolution with its
signed ICapabilities, can be placed too: the M-Instance then holds a copy while it is placed.
"""

from __future__ import annotations

from instance.world.actions.base import ActionContext
from instance.world.model import Action, ComplementKind, PAErrorCode, PAStatus, ProcessType
from instance.world.world import Rendering


def _location(ctx: ActionContext) -> tuple[str | None, PAStatus | None]:
    at = ctx.target(ComplementKind.AT)
    if at is None:
        return None, ctx.refuse(PAErrorCode.FAULTY_REQ, f"{ctx.request.action.value} needs an At M-Location")
    if at not in ctx.world.locations:
        return None, ctx.refuse(PAErrorCode.LOC_OOR, f"{at} is not an M-Location of {ctx.world.m_instance_id}")
    return at, None


def mm_add(ctx: ActionContext) -> PAStatus | None:
    """Place the Nil Item At an M-Location. Clash if it is already placed (MM-Move it) or if the
    source already has as many placements as the Rules allow. RS: Nil Item, At M-Location."""
    world = ctx.world
    item_id = ctx.target() or ""
    doc = ctx.item(item_id)
    if doc is None:
        return ctx.refuse(
            PAErrorCode.INC_ID, f"no Item {item_id} here or carried from {ctx.origin or 'this M-Instance'}"
        )
    at, refusal = _location(ctx)
    if refusal is not None or at is None:
        return refusal
    if item_id in world.placements:
        return ctx.refuse(PAErrorCode.CLASH, f"{item_id} is already placed at {world.placements[item_id]}; MM-Move it")
    mine = sum(1 for i, who in world.placed_by.items() if who == ctx.source and i in world.placements)
    if mine >= ctx.rules.max_placements:
        return ctx.break_rule(
            "MaxPlacementsPerProcess",
            PAErrorCode.CLASH,
            f"{ctx.source} already has {mine} placed Items, the most Rules version {ctx.rules.version_id} allows",
        )
    copy = dict(doc)

    def apply() -> None:
        world.items.setdefault(item_id, copy)
        world.placements[item_id] = at
        world.placed_by[item_id] = ctx.source
        if item_id in world.locations:
            world.locations[item_id] = at  # a Room placed on a parcel now lies in it

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, item_id)
    ctx.produce(ComplementKind.AT, at)
    return None


def mm_move(ctx: ActionContext) -> PAStatus | None:
    """Move a placed Nil Item At another M-Location. RS: Nil Item, At M-Location, From the
    M-Location it left (so Activity Data by M-Location shows who left it, too)."""
    world = ctx.world
    item_id = ctx.target() or ""
    if item_id not in world.placements:
        return ctx.refuse(PAErrorCode.CLASH, f"{item_id} is not placed; MM-Add it first")
    at, refusal = _location(ctx)
    if refusal is not None or at is None:
        return refusal
    left = world.placements[item_id]

    def apply() -> None:
        world.placements[item_id] = at
        if item_id in world.locations:
            world.locations[item_id] = at

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, item_id)
    ctx.produce(ComplementKind.AT, at)
    ctx.produce(ComplementKind.FROM, left)
    return None


def mm_animate(ctx: ActionContext) -> PAStatus | None:
    """Animate a placed Nil Item, With an animation Item if named (a motion stream Identified from
    the Universe). RS: Nil Item."""
    world = ctx.world
    item_id = ctx.target() or ""
    if item_id not in world.placements:
        return ctx.refuse(PAErrorCode.CLASH, f"{item_id} is not placed; only a placed Item can be animated")
    stream = ctx.target(ComplementKind.WITH)
    if stream is not None and ctx.item(stream) is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no animation Item {stream}")
    ctx.then(lambda: world.animations.__setitem__(item_id, stream or "default"))
    ctx.produce(ComplementKind.NIL, item_id)
    return None


def _render(ctx: ActionContext, *, u_location: str | None) -> PAStatus | None:
    world = ctx.world
    item_id = ctx.target() or ""
    if ctx.item(item_id) is None:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item {item_id} to render")
    device = world.processes[ctx.destination]
    if device.type is not ProcessType.DEVICE:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, f"{ctx.destination} is a {device.type.value}, not a Device")
    record = Rendering(ctx.destination, item_id, ctx.request.action, u_location, ctx.now)
    ctx.then(lambda: world.renderings.append(record))
    ctx.produce(ComplementKind.NIL, item_id)
    return None


def mu_actuate(ctx: ActionContext) -> PAStatus | None:
    """A Device renders the Nil Item to its human (phase 0 "MU-Embed"); recorded. RS: Nil Item."""
    return _render(ctx, u_location=None)


def mu_add(ctx: ActionContext) -> PAStatus | None:
    """A Device places the Nil Item At a U-Location (an Item naming a place in the Universe)."""
    at = ctx.target(ComplementKind.AT)
    if at is None:
        return ctx.refuse(PAErrorCode.FAULTY_REQ, "MU-Add needs an At U-Location")
    return _render(ctx, u_location=at)


PLACEMENT_ACTIONS = {
    Action.MM_ADD: mm_add,
    Action.MM_MOVE: mm_move,
    Action.MM_ANIMATE: mm_animate,
    Action.MU_ACTUATE: mu_actuate,
    Action.MU_ADD: mu_add,
}
