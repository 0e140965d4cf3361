"""The corrections mmmfed applies to MPAI's MMM-TEC V2.2 JSON Schemas before validating against them.

MPAI publishes the V2.2 data types in an OpenAPI 3.1 document (``../shared/spec/
mpai-mmm-tec-v2.2-openapi.json``, ``components.schemas``). Some of its schemas can never be
satisfied, or accept what they mean to refuse, or refuse what MMM-TEC allows. Each
:class:`Correction` names one place (a component and an RFC 6901 pointer inside it), the exact value
MPAI's document has there (checked by :func:`apply`, so a correction fails loudly once MPAI changes
the spot) and the value we validate against instead. ``scripts/derive_schemas.py`` applies
:data:`CORRECTIONS` to write ``mmmfed/schemas/mpai/mmm-tec-v2.2.json`` and the table
``docs/mpai-v22-faults.md``; nothing else edits those files.

References in ``corrected`` values are written as in MPAI's document (``#/components/schemas/X``);
the derivation rewrites them with the rest.

The Process Action corrections (the ``*PA`` action schemas, MMM-TEC V2.2 Process Action and
its Complements) are in :mod:`mmmfed.schemas.mpai_pa_corrections`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, MutableMapping
from typing import Any, Final

from mmmfed.schemas.mpai.pointer import ABSENT, put, same_json, value_at
from mmmfed.schemas.mpai_correction import REMOVE, Correction, CorrectionMismatch, ref, with_required
from mmmfed.schemas.mpai_pa_corrections import PA_SCHEMA_CORRECTIONS, PA_STATUS_CORRECTIONS

_ref = ref


_PLATFORM_CURRENCY: Final = {"type": "string", "pattern": "^[A-Z][A-Z0-9-]{1,15}$"}
_PA_ERRORS: Final = ["Clash", "FaultyReq", "IncID", "IncDQ", "InsRights", "InsValue", "LocOOR", "PostRef", "QualNS"]
_APA_ITEM = "/properties/ProcessAction/items/oneOf"
_PAC_STATUS: Final = [
    {
        "description": "Acknowledgement of successful execution",
        "type": "object",
        "properties": {"Ack": {"type": "string", "enum": ["Ack"]}},
    },
    {"description": "Value Request", "type": "object", "properties": {"Request": _ref("MMM4_V22_Value")}},
    {
        "description": "Error encountered during processing",
        "type": "object",
        "properties": {"Error": {"type": "string", "enum": _PA_ERRORS}},
    },
]


_with_required = with_required
_VM_IDS_DOC: Final = {
    "title": "Value Metadata IDs V2.2",
    "description": "Enumerated Value Metadata identifiers. Keep fallback pattern until the enum is complete.",
}
_VM_IDS: Final = [
    {"type": "string", "enum": ["VM-ListPrice", "VM-Discount", "VM-VATIncluded", "VM-Region", "VM-LicenseScope"]},
    {"type": "string", "pattern": "^VM-[A-Za-z0-9_-]{2,48}$"},
]
_IPM_PAIDORPA: Final = [
    {"type": "object", "properties": {"ProcessAction": _ref("MMM4_V22_ProcessAction")}},
    {"type": "object", "properties": {"ProcessActionID": {"type": "string"}}},
]
_IPM_PROCESSID: Final = [
    {"type": "object", "properties": {"SourceProcessID": {"type": "string"}}},
    {"type": "object", "properties": {"DestinationProcessID": {"type": "integer"}}},
]

CORRECTIONS: Final[tuple[Correction, ...]] = (
    Correction(
        id="PRC-HEADER",
        schema="MMM4_V22_Process",
        pointer="/properties/Header/const",
        mpai="MMM-ACC-V2.2",
        corrected="MMM-PRC-V2.2",
        fault=(
            "The Process schema fixes its Header to the Account's header, so a Process is "
            "indistinguishable from an Account by Header."
        ),
        we_emit="Process Items carry Header MMM-PRC-V2.2.",
    ),
    Correction(
        id="TRA-REQUIRED",
        schema="MMM4_V22_Transaction",
        pointer="/required",
        mpai=["Header", "MInstanceID", "MEnvironmentID", "TransactionID", "TransactionData"],
        corrected=["Header", "MInstanceID", "MEnvironmentID", "TransactionID"],
        fault=(
            "Transaction requires TransactionData, which it neither defines nor allows "
            "(additionalProperties false): no Transaction validates."
        ),
        we_emit=(
            "Transaction Items carry SenderData, ReceiverData and the other defined properties, no TransactionData."
        ),
    ),
    Correction(
        id="PRV-HEADER",
        schema="MMM4_V22_Provenance",
        pointer="/properties/Header/const",
        mpai="MMM-PRV-V2.2$",
        corrected="MMM-PRV-V2.2",
        fault="The Provenance Header const ends in a stray '$' (a regex anchor left in a const).",
        we_emit="Provenance Items carry Header MMM-PRV-V2.2.",
    ),
    Correction(
        id="PRV-EVENT-CLOSED",
        schema="MMM4_V22_Provenance__ProvenanceEventBase",
        pointer="/additionalProperties",
        mpai=False,
        corrected=REMOVE,
        fault=(
            "The event base is closed, yet every event type adds its fields to it through allOf "
            "(TransactionEvent's TransactionID...), so no event validates; corrected by removing the key "
            "(each event type's EventType const still tells the events apart)."
        ),
        we_emit="Provenance events carry the base fields plus their type's fields.",
    ),
    Correction(
        id="CAP-RIGHTS",
        schema="MMM4_V22_Capabilities__MInstanceCapabilities",
        pointer="/required",
        mpai=[
            "CoordinateType",
            "Profile",
            "Actions",
            "ItemTypes",
            "QualifierTypes",
            "Rules",
            "Rights",
            "PMetadata",
            "IMetadata",
        ],
        corrected=[
            "CoordinateType",
            "Profile",
            "Actions",
            "ItemTypes",
            "QualifierTypes",
            "Rules",
            "PMetadata",
            "IMetadata",
        ],
        fault=(
            "M-Instance Capabilities requires Rights, which this closed object does not define (MPAI's build report)."
        ),
        we_emit="M-Instance Capabilities carry the defined properties, no Rights.",
    ),
    Correction(
        id="FBR-WINDOW",
        schema="MMM4_V22_FaultBehaviourReport",
        pointer="/properties/SuspectedActionWindow/required",
        mpai=["StartTime"],
        corrected=["TimeWindow"],
        fault=(
            "SuspectedActionWindow requires StartTime, which this closed object does not define (its one "
            "property is TimeWindow)."
        ),
        we_emit="A Fault Behaviour Report's SuspectedActionWindow carries TimeWindow, a Simple Time.",
    ),
    Correction(
        id="APA-REQUEST",
        schema="MMM4_V22_AnyProcessAction",
        pointer=f"{_APA_ITEM}/0/properties/Request/required",
        mpai=["Time", "Action", "RQ-Complement"],
        corrected=["Time", "Action", "RQ-Complements"],
        fault="The Request requires RQ-Complement, but the closed object defines RQ-Complements.",
        we_emit="A Process Action Request carries Time, Action and RQ-Complements.",
    ),
    Correction(
        id="APA-RESPONSE-BRANCH",
        schema="MMM4_V22_AnyProcessAction",
        pointer=f"{_APA_ITEM}/1/required",
        mpai=["Request"],
        corrected=["Response"],
        fault=(
            "The Response branch requires Request, which it does not define (it defines Response): no "
            "Response validates."
        ),
        we_emit="A Process Action Response is an object with one property, Response.",
    ),
    Correction(
        id="APA-RESPONSE",
        schema="MMM4_V22_AnyProcessAction",
        pointer=f"{_APA_ITEM}/1/properties/Response/required",
        mpai=["Time", "RQ-Complement", "PAStatus"],
        corrected=["Time", "PAStatus"],
        fault=(
            "The Response requires RQ-Complement, which the closed object does not define (it has "
            "RS-Complements, optional)."
        ),
        we_emit="A Process Action Response carries Time, PAStatus and, when there are any, RS-Complements.",
    ),
    Correction(
        id="ACD-ITEMS",
        schema="MMM4_V22_ActivityData",
        pointer="/properties/ActivityData/items/oneOf",
        mpai=[
            {"IPPMessage": _ref("MMM4_V22_IPPMessage")},
            {"type": "object", "properties": {"IPPMessageID": {"type": "string"}}},
        ],
        corrected=[
            {"type": "object", "required": ["IPPMessage"], "properties": {"IPPMessage": _ref("MMM4_V22_IPPMessage")}},
            {"type": "object", "required": ["IPPMessageID"], "properties": {"IPPMessageID": {"type": "string"}}},
        ],
        fault=(
            "The first branch names IPPMessage where 'properties' was meant (not a keyword: it accepts "
            "anything) and the second requires nothing, so every object matches both and the oneOf "
            "refuses it."
        ),
        we_emit="Each Activity Data entry carries either IPPMessage or IPPMessageID.",
    ),
    Correction(
        id="ASS-CURRENCY",
        schema="MMM4_V22_Asset",
        pointer="/properties/CurrencyID",
        mpai={"oneOf": [_ref("TFA_V15_RealCurrencies"), _ref("TFA_V15_VirtualCurrencies")]},
        corrected={"anyOf": [_ref("TFA_V15_RealCurrencies"), _ref("TFA_V15_VirtualCurrencies"), _PLATFORM_CURRENCY]},
        fault=(
            "CurrencyID is an ISO 4217 code or one of a fixed list of crypto tokens, so a platform's own "
            "currency cannot be named."
        ),
        we_emit="Assets name the ledger's currency, e.g. ACU or BCU (a platform currency code).",
    ),
    Correction(
        id="CUQ-CURRENCY",
        schema="TFA_V15_CurrencyQualifier",
        pointer="/properties/Format/properties/VirtualCurrency",
        mpai=_ref("TFA_V15_VirtualCurrencies"),
        corrected={"anyOf": [_ref("TFA_V15_VirtualCurrencies"), _PLATFORM_CURRENCY]},
        fault=(
            "A Value's Currency Qualifier names a virtual currency only from a fixed list of crypto "
            "tokens, so a platform's own currency cannot be named."
        ),
        we_emit="Values qualify their currency as Virtual with the ledger's code, e.g. ACU or BCU.",
    ),
    Correction(
        id="PAC-ACTION",
        schema="MMM4_V22_ProcessAction",
        pointer="/properties/Action",
        mpai=ABSENT,
        corrected={**_ref("MMM4_V22_AnyAction"), "description": "The Action requested (mmmfed correction)."},
        fault=(
            "A Process Action has no property naming its Action (MM-Add, Transact...), so what is "
            "requested cannot be said in the type."
        ),
        we_emit="Process Actions name their Action in an Action property (an MMM4_V22_AnyAction).",
    ),
    Correction(
        id="PAC-STATUS",
        schema="MMM4_V22_ProcessAction",
        pointer="/properties/PAStatus/items/oneOf",
        mpai=_PAC_STATUS,
        corrected=_with_required(_PAC_STATUS),
        fault=(
            "The three PA Status branches require nothing, so every status object matches all three and "
            "the oneOf refuses it (the 'required' beside them, on the array, is a no-op)."
        ),
        we_emit="Each PA Status entry is one of {Ack}, {Request: Value}, {Error: code}.",
    ),
    Correction(
        id="RUL-REQUIRED",
        schema="MMM4_V22_Rules",
        pointer="/properties/RulesData/items/required",
        mpai=["PenaltiesID", "DeonticVerb", "PAIDOrPA", "Level"],
        corrected=["DeonticVerb", "PAIDOrPA"],
        fault=(
            "A Rules entry requires PenaltiesID and Level, which this closed object does not define, and "
            "Rules need at least one entry: no Rules validate."
        ),
        we_emit="Each Rules entry carries DeonticVerb and PAIDOrPA.",
    ),
    Correction(
        id="ASS-IF",
        schema="MMM4_V22_Asset",
        pointer="/allOf/0/if/required",
        mpai=ABSENT,
        corrected=["MarketClass"],
        fault=(
            "The 'if MarketClass is MC-Service' test does not require MarketClass, so an Asset without "
            "MarketClass must carry a ServicePricingModel."
        ),
        we_emit="Assets carry a ServicePricingModel only for an MC-Service MarketClass.",
    ),
    Correction(
        id="VMI-ONEOF",
        schema="MMM4_V22_ValueMetadataIDs",
        pointer="",
        mpai={**_VM_IDS_DOC, "oneOf": _VM_IDS},
        corrected={**_VM_IDS_DOC, "anyOf": _VM_IDS},
        fault=(
            "A Value Metadata ID is one of the enumerated VM-* codes or matches the fallback pattern "
            "^VM-..., through oneOf; every enumerated code (VM-ListPrice...) matches the pattern too, so "
            "oneOf refuses exactly the codes MPAI lists. Corrected to anyOf of the same two branches."
        ),
        we_emit='An Asset with a declared price has ValueMetadata ["VM-ListPrice"].',
    ),
    Correction(
        id="STM-IF",
        schema="OSD_V15_SimpleTime",
        pointer="/properties/SimpleTimeData/items/allOf/1/if/required",
        mpai=ABSENT,
        corrected=["AccuracyMode"],
        fault=(
            "The 'if AccuracyMode is separate' test does not require AccuracyMode, so a segment without "
            "it (default single) must carry the separate accuracies too."
        ),
        we_emit="Time segments without AccuracyMode (single, the default) carry AccuracyPlusMinus only.",
    ),
    Correction(
        id="VLP-HEADER",
        schema="MMM4_V22_ValidatePA",
        pointer="/properties/Header",
        mpai={"type": "string", "consts": "MMM-VLP-V2.2"},
        corrected={"type": "string", "const": "MMM-VLP-V2.2"},
        fault="The Validate PA Header has 'consts' (not a keyword), so any Header string is accepted.",
        we_emit="Validate Process Actions carry Header MMM-VLP-V2.2.",
    ),
    Correction(
        id="IPM-PAIDORPA",
        schema="MMM4_V22_IPPMessage",
        pointer="/properties/PAIDOrPA/items/oneOf",
        mpai=_IPM_PAIDORPA,
        corrected=_with_required(_IPM_PAIDORPA),
        fault=(
            "The two branches (ProcessAction, ProcessActionID) require nothing, so every entry matches "
            "both and the oneOf refuses it."
        ),
        we_emit="Each PAIDOrPA entry of an IPP Message carries either ProcessAction or ProcessActionID.",
    ),
    Correction(
        id="IPM-PROCESSID",
        schema="MMM4_V22_IPPMessage",
        pointer="/properties/ProcessID/items/oneOf",
        mpai=_IPM_PROCESSID,
        corrected=[
            {"type": "object", "required": ["SourceProcessID"], "properties": {"SourceProcessID": {"type": "string"}}},
            {
                "type": "object",
                "required": ["DestinationProcessID"],
                "properties": {"DestinationProcessID": {"type": "string"}},
            },
        ],
        fault=(
            "The two branches require nothing, so every entry matches both and the oneOf refuses it; and "
            "DestinationProcessID is an integer where every ProcessID is a string."
        ),
        we_emit=(
            "Each ProcessID entry of an IPP Message carries either SourceProcessID or DestinationProcessID, a string."
        ),
    ),
    *PA_STATUS_CORRECTIONS,
    *PA_SCHEMA_CORRECTIONS,
    Correction(
        id="LIC-REQUIRED",
        schema="MMM4_V22_Licence",
        pointer="/required",
        mpai=["Header", "LicenceID", "LicensorID", "LicenseeID", "LicensorRights", "LicenseeRights", "IsFirstLicence"],
        corrected=["Header", "LicenceID", "LicensorID", "LicenseeID", "LicensorRights", "LicenseeRights"],
        fault=(
            "Licence requires IsFirstLicence, which this closed object does not define (it has "
            "IsRootLicence, optional; MPAI's build report)."
        ),
        we_emit="No Licence Items yet; corrected so that the bundle has no unsatisfiable closed object.",
    ),
    Correction(
        id="OBJ-BASIC-TRACE",
        schema="OSD_V15_BasicObject",
        pointer="/required",
        mpai=["Header", "BasicObjectID", "BasicObjectSpaceTime", "Trace"],
        corrected=["Header", "BasicObjectID", "BasicObjectSpaceTime"],
        fault="Basic Object requires Trace, which this closed object does not define (MPAI's build report).",
        we_emit="No Basic Objects yet; corrected so that the bundle has no unsatisfiable closed object.",
    ),
    Correction(
        id="OBJ-SPACETIME",
        schema="OSD_V15_Object",
        pointer="/required",
        mpai=["Header", "ObjectID", "ObjectSpaceTime"],
        corrected=["Header", "ObjectID"],
        fault="Object requires ObjectSpaceTime, which this closed object does not define (MPAI's build report).",
        we_emit="No Objects yet; corrected so that the bundle has no unsatisfiable closed object.",
    ),
    *(
        Correction(
            id=f"BBX-{dim}",
            schema="OSD_V15_BoundingBox",
            pointer=f"/allOf/{i}/then/properties/BBXContentFormats/contains/additionalProperties",
            mpai=False,
            corrected=REMOVE,
            fault=(
                f"For {dim} boxes, BBXContentFormats must contain an object that requires {dim} yet is "
                f"closed with no properties: no such object exists."
            ),
            we_emit="No Bounding Boxes yet; corrected so that the bundle has no unsatisfiable closed object.",
        )
        for i, dim in enumerate(("2D", "3D"))
    ),
)
"""Every correction, in the order of the faults table."""


def found(schemas: MutableMapping[str, Any], correction: Correction) -> object:
    """The value at ``correction``'s place in MPAI's ``components.schemas`` map, or :data:`ABSENT`."""
    return value_at(schemas, correction.schema, correction.pointer)


def apply(schemas: MutableMapping[str, Any], corrections: Iterable[Correction] = CORRECTIONS) -> None:
    """Apply ``corrections`` in place to MPAI's ``components.schemas`` map.

    Raises :class:`CorrectionMismatch` naming the correction if MPAI's value at its place is not
    exactly its ``mpai`` value (MPAI has changed the spot: review the correction), or if the place's
    parent does not exist.
    """
    for c in corrections:
        have = found(schemas, c)
        if not same_json(have, c.mpai):
            raise CorrectionMismatch(
                f"correction {c.id}: {c.schema}{c.pointer} is {have!r} in MPAI's document, expected {c.mpai!r}"
            )
        try:
            put(schemas, c.schema, c.pointer, copy.deepcopy(c.corrected))
        except LookupError as err:
            raise CorrectionMismatch(f"correction {c.id}: {err} in MPAI's document") from err


__all__ = ["CORRECTIONS", "REMOVE", "Correction", "CorrectionMismatch", "apply", "found"]
