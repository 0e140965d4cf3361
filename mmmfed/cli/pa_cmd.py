"""``mmmfed pa send`` and ``mmmfed activity show``: issue a Process Action to a running M-Instance
and read its Activity Data (issue "MMM-TEC core", item 7), over the Instance service with an
operator certificate of the M-Instance's trust domain.

A request comes from a JSON file in the form of ``instance/world/codec.py`` (``--file``), or from
flags; flags given with ``--file`` override its fields. A request for a Process of another
M-Instance is resolved by the M-Instance through its gateway. The exit code is 0 for Ack,
3 for Request (pay first), 4 for a PA Status Error, 2 when the request could not be sent.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from mmmfed.cli.tables import FittingTable, WideOption, table_console

pa_app = typer.Typer(help="Process Actions (MMM-TEC Inter-Process Protocol).", no_args_is_help=True)
activity_app = typer.Typer(help="Activity Data of an M-Instance.", no_args_is_help=True)
ConfigOption = Annotated[Path, typer.Option("--config", help="the M-Instance's configuration, .json or .toml")]
CertOption = Annotated[
    Path,
    typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain (`mmmfed certs init`)"),
]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]
EXIT_REQUEST = 3
EXIT_ERROR = 4


def _config(path: Path) -> Any:
    from mmmfed.cli.common import fail
    from mmmfed.config import InstanceConfig, load_config
    from mmmfed.errors import MmmfedError

    try:
        return load_config(path, InstanceConfig)
    except MmmfedError as err:
        raise fail(err) from err


async def _instance_call(config: Any, cert: Path, key: Path, method: str, request: Any) -> Any:
    from mmmfed.api.v1 import instance_pb2_grpc
    from mmmfed.config import PeerAddress, TlsConfig
    from mmmfed.rpc import call
    from mmmfed.tls import secure_channel

    tls = TlsConfig(ca_cert=config.tls.ca_cert, cert=cert, key=key)
    async with secure_channel(tls, PeerAddress(tls_name=config.tls_name, address=config.listen)) as channel:
        stub = instance_pb2_grpc.InstanceStub(channel)
        return await call(lambda: getattr(stub, method)(request), attempts=1 if method == "Act" else 4)


def _complement(kind: str, ref: str) -> dict[str, str]:
    return {"Kind": kind, ("ProcessID" if "/processes/" in ref else "ItemID"): ref}


def build_request(
    base: dict[str, Any],
    *,
    source: str | None,
    destination: str | None,
    action: str | None,
    verb: str | None,
    complements: dict[str, str | None],
    items: list[Path],
    pay: str | None,
    pa_id: str | None,
) -> dict[str, Any]:
    """The request's JSON form: ``base`` (from ``--file``) with the flags applied. Raises
    InvalidInput (via the codec) when the result is not a valid request."""
    from instance.world.codec import request_from_json
    from mmmfed.errors import InvalidInput
    from mmmfed.strictjson import parse_json

    raw = dict(base)
    for field, value in (
        ("SourceProcessID", source),
        ("DestinationProcessID", destination),
        ("Action", action),
        ("DeonticVerb", verb),
        ("ProcessActionID", pa_id),
    ):
        if value is not None:
            raw[field] = value
    raw.setdefault("DeonticVerb", "May")
    given = [_complement(kind, ref) for kind, ref in complements.items() if ref is not None]
    if given:
        kinds = {c["Kind"] for c in given}
        raw["RQComplements"] = [c for c in raw.get("RQComplements", []) if c.get("Kind") not in kinds] + given
    if items:
        raw["Items"] = [*raw.get("Items", []), *(parse_json(p.read_bytes()) for p in items)]
    if pay is not None:
        amount, _, currency = pay.partition(" ")
        if not amount.isdigit() or not currency:
            raise InvalidInput(f"--pay {pay!r}: give an integer amount in minor units and a currency, e.g. '500 EUR'")
        raw["Payment"] = {"Amount": int(amount), "CurrencyID": currency}
    source_id = raw.get("SourceProcessID")
    if "ProcessActionID" not in raw and isinstance(source_id, str) and source_id.startswith("mmm://"):
        raw["ProcessActionID"] = f"mmm://{source_id.removeprefix('mmm://').split('/', 1)[0]}/pa/{uuid.uuid4().hex}"
    raw.setdefault("TimeMs", int(time.time() * 1000))
    request_from_json(raw)  # refuse a bad request here, with the field named
    return raw


def response_table(response: Any) -> Table:
    """A Process Action response for people: PA Status, reason, RS Complements, Items."""
    status = response.status
    table = Table(title=f"{response.process_action_id}", show_header=False)
    outcome = status.kind.value + (f" {status.error.value}" if status.error else "")
    if status.value is not None:
        outcome += f" {status.value.amount_minor} {status.value.currency_id}"
    table.add_row("PA Status", outcome)
    if status.reason:
        table.add_row("reason", status.reason)
    for c in response.complements:
        table.add_row(f"RS {c.kind.value}", c.ref_id)
    for item in response.items:
        table.add_row("Item", f"{item.get('ItemType')} {item.get('ItemID')}")
    return table


@pa_app.command("send")
def pa_send(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    file: Annotated[Path | None, typer.Option("--file", help="request in JSON (instance/world/codec.py)")] = None,
    source: Annotated[str | None, typer.Option("--source", help="requesting ProcessID")] = None,
    destination: Annotated[str | None, typer.Option("--destination", help="requested ProcessID")] = None,
    action: Annotated[str | None, typer.Option("--action", help="MMM-TEC Action, e.g. MM-Add")] = None,
    verb: Annotated[str | None, typer.Option("--verb", help="May or Must")] = None,
    nil: Annotated[str | None, typer.Option("--nil", help="the Item or Process acted on")] = None,
    at: Annotated[str | None, typer.Option("--at", help="At Complement (an M-Location)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="To Complement")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="From Complement")] = None,
    of: Annotated[str | None, typer.Option("--of", help="Of Complement")] = None,
    with_: Annotated[str | None, typer.Option("--with", help="With Complement (e.g. the paying Transaction)")] = None,
    item: Annotated[list[Path] | None, typer.Option("--item", help="an Item (JSON file) the request carries")] = None,
    pay: Annotated[str | None, typer.Option("--pay", help="payment, e.g. '500 EUR' (minor units)")] = None,
    pa_id: Annotated[str | None, typer.Option("--id", help="ProcessActionID (default: a new one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the response as JSON")] = False,
    wide: WideOption = False,
) -> None:
    """Issue a Process Action to the M-Instance of CONFIG and print the response and PA Status."""
    from instance.world.codec import request_from_json, response_to_json
    from instance.world.model import PAStatusKind
    from instance.world.wire import request_to_proto, response_from_proto
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.strictjson import parse_json

    cfg = _config(config)
    try:
        base = parse_json(file.read_bytes()) if file is not None else {}
        if not isinstance(base, dict):
            raise InvalidInput(f"{file}: a request is a JSON object")
        raw = build_request(
            base,
            source=source,
            destination=destination,
            action=action,
            verb=verb,
            complements={"Nil": nil, "At": at, "To": to, "From": from_, "Of": of, "With": with_},
            items=list(item or []),
            pay=pay,
            pa_id=pa_id,
        )
        message = request_to_proto(request_from_json(raw), m_instance_id=cfg.m_instance_id)
        reply = asyncio.run(_instance_call(cfg, cert, key, "Act", ipb.ActRequest(request=message)))
        response = response_from_proto(reply)
    except (MmmfedError, OSError) as err:
        if isinstance(err, OSError):
            err = InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")
        raise fail(err) from err
    if as_json:
        typer.echo(json.dumps({"DecidedBy": reply.m_instance_id, **response_to_json(response)}, indent=2))
    else:
        table_console(wide).print(response_table(response))
        Console().print(f"decided by {reply.m_instance_id}")
    kind = response.status.kind
    if kind is PAStatusKind.REQUEST:
        raise typer.Exit(code=EXIT_REQUEST)
    if kind is PAStatusKind.ERROR:
        raise typer.Exit(code=EXIT_ERROR)


def _ms(text: str | None) -> int:
    if text is None:
        return 0
    if text.isdigit():
        return int(text)
    from instance.world.itemdocs import millis

    return millis(text)


@activity_app.command("show")
def activity_show(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    process: Annotated[str | None, typer.Option("--process", help="as source or destination")] = None,
    item: Annotated[str | None, typer.Option("--item", help="named by a Complement")] = None,
    since: Annotated[str | None, typer.Option("--since", help="RFC 3339 time or Unix ms (inclusive)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="RFC 3339 time or Unix ms (exclusive)")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="print the ACD Items as JSON lines")] = False,
    wide: WideOption = False,
) -> None:
    """Show the M-Instance's Activity Data (every Process Action performed or refused)."""
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError

    cfg = _config(config)
    try:
        query = ipb.QueryActivityRequest(
            process_id=process or "", item_id=item or "", since_ms=_ms(since), until_ms=_ms(until), limit=limit
        )
        reply = asyncio.run(_instance_call(cfg, cert, key, "QueryActivity", query))
    except (MmmfedError, OSError) as err:
        if isinstance(err, OSError):
            err = InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")
        raise fail(err) from err
    records = [json.loads(raw) for raw in reply.records_json]
    if as_json:
        for record in records:
            typer.echo(json.dumps(record, separators=(",", ":")))
        return
    table = FittingTable(drop=("time", "Process Action"))
    for col in ("time", "Process Action", "source", "destination", "Action", "PA Status"):
        table.add_column(col, no_wrap=col in ("time", "Process Action"), overflow="fold")
    for r in records:
        status = r["PAStatus"]
        when = datetime.datetime.fromisoformat(r["Time"].replace("Z", "+00:00")).strftime("%H:%M:%S.%f")[:-3]
        table.add_row(
            when,
            r["ProcessActionID"].rsplit("/", 1)[-1],
            r["SourceProcessID"],
            r["DestinationProcessID"],
            r["Action"],
            status["Status"] + (f" {status['ErrorCode']}" if "ErrorCode" in status else ""),
        )
    table_console(wide).print(table, markup=False, highlight=False)
