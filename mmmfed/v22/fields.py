"""The Item fields of MMM-TEC V2.2 (``MMM4_V22_Item``: ``SourceItemID``, ``ItemData``,
``ItemQualifier``, ``ICapabilities``, ``ItemStatus``) to and from the domain's.

* ``ItemData`` is an array. mmmfed writes at most one entry of each kind, in this order: the data
  binding ``{"Length", "DataURI": "ni:///sha-256;...?ct=<media type>"}`` (the bytes travel beside
  the Item and are checked against the digest), the inline ``Content`` of a small Item as
  ``{"Data": <JSON text>}``, and the original Item a bridge's conversion embeds, with its proof,
  as ``{"Length", "DataURI": "data:application/json;base64,..."}`` (the domain's ``SourceItem``
  is that original's V2.2 form, so its proof still verifies).
* A content of several parts (ITU FGMV-43 9.3: a ``.gltf`` with its buffers and images) lists
  each part in the domain's ``ItemParts`` ``[{"Path", "MediaType", "Size", "Digest"}]``; in V2.2
  each is one more data binding entry, after the others, whose ``DataID`` is the part's path in
  the package: ``{"DataID": "Model.bin", "Length", "DataURI": "ni:///sha-256;..."}``.
* ``ItemQualifier`` is a TFA Any Qualifier (``TFA-AYQ-V1.5``): ``QualifierType`` is the
  Sub-Type, ``QualifierValueOrRef`` holds the rest (``Format``, ``Attributes``).
* ``ICapabilities`` is an Item Capabilities object: each Process with a Rights object
  (``MMM-RGT-V2.2``) of one ``May`` Right per Action, the Action named as a Model Process Action.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.v22 import parts

QUALIFIER_HEADER = "TFA-AYQ-V1.5"
RIGHTS_HEADER = "MMM-RGT-V2.2"
ITEM_FIELDS = (
    "SourceItemID",
    "ItemData",
    "ItemParts",
    "Content",
    "SourceItem",
    "ItemQualifier",
    "ICapabilities",
    "ItemStatus",
)


def item_fields_to(rest: dict[str, Any], item_id: str) -> dict[str, Any]:
    """Pop the domain's Item fields from ``rest``; return them in V2.2 shape."""
    out: dict[str, Any] = {}
    source_item_id = rest.pop("SourceItemID", None)
    if source_item_id is not None:
        out["SourceItemID"] = source_item_id
    data: list[dict[str, Any]] = []
    binding = rest.pop("ItemData", None)
    if binding is not None:
        data.append(
            {
                "Length": binding["Size"],
                "DataURI": parts.ni_uri(binding["Digest"]["Value"], binding["MediaType"]),
            }
        )
    if "Content" in rest:
        data.append({"Data": json.dumps(rest.pop("Content"), ensure_ascii=False, separators=(",", ":"))})
    if "SourceItem" in rest:
        data.append(parts.json_data_uri(rest.pop("SourceItem")))
    for part in rest.pop("ItemParts", None) or []:
        data.append(
            {
                "DataID": part["Path"],
                "Length": part["Size"],
                "DataURI": parts.ni_uri(part["Digest"]["Value"], part["MediaType"]),
            }
        )
    if data:
        out["ItemData"] = data
    qualifier = dict(rest.pop("ItemQualifier"))
    sub_type = qualifier.pop("SubType")
    out["ItemQualifier"] = {
        "Header": QUALIFIER_HEADER,
        "AnyQualifierID": f"{item_id}#qualifier",
        "QualifierType": sub_type,
        "QualifierValueOrRef": [qualifier],
    }
    capabilities = rest.pop("ICapabilities", [])
    if capabilities:
        out["ICapabilities"] = {
            "Processes": [_process_rights(item_id, i, c) for i, c in enumerate(capabilities)],
            "ProcessActions": [],
            "ItemMetadata": [],
        }
    out["ItemStatus"] = rest.pop("ItemStatus", "Final")
    return out


