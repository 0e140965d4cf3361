"""``mmmfed asset register|fund|transfer|status|cancel|history|ledger``: an operator's view of Asset
migration (FGMV-43 9.2, ASIFC) at a running M-Instance, over the Instance service with an operator
certificate of its trust domain (``--config`` is the M-Instance's configuration, as for ``pa send``).

Money is integers in minor units of the M-Instance's currency (``AssetsConfig.currency_id``).
``--json`` prints machine-readable output on stdout; progress goes to stderr.

Exit codes of ``transfer`` and ``status``: 0 the transfer COMPLETED (the destination's journal:
COMMITTED); 3 it ended without completing (CANCELLED, FAILED, ABORTED: refused or expired, the
Asset is its owner's again and the payment refunded); 4 it is not terminal yet (PENDING, or
decided and awaiting the peer's acknowledgement: the M-Instance carries on in the background);
2 nothing was sent or read (bad input, a refusal such as PERMISSION_DENIED NO_TRANSACT_RIGHT or
FAILED_PRECONDITION ASSET_LOCKED, no connection). ``cancel`` exits 0 when it ended the transfer
(an operator's ABORT, refunded) and 2 when it could not (TRANSFER_DECIDED). The other commands
exit 0 or 2.

``history`` of an Asset that has MIGRATED names its new home and prints the ``--peer`` command
that asks the peer M-Instance for it; it does not follow the pointer by itself, because asking a
peer crosses the federation (it needs an active agreement and is audited there).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from mmmfed.cli.asset_render import (
    EXIT_NOT_TERMINAL,
    asset_dict,
    exit_code,
    history_dict,
    history_tables,
    item_doc,
    ledger_dict,
    ledger_tables,
    money_text,
    outcome_lines,
    transfer_dict,
    transfer_table,
    value_dict,
)
from mmmfed.cli.operator_session import OperatorSession, once, open_session, run, stub
from mmmfed.cli.tables import WideOption, table_console
from mmmfed.market import choices

asset_app = typer.Typer(
    help="Assets, Wallets and Asset migration between M-Instances (FGMV-43 9.2).", no_args_is_help=True
)
ConfigOption = Annotated[Path, typer.Option("--config", help="the M-Instance's configuration, .json or .toml")]
CertOption = Annotated[
    Path,
    typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain (`mmmfed certs init`)"),
]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]
POLL_INTERVAL_S = 0.15
# Without --wait-s, wait until the transfer's expiry plus this: by then the origin has decided.
EXPIRY_GRACE_S = 5.0
T = TypeVar("T")


# -- plain dicts for --json (proto field names; integers stay integers) -----------------------


def _echo_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))


# -- for people ---------------------------------------------------------------------------------


def _print_outcome(view: Any, op: OperatorSession, *, as_json: bool, table: bool, wide: bool = False) -> None:
    if as_json:
        _echo_json(transfer_dict(view))
        return
    console = table_console(wide)
    if table:
        console.print(transfer_table(view))
    status = f"mmmfed asset status {shlex.quote(view.transfer_id)} {op.flags()}"
    for line in outcome_lines(view, status_command=status):
        console.print(escape(line), emoji=False, soft_wrap=True)


_MARKET_CLASS_HELP = f"MMM-TEC Market Class, code or word: {choices()}"


@asset_app.command("register")
def asset_register(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    owner: Annotated[str, typer.Option("--owner", help="owner ProcessID at this M-Instance")],
    file: Annotated[Path, typer.Option("--file", help="the Asset's data, e.g. a .glb")],
    fmt: Annotated[str | None, typer.Option("--format", help="Qualifier Format (default: from a GLB/VRM file)")] = None,
    media_type: Annotated[str | None, typer.Option("--media-type", help="default: model/gltf-binary (GLB)")] = None,
    sub_type: Annotated[str, typer.Option("--sub-type", help="Qualifier Sub-Type")] = "Model",
    market_class: Annotated[str, typer.Option("--market-class", help=_MARKET_CLASS_HELP)] = "",
    price: Annotated[int, typer.Option("--price", min=0, help="declared price, minor units (0: none)")] = 0,
    title: Annotated[str, typer.Option("--title")] = "",
    as_json: JsonOption = False,
) -> None:
    """Mint an Asset from FILE for OWNER (FGMV-43 9.2 step 1) and print its AssetID.

    The ASS Item's Provenance starts with a Final Transaction. A GLB or VRM file is qualified from
    its content; any other file needs --format. --market-class takes one of MPAI's codes or its
    word, anything else is refused (exit 2, MARKET_CLASS_UNKNOWN); MC-Service needs --price."""
    from mmmfed.api.v1 import asset_pb2 as apb
    from mmmfed.api.v1 import process_action_pb2 as papb
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError
    from mmmfed.glb import inspect_glb
    from mmmfed.market import market_class_of

    try:
        market_class = market_class_of(market_class)
    except InvalidInput as err:
        raise fail(err) from err
    op = open_session(config, cert, key)
    try:
        data = file.read_bytes()
    except OSError as err:
        raise fail(InvalidInput(f"cannot read {file}: {err.strerror}", reason="FILE_UNREADABLE")) from err
    if fmt is None:
        try:
            fmt = inspect_glb(data).format
        except MmmfedError as err:
            raise fail(InvalidInput(f"{file}: {err.message}; give --format", reason="FORMAT_UNKNOWN")) from err
        media_type = media_type or "model/gltf-binary"
    request = apb.RegisterAssetRequest(
        owner_process_id=owner,
        sub_type=sub_type,
        format=fmt,
        media_type=media_type or "application/octet-stream",
        data=data,
        market_class=market_class,
        price=papb.Value(amount_minor=price, currency_id=op.config.assets.currency_id) if price else None,
        title=title,
    )
    view = run(once(op, "RegisterAsset", request, attempts=1))  # not idempotent: never repeated
    if as_json:
        _echo_json(asset_dict(view))
        return
    item = item_doc(view.asset)
    typer.echo(item.get("AssetID", ""))
    Console(stderr=True).print(
        escape(f"{sub_type} {fmt}, {len(data):,} bytes, owned by {view.owner_process_id}"), emoji=False
    )


@asset_app.command("fund")
def asset_fund(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    holder: Annotated[str, typer.Option("--holder", help="the Wallet's ProcessID at this M-Instance")],
    amount: Annotated[int, typer.Option("--amount", min=1, help="minor units issued from the treasury")],
    as_json: JsonOption = False,
) -> None:
    """Issue AMOUNT of this M-Instance's currency to HOLDER's Wallet and print its balance."""
    from mmmfed.api.v1 import asset_pb2 as apb

    op = open_session(config, cert, key)
    request = apb.FundWalletRequest(holder_process_id=holder, amount=amount)
    wallet = run(once(op, "FundWallet", request, attempts=1))  # not idempotent: never repeated
    if as_json:
        _echo_json({"holder": wallet.holder, "balance": value_dict(wallet.balance)})
    else:
        typer.echo(f"{wallet.holder}: {money_text(wallet.balance)}")


async def _transfer(
    op: OperatorSession, request: Any, *, wait: bool, wait_s: float | None, progress: Callable[[Any], None]
) -> Any:
    """TransferAsset, then GetAssetTransfer every POLL_INTERVAL_S until terminal or the deadline.

    A refusal of TransferAsset raises (nothing was sent); once it is accepted, failed polls only
    end the wait early (UNAVAILABLE is retried until the deadline), and the last view is returned."""
    from mmmfed.api.v1 import asset_pb2 as apb
    from mmmfed.errors import RemoteError
    from mmmfed.rpc import call

    async with stub(op) as instance:
        # Safe to repeat on UNAVAILABLE: the transfer id is fixed, the same request is the same transfer.
        view = await call(lambda: instance.TransferAsset(request), attempts=4)
        progress(view)
        if not wait:
            return view
        to_expiry_s = max(0.0, view.expires_at_ms / 1000 - time.time()) + EXPIRY_GRACE_S
        deadline = time.monotonic() + (to_expiry_s if wait_s is None else wait_s)
        poll = apb.GetAssetTransferRequest(transfer_id=view.transfer_id)
        while not view.terminal and time.monotonic() < deadline:
            await asyncio.sleep(POLL_INTERVAL_S)
            try:
                view = await call(lambda: instance.GetAssetTransfer(poll))
            except RemoteError as err:
                Console(stderr=True).print(f"[yellow]poll failed[/] {escape(str(err))}", emoji=False)
                if err.code.name != "UNAVAILABLE":
                    break
                continue
            progress(view)
        return view


@asset_app.command("transfer")
def asset_transfer(
    asset_id: Annotated[str, typer.Argument(help="the AssetID at this M-Instance")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    from_: Annotated[str, typer.Option("--from", help="owner ProcessID (holds the Transact Right)")],
    to: Annotated[str, typer.Option("--to", help="receiving ProcessID at another M-Instance")],
    pay: Annotated[int, typer.Option("--pay", min=0, help="payment in minor units of this currency")] = 0,
    transfer_id: Annotated[str | None, typer.Option("--transfer-id", help="idempotency id (default: new)")] = None,
    timeout_ms: Annotated[int, typer.Option("--timeout-ms", min=0, help="0: the M-Instance's default")] = 0,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="return once the transfer is journalled")] = False,
    wait_s: Annotated[float | None, typer.Option("--wait-s", min=0, help="seconds (default: expiry+5 s)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Migrate ASSET_ID, and a payment, to a Process of another M-Instance (FGMV-43 9.2 step 2).

    Follows the transfer PENDING -> COMMITTED -> COMPLETED (or ABORTING -> CANCELLED / FAILED) until
    it is terminal or --wait-s passes. The payment (--pay, minor units of this M-Instance's
    currency) is exchanged by the origin's policy for the peer (ASEF). Exit 0 completed,
    3 not completed, 4 not terminal yet, 2 not sent; with --no-wait, the exit code of the
    journalled state (normally 4, PENDING)."""
    from mmmfed.api.v1 import asset_pb2 as apb

    op = open_session(config, cert, key)
    tid = transfer_id or f"urn:uuid:{uuid.uuid4()}"
    request = apb.TransferAssetRequest(
        transfer_id=tid,
        asset_id=asset_id,
        source_process_id=from_,
        destination_process_id=to,
        payment_amount=pay,
        timeout_ms=timeout_ms,
    )
    err_console = Console(stderr=True)
    err_console.print(escape(f"transfer {tid}: {asset_id} -> {to}"), emoji=False, soft_wrap=True)
    began = time.monotonic()
    seen: list[str] = []
    status = err_console.status("sending", spinner="dots")  # redrawn on a terminal only

    def progress(view: Any) -> None:
        state = f"{view.state} (Transaction {view.transaction_status})"
        if seen and seen[-1] == state:
            return
        seen.append(state)
        status.update(f"[bold]{escape(state)}[/]")
        reason = f" {view.reason}" if view.reason else ""
        err_console.print(f"  {time.monotonic() - began:6.2f} s  {escape(state + reason)}", emoji=False)

    try:
        with status:
            view = run(_transfer(op, request, wait=not no_wait, wait_s=wait_s, progress=progress))
    except KeyboardInterrupt:
        check = f"mmmfed asset status {shlex.quote(tid)} {op.flags()}"
        err_console.print(escape(f"interrupted; if accepted, the transfer carries on: {check}"), emoji=False)
        raise typer.Exit(code=EXIT_NOT_TERMINAL) from None
    _print_outcome(view, op, as_json=as_json, table=False)
    raise typer.Exit(code=exit_code(view))


