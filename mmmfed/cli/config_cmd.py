"""``mmmfed config check FILE``: validate a node's configuration without starting anything.

Checks what ``mmmfed serve`` would refuse at start-up, and says what is wrong and what to do:
the file's fields (``CONFIG_INVALID`` naming the field), the node's own trust domain bundle and its
certificate and key (readable, the certificate issued by its own CA, not expired, the key its
own), and every other trust domain's bundle it names (``BUNDLE_INVALID``). Exit 0 when the
configuration would start, 2 otherwise (one message; ``--json``: ``{"error", "message"}``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from mmmfed.errors import InvalidInput, MmmfedError

config_app = typer.Typer(help="Node configurations: check one before starting it.", no_args_is_help=True)


def load_any(path: Path) -> Any:
    """The node configuration in ``path``, of the kind its ``kind`` field names (instance,
    gateway or bridge); InvalidInput ``CONFIG_INVALID`` otherwise."""
    import tomllib

    from mmmfed.config import BridgeConfig, GatewayConfig, InstanceConfig, load_config

    try:
        text = path.read_text()
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as err:
        raise InvalidInput(f"cannot read config {path}: {err}", reason="CONFIG_INVALID") from err
    kind = raw.get("kind") if isinstance(raw, dict) else None
    models = {"instance": InstanceConfig, "gateway": GatewayConfig, "bridge": BridgeConfig}
    if kind not in models:
        raise InvalidInput(
            f"{path}: field 'kind' must be one of instance, gateway, bridge (got {kind!r})", reason="CONFIG_INVALID"
        )
    if kind == "instance":
        return load_config(path, InstanceConfig)
    if kind == "gateway":
        return load_config(path, GatewayConfig)
    return load_config(path, BridgeConfig)


def check_node_tls(cfg: Any) -> dict[str, Any]:
    """Check the node's trust material; returns facts for the report. Raises InvalidInput
    ``BUNDLE_INVALID`` / ``CERT_INVALID`` naming the file and what to do."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from mmmfed.tls import node_trust_domains

    domains = node_trust_domains(cfg)
    own_domain = domains.own_domain
    try:
        leaf = x509.load_pem_x509_certificate(cfg.tls.cert.read_bytes())
        key = serialization.load_pem_private_key(cfg.tls.key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} / tls.key {cfg.tls.key}: cannot read a PEM certificate and its unencrypted "
            f"key ({err})",
            reason="CERT_INVALID",
        ) from err
    if not domains.own.issued(leaf):
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} was not issued by this node's own CA ({cfg.tls.ca_cert}); issue it with "
            f"`mmmfed certs issue` from {own_domain}'s PKI",
            reason="CERT_INVALID",
        )
    now = dt.datetime.now(dt.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise InvalidInput(
            f"tls.cert {cfg.tls.cert} is not valid now (until {leaf.not_valid_after_utc:%Y-%m-%d}); "
            "renew it with `mmmfed certs renew`",
            reason="CERT_INVALID",
        )
    if key.public_key() != leaf.public_key():
        raise InvalidInput(f"tls.key {cfg.tls.key} is not the key of tls.cert {cfg.tls.cert}", reason="CERT_INVALID")
    return {
        "trust_domain": own_domain,
        "certificate_valid_until": leaf.not_valid_after_utc.isoformat(),
        "other_trust_domains": sorted(domains.peers),
    }


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="a node configuration, .json or .toml", dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, errors included")] = False,
) -> None:
    """Validate a configuration and the trust material it names, without starting the node."""
    from mmmfed.cli.common import fail

    try:
        cfg = load_any(path)
        facts = {"config": str(path), "kind": cfg.kind, **check_node_tls(cfg)}
    except MmmfedError as err:
        raise fail(err) from err
    if as_json:
        sys.stdout.write(json.dumps(facts, indent=2) + "\n")
        return
    others = ", ".join(facts["other_trust_domains"]) or "none"
    Console().print(
        f"{path}: a valid {facts['kind']} configuration of trust domain {facts['trust_domain']}; certificate valid "
        f"until {facts['certificate_valid_until'][:10]}; other trust domains: {others}",
        markup=False,
        highlight=False,
    )
