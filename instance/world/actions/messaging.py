"""MM-Send: send the Nil Item To a Process (phase 0: messages between Users, presence to the
Activity Service). The To Process must be of this M-Instance: a request to a Process of another
M-Instance goes through Resolution (``instance/resolution.py``), which delivers it there.

Rule: a Message's ``Content.Text`` may not be longer than the Rules' ``MaxMessageChars`` (IncDQ
and a Fault Behaviour / Detection Report). A Presence Item sent to a Service sets the sender's
presence (``Content.Online``), which Discover Of the sender then reports. A User that receives an
Item acquires the Right to render it on its Devices (May MU-Actuate, Level Acquired, given by the
sender): a message is sent to be seen.
"""

from __future__ import annotations

from typing import Any

from instance.world.actions.base import ActionContext
from instance.world.itemdocs import local_part, sub_type
from instance.world.model import Action, ComplementKind, PAErrorCode, PAStatus, ProcessType, RightLevel


def mm_send(ctx: ActionContext) -> PAStatus | None:
    """Deliver the Nil Item to the To Process's inbox. RS: Nil Item, To Process."""
    world = ctx.world
    item_id = ctx.target() or ""
    doc = ctx.item(item_id)
    if doc is None:
        return ctx.refuse(
            PAErrorCode.INC_ID, f"no Item {item_id} here or carried from {ctx.origin or 'this M-Instance'}"
        )
    to = ctx.target(ComplementKind.TO) or ctx.destination
    if to not in world.processes or not world.is_local(to):
        return ctx.refuse(PAErrorCode.INC_ID, f"MM-Send needs a To Process of {world.m_instance_id}, not {to}")
    raw_content = doc.get("Content")
    content: dict[str, Any] = raw_content if isinstance(raw_content, dict) else {}
    text = content.get("Text")
    if sub_type(doc) == "Message" and isinstance(text, str) and len(text) > ctx.rules.max_message_chars:
        return ctx.break_rule(
            "MaxMessageChars",
            PAErrorCode.INC_DQ,
            f"the Message has {len(text)} characters; Rules version {ctx.rules.version_id} "
            f"allows {ctx.rules.max_message_chars}",
        )
    copy = dict(doc)
    receiver = world.processes[to].type
    presence = sub_type(doc) == "Presence" and receiver is ProcessType.SERVICE
    seen = world.owner_rights(
        to,
        item_id,
        frozenset({Action.MU_ACTUATE}) if receiver is ProcessType.USER and to != ctx.source else frozenset(),
        granted_by=ctx.source,
        at_ms=ctx.now,
        level=RightLevel.ACQUIRED,
        tag=world.id("rights", f"received-{local_part(ctx.request.process_action_id)}"),
    )

    def apply() -> None:
        world.items.setdefault(item_id, copy)
        world.inboxes.setdefault(to, []).append(item_id)
        for right in seen:
            world.rights[right.rights_id] = right
        if presence:
            world.presence[ctx.source] = bool(content.get("Online", True))

    ctx.then(apply)
    ctx.produce(ComplementKind.NIL, item_id)
    ctx.produce(ComplementKind.TO, to, is_process=True)
    return None
