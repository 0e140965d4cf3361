"""``mmmfed peer add|list``: the other trust domains a node deals with, each with its bundle.

``add`` writes one entry into a node's JSON configuration, with the CA bundle of the other trust
domain (its ``ca.pem``), which is checked now (CA certificates of that domain) and again when the
node starts; the node trusts that bundle for that one node only:

* gateway config, ``peers``: a peer M-Instance's gateway (``--endpoint``, TLS name);
* gateway config with ``--bridge``, ``bridges``: a bridge (``--endpoint``, TLS name);
* bridge config, ``gateways``: an M-Instance whose gateway may call the bridge (TLS name).

Exit 0 done, 2 not done because of the input.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mmmfed.cli.tables import FittingTable, WideOption, table_console
from mmmfed.errors import InvalidInput, MmmfedError

peer_app = typer.Typer(
    help="Peer M-Instances of a gateway, each with its trust domain's CA bundle.", no_args_is_help=True
)
ConfigOption = Annotated[Path, typer.Option("--config", help="the gateway's configuration (.json)", dir_okay=False)]


def _read(config: Path) -> dict[str, object]:
    if config.suffix != ".json":
        raise InvalidInput(
            f"{config}: `peer add` edits JSON configurations; add the entry to this file by hand",
            reason="CONFIG_INVALID",
        )

    try:
        raw = json.loads(config.read_text())
    except (OSError, ValueError) as err:
        raise InvalidInput(f"cannot read config {config}: {err}", reason="CONFIG_INVALID") from err
    if not isinstance(raw, dict) or raw.get("kind", "gateway") not in ("gateway", "bridge"):
        raise InvalidInput(f"{config} is not a gateway or bridge configuration", reason="CONFIG_INVALID")
    _validate(config, bridge=raw.get("kind") == "bridge")  # CONFIG_INVALID names the field at fault
    return raw


def _validate(config: Path, *, bridge: bool) -> None:
    from mmmfed.config import BridgeConfig, GatewayConfig, load_config

    if bridge:
        load_config(config, BridgeConfig)
    else:
        load_config(config, GatewayConfig)


@peer_app.command("add")
def peer_add(
    m_instance: Annotated[str, typer.Argument(help="the peer's id: an M-Instance id, or a bridge id with --bridge")],
    config: ConfigOption,
    bundle: Annotated[
        Path, typer.Option("--bundle", help="the peer's trust domain's CA bundle (its ca.pem)", dir_okay=False)
    ],
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="HOST:PORT of the peer's node")] = None,
    tls_name: Annotated[str | None, typer.Option("--tls-name", help="its node's TLS name (default gateway.ID)")] = None,
    bridge: Annotated[bool, typer.Option("--bridge", help="a bridge for this gateway, under 'bridges'")] = False,
    replace: Annotated[bool, typer.Option("--replace", help="replace an existing entry")] = False,
) -> None:
    """Add (or with --replace, change) a peer of the node configured in --config: a peer
    M-Instance's gateway (gateway config), a bridge (gateway config, --bridge) or a gateway that
    may call this bridge (bridge config; --endpoint is not needed there)."""
    from mmmfed.cli.common import fail
    from mmmfed.trust import TrustBundle

    try:
        raw = _read(config)
        is_bridge_config = raw.get("kind") == "bridge"
        own = raw.get("bridge_id" if is_bridge_config else "m_instance_id")
        entry: dict[str, str] = {"tls_name": tls_name or (m_instance if bridge else f"gateway.{m_instance}")}
        if not is_bridge_config:
            host, sep, port = (endpoint or "").rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise InvalidInput(
                    f"--endpoint {endpoint!r}: write HOST:PORT, e.g. gw.b.example:7443", reason="ENDPOINT_INVALID"
                )
            entry["address"] = str(endpoint)
        if m_instance == own:
            raise InvalidInput(f"{m_instance} is this node's own id, not a peer", reason="PEER_INVALID")
        domain = (TrustBundle.named_domain(bundle) or m_instance) if bridge else m_instance
        TrustBundle.load(bundle, trust_domain=domain)  # BUNDLE_INVALID: not that domain's CA
        entry["bundle"] = str(bundle.resolve())
        section = "gateways" if is_bridge_config else "bridges" if bridge else "peers"
        entries = raw.setdefault(section, {})
        assert isinstance(entries, dict)
        if m_instance in entries and not replace:
            raise InvalidInput(
                f"{config} already has {m_instance} under {section}; pass --replace to change it",
                reason="PEER_EXISTS",
            )
        entries[m_instance] = entry
        tmp = config.with_name(f".{config.name}.new")
        tmp.write_text(json.dumps(raw, indent=2) + "\n")
        try:
            _validate(tmp, bridge=is_bridge_config)
        except MmmfedError:
            tmp.unlink()
            raise
        os.replace(tmp, config)
    except MmmfedError as err:
        raise fail(err) from err
    Console().print(
        f"{config}: {section}.{m_instance} trusted by {bundle}; restart the node to use it",
        markup=False,
        highlight=False,
    )


@peer_app.command("list")
def peer_list(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    wide: WideOption = False,
) -> None:
    """The peers (and bridges) of the gateway configured in --config, with their bundles."""
    from mmmfed.cli.common import fail
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.trust import TrustBundle

    try:
        gateway = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise fail(err) from err
    rows = []
    for kind, entries in (("peer", gateway.peers), ("bridge", gateway.bridges)):
        for name, entry in entries.items():
            assert entry.bundle is not None  # GatewayConfig requires it
            try:
                domain = (TrustBundle.named_domain(entry.bundle) or name) if kind == "bridge" else name
                state = f"{len(TrustBundle.load(entry.bundle, trust_domain=domain).cas)} CA"
            except MmmfedError as err:
                state = err.reason
            rows.append(
                {
                    "kind": kind,
                    "id": name,
                    "tls_name": entry.tls_name,
                    "address": entry.address,
                    "bundle": str(entry.bundle),
                    "bundle_state": state,
                }
            )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = FittingTable(box=None, drop=("bundle", "address", "kind"))
    for col in ("kind", "id", "address", "bundle"):
        table.add_column(col, no_wrap=col in ("id", "address"), overflow="fold")
    for row in rows:
        table.add_row(row["kind"], row["id"], row["address"], f"{row['bundle_state']} {Path(row['bundle']).name}")
    table_console(wide).print(table, markup=False, highlight=False)
