"""``mmmfed bridge identity`` (issue 12 item 5): the did:key a bridge signs manifesto V and
converted Items with, which its certificate must carry as a URI subjectAltName.

Run it once on the bridge's machine before its certificate is issued: it makes the key in the
bridge's data_dir if none is there yet (``signing-key.pem``, mode 0600; or it reads the
configured ``signing_key``) and prints the did:key to put in the certificate (e.g.
``certs.issue_node(..., extra_uris=[did])``). The private key never leaves the data_dir.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

bridge_app = typer.Typer(help="The bridge node's identity (its signing key's did:key).", no_args_is_help=True)


@bridge_app.command("identity")
def bridge_identity(
    config: Annotated[Path, typer.Option("--config", help="the bridge's configuration, .json or .toml")],
    as_json: Annotated[bool, typer.Option("--json", help="print {did, verification_method, key_file}")] = False,
) -> None:
    """Print the bridge's did:key (making its key in data_dir the first time); its certificate
    must carry exactly this did as a URI subjectAltName or gateways refuse the bridge
    (BRIDGE_IDENTITY_MISMATCH). Exits 2 on a bad configuration or key file."""
    from bridge.identity import KEY_FILE, configured_key
    from mmmfed.cli.common import fail
    from mmmfed.config import BridgeConfig, load_config
    from mmmfed.errors import MmmfedError

    try:
        cfg = load_config(config, BridgeConfig)
        key_file = cfg.signing_key or cfg.data_dir / KEY_FILE
        key = configured_key(cfg)
    except MmmfedError as err:
        raise fail(err) from err
    if as_json:
        out = {"did": key.did, "verification_method": key.verification_method, "key_file": str(key_file)}
        typer.echo(json.dumps(out, indent=2))
    else:
        typer.echo(key.did)
