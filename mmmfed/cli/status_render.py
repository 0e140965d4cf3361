"""How ``mmmfed status`` shows its report: the JSON object (``--json``) and the rich renderables
that print it within 80 columns.

The JSON object::

    {"m_instance_id": "a.example",
     "nodes": [{"node": "instance"|"gateway"|"bridge", "name", "address", "reachable": bool,
                "reason": "" or a stable code such as UNAVAILABLE, "message": ""}, ...],
     "manifesto": {"registered": bool, "manifesto_id": "urn:uuid:..." or ""} or null,
     "peers": [{"m_instance_id", "address", "agreement_state": ACTIVE|PROPOSED|REVOKED|EXPIRED|NONE,
                "agreement_id", "valid_from_ms", "valid_until_ms", "revoked_at_ms",
                "revocation_reason", "answer_manifesto_id"}, ...] or null,
     "bridges": [{"bridge_id", "address", "configured", "reachable", "reason", "message",
                  "virtual_bridges": [{"virtual_bridge_id", "peer_m_instance_id"}]}, ...] or null,
     "migrations_in_flight": [{"side": home|visiting, "user_process_id", "peer_m_instance_id",
                               "transfer_id", "started_ms"}, ...] or null,
     "audit_head": {"seq": int, "hash": "<64 hex>" or ""} or null,
     "gateway_time_ms": int or null,
     "transfers_in_flight": [AssetTransferView as `asset status --json` prints it, ...] or null,
     "avatars": {"home_users": int, "visitors": int,
                 "last_migrations": [{"user_process_id", "peer_m_instance_id", "outcome"}, ...]} or null,
     "all_reachable": bool}

``null`` means unknown: the node that holds it (gateway, or instance for transfers) is down.
Times are Unix milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from google.protobuf.json_format import MessageToDict
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mmmfed.cli.asset_render import transfer_dict
from mmmfed.cli.tables import FittingTable


def _plain(message: Any) -> dict[str, Any]:
    """A message as JSON with proto field names, defaults included, int64 kept integers."""
    d = MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return {k: int(v) if k.endswith("_ms") or k == "seq" else v for k, v in d.items()}


def gateway_part(status: Any) -> dict[str, Any]:
    """The report's gateway keys from a GatewayStatus (all null when ``status`` is None)."""
    keys = ("manifesto", "peers", "bridges", "migrations_in_flight", "audit_head", "gateway_time_ms")
    if status is None:
        return dict.fromkeys(keys)
    bridges = []
    for b in status.bridges:
        row = _plain(b)
        row["virtual_bridges"] = [_plain(v) for v in b.virtual_bridges]
        bridges.append(row)
    return {
        "manifesto": {"registered": bool(status.manifesto_id), "manifesto_id": status.manifesto_id},
        "peers": [_plain(p) for p in status.peers],
        "bridges": bridges,
        "migrations_in_flight": [_plain(m) for m in status.migrations],
        "audit_head": {"seq": int(status.audit_head_seq), "hash": status.audit_head_hash},
        "gateway_time_ms": int(status.time_ms),
    }


def instance_part(ledger: Any) -> dict[str, Any]:
    """The report's instance keys from a Ledger: its transfers not terminal yet (null if None)."""
    if ledger is None:
        return {"transfers_in_flight": None}
    return {"transfers_in_flight": [transfer_dict(t) for t in ledger.transfers if not t.terminal]}


def avatars_part(users: Any) -> dict[str, Any] | None:
    """The Users here and where their avatars went last, by peer (``ListUsers``; None: unknown)."""
    if users is None:
        return None
    home = [u for u in users.users if u.kind == "home"]
    return {
        "home_users": len(home),
        "visitors": len(users.users) - len(home),
        "last_migrations": [
            {"user_process_id": u.process_id, "peer_m_instance_id": r.peer_m_instance_id, "outcome": r.outcome}
            for u in home
            for r in u.last_migrations
        ],
    }


def _avatars(avatars: dict[str, Any]) -> RenderableType:
    """How many Users, and where each home User's avatar went last (``avatar status`` for more)."""
    line = Text(f"avatars: {avatars['home_users']} Users of this M-Instance, {avatars['visitors']} visiting")
    if not avatars["last_migrations"]:
        return line
    table = FittingTable("user", "migrated to", "outcome", box=None, title="Avatars that left (last per peer)")
    for m in avatars["last_migrations"]:
        table.add_row(escape(m["user_process_id"]), escape(m["peer_m_instance_id"]), m["outcome"])
    grid = Table.grid()
    grid.add_row(line)
    grid.add_row(table)
    return grid


