"""MMM-ITM Item documents as the M-Instance's Process Action engine writes and reads them.

Times in Items are RFC 3339 strings (``Trace.Time``, ``EffectiveTime``); the engine works in Unix
milliseconds, so :func:`iso` and :func:`millis` convert between the two, exactly for whole
milliseconds. :func:`item_doc` builds an Item with the base MMM-ITM fields (MMM-TEC V2.2);
:func:`schema_problem` checks one against its Item type's JSON Schema without raising.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from instance.world.model import Action
from mmmfed.errors import InvalidInput
from mmmfed.items import item_document
from mmmfed.schemas import validate_item


def iso(ms: int) -> str:
    """Unix ms -> ``2026-11-25T07:00:00.123Z`` (UTC, millisecond precision)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def millis(text: str) -> int:
    """RFC 3339 -> Unix ms. Raises InvalidInput for a string that is not an RFC 3339 date-time."""
    try:
        moment = datetime.datetime.fromisoformat(text.replace("z", "Z"))
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"{text!r} is not an RFC 3339 date-time") from err
    if moment.tzinfo is None:
        raise InvalidInput(f"{text!r} has no UTC offset")
    return round(moment.timestamp() * 1000)


def item_doc(
    *,
    m_instance_id: str,
    item_id: str,
    item_type: str,
    sub_type: str,
    producer_id: str,
    time_ms: int,
    capabilities: Mapping[str, Iterable[Action]] | None = None,
    fields: Mapping[str, Any] | None = None,
    source_item_id: str | None = None,
    descr: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An Item document built by the kernel's one Item builder (:func:`mmmfed.items.item_document`)
    with the Trace time ``time_ms`` (Unix ms) and Qualifier Sub-Type ``sub_type``; ``fields`` are
    the Item type's own.

    ``capabilities`` maps ProcessID -> the Actions it may perform on the Item (ICapabilities).
    """
    return item_document(
        m_instance_id=m_instance_id,
        item_id=item_id,
        item_type=item_type,
        qualifier={"SubType": sub_type},
        producer_process_id=producer_id,
        time=iso(time_ms),
        source_item_id=source_item_id,
        capabilities=[
            {"ProcessID": pid, "Rights": sorted({a.value for a in actions})}
            for pid, actions in (capabilities or {}).items()
        ],
        descr=descr,
        extra=fields,
    )


def local_part(identifier: str) -> str:
    """The last path segment of an ``mmm://`` id (``mmm://a.example/pa/x1`` -> ``x1``)."""
    return identifier.rsplit("/", 1)[-1] or "x"


def schema_problem(doc: object) -> str | None:
    """Why ``doc`` is not a valid Item of its type (JSON Schema 2020-12), or None if it is."""
    if not isinstance(doc, Mapping):
        return "an Item must be a JSON object"
    try:
        validate_item(doc)
    except InvalidInput as err:
        return err.message
    return None


def sub_type(doc: Mapping[str, Any]) -> str:
    """The Item's Qualifier Sub-Type ('' if it has none)."""
    qualifier = doc.get("ItemQualifier")
    return str(qualifier.get("SubType", "")) if isinstance(qualifier, Mapping) else ""


def capabilities_of(doc: Mapping[str, Any], process_id: str) -> frozenset[str]:
    """The Action names ``process_id`` holds on the Item according to its ICapabilities."""
    names: set[str] = set()
    for entry in doc.get("ICapabilities") or ():
        if isinstance(entry, Mapping) and entry.get("ProcessID") == process_id:
            names.update(r for r in entry.get("Rights") or () if isinstance(r, str))
    return frozenset(names)
