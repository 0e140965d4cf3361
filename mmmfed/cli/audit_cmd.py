"""``mmmfed audit show|verify|checkpoint``: a gateway's hash-chained audit log (LAF, FGMV-43
7.5.3) and its signed checkpoints (issue 12 item 7).

Each takes the gateway's configuration file and reads the log directly while the gateway runs:
``<data_dir>/audit.sqlite3`` (it allows concurrent readers), or the chain its replicas share in
Redis when the configuration's ``store.backend`` is ``redis``. Checkpoints are signed with, and
verified against, the M-Instance's keys in ``<data_dir>/keys``.

Exit codes: 0 verified / done; 2 for anything not done: a file or log that cannot be read, a
malformed checkpoint (``CHECKPOINT_MALFORMED``), and every failed verification, as ``audit
verify`` always did (the chain's ``SEQ_GAP``/``HASH_MISMATCH``/``LINK_BROKEN``, the checkpoint's
``CHECKPOINT_SIGNATURE_INVALID``, ``AUDIT_TRUNCATED``, ``AUDIT_REWRITTEN``); the reason is on
stderr (or in the ``--json`` object on stdout).
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mmmfed.cli.common import fail, refuse
from mmmfed.cli.tables import FittingTable, WideOption, table_console

audit_app = typer.Typer(
    help="The gateway's audit log: show entries, verify the hash chain, sign or fetch checkpoints.",
    no_args_is_help=True,
)
ConfigOption = Annotated[Path, typer.Option("--config", help="the gateway's configuration, .json or .toml")]


def _read(config: Path, use: Callable[..., Awaitable[Any]], *, with_config: bool = False) -> Any:
    """``await use(log)`` on the audit log of the gateway configured in ``config`` (exit 2 with the
    reason if it cannot be read); ``await use(log, cfg)`` with ``with_config``."""
    from mmmfed.audit import SqliteAuditLog
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.errors import MmmfedError
    from mmmfed.store import EmbeddedAuditLog

    try:
        cfg = load_config(config, GatewayConfig)
    except MmmfedError as err:
        raise fail(err) from err
    if cfg.store.backend == "redis":
        from mmmfed.store.redis import open_redis_state

        log: Any = open_redis_state(cfg.store, m_instance_id=cfg.m_instance_id)[1]
    else:
        path = cfg.data_dir / "audit.sqlite3"
        if not path.exists():
            raise refuse(
                "AUDIT_LOG_MISSING",
                f"no audit log at {path}: start this gateway once, or check data_dir in {config}",
            )
        log = EmbeddedAuditLog(SqliteAuditLog(path))

    async def run() -> Any:
        try:
            return await (use(log, cfg) if with_config else use(log))
        finally:
            await log.close()

    try:
        return asyncio.run(run())
    except MmmfedError as err:
        raise fail(err) from err


@audit_app.command("show")
def audit_show(
    config: ConfigOption,
    peer: Annotated[str | None, typer.Option("--peer", help="only entries about this M-Instance")] = None,
    since: Annotated[int, typer.Option("--since", help="entries after this sequence number")] = 0,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    wide: WideOption = False,
) -> None:
    """Print audit entries, oldest first: accepts, refusals (with their reason), agreement changes."""
    entries = _read(config, lambda log: log.entries(peer_id=peer, since_seq=since, limit=limit))
    if as_json:
        for e in entries:
            typer.echo(json.dumps({**e.hashed_fields(), "hash": e.hash}, sort_keys=True))
        return
    table = FittingTable(title=f"audit log of {config.name}", drop=("time (UTC)", "peer"))
    for col in ("seq", "time (UTC)", "event", "peer", "subject", "reason"):
        table.add_column(col, overflow="fold", no_wrap=col in ("seq", "time (UTC)"))
    for e in entries:
        when = datetime.datetime.fromtimestamp(e.time_ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(e.seq), when, e.event, e.peer_id, escape(e.subject), e.reason)
    table_console(wide).print(table)


@audit_app.command("verify")
def audit_verify(
    config: ConfigOption,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="a signed checkpoint JSON file: the log must still hold it"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the outcome as one JSON object")] = False,
) -> None:
    """Recompute every hash and link of the chain; with ``--checkpoint F``, also check the log
    still holds what F (signed by this M-Instance) says: not fewer entries (AUDIT_TRUNCATED), the
    same entry at F's size (AUDIT_REWRITTEN); growth since F must chain on. Exit 0 if so, else 2
    with the reason."""
    from mmmfed.cli.audit_checkpoint import instance_keys, read_checkpoint_file, verify_with_checkpoint

    held = read_checkpoint_file(checkpoint) if checkpoint is not None else None

    async def run(log: Any, cfg: Any) -> dict[str, Any]:
        return await verify_with_checkpoint(log, instance_keys(cfg), held)

    outcome = _read(config, run, with_config=True)
    if as_json:
        typer.echo(json.dumps(outcome, sort_keys=True))
    elif outcome["ok"]:
        typer.echo(f"VERIFIED {outcome['checked']} entries; head {outcome['head_seq']} {outcome['head_hash']}")
        if held is not None:
            typer.echo(f"HOLDS the checkpoint of {held.size} entries ({outcome['grown']} appended since)")
    elif outcome["broken_seq"] is not None:
        typer.echo(f"BROKEN at entry {outcome['broken_seq']}: {outcome['reason']}: {outcome['message']}", err=True)
    else:
        typer.echo(f"BROKEN: {outcome['reason']}: {outcome['message']}", err=True)
    if not outcome["ok"]:
        raise typer.Exit(code=2)


@audit_app.command("checkpoint")
def audit_checkpoint(
    config: ConfigOption,
    out: Annotated[Path | None, typer.Option("--out", help="write the signed JSON here (else stdout)")] = None,
    peer: Annotated[
        str | None,
        typer.Option("--peer", help="fetch this peer M-Instance's checkpoint (RE-5), verify and keep it"),
    ] = None,
) -> None:
    """Sign a checkpoint of this gateway's audit chain (head hash, size, time) with the
    M-Instance's key, or with ``--peer`` fetch a peer's, verify it with the peer's keys and check
    it against the last one kept of that peer (then keep it). Exit 0, else 2 with the reason."""
    from mmmfed.cli.audit_checkpoint import fetch_peer_checkpoint, sign_own_checkpoint

    if peer is None:
        raw = _read(config, sign_own_checkpoint, with_config=True)
    else:
        raw = _read(config, lambda log, cfg: fetch_peer_checkpoint(cfg, peer), with_config=True)
    if out is None:
        typer.echo(raw.decode())
        return
    try:
        out.write_bytes(raw)
    except OSError as err:
        raise refuse("FILE_UNWRITABLE", f"cannot write {out}: {err.strerror or err}; choose another --out") from err
    doc = json.loads(raw)
    typer.echo(f"CHECKPOINT of {doc['MInstanceID']}: {doc['Size']} entries, head {doc['HeadHash']} -> {out}")