def bridge_nodes(bridges: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The configured bridges as nodes (the gateway probed them), for the report's ``nodes``."""
    return [
        {"node": "bridge", "name": b["bridge_id"], "address": b["address"], "reachable": b["reachable"]}
        | {"reason": b["reason"], "message": b["message"]}
        for b in bridges or []
        if b["configured"]
    ]


def _when(ms: int) -> str:
    import datetime

    if not ms:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%MZ")


def _summary(report: dict[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    manifesto = report["manifesto"]
    if manifesto is None:
        grid.add_row("manifesto", "unknown (gateway down)")
    elif manifesto["registered"]:
        grid.add_row("manifesto", f"{escape(manifesto['manifesto_id'])} registered")
    else:
        grid.add_row("manifesto", "[red]not registered[/] with the gateway: the instance registers it when it starts")
    head = report["audit_head"]
    if head is None:
        grid.add_row("audit head", "unknown (gateway down)")
    else:
        grid.add_row("audit head", f"seq {head['seq']}" if head["hash"] else "seq 0 (empty log)")
        if head["hash"]:
            grid.add_row("head hash", head["hash"])
    return grid


def _nodes(report: dict[str, Any]) -> FittingTable:
    table = FittingTable("node", "name", "address", "health", box=None, title="Nodes")
    for n in report["nodes"]:
        health = "[green]up[/]" if n["reachable"] else f"[red]DOWN[/] {escape(n['reason'])}"
        table.add_row(n["node"], escape(n["name"]), escape(n["address"]), health)
    return table


def _why_down(report: dict[str, Any]) -> Table | None:
    """One line per node that is down, its name and the message (folded to the width)."""
    down = [n for n in report["nodes"] if not n["reachable"]]
    if not down:
        return None
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for n in down:
        grid.add_row(escape(n["name"] or n["node"]), escape(n["message"] or n["reason"]))
    return grid


def _peers(peers: list[dict[str, Any]]) -> FittingTable:
    """Peer, agreement state, until when (the agreement's id is in --json)."""
    table = FittingTable("peer", "agreement", "valid until", "address", box=None, title="Peers")
    for p in peers:
        state = p["agreement_state"]
        style = {"ACTIVE": "green", "PROPOSED": "yellow"}.get(state, "red")
        until = _when(p["valid_until_ms"])
        if state == "REVOKED":
            until = f"revoked {_when(p['revoked_at_ms'])}"
        table.add_row(escape(p["m_instance_id"]), f"[{style}]{state}[/]", until, escape(p["address"] or "-"))
    return table


def _virtual_bridges(bridges: list[dict[str, Any]]) -> FittingTable | Text:
    """Each virtual bridge (MBMF) with its bridge and peer; the bridges' health is in Nodes."""
    table = FittingTable("virtual bridge", "bridge", "peer", box=None, title="Virtual bridges")
    for b in bridges:
        name = b["bridge_id"] if b["configured"] else f"{b['bridge_id']} (not configured here)"
        for v in b["virtual_bridges"]:
            table.add_row(escape(v["virtual_bridge_id"]), escape(name), escape(v["peer_m_instance_id"]))
    return table if table.rows else Text("no virtual bridges")


def _transfers(transfers: list[dict[str, Any]]) -> FittingTable:
    table = FittingTable("transfer", "role", "state", "peer", "expires", box=None, title="Asset transfers in flight")
    for t in transfers:
        table.add_row(
            escape(t["transfer_id"]), t["role"], t["state"], escape(t["peer_m_instance_id"]), _when(t["expires_at_ms"])
        )
    return table


def _migrations(migrations: list[dict[str, Any]]) -> FittingTable:
    table = FittingTable("user", "side", "peer", "since", box=None, title="Avatar migrations in flight")
    for m in migrations:
        table.add_row(escape(m["user_process_id"]), m["side"], escape(m["peer_m_instance_id"]), _when(m["started_ms"]))
    return table


def status_renderables(report: dict[str, Any]) -> Iterator[RenderableType]:
    """The report, section by section: summary, nodes, peers, bridges, transfers, migrations."""
    yield Text(f"{report['m_instance_id']}: " + ("every node up" if report["all_reachable"] else "NODE DOWN"))
    yield _summary(report)
    yield _nodes(report)
    why = _why_down(report)
    if why is not None:
        yield why
    sections = (
        ("peers", _peers, "no peers configured"),
        ("bridges", _virtual_bridges, "no bridges configured"),
        ("transfers_in_flight", _transfers, "no Asset transfers in flight"),
        ("migrations_in_flight", _migrations, "no avatar migrations in flight"),
        ("avatars", _avatars, "no Users yet"),
    )
    for key, render, empty in sections:
        rows = report[key]
        if rows is None:
            yield Text(f"{key.replace('_', ' ')}: unknown (the node that holds them is down)")
        elif rows:
            yield render(rows)
        else:
            yield Text(empty)
