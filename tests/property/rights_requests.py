"""Requests of the Rights property test (test_rights_property.py): ITM drafts, the Register request
of a User with one Persona, and a Process Action request from its Action, Complements (Nil, At, To,
From, Of, With), carried Items, Rights and payment (MMM-TEC V2.2 Inter-Process Protocol)."""

from __future__ import annotations

from typing import Any

from rights_population import APP, REGISTRATION, START_MS, M, persona_id, pid

from instance.world.itemdocs import item_doc
from instance.world.model import Action, Complement, ComplementKind, DeonticVerb, ProcessActionRequest, RightSpec, Value

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
