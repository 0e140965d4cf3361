"""Process Action requests and responses in their MMM-TEC V2.2 JSON form (issue 15 item 3), to and
from the gRPC messages of ``proto/mmmfed/api/v1/process_action.proto``, losslessly.

A **request** is an ``MMM4_V22_AnyProcessAction`` (MMM-TEC V2.2 "Process Action", Header
``MMM-PAC-V2.2``) with one ``Request`` entry, whose ``Action`` is the ``MMM4_V22_ProcessAction``::

    {"Header": "MMM-PAC-V2.2", "MInstanceID": "a.example", "ProcessActionID": "mmm://a.example/pa/1",
     "ProcessActionTime": <Simple Time>,
     "ProcessAction": [{"Request": {
        "Time": <Simple Time>, "RQ-Complements": [{"NilItem": "..."}, {"AtItem": "..."}],
        "Action": {"Header": "MMM-PAC-V2.2", "MInstanceID": "a.example",
                   "ProcessActionID": "mmm://a.example/pa/1", "Action": "MM-Add",
                   "ProcessActionTime": <Simple Time>, "RQ-Complements": [...the same...],
                   "PAStatus": [],
                   "mmmfed:Fields": {"DeonticVerb": "May", "SourceProcessID": "...",
                                     "DestinationProcessID": "...", "IfEvent": ..., "Payment": <Value>,
                                     "Rights": [...], "Items": [<V2.2 Item>, ...]},
                   "mmmfed:ActionPA": <MMM4_V22_MMAddPA request>}}}]}

A **response** is an ``MMM4_V22_ProcessAction`` (``AnyProcessAction``'s closed Response entry has
no room for a Value Request, its reason or Items)::

    {"Header": "MMM-PAC-V2.2", "MInstanceID": <the deciding M-Instance>, "ProcessActionID": "...",
     "ProcessActionTime": <Simple Time>, "RQ-Complements": [], "RS-Complements": [{"NilProcess": "..."}],
     "PAStatus": [{"Ack": "Ack"}] | [{"Request": <Value>}] | [{"Error": "InsRights"}],
     "Action": "MM-Add", "mmmfed:Fields": {"Reason": "...", "Items": [<V2.2 Item>, ...]},
     "mmmfed:ActionPA": <MMM4_V22_MMAddPA response>}

A Complement is one ``{<Kind><Item|Process>: id}`` entry (``NilItem``, ``ToProcess``, ``OfItem``...);
times are Simple Times of one absolute-millisecond instant (``mmmfed.v22.parts``); Values are
``MMM4_V22_Value`` s in minor units (the shared parts: :mod:`mmmfed.v22.pa_parts`). Fields V2.2
has no place for go under ``mmmfed:Fields``, as for Items (``docs/v22-items.md``); the ``*PA``
document is :mod:`mmmfed.v22.action_pa`'s. Items
are carried in their V2.2 form, as on the wire. Schema names: :data:`REQUEST_SCHEMA`,
:data:`RESPONSE_SCHEMA` (MPAI's document with the corrections of ``docs/mpai-v22-faults.md``).

Lossless: ``request_from_v22(request_to_v22(m)) == m`` for every valid request message (Header
``MMM-PAC-V2.2``, known Action, non-empty source and destination, Complements with a kind and a
target, a time from 1970 to 9999), and likewise for responses (a PA Status set, ``ack`` true, a
known error code), Items compared as compact JSON.
Reading (``*_from_v22``) raises InvalidInput ``PROCESS_ACTION_MALFORMED`` with metadata ``field``,
a JSON pointer into the document (e.g. ``/ProcessAction/0/Request/Action/mmmfed:Fields/Payment``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.schemas import mpai
from mmmfed.v22 import parts
from mmmfed.v22.action_pa import ACTION_PA_KEY, pa_schema, request_pa, response_pa
from mmmfed.v22.pa_parts import (
    ERROR_CODES,
    ERRORS,
    FIELDS,
    HEADER,
    MAX_TIME_MS,
    VERBS,
    action_of,
    bad,
    complements_of,
    complements_to,
    fields_of,
    integer,
    items_of,
    items_to,
    nonempty_str,
    time_doc,
    time_of,
    valid,
    value_of,
    verb_of,
)

REQUEST_SCHEMA = "MMM4_V22_AnyProcessAction"
RESPONSE_SCHEMA = "MMM4_V22_ProcessAction"
_INNER = "/ProcessAction/0/Request/Action"


# -- requests --------------------------------------------------------------------------------
def request_to_v22(msg: papb.ProcessActionRequest) -> dict[str, Any]:
    """The V2.2 form of ``msg`` (see the module docstring). Raises InvalidInput for a message
    that has none (another Header, an unknown verb or Action, a Complement without kind or target)."""
    if msg.header not in ("", HEADER):
        raise bad("header", f"{msg.header!r} is not {HEADER}")
    if msg.deontic_verb not in VERBS:
        raise bad("deontic_verb", "unspecified or unknown deontic verb")
    action_of(msg.action, "action")
    pa_id, when = msg.process_action_id, time_doc(msg.process_action_id, msg.time_ms)
    complements = complements_to(msg.rq_complements, "rq_complements")
    fields: dict[str, Any] = {
        "DeonticVerb": VERBS[msg.deontic_verb],
        "SourceProcessID": msg.source_process_id,
        "DestinationProcessID": msg.destination_process_id,
    }
    if msg.HasField("if_event"):
        fields["IfEvent"] = _if_event_to(msg.if_event)
    if msg.HasField("payment"):
        fields["Payment"] = parts.value_doc(msg.payment.amount_minor, msg.payment.currency_id)
    if msg.rights:
        fields["Rights"] = [_right_to(r, f"rights[{i}]") for i, r in enumerate(msg.rights)]
    if msg.items_json:
        fields["Items"] = items_to(msg.items_json, "items_json")
    inner: dict[str, Any] = {
        "Header": HEADER,
        "MInstanceID": msg.m_instance_id,
        "ProcessActionID": pa_id,
        "Action": msg.action,
        "ProcessActionTime": when,
        "RQ-Complements": complements,
        "PAStatus": [],
        FIELDS: fields,
    }
    nil_ids = [c.item_id or c.process_id for c in msg.rq_complements if c.kind == papb.COMPLEMENT_KIND_NIL]
    action_pa = request_pa(
        msg.action, m_instance_id=msg.m_instance_id, pa_id=pa_id, time_ms=msg.time_ms, nil_ids=nil_ids
    )
    if action_pa is not None:
        inner[ACTION_PA_KEY] = action_pa
    return {
        "Header": HEADER,
        "MInstanceID": msg.m_instance_id,
        "ProcessActionID": pa_id,
        "ProcessActionTime": when,
        "ProcessAction": [{"Request": {"Time": when, "Action": inner, "RQ-Complements": complements}}],
    }


def _if_event_to(event: papb.IfEvent) -> dict[str, Any]:
    which = event.WhichOneof("condition")
    if which == "process_action_id":
        return {"ProcessActionID": event.process_action_id}
    if which == "at_time_ms":
        return {"TimeMs": event.at_time_ms}
    if which == "on_action":
        action_of(event.on_action.action, "if_event.on_action.action")
        on = event.on_action
        return {"Action": on.action, **({"ItemID": on.item_id} if on.item_id else {})}
    raise bad("if_event", "an If Event names a Process Action, a Time or an Action")


def _right_to(spec: papb.RightSpec, field: str) -> dict[str, Any]:
    if spec.deontic_verb not in VERBS:
        raise bad(f"{field}.deontic_verb", "unspecified or unknown deontic verb")
    action_of(spec.action, f"{field}.action")
    out: dict[str, Any] = {"DeonticVerb": VERBS[spec.deontic_verb], "Action": spec.action}
    if spec.level:
        out["Level"] = spec.level
    out["ValidFromMs"] = spec.valid_from_ms
    if spec.valid_until_ms:
        out["ValidUntilMs"] = spec.valid_until_ms
    return out


_REQUEST_FIELDS = frozenset(
    {"DeonticVerb", "SourceProcessID", "DestinationProcessID", "IfEvent", "Payment", "Rights", "Items"}
)


def request_from_v22(doc: object) -> papb.ProcessActionRequest:
    """The gRPC message of a request's V2.2 form. Raises InvalidInput (see the module docstring):
    first where ``doc`` is not a valid ``MMM4_V22_AnyProcessAction`` with one Request entry (and,
    if it carries one, a valid ``*PA`` document of its Action), then where ``mmmfed:Fields`` is wrong."""
    if not isinstance(doc, Mapping):
        raise bad("/", "a Process Action request is a JSON object")
    _valid_request_entry(doc.get("ProcessAction"))
    valid(REQUEST_SCHEMA, doc)
    entries = doc["ProcessAction"]
    if len(entries) != 1 or "Request" not in entries[0]:
        raise bad("/ProcessAction", "a request has exactly one entry, a Request")
    request = entries[0]["Request"]
    inner = request["Action"]
    action = action_of(inner.get("Action"), f"{_INNER}/Action")
    for key in ("ProcessActionID", "MInstanceID"):
        if inner[key] != doc[key]:
            raise bad(f"{_INNER}/{key}", f"differs from the request's {key}")
    if inner["RQ-Complements"] != request["RQ-Complements"]:
        raise bad(f"{_INNER}/RQ-Complements", "differs from the Request's RQ-Complements")
    if inner["PAStatus"]:
        raise bad(f"{_INNER}/PAStatus", "a request has no PA Status yet")
    time_ms = time_of(doc.get("ProcessActionTime", request["Time"]), "/ProcessActionTime")
    if time_of(request["Time"], "/ProcessAction/0/Request/Time") != time_ms:
        raise bad("/ProcessAction/0/Request/Time", "differs from ProcessActionTime")
    _check_action_pa(inner, action, f"{_INNER}/{ACTION_PA_KEY}")
    where = f"{_INNER}/{FIELDS}"
    fields = fields_of(inner.get(FIELDS), where, _REQUEST_FIELDS)
    msg = papb.ProcessActionRequest(
        header=HEADER,
        m_instance_id=doc["MInstanceID"],
        process_action_id=doc["ProcessActionID"],
        source_process_id=nonempty_str(fields, "SourceProcessID", where),
        destination_process_id=nonempty_str(fields, "DestinationProcessID", where),
        deontic_verb=verb_of(fields.get("DeonticVerb"), f"{where}/DeonticVerb"),
        action=action,
        rq_complements=complements_of(request["RQ-Complements"], "/ProcessAction/0/Request/RQ-Complements"),
        time_ms=time_ms,
    )
    if "IfEvent" in fields:
        _if_event_of(fields["IfEvent"], f"{where}/IfEvent", msg.if_event)
    if "Payment" in fields:
        msg.payment.CopyFrom(value_of(fields["Payment"], f"{where}/Payment"))
    rights = fields.get("Rights", [])
    if not isinstance(rights, list) or len(rights) > 32:
        raise bad(f"{where}/Rights", "must be a list of at most 32 Rights")
    msg.rights.extend(_right_of(r, f"{where}/Rights/{i}") for i, r in enumerate(rights))
    msg.items_json.extend(items_of(fields.get("Items", []), f"{where}/Items"))
    return msg


def _valid_request_entry(entries: object) -> None:
    """Check the one Request entry's parts on their own first, so that a fault in them is named
    where it is (``AnyProcessAction`` would only say that the entry matches no ``oneOf`` branch)."""
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], Mapping):
        return
    request = entries[0].get("Request")
    if not isinstance(request, Mapping):
        return
    at = "/ProcessAction/0/Request"
    unknown = sorted(set(request) - {"Time", "Action", "RQ-Complements"})
    if unknown:
        raise bad(f"{at}/{unknown[0]}", "unknown field (a Request has Time, Action and RQ-Complements)")
    for key, name in (
        ("Time", "OSD_V15_SimpleTime"),
        ("Action", "MMM4_V22_ProcessAction"),
        ("RQ-Complements", "MMM4_V22_AnyProcessAction__Prepositions"),
    ):
        if key not in request:
            raise bad(f"{at}/{key}", "is required")
        valid(name, request[key], f"{at}/{key}")


def _check_action_pa(pa: Mapping[str, Any], action: str, field: str) -> None:
    if ACTION_PA_KEY not in pa:
        return
    name = pa_schema(action)
    if name is None:
        raise bad(field, f"MMM-TEC V2.2 has no *PA schema for {action}")
    problems = mpai.errors(name, pa[ACTION_PA_KEY])
    if problems:
        raise bad(f"{field}{problems[0].split(':', 1)[0].rstrip('/')}", f"not a valid {name}: {problems[0]}")


def _if_event_of(raw: object, field: str, out: papb.IfEvent) -> None:
    keys = [k for k in ("ProcessActionID", "TimeMs", "Action") if isinstance(raw, Mapping) and k in raw]
    if not isinstance(raw, Mapping) or len(keys) != 1 or set(raw) - {"ProcessActionID", "TimeMs", "Action", "ItemID"}:
        raise bad(field, "is exactly one of {ProcessActionID}, {TimeMs} or {Action[, ItemID]}")
    if keys == ["ProcessActionID"]:
        out.process_action_id = nonempty_str(raw, "ProcessActionID", field)
    elif keys == ["TimeMs"]:
        out.at_time_ms = integer(raw["TimeMs"], f"{field}/TimeMs")
    else:
        out.on_action.action = action_of(raw["Action"], f"{field}/Action")
        out.on_action.item_id = nonempty_str(raw, "ItemID", field) if "ItemID" in raw else ""


def _right_of(raw: object, field: str) -> papb.RightSpec:
    if not isinstance(raw, Mapping) or set(raw) - {"DeonticVerb", "Action", "Level", "ValidFromMs", "ValidUntilMs"}:
        raise bad(field, "a Right is {DeonticVerb, Action, Level?, ValidFromMs?, ValidUntilMs?}")
    level = raw.get("Level", "")
    if level not in ("", "Internal", "Acquired", "Granted"):
        raise bad(f"{field}/Level", f"{level!r} is not Internal, Acquired or Granted"[:120])
    return papb.RightSpec(
        deontic_verb=verb_of(raw.get("DeonticVerb"), f"{field}/DeonticVerb"),
        action=action_of(raw.get("Action"), f"{field}/Action"),
        level=level,
        valid_from_ms=integer(raw.get("ValidFromMs", 0), f"{field}/ValidFromMs"),
        valid_until_ms=integer(raw.get("ValidUntilMs", 0), f"{field}/ValidUntilMs"),
    )


# -- responses -------------------------------------------------------------------------------
def response_to_v22(msg: papb.ProcessActionResponse, *, action: str | None = None) -> dict[str, Any]:
    """The V2.2 form of ``msg``. ``action`` (the request's, which a response does not restate)
    adds ``Action`` and the ``*PA`` response document. Raises InvalidInput for a message without
    a PA Status or with an unknown error code."""
    which = msg.pa_status.WhichOneof("status")
    fields: dict[str, Any] = {}
    if which == "ack":
        status: dict[str, Any] = {"Ack": "Ack"}
    elif which == "request":
        status = {"Request": parts.value_doc(msg.pa_status.request.amount_minor, msg.pa_status.request.currency_id)}
    elif which == "error" and msg.pa_status.error.code in ERRORS:
        status = {"Error": ERRORS[msg.pa_status.error.code]}
        if msg.pa_status.error.reason:
            fields["Reason"] = msg.pa_status.error.reason
    else:
        raise bad("pa_status", "a response has a PA Status: ack, request or a known error code")
    if msg.items_json:
        fields["Items"] = items_to(msg.items_json, "items_json")
    pa_id, when = msg.process_action_id, time_doc(msg.process_action_id, msg.time_ms)
    out: dict[str, Any] = {
        "Header": HEADER,
        "MInstanceID": msg.m_instance_id,
        "ProcessActionID": pa_id,
        "ProcessActionTime": when,
        "RQ-Complements": [],
        "RS-Complements": complements_to(msg.rs_complements, "rs_complements"),
        "PAStatus": [status],
    }
    if fields:
        out[FIELDS] = fields
    if action is not None:
        out["Action"] = action_of(action, "action")
        action_pa = response_pa(
            action, m_instance_id=msg.m_instance_id, pa_id=pa_id, time_ms=msg.time_ms, status=status
        )
        if action_pa is not None:
            out[ACTION_PA_KEY] = action_pa
    return out


def response_from_v22(doc: object) -> papb.ProcessActionResponse:
    """The gRPC message of a response's V2.2 form (an ``MMM4_V22_ProcessAction`` with one PA
    Status). Raises InvalidInput (see the module docstring)."""
    if not isinstance(doc, Mapping):
        raise bad("/", "a Process Action response is a JSON object")
    valid(RESPONSE_SCHEMA, doc)
    statuses = doc["PAStatus"]
    if len(statuses) != 1:
        raise bad("/PAStatus", "a response has exactly one PA Status")
    if "Action" in doc:
        _check_action_pa(doc, doc["Action"], f"/{ACTION_PA_KEY}")
    fields = fields_of(doc.get(FIELDS), f"/{FIELDS}", frozenset({"Reason", "Items"}))
    msg = papb.ProcessActionResponse(
        process_action_id=doc["ProcessActionID"],
        rs_complements=complements_of(doc.get("RS-Complements", []), "/RS-Complements"),
        time_ms=time_of(doc.get("ProcessActionTime"), "/ProcessActionTime"),
        m_instance_id=doc["MInstanceID"],
    )
    status = statuses[0]
    if "Reason" in fields and "Error" not in status:
        raise bad(f"/{FIELDS}/Reason", "only an Error has a Reason")
    if "Ack" in status:
        msg.pa_status.ack = True
    elif "Request" in status:
        msg.pa_status.request.CopyFrom(value_of(status["Request"], "/PAStatus/0/Request"))
    else:
        reason = fields.get("Reason", "")
        if not isinstance(reason, str):
            raise bad(f"/{FIELDS}/Reason", "must be a string")
        msg.pa_status.error.CopyFrom(papb.PAError(code=ERROR_CODES[status["Error"]], reason=reason))
    msg.items_json.extend(items_of(fields.get("Items", []), f"/{FIELDS}/Items"))
    return msg


__all__ = [
    "HEADER",
    "MAX_TIME_MS",
    "REQUEST_SCHEMA",
    "RESPONSE_SCHEMA",
    "request_from_v22",
    "request_to_v22",
    "response_from_v22",
    "response_to_v22",
]
