"""Pieces of federation transactions without gRPC (issue 18 item 2): the retry schedule, and the
audit group commit a transaction is written in (either backend's GroupCommit, refusals still
coalesced per peer)."""

from __future__ import annotations

from pathlib import Path

from gateway.outbox import OutboxLimits, backoff_s
from gateway.refusals import REFUSALS_SUPPRESSED, CoalescingAuditLog
from mmmfed.audit import ACCEPTED, REFUSED, SqliteAuditLog, draft_entry
from mmmfed.store import EmbeddedAuditLog


def test_backoff_doubles_from_its_base_up_to_its_cap_with_full_jitter() -> None:
    limits = OutboxLimits(backoff_base_s=0.1, backoff_cap_s=1.0)
    assert [backoff_s(n, limits, rng=lambda: 1.0) for n in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert backoff_s(3, limits, rng=lambda: 0.0) == 0.0
    assert backoff_s(3, limits, rng=lambda: 0.5) == 0.4


async def test_append_all_writes_a_group_in_one_commit_and_once_keys_hold(tmp_path: Path) -> None:
    log = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    try:
        drafts = [draft_entry(ACCEPTED, peer_id="a.example", subject=f"i{n}", once=f"TXN t {n}") for n in range(50)]
        first = await log.append_all(drafts)
        again = await log.append_all(drafts)  # a retried transaction: the same entries, none new
        assert [e.seq for e in first] == list(range(1, 51))
        assert again == first
        assert len(await log.entries()) == 50 and (await log.verify()).ok
    finally:
        await log.close()


async def test_append_all_counts_a_peers_refusals_beyond_its_window(tmp_path: Path) -> None:
    log = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    coalescing = CoalescingAuditLog(log, per_window=10, window_s=60.0)
    try:
        drafts = [
            draft_entry(REFUSED if n % 2 else ACCEPTED, peer_id="a.example", subject=f"i{n}", reason="R" * (n % 2))
            for n in range(50)
        ]
        written = await coalescing.append_all(drafts)
        assert [e.event for e in written].count(REFUSED) == 10
        assert [e.event for e in written].count(ACCEPTED) == 25
        await coalescing.flush()
        summary = (await log.entries())[-1]
        assert (summary.event, summary.details["count"]) == (REFUSALS_SUPPRESSED, 15)
    finally:
        await coalescing.close()
