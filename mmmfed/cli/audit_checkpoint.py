"""The work behind ``mmmfed audit verify --checkpoint`` and ``mmmfed audit checkpoint`` (issue 12
item 7): signing our checkpoint, checking our log against a checkpoint, fetching and keeping a
peer's. Exit codes are audit_cmd.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmmfed.audit.checkpoint import (
    AuditTailBroken,
    Checkpoint,
    CheckpointRefused,
    check_log_against,
    own_key_resolver,
    parse_checkpoint,
    proof_method_and_time,
    sign_checkpoint,
    verify_checkpoint,
)
from mmmfed.config import GatewayConfig
from mmmfed.errors import MmmfedError
from mmmfed.keys import InstanceKeyStore
from mmmfed.store import SharedAuditLog


def read_checkpoint_file(path: Path) -> Checkpoint:
    """The checkpoint in ``path`` (signature not yet checked); exit 2 if it cannot be read or is
    not one (``CHECKPOINT_MALFORMED``)."""
    from mmmfed.cli.common import fail, refuse

    try:
        raw = path.read_bytes()
    except OSError as err:
        raise refuse("FILE_UNREADABLE", f"cannot read {path}: {err.strerror or err}; pass the checkpoint file") from err
    try:
        return parse_checkpoint(raw)
    except MmmfedError as err:
        raise fail(err) from err


async def verify_with_checkpoint(
    log: SharedAuditLog, keys: InstanceKeyStore, held: Checkpoint | None
) -> dict[str, Any]:
    """Walk the whole chain, then (with ``held``) check ``held``'s signature against this
    M-Instance's published ``keys`` and the log against ``held``. Returns ``{"ok", "reason", "broken_seq",
    "checked", "head_seq", "head_hash", "message"}`` (plus ``"checkpoint_size"`` and ``"grown"``
    when ``held`` holds); a checkpoint failure is reported before a chain break."""
    result = await log.verify()
    outcome: dict[str, Any] = {
        "ok": result.ok,
        "reason": result.reason,
        "broken_seq": result.broken_seq,
        "checked": result.checked,
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "message": result.message,
    }
    if held is None:
        return outcome
    try:
        _, at_ms = proof_method_and_time(held)
        verify_checkpoint(held, m_instance_id=keys.m_instance_id, resolve_key=own_key_resolver(keys, at_ms=at_ms))
        at_size = await log.entries(since_seq=held.size - 1, limit=1) if held.size else []
        check_log_against(held, entry_at_size=at_size[0] if at_size else None, head=await log.head())
    except (CheckpointRefused, AuditTailBroken) as err:
        return {**outcome, "ok": False, "reason": err.reason, "broken_seq": None, "message": err.message}
    if not result.ok:
        return outcome
    return {**outcome, "checkpoint_size": held.size, "grown": result.head_seq - held.size}


def instance_keys(cfg: GatewayConfig) -> InstanceKeyStore:
    """The keys the gateway configured by ``cfg`` signs with (``<data_dir>/keys``)."""
    return InstanceKeyStore(cfg.data_dir / "keys", cfg.m_instance_id)


async def sign_own_checkpoint(log: SharedAuditLog, cfg: GatewayConfig) -> bytes:
    """A signed checkpoint of ``log``'s head now, by the M-Instance's current key
    (FailedPrecondition ``NO_SIGNING_KEY`` if the gateway never made one)."""
    return sign_checkpoint(instance_keys(cfg), await log.head())


async def fetch_peer_checkpoint(cfg: GatewayConfig, peer: str) -> bytes:
    """``peer``'s checkpoint over RE-5, as this gateway (its TLS identity), verified with the
    peer's keys (its RE-5 key service) and checked against, then kept in place of, the one this
    gateway kept (gateway/audit_service.py). Raises as ``PeerCheckpoints.fetch``."""
    from gateway.audit_service import PeerCheckpoints, checkpoint_fetcher
    from gateway.channels import Channels
    from gateway.keyring import Keyring
    from mmmfed.api.v1 import gateway_pb2 as gpb
    from mmmfed.api.v1 import manifesto_pb2 as mpb
    from mmmfed.rpc import call
    from mmmfed.store import open_gateway_state

    state, audit = open_gateway_state(cfg)
    channels = Channels(cfg.tls, instance=cfg.instance, peers=cfg.peers, bridges={})

    async def fetch_keys(m_instance_id: str) -> mpb.KeySet:
        stub = channels.peer(m_instance_id)
        return await call(lambda: stub.GetKeys(gpb.GetKeysRequest()))

    try:
        kept = await PeerCheckpoints(checkpoint_fetcher(channels), Keyring(fetch_keys), state).fetch(peer)
        return kept.signed_json
    finally:
        await channels.close()
        await state.close()
        await audit.close()
