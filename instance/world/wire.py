"""Process Action requests and responses between the model (``instance/world/model.py``) and the
protobuf messages of ``proto/mmmfed/api/v1/process_action.proto``.

Decoding is strict: an unknown deontic verb, Action, Complement kind or Rights Level, an Item
that is not strict I-JSON (``mmmfed.strictjson``), raises InvalidInput
(``PROCESS_ACTION_MALFORMED`` or the JSON reasons) naming the field, so the servicer answers
INVALID_ARGUMENT and nothing is decided.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from instance.world.model import (
    Action,
    Complement,
    ComplementKind,
    DeonticVerb,
    IfEvent,
    PAErrorCode,
    PAStatus,
    PAStatusKind,
    ProcessActionRequest,
    ProcessActionResponse,
    RightLevel,
    RightSpec,
    Value,
)
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.errors import InvalidInput
from mmmfed.strictjson import parse_json
from mmmfed.v22 import decode, encode

_VERBS = {
    papb.DEONTIC_VERB_MAY: DeonticVerb.MAY,
    papb.DEONTIC_VERB_MAY_NOT: DeonticVerb.MAY_NOT,
    papb.DEONTIC_VERB_MUST: DeonticVerb.MUST,
}
_VERB_CODES = {v: k for k, v in _VERBS.items()}
_KINDS = {getattr(papb, f"COMPLEMENT_KIND_{k.name}"): k for k in ComplementKind}
_KIND_CODES = {v: k for k, v in _KINDS.items()}
_ERRORS = {
    getattr(papb, f"PA_ERROR_CODE_{name}"): code
    for name, code in (
        ("CLASH", PAErrorCode.CLASH),
        ("FAULTY_REQ", PAErrorCode.FAULTY_REQ),
        ("INC_ID", PAErrorCode.INC_ID),
        ("INC_DQ", PAErrorCode.INC_DQ),
        ("INS_RIGHTS", PAErrorCode.INS_RIGHTS),
        ("INS_VALUE", PAErrorCode.INS_VALUE),
        ("LOC_OOR", PAErrorCode.LOC_OOR),
        ("POST_REF", PAErrorCode.POST_REF),
        ("QUAL_NS", PAErrorCode.QUAL_NS),
    )
}
_ERROR_CODES = {v: k for k, v in _ERRORS.items()}


def _bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Process Action field {field}: {why}", reason="PROCESS_ACTION_MALFORMED", metadata={"field": field}
    )


def _action(name: str, field: str) -> Action:
    try:
        return Action(name)
    except ValueError:
        raise _bad(field, f"{name!r} is not an MMM-TEC Action") from None


def _complement(c: papb.Complement, field: str) -> Complement:
    kind = _KINDS.get(c.kind)
    if kind is None:
        raise _bad(f"{field}.kind", "unspecified or unknown Complement kind")
    which = c.WhichOneof("target")
    if which is None:
        raise _bad(field, "a Complement names an item_id or a process_id")
    return Complement(kind, getattr(c, which), is_process=which == "process_id")


def _complement_pb(c: Complement) -> papb.Complement:
    if c.is_process:
        return papb.Complement(kind=_KIND_CODES[c.kind], process_id=c.ref_id)
    return papb.Complement(kind=_KIND_CODES[c.kind], item_id=c.ref_id)


def _items(raws: Any, field: str) -> tuple[Mapping[str, Any], ...]:
    out = []
    for index, raw in enumerate(raws):
        wire = parse_json(bytes(raw))
        if not isinstance(wire, dict):
            raise _bad(f"{field}[{index}]", "an Item is a JSON object")
        try:
            out.append(decode(wire))  # Items travel in their V2.2 form; the World reads the domain's
        except (InvalidInput, KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise _bad(f"{field}[{index}]", f"not an MMM-TEC V2.2 Item mmmfed reads: {err}"[:300]) from err
    return tuple(out)


def _item_bytes(doc: Mapping[str, Any]) -> bytes:
    """A carried Item's V2.2 form (:func:`mmmfed.v22.encode`) as compact JSON."""
    return _json_bytes(encode(doc))


