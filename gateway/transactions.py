"""Federation transactions, receiving side (issue 18 item 2; FGMV-43 RE-1 between two MIFMs).

A peer's gateway sends Items (their MPAI V2.2 bytes, signed by its M-Instance's key), Process
Action requests, and the messages of the synchronisation channels (a linked user's re-issued
credential, FGMV-43 9.4 step 5, IDSF: :mod:`gateway.identity_push`; a content's versions,
FGMV-43 9.3 steps 5-7, COSF: :mod:`gateway.content_sync`) to this gateway in transactions of
up to :data:`MAX_ENTRIES` entries (``Federation.SendTransaction``).
:meth:`TransactionReceiver.receive`:

1. refuses the whole transaction, before anything is stored or audited, when it is malformed
   (INVALID_ARGUMENT ``TRANSACTION_MALFORMED``: no id, an id over 128 characters, no entries),
   has more than :data:`MAX_ENTRIES` entries (INVALID_ARGUMENT ``TRANSACTION_TOO_MANY_ENTRIES``),
   is over :data:`MAX_TRANSACTION_BYTES` (RESOURCE_EXHAUSTED ``TRANSACTION_TOO_LARGE``), names
   another origin than the mTLS peer (PERMISSION_DENIED ``ORIGIN_MISMATCH``), or no ACTIVE trust
   agreement with the peer covers each kind of entry it carries (:data:`AGREEMENT_OF_KIND`:
   Process Actions for Items and Process Actions, identities for identity updates, contents for
   content versions; FAILED_PRECONDITION, the agreement's reasons);
2. answers a transaction id it has applied with the result it gave then (idempotent: a retried
   transaction is never applied twice), for :data:`RECORD_KEEP_S` after it applied it (the
   sending side retries one transaction for 5 minutes at most, :class:`gateway.outbox.OutboxLimits`);
3. verifies every entry: an Item by the verification pipeline
   (:meth:`ForeignItemVerifier.verify_persona`: strict parse, schema, Rules, origin, proofs), a
   Process Action as ``ForwardProcessAction`` checks it, then hands it to this M-Instance. A
   refused entry gets its reason and does not fail the others. An error that says nothing about
   the entry (a key service UNAVAILABLE: :data:`~gateway.verification.NOT_REFUSALS`) fails the
   whole transaction, retryable, before anything is stored. A synchronisation channel's entry
   (:data:`ON_THEIR_OWN`) is verified and applied on its own, in entry order, as its single call
   does: an identity update as ``PushIdentityUpdate``
   (:meth:`gateway.identity_sync.IdentitySync.apply_update`: the presentation's nonce, key
   binding, scope, version), a content's versions as ``ExchangeContentVersions``
   (:meth:`gateway.content_sync.ContentVersionSync.exchange_entry`: envelope, ids, limits,
   link; the answer carries at most 256 KiB of the versions the sender lacks). Any error of
   such an entry, unavailability included, is its own refusal, and Items and Process Actions
   are checked first, so what these entries applied never rides on a failed transaction (their
   senders' durable queues send them again, signed anew). A refusal carries the gRPC code the
   single call would have answered;
4. writes one audit entry per entry (``ACCEPTED`` / ``REFUSED``, subject the ItemID or
   ProcessActionID) in ONE group commit (LAF, FGMV-43 7.5.3), each with a ``once`` key, then one
   record of the transaction's result in the shared state (:data:`NS_TRANSACTIONS`, kept
   :data:`RECORD_KEEP_S`, then dropped: what a peer makes this gateway store is bounded in time,
   and a record holds results only, at most 50 of them). An accepted Item is verified and
   audited, and not kept here: an Item the M-Instance must hold travels in the Process Action
   that uses it (``items_json``), which is handed over. A channel's entry is audited with the
   rpc of its single call (``PushIdentityUpdate``, ``ExchangeContentVersions``). For a content
   entry the record keeps a stand-in of the answer: the ids it held, ``more`` set and no
   versions, signed, so a retry is told to ask for the versions again.

Duplicates: in this process a transaction id is applied by one call at a time. A crash between
the audit commit and the record leaves the transaction unrecorded: the retry verifies again and
hands its Process Actions to the M-Instance again (the audit entries, keyed ``once``, are not
written twice). Replicas on Redis share the record but not the in-process lock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from gateway.agreements import (
    CONTENT_ACTION,
    CONTENT_TYPE,
    IDENTITY_ACTION,
    IDENTITY_TYPE,
    PROCESS_ACTION_TYPE,
    RESOLVE_ACTION,
    AgreementBook,
)
from gateway.identity_import import PeerMaterial
from gateway.resolution import ResolutionService, status_name
from gateway.verification import NOT_REFUSALS, ForeignItemVerifier
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.api.v1 import identity_pb2 as ipb
from mmmfed.api.v1 import process_action_pb2 as papb
from mmmfed.audit import ACCEPTED, REFUSED, AuditDraft, draft_entry
from mmmfed.errors import FailedPrecondition, InvalidInput, MmmfedError, PermissionDenied, TooLarge
from mmmfed.metrics import NodeMetrics
from mmmfed.store import SharedAuditLog, SharedState

MAX_ENTRIES = 50
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
MAX_TRANSACTION_ID_CHARS = 128
AGREEMENT_OF_KIND: dict[str, tuple[str, str]] = {
    "item_json": (PROCESS_ACTION_TYPE, RESOLVE_ACTION),
    "process_action": (PROCESS_ACTION_TYPE, RESOLVE_ACTION),
    "identity_update": (IDENTITY_TYPE, IDENTITY_ACTION),
    "content_versions": (CONTENT_TYPE, CONTENT_ACTION),
}
"""Each kind of entry (the ``FederationEntry.entry`` oneof) and the (Item type, Action) the
trust agreement with the peer must cover for it."""
NOT_TAKEN = frozenset({"ENTRY_EMPTY", "IDENTITY_NOT_SERVED", "CONTENT_NOT_SERVED"})
"""Refusals that say the receiver takes no entries of that kind in transactions (``ENTRY_EMPTY``
from a gateway that does not know the kind): nothing of the entry was checked or applied, so
the sender may send the same message by its single call (a synchronisation channel does)."""
ON_THEIR_OWN = frozenset({"identity_update", "content_versions"})
"""The synchronisation channels' entries: each is verified and applied on its own, after the
transaction's Items and Process Actions were checked, and any error of it is its refusal."""
NS_TRANSACTIONS = "federation/transactions"
"""Records (:meth:`mmmfed.store.SharedState.put_record`) keyed ``"<peer> <transaction id>"``,
each the serialized FederationTransactionResult."""
RECORD_KEEP_S = 3600
"""How long a transaction's result answers its retries: twelve times the sending side's retry window."""


