"""Process Action requests and responses as JSON objects in the M-Instance's own form: what its
Activity Data rows store and the engine replays (``instance/world/activity.py``). It is not the
exchange form: ``mmmfed pa send --file``, ``--json`` and the ACD Items carry the MMM-TEC V2.2 form
(``mmmfed/v22/process_action.py``, issue 15 item 3).

Request::

    {"ProcessActionID": "mmm://a.example/pa/1", "TimeMs": 1764054000000, "DeonticVerb": "May",
     "Action": "MM-Add", "SourceProcessID": "...", "DestinationProcessID": "...",
     "RQComplements": [{"Kind": "Nil", "ItemID": "..."}, {"Kind": "At", "ItemID": "..."}],
     "IfEvent": {"ProcessActionID": "..."} | {"TimeMs": 1} | {"Action": "MM-Add", "ItemID": "..."},
     "Payment": {"Amount": 5, "CurrencyID": "EUR"},
     "Rights": [{"DeonticVerb": "May", "Action": "MM-Add", "Level": "Granted", "ValidFromMs": 0,
                 "ValidUntilMs": null}],
     "Items": [<Item>, ...]}

Only ProcessActionID, DeonticVerb, Action, SourceProcessID and DestinationProcessID are required.
:func:`request_from_json` raises InvalidInput naming the field at fault; amounts and times must be
integers (no floats).
"""

from __future__ import annotations

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
from mmmfed.errors import InvalidInput


def _bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Process Action field {field}: {why}", reason="PROCESS_ACTION_MALFORMED", metadata={"field": field}
    )


