"""The audit log over RE-5 (LAF, FGMV-43 7.5.3; issue 12 item 7): what a peer may read of ours,
and what we keep of theirs.

Serving (:class:`AuditService`). A peer reads only its own entries (``peer_id`` = its M-Instance,
the one its verified gateway certificate names), in pages of at most :data:`MAX_AUDIT_PAGE`
entries whatever it asks, each answer with the head as a signed checkpoint
(:mod:`mmmfed.audit.checkpoint`); ``GetAuditCheckpoint`` gives the checkpoint alone.

Keeping (:class:`PeerCheckpoints`). Every 5 minutes, and on ``mmmfed audit checkpoint --peer``,
we fetch each configured peer's checkpoint, verify it with the peer's keys
(the keyring, i.e. its RE-5 key service), check it against the last one we kept of that peer
(never fewer entries; one head per size) and keep it in the gateway's shared state (namespace
``audit-checkpoints``, key the peer's M-Instance id: both backends, every replica). A checkpoint
that contradicts the kept one is refused and the kept one stays: it is the evidence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from gateway.channels import Channels
from gateway.keyring import Keyring, KeyUnavailable
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.audit import MAX_SAFE_INT
from mmmfed.audit.checkpoint import (
    CHECKPOINT_SIGNATURE_INVALID,
    Checkpoint,
    CheckpointRefused,
    check_successor,
    parse_checkpoint,
    proof_method_and_time,
    sign_checkpoint,
    verify_checkpoint,
)
from mmmfed.errors import FailedPrecondition, MmmfedError
from mmmfed.keys import InstanceKeyStore
from mmmfed.proofs import canonicalize
from mmmfed.rpc import call
from mmmfed.store import SharedAuditLog, SharedState

MAX_AUDIT_PAGE = 500
CHECKPOINT_NAMESPACE = "audit-checkpoints"
DEFAULT_FETCH_PERIOD_S = 300.0

log = logging.getLogger(__name__)


class AuditService:
    """Answers RE-5 audit calls for the calling peer ``peer`` (already authenticated)."""

    def __init__(self, audit: SharedAuditLog, keys: InstanceKeyStore) -> None:
        self._audit = audit
        self._keys = keys

    async def page(self, peer: str, *, since_seq: int, limit: int) -> gpb.GetAuditEntriesResponse:
        """``peer``'s entries with seq > ``since_seq``, oldest first, at most ``min(limit or
        MAX_AUDIT_PAGE, MAX_AUDIT_PAGE)``; ``next_since_seq`` is the last seq when the page is
        full (there may be more), else 0. The head and its signed checkpoint are read after the
        entries, so they cover them; ``checkpoint_json`` is empty when the M-Instance has no usable
        key (``NO_SIGNING_KEY``: the entries are served all the same)."""
        size = min(limit or MAX_AUDIT_PAGE, MAX_AUDIT_PAGE)
        entries = await self._audit.entries(peer_id=peer, since_seq=min(since_seq, MAX_SAFE_INT), limit=size)
        head = await self._audit.head()
        try:
            checkpoint = sign_checkpoint(self._keys, head)
        except FailedPrecondition as err:  # NO_SIGNING_KEY: every key revoked; the entries still go out
            if err.reason != "NO_SIGNING_KEY":
                raise
            checkpoint = b""
        return gpb.GetAuditEntriesResponse(
            entries=[
                gpb.AuditEntry(
                    seq=e.seq,
                    time_ms=e.time_ms,
                    event=e.event,
                    peer_id=e.peer_id,
                    subject=e.subject,
                    reason=e.reason,
                    details_json=canonicalize(e.details),
                    prev_hash=e.prev_hash,
                    hash=e.hash,
                )
                for e in entries
            ],
            head_seq=head.seq if head else 0,
            head_hash=head.hash if head else "",
            checkpoint_json=checkpoint,
            next_since_seq=entries[-1].seq if len(entries) == size else 0,
        )

    async def checkpoint(self) -> gpb.AuditCheckpoint:
        """The log's head now, signed (FailedPrecondition ``NO_SIGNING_KEY`` without a key)."""
        return gpb.AuditCheckpoint(signed_json=sign_checkpoint(self._keys, await self._audit.head()))


FetchCheckpoint = Callable[[str], Awaitable[bytes]]