def _json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def request_from_proto(msg: papb.ProcessActionRequest) -> ProcessActionRequest:
    """Decode; raises InvalidInput (see the module docstring)."""
    verb = _VERBS.get(msg.deontic_verb)
    if verb is None:
        raise _bad("deontic_verb", "unspecified or unknown deontic verb")
    event = None
    if msg.HasField("if_event"):
        which = msg.if_event.WhichOneof("condition")
        if which == "process_action_id":
            event = IfEvent(process_action_id=msg.if_event.process_action_id)
        elif which == "at_time_ms":
            event = IfEvent(at_time_ms=msg.if_event.at_time_ms)
        elif which == "on_action":
            on = msg.if_event.on_action
            event = IfEvent(action=_action(on.action, "if_event.on_action.action"), item_id=on.item_id or None)
        else:
            raise _bad("if_event", "an If Event names a Process Action, a Time or an Action")
    rights = []
    for index, spec in enumerate(msg.rights):
        spec_verb = _VERBS.get(spec.deontic_verb)
        if spec_verb is None:
            raise _bad(f"rights[{index}].deontic_verb", "unspecified or unknown deontic verb")
        try:
            level = RightLevel(spec.level or "Granted")
        except ValueError:
            raise _bad(f"rights[{index}].level", f"{spec.level!r} is not Internal, Acquired or Granted") from None
        rights.append(
            RightSpec(
                spec_verb,
                _action(spec.action, f"rights[{index}].action"),
                level,
                spec.valid_from_ms,
                spec.valid_until_ms or None,
            )
        )
    return ProcessActionRequest(
        verb=verb,
        action=_action(msg.action, "action"),
        source_id=msg.source_process_id,
        destination_id=msg.destination_process_id,
        complements=tuple(_complement(c, f"rq_complements[{i}]") for i, c in enumerate(msg.rq_complements)),
        time_ms=msg.time_ms,
        payment=Value(msg.payment.amount_minor, msg.payment.currency_id) if msg.HasField("payment") else None,
        process_action_id=msg.process_action_id,
        if_event=event,
        rights=tuple(rights),
        items=_items(msg.items_json, "items_json"),
    )


def request_to_proto(r: ProcessActionRequest, *, m_instance_id: str = "") -> papb.ProcessActionRequest:
    """Encode (``m_instance_id``: the requesting Process's M-Instance)."""
    msg = papb.ProcessActionRequest(
        header="MMM-PAC-V2.2",
        m_instance_id=m_instance_id,
        process_action_id=r.process_action_id,
        source_process_id=r.source_id,
        destination_process_id=r.destination_id,
        deontic_verb=_VERB_CODES[r.verb],
        action=r.action.value,
        rq_complements=[_complement_pb(c) for c in r.complements],
        time_ms=r.time_ms,
        rights=[
            papb.RightSpec(
                deontic_verb=_VERB_CODES[s.verb],
                action=s.action.value,
                level=s.level.value,
                valid_from_ms=s.valid_from_ms,
                valid_until_ms=s.valid_until_ms or 0,
            )
            for s in r.rights
        ],
        items_json=[_item_bytes(i) for i in r.items],
    )
    if r.payment is not None:
        msg.payment.CopyFrom(papb.Value(amount_minor=r.payment.amount_minor, currency_id=r.payment.currency_id))
    event = r.if_event
    if event is not None:
        if event.process_action_id is not None:
            msg.if_event.process_action_id = event.process_action_id
        elif event.at_time_ms is not None:
            msg.if_event.at_time_ms = event.at_time_ms
        elif event.action is not None:
            msg.if_event.on_action.action = event.action.value
            msg.if_event.on_action.item_id = event.item_id or ""
    return msg


def response_to_proto(r: ProcessActionResponse, *, m_instance_id: str) -> papb.ProcessActionResponse:
    """Encode ``r`` as decided by ``m_instance_id`` (or by ``r.decided_by``, for a response that
    came back through Resolution)."""
    status = papb.PAStatus()
    if r.status.kind is PAStatusKind.ACK:
        status.ack = True
    elif r.status.kind is PAStatusKind.REQUEST and r.status.value is not None:
        status.request.CopyFrom(
            papb.Value(amount_minor=r.status.value.amount_minor, currency_id=r.status.value.currency_id)
        )
    else:
        status.error.CopyFrom(
            papb.PAError(
                code=papb.PA_ERROR_CODE_UNSPECIFIED
                if r.status.error is None
                else _ERROR_CODES.get(r.status.error, papb.PA_ERROR_CODE_UNSPECIFIED),
                reason=r.status.reason,
            )
        )
    return papb.ProcessActionResponse(
        process_action_id=r.process_action_id,
        rs_complements=[_complement_pb(c) for c in r.complements],
        pa_status=status,
        time_ms=r.time_ms,
        items_json=[_item_bytes(i) for i in r.items],
        m_instance_id=r.decided_by or m_instance_id,
    )


def response_from_proto(msg: papb.ProcessActionResponse) -> ProcessActionResponse:
    """Decode a response (from a peer through Resolution, or for a client)."""
    which = msg.pa_status.WhichOneof("status")
    if which == "ack":
        status = PAStatus.ack()
    elif which == "request":
        status = PAStatus.request(Value(msg.pa_status.request.amount_minor, msg.pa_status.request.currency_id))
    elif which == "error":
        code = _ERRORS.get(msg.pa_status.error.code)
        if code is None:
            raise _bad("pa_status.error.code", "unspecified or unknown PA Status error code")
        status = PAStatus.fail(code, msg.pa_status.error.reason)
    else:
        raise _bad("pa_status", "a response has a PA Status")
    return ProcessActionResponse(
        process_action_id=msg.process_action_id,
        status=status,
        complements=tuple(_complement(c, f"rs_complements[{i}]") for i, c in enumerate(msg.rs_complements)),
        items=_items(msg.items_json, "items_json"),
        time_ms=msg.time_ms,
        decided_by=msg.m_instance_id,
    )
