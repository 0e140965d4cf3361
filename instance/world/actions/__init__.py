"""Action handlers of the reference M-Instance: one function per MMM-TEC Action it performs.

:data:`HANDLERS` maps each Action to ``handle(ctx) -> PAStatus | None`` (see ``base.py``). An
Action in the Profile without a handler here is refused by the engine (FaultyReq), never crashes.
"""

from __future__ import annotations

from instance.world.actions.base import ActionContext, Handler
from instance.world.actions.content import author, convert, discover, hide, inform, modify, post, validate
from instance.world.actions.identity import authenticate, identify, register
from instance.world.actions.messaging import mm_send
from instance.world.actions.placement import PLACEMENT_ACTIONS
from instance.world.actions.rights import rights_manage
from instance.world.actions.value import transact
from instance.world.model import Action, ComplementKind, PAErrorCode, PAStatus


def resolve(ctx: ActionContext) -> PAStatus | None:
    """Resolve the Nil id: which M-Instance holds it, and, for this one, that it exists (IncID if
    not). Requests to Processes of other M-Instances are resolved by ``instance/resolution.py``
    through the gateways; this Action answers where an id lives. RS: Nil id."""
    target = ctx.target() or ""
    known = target in ctx.world.items or target in ctx.world.processes
    if ctx.world.is_local(target) and not known:
        return ctx.refuse(PAErrorCode.INC_ID, f"no Item or Process {target} in {ctx.world.m_instance_id}")
    if not target.startswith("mmm://"):
        return ctx.refuse(PAErrorCode.FAULTY_REQ, f"{target} is not an mmm:// id")
    ctx.produce(ComplementKind.NIL, target, is_process=target in ctx.world.processes)
    return None


HANDLERS: dict[Action, Handler] = {
    Action.REGISTER: register,
    Action.AUTHENTICATE: authenticate,
    Action.IDENTIFY: identify,
    Action.AUTHOR: author,
    Action.MODIFY: modify,
    Action.CONVERT: convert,
    Action.DISCOVER: discover,
    Action.INFORM: inform,
    Action.POST: post,
    Action.HIDE: hide,
    Action.VALIDATE: validate,
    Action.MM_SEND: mm_send,
    Action.RIGHTS_MANAGE: rights_manage,
    Action.RESOLVE: resolve,
    Action.TRANSACT: transact,
    **PLACEMENT_ACTIONS,
}

__all__ = ["HANDLERS", "ActionContext", "Handler"]