@asset_app.command("status")
def asset_status(
    transfer_id: Annotated[str, typer.Argument(help="the transfer id")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Show one transfer of this M-Instance's journal (either role). Exit codes as ``transfer``."""
    from mmmfed.api.v1 import asset_pb2 as apb

    op = open_session(config, cert, key)
    view = run(once(op, "GetAssetTransfer", apb.GetAssetTransferRequest(transfer_id=transfer_id), attempts=4))
    _print_outcome(view, op, as_json=as_json, table=True, wide=wide)
    raise typer.Exit(code=exit_code(view))


@asset_app.command("cancel")
def asset_cancel(
    transfer_id: Annotated[str, typer.Argument(help="the transfer id (this M-Instance is its origin)")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    note: Annotated[str, typer.Option("--note", help="why, kept with the transfer")] = "",
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """End a transfer that is not decided yet (PENDING) with an ABORT: the Asset is its owner's
    again and the payment refunded at once; the ABORT then reaches the peer in the background.
    Exits 0 when cancelled; 2 when the transfer was decided already (TRANSFER_DECIDED: a COMMIT
    cannot be taken back), is unknown here (TRANSFER_NOT_FOUND), or nothing was sent."""
    from mmmfed.api.v1 import asset_pb2 as apb

    op = open_session(config, cert, key)
    request = apb.CancelAssetTransferRequest(transfer_id=transfer_id, note=note)
    view = run(once(op, "CancelAssetTransfer", request, attempts=1))
    _print_outcome(view, op, as_json=as_json, table=True, wide=wide)


@asset_app.command("history")
def asset_history(
    asset_id: Annotated[str, typer.Argument(help="the AssetID")],
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    peer: Annotated[str | None, typer.Option("--peer", help="ask this peer M-Instance through our gateway")] = None,
    as_json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """An Asset's state, owner of record or new home, Provenance and transfers (ASIR-103/105).

    With --peer, the peer M-Instance that holds it answers, asked through this M-Instance's gateway
    (it needs an active agreement covering Assets). Without it, a MIGRATED Asset's new home is
    named with the --peer command to run; the pointer is not followed automatically."""
    from mmmfed.api.v1 import asset_pb2 as apb
    from mmmfed.api.v1 import gateway_pb2 as gpb
    from mmmfed.items import instance_or_none

    op = open_session(config, cert, key)
    if peer:
        request: Any = gpb.PeerAssetHistoryRequest(peer_m_instance_id=peer, asset_id=asset_id)
        history = run(once(op, "GetPeerAssetHistory", request, attempts=4, gateway=True))
    else:
        history = run(once(op, "AssetHistory", apb.AssetHistoryRequest(asset_id=asset_id), attempts=4))
    if as_json:
        _echo_json({"m_instance_id": peer or op.config.m_instance_id, **history_dict(history)})
        return
    console = table_console(wide)
    for table in history_tables(history, where=peer or op.config.m_instance_id):
        console.print(table)
    home = history.asset.migrated_to
    if history.asset.state == "MIGRATED" and home:
        there = instance_or_none(home) or "?"
        console.print(escape(f"migrated to {home} at {there}; ask it with:"), emoji=False)
        console.print(escape(f"mmmfed asset history {shlex.quote(home)} --peer {there} {op.flags()}"), soft_wrap=True)


@asset_app.command("ledger")
def asset_ledger(
    config: ConfigOption, cert: CertOption, key: KeyOption, as_json: JsonOption = False, wide: WideOption = False
) -> None:
    """Every Asset, Wallet (ledger accounts included) and transfer of this M-Instance's ledger."""
    from mmmfed.api.v1 import asset_pb2 as apb

    op = open_session(config, cert, key)
    ledger = run(once(op, "GetLedger", apb.GetLedgerRequest(), attempts=4))
    if as_json:
        _echo_json(ledger_dict(ledger))
        return
    console = table_console(wide)
    for table in ledger_tables(ledger):
        console.print(table)
