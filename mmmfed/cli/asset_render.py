"""How ``mmmfed asset`` shows Assets, transfers and ledgers (FGMV-43 9.2, ASIR-103/105): JSON
dicts (proto field names, integers kept integers, Items as parsed JSON), rich tables, the outcome
of a transfer in sentences, and the exit code that outcome maps to (see mmmfed/cli/asset_cmd.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from mmmfed.cli.tables import FittingTable
from mmmfed.items import domain_doc

EXIT_NOT_COMPLETED = 3
EXIT_NOT_TERMINAL = 4
_DONE = {("origin", "COMPLETED"), ("destination", "COMMITTED")}


def value_dict(v: Any) -> dict[str, Any]:
    return {"amount_minor": v.amount_minor, "currency_id": v.currency_id}


def _exchange(x: Any) -> dict[str, Any] | None:
    if not x.paid.amount_minor:
        return None
    return {
        "paid": value_dict(x.paid),
        "fee": value_dict(x.fee),
        "received": value_dict(x.received),
        "rate": x.rate,
        "rounding": x.rounding,
        "policy_source": x.policy_source,
    }


def transfer_dict(v: Any) -> dict[str, Any]:
    """An AssetTransferView as JSON; ``exchange`` is null when no payment was sent."""
    plain = {f: getattr(v, f) for f in ("transfer_id", "role", "state", "transaction_status", "asset_id")}
    for f in ("destination_asset_id", "source_process_id", "destination_process_id", "peer_m_instance_id"):
        plain[f] = getattr(v, f)
    for f in ("created_ms", "updated_ms", "expires_at_ms", "reason", "message", "terminal", "attempts"):
        plain[f] = getattr(v, f)
    return {**plain, "exchange": _exchange(v.exchange)}


def item_doc(envelope: Any) -> dict[str, Any]:
    doc = domain_doc(envelope.item_json) if envelope.item_json else {}
    return doc if isinstance(doc, dict) else {}


def asset_dict(v: Any) -> dict[str, Any]:
    """An AssetView as JSON: state, owner of record or new home, and the ASS Item itself."""
    item = item_doc(v.asset)
    return {
        "asset_id": item.get("AssetID", ""),
        "state": v.state,
        "owner_process_id": v.owner_process_id,
        "migrated_to": v.migrated_to,
        "locked_by": v.locked_by,
        "item": item,
    }


def history_dict(h: Any) -> dict[str, Any]:
    """An AssetHistoryResponse as JSON: the Asset, its Provenance (TRA Items) and transfers."""
    return {
        "asset": asset_dict(h.asset),
        "provenance": [item_doc(e) for e in h.provenance],
        "transfers": [transfer_dict(t) for t in h.transfers],
    }


def ledger_dict(ledger: Any) -> dict[str, Any]:
    """A Ledger as JSON."""
    return {
        "m_instance_id": ledger.m_instance_id,
        "currency_id": ledger.currency_id,
        "assets": [asset_dict(a) for a in ledger.assets],
        "wallets": [{"holder": w.holder, "balance": value_dict(w.balance)} for w in ledger.wallets],
        "transfers": [transfer_dict(t) for t in ledger.transfers],
    }


def money_text(v: Any) -> str:
    return f"{v.amount_minor:,} {v.currency_id}"


def _when(ms: int) -> str:
    if not ms:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def exchange_line(x: Any) -> str:
    """``paid 1,001 ACU = fee 6 ACU + 995 ACU exchanged at 3/2 (half_even) -> received 1,492 BCU``."""
    exchanged = x.paid.amount_minor - x.fee.amount_minor
    return (
        f"paid {money_text(x.paid)} = fee {money_text(x.fee)} + {exchanged:,} {x.paid.currency_id} exchanged at "
        f"{x.rate} ({x.rounding}) -> received {money_text(x.received)}"
    )


def exit_code(view: Any) -> int:
    """0 completed, 3 ended without completing, 4 not terminal yet (see the module docstring)."""
    if not view.terminal:
        return EXIT_NOT_TERMINAL
    return 0 if (view.role, view.state) in _DONE else EXIT_NOT_COMPLETED


def outcome_lines(view: Any, *, status_command: str) -> list[str]:
    """What happened to the transfer, in sentences (new home, exchange, or why not)."""
    lines: list[str] = []
    code = exit_code(view)
    why = f"{view.reason}: {view.message}" if view.reason else "no reason recorded"
    if code == 0:
        lines.append(f"{view.state}: {view.asset_id} now lives at {view.destination_asset_id}")
        lines.append(f"owned by {view.destination_process_id} at {view.peer_m_instance_id}")
    elif code == EXIT_NOT_COMPLETED:
        lines.append(f"{view.state} (Transaction {view.transaction_status}): {why}")
        if view.role == "origin":
            lines.append(f"not completed: {view.asset_id} is {view.source_process_id}'s again, nothing was lost")
    else:
        if view.state == "COMMITTED":
            lines.append(f"decided COMMIT: {view.asset_id}'s new home is {view.destination_asset_id}")
        elif view.state == "ABORTING":
            lines.append(f"decided ABORT ({why}): {view.asset_id} is {view.source_process_id}'s again")
        else:
            lines.append(f"still {view.state} (Transaction {view.transaction_status}, {view.attempts} attempts)")
        lines.append(f"awaiting {view.peer_m_instance_id or 'the peer'}; the M-Instance carries on in the background")
        lines.append(f"check it with: {status_command}")
    if view.exchange.paid.amount_minor:
        refunded = view.role == "origin" and (code == EXIT_NOT_COMPLETED or view.state == "ABORTING")
        lines.append(exchange_line(view.exchange) + (" (refunded)" if refunded else ""))
    return lines


def _table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *, ids: int = 1, drop: Sequence[str] = ()
) -> Table:
    """A table whose first ``ids`` columns (identifiers, copied into commands) never wrap; at a
    narrow terminal the ``drop`` columns are hidden, least important first."""
    table = FittingTable(title=title, title_justify="left", drop=drop)
    for i, col in enumerate(columns):
        table.add_column(col, no_wrap=i < ids, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(c)) for c in row))
    return table


def _facts(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    """A two-column table of named facts."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True, overflow="fold")
    for name, value in rows:
        table.add_row(name, escape(value))
    return table


