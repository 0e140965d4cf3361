"""The audit of identity migration's RPCs (FGMV-43 9.4; issue 17), one helper for the home side
(:mod:`gateway.identity_migration`) and the destination side (:mod:`gateway.identity_import`)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from mmmfed.audit import ACCEPTED, REFUSED
from mmmfed.errors import MmmfedError
from mmmfed.store import SharedAuditLog

T = TypeVar("T")


async def audited(audit: SharedAuditLog, rpc: str, peer: str, subject: str, work: Awaitable[T]) -> T:
    """Await ``work`` and append to ``audit`` one entry: ``ACCEPTED`` (details ``{"rpc": rpc}``),
    or ``REFUSED`` with the error's reason and message (at most 500 characters) before re-raising
    it. ``peer`` and ``subject`` are kept to 256 characters (they may come from a request)."""
    try:
        result = await work
    except MmmfedError as err:
        details: dict[str, object] = {"rpc": rpc, "message": err.message[:500]}
        await audit.append(REFUSED, peer_id=peer[:256], subject=subject[:256], reason=err.reason, details=details)
        raise
    await audit.append(ACCEPTED, peer_id=peer[:256], subject=subject[:256], details={"rpc": rpc})
    return result
