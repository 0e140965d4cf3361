"""The action's own V2.2 document of a Process Action: ``MMM4_V22_<Action>PA`` (issue 15 item 3).

MMM-TEC V2.2 gives each Action a schema of its own besides the generic Process Action
(``MMM4_V22_MMAddPA``, Header ``MMM-2DP-V2.2``; ``MMM4_V22_TransactPA``, ``MMM-TRP-V2.2``...): a
request is its ``<Action>PARQ`` (numbered slots ``RQ1``, ``RQ2``..., each a Complement and what it
names), a response its ``<Action>PARS`` (slots ``RS1``..., one of them the PA Status with the
Action's own ``Err`` codes). :mod:`mmmfed.v22.process_action` carries this document, derived from the
Process Action, as the ``mmmfed:ActionPA`` member of the (open) ``MMM4_V22_ProcessAction``.

What is derived, and nothing more (the Process Action itself stays the complete, lossless form):

* ``Header`` (the schema's const, after the corrections of ``docs/mpai-v22-faults.md``),
  ``MInstanceID``, ``Time`` (a Simple Time, or an OSD Time where the schema says so) and the
  schema's ``*PAID`` property (the ProcessActionID; ``IdentifyPA`` names it
  ``AuthenticatePAID``, as MPAI's schema does);
* request: the ``RQ`` slot whose Complement is ``Nil`` and which names one id (``ItemID``,
  ``Item``, ``AssetID``...; not Identify's ``Data``), filled with the request's first Nil
  Complement; ``PARQ`` is ``{}`` otherwise;
* response: the ``RS`` slot holding ``PAStatus``, with ``{"Ack": "Ack"}`` or ``{"Err": code}``
  (``FaultyReq`` is the ``*PA`` schemas' ``FaultyPA``, ``LocOOR`` their ``MLocOOR`` when the
  Action has no ``LocOOR``). A Value Request, or an error code the Action's schema does not list,
  has no slot: ``PARS`` is then ``{}``, and the Process Action's ``PAStatus`` says it.

``Inform`` has no ``*PA`` schema in MPAI's document, so an Inform has no ``mmmfed:ActionPA``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from mmmfed.schemas import mpai
from mmmfed.v22 import parts

ACTION_PA_KEY = "mmmfed:ActionPA"
"""The member of an ``MMM4_V22_ProcessAction`` that holds the action's ``*PA`` document."""
_STEMS = {"Rights Manage": "RightsChange", "Property Manage": "PropertyChange"}
"""Actions whose ``*PA`` schema has another name (MPAI's Rights Change / Property Change PA)."""
_ERR_ALIASES = {"FaultyReq": ("FaultyPA",), "LocOOR": ("LocOOR", "MLocOOR")}


def pa_schema(action: str) -> str | None:
    """The ``MMM4_V22_<Action>PA`` schema of ``action`` (an AnyAction, e.g. ``"MM-Add"``), or None
    when MPAI's document has none (``Inform``)."""
    stem = _STEMS.get(action, action.replace("-", "").replace(" ", ""))
    name = f"MMM4_V22_{stem}PA"
    return name if name in mpai.bundle()["$defs"] else None


@functools.cache
def _layout(name: str) -> tuple[str, str, str | None, str | None, str | None, tuple[str, ...]]:
    """(Header, ID property, the Nil RQ slot and its key as "slot/key", the PA Status RS slot,
    that slot's Complement, its Err codes) of the ``*PA`` schema ``name``."""
    schema = mpai.bundle()["$defs"][name]
    props: Mapping[str, Any] = schema["properties"]
    stem = name.removeprefix("MMM4_V22_").removesuffix("PA")
    header = props["Header"]["const"]
    id_key = next(k for k in sorted(props) if k.endswith("PAID"))
    nil_slot = None
    for slot, body in sorted(props.get(f"{stem}PARQ", {}).get("properties", {}).items()):
        fields = body.get("properties", {})
        others = [k for k in fields if k != "Complement"]
        nil = fields.get("Complement", {}).get("const") == "Nil" and len(others) == 1
        if nil and fields[others[0]].get("type") == "string" and _names_an_id(others[0]):
            nil_slot = f"{slot}/{others[0]}"
            break
    status_slot: str | None = None
    complement: str | None = None
    codes: tuple[str, ...] = ()
    for slot, body in sorted(props.get(f"{stem}PARS", {}).get("properties", {}).items()):
        status = body.get("properties", {}).get("PAStatus")
        if status is not None:
            status_slot = slot
            complement = body["properties"].get("Complement", {}).get("const")
            for branch in status["items"]["oneOf"]:
                if "Err" in branch["properties"]:
                    codes = tuple(branch["properties"]["Err"]["enum"])
            break
    return header, id_key, nil_slot, status_slot, complement, codes


