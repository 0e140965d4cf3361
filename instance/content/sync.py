"""The M-Instance's side of content synchronisation (ITU FGMV-43 9.3 steps 5-7, COSF).

A new version of a linked content (made here, merged here, or applied from one peer and owed to
another) queues a row (peer, content) in the content store's durable per-destination queue
(:mod:`instance.content.store`, ``content_sync_queue``). :class:`ContentSyncWorker` drains it on
its own: every ``interval_s`` (0.5 s) it asks this M-Instance's gateway to synchronise each
queued content with its peer (RI-3 ``PlatformGateway.SyncContentWithPeer``: pull what the peer
holds, push what it lacks, RE-3 ``Federation.ExchangeContentVersions``). Destinations go side by
side; a destination's rows go in queue order, up to ``parallel`` (16) contents at a time, so
the gateway carries their messages to the peer together, in federation transactions of up to 50
entries (issue 18 item 2; :mod:`gateway.content_sync`). One content is synchronised by one call
at a time, and a row goes only when a synchronisation that started after it was queued
succeeded; a failure keeps it. The destination down (UNAVAILABLE, DEADLINE_EXCEEDED) backs that
destination off once per pass (full jitter, ``base_s`` doubling to ``cap_s``), so a peer that
was down catches up once it answers again, and so does a node restarted with rows left (the
queue is in its database); a refusal of one content backs off that row alone, so it never holds
up the destination's other rows.
Versions are applied once by id at the receiver, so a retry after a lost answer changes nothing.

Why the queue is here and not in the gateway's :class:`gateway.outbox.Outbox`: its lanes live in
the gateway's memory (a restart fails what waits) and carry at most 4 MiB per transaction; a
content's versions must outlive a restart of either node and may be as large as the content. The
queue is therefore kept where the versions are, in the M-Instance's database, and drained with
the outbox's discipline (per destination, in order, capped exponential backoff with full jitter,
applied once at the receiver); the gateway sends what fits a transaction in one, and a larger
message by RE-3 itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from instance.content.store import ContentStore
from mmmfed.api.v1 import content_pb2 as cpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.backoff import Backoff
from mmmfed.errors import MmmfedError, RemoteError
from mmmfed.rpc import call

log = logging.getLogger(__name__)
PEER_DOWN = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
"""What says the destination (or this M-Instance's gateway) cannot answer now, not a refusal."""
GatewayStub = Callable[[], "gateway_pb2_grpc.PlatformGatewayAsyncStub"]


@dataclass
class ContentSyncWorker:
    """Drains ``store``'s synchronisation queue through the gateway ``gateway`` (module docstring)."""

    store: ContentStore
    gateway: GatewayStub
    interval_s: float = 0.5
    base_s: float = 0.2
    cap_s: float = 5.0
    call_timeout_s: float = 30.0
    parallel: int = 16
    _backoff: dict[str, Backoff] = field(default_factory=dict)
    _row_backoff: dict[tuple[str, str], Backoff] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def sync(self, content_id: str, peer: str) -> cpb.SyncedPeer:
        """Synchronise ``content_id`` with ``peer`` now; the row queued for them (if any) goes
        on success. Never raises for the peer's or gateway's refusal: the answer's ``error`` and
        ``message`` name it, and the row stays queued (a refusal of this content backs off its
        row; the destination down backs off the destination)."""
        answer, down = await self._sync(content_id, peer)
        if down:
            self._backoff.setdefault(peer, Backoff()).failed(self.base_s, self.cap_s)
        return answer

    async def _sync(self, content_id: str, peer: str) -> tuple[cpb.SyncedPeer, bool]:
        """:meth:`sync` without the destination's backoff: (the answer, whether the destination
        is down)."""
        marks = {(p, c): m for p, c, m in self.store.queued()}
        mark = marks.get((peer, content_id))
        stub = self.gateway()
        request = cpb.SyncContentRequest(content_id=content_id, peer_m_instance_id=peer)
        try:
            answer: cpb.SyncedPeer = await call(
                lambda: stub.SyncContentWithPeer(request, timeout=self.call_timeout_s), attempts=1
            )
        except MmmfedError as err:
            down = isinstance(err, RemoteError) and err.code in PEER_DOWN  # the peer (or gateway) is down
            if not down:  # a refusal of this content only: it waits alone, the destination's other rows go on
                self._row_backoff.setdefault((peer, content_id), Backoff()).failed(self.base_s, self.cap_s * 12)
            return cpb.SyncedPeer(peer_m_instance_id=peer, error=err.reason, message=err.message[:500]), down
        self._backoff.pop(peer, None)
        self._row_backoff.pop((peer, content_id), None)
        if mark is not None:
            self.store.done_sync(peer, content_id, mark)
        return answer, False

    def _waiting(self, peer: str, content_id: str) -> bool:
        """Whether the destination, or this row of it, is backing off."""
        states = (self._backoff.get(peer), self._row_backoff.get((peer, content_id)))
        return any(state is not None and state.waiting() for state in states)

    async def drain_once(self) -> None:
        """One pass over the queue (module docstring): each destination not backing off, side
        by side, its rows in order, ``parallel`` at a time. A destination that is down
        (UNAVAILABLE, DEADLINE_EXCEEDED) stops its pass and backs off once; a row the peer or
        gateway refuses (e.g. a version the peer does not accept) backs off on its own (up to
        12 times ``cap_s``) and never holds up the rows behind it."""
        async with self._lock:
            rows: dict[str, list[str]] = {}
            for peer, content_id, _ in self.store.queued():
                rows.setdefault(peer, []).append(content_id)
            await asyncio.gather(*(self._drain(peer, content_ids) for peer, content_ids in rows.items()))

    async def _drain(self, peer: str, content_ids: list[str]) -> None:
        due = [content_id for content_id in content_ids if not self._waiting(peer, content_id)]
        for start in range(0, len(due), self.parallel):
            chunk = due[start : start + self.parallel]
            answers = await asyncio.gather(*(self._sync(content_id, peer) for content_id in chunk))
            down = [answer for answer, is_down in answers if is_down]
            if down:
                self._backoff.setdefault(peer, Backoff()).failed(self.base_s, self.cap_s)
                log.info("content synchronisation waits", extra={"peer": peer, "reason": down[0].error})
                return

    async def run(self) -> None:
        """Drain the queue every ``interval_s`` until cancelled."""
        while True:
            try:
                await self.drain_once()
            except (MmmfedError, RemoteError) as err:  # a store error: log, try again later
                log.warning("content synchronisation pass failed", extra={"reason": err.reason})
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        """Start :meth:`run` as a task (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stop the task (idempotent); the queue stays in the database."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