def _int(value: object, field: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(field, f"must be an integer, not {value!r}")
    return value


def _str(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(field, "must be a non-empty string")
    return value


def _enum(kind: Any, value: object, field: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise _bad(field, f"{value!r} is not one of {', '.join(m.value for m in kind)}") from None


def complement_to_json(c: Complement) -> dict[str, str]:
    return {"Kind": c.kind.value, ("ProcessID" if c.is_process else "ItemID"): c.ref_id}


def complement_from_json(raw: object, field: str) -> Complement:
    if (
        not isinstance(raw, Mapping)
        or set(raw) - {"Kind", "ItemID", "ProcessID"}
        or ("ItemID" in raw) == ("ProcessID" in raw)
    ):
        raise _bad(field, "a Complement is {Kind, ItemID} or {Kind, ProcessID}")
    kind = _enum(ComplementKind, raw.get("Kind"), f"{field}.Kind")
    if "ProcessID" in raw:
        return Complement(kind, _str(raw["ProcessID"], f"{field}.ProcessID"), is_process=True)
    return Complement(kind, _str(raw["ItemID"], f"{field}.ItemID"))


def value_to_json(v: Value) -> dict[str, Any]:
    return {"Amount": v.amount_minor, "CurrencyID": v.currency_id}


def value_from_json(raw: object, field: str) -> Value:
    if not isinstance(raw, Mapping):
        raise _bad(field, "a Value is {Amount, CurrencyID}")
    amount = _int(raw.get("Amount"), f"{field}.Amount")
    assert amount is not None
    return Value(amount, _str(raw.get("CurrencyID"), f"{field}.CurrencyID"))


def request_to_json(r: ProcessActionRequest) -> dict[str, Any]:
    """The JSON form of ``r`` (see the module docstring)."""
    out: dict[str, Any] = {
        "ProcessActionID": r.process_action_id,
        "TimeMs": r.time_ms,
        "DeonticVerb": r.verb.value,
        "Action": r.action.value,
        "SourceProcessID": r.source_id,
        "DestinationProcessID": r.destination_id,
        "RQComplements": [complement_to_json(c) for c in r.complements],
    }
    if r.if_event is not None:
        e = r.if_event
        if e.process_action_id is not None:
            out["IfEvent"] = {"ProcessActionID": e.process_action_id}
        elif e.at_time_ms is not None:
            out["IfEvent"] = {"TimeMs": e.at_time_ms}
        else:
            out["IfEvent"] = {
                "Action": e.action.value if e.action else None,
                **({"ItemID": e.item_id} if e.item_id else {}),
            }
    if r.payment is not None:
        out["Payment"] = value_to_json(r.payment)
    if r.rights:
        out["Rights"] = [
            {
                "DeonticVerb": s.verb.value,
                "Action": s.action.value,
                "Level": s.level.value,
                "ValidFromMs": s.valid_from_ms,
                "ValidUntilMs": s.valid_until_ms,
            }
            for s in r.rights
        ]
    if r.items:
        out["Items"] = [dict(i) for i in r.items]
    return out


_REQUEST_FIELDS = frozenset(
    {
        "ProcessActionID",
        "TimeMs",
        "DeonticVerb",
        "Action",
        "SourceProcessID",
        "DestinationProcessID",
        "RQComplements",
        "IfEvent",
        "Payment",
        "Rights",
        "Items",
    }
)


def request_from_json(raw: object) -> ProcessActionRequest:
    """Parse the JSON form. Raises InvalidInput (``PROCESS_ACTION_MALFORMED``, metadata ``field``)."""
    if not isinstance(raw, Mapping):
        raise _bad("$", "a Process Action request is a JSON object")
    unknown = set(raw) - _REQUEST_FIELDS
    if unknown:
        raise _bad(sorted(unknown)[0], "unknown field")
    complements = raw.get("RQComplements", [])
    if not isinstance(complements, list) or len(complements) > 16:
        raise _bad("RQComplements", "must be a list of at most 16 Complements")
    rights_raw = raw.get("Rights", [])
    if not isinstance(rights_raw, list) or len(rights_raw) > 32:
        raise _bad("Rights", "must be a list of at most 32 Rights")
    items = raw.get("Items", [])
    if not isinstance(items, list) or len(items) > 32 or not all(isinstance(i, Mapping) for i in items):
        raise _bad("Items", "must be a list of at most 32 Item objects")
    return ProcessActionRequest(
        verb=_enum(DeonticVerb, raw.get("DeonticVerb"), "DeonticVerb"),
        action=_enum(Action, raw.get("Action"), "Action"),
        source_id=_str(raw.get("SourceProcessID"), "SourceProcessID"),
        destination_id=_str(raw.get("DestinationProcessID"), "DestinationProcessID"),
        complements=tuple(complement_from_json(c, f"RQComplements[{i}]") for i, c in enumerate(complements)),
        time_ms=_int(raw.get("TimeMs", 0), "TimeMs") or 0,
        payment=value_from_json(raw["Payment"], "Payment") if raw.get("Payment") is not None else None,
        process_action_id=_str(raw.get("ProcessActionID"), "ProcessActionID"),
        if_event=_if_event(raw.get("IfEvent")),
        rights=tuple(_right_spec(s, f"Rights[{i}]") for i, s in enumerate(rights_raw)),
        items=tuple(dict(i) for i in items),
    )


def _if_event(raw: object) -> IfEvent | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or len([k for k in ("ProcessActionID", "TimeMs", "Action") if k in raw]) != 1:
        raise _bad("IfEvent", "is exactly one of {ProcessActionID}, {TimeMs} or {Action[, ItemID]}")
    if "ProcessActionID" in raw:
        return IfEvent(process_action_id=_str(raw["ProcessActionID"], "IfEvent.ProcessActionID"))
    if "TimeMs" in raw:
        return IfEvent(at_time_ms=_int(raw["TimeMs"], "IfEvent.TimeMs"))
    item = raw.get("ItemID")
    return IfEvent(
        action=_enum(Action, raw["Action"], "IfEvent.Action"),
        item_id=_str(item, "IfEvent.ItemID") if item is not None else None,
    )


def _right_spec(raw: object, field: str) -> RightSpec:
    if not isinstance(raw, Mapping):
        raise _bad(field, "a Right is {DeonticVerb, Action, Level?, ValidFromMs?, ValidUntilMs?}")
    return RightSpec(
        verb=_enum(DeonticVerb, raw.get("DeonticVerb"), f"{field}.DeonticVerb"),
        action=_enum(Action, raw.get("Action"), f"{field}.Action"),
        level=_enum(RightLevel, raw.get("Level", "Granted"), f"{field}.Level"),
        valid_from_ms=_int(raw.get("ValidFromMs", 0), f"{field}.ValidFromMs") or 0,
        valid_until_ms=_int(raw.get("ValidUntilMs"), f"{field}.ValidUntilMs", optional=True),
    )


def status_to_json(s: PAStatus) -> dict[str, Any]:
    out: dict[str, Any] = {"Status": s.kind.value}
    if s.value is not None:
        out["Value"] = value_to_json(s.value)
    if s.error is not None:
        out["ErrorCode"] = s.error.value
    if s.reason:
        out["Reason"] = s.reason
    return out


def status_from_json(raw: Mapping[str, Any]) -> PAStatus:
    kind = PAStatusKind(raw["Status"])
    return PAStatus(
        kind,
        value=value_from_json(raw["Value"], "PAStatus.Value") if "Value" in raw else None,
        error=PAErrorCode(raw["ErrorCode"]) if "ErrorCode" in raw else None,
        reason=raw.get("Reason", ""),
    )


def response_to_json(r: ProcessActionResponse) -> dict[str, Any]:
    return {
        "ProcessActionID": r.process_action_id,
        "TimeMs": r.time_ms,
        "PAStatus": status_to_json(r.status),
        "RSComplements": [complement_to_json(c) for c in r.complements],
        "Items": [dict(i) for i in r.items],
    }


def response_from_json(raw: Mapping[str, Any]) -> ProcessActionResponse:
    return ProcessActionResponse(
        process_action_id=raw["ProcessActionID"],
        status=status_from_json(raw["PAStatus"]),
        complements=tuple(complement_from_json(c, "RSComplements") for c in raw.get("RSComplements", [])),
        items=tuple(raw.get("Items", [])),
        time_ms=raw.get("TimeMs", 0),
    )