def _names_an_id(key: str) -> bool:
    """Whether an RQ slot's key names an Item, Process or Location by id (not ``Data`` text)."""
    return key.endswith("ID") or key in {"Item", "RItem", "ULocation"}


def _time(name: str, pa_id: str, time_ms: int) -> dict[str, Any]:
    """The ``Time`` of the ``*PA`` schema ``name``: a Simple Time of one absolute-millisecond
    instant, or, where the schema says OSD Time (``MMM4_V22_MMMovePA``...), an ``OSD-TIM-V1.5``
    whose ``Data`` is the RFC 3339 text."""
    if mpai.bundle()["$defs"][name]["properties"]["Time"]["$ref"].endswith("/OSD_V15_Time"):
        return {"Header": parts.OSD_TIME_HEADER, "TimeID": f"{pa_id}#time", "Data": parts.iso_of_ms(time_ms)}
    return parts.simple_time(f"{pa_id}#time", [(time_ms, time_ms)])


def _base(name: str, *, m_instance_id: str, pa_id: str, time_ms: int) -> dict[str, Any]:
    header, id_key, *_ = _layout(name)
    return {"Header": header, "MInstanceID": m_instance_id, "Time": _time(name, pa_id, time_ms), id_key: pa_id}


def request_pa(
    action: str, *, m_instance_id: str, pa_id: str, time_ms: int, nil_ids: Sequence[str]
) -> dict[str, Any] | None:
    """The ``*PA`` request document of ``action`` (None for an Action without one). ``nil_ids``:
    the ids the request's Nil Complements name, in order."""
    name = pa_schema(action)
    if name is None:
        return None
    doc = _base(name, m_instance_id=m_instance_id, pa_id=pa_id, time_ms=time_ms)
    stem = name.removeprefix("MMM4_V22_").removesuffix("PA")
    nil_slot = _layout(name)[2]
    rq: dict[str, Any] = {}
    if nil_slot is not None and nil_ids:
        slot, key = nil_slot.split("/")
        rq[slot] = {"Complement": "Nil", key: nil_ids[0]}
    doc[f"{stem}PARQ"] = rq
    return doc


def response_pa(
    action: str, *, m_instance_id: str, pa_id: str, time_ms: int, status: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The ``*PA`` response document of ``action`` (None for an Action without one). ``status``:
    one entry of the Process Action's ``PAStatus`` (``{"Ack": "Ack"}``, ``{"Error": code}`` or
    ``{"Request": Value}``)."""
    name = pa_schema(action)
    if name is None:
        return None
    doc = _base(name, m_instance_id=m_instance_id, pa_id=pa_id, time_ms=time_ms)
    stem = name.removeprefix("MMM4_V22_").removesuffix("PA")
    *_, status_slot, complement, codes = _layout(name)
    rs: dict[str, Any] = {}
    entry: dict[str, str] | None = None
    if "Ack" in status:
        entry = {"Ack": "Ack"}
    elif "Error" in status:
        code = next((c for c in _ERR_ALIASES.get(status["Error"], (status["Error"],)) if c in codes), None)
        entry = {"Err": code} if code is not None else None
    if status_slot is not None and entry is not None:
        rs[status_slot] = {**({"Complement": complement} if complement else {}), "PAStatus": [entry]}
    doc[f"{stem}PARS"] = rs
    return doc
