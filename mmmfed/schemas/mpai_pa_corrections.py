"""Corrections of MPAI's MMM-TEC V2.2 Process Action schemas (issue 15 items 2 and 3): the
``MMM4_V22_<Action>PA`` action schemas and the Complements of ``MMM4_V22_AnyProcessAction``.

Same form as :mod:`mmmfed.schemas.mpai_corrections` (which lists these among its
:data:`~mmmfed.schemas.mpai_corrections.CORRECTIONS`); the table is ``docs/mpai-v22-faults.md``.
The Process Actions mmmfed sends in their V2.2 form (:mod:`mmmfed.v22.process_action`) meet them.
"""

from __future__ import annotations

from typing import Any, Final

from mmmfed.schemas.mpai_correction import Correction, with_required


def _pa_status(errors: list[str], *, ack_first: bool) -> list[dict[str, Any]]:
    """The PA Status ``oneOf`` of MPAI's ``*PA`` schemas: an ``Err`` branch and an ``Ack`` branch."""
    err = {"type": "object", "properties": {"Err": {"type": "string", "enum": errors}}}
    ack = {"type": "object", "properties": {"Ack": {"type": "string", "enum": ["Ack"]}}}
    return [ack, err] if ack_first else [err, ack]


# (action, response key holding PAStatus, its Err codes, Ack branch first) as in MPAI's document.
PA_STATUSES: Final = (
    ("Authenticate", "RS4", ["FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], False),
    ("Author", "RS4", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Convert", "RS4", ["FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue", "QualNS"], False),
    ("Discover", "RS3", ["FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], False),
    ("Execute", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Hide", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Identify", "RS3", ["FaultyPA", "IncDQ", "InsRights", "InsValue"], False),
    ("Interpret", "RS3", ["FaultyPA", "IncDQ", "InsRights", "InsValue"], False),
    ("MMAdd", "RS3", ["Clash", "FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], False),
    ("MMAnimate", "RS3", ["Clash", "FaultyPA", "IncID", "InsRights", "InsValue", "LocOOR"], False),
    ("MMCapture", "RS3", ["FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], False),
    ("MMMove", "RS3", ["Clash", "FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], False),
    ("MMSend", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("MUActuate", "RS3", ["Clash", "FaultyPA", "IncID", "MLocOOR", "ULocOOR", "InsRights", "InsValue"], False),
    ("MUAdd", "RS3", ["Clash", "FaultyPA", "IncID", "ULocOOR", "InsRights", "InsValue"], False),
    ("MUAnimate", "RS3", ["Clash", "FaultyPA", "IncID", "ULocOOR", "InsRights", "InsValue"], False),
    ("MUMove", "RS3", ["Clash", "FaultyPA", "IncID", "ULocOOR", "InsRights", "InsValue"], False),
    ("MUSend", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Modify", "RS3", ["FaultyPA", "IncID", "IncDQ", "InsRights", "InsValue"], False),
    ("Post", "RS2", ["FaultyPA", "IncID", "InsRights", "InsValue", "PostRef"], False),
    ("PropertyChange", "RS3", ["FaultyPA", "IncID", "MLocOOR", "InsRights", "InsValue"], True),
    ("Register", "RS2", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Resolve", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("RightsChange", "RS3", ["FaultyPA", "IncID", "InsRights", "InsValue", "MLocOOR"], False),
    ("Transact", "RS2", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("UMActuate", "RS4", ["FaultyPA", "IncID", "IncDQ", "InsRights", "InsValue", "ULocOOR", "MLocOOR", "QualNS"], True),
    ("UMCapture", "RS5", ["FaultyPA", "IncID", "InsRights", "InsValue", "ULocOOR"], False),
    ("UMSend", "RS2", ["FaultyPA", "IncID", "InsRights", "InsValue"], False),
    ("Validate", "RS4", ["FaultyPA", "IncID", "LocOOR", "InsRights", "InsValue"], False),
)

PA_STATUS_CORRECTIONS: Final[tuple[Correction, ...]] = tuple(
    Correction(
        id=f"PA-STATUS-{action}",
        schema=f"MMM4_V22_{action}PA",
        pointer=f"/properties/{action}PARS/properties/{rs}/properties/PAStatus/items/oneOf",
        mpai=_pa_status(errors, ack_first=ack_first),
        corrected=with_required(_pa_status(errors, ack_first=ack_first)),
        fault=(
            f"The {action} PA Status branches (Err, Ack) require nothing, so every status matches both"
            f" and the oneOf refuses it."
        ),
        we_emit="Each PA Status entry carries either Ack or Err.",
    )
    for action, rs, errors, ack_first in PA_STATUSES
)

# (Complement key, branch description, key description) of MMM4_V22_AnyProcessAction__Prepositions.
_APA_COMPLEMENTS: Final = (
    ("NilProcess", "No process specified", "Null process reference"),
    ("NilItem", "No item specified", "Null item reference"),
    ("AtProcess", "Process location", "Process location reference"),
    ("AtItem", "Item location", "Item location reference"),
    ("FromProcess", "Source process", "Source process reference"),
    ("FromItem", "Source item", "Source item reference"),
    ("ToProcess", "Target process", "Target process reference"),
    ("ToItem", "Target item", "Target item reference"),
    ("WithProcess", "Associated process", "Associated process reference"),
    ("WithItem", "Associated item", "Associated item reference"),
)
_OF_COMPLEMENTS: Final = (
    ("OfProcess", "Process the Action is about (mmmfed correction)", "Process reference"),
    ("OfItem", "Item the Action is about (mmmfed correction)", "Item reference"),
)


def _complement_branches(table: tuple[tuple[str, str, str], ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "object",
            "additionalProperties": False,
            "description": description,
            "properties": {key: {"type": "string", "description": of_key}},
        }
        for key, description, of_key in table
    ]


_BOTH_REQUIRED: Final = ("Modify", "UMCapture", "UMSend")
_OURS: Final = " (our choice of code: MPAI gives none that validates)."
_HEADERS: Final = (
    ("Resolve", {"type": "string", "pattern": "^MMM-MSP-V[0-9],{1,2},[.][0-9],{1,2}$"}, "MMM-RSP-V2.2", _OURS),
    ("UMSend", {"type": "string", "pattern": "^USP-1SP-V[0-9],{1,2},[.][0-9],{1,2}$"}, "MMM-1SP-V2.2", _OURS),
    ("MUActuate", {"type": "string", "pattern": "MMM-3CP-V2.2"}, "MMM-3CP-V2.2", "."),
)
_HEADER_FAULTS: Final = {
    "Resolve": (
        "The Resolve PA Header is a pattern with ',{1,2},' where '{1,2}' was meant, so only a Header "
        "with commas matches, and it names MSP, the MM-Send PA's code."
    ),
    "UMSend": (
        "The UM-Send PA Header is a pattern with ',{1,2},' where '{1,2}' was meant, so only a Header "
        "with commas matches (and its prefix is USP, not MMM)."
    ),
    "MUActuate": (
        "The MU-Actuate PA Header is an unanchored pattern where a const was meant: any text containing it matches."
    ),
}

PA_SCHEMA_CORRECTIONS: Final[tuple[Correction, ...]] = (
    Correction(
        id="APA-COMPLEMENT-OF",
        schema="MMM4_V22_AnyProcessAction__Prepositions",
        pointer="/items/anyOf",
        mpai=_complement_branches(_APA_COMPLEMENTS),
        corrected=_complement_branches(_APA_COMPLEMENTS + _OF_COMPLEMENTS),
        fault=(
            "The Complements of a Process Action Request are closed objects for Nil, At, From, To and "
            "With only, so a request cannot have the Of Complement MMM-TEC lists (At, By, From, Into, "
            "Of, To, With)."
        ),
        we_emit=(
            "RQ-Complements and RS-Complements entries are one of NilItem, NilProcess, AtItem, ..., OfItem, OfProcess."
        ),
    ),
    *(
        Correction(
            id=f"PA-REQUIRED-{action}",
            schema=f"MMM4_V22_{action}PA",
            pointer="/required",
            mpai=["Header", "MInstanceID", "Time", f"{action}PARQ", f"{action}PARS"],
            corrected=["Header", "MInstanceID", "Time"],
            fault=(
                f"The {action} PA requires both {action}PARQ and {action}PARS, while its oneOf allows "
                f"exactly one of them: no {action} PA validates."
            ),
            we_emit=f"A {action} PA carries {action}PARQ (request) or {action}PARS (response).",
        )
        for action in _BOTH_REQUIRED
    ),
    *(
        Correction(
            id=f"PA-HEADER-{action}",
            schema=f"MMM4_V22_{action}PA",
            pointer="/properties/Header",
            mpai=mpai,
            corrected={"type": "string", "const": header},
            fault=_HEADER_FAULTS[action],
            we_emit=f"{action} PAs carry Header {header}{note}",
        )
        for action, mpai, header, note in _HEADERS
    ),
)
"""The ``*PA`` schema and Complement corrections that the V2.2 Process Actions need (issue 15 item 3)."""
