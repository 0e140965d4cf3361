"""Group commit of audit appends (LAF, FGMV-43 7.5.3), for every backend of a gateway's shared
audit log (:class:`~mmmfed.store.shared.EmbeddedAuditLog`, :class:`~mmmfed.store.redis_audit.RedisAuditLog`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from mmmfed.audit import AuditDraft, AuditEntry, draft_entry


class GroupCommit:
    """Group commit of audit appends, for every backend: ``append`` checks the entry (raising
    InvalidInput ``AUDIT_ENTRY_MALFORMED`` / ``NOT_CANONICALIZABLE`` before anything is queued),
    queues it, and returns it once ``write_batch`` has written it durably. One batch is written
    at a time; what is queued meanwhile goes in the next, so N concurrent appends cost one write.
    A failed batch fails each of its appends (``write_batch`` writes all or none)."""

    def __init__(self, write_batch: Callable[[list[AuditDraft]], Awaitable[list[AuditEntry]]]) -> None:
        self._write_batch = write_batch
        self._queued: list[tuple[AuditDraft, asyncio.Future[AuditEntry]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(
        self,
        event: str,
        *,
        peer_id: str,
        subject: str,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        time_ms: int | None = None,
        once: str = "",
    ) -> AuditEntry:
        draft = draft_entry(
            event, peer_id=peer_id, subject=subject, reason=reason, details=details, time_ms=time_ms, once=once
        )
        written: asyncio.Future[AuditEntry] = asyncio.get_running_loop().create_future()
        self._queued.append((draft, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        # Awaited without a shield (one future and two callbacks fewer per append, issue 18 item
        # 1): a cancelled caller cancels only its own future; its entry stays queued and is
        # written all the same (the writer skips results nobody waits for).
        return await written

    async def append_all(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Queue ``drafts`` together and return their entries, in order, once written: they are in
        ONE batch (one write: all or none), with whatever else was queued beside them. A group
        commit per federation transaction (issue 18 item 2)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[AuditEntry]] = [loop.create_future() for _ in drafts]
        self._queued.extend(zip(drafts, futures, strict=True))
        if futures and (self._writer is None or self._writer.done()):
            self._writer = asyncio.create_task(self._write_queued())
        written = await asyncio.shield(asyncio.gather(*futures, return_exceptions=True))
        for outcome in written:  # one batch: all written, or every one failed with the same error
            if isinstance(outcome, BaseException):
                raise outcome
        return [outcome for outcome in written if isinstance(outcome, AuditEntry)]

    async def _write_queued(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                entries = await self._write_batch([draft for draft, _ in batch])
            except Exception as err:  # each waiting append raises it; nothing of the batch was written
                for _, written in batch:
                    if not written.done():  # done: its caller was cancelled
                        written.set_exception(err)
                continue
            for (_, written), entry in zip(batch, entries, strict=True):
                if not written.done():
                    written.set_result(entry)

    async def drain(self) -> None:
        """Wait until what was queued is written (before closing)."""
        if self._writer is not None:
            await self._writer