def item_fields_of(wire: dict[str, Any], item_id: str) -> dict[str, Any]:
    """Pop the V2.2 Item fields from ``wire``; return the domain's."""
    out: dict[str, Any] = {"SourceItemID": wire.pop("SourceItemID", None)}
    for entry in wire.pop("ItemData", None) or []:
        if not parts.is_mapping(entry):
            raise InvalidInput("ItemData entries are objects", reason="ITEM_MALFORMED")
        uri = entry.get("DataURI")
        if isinstance(uri, str) and uri.startswith(parts.NI_PREFIX) and "DataID" in entry:
            digest, media_type = parts.of_ni_uri(uri)
            part = {"Path": entry["DataID"], "MediaType": media_type, "Size": entry.get("Length")}
            out.setdefault("ItemParts", []).append({**part, "Digest": {"Algorithm": "sha-256", "Value": digest}})
        elif isinstance(uri, str) and uri.startswith(parts.NI_PREFIX):
            digest, media_type = parts.of_ni_uri(uri)
            length = entry.get("Length")
            out["ItemData"] = {
                "MediaType": media_type,
                "Size": length,
                "Digest": {"Algorithm": "sha-256", "Value": digest},
            }
        elif isinstance(uri, str) and uri.startswith(parts.DATA_JSON_PREFIX):
            out["SourceItem"] = parts.of_json_data_uri(uri)
        elif isinstance(entry.get("Data"), str):
            try:
                out["Content"] = json.loads(entry["Data"])
            except ValueError as err:
                raise InvalidInput("ItemData Data is not JSON text", reason="ITEM_MALFORMED") from err
        else:
            raise InvalidInput("an ItemData entry mmmfed does not read", reason="ITEM_MALFORMED")
    qualifier = wire.pop("ItemQualifier", None)
    values = qualifier.get("QualifierValueOrRef") if parts.is_mapping(qualifier) else None
    if not parts.is_mapping(qualifier) or not isinstance(values, list) or len(values) != 1:
        raise InvalidInput("ItemQualifier must be a TFA Any Qualifier", reason="ITEM_MALFORMED")
    value = values[0] if values and parts.is_mapping(values[0]) else {}
    out["ItemQualifier"] = {"SubType": qualifier.get("QualifierType"), **value}
    capabilities = wire.pop("ICapabilities", None)
    out["ICapabilities"] = [_capability(p) for p in (capabilities or {}).get("Processes", [])]
    out["ItemStatus"] = wire.pop("ItemStatus", "Final")
    return out


def embedded_source(wire: object) -> dict[str, Any] | None:
    """The original Item (its V2.2 form) a conversion's V2.2 ``wire`` embeds in its ItemData, or
    None (also for anything malformed: callers that must refuse parse the Item fully)."""
    data = wire.get("ItemData") if parts.is_mapping(wire) else None
    for entry in data if isinstance(data, list) else []:
        uri = entry.get("DataURI") if parts.is_mapping(entry) else None
        if isinstance(uri, str) and uri.startswith(parts.DATA_JSON_PREFIX):
            try:
                return parts.of_json_data_uri(uri)
            except InvalidInput:
                return None
    return None


def _process_rights(item_id: str, index: int, capability: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(capability.get("ProcessID"), str) or not isinstance(capability.get("Rights"), list):
        raise InvalidInput("ICapabilities entries need ProcessID and Rights", reason="ITEM_MALFORMED")
    actions = list(capability["Rights"])
    rights: dict[str, Any] = {"Header": RIGHTS_HEADER, "RightsID": f"{item_id}#rights-{index}"}
    rights["RightsData"] = [
        {"DeonticVerb": "May", "Level": "Granted", "PAIDOrPA": [{"ProcessActionID": a, "Status": "Model"}]}
        for a in actions
    ]
    return {"ProcessID": capability["ProcessID"], "Rights": rights}


def _capability(entry: object) -> dict[str, Any]:
    rights = entry.get("Rights") if parts.is_mapping(entry) else None
    data = rights.get("RightsData") if parts.is_mapping(rights) else None
    if not parts.is_mapping(entry) or not isinstance(data, list):
        raise InvalidInput("ICapabilities Processes entries need ProcessID and Rights", reason="ITEM_MALFORMED")
    actions = [pa.get("ProcessActionID") for right in data for pa in right.get("PAIDOrPA", [])]
    return {"ProcessID": entry.get("ProcessID"), "Rights": actions}
