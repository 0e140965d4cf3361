"""``mmmfed avatar register|migrate``: an operator registers a human with their avatar at a running
M-Instance and migrates the avatar to a peer M-Instance (FGMV-43 9.1 steps 1-4), over the
Instance service and the M-Instance's own gateway with an operator certificate of its trust
domain (``--config`` is the M-Instance's configuration, as for ``asset``).

Exit codes of ``migrate``: 0 the avatar was migrated (it lives at the peer as a roaming User);
3 the peer refused it (the reason, and the default avatar it offered, are printed); 2 nothing
was sent (bad input, no connection, no agreement). ``register`` exits 0 or 2. ``--json`` prints
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
from mmmfed.cli.operator_session import OperatorSession, open_session, run, stub
from mmmfed.cli.tables import WideOption, table_console

avatar_app = typer.Typer(
    help="Humans' avatars: register one, migrate it to a peer (FGMV-43 9.1).", no_args_is_help=True
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
    persona = json.loads(reg.persona.item_json)
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
        "peer_persona_id": json.loads(result.peer_persona.item_json)["ItemID"] if migrated else None,
        "route": result.route or None,
        "conversion": report,
        "refusal": {"reason": result.refusal_reason, "message": result.refusal_message} if not migrated else None,
        "default_avatar_id": (
            json.loads(result.default_avatar.item_json)["ItemID"] if result.default_avatar.item_json else None
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
