"""The ``mmmfed`` command line (typer + rich): the composition root that starts nodes.

Commands: ``serve instance|gateway|bridge``, ``certs init|issue|csr|sign|renew|show``, ``peer add|list``,
``keys generate|rotate|revoke|list``,
``item sign|verify``, ``agreement propose|accept|show|revoke``, ``audit show|verify``,
``asset register|fund|transfer|status|history|ledger``, ``content publish|list|show|migrate|search|share``,
``identity issue|show|present|verify|status-list|revoke``, ``reputation issue|show``, ``status``, ``convert``, ``demo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from mmmfed.cli import avatar_sync_cmd as avatar_sync_cmd  # registers avatar wear|sync|history
from mmmfed.cli import content_search_cmd as content_search_cmd  # registers content search|share
from mmmfed.cli.agreement_cmd import agreement_app
from mmmfed.cli.asset_cmd import asset_app
from mmmfed.cli.audit_cmd import audit_app
from mmmfed.cli.avatar_cmd import avatar_app
from mmmfed.cli.bridge_cmd import bridge_app
from mmmfed.cli.certs_cmd import certs_app
from mmmfed.cli.common import fail, refuse
from mmmfed.cli.config_cmd import config_app
from mmmfed.cli.content_cmd import content_app
from mmmfed.cli.identity_cmd import identity_app
from mmmfed.cli.item_cmd import item_app
from mmmfed.cli.keys_cmd import keys_app
from mmmfed.cli.pa_cmd import activity_app, pa_app
from mmmfed.cli.peer_cmd import peer_app
from mmmfed.cli.reputation_cmd import reputation_app
from mmmfed.cli.scenario_cmd import scenario_app
from mmmfed.cli.status_cmd import status
from mmmfed.cli.tables import WideOption, table_console
from mmmfed.errors import MmmfedError
from mmmfed.event_loop import run_event_loop

app = typer.Typer(help="mmmfed: the federation gateway for independent M-Instances.", no_args_is_help=True)
app.add_typer(certs_app, name="certs")
app.add_typer(keys_app, name="keys")
app.add_typer(item_app, name="item")
app.add_typer(audit_app, name="audit")
app.add_typer(agreement_app, name="agreement")
app.add_typer(pa_app, name="pa")
app.add_typer(activity_app, name="activity")
app.add_typer(scenario_app, name="scenario")
app.add_typer(asset_app, name="asset")
app.add_typer(content_app, name="content")
app.add_typer(peer_app, name="peer")
app.add_typer(avatar_app, name="avatar")
app.add_typer(config_app, name="config")
app.add_typer(bridge_app, name="bridge")
app.add_typer(identity_app, name="identity")
app.add_typer(reputation_app, name="reputation")
app.command("status")(status)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"mmmfed {version('mmmfed')}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    """mmmfed: the federation gateway for independent M-Instances."""


class NodeKind(enum.StrEnum):
    instance = "instance"
    gateway = "gateway"
    bridge = "bridge"


@app.command()
def serve(
    kind: Annotated[NodeKind, typer.Argument(help="which node to run")],
    config: Annotated[Path, typer.Option("--config", help="node configuration, .json or .toml")],
) -> None:
    """Run one node (instance, gateway or bridge) as this process until SIGTERM or Ctrl-C.

    Logs go to stderr in the config's observability.log_format (json by default); with
    observability.metrics_listen (or MMMFED_METRICS_LISTEN) the node also serves /metrics over HTTP."""
    from mmmfed.allocator import limit_arenas, trim_interval_s, trim_periodically
    from mmmfed.config import BridgeConfig, C, GatewayConfig, InstanceConfig, load_config
    from mmmfed.logs import configure
    from mmmfed.preflight import check_node

    def logging_as(node_config: C) -> C:  # the config's log format (json or keyvalue), from the start
        configure(log_format=node_config.observability.log_format)
        check_node(node_config)  # listen addresses, data_dir, trust material: one line, not a traceback
        return node_config

    limit_arenas()  # before the node starts threads (mmmfed/allocator.py)
    try:
        trim_every_s = trim_interval_s()
        if kind is NodeKind.instance:
            from instance.node import InstanceNode

            node: object = InstanceNode(logging_as(load_config(config, InstanceConfig)))
        elif kind is NodeKind.gateway:
            from gateway.node import GatewayNode

            node = GatewayNode(logging_as(load_config(config, GatewayConfig)))
        else:
            from bridge.node import BridgeNode

            node = BridgeNode(logging_as(load_config(config, BridgeConfig)))
    except MmmfedError as err:
        raise fail(err) from err

    async def main() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
        trimming = asyncio.create_task(trim_periodically(trim_every_s))
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await node.run_forever()  # type: ignore[attr-defined]
        finally:
            trimming.cancel()

    try:
        run_event_loop(main())
    except MmmfedError as err:  # e.g. STORE_NOT_DURABLE at start-up: a reason, not a traceback
        raise fail(err) from err


class TextureFormat(enum.StrEnum):
    jpeg = "jpeg"
    png = "png"


@app.command()
def convert(
    source: Annotated[
        Path,
        typer.Argument(
            help="VRM 0.x / 1.0 or glTF binary file, or a .gltf with its external buffers and images",
            exists=True,
            dir_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="output .glb")],
    max_triangles: Annotated[int, typer.Option("--max-triangles", min=1)],
    texture_format: Annotated[TextureFormat, typer.Option("--texture-format")] = TextureFormat.jpeg,
    max_texture_px: Annotated[int, typer.Option("--max-texture-px", min=1)] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    wide: WideOption = False,
) -> None:
    """Run the bridge's Conversion Service locally on one file and print its report.

    A ``.gltf`` (glTF JSON with external buffers and images, FGMV-43 9.3 COIR-204/205) is read as
    one package of content-addressed parts and packed into one GLB first; a URI that leaves its
    folder is refused ``CONTENT_URI_OUTSIDE_PACKAGE`` (exit 2, nothing written)."""
    from bridge.conversion import ConversionTarget, GltfValidator
    from bridge.conversion import convert as run_conversion
    from mmmfed.cli.render import conversion_table
    from mmmfed.content.input import read_model
    from mmmfed.preflight import check_output_file

    target = ConversionTarget(
        max_triangles=max_triangles, texture_format=texture_format.value, max_texture_px=max_texture_px
    )
    try:
        check_output_file(out, "--out")  # before the conversion runs, not after
        model = read_model(source)
        data, report = asyncio.run(run_conversion(model.glb, target, validator=GltfValidator()))
    except MmmfedError as err:
        raise fail(err) from err
    except OSError as err:
        raise refuse("FILE_UNREADABLE", f"cannot read {source}: {err.strerror or err}") from err
    try:
        out.write_bytes(data)
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write {out}: {err.strerror or err}") from err
    if model.package is not None:
        report.kept.insert(0, f"packed from .gltf: {len(model.package.parts)} parts")
    if as_json:
        body = report.to_dict()
        if model.package is not None:
            body["package"] = model.package_dict()
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        table_console(wide).print(conversion_table(source.name, report.to_dict()))
        Console().print(f"wrote {out} ({len(data):,} bytes)")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="where to write the converted GLBs")] = Path("demo-out"),
    config_dir: Annotated[
        Path | None,
        typer.Option("--config-dir", help="keep each trust domain's PKI, configurations and data here (new or empty)"),
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="after the demo, keep every node serving until Ctrl-C or SIGTERM")
    ] = False,
) -> None:
    """Federate a.example and b.example (each its own trust domain, and the bridge a third)
    through gateways and a bridge on loopback, each node its own process, and migrate real
    avatars; print a report and stop every process."""
    from mmmfed.cli.demo import run_demo

    raise typer.Exit(code=run_demo(out, config_dir, keep_running=keep_running))


def run() -> None:
    """The ``mmmfed`` console script (and ``python -m mmmfed``): the app, except that under
    ``--json`` a usage mistake (unknown option, missing argument, bad value) is also JSON on
    stdout, ``{"error": "USAGE_ERROR", "message": ...}``, with the same exit code (2)."""
    from typer.exceptions import TyperException

    from mmmfed.cli.common import json_requested, write_json_error

    if not json_requested():
        app()
        return
    try:
        code = app(standalone_mode=False)
    except TyperException as err:  # the CLI parser's usage errors (click's ClickException)
        format_message = getattr(err, "format_message", None)
        write_json_error("USAGE_ERROR", format_message() if callable(format_message) else str(err))
        sys.exit(int(getattr(err, "exit_code", 2)))
    sys.exit(code if isinstance(code, int) else 0)
