"""The per-type field mappings of the V2.2 codec (:mod:`mmmfed.v22.codec`), one pair of functions
per MMM-TEC V2.2 data type. Each ``encode`` pops the domain fields it places from ``rest`` and
returns the V2.2 ones (what it leaves stays as extension fields); each ``decode`` pops the V2.2
fields it reads from ``wire`` and returns the domain ones. ``ctx`` holds ``ItemID``,
``MInstanceID`` and ``Trace`` (a decode may set ``MInstanceID``: the Fault Detection Report has
none of its own).
"""

from __future__ import annotations

from typing import Any

from mmmfed.errors import InvalidInput
from mmmfed.v22 import parts
from mmmfed.v22.asset import asset_of, asset_to
from mmmfed.v22.datatype import DataType, move, need, take

Doc = dict[str, Any]
PROCESS_ACTION_HEADER = "MMM-PAC-V2.2"


def default_environment(m_instance_id: str) -> str:
    """The M-Environment of an M-Instance that has one (``MEnvironmentID``, required by the
    Account and Transaction types): ``mmm://<m_instance_id>/environments/main``."""
    return f"mmm://{m_instance_id}/environments/main"


def _environment_in(wire: Doc, ctx: Doc) -> None:
    env = wire.pop("MEnvironmentID", None)
    if env is not None and env != default_environment(str(ctx["MInstanceID"])):
        raise InvalidInput(f"MEnvironmentID {str(env)[:80]!r} is not this M-Instance's", reason="ITEM_MALFORMED")


# -- Item (MMM-ITM) ---------------------------------------------------------------------------
def _item_to(rest: Doc, ctx: Doc) -> Doc:
    return {}


def _item_of(wire: Doc, ctx: Doc) -> Doc:
    return {}


# -- Process (MMM-PRC) ------------------------------------------------------------------------
def _process_to(rest: Doc, ctx: Doc) -> Doc:
    out: Doc = {"ProcessID": take(rest, "ProcessID"), "ProcessType": take(rest, "ProcessType")}
    move(rest, out, "HumanID", "WalletID")
    return out


def _process_of(wire: Doc, ctx: Doc) -> Doc:
    out: Doc = {"ProcessID": need(wire, "ProcessID"), "ProcessType": need(wire, "ProcessType")}
    move(wire, out, "HumanID", "WalletID")
    return out


# -- Account (MMM-ACC) ------------------------------------------------------------------------
def _account_to(rest: Doc, ctx: Doc) -> Doc:
    if "HumanID" not in rest:
        raise InvalidInput("an Account names its human (HumanID, MMM-TEC V2.2)", reason="ITEM_MALFORMED")
    return {
        "MEnvironmentID": default_environment(str(ctx["MInstanceID"])),
        "AccountID": take(rest, "AccountID"),
        "HumanID": take(rest, "HumanID"),
        "AccountLevel": take(rest, "AccountType"),
        "Processes": [{"ProcessID": take(rest, "ProcessID")}],
    }


def _account_of(wire: Doc, ctx: Doc) -> Doc:
    _environment_in(wire, ctx)
    processes = need(wire, "Processes")
    if not isinstance(processes, list) or len(processes) != 1 or not isinstance(processes[0], dict):
        raise InvalidInput("an Account lists its one User Process", reason="ITEM_MALFORMED")
    return {
        "AccountID": need(wire, "AccountID"),
        "ProcessID": processes[0].get("ProcessID"),
        "AccountType": need(wire, "AccountLevel"),
        "HumanID": need(wire, "HumanID"),
    }


# -- Personal Profile (MMM-PPR) ---------------------------------------------------------------
def _profile_to(rest: Doc, ctx: Doc) -> Doc:
    out: Doc = {"PersonalProfileID": ctx["ItemID"]}
    if "HumanID" in rest:
        out["humanID"] = rest.pop("HumanID")
    out["PersonalProfile"] = {
        "Processes": [
            {
                "ProcessIDOrProcess": [{"ProcessID": take(rest, "ProcessID")}],
                "PersonaIDOrPersona": [{"PersonaID": p} for p in take(rest, "Personae")],
            }
        ]
    }
    return out


def _profile_of(wire: Doc, ctx: Doc) -> Doc:
    wire.pop("PersonalProfileID", None)
    profile = need(wire, "PersonalProfile")
    try:
        (entry,) = profile["Processes"]
        ((process,),) = (entry["ProcessIDOrProcess"],)
        out: Doc = {
            "ProcessID": process["ProcessID"],
            "Personae": [p["PersonaID"] for p in entry["PersonaIDOrPersona"]],
        }
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput("a Personal Profile lists one Process and its Personae", reason="ITEM_MALFORMED") from err
    if "humanID" in wire:
        out["HumanID"] = wire.pop("humanID")
    return out


