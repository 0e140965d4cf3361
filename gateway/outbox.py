"""Federation transactions, sending side (issue 18 item 2; FGMV-43 RI-1 in, RE-1 out).

This gateway's M-Instance hands it entries for a peer (``PlatformGateway.SendToPeer``): Items and
Process Action requests. :meth:`Outbox.submit` checks the trust agreement covers Process Actions,
signs each Item (and each Item a Process Action carries) with the instance key as
``Resolve`` does, and queues the entries in the destination's lane; an entry of another kind is
refused (INVALID_ARGUMENT ``ENTRY_KIND``). :meth:`Outbox.send` queues what this gateway made
itself, as it is: the messages of the synchronisation channels, identity pushes
(:mod:`gateway.identity_sync`) and content versions (:mod:`gateway.content_sync`). They have
lanes of their own (a second Outbox, :data:`SYNC_LIMITS`): each channel keeps a durable queue
that retries on its own (:mod:`gateway.identity_push`, :mod:`instance.content.sync`), and a
presentation's nonce expires, so they give up after seconds, not minutes, and a peer that is
down never holds up the Items and Process Actions queued for it, nor they it. Each lane:

- is bounded: at most ``max_queued`` entries wait (RESOURCE_EXHAUSTED ``OUTBOX_FULL`` beyond, so
  the caller slows down), and a submission is queued whole or not at all;
- has ONE transaction in flight, and sends in submission order: the next transaction takes up
  to ``max_entries`` (50) queued entries and at most :data:`MAX_TRANSACTION_BYTES`;
- retries a transaction, under the same transaction id (the receiver applies it once), while the
  peer is UNAVAILABLE or the call times out (DEADLINE_EXCEEDED): capped exponential backoff with
  full jitter (``backoff_base_s`` doubling up to ``backoff_cap_s``) for at most ``give_up_s``,
  then fails its entries with Unavailable ``PEER_UNAVAILABLE``. Any other error is the peer's
  answer to the whole transaction (e.g. FAILED_PRECONDITION ``NO_AGREEMENT``): its entries fail
  with it (RemoteError, the peer's code and reason), and the lane goes on with the next.

A submission returns the peer's result per entry, in order, once every transaction carrying its
entries was answered. Each answered transaction is audited here too, one group commit (direction
"out").
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc

from gateway.agreements import PROCESS_ACTION_TYPE, RESOLVE_ACTION, AgreementBook
from gateway.channels import Channels
from gateway.transactions import MAX_ENTRIES, MAX_TRANSACTION_BYTES, agreements_needed, count_answered
from mmmfed.api.v1 import federation_pb2 as fpb
from mmmfed.audit import ACCEPTED, REFUSED, draft_entry
from mmmfed.errors import InvalidInput, MmmfedError, RemoteError, TooLarge, Unavailable
from mmmfed.items import parse_item, sign_item
from mmmfed.keys import InstanceKeyStore
from mmmfed.metrics import NodeMetrics
from mmmfed.rpc import decode_rpc_error
from mmmfed.store import SharedAuditLog

INSTANCE_KINDS = frozenset({"item_json", "process_action"})
"""The kinds of entry an M-Instance hands its gateway (RI-1); identity updates are made here."""
RETRIED_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@dataclass(frozen=True)
class OutboxLimits:
    """Per-destination bounds and the retry schedule (seconds)."""

    max_entries: int = MAX_ENTRIES
    max_queued: int = 10_000
    call_timeout_s: float = 30.0
    backoff_base_s: float = 0.1
    backoff_cap_s: float = 5.0
    give_up_s: float = 300.0


SYNC_LIMITS = OutboxLimits(call_timeout_s=15.0, give_up_s=10.0)
"""The synchronisation channels' lanes (module docstring): a channel's pass waits at most ~25 s
for a peer that is down, then backs that peer off."""


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def refusal_of(result: fpb.EntryResult) -> RemoteError:
    """A refused entry's result as the error its single call would have raised (its code,
    reason and message; FAILED_PRECONDITION for a peer that gave no code)."""
    code = _CODES.get(result.code, grpc.StatusCode.FAILED_PRECONDITION)
    if code == grpc.StatusCode.OK:
        code = grpc.StatusCode.FAILED_PRECONDITION
    return RemoteError(result.message or result.reason, code=code, reason=result.reason)


def backoff_s(attempt: int, limits: OutboxLimits, rng: Callable[[], float] = random.random) -> float:
    """Full-jitter delay before retry ``attempt`` (0, 1, ...): uniform in [0, min(cap, base * 2**attempt))."""
    ceiling: float = min(limits.backoff_cap_s, limits.backoff_base_s * 2.0**attempt)
    return rng() * ceiling


_Waiting = tuple[fpb.FederationEntry, asyncio.Future[fpb.EntryResult]]


@dataclass
class _Lane:
    queued: deque[_Waiting] = field(default_factory=deque)
    worker: asyncio.Task[None] | None = None


def _stopping() -> Unavailable:
    return Unavailable("this gateway is stopping", reason="GATEWAY_STOPPING")


def _fail(waiting: Sequence[_Waiting], err: BaseException) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(err)


class Outbox:
    """Per-destination queues of federation transactions (module docstring)."""

    def __init__(
        self,
        m_instance_id: str,
        *,
        channels: Channels,
        agreements: AgreementBook,
        keys: InstanceKeyStore,
        audit: SharedAuditLog,
        limits: OutboxLimits | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._id = m_instance_id
        self._channels = channels
        self._agreements = agreements
        self._keys = keys
        self._audit = audit
        self._metrics = metrics
        self.limits = limits or OutboxLimits()
        self._lanes: dict[str, _Lane] = {}

    async def submit(self, peer: str, entries: Sequence[fpb.FederationEntry]) -> list[fpb.EntryResult]:
        """RI-1: send the M-Instance's ``entries`` (Items and Process Actions, signed here) to
        ``peer``; the peer's result per entry, in order. Raises InvalidInput ``ENTRY_KIND`` (an
        entry of another kind, or none) or an Item that does not parse, NotFound
        ``UNKNOWN_PEER``, FailedPrecondition (agreement), TooLarge ``OUTBOX_FULL``, or the error
        that failed a transaction (see above)."""
        for index, entry in enumerate(entries):
            kind = entry.WhichOneof("entry")
            if kind not in INSTANCE_KINDS:
                raise InvalidInput(
                    f"entry {index} carries {kind or 'nothing'}: an M-Instance hands its gateway Items "
                    "(item_json) and Process Actions (process_action) to send",
                    reason="ENTRY_KIND",
                )
        self._channels.peer(peer)  # UNKNOWN_PEER
        await self._agreements.require_active(peer, item_type=PROCESS_ACTION_TYPE, action=RESOLVE_ACTION)
        return await self._queue(peer, [self._signed(entry) for entry in entries])

    async def send(self, peer: str, entries: Sequence[fpb.FederationEntry]) -> list[fpb.EntryResult]:
        """Send this gateway's own ``entries`` (e.g. the identity updates it made,
        :mod:`gateway.identity_sync`) to ``peer`` as they are; the peer's result per entry, in
        order. Raises NotFound ``UNKNOWN_PEER``, FailedPrecondition (no agreement covering each
        kind, :data:`~gateway.transactions.AGREEMENT_OF_KIND`), TooLarge ``OUTBOX_FULL``, or the
        error that failed a transaction."""
        self._channels.peer(peer)
        for item_type, action in agreements_needed(entries):
            await self._agreements.require_active(peer, item_type=item_type, action=action)
        return await self._queue(peer, list(entries))

    async def _queue(self, peer: str, entries: list[fpb.FederationEntry]) -> list[fpb.EntryResult]:
        """Queue ``entries`` whole in ``peer``'s lane (or refuse them all) and wait for their results."""
        lane = self._lanes.setdefault(peer, _Lane())
        if len(lane.queued) + len(entries) > self.limits.max_queued:
            raise TooLarge(
                f"{len(lane.queued)} entries already wait for {peer} (at most {self.limits.max_queued})",
                reason="OUTBOX_FULL",
            )
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in entries]
        lane.queued.extend(zip(entries, futures, strict=True))
        if lane.worker is None or lane.worker.done():
            lane.worker = asyncio.create_task(self._run(peer, lane))
        return list(await asyncio.gather(*futures))

    def _signed(self, entry: fpb.FederationEntry) -> fpb.FederationEntry:
        record, key = self._keys.current()
        method = self._keys.method(record)
        out = fpb.FederationEntry()
        if entry.WhichOneof("entry") == "item_json":
            out.item_json = sign_item(parse_item(entry.item_json), key=key, verification_method=method).raw
            return out
        out.CopyFrom(entry)
        items = entry.process_action.items_json
        carried = [sign_item(parse_item(raw), key=key, verification_method=method).raw for raw in items]
        del out.process_action.items_json[:]
        out.process_action.items_json.extend(carried)
        return out

    def _take(self, lane: _Lane) -> list[_Waiting]:
        """The next transaction's entries: up to max_entries, within MAX_TRANSACTION_BYTES."""
        batch: list[_Waiting] = []
        size = 256  # the transaction's own fields
        while lane.queued and len(batch) < self.limits.max_entries:
            entry_size = lane.queued[0][0].ByteSize() + 8
            if batch and size + entry_size > MAX_TRANSACTION_BYTES:
                break
            size += entry_size
            batch.append(lane.queued.popleft())
        return batch

    async def _run(self, peer: str, lane: _Lane) -> None:
        """The lane's worker: one transaction at a time, in order, until the lane is empty."""
        while lane.queued:
            batch = self._take(lane)
            txn = fpb.FederationTransaction(
                transaction_id=f"urn:uuid:{uuid.uuid4()}",
                origin_m_instance_id=self._id,
                entries=[entry for entry, _ in batch],
                time_ms=int(time.time() * 1000),
            )
            try:
                result = await self._deliver(peer, txn)
                if len(result.results) != len(batch):
                    raise Unavailable(
                        f"{peer} answered {len(result.results)} results for {len(batch)} entries",
                        reason="TRANSACTION_RESULT_MISMATCH",
                    )
            except MmmfedError as err:
                _fail(batch, err)
                continue
            except asyncio.CancelledError:
                _fail(batch, _stopping())
                raise
            count_answered(self._metrics, "out", txn.entries, result.results)
            for (_, future), entry_result in zip(batch, result.results, strict=True):
                if not future.done():
                    future.set_result(entry_result)
            await self._audit_out(peer, txn.transaction_id, result)

    async def _deliver(self, peer: str, txn: fpb.FederationTransaction) -> fpb.FederationTransactionResult:
        """Send ``txn`` until answered, retrying RETRIED_CODES with backoff for at most give_up_s."""
        deadline = time.monotonic() + self.limits.give_up_s
        for attempt in itertools.count():
            try:
                stub = self._channels.peer(peer)
                answer: fpb.FederationTransactionResult = await stub.SendTransaction(
                    txn, timeout=self.limits.call_timeout_s
                )
                return answer
            except grpc.aio.AioRpcError as err:
                delay = backoff_s(attempt, self.limits)
                if err.code() not in RETRIED_CODES or time.monotonic() + delay > deadline:
                    raise decode_rpc_error(err) from err
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _audit_out(self, peer: str, transaction_id: str, result: fpb.FederationTransactionResult) -> None:
        drafts = [
            draft_entry(
                ACCEPTED if r.accepted else REFUSED,
                peer_id=peer,
                subject=r.subject,
                reason=r.reason,
                details={"direction": "out", "transaction_id": transaction_id, "entry": index},
            )
            for index, r in enumerate(result.results)
        ]
        await self._audit.append_all(drafts)

    async def stop(self) -> None:
        """Stop every lane (idempotent): what waits fails with Unavailable ``GATEWAY_STOPPING``."""
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            if lane.worker is not None:
                lane.worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lane.worker
            _fail(lane.queued, _stopping())
            lane.queued.clear()
