"""Items in MPAI MMM-TEC V2.2 data types: :func:`encode` a domain Item document into its V2.2 form
(what mmmfed stores, signs and sends), :func:`decode` it back (issue 15 item 1).

The M-Instance's domain model keeps one document shape for every Item (the fields of
``mmmfed/schemas/item-base.json``: ``ItemType``, ``Trace``, ``ICapabilities`` ...); the V2.2 form
has a Header per data type (``MMM-PRC-V2.2`` ...), the type's own identifier (``ProcessID`` ...)
and only the fields MPAI's schema of that type defines. The two are inverse: ``decode(encode(d))
== d`` for every document mmmfed builds (tests/property/test_v22_round_trip.py).

Where a domain field goes (docs/v22-items.md has the table):

* ``ItemType`` -> the Header; ``ItemID`` and ``Trace`` -> ``DataXMData`` (:func:`mmmfed.v22.parts.dem`);
  descriptive metadata -> the ``DescrMetadata`` string.
* A field with a V2.2 place goes there (``AccountType`` -> ``AccountLevel``, ``Status`` ->
  ``TransactionStatus``, a Right's Action, target, holder and validity -> its Process Action).
* A field without one is kept under :data:`~mmmfed.v22.parts.EXTENSION_KEY`: inside the
  ``DescrMetadata`` JSON text for the closed types (``additionalProperties: false``: Item, Process,
  Rights, Wallet, Transaction, the Fault reports), as a top-level member for the open ones
  (Account, Personal Profile, Rules, Asset, Activity Data).

Raises InvalidInput (``ITEM_MALFORMED``, ``ITEM_TYPE_UNKNOWN``, the DescrMetadata reasons of
:mod:`mmmfed.v22.parts`) for a document that cannot be encoded or decoded, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.v22 import parts
from mmmfed.v22.datatype import DataType
from mmmfed.v22.fields import item_fields_of, item_fields_to
from mmmfed.v22.types import DATA_TYPES


def header_of(item_type: str) -> str:
    """The V2.2 Header of a domain ItemType (``PRC`` -> ``MMM-PRC-V2.2``); InvalidInput
    ``ITEM_TYPE_UNKNOWN`` for a type mmmfed has no V2.2 mapping of."""
    return _type(item_type).header


def item_type_of(header: object) -> str:
    """The domain ItemType a V2.2 Header names (``MMM-PRC-V2.2`` -> ``PRC``); InvalidInput
    ``ITEM_TYPE_UNKNOWN`` otherwise."""
    if isinstance(header, str) and header.startswith("MMM-") and header.endswith("-V2.2"):
        code = header[4:-5]
        if code in _TYPES:
            return code
    raise InvalidInput(
        f"Header {str(header)[:40]!r} is not an MMM-TEC V2.2 data type mmmfed knows "
        f"({', '.join(t.header for t in _TYPES.values())})",
        reason="ITEM_TYPE_UNKNOWN",
    )


def encode(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The V2.2 form of a domain Item document (its ``proof``, if any, kept beside the fields).
    Raises InvalidInput (``ITEM_MALFORMED``, naming the field) for a document of the wrong shape,
    never KeyError or TypeError: drafts come from files people write (``pa send --file``)."""
    try:
        return _encode(doc)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as err:
        raise _shape_error("Item", err) from err


def _shape_error(what: str, err: Exception) -> InvalidInput:
    detail = f"field {err.args[0]!r} is missing" if isinstance(err, KeyError) else str(err)
    return InvalidInput(f"{what} has no MMM-TEC V2.2 form: {detail}"[:300], reason="ITEM_MALFORMED")