def transfer_table(view: Any) -> Table:
    """Every field of one transfer."""
    rows = [
        ("role", view.role),
        ("state", f"{view.state} (terminal)" if view.terminal else view.state),
        ("Transaction", view.transaction_status),
        ("Asset", view.asset_id),
        ("new home", view.destination_asset_id or "-"),
        ("from", view.source_process_id),
        ("to", view.destination_process_id),
        ("peer M-Instance", view.peer_m_instance_id),
        ("exchange", exchange_line(view.exchange) if view.exchange.paid.amount_minor else "no payment"),
        ("created", _when(view.created_ms)),
        ("updated", _when(view.updated_ms)),
        ("expires", _when(view.expires_at_ms)),
        ("attempts", str(view.attempts)),
    ]
    if view.reason:
        rows.append(("reason", f"{view.reason}: {view.message}"))
    return _facts(f"transfer {view.transfer_id}", rows)


def _tra_row(doc: dict[str, Any]) -> tuple[object, ...]:
    value = doc.get("Value") or {}
    money = f"{value.get('Amount', 0):,} {value.get('CurrencyID', '')}"
    if received := (doc.get("Exchange") or {}).get("Received"):
        money += f" -> {received.get('Amount', 0):,} {received.get('CurrencyID', '')}"
    payer, payee = doc.get("PayerProcessID", ""), doc.get("PayeeProcessID", "")
    return doc.get("TransactionID", "?"), doc.get("Status", ""), doc.get("Time", ""), f"{payer} ->\n{payee}", money


def history_tables(h: Any, *, where: str) -> list[Table]:
    """The Asset (state, owner or new home), its Provenance and its transfers, as ``where`` holds them."""
    item = item_doc(h.asset.asset)
    q = item.get("ItemQualifier") or {}
    facts = [
        ("AssetID", str(item.get("AssetID", "?"))),
        ("state", h.asset.state),
        ("Qualifier", f"{q.get('SubType', '')} {q.get('Format', '')}"),
        ("title", str((item.get("DescrMetadata") or {}).get("Title") or "")),
        ("owner", h.asset.owner_process_id),
        ("new home", h.asset.migrated_to),
        ("locked by", h.asset.locked_by),
        ("came from", str(item.get("SourceItemID") or "")),
    ]
    return [
        _facts(f"Asset at {where}", [(n, v) for n, v in facts if v]),
        _table(
            "Provenance (Transactions, oldest first)",
            ("TransactionID", "status", "time", "payer -> payee", "Value"),
            (_tra_row(item_doc(e)) for e in h.provenance),
            drop=("time", "payer -> payee"),
        ),
        transfers_table(h.transfers, title="transfers in this journal"),
    ]


def transfers_table(transfers: Any, *, title: str) -> Table:
    """Transfers, one row each."""
    rows = (
        (
            t.transfer_id,
            t.role,
            f"{t.state}\n{t.transaction_status}",
            f"{t.asset_id} ->\n{t.destination_asset_id or '?'}",
            f"{t.source_process_id} ->\n{t.destination_process_id}",
            f"{money_text(t.exchange.paid)} ->\n{money_text(t.exchange.received)}"
            if t.exchange.paid.amount_minor
            else "-",
            t.reason,
        )
        for t in transfers
    )
    columns = ("transfer", "role", "state", "Asset -> new home", "from -> to", "payment", "reason")
    return _table(title, columns, rows, drop=("payment", "from -> to", "reason", "role"))


def ledger_tables(ledger: Any) -> list[Table]:
    """Assets (state, owner of record or new home), Wallets and transfers of one ledger."""
    assets = []
    for a in ledger.assets:
        item = item_doc(a.asset)
        q = item.get("ItemQualifier") or {}
        where = (a.owner_process_id or a.migrated_to or "-") + (f"\n(locked by {a.locked_by})" if a.locked_by else "")
        title = (item.get("DescrMetadata") or {}).get("Title") or ""
        assets.append(
            (item.get("AssetID", "?"), a.state, where, f"{q.get('SubType', '')} {q.get('Format', '')}", title)
        )
    wallets = _table(
        f"Wallets ({ledger.currency_id}, minor units)",
        ("holder", "balance"),
        ((w.holder, f"{w.balance.amount_minor:,}") for w in ledger.wallets),
    )
    wallets.columns[1].justify = "right"
    return [
        _table(
            f"Assets of {ledger.m_instance_id}",
            ("AssetID", "state", "owner / new home", "Qualifier", "title"),
            assets,
            drop=("Qualifier", "title"),
        ),
        wallets,
        transfers_table(ledger.transfers, title="transfers"),
    ]