def check_limits(txn: fpb.FederationTransaction, peer: str) -> None:
    """Step 1 of the module docstring, the agreement aside (raises; nothing is touched)."""
    if not txn.transaction_id or len(txn.transaction_id) > MAX_TRANSACTION_ID_CHARS:
        raise InvalidInput(
            f"transaction_id must have 1 to {MAX_TRANSACTION_ID_CHARS} characters", reason="TRANSACTION_MALFORMED"
        )
    if not txn.entries:
        raise InvalidInput("a transaction carries at least one entry", reason="TRANSACTION_MALFORMED")
    if len(txn.entries) > MAX_ENTRIES:
        raise InvalidInput(
            f"a transaction carries at most {MAX_ENTRIES} entries, not {len(txn.entries)}",
            reason="TRANSACTION_TOO_MANY_ENTRIES",
            metadata={"max_entries": str(MAX_ENTRIES)},
        )
    size = txn.ByteSize()
    if size > MAX_TRANSACTION_BYTES:
        raise TooLarge(
            f"a transaction is at most {MAX_TRANSACTION_BYTES} bytes, not {size}",
            reason="TRANSACTION_TOO_LARGE",
            metadata={"max_bytes": str(MAX_TRANSACTION_BYTES)},
        )
    if txn.origin_m_instance_id != peer:
        raise PermissionDenied(
            f"origin {txn.origin_m_instance_id[:256]!r} is not {peer}, the calling gateway's", reason="ORIGIN_MISMATCH"
        )


def agreements_needed(entries: Iterable[fpb.FederationEntry]) -> list[tuple[str, str]]:
    """The (Item type, Action) pairs ``entries`` need covered (:data:`AGREEMENT_OF_KIND`), sorted;
    an empty entry needs the Process Actions' (it is refused on its own, ``ENTRY_EMPTY``)."""
    default = AGREEMENT_OF_KIND["process_action"]
    return sorted({AGREEMENT_OF_KIND.get(_kind(entry), default) for entry in entries})


class ContentExchanges(Protocol):
    """The answering side of content synchronisation (:class:`gateway.content_sync.ContentVersionSync`)."""

    async def exchange_entry(
        self, request: cpb.ContentVersions, peer: str
    ) -> tuple[cpb.ContentVersions, cpb.ContentVersions]: ...