def _encode(doc: Mapping[str, Any]) -> dict[str, Any]:
    rest = dict(doc)
    data_type = _type(rest.pop("ItemType", None))
    rest.pop("Header", None)
    item_id, m_instance_id = str(rest.pop("ItemID")), str(rest.pop("MInstanceID"))
    trace = rest.pop("Trace")
    descr = rest.pop("DescrMetadata", None) or {}
    proof = rest.pop("proof", None)
    out: dict[str, Any] = {"Header": data_type.header}
    if data_type.names_instance:
        out["MInstanceID"] = m_instance_id
    if data_type.item_fields:
        out.update(item_fields_to(rest, item_id))
    else:
        _drop_if(rest, "ItemQualifier", _canonical_qualifier(data_type, rest))
        _drop_if(rest, "ICapabilities", [])
        _drop_if(rest, "ItemStatus", "Final")
        _drop_if(rest, "SourceItemID", None)
    ctx = {"ItemID": item_id, "MInstanceID": m_instance_id, "Trace": trace}
    out.update(data_type.encode(rest, ctx))
    out.setdefault(data_type.id_field, item_id)
    out["DataXMData"] = parts.dem(item_id, trace)
    extension = dict(rest)  # whatever the type's mapping left: our fields V2.2 has no place for
    text = parts.descr_text(descr, extension if data_type.closed else {})
    if text is not None:
        out["DescrMetadata"] = text
    if extension and not data_type.closed:
        out[parts.EXTENSION_KEY] = extension
    if proof is not None:
        out["proof"] = proof
    return out


def decode(wire: Mapping[str, Any]) -> dict[str, Any]:
    """The domain document of a V2.2 Item (the inverse of :func:`encode`). Raises InvalidInput
    (``ITEM_MALFORMED``, ``ITEM_TYPE_UNKNOWN``...) for anything else, never KeyError or TypeError."""
    try:
        return _decode(wire)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as err:
        raise _shape_error("V2.2 Item", err) from err


def _decode(wire: Mapping[str, Any]) -> dict[str, Any]:
    rest = dict(wire)
    item_type = item_type_of(rest.pop("Header", None))
    data_type = _TYPES[item_type]
    item_id, trace = parts.trace_of(rest.pop("DataXMData", None))
    descr, extension = parts.descr_of(rest.pop("DescrMetadata", None))
    top_extension = rest.pop(parts.EXTENSION_KEY, {})
    if not isinstance(top_extension, dict):
        raise InvalidInput(f"{parts.EXTENSION_KEY} must be an object", reason="ITEM_MALFORMED")
    proof = rest.pop("proof", None)
    m_instance_id = rest.pop("MInstanceID", None)
    ctx = {"ItemID": item_id, "MInstanceID": m_instance_id, "Trace": trace}
    fields = data_type.decode(rest, ctx)
    m_instance_id = ctx["MInstanceID"]
    if not isinstance(m_instance_id, str):
        raise InvalidInput("MInstanceID is missing or not a string", reason="ITEM_MALFORMED")
    doc: dict[str, Any] = {"Header": "MMM-ITM-V2.2", "MInstanceID": m_instance_id, "ItemID": item_id}
    doc["ItemType"] = item_type
    if data_type.item_fields:
        doc.update(item_fields_of(rest, item_id))
    else:
        doc.update(SourceItemID=None, ICapabilities=[], ItemQualifier=None, ItemStatus="Final")
    doc["Trace"] = trace
    doc["DescrMetadata"] = descr
    doc.update(fields)
    doc.update(extension)
    doc.update(top_extension)
    if doc["ItemQualifier"] is None:
        doc["ItemQualifier"] = _canonical_qualifier(data_type, doc)
    if proof is not None:
        doc["proof"] = proof
    return doc


def _type(item_type: object) -> DataType:
    if isinstance(item_type, str) and item_type in _TYPES:
        return _TYPES[item_type]
    raise InvalidInput(
        f"ItemType {str(item_type)[:16]!r} has no MMM-TEC V2.2 data type in mmmfed", reason="ITEM_TYPE_UNKNOWN"
    )


def _canonical_qualifier(data_type: DataType, doc: Mapping[str, Any]) -> dict[str, Any]:
    if data_type.code == "PRC":
        return {"SubType": str(doc.get("ProcessType"))}
    return {"SubType": str(data_type.sub_type)}


def _drop_if(rest: dict[str, Any], name: str, default: object) -> None:
    if name in rest and rest[name] == default:
        del rest[name]


_TYPES: dict[str, DataType] = {t.code: t for t in DATA_TYPES}
__all__ = ["DataType", "decode", "encode", "header_of", "item_type_of"]
