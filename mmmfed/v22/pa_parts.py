"""The parts of a Process Action's MMM-TEC V2.2 form (issue 15 item 3) that requests and responses
share, for :mod:`mmmfed.v22.process_action`: Complements, Values, Items, times, and the checks
that name the field at fault.

Every reader here raises InvalidInput ``PROCESS_ACTION_MALFORMED`` with metadata ``field``, a JSON
pointer into the V2.2 form (:func:`bad`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.errors import InvalidInput
from mmmfed.schemas import mpai
from mmmfed.strictjson import parse_json
from mmmfed.v22 import parts
from mmmfed.v22.conformance import check_conforms

HEADER = "MMM-PAC-V2.2"
FIELDS = parts.EXTENSION_KEY
KINDS = {getattr(papb, f"COMPLEMENT_KIND_{k.upper()}"): k for k in ("Nil", "At", "From", "To", "With", "Of")}
KIND_CODES = {v: k for k, v in KINDS.items()}
VERBS = {papb.DEONTIC_VERB_MAY: "May", papb.DEONTIC_VERB_MAY_NOT: "May Not", papb.DEONTIC_VERB_MUST: "Must"}
VERB_CODES = {v: k for k, v in VERBS.items()}
ERRORS = {
    getattr(papb, f"PA_ERROR_CODE_{enum}"): code
    for enum, code in (
        ("CLASH", "Clash"),
        ("FAULTY_REQ", "FaultyReq"),
        ("INC_ID", "IncID"),
        ("INC_DQ", "IncDQ"),
        ("INS_RIGHTS", "InsRights"),
        ("INS_VALUE", "InsValue"),
        ("LOC_OOR", "LocOOR"),
        ("POST_REF", "PostRef"),
        ("QUAL_NS", "QualNS"),
    )
}
ERROR_CODES = {v: k for k, v in ERRORS.items()}
_REQUIRED = re.compile(r'"([^"]+)" is a required property')


def bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"Process Action field {field}: {why}"[:500], reason="PROCESS_ACTION_MALFORMED", metadata={"field": field}
    )


MAX_TIME_MS = 253_402_300_799_999
"""The last millisecond of 9999 (UTC): a Process Action's time is one RFC 3339 can write, as the
``*PA`` schemas with an OSD Time need."""


def time_doc(pa_id: str, time_ms: int) -> dict[str, Any]:
    if not 0 <= time_ms <= MAX_TIME_MS:
        raise bad("time_ms", f"{time_ms} is not a Unix time in milliseconds from 1970 to 9999")
    return parts.simple_time(f"{pa_id}#time", [(time_ms, time_ms)])


def time_of(value: object, field: str) -> int:
    try:
        segments = parts.segments_of(value, field)
    except InvalidInput as err:
        raise bad(field, err.message) from err
    if len(segments) != 1 or segments[0][0] != segments[0][1]:
        raise bad(field, "a Process Action's time is one instant")
    if not 0 <= segments[0][0] <= MAX_TIME_MS:
        raise bad(field, "is not a Unix time in milliseconds from 1970 to 9999")
    return segments[0][0]


def json_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def complements_to(cs: Any, field: str) -> list[dict[str, str]]:
    out = []
    for i, c in enumerate(cs):
        kind, which = KINDS.get(c.kind), c.WhichOneof("target")
        if kind is None or which is None:
            raise bad(f"{field}[{i}]", "a Complement has a kind and an item_id or process_id")
        out.append({f"{kind}{'Process' if which == 'process_id' else 'Item'}": getattr(c, which)})
    return out


def complements_of(raw: object, field: str) -> list[papb.Complement]:
    if not isinstance(raw, list):
        raise bad(field, "Complements are a list")
    out = []
    for i, entry in enumerate(raw):
        key = next(iter(entry), "") if isinstance(entry, Mapping) and len(entry) == 1 else ""
        kind = next((k for k in KIND_CODES if key in (f"{k}Item", f"{k}Process")), None)
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if kind is None or not isinstance(value, str) or not value:
            raise bad(f"{field}/{i}", "a Complement is one {NilItem|NilProcess|AtItem|...|OfProcess: id}")
        if key.endswith("Process"):
            out.append(papb.Complement(kind=KIND_CODES[kind], process_id=value))
        else:
            out.append(papb.Complement(kind=KIND_CODES[kind], item_id=value))
    return out


def value_of(raw: object, field: str) -> papb.Value:
    problems = mpai.errors("MMM4_V22_Value", raw)
    if problems:
        raise bad(field, f"not an MMM4_V22_Value: {problems[0]}")
    try:
        value = parts.of_value_doc(raw, field)
    except InvalidInput as err:
        raise bad(field, err.message) from err
    return papb.Value(amount_minor=value["Amount"], currency_id=value["CurrencyID"])


def items_to(raws: Any, field: str) -> list[Any]:
    out = []
    for i, raw in enumerate(raws):
        doc = parse_json(bytes(raw))
        if not isinstance(doc, dict):
            raise bad(f"{field}[{i}]", "an Item is a JSON object")
        out.append(doc)
    return out


def items_of(raw: object, field: str) -> list[bytes]:
    if not isinstance(raw, list) or len(raw) > 32:
        raise bad(field, "Items are a list of at most 32 MMM-TEC V2.2 Items")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise bad(f"{field}/{i}", "an Item is a JSON object")
        try:
            check_conforms(item)
        except InvalidInput as err:
            raise bad(f"{field}/{i}", err.message) from err
        out.append(json_bytes(item))
    return out


def fields_of(raw: object, field: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise bad(field, "is a JSON object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise bad(f"{field}/{unknown[0]}", "unknown field")
    return raw


def nonempty_str(raw: Mapping[str, Any], key: str, field: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise bad(f"{field}/{key}", "must be a non-empty string")
    return value


def integer(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(field, f"must be an integer, not {value!r}"[:120])
    return value


def verb_of(value: object, field: str) -> papb.DeonticVerb.ValueType:
    code = VERB_CODES.get(value) if isinstance(value, str) else None
    if code is None:
        raise bad(field, f"{value!r} is not May, May Not or Must"[:120])
    return code


def action_of(value: object, field: str) -> str:
    if not isinstance(value, str) or mpai.errors("MMM4_V22_AnyAction", value):
        raise bad(field, f"{value!r} is not an MMM-TEC V2.2 Action (AnyAction)"[:160])
    return value


def valid(name: str, doc: object, at: str = "") -> None:
    """Raise naming the first place (under the pointer ``at``) where ``doc`` is not a valid ``name``."""
    failures = list(mpai.validator(name).iter_errors(doc))
    if failures:
        err = failures[0]
        where = at + "".join(f"/{p}" for p in err.instance_path)
        missing = _REQUIRED.fullmatch(err.message)
        if missing is not None:  # name the missing field itself, not its parent
            where += f"/{missing.group(1)}"
        raise bad(where or "/", f"not a valid {name}: {err.message}")
