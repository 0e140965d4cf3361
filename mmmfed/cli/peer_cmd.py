"""``mmmfed peer add|list``: the peer M-Instances a gateway federates with, each with its bundle.

``add`` writes one entry under ``peers`` of a gateway's JSON configuration: where the peer's
gateway listens, the TLS name its certificate carries, and the CA bundle of the peer's trust
domain (its ``ca.pem``), which is checked now (it must be CA certificates of that domain) and
again when the gateway starts. The gateway trusts that bundle for that peer's gateway only.
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
from rich.table import Table

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
    from mmmfed.config import GatewayConfig, load_config

    load_config(config, GatewayConfig)  # CONFIG_INVALID names the field at fault
    raw = json.loads(config.read_text())
    assert isinstance(raw, dict)
    return raw


@peer_app.command("add")
def peer_add(
    m_instance: Annotated[str, typer.Argument(help="the peer's M-Instance id, e.g. b.example")],
    config: ConfigOption,
    endpoint: Annotated[str, typer.Option("--endpoint", help="HOST:PORT of the peer's gateway")],
    bundle: Annotated[Path, typer.Option("--bundle", help="the peer's CA bundle (its ca.pem)", dir_okay=False)],
    tls_name: Annotated[
        str | None, typer.Option("--tls-name", help="its gateway's TLS name (default gateway.ID)")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="replace an existing entry for this peer")] = False,
) -> None:
    """Add (or with --replace, change) a peer of the gateway configured in --config."""
    from mmmfed.cli import _fail
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.trust import TrustBundle

    try:
        host, sep, port = endpoint.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidInput(
                f"--endpoint {endpoint!r}: write HOST:PORT, e.g. gw.b.example:7443", reason="ENDPOINT_INVALID"
            )
        raw = _read(config)
        if m_instance == raw.get("m_instance_id"):
            raise InvalidInput(f"{m_instance} is this gateway's own M-Instance, not a peer", reason="PEER_INVALID")
        TrustBundle.load(bundle, trust_domain=m_instance)  # BUNDLE_INVALID: not that domain's CA
        peers = raw.setdefault("peers", {})
        assert isinstance(peers, dict)
        if m_instance in peers and not replace:
            raise InvalidInput(
                f"{config} already has peer {m_instance}; pass --replace to change it", reason="PEER_EXISTS"
            )
        peers[m_instance] = {
            "tls_name": tls_name or f"gateway.{m_instance}",
            "address": endpoint,
            "bundle": str(bundle.resolve()),
        }
        tmp = config.with_name(f".{config.name}.new")
        tmp.write_text(json.dumps(raw, indent=2) + "\n")
        try:
            load_config(tmp, GatewayConfig)
        except MmmfedError:
            tmp.unlink()
            raise
        os.replace(tmp, config)
    except MmmfedError as err:
        raise _fail(err) from err
    Console().print(
        f"{config}: peer {m_instance} at {endpoint}, trusted by {bundle}; restart the gateway to use it",
        markup=False,
        highlight=False,
    )


@peer_app.command("list")
def peer_list(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The peers (and bridges) of the gateway configured in --config, with their bundles."""
    from mmmfed.cli import _fail
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.trust import TrustBundle

    try:
        gateway = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise _fail(err) from err
    rows = []
    for kind, entries in (("peer", gateway.peers), ("bridge", gateway.bridges)):
        for name, entry in entries.items():
            assert entry.bundle is not None  # GatewayConfig requires it
            try:
                state = f"{len(TrustBundle.load(entry.bundle, trust_domain=name).cas)} CA"
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
    table = Table("kind", "id", "address", "bundle", box=None)
    for row in rows:
        table.add_row(row["kind"], row["id"], row["address"], f"{row['bundle_state']} {Path(row['bundle']).name}")
    Console().print(table)
