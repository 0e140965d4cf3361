"""``mmmfed agreement propose|accept|withdraw|consents|show|revoke``: an operator's view of trust agreements
(issue "Federated trust", item 5; FGMV-43 9.5).

``accept`` and ``show`` read and write the gateway's shared state directly (its SQLite store, or
the Redis its replicas share: ``store`` in the configuration); ``propose`` and ``revoke`` ask the
running gateway over RI-5 with an operator certificate of the M-Instance's trust domain, because they talk to
the peer too.
"""

from __future__ import annotations

import asyncio
import datetime
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mmmfed.cli.tables import FittingTable, WideOption, table_console

agreement_app = typer.Typer(help="Trust agreements with peer M-Instances.", no_args_is_help=True)
ConfigOption = Annotated[Path, typer.Option("--config", help="the gateway's configuration, .json or .toml")]
CertOption = Annotated[
    Path,
    typer.Option("--cert", help="operator certificate (PEM) of the M-Instance's trust domain (`mmmfed certs init`)"),
]
KeyOption = Annotated[Path, typer.Option("--key", help="its private key (PEM)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _config(path: Path) -> Any:
    from mmmfed.cli.common import fail
    from mmmfed.config import GatewayConfig, load_config
    from mmmfed.errors import MmmfedError

    try:
        return load_config(path, GatewayConfig)
    except MmmfedError as err:
        raise fail(err) from err


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def _call(config: Any, cert: Path, key: Path, method: str, request: Any) -> Any:
    from mmmfed.api.v1 import gateway_pb2_grpc
    from mmmfed.config import PeerAddress, TlsConfig
    from mmmfed.rpc import call
    from mmmfed.tls import secure_channel

    tls = TlsConfig(ca_cert=config.tls.ca_cert, cert=cert, key=key)
    async with secure_channel(tls, PeerAddress(tls_name=config.tls_name, address=config.listen)) as channel:
        stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
        return await call(lambda: getattr(stub, method)(request))


def _remote(config: Any, cert: Path, key: Path, method: str, request: Any) -> Any:
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput, MmmfedError

    try:
        return asyncio.run(_call(config, cert, key, method, request))
    except (MmmfedError, OSError) as err:
        if isinstance(err, OSError):
            err = InvalidInput(f"cannot read {err.filename}: {err.strerror}", reason="FILE_UNREADABLE")
        raise fail(err) from err


@agreement_app.command("propose")
def agreement_propose(
    peer: str, config: ConfigOption, cert: CertOption, key: KeyOption, as_json: JsonOption = False
) -> None:
    """Negotiate with PEER (FGMV-43 9.5) and conclude a trust agreement signed by both (--json: the
    signed agreement document)."""
    from mmmfed.api.v1 import gateway_pb2 as gpb

    result = _remote(_config(config), cert, key, "Negotiate", gpb.NegotiateRequest(peer_m_instance_id=peer))
    doc = json.loads(result.agreement_json)
    if as_json:
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    typer.echo(f"ACTIVE {doc['AgreementID']} with {peer} until {_when(doc['ValidUntilMs'])}")
    typer.echo(f"scope: {', '.join(doc['Scope']['Features'])}")


async def _with_state(cfg: Any, use: Callable[[Any], Awaitable[Any]]) -> Any:
    """``await use(state)`` on the gateway's shared state (``cfg.store``), closed afterwards."""
    from mmmfed.store import EmbeddedState, SqliteStore

    if cfg.store.backend == "redis":
        from mmmfed.store.redis import open_redis_state

        state: Any = open_redis_state(cfg.store, m_instance_id=cfg.m_instance_id)[0]  # closing it closes both
    else:
        state = EmbeddedState(SqliteStore(cfg.data_dir))
    try:
        return await use(state)
    finally:
        await state.close()


def _on_state(cfg: Any, use: Callable[[Any], Awaitable[Any]]) -> Any:
    from mmmfed.cli.common import fail
    from mmmfed.errors import MmmfedError

    try:
        return asyncio.run(_with_state(cfg, use))
    except MmmfedError as err:
        raise fail(err) from err


def _configured_peer(cfg: Any, peer: str, *, force: bool) -> None:
    """Exit 2 (PEER_NOT_CONFIGURED) unless ``peer`` is under ``peers`` of the configuration or
    ``force`` is given: consent to a typo is not stored."""
    from mmmfed.cli.common import fail
    from mmmfed.errors import InvalidInput

    if peer not in cfg.peers and not force:
        known = ", ".join(sorted(cfg.peers)) or "none"
        raise fail(
            InvalidInput(
                f"{peer} is not a configured peer (peers: {known}); add it with `mmmfed peer add`, "
                "or pass --force to record it anyway",
                reason="PEER_NOT_CONFIGURED",
            )
        )


ForceOption = Annotated[bool, typer.Option("--force", help="record it even if PEER is not a configured peer")]


@agreement_app.command("accept")
def agreement_accept(peer: str, config: ConfigOption, force: ForceOption = False, as_json: JsonOption = False) -> None:
    """Accept trust agreements that PEER proposes (takes effect at once, no restart)."""
    from gateway.agreements import record_consent

    cfg = _config(config)
    _configured_peer(cfg, peer, force=force)
    _on_state(cfg, lambda state: record_consent(state, peer))
    if as_json:
        typer.echo(json.dumps({"m_instance_id": cfg.m_instance_id, "peer": peer, "accepted": True}))
        return
    typer.echo(f"{cfg.m_instance_id} now accepts trust agreements proposed by {peer}")


@agreement_app.command("withdraw")
def agreement_withdraw(
    peer: str, config: ConfigOption, force: ForceOption = False, as_json: JsonOption = False
) -> None:
    """No longer accept agreements PEER proposes (an ACTIVE agreement stays until revoked)."""
    from gateway.agreements import record_consent

    cfg = _config(config)
    _configured_peer(cfg, peer, force=force)
    _on_state(cfg, lambda state: record_consent(state, peer, accepted=False))
    if as_json:
        typer.echo(json.dumps({"m_instance_id": cfg.m_instance_id, "peer": peer, "accepted": False}))
        return
    typer.echo(f"{cfg.m_instance_id} no longer accepts trust agreements proposed by {peer}")


@agreement_app.command("consents")
def agreement_consents(config: ConfigOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """Which peers' proposals this M-Instance accepts: by configuration (accept_agreements_from)
    or by an operator's `agreement accept`, and withdrawals."""
    from gateway.agreements import all_consents

    cfg = _config(config)
    stored: dict[str, dict[str, Any]] = _on_state(cfg, all_consents)
    rows = [{"peer": p, "accepted": True, "by": "configuration", "at": None} for p in cfg.accept_agreements_from]
    for peer, doc in sorted(stored.items()):
        accepted = "AcceptedAtMs" in doc
        rows.append(
            {
                "peer": peer,
                "accepted": accepted,
                "by": "operator",
                "at": doc.get("AcceptedAtMs") or doc.get("WithdrawnAtMs"),
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = FittingTable(box=None, drop=("since", "by"))
    table.add_column("peer", no_wrap=True)
    for col in ("accepts", "by", "since"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["peer"], "yes" if row["accepted"] else "withdrawn", row["by"], _when(row["at"]))
    table_console(wide).print(table, markup=False, highlight=False)


@agreement_app.command("show")
def agreement_show(config: ConfigOption, as_json: JsonOption = False, wide: WideOption = False) -> None:
    """List this gateway's trust agreements: peer, status, id, validity, scope, signers."""
    from gateway.agreements import all_agreements

    cfg = _config(config)
    records = _on_state(cfg, all_agreements)
    if as_json:
        typer.echo(json.dumps(records, indent=2, sort_keys=True))
        return
    table = FittingTable(title=f"trust agreements of {cfg.m_instance_id}", drop=("signed by", "scope", "valid until"))
    for col in ("peer", "status", "agreement", "valid until", "scope", "signed by"):
        table.add_column(col, overflow="fold", no_wrap=col in ("peer", "agreement"))
    for peer_id, rec in records.items():
        doc = rec["Document"]
        proofs = doc.get("proof") if isinstance(doc.get("proof"), list) else [doc.get("proof")]
        signers = [str(p.get("verificationMethod", "")).split("#")[0] for p in proofs if p]
        table.add_row(
            peer_id,
            rec["Status"],
            doc["AgreementID"],
            _when(doc["ValidUntilMs"]),
            "\n".join(doc["Scope"]["Features"]),
            "\n".join(signers),
        )
    table_console(wide).print(table, markup=False, highlight=False)


@agreement_app.command("revoke")
def agreement_revoke(
    peer: str,
    config: ConfigOption,
    cert: CertOption,
    key: KeyOption,
    reason: Annotated[
        str, typer.Option("--reason", help="why, recorded with the revocation")
    ] = "revoked by the operator",
    as_json: JsonOption = False,
) -> None:
    """Revoke the trust agreement with PEER, here and at the peer, at once (in-flight work too;
    --json: the revoked agreement document)."""
    from mmmfed.api.v1 import gateway_pb2 as gpb

    request = gpb.RevokePeerAgreementRequest(peer_m_instance_id=peer, reason=reason)
    result = _remote(_config(config), cert, key, "RevokeAgreement", request)
    if as_json:
        typer.echo(json.dumps(json.loads(result.agreement_json), indent=2, sort_keys=True))
        return
    typer.echo(f"REVOKED {json.loads(result.agreement_json)['AgreementID']} with {peer}")
