"""``mmmfed avatar wear|sync|history``: avatars that come home (FGMV-43 9.1 steps 5-7, AVSF;
AVIR-102, AVIR-103, AVIR-104, AVIR-301-304).

``wear`` attaches accessories and an outfit (Items this M-Instance holds) to a User's avatar, or
removes them: at home a new version of the avatar; at the M-Instance a User is visiting, a
roaming change sent home at once (with the User's activity records here), where it waits for the
User's choice; while home cannot answer, it waits in a durable queue here (state QUEUED, worn
already) and goes home on its own, in order, once home answers. ``sync`` is that choice, per
visit, at home: ``--keep`` makes the visit's last change a new version, ``--discard`` drops it
(AVIR-102). ``history`` shows the versions and the
roaming changes received.

Exit codes: 0 done; 2 not done because of the input or a refusal (e.g. NO_PENDING_CHANGE,
NOT_VISITING, ITEM_NOT_FOUND), with one message naming it; ``--json`` prints machine-readable
output (errors too: ``{"error", "message"}``).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from mmmfed.cli.avatar_cmd import CertOption, ConfigOption, JsonOption, KeyOption, _json_errors, avatar_app
from mmmfed.cli.common import refuse
from mmmfed.cli.operator_session import once, open_session
from mmmfed.cli.tables import FittingTable, WideOption, table_console

ProcessArg = Annotated[str, typer.Argument(help="the User Process, e.g. mmm://a.example/processes/user/alice")]


def attachment_view(a: Any) -> dict[str, Any]:
    """An AvatarAttachment as a plain dict (--json)."""
    return {
        "item_id": a.item_id,
        "slot": a.slot,
        "qualifier": json.loads(a.qualifier_json) if a.qualifier_json else {},
        "digest": a.digest or None,
    }


def version_view(v: Any) -> dict[str, Any]:
    """An AvatarVersion as a plain dict (--json)."""
    return {
        "version": v.version,
        "parent_version": v.parent_version or None,
        "persona_id": v.persona_id,
        "attachments": [attachment_view(a) for a in v.attachments],
        "visited_m_instance_id": v.visited_m_instance_id or None,
        "visit_id": v.visit_id or None,
        "change_id": v.change_id or None,
        "time_ms": v.time_ms,
    }


def change_view(c: Any) -> dict[str, Any]:
    """A RoamingChange as a plain dict (--json); activity records as the ACD Items they are."""
    return {
        "change_id": c.change_id,
        "visited_m_instance_id": c.visited_m_instance_id,
        "visit_id": c.visit_id,
        "base_version": c.base_version,
        "attachments": [attachment_view(a) for a in c.attachments],
        "activity": [json.loads(r) for r in c.activity_json],
        "time_ms": c.time_ms,
        "state": c.state,
        "kept_as_version": c.kept_as_version or None,
    }


def history_view(h: Any) -> dict[str, Any]:
    """An AvatarHistory as a plain dict (--json): versions and roaming changes, oldest first."""
    return {
        "user_process_id": h.user_process_id,
        "versions": [version_view(v) for v in h.versions],
        "changes": [change_view(c) for c in h.changes],
    }


def _worn(attachments: Any) -> str:
    return ", ".join(f"{a.slot} {a.item_id}" for a in attachments) or "nothing attached"


def _print_history(h: Any, wide: bool) -> None:
    console = table_console(wide)
    versions = FittingTable("version", "parent", "from", "attached", drop=("from",))
    for v in h.versions:
        origin = f"kept from {v.visited_m_instance_id}" if v.visited_m_instance_id else "home"
        versions.add_row(str(v.version), str(v.parent_version or "-"), origin, _worn(v.attachments))
    console.print(f"{h.user_process_id}: version {h.versions[-1].version} now", markup=False, highlight=False)
    console.print(versions)
    if not h.changes:
        console.print("no roaming change received", markup=False, highlight=False)
        return
    changes = FittingTable("from", "state", "activity", "attached", "visit", drop=("visit", "activity"))
    for c in h.changes:
        state = f"KEPT as {c.kept_as_version}" if c.state == "KEPT" else c.state
        changes.add_row(c.visited_m_instance_id, state, str(len(c.activity_json)), _worn(c.attachments), c.visit_id)
    console.print(changes)


@avatar_app.command("history")
def avatar_history(
    process_id: ProcessArg,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """A home User's avatar versions (each with its parent and what is attached, and the visit
    it was kept from) and the roaming changes received from where it visited, with the activity
    records that came with them. Exits 2 for a User not of this M-Instance (NOT_HOME_USER)."""
    from mmmfed.api.v1 import avatar_sync_pb2 as spb

    op = open_session(config, cert, key)
    request = spb.GetAvatarHistoryRequest(user_process_id=process_id)
    found = _json_errors(as_json, once(op, "GetAvatarHistory", request, attempts=3))
    if as_json:
        sys.stdout.write(json.dumps(history_view(found), indent=2) + "\n")
        return
    _print_history(found, wide)


@avatar_app.command("sync")
def avatar_sync(
    process_id: ProcessArg,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    keep: Annotated[bool, typer.Option("--keep", help="keep the visit's change: a new version")] = False,
    discard: Annotated[bool, typer.Option("--discard", help="discard the visit's changes (AVIR-102)")] = False,
    visit: Annotated[str, typer.Option("--visit", help="the visit (default: the latest with a change)")] = "",
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """At home: keep or discard the changes of appearance made while roaming, per visit
    (FGMV-43 9.1 step 7, AVIR-102). Exits 2 without exactly one of --keep and --discard, or when
    nothing is pending (NO_PENDING_CHANGE)."""
    from mmmfed.api.v1 import avatar_sync_pb2 as spb

    if keep == discard:
        raise refuse("KEEP_OR_DISCARD", "give exactly one of --keep and --discard")
    op = open_session(config, cert, key)
    request = spb.DecideRoamingChangesRequest(user_process_id=process_id, visit_id=visit, keep=keep)
    found = _json_errors(as_json, once(op, "DecideRoamingChanges", request, attempts=1))
    if as_json:
        sys.stdout.write(json.dumps(history_view(found), indent=2) + "\n")
        return
    head = found.versions[-1]
    said = f"kept: version {head.version} ({_worn(head.attachments)})" if keep else "discarded"
    Console().print(said, markup=False, highlight=False)
    _print_history(found, wide)


@avatar_app.command("wear")
def avatar_wear(
    process_id: ProcessArg,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    outfit: Annotated[str, typer.Option("--outfit", help="an Item to wear as the outfit (replaces the last)")] = "",
    accessory: Annotated[list[str] | None, typer.Option("--accessory", help="an Item to attach; repeatable")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="an attached Item to take off")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a User's appearance with Items this M-Instance holds: at home a new version; for a
    visitor a roaming change sent to its home at once (AVIR-301), pending there until the User
    keeps or discards it. Exits 2 without a change, for an Item not held here (ITEM_NOT_FOUND)
    or when the home refuses it (e.g. NOT_VISITING)."""
    from mmmfed.api.v1 import avatar_sync_pb2 as spb

    attach = [spb.AttachmentRef(item_id=i, slot="accessory") for i in accessory or []]
    if outfit:
        attach.append(spb.AttachmentRef(item_id=outfit, slot="outfit"))
    if not attach and not remove:
        raise refuse("NO_CHANGE", "give --outfit, --accessory or --remove")
    op = open_session(config, cert, key)
    request = spb.ChangeAppearanceRequest(user_process_id=process_id, attach=attach, detach_item_ids=remove or [])
    found = _json_errors(as_json, once(op, "ChangeAppearance", request, attempts=1))
    if found.HasField("version"):
        view: dict[str, Any] = {"version": version_view(found.version)}
        said = f"version {found.version.version}: {_worn(found.version.attachments)}"
    else:
        view = {"change": change_view(found.change)}
        if found.change.state == "QUEUED":  # home cannot answer now: the change waits here, worn already
            said = (
                f"queued: the home cannot answer now; change {found.change.change_id} "
                f"({_worn(found.change.attachments)}) goes home on its own once it answers"
            )
        else:
            said = (
                f"sent home: change {found.change.change_id} is {found.change.state} there "
                f"({_worn(found.change.attachments)}); keep or discard it at home with mmmfed avatar sync"
            )
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    Console().print(said, markup=False, highlight=False)