class IdentityUpdates(Protocol):
    """The platform side of identity synchronisation (:class:`gateway.identity_sync.IdentitySync`)."""

    async def apply_update(
        self, request: ipb.PushIdentityUpdateRequest, peer: str, material: PeerMaterial
    ) -> ipb.PushIdentityUpdateResponse: ...


class TransactionReceiver:
    """Applies federation transactions from peers (module docstring)."""

    def __init__(
        self,
        *,
        agreements: AgreementBook,
        verifier: ForeignItemVerifier,
        resolution: ResolutionService,
        store: SharedState,
        audit: SharedAuditLog,
        identity: IdentityUpdates | None = None,
        content: ContentExchanges | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._agreements = agreements
        self._verifier = verifier
        self._resolution = resolution
        self._store = store
        self._audit = audit
        self.identity = identity  # the synchronisation channels (gateway/identity_sync.py, content_sync.py)
        self.content = content
        self._metrics = metrics
        self._applying: dict[str, tuple[asyncio.Lock, int]] = {}

    async def receive(self, txn: fpb.FederationTransaction, peer: str) -> fpb.FederationTransactionResult:
        """Apply ``txn`` from ``peer`` (the mTLS-authenticated M-Instance) once; a result per entry."""
        check_limits(txn, peer)
        for item_type, action in agreements_needed(txn.entries):
            await self._agreements.require_active(peer, item_type=item_type, action=action)
        key = f"{peer} {txn.transaction_id}"
        with self._one_at_a_time(key) as lock:
            async with lock:
                done = await self._store.get_record(NS_TRANSACTIONS, key, now_ms=_now_ms())
                if done is not None:
                    return fpb.FederationTransactionResult.FromString(done)
                return await self._apply(txn, peer, key)

    @contextmanager
    def _one_at_a_time(self, key: str) -> Iterator[asyncio.Lock]:
        """The lock of ``key``, kept while any call holds or waits for it."""
        lock, users = self._applying.get(key, (asyncio.Lock(), 0))
        self._applying[key] = (lock, users + 1)
        try:
            yield lock
        finally:
            lock, users = self._applying[key]
            if users == 1:
                del self._applying[key]
            else:
                self._applying[key] = (lock, users - 1)

    async def _apply(self, txn: fpb.FederationTransaction, peer: str, key: str) -> fpb.FederationTransactionResult:
        # Items and Process Actions first: an error of theirs fails the transaction before any
        # entry of a synchronisation channel is applied; then those, in entry order
        material = PeerMaterial()  # the peer's keys and status list, fetched once for its identity updates
        first = [
            None if _kind(entry) in ON_THEIR_OWN else await self._check(entry, peer, material) for entry in txn.entries
        ]
        checked = [
            one if one is not None else await self._check(entry, peer, material)
            for entry, one in zip(txn.entries, first, strict=True)
        ]
        for entry, one in zip(txn.entries, checked, strict=True):  # verified: hand Process Actions over, in order
            if one.result.accepted and entry.WhichOneof("entry") == "process_action":
                await self._decide(entry.process_action, peer, one.result)
        drafts = [
            _draft(one.result, _kind(entry), peer, txn.transaction_id, index)
            for index, (entry, one) in enumerate(zip(txn.entries, checked, strict=True))
        ]
        await self._audit.append_all(drafts)
        result = fpb.FederationTransactionResult(
            transaction_id=txn.transaction_id, results=[one.result for one in checked]
        )
        recorded = fpb.FederationTransactionResult(
            transaction_id=txn.transaction_id, results=[one.recorded or one.result for one in checked]
        )
        now_ms = _now_ms()
        await self._store.put_record(
            NS_TRANSACTIONS,
            key,
            recorded.SerializeToString(),
            keep_until_ms=now_ms + RECORD_KEEP_S * 1000,
            now_ms=now_ms,
        )
        count_answered(self._metrics, "in", txn.entries, result.results)
        return result

    async def _check(self, entry: fpb.FederationEntry, peer: str, material: PeerMaterial) -> _Checked:
        """Verify one entry (apply it, for those :data:`ON_THEIR_OWN`); a refusal is its
        result; an error in NOT_REFUSALS propagates, except from those."""
        which = _kind(entry)
        subject = {
            "process_action": entry.process_action.process_action_id,
            "identity_update": entry.identity_update.did[:256],
            "content_versions": entry.content_versions.content_id[:256],
        }.get(which, "")
        try:
            if which == "item_json":
                item = await self._verifier.verify_persona(entry.item_json, peer_id=peer, bridge_keys={})
                return _Checked(fpb.EntryResult(accepted=True, subject=item.item_id))
            if which == "process_action":
                await self._resolution.check_received(entry.process_action, peer, agreement=False)
                return _Checked(fpb.EntryResult(accepted=True, subject=subject))
            if which == "identity_update":
                return await self._identity_update(entry.identity_update, peer, material)
            if which == "content_versions":
                return await self._content_versions(entry.content_versions, peer)
            raise InvalidInput(
                "an entry carries an Item, a Process Action, an identity update or content versions",
                reason="ENTRY_EMPTY",
            )
        except MmmfedError as err:
            if err.code in NOT_REFUSALS and which not in ON_THEIR_OWN:
                raise
            return _Checked(_refusal(err, subject))

    async def _identity_update(
        self, request: ipb.PushIdentityUpdateRequest, peer: str, material: PeerMaterial
    ) -> _Checked:
        """Verify and apply one identity update now (module docstring, step 3)."""
        if self.identity is None:
            raise FailedPrecondition("this gateway takes no identity updates", reason="IDENTITY_NOT_SERVED")
        response = await self.identity.apply_update(request, peer, material)
        return _Checked(fpb.EntryResult(accepted=True, subject=request.did, identity_update_response=response))

    async def _content_versions(self, request: cpb.ContentVersions, peer: str) -> _Checked:
        """Verify and apply one content's versions now, answer with those the sender lacks
        (module docstring, step 3); the record keeps the answer's stand-in."""
        if self.content is None:
            raise FailedPrecondition("this gateway takes no content versions", reason="CONTENT_NOT_SERVED")
        answer, stand_in = await self.content.exchange_entry(request, peer)
        result = fpb.EntryResult(accepted=True, subject=request.content_id, content_versions=answer)
        return _Checked(result, fpb.EntryResult(accepted=True, subject=request.content_id, content_versions=stand_in))

    async def _decide(self, request: papb.ProcessActionRequest, peer: str, result: fpb.EntryResult) -> None:
        """This M-Instance decides a verified Process Action; undelivered, the entry is refused
        with the error's reason (it was not applied: the origin may send it again)."""
        try:
            result.process_action_response.CopyFrom(await self._resolution.decide(request, peer))
        except MmmfedError as err:
            result.CopyFrom(_refusal(err, result.subject))


@dataclass
class _Checked:
    result: fpb.EntryResult
    recorded: fpb.EntryResult | None = None  # what the record keeps instead, if not the result


def _refusal(err: MmmfedError, subject: str) -> fpb.EntryResult:
    code = int(err.code.value[0])
    return fpb.EntryResult(accepted=False, reason=err.reason, message=err.message[:500], subject=subject, code=code)


def count_answered(
    metrics: NodeMetrics | None,
    direction: str,
    entries: Sequence[fpb.FederationEntry],
    results: Sequence[fpb.EntryResult],
) -> None:
    """Count an answered transaction in ``mmmfed_federation_entries_total`` (each entry by kind
    and outcome) and ``mmmfed_federation_transaction_entries`` (``direction`` "in" or "out")."""
    if metrics is None:
        return
    for entry, result in zip(entries, results, strict=True):
        outcome = "accepted" if result.accepted else "refused"
        metrics.federation_entries.labels(direction=direction, kind=_kind(entry) or "empty", outcome=outcome).inc()
    metrics.federation_transaction_entries.labels(direction=direction).observe(len(entries))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _kind(entry: fpb.FederationEntry) -> str:
    return entry.WhichOneof("entry") or ""


_RPC_OF_KIND = {"identity_update": "PushIdentityUpdate", "content_versions": "ExchangeContentVersions"}


def _draft(result: fpb.EntryResult, kind: str, peer: str, transaction_id: str, index: int) -> AuditDraft:
    rpc = _RPC_OF_KIND.get(kind, "SendTransaction")
    details: dict[str, object] = {"rpc": rpc, "transaction_id": transaction_id, "entry": index}
    if result.HasField("process_action_response"):
        details["pa_status"] = status_name(result.process_action_response)
    return draft_entry(
        ACCEPTED if result.accepted else REFUSED,
        peer_id=peer,
        subject=result.subject,
        reason=result.reason,
        details=details,
        once=f"TXN {peer} {transaction_id} {index}",
    )
