"""Wearing Items is a Process Action of the World (FGMV-43 9.1, AVIR-303; MMM-TEC Rights).

At home, ``mmmfed avatar wear`` changes the User's avatar: the World decides a **Modify** of
the User's current Persona Item, requested by the User itself and carrying that Item as the
World holds it (a Persona's attachments are kept beside it as avatar versions,
:mod:`instance.avatar_sync`, not inside the MMM-TEC V2.2 Item). So the engine checks, as for
any Process Action, that the User holds a May Right to Modify its Persona and no May Not Right
(``InsRights`` otherwise), records the decision as Activity Data and adds the User to the
Persona's Trace; only on Ack is the new avatar version written, in the same database write.

Not yet at a visited M-Instance: a roaming User holds there only the Rights
:data:`instance.world.actions.identity.ROAMING_PERSONA_ACTIONS` gives on the Persona it brought
(no Modify), so its roaming change is recorded without a Process Action, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from instance.process_actions import ProcessActionService
from instance.world.model import Action, DeonticVerb, PAErrorCode, ProcessActionRequest, complements
from mmmfed.errors import InvalidInput, MmmfedError, NotFound, PermissionDenied
from mmmfed.items import instance_or_none, new_id

WearDecision = Callable[[str, str], MmmfedError | None]
"""``decide(user_process_id, persona_item_id)``: None when the World let the User wear, else the
refusal to raise once the write that recorded the decision is committed."""


def wear_in_world(process_actions: ProcessActionService) -> WearDecision:
    """The decision of a wear at home through ``process_actions``' engine (module docstring).
    The function raises NotFound ``PERSONA_NOT_FOUND`` (the World holds no such Item), and
    returns PermissionDenied ``InsRights`` (the User may not Modify its Persona) or InvalidInput
    ``WEAR_REFUSED`` (any other PA Status Error, metadata ``pa_status``) for the caller to raise
    after committing the Activity Data of the refusal."""

    def decide(user_process_id: str, persona_item_id: str) -> MmmfedError | None:
        world = process_actions.world
        held = world.items.get(persona_item_id)
        if held is None:
            raise NotFound(f"the World holds no Persona {persona_item_id[:256]}", reason="PERSONA_NOT_FOUND")
        now_ms = int(time.time() * 1000)
        request = ProcessActionRequest(
            DeonticVerb.MAY,
            Action.MODIFY,
            user_process_id,
            user_process_id,
            complements(nil=persona_item_id),
            now_ms,
            process_action_id=new_id(instance_or_none(user_process_id) or world.m_instance_id, "process-actions"),
            items=(dict(held),),
        )
        status = process_actions.decide(request).status
        if status.is_ack:
            return None
        code = status.error.value if status.error is not None else status.kind.value
        if status.error is PAErrorCode.INS_RIGHTS:
            return PermissionDenied(f"wear refused: {status.reason}", reason=code)
        return InvalidInput(
            f"wear refused ({code}): {status.reason}", reason="WEAR_REFUSED", metadata={"pa_status": code}
        )

    return decide
