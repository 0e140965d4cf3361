"""``mmmfed config check FILE``: validate a node's configuration without starting anything.

Checks what ``mmmfed serve`` would refuse at start-up, and says what is wrong and what to do:
the file's fields (``CONFIG_INVALID`` naming the field), the node's own trust domain bundle and its
certificate and key (readable, the certificate issued by its own CA, not expired, the key its
own), and every other trust domain's bundle it names (``BUNDLE_INVALID``). Exit 0 when the
configuration would start, 2 otherwise (one message; ``--json``: ``{"error", "message"}``).
"""

from __future__ import annotations

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


@config_app.command("check")
def config_check(
    path: Annotated[Path, typer.Argument(help="a node configuration, .json or .toml", dir_okay=False)],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON, errors included")] = False,
) -> None:
    """Validate a configuration and the trust material it names, without starting the node."""
    from mmmfed.cli.common import fail
    from mmmfed.preflight import check_node

    try:
        cfg = load_any(path)
        facts = {"config": str(path), "kind": cfg.kind, **check_node(cfg)}
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