def checkpoint_fetcher(channels: Channels) -> FetchCheckpoint:
    """M-Instance id -> the signed checkpoint its gateway answers to RE-5 ``GetAuditCheckpoint``
    (the call's errors propagate; NotFound ``UNKNOWN_PEER`` for a peer not configured)."""

    async def fetch(peer: str) -> bytes:
        stub = channels.peer(peer)
        answer: gpb.AuditCheckpoint = await call(lambda: stub.GetAuditCheckpoint(gpb.GetAuditCheckpointRequest()))
        return answer.signed_json

    return fetch


class PeerCheckpoints:
    """The last checkpoint this gateway saw of each peer (module docstring). ``fetch`` gets a
    peer's signed checkpoint (:func:`checkpoint_fetcher`), ``keyring`` its keys, ``state`` keeps
    them."""

    def __init__(self, fetch: FetchCheckpoint, keyring: Keyring, state: SharedState) -> None:
        self._fetch = fetch
        self._keyring = keyring
        self._state = state

    async def verified(self, raw: bytes, peer: str) -> Checkpoint:
        """``raw`` as ``peer``'s checkpoint, its proof checked with ``peer``'s keys valid when it
        was made. InvalidInput ``CHECKPOINT_MALFORMED``; CheckpointRefused
        ``CHECKPOINT_SIGNATURE_INVALID`` (also when the keyring will not give the key)."""
        checkpoint = parse_checkpoint(raw)
        method, at_ms = proof_method_and_time(checkpoint)
        try:
            key = await self._keyring.resolve(method, at_ms=at_ms, expected_instance=peer)
        except KeyUnavailable as err:  # unknown, revoked or not valid then: not a signature of peer's
            message = f"audit checkpoint refused: {err.message}"
            raise CheckpointRefused(message, reason=CHECKPOINT_SIGNATURE_INVALID) from err
        verify_checkpoint(checkpoint, m_instance_id=peer, resolve_key=lambda m: _only(m, method, key))
        return checkpoint

    async def fetch(self, peer: str) -> Checkpoint:
        """Fetch ``peer``'s checkpoint (RE-5 ``GetAuditCheckpoint``), verify it, check it against
        the one kept, keep it and return it. Raises as :meth:`verified`, AuditTailBroken
        ``AUDIT_TRUNCATED`` / ``AUDIT_REWRITTEN`` (the kept one stays), and the call's errors."""
        return await self.keep(await self._fetch(peer), peer)

    async def keep(self, raw: bytes, peer: str) -> Checkpoint:
        """Verify ``raw`` as ``peer``'s checkpoint (e.g. one from a GetAuditEntries answer), check
        it against the one kept, and keep it (one signed before the kept one is checked against
        it, not kept). Raises as :meth:`fetch`."""
        checkpoint = await self.verified(raw, peer)
        last = await self.last(peer)
        if last is not None and checkpoint.time_ms < last.time_ms:
            check_successor(checkpoint, last)  # an older statement: it must not contradict the kept one
            return last
        if last is not None:
            check_successor(last, checkpoint)
            if checkpoint.size == last.size:
                return last
        await self._state.put_document(CHECKPOINT_NAMESPACE, peer, checkpoint.signed_json)
        return checkpoint

    async def fetch_all(self, peers: Iterable[str]) -> dict[str, Checkpoint | str]:
        """:meth:`fetch` each of ``peers`` in turn: peer -> the checkpoint kept, or the reason it
        was not (logged as a warning: a peer down, or one whose log contradicts what it signed)."""
        outcome: dict[str, Checkpoint | str] = {}
        for peer in peers:
            try:
                outcome[peer] = await self.fetch(peer)
            except MmmfedError as err:
                log.warning("peer audit checkpoint not kept", extra={"peer": peer, "reason": err.reason})
                outcome[peer] = err.reason
        return outcome

    async def run(self, peers: Callable[[], Iterable[str]], *, period_s: float = DEFAULT_FETCH_PERIOD_S) -> None:
        """Every ``period_s`` seconds (first after one period), :meth:`fetch_all` of ``peers()``,
        until cancelled (the gateway runs this from start to stop)."""
        while True:
            await asyncio.sleep(period_s)
            await self.fetch_all(peers())

    async def last(self, peer: str) -> Checkpoint | None:
        """The checkpoint kept of ``peer``, None if none yet (it was verified when kept)."""
        raw = await self._state.get_document(CHECKPOINT_NAMESPACE, peer)
        return parse_checkpoint(raw) if raw is not None else None


def _only(method: str, expected: str, key: bytes) -> bytes:
    if method != expected:
        raise LookupError(method)
    return key