# -- Rights (MMM-RGT) -------------------------------------------------------------------------
def _rights_to(rest: Doc, ctx: Doc) -> Doc:
    rights_id, target = take(rest, "RightsID"), take(rest, "TargetID")
    start = parts.ms_of_iso(take(rest, "ValidFrom"))
    until = rest.pop("ValidUntil", None)
    end = parts.ms_of_iso(until) if until is not None else parts.OPEN_END_MS
    action = {
        "Header": PROCESS_ACTION_HEADER,
        "MInstanceID": ctx["MInstanceID"],
        "ProcessActionID": f"{rights_id}#pa",
        "ProcessActionTime": parts.simple_time(f"{rights_id}#validity", [(start, end)]),
        "Action": take(rest, "Action"),
        "RQ-Complements": [
            {"NilProcess" if "/processes/" in str(target) else "NilItem": target},
            {"ToProcess": take(rest, "HolderID")},
            {"FromProcess": take(rest, "GrantedBy")},
        ],
        "PAStatus": [],
    }
    right = {
        "DeonticVerb": take(rest, "DeonticVerb"),
        "Level": take(rest, "Level"),
        "PAIDOrPA": [{"ProcessAction": action}],
    }
    return {"RightsID": rights_id, "RightsData": [right]}


def _rights_of(wire: Doc, ctx: Doc) -> Doc:
    try:
        (right,) = need(wire, "RightsData")
        ((pa,),) = (right["PAIDOrPA"],)
        action = pa["ProcessAction"]
        target, holder, granter = (next(iter(c.values())) for c in action["RQ-Complements"])
        ((start, end),) = parts.segments_of(action["ProcessActionTime"], "Rights validity")
        out: Doc = {
            "RightsID": need(wire, "RightsID"),
            "HolderID": holder,
            "DeonticVerb": right["DeonticVerb"],
            "Action": action["Action"],
            "TargetID": target,
            "Level": right["Level"],
            "GrantedBy": granter,
            "ValidFrom": parts.iso_of_ms(start),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput("a Rights Item holds one Right on one Process Action", reason="ITEM_MALFORMED") from err
    if end != parts.OPEN_END_MS:
        out["ValidUntil"] = parts.iso_of_ms(end)
    return out


# -- Rules (MMM-RUL) --------------------------------------------------------------------------
def _rules_to(rest: Doc, ctx: Doc) -> Doc:
    out: Doc = {
        "RulesID": ctx["ItemID"],
        "RulesTime": parts.instant(f"{ctx['ItemID']}#effective", rest["EffectiveTime"]),
    }
    foreign = (rest.get("Rules") or {}).get("ForeignProcessActions") or []
    if foreign:  # what Processes of other M-Instances may do here, as deontic Rules
        paid = [{"ProcessActionID": a, "Status": "Model"} for a in foreign]
        out["RulesData"] = [{"DeonticVerb": "May", "PAIDOrPA": paid}]  # no PenaltiesID: RUL-REQUIRED
    return out


def _rules_of(wire: Doc, ctx: Doc) -> Doc:
    for name in ("RulesID", "RulesTime", "RulesData"):
        wire.pop(name, None)  # restated from the extension fields, which are the Rules themselves
    return {}


# -- Wallet (MMM-WAL) -------------------------------------------------------------------------
def _wallet_to(rest: Doc, ctx: Doc) -> Doc:
    balances = take(rest, "Balances")
    return {
        "WalletID": take(rest, "WalletID"),
        "Value": [parts.value_doc(b["Amount"], b["CurrencyID"]) for b in balances],
    }


def _wallet_of(wire: Doc, ctx: Doc) -> Doc:
    values = wire.pop("Value", [])
    return {"WalletID": need(wire, "WalletID"), "Balances": [parts.of_value_doc(v, "Wallet Value") for v in values]}


# -- Transaction (MMM-TRA) --------------------------------------------------------------------
def _transaction_to(rest: Doc, ctx: Doc) -> Doc:
    tid, payee = take(rest, "TransactionID"), take(rest, "PayeeProcessID")
    value = take(rest, "Value")
    out: Doc = {
        "MEnvironmentID": default_environment(str(ctx["MInstanceID"])),
        "TransactionID": tid,
        "TransactionTime": parts.instant(f"{tid}#time", take(rest, "Time")),
        "SenderData": {
            "SenderID": take(rest, "PayerProcessID"),
            "SenderWalletID": rest.pop("PayerWalletID", ""),
            "SToSPValues": [
                {
                    "ServiceID": payee,
                    "WalletID": rest.pop("PayeeWalletID", ""),
                    "Value": parts.value_doc(value["Amount"], value["CurrencyID"]),
                }
            ],
        },
        "ReceiverData": {"ReceiverID": payee, "ReceiverWalletID": ""},
        "TransactionStatus": take(rest, "Status"),
    }
    if "AssetID" in rest:
        out["AssetID"] = [{"ItemID": rest.pop("AssetID")}]
    return out


def _transaction_of(wire: Doc, ctx: Doc) -> Doc:
    _environment_in(wire, ctx)
    try:
        sender, receiver = need(wire, "SenderData"), need(wire, "ReceiverData")
        (paid,) = sender["SToSPValues"]
        out: Doc = {
            "TransactionID": need(wire, "TransactionID"),
            "PayerProcessID": sender["SenderID"],
            "PayeeProcessID": receiver["ReceiverID"],
            "Value": parts.of_value_doc(paid["Value"], "Transaction Value"),
            "Status": need(wire, "TransactionStatus"),
            "Time": parts.instant_of(need(wire, "TransactionTime"), "TransactionTime"),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInput(
            "a Transaction moves one Value from a Sender to a Receiver", reason="ITEM_MALFORMED"
        ) from err
    if sender.get("SenderWalletID"):
        out["PayerWalletID"] = sender["SenderWalletID"]
    if paid.get("WalletID"):
        out["PayeeWalletID"] = paid["WalletID"]
    if "AssetID" in wire:
        out["AssetID"] = wire.pop("AssetID")[0]["ItemID"]
    return out


# -- Activity Data (MMM-ACD) ------------------------------------------------------------------
_ACD_PAS = ("ProcessAction", "ProcessActionResponse")
"""The record's request and response in their V2.2 form (``MMM4_V22_ProcessAction`` s)."""


def _activity_to(rest: Doc, ctx: Doc) -> Doc:
    """The record's Process Action, request and response, is the IPP Message of its one
    ``ActivityData`` entry (``PAIDOrPA``, in that order); a record without them names it by id."""
    entry: Doc = {"IPPMessageID": rest["ProcessActionID"]}
    if all(k in rest for k in _ACD_PAS):
        entry = {
            "IPPMessage": {
                "Header": "MMM-IPP-V2.2",
                "IPPMessageID": rest["ProcessActionID"],
                "ProcessID": [
                    {"SourceProcessID": rest["SourceProcessID"]},
                    {"DestinationProcessID": rest["DestinationProcessID"]},
                ],
                "PAIDOrPA": [{"ProcessAction": rest.pop(k)} for k in _ACD_PAS],
            }
        }
    return {
        "ActivityDataID": ctx["ItemID"],
        "ActivityDataTime": parts.instant(f"{ctx['ItemID']}#time", rest["Time"]),
        "ActivityData": [entry],
    }


def _activity_of(wire: Doc, ctx: Doc) -> Doc:
    entries = wire.get("ActivityData")
    message = entries[0].get("IPPMessage") if isinstance(entries, list) and len(entries) == 1 else None
    for name in ("ActivityDataID", "ActivityDataTime", "ActivityData"):
        wire.pop(name, None)  # restated from the extension fields (the record itself)
    if not isinstance(message, dict):
        return {}
    pas = message.get("PAIDOrPA")
    if not isinstance(pas, list) or len(pas) != len(_ACD_PAS):
        raise InvalidInput("an Activity Data IPP Message carries its request and response", reason="ITEM_MALFORMED")
    return {k: entry["ProcessAction"] for k, entry in zip(_ACD_PAS, pas, strict=True)}


# -- Fault Behaviour Report (MMM-FBR) ---------------------------------------------------------
def _fbr_to(rest: Doc, ctx: Doc) -> Doc:
    return {
        "ReportID": take(rest, "ReportID"),
        "ReportTime": parts.instant(f"{ctx['ItemID']}#time", take(rest, "Time")),
        "ReporterProcess": ctx["Trace"][-1]["ProcessID"],
        "SuspectedCategory": "NonCompliance",
        "SuspectedCategoryDetail": take(rest, "Rule"),
        "SubjectReferences": {
            "Transactions": [],
            "Processes": [take(rest, "FaultyProcessID")],
            "ActivityData": [take(rest, "ProcessActionID")],
        },
        "RuleContext": {"RuleVersionId": take(rest, "RulesVersionID")},
    }


def _fbr_of(wire: Doc, ctx: Doc) -> Doc:
    try:
        refs, rules = need(wire, "SubjectReferences"), need(wire, "RuleContext")
        wire.pop("ReporterProcess", None)
        wire.pop("SuspectedCategory", None)
        return {
            "ReportID": need(wire, "ReportID"),
            "FaultyProcessID": refs["Processes"][0],
            "ProcessActionID": refs["ActivityData"][0],
            "RulesVersionID": rules["RuleVersionId"],
            "Rule": need(wire, "SuspectedCategoryDetail"),
            "Time": parts.instant_of(need(wire, "ReportTime"), "ReportTime"),
        }
    except (KeyError, TypeError, IndexError) as err:
        raise InvalidInput(
            "a Fault Behaviour Report names its Process and Process Action", reason="ITEM_MALFORMED"
        ) from err


# -- Fault Detection Report (MMM-FDR) ---------------------------------------------------------
def _fdr_to(rest: Doc, ctx: Doc) -> Doc:
    if take(rest, "ReportingMInstanceID") != ctx["MInstanceID"]:
        raise InvalidInput("a Fault Detection Report is its reporting M-Instance's", reason="ITEM_MALFORMED")
    return {
        "ReportId": take(rest, "ReportID"),
        "HostMInstance": ctx["MInstanceID"],
        "ForeignMInstance": take(rest, "ReportedMInstanceID"),
        "DetectedByProcess": ctx["Trace"][-1]["ProcessID"],
        "ForeignProcessId": take(rest, "FaultyProcessID"),
        "EventType": "RULE_VIOLATION_ATTEMPT",
        "Severity": "warning",
        "Confidence": "high",
        "ReportCreationTime": parts.instant(f"{ctx['ItemID']}#time", take(rest, "Time")),
        "RuleContext": [
            {"RuleSetId": f"mmm://{ctx['MInstanceID']}/rules/current", "RuleVersionId": take(rest, "RulesVersionID")}
        ],
        "Evidence": [{"type": "activity", "id": take(rest, "ProcessActionID")}],
        "ActionTakenInA": "Process Action refused (PA Status Error)",
    }


def _fdr_of(wire: Doc, ctx: Doc) -> Doc:
    try:
        host = need(wire, "HostMInstance")
        ctx["MInstanceID"] = host
        for name in ("DetectedByProcess", "EventType", "Severity", "Confidence", "ActionTakenInA"):
            wire.pop(name, None)
        return {
            "ReportID": need(wire, "ReportId"),
            "FaultyProcessID": need(wire, "ForeignProcessId"),
            "ProcessActionID": need(wire, "Evidence")[0]["id"],
            "RulesVersionID": need(wire, "RuleContext")[0]["RuleVersionId"],
            "Time": parts.instant_of(need(wire, "ReportCreationTime"), "ReportCreationTime"),
            "ReportedMInstanceID": need(wire, "ForeignMInstance"),
            "ReportingMInstanceID": host,
        }
    except (KeyError, TypeError, IndexError) as err:
        raise InvalidInput(
            "a Fault Detection Report names its Process and Process Action", reason="ITEM_MALFORMED"
        ) from err


DATA_TYPES = (
    DataType("ITM", "ItemID", None, True, _item_to, _item_of, item_fields=True),
    DataType("PRC", "ProcessID", None, True, _process_to, _process_of),
    DataType("ACC", "AccountID", "Account", False, _account_to, _account_of),
    DataType("PPR", "PersonalProfileID", "PersonalProfile", False, _profile_to, _profile_of),
    DataType("RGT", "RightsID", "Right", True, _rights_to, _rights_of),
    DataType("RUL", "RulesID", "Rules", False, _rules_to, _rules_of),
    DataType("WAL", "WalletID", "Wallet", True, _wallet_to, _wallet_of),
    DataType("ASS", "AssetID", None, False, asset_to, asset_of, item_fields=True),
    DataType("TRA", "TransactionID", "Transaction", True, _transaction_to, _transaction_of),
    DataType("ACD", "ActivityDataID", "ActivityData", False, _activity_to, _activity_of),
    DataType("FBR", "ReportID", "FaultBehaviourReport", True, _fbr_to, _fbr_of),
    DataType("FDR", "ReportId", "FaultDetectionReport", True, _fdr_to, _fdr_of, names_instance=False),
)
