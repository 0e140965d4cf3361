"""``mmmfed audit show|verify``: read a gateway's hash-chained audit log (LAF, FGMV-43 7.5.3).

Both take the gateway's configuration file and read the log directly while the gateway runs:
``<data_dir>/audit.sqlite3`` (it allows concurrent readers), or the chain its replicas share in
Redis when the configuration's ``store.backend`` is ``redis``.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

audit_app = typer.Typer(help="The gateway's audit log: show entries, verify the hash chain.", no_args_is_help=True)
ConfigOption = Annotated[Path, typer.Option("--config", help="the gateway's configuration, .json or .toml")]


def _read(config: Path, use: Callable[[Any], Awaitable[Any]]) -> Any:
    """``await use(log)`` on the audit log of the gateway configured in ``config`` (exit 2 with the
    reason if it cannot be read)."""
    from mmmfed.audit import SqliteAuditLog
    from mmmfed.cli import _fail
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.errors import MmmfedError
    from mmmfed.store import EmbeddedAuditLog

    try:
        cfg = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise _fail(err) from err
    if cfg.store.backend == "redis":
        from mmmfed.store.redis import open_redis_state

        log: Any = open_redis_state(cfg.store, m_instance_id=cfg.m_instance_id)[1]
    else:
        path = cfg.data_dir / "audit.sqlite3"
        if not path.exists():
            Console(stderr=True).print(f"[red]no audit log at {escape(str(path))}: has this gateway run?[/]")
            raise typer.Exit(code=2)
        log = EmbeddedAuditLog(SqliteAuditLog(path))

    async def run() -> Any:
        try:
            return await use(log)
        finally:
            await log.close()

    try:
        return asyncio.run(run())
    except MmmfedError as err:
        raise _fail(err) from err


@audit_app.command("show")
def audit_show(
    config: ConfigOption,
    peer: Annotated[str | None, typer.Option("--peer", help="only entries about this M-Instance")] = None,
    since: Annotated[int, typer.Option("--since", help="entries after this sequence number")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Print audit entries, oldest first: accepts, refusals (with their reason), agreement changes."""
    entries = _read(config, lambda log: log.entries(peer_id=peer, since_seq=since, limit=limit))
    if as_json:
        for e in entries:
            typer.echo(json.dumps({**e.hashed_fields(), "hash": e.hash}, sort_keys=True))
        return
    table = Table(title=f"audit log of {config.name}")
    for col in ("seq", "time (UTC)", "event", "peer", "subject", "reason"):
        table.add_column(col, overflow="fold")
    for e in entries:
        when = datetime.datetime.fromtimestamp(e.time_ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(e.seq), when, e.event, e.peer_id, escape(e.subject), e.reason)
    Console().print(table)


@audit_app.command("verify")
def audit_verify(config: ConfigOption) -> None:
    """Recompute every hash and link of the chain; exit 0 if intact, 2 with the first broken
    entry otherwise."""
    result = _read(config, lambda log: log.verify())
    if result.ok:
        typer.echo(f"VERIFIED {result.checked} entries; head {result.head_seq} {result.head_hash}")
        return
    typer.echo(f"BROKEN at entry {result.broken_seq}: {result.reason}: {result.message}", err=True)
    raise typer.Exit(code=2)
