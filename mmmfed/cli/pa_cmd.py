"""``mmmfed pa send`` and ``mmmfed activity show``: issue a Process Action to a running M-Instance
and read its Activity Data (issue "MMM-TEC core", item 7), over the Instance service with an
operator certificate of the M-Instance's trust domain.

A request comes from a JSON file in its MMM-TEC V2.2 form (``--file``: an
``MMM4_V22_AnyProcessAction``, :mod:`mmmfed.v22.process_action`; issue 15 item 3), or from flags;
flags given with ``--file`` override its fields. ``--json`` prints the response in its V2.2 form
(an ``MMM4_V22_ProcessAction`` whose ``MInstanceID`` is the M-Instance that decided it). A
request for a Process of another M-Instance is resolved by the M-Instance through its gateway.
The exit code is 0 for Ack, 3 for Request (pay first), 4 for a PA Status Error, 2 when the
request could not be sent.
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


def build_request(
    base: dict[str, Any] | None,
    *,
    m_instance_id: str,
    source: str | None,
    destination: str | None,
    action: str | None,
    verb: str | None,
    complements: dict[str, str | None],
    items: list[Path],
    pay: str | None,
    pa_id: str | None,
) -> Any:
    """The request message: ``base`` (the ``--file`` document, an ``MMM4_V22_AnyProcessAction``
    in the form of :mod:`mmmfed.v22.process_action`) with the flags applied; ``--item`` files are
    Items in their V2.2 form. Raises InvalidInput ``PROCESS_ACTION_MALFORMED`` naming the field
    (a JSON pointer into the V2.2 form) when the file or the result is not a valid request."""
    from mmmfed.api.v1 import process_action_pb2 as papb
    from mmmfed.errors import InvalidInput
    from mmmfed.strictjson import parse_json
    from mmmfed.v22.process_action import request_from_v22, request_to_v22

    msg = request_from_v22(base) if base is not None else papb.ProcessActionRequest(header="MMM-PAC-V2.2")
    for field, value in (("source_process_id", source), ("destination_process_id", destination), ("action", action)):
        if value is not None:
            setattr(msg, field, value)
    if verb is not None:
        verbs = {"May": papb.DEONTIC_VERB_MAY, "May Not": papb.DEONTIC_VERB_MAY_NOT, "Must": papb.DEONTIC_VERB_MUST}
        msg.deontic_verb = verbs.get(verb, papb.DEONTIC_VERB_UNSPECIFIED)
    elif not msg.deontic_verb:
        msg.deontic_verb = papb.DEONTIC_VERB_MAY
    given = [
        (papb.ComplementKind.Value(f"COMPLEMENT_KIND_{kind.upper()}"), ref)
        for kind, ref in complements.items()
        if ref is not None
    ]
    if given:
        kept = [c for c in msg.rq_complements if c.kind not in {code for code, _ in given}]
        del msg.rq_complements[:]
        msg.rq_complements.extend(kept)
        for code, ref in given:
            target = {"process_id": ref} if "/processes/" in ref else {"item_id": ref}
            msg.rq_complements.append(papb.Complement(kind=code, **target))
    for path in items:
        msg.items_json.append(
            json.dumps(parse_json(path.read_bytes()), ensure_ascii=False, separators=(",", ":")).encode()
        )
    if pay is not None:
        amount, _, currency = pay.partition(" ")
        if not amount.isdigit() or not currency:
            raise InvalidInput(f"--pay {pay!r}: give an integer amount in minor units and a currency, e.g. '500 EUR'")
        msg.payment.CopyFrom(papb.Value(amount_minor=int(amount), currency_id=currency))
    if pa_id is not None:
        msg.process_action_id = pa_id
    if not msg.process_action_id and msg.source_process_id.startswith("mmm://"):
        home = msg.source_process_id.removeprefix("mmm://").split("/", 1)[0]
        msg.process_action_id = f"mmm://{home}/pa/{uuid.uuid4().hex}"
    if not msg.time_ms:
        msg.time_ms = int(time.time() * 1000)
    msg.m_instance_id = msg.m_instance_id or m_instance_id
    try:
        v22 = request_to_v22(msg)
    except InvalidInput as err:  # a flag that gives it no V2.2 form (--action Fly): named as its field
        named = {"action": "Action", "deontic_verb": "DeonticVerb"}.get(str(err.metadata.get("field")))
        if named is None:
            raise
        raise InvalidInput(
            f"Process Action field {named}: {err.message.split(': ', 1)[-1]}",
            reason="PROCESS_ACTION_MALFORMED",
            metadata={"field": named},
        ) from err
    return request_from_v22(v22)  # refuse a bad request here, the field named


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
    file: Annotated[
        Path | None, typer.Option("--file", help="request in its MMM-TEC V2.2 form (docs/v22-process-actions.md)")
    ] = None,
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
    item: Annotated[
        list[Path] | None, typer.Option("--item", help="an Item (V2.2 JSON file) the request carries")
    ] = None,
    pay: Annotated[str | None, typer.Option("--pay", help="payment, e.g. '500 EUR' (minor units)")] = None,
    pa_id: Annotated[str | None, typer.Option("--id", help="ProcessActionID (default: a new one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the response in its V2.2 form")] = False,
    wide: WideOption = False,
) -> None:
    """Issue a Process Action to the M-Instance of CONFIG and print the response and PA Status."""
    from instance.world.model import PAStatusKind
    from instance.world.wire import request_from_proto, response_from_proto
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.strictjson import parse_json
    from mmmfed.v22.process_action import response_to_v22

    cfg = _config(config)
    try:
        base = parse_json(file.read_bytes()) if file is not None else None
        if file is not None and not isinstance(base, dict):
            raise InvalidInput(f"{file}: a request is a JSON object (an MMM4_V22_AnyProcessAction)")
        message = build_request(
            base,
            m_instance_id=cfg.m_instance_id,
            source=source,
            destination=destination,
            action=action,
            verb=verb,
            complements={"Nil": nil, "At": at, "To": to, "From": from_, "Of": of, "With": with_},
            items=list(item or []),
            pay=pay,
            pa_id=pa_id,
        )
        request_from_proto(message)  # the Items too: each one a V2.2 Item mmmfed reads
        reply = asyncio.run(_instance_call(cfg, cert, key, "Act", ipb.ActRequest(request=message)))
        response = response_from_proto(reply)
        answer = response_to_v22(reply, action=message.action)
    except (MmmfedError, OSError) as err:
        if isinstance(err, OSError):
            err = InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")
        raise fail(err) from err
    if as_json:
        typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
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
