"""``mmmfed avatar register|migrate|list|status|show``: an operator registers a human with their
avatar at a running M-Instance, migrates the avatar to a peer M-Instance (FGMV-43 9.1 steps 1-4),
and sees its Users, where each avatar went and a Persona, over the Instance service and the
M-Instance's own gateway with an operator certificate of its trust domain (``--config`` is the
M-Instance's configuration, as for ``asset``).

Exit codes of ``migrate``: 0 the avatar was migrated (it lives at the peer as a roaming User);
3 the peer refused it (the reason, and the default avatar it offered, are printed); 2 nothing
was sent (bad input, no connection, no agreement). ``register``, ``list``, ``status`` and ``show``
exit 0 or 2 (2: nothing to show, e.g. USER_NOT_FOUND / ITEM_NOT_FOUND, or no connection). ``--json`` prints
machine-readable output (errors too: ``{"error", "message"}``).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mmmfed.cli.common import fail, refuse
from mmmfed.cli.operator_session import OperatorSession, once, open_session, run, stub
from mmmfed.cli.tables import WideOption, table_console
from mmmfed.items import domain_doc

avatar_app = typer.Typer(
    help="Humans' avatars: register one, migrate it to a peer, see where each went (FGMV-43 9.1).",
    no_args_is_help=True,
)
ConfigOption = Annotated[Path, typer.Option("--config", help="the M-Instance's configuration, .json or .toml")]
CertOption = Annotated[Path, typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain")]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
EXIT_REFUSED = 3


def _json_errors(as_json: bool, work: Any) -> Any:
    """Run ``work`` (a coroutine); with --json a domain error is printed as JSON, exit 2."""
    from mmmfed.errors import MmmfedError

    if not as_json:
        return run(work)
    try:
        return asyncio.run(work)
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise refuse("FILE_UNREADABLE", f"cannot read {err.filename}: {err.strerror}") from err


async def _register(op: OperatorSession, human: str, avatar: Path, display_name: str, licence: str) -> Any:
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.rpc import call
    from mmmfed.streams import chunked

    data = await asyncio.to_thread(avatar.read_bytes)
    header = ipb.RegisterHumanHeader(
        human_name=human, display_name=display_name or human, file_name=avatar.name, licence=licence
    )

    async def requests() -> Any:
        yield ipb.RegisterHumanRequest(header=header)
        for chunk in chunked(data):
            yield ipb.RegisterHumanRequest(chunk=chunk)

    async with stub(op) as instance:
        return await call(lambda: instance.RegisterHuman(requests()), attempts=1)


@avatar_app.command("register")
def avatar_register(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    file: Annotated[Path, typer.Option("--file", help="the avatar: VRM 0.x/1.0 or glTF binary", dir_okay=False)],
    human: Annotated[str, typer.Option("--human", help="the human's name here (a-z 0-9 . _ -)")],
    display_name: Annotated[str, typer.Option("--display-name", help="shown to others (default: --human)")] = "",
    licence: Annotated[str, typer.Option("--licence", help="the avatar's licence, e.g. CC-BY-4.0")] = "",
    as_json: JsonOption = False,
) -> None:
    """Register a human as a User Process with its Account, Personal Profile and Persona Item
    (the avatar, checked against what this M-Instance's manifesto says it produces)."""
    op = open_session(config, cert, key)
    reg = _json_errors(as_json, _register(op, human, file, display_name, licence))
    persona = domain_doc(reg.persona.item_json)
    view = {
        "user_process_id": reg.user_process_id,
        "account_id": reg.account_id,
        "personal_profile_id": reg.personal_profile_id,
        "persona_id": persona["ItemID"],
        "format": persona["ItemQualifier"]["Format"],
        "bytes": persona["ItemData"]["Size"],
    }
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    Console().print(
        f"{view['user_process_id']}\n  Persona {view['persona_id']} ({view['format']}, {view['bytes']:,} bytes)\n"
        f"  migrate it: mmmfed avatar migrate {view['user_process_id']} --to PEER {op.flags()}",
        markup=False,
        highlight=False,
    )


def migration_view(result: Any) -> dict[str, Any]:
    """A MigrateAvatarResponse as a plain dict (--json): outcome, where it lives, route, what the
    bridge converted or dropped, the refusal and the default avatar offered, time per step."""
    from google.protobuf.json_format import MessageToDict

    from mmmfed.api.v1 import gateway_pb2 as gpb

    report = json.loads(result.conversion_report_json) if result.conversion_report_json else None
    migrated = result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED
    return {
        "outcome": "MIGRATED" if migrated else "REFUSED",
        "roaming_user_process_id": result.roaming_user_process_id or None,
        "peer_persona_id": domain_doc(result.peer_persona.item_json)["ItemID"] if migrated else None,
        "route": result.route or None,
        "conversion": report,
        "refusal": {"reason": result.refusal_reason, "message": result.refusal_message} if not migrated else None,
        "default_avatar_id": (
            domain_doc(result.default_avatar.item_json)["ItemID"] if result.default_avatar.item_json else None
        ),
        "timings": [MessageToDict(t, preserving_proto_field_name=True) for t in result.timings],
        "bytes_sent": result.bytes_sent,
    }


@avatar_app.command("migrate")
def avatar_migrate(
    process_id: Annotated[str, typer.Argument(help="the User Process whose avatar moves")],
    to: Annotated[str, typer.Option("--to", help="the peer M-Instance, e.g. b.example")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Migrate a User's avatar to a peer: export, conversion through a bridge when the peer's
    manifesto needs it, transfer and import there; then where it lives now and what was
    converted or dropped, or the peer's refusal with its reason and the default avatar offered."""
    from mmmfed.api.v1 import gateway_pb2 as gpb
    from mmmfed.cli.render import migration_detail
    from mmmfed.rpc import call

    op = open_session(config, cert, key)
    request = gpb.MigrateAvatarRequest(user_process_id=process_id, peer_m_instance_id=to)

    async def migrate() -> Any:
        async with stub(op, gateway=True) as gateway:
            return await call(lambda: gateway.MigrateAvatar(request), attempts=1)

    if not as_json:
        Console(stderr=True).print(
            f"migrating {process_id} to {to}: export, conversion, transfer, import ...", markup=False, highlight=False
        )
    result = _json_errors(as_json, migrate())
    view = migration_view(result)
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
    else:
        console = table_console(wide)
        console.print(migration_detail(process_id, result))
        if view["outcome"] == "MIGRATED":
            console.print(
                f"MIGRATED: it lives at {to} as {view['roaming_user_process_id']} "
                f"(Persona {view['peer_persona_id']}, route {view['route']})",
                markup=False,
                highlight=False,
            )
        else:
            offered = (
                f"; {to} offers its default avatar {view['default_avatar_id']}" if view["default_avatar_id"] else ""
            )
            console.print(
                f"REFUSED by {to}: {result.refusal_reason}: {result.refusal_message}{offered}",
                markup=False,
                highlight=False,
            )
    if view["outcome"] != "MIGRATED":
        raise typer.Exit(code=EXIT_REFUSED)


def _record_view(rec: Any) -> dict[str, Any]:
    """An AvatarMigrationRecord as a plain dict (--json)."""
    report = json.loads(rec.conversion_report_json) if rec.conversion_report_json else None
    migrated = rec.outcome == "MIGRATED"
    return {
        "transfer_id": rec.transfer_id,
        "peer": rec.peer_m_instance_id,
        "outcome": rec.outcome,
        "time_ms": rec.time_ms,
        "roaming_user_process_id": rec.roaming_user_process_id or None,
        "peer_persona_id": rec.peer_persona_id or None,
        "home_persona_id": rec.home_persona_id or None,
        "route": rec.route or None,
        "conversion": report,
        "refusal": None if migrated else {"reason": rec.refusal_reason, "message": rec.refusal_message},
        "default_avatar_id": rec.default_avatar_id or None,
    }


def _user_view(user: Any) -> dict[str, Any]:
    return {
        "process_id": user.process_id,
        "kind": user.kind,
        "home_m_instance_id": user.home_m_instance_id,
        "persona_id": user.persona_id or None,
        "format": user.persona_format or None,
        "last_migrations": [_record_view(r) for r in user.last_migrations],
    }


def _where(user: Any) -> str:
    """Where a User's avatar went, in a few words: ``b.example MIGRATED, c.example REFUSED``."""
    if user.kind != "home":
        return f"visiting from {user.home_m_instance_id}"
    return ", ".join(f"{r.peer_m_instance_id} {r.outcome}" for r in user.last_migrations) or "home only"


@avatar_app.command("list")
def avatar_list(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """The Users of this M-Instance, its own humans and roaming visitors, with their current
    avatar (Persona and Format) and where each of its own humans' avatars went."""
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.tables import FittingTable

    op = open_session(config, cert, key)
    found = _json_errors(as_json, once(op, "ListUsers", ipb.ListUsersRequest(), attempts=3))
    if as_json:
        sys.stdout.write(json.dumps([_user_view(u) for u in found.users], indent=2) + "\n")
        return
    table = FittingTable(
        "User Process", "kind", "Persona", "Format", "avatar went to", drop=("Persona", "Format", "kind")
    )
    for column in table.columns[:3]:
        column.no_wrap = True
    for user in found.users:
        table.add_row(user.process_id, user.kind, user.persona_id or "-", user.persona_format or "-", _where(user))
    console = table_console(wide)
    console.print(table if found.users else "no Users yet: mmmfed avatar register ...")


@avatar_app.command("status")
def avatar_status(
    process_id: Annotated[str, typer.Argument(help="the User Process")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Where a User's avatar lives now: its Personae here, then every migration of it, each with
    its outcome: the peer and the Persona there, the route and what the bridge converted or
    dropped, or the refusal with its reason and the default avatar offered. Exits 2 for a User
    this M-Instance does not know (USER_NOT_FOUND)."""
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.tables import FittingTable

    op = open_session(config, cert, key)
    request = ipb.GetAvatarStatusRequest(user_process_id=process_id)
    found = _json_errors(as_json, once(op, "GetAvatarStatus", request, attempts=3))
    view = {**_user_view(found.user), "persona_ids": list(found.persona_ids)}
    view["migrations"] = [_record_view(r) for r in found.migrations]
    view.pop("last_migrations")
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    console = table_console(wide)
    console.print(f"{found.user.process_id} ({found.user.kind})", markup=False, highlight=False)
    console.print(f"  Personae here: {', '.join(found.persona_ids) or 'none'}", markup=False, highlight=False)
    if not found.migrations:
        console.print("  never migrated", markup=False, highlight=False)
        return
    table = FittingTable("peer", "outcome", "there / why", "route", "converted", drop=("converted", "route"))
    table.columns[2].no_wrap = True
    for rec in found.migrations:
        item = _record_view(rec)
        if rec.outcome == "MIGRATED":
            where = f"{rec.roaming_user_process_id} Persona {rec.peer_persona_id}"
        else:
            offered = f"; default avatar {rec.default_avatar_id}" if rec.default_avatar_id else ""
            where = f"{rec.refusal_reason}: {rec.refusal_message}{offered}"
        dropped = (item["conversion"] or {}).get("dropped") or []
        converted = f"dropped {len(dropped)}: " + "; ".join(map(str, dropped)) if dropped else "-"
        table.add_row(rec.peer_m_instance_id, rec.outcome, where, rec.route or "-", converted)
    console.print(table)


@avatar_app.command("show")
def avatar_show(
    persona_id: Annotated[str, typer.Argument(help="the Persona Item's id")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
) -> None:
    """One Persona Item as this M-Instance holds it: its Qualifier (Format, triangles, textures),
    data size and digest, licence and file name, and who holds Rights on it. Exits 2 for an Item
    this M-Instance does not hold (ITEM_NOT_FOUND)."""
    from mmmfed.client import read_item

    op = open_session(config, cert, key)

    async def show() -> Any:
        async with stub(op) as instance:
            envelope, data = await read_item(instance, persona_id)
            return envelope, len(data)

    envelope, size = _json_errors(as_json, show())
    doc = domain_doc(envelope.item_json)
    qualifier = doc.get("ItemQualifier") or {}
    view = {
        "persona_id": doc.get("ItemID"),
        "m_instance_id": doc.get("MInstanceID"),
        "format": qualifier.get("Format"),
        "attributes": qualifier.get("Attributes") or {},
        "bytes": (doc.get("ItemData") or {}).get("Size", size),
        "sha256": ((doc.get("ItemData") or {}).get("Digest") or {}).get("Value"),
        "description": doc.get("DescrMetadata") or {},
        "rights": doc.get("ICapabilities") or [],
        "source_item_id": doc.get("SourceItemID"),
        "signed": "proof" in doc,
    }
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    lines = [f"{view['persona_id']} ({view['format']}, {view['bytes']:,} bytes, of {view['m_instance_id']})"]
    lines += [f"  {k}: {v}" for k, v in sorted(view["attributes"].items())]
    lines += [f"  {k}: {v}" for k, v in sorted(view["description"].items())]
    lines += [f"  sha-256: {view['sha256']}"]
    if view["source_item_id"]:
        lines.append(f"  converted from: {view['source_item_id']}")
    lines += [f"  Rights of {r.get('ProcessID')}: {', '.join(r.get('Rights') or [])}" for r in view["rights"]]
    Console().print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
