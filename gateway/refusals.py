"""Refusals a peer causes are coalesced, so it cannot grow the audit log without limit (issue 12
item 7).

:class:`CoalescingAuditLog` wraps the gateway's audit log (either backend). A refusal is an entry
whose event is ``REFUSED`` or ``AGREEMENT_REJECTED`` and whose ``peer_id`` names a peer. Per peer,
time runs in fixed windows of ``window_s`` (60 s) opened by the peer's first refusal: the first
``per_window`` (10) refusals of a window are written as they come; the rest are counted, by reason,
and written once, when the window ends, as ONE entry::

    event "REFUSALS_SUPPRESSED", peer_id <peer>, subject "", reason "",
    details {"count": N, "reasons": {"<reason>": n, ...}, "window_start_ms": ..., "window_end_ms": ...}

(at most :data:`MAX_REASONS` distinct reasons are named; the rest are summed under ``"OTHER"``, since
a reason may come from the peer's own answer). So a peer makes at most ``per_window + 1`` entries
per window, whatever it sends, and the chain stays one ordinary chain: nothing is rewritten, the
count is an entry like any other. Every other entry passes straight through.

The bound is per replica: the counters live in this process (no round trip per refusal), so R
replicas of one gateway write at most R * (per_window + 1) refusal entries per peer per window.
Pending counts are written at ``close()``; a crash loses at most one window's count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mmmfed.audit import AGREEMENT_REJECTED, REFUSED, AuditDraft, AuditEntry, VerifyResult
from mmmfed.store import SharedAuditLog

REFUSALS_SUPPRESSED = "REFUSALS_SUPPRESSED"
COALESCED_EVENTS = frozenset({REFUSED, AGREEMENT_REJECTED})
MAX_REASONS = 16
DEFAULT_PER_WINDOW = 10
DEFAULT_WINDOW_S = 60.0
MAX_OPEN_WINDOWS = 1024


@dataclass
class _Window:
    started: float  # monotonic seconds
    started_ms: int  # Unix ms
    written: int = 0
    last: asyncio.Future[AuditEntry] | None = None  # the window's latest refusal write
    suppressed: Counter[str] = field(default_factory=Counter)
    flusher: asyncio.Task[None] | None = None


class CoalescingAuditLog:
    """A :class:`mmmfed.store.SharedAuditLog` over ``log`` that coalesces each peer's refusals
    (module docstring). ``per_window`` >= 1 entries, ``window_s`` > 0 seconds; ``clock`` is
    monotonic seconds and ``wall_clock_ms`` Unix ms (tests pass fakes)."""

    def __init__(
        self,
        log: SharedAuditLog,
        *,
        per_window: int = DEFAULT_PER_WINDOW,
        window_s: float = DEFAULT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        if per_window < 1 or window_s <= 0:
            raise ValueError("per_window must be >= 1 and window_s > 0")
        self._log = log
        self._per_window = per_window
        self._window_s = window_s
        self._clock = clock
        self._wall_clock_ms = wall_clock_ms
        self._windows: dict[str, _Window] = {}
        self.suppressed_total = 0  # refusals counted instead of written, since start

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
        """As :meth:`SharedAuditLog.append`; a refusal beyond the window's allowance is counted,
        not written, and the entry returned is the latest refusal of that peer written in this
        window, once written (the count follows in its ``REFUSALS_SUPPRESSED`` entry)."""
        if event not in COALESCED_EVENTS or not peer_id:
            return await self._log.append(
                event, peer_id=peer_id, subject=subject, reason=reason, details=details, time_ms=time_ms, once=once
            )
        window = await self._window_of(peer_id)
        if window.written >= self._per_window and window.last is not None:
            self._count(peer_id, window, reason)
            return await asyncio.shield(window.last)
        window.written += 1
        window.last = asyncio.ensure_future(
            self._log.append(
                event, peer_id=peer_id, subject=subject, reason=reason, details=details, time_ms=time_ms, once=once
            )
        )
        return await asyncio.shield(window.last)  # a cancelled caller does not unwrite it

    async def append_all(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """As :meth:`SharedAuditLog.append_all` (one group commit), each peer's refusals counted
        against its window as :meth:`append` counts them: those beyond the allowance are counted,
        not written, and have no entry in the result (the result holds the entries written, in
        order)."""
        kept: list[AuditDraft] = []
        last_refusal: dict[str, int] = {}  # peer -> index in kept of its last refusal written
        windows: dict[str, _Window] = {}
        for draft in drafts:
            if draft.event not in COALESCED_EVENTS or not draft.peer_id:
                kept.append(draft)
                continue
            window = windows.get(draft.peer_id) or await self._window_of(draft.peer_id)
            windows[draft.peer_id] = window
            if window.written >= self._per_window and (window.last is not None or draft.peer_id in last_refusal):
                self._count(draft.peer_id, window, draft.reason)
                continue
            window.written += 1
            last_refusal[draft.peer_id] = len(kept)
            kept.append(draft)
        group = asyncio.ensure_future(self._log.append_all(kept))
        for peer_id, index in last_refusal.items():
            windows[peer_id].last = asyncio.ensure_future(_entry_at(group, index))
        return await asyncio.shield(group)  # a cancelled caller does not unwrite them

    def _count(self, peer_id: str, window: _Window, reason: str) -> None:
        """Count a refusal beyond the window's allowance; its count is written when the window ends."""
        named = reason in window.suppressed or len(window.suppressed) < MAX_REASONS - 1
        window.suppressed[reason if named else "OTHER"] += 1
        self.suppressed_total += 1
        if window.flusher is None:
            delay = max(0.0, window.started + self._window_s - self._clock())
            window.flusher = asyncio.create_task(self._flush_later(peer_id, window, delay))

    async def _window_of(self, peer_id: str) -> _Window:
        """The peer's current window; an ended one is closed (its count written) first. Past
        :data:`MAX_OPEN_WINDOWS` peers, every ended window is closed, so the table stays small."""
        if len(self._windows) >= MAX_OPEN_WINDOWS:
            ended = [(p, w) for p, w in self._windows.items() if self._clock() - w.started >= self._window_s]
            for other, ended_window in ended:
                await self._close_window(other, ended_window)
        window = self._windows.get(peer_id)
        if window is not None and self._clock() - window.started >= self._window_s:
            await self._close_window(peer_id, window)
            window = self._windows.get(peer_id)  # another refusal may have opened the next one meanwhile
        if window is None:
            window = self._windows[peer_id] = _Window(self._clock(), self._wall_clock_ms())
        return window

    async def _flush_later(self, peer_id: str, window: _Window, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        window.flusher = None  # this task is ending: closing the window must not cancel it
        await self._close_window(peer_id, window)

    async def _close_window(self, peer_id: str, window: _Window) -> None:
        if self._windows.get(peer_id) is window:
            del self._windows[peer_id]
        if window.flusher is not None:
            window.flusher.cancel()
            window.flusher = None
        if not window.suppressed:
            return
        counts, window.suppressed = window.suppressed, Counter()
        details = {
            "count": sum(counts.values()),
            "reasons": dict(sorted(counts.items())),
            "window_start_ms": window.started_ms,
            "window_end_ms": self._wall_clock_ms(),
        }
        await self._log.append(REFUSALS_SUPPRESSED, peer_id=peer_id, subject="", details=details)

    async def flush(self) -> None:
        """Write every pending count now and start new windows (before closing; tests)."""
        for peer_id, window in list(self._windows.items()):
            await self._close_window(peer_id, window)

    async def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        return await self._log.entries(peer_id=peer_id, since_seq=since_seq, limit=limit)

    async def head(self) -> AuditEntry | None:
        return await self._log.head()

    async def verify(self, *, from_seq: int = 1) -> VerifyResult:
        return await self._log.verify(from_seq=from_seq)

    async def close(self) -> None:
        """Write pending counts, then close the log (idempotent as the log's close is)."""
        await self.flush()
        await self._log.close()


async def _entry_at(group: Awaitable[list[AuditEntry]], index: int) -> AuditEntry:
    return (await group)[index]
