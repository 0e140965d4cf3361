"""``mmmfed status``: the operator's picture of one M-Instance's part of the federation, from its
instance and its gateway, asked at once with an operator certificate of its trust domain.

From the gateway (PlatformGateway ``GetStatus``): the platform manifesto registered with it, peers
with their trust agreement's state and expiry, bridges (the gateway probes each) and their
virtual bridges, avatar migrations in flight, the audit log's head. From the instance (``GetLedger``):
Asset transfers not terminal yet. A node that does not answer is shown as down with the reason,
and the rest is still printed.

Exit codes: 0 every node answered (instance, gateway, each configured bridge); 3 one or more did
not (see ``nodes`` for which and why); 2 nothing was asked (bad configuration, unreadable
certificate or key).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from mmmfed.cli.operator_session import OperatorSession, open_session
from mmmfed.cli.tables import WideOption

EXIT_NODE_DOWN = 3
DEFAULT_TIMEOUT_S = 5.0

ConfigOption = Annotated[Path, typer.Option("--config", help="the M-Instance's configuration, .json or .toml")]
CertOption = Annotated[
    Path,
    typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain (`mmmfed certs init`)"),
]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]


def _node(kind: str, name: str, address: str) -> dict[str, Any]:
    return {"node": kind, "name": name, "address": address, "reachable": False, "reason": "", "message": ""}


async def _ask(op: OperatorSession, *, gateway: bool, timeout_s: float) -> tuple[Any, Any]:
    """(the answer, None) or (None, the MmmfedError) of GetStatus (gateway) or GetLedger (instance)."""
    from mmmfed.api.v1 import asset_pb2 as apb
    from mmmfed.api.v1 import gateway_pb2 as gpb
    from mmmfed.cli.operator_session import stub
    from mmmfed.errors import MmmfedError
    from mmmfed.rpc import call

    try:
        async with stub(op, gateway=gateway) as service:
            if gateway:
                request: Any = gpb.GetGatewayStatusRequest()
                return await call(lambda: service.GetStatus(request, timeout=timeout_s), attempts=1), None
            return await call(lambda: service.GetLedger(apb.GetLedgerRequest(), timeout=timeout_s), attempts=1), None
    except MmmfedError as err:  # UNAVAILABLE, a TLS_* refusal, DEADLINE_EXCEEDED, NO_GATEWAY ...
        return None, err


async def _users(op: OperatorSession, *, timeout_s: float) -> Any:
    """The instance's ListUsers, or None if it does not answer (its health is in Nodes)."""
    from mmmfed.api.v1 import instance_pb2 as ipb
    from mmmfed.cli.operator_session import stub
    from mmmfed.errors import MmmfedError
    from mmmfed.rpc import call

    try:
        async with stub(op) as service:
            return await call(lambda: service.ListUsers(ipb.ListUsersRequest(), timeout=timeout_s), attempts=1)
    except MmmfedError:
        return None


async def gather(op: OperatorSession, *, timeout_s: float) -> dict[str, Any]:
    """The status report as JSON-ready data (shape: mmmfed/cli/status_render.py)."""
    from mmmfed.cli.status_render import avatars_part, bridge_nodes, gateway_part, instance_part

    cfg = op.config
    instance = _node("instance", cfg.tls_name, cfg.listen)
    gateway = _node("gateway", cfg.gateway.tls_name if cfg.gateway else "", cfg.gateway.address if cfg.gateway else "")
    (ledger, instance_err), (status, gateway_err), users = await asyncio.gather(
        _ask(op, gateway=False, timeout_s=timeout_s),
        _ask(op, gateway=True, timeout_s=timeout_s),
        _users(op, timeout_s=timeout_s),
    )
    for node, err in ((instance, instance_err), (gateway, gateway_err)):
        if err is None:
            node["reachable"] = True
        else:
            node["reason"], node["message"] = err.reason, err.message
    report: dict[str, Any] = {"m_instance_id": cfg.m_instance_id, "nodes": [instance, gateway]}
    report.update(gateway_part(status))
    report["nodes"].extend(bridge_nodes(report["bridges"]))
    report.update(instance_part(ledger))
    report["avatars"] = avatars_part(users)
    report["all_reachable"] = all(n["reachable"] for n in report["nodes"])
    return report


def _readable(*paths: Path) -> None:
    """Exit 2 FILE_UNREADABLE unless each file can be read: an input mistake, not a node down."""
    from mmmfed.cli.common import refuse

    for path in paths:
        try:
            path.read_bytes()
        except OSError as err:
            raise refuse("FILE_UNREADABLE", f"cannot read {path}: {err.strerror}; check the path") from err


def status(
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    timeout_s: Annotated[
        float, typer.Option("--timeout", min=0.1, help="seconds to wait for each node's answer")
    ] = DEFAULT_TIMEOUT_S,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    wide: WideOption = False,
) -> None:
    """Show the whole picture of this M-Instance: its nodes' health, manifesto, peers, bridges, work in flight.

    Nodes: the instance, its gateway and each bridge of the gateway, each up or down with the reason.

    Then: the manifesto registered with the gateway, and peers with their trust agreement's state and expiry.

    Then: bridges with their virtual bridges, Asset transfers and avatar migrations in flight, the audit head.

    A node that does not answer is shown as down with the reason; the rest is still shown.

    Exit codes: 0 every node answered; 3 a node is down; 2 nothing asked (bad configuration, certificate or key)."""
    from mmmfed.cli.status_render import status_renderables
    from mmmfed.cli.tables import table_console

    op = open_session(config, cert, key)
    _readable(op.config.tls.ca_cert, cert, key)
    report = asyncio.run(gather(op, timeout_s=timeout_s))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        console = table_console(wide)
        for part in status_renderables(report):
            console.print(part)
    if not report["all_reachable"]:
        raise typer.Exit(code=EXIT_NODE_DOWN)
