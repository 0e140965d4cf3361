"""A peer's refusals are coalesced (issue 12 item 7.5): bounded entries per peer per window, on
either audit backend, and the chain still verifies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.refusals import REFUSALS_SUPPRESSED, CoalescingAuditLog
from mmmfed.audit import ACCEPTED, AGREEMENT_REJECTED, REFUSED, SqliteAuditLog
from mmmfed.config import StoreConfig
from mmmfed.store import EmbeddedAuditLog, SharedAuditLog
from mmmfed.store.redis import open_redis_state
from mmmfed.testing import RedisServer


class FakeClock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _thousand_refusals(log: SharedAuditLog) -> None:
    clock = FakeClock()
    coalescing = CoalescingAuditLog(log, per_window=10, window_s=60.0, clock=clock)
    reasons = ["SIGNATURE_INVALID", "ORIGIN_MISMATCH", "PROCESS_ACTION_MALFORMED"]
    for i in range(1000):
        await coalescing.append(REFUSED, peer_id="a.example", subject=f"t{i}", reason=reasons[i % 3])
    assert len(await log.entries(peer_id="a.example")) == 10
    await coalescing.flush()
    entries = await log.entries(peer_id="a.example")
    assert [e.event for e in entries] == [REFUSED] * 10 + [REFUSALS_SUPPRESSED]
    summary = entries[-1].details
    assert summary["count"] == 990
    assert sum(summary["reasons"].values()) == 990 and set(summary["reasons"]) == set(reasons)
    assert (await log.verify()).ok


async def test_thousand_refusals_by_one_peer_make_bounded_entries(tmp_path: Path) -> None:
    """Item 7.5: 1,000 refusals by one peer within a window are 10 entries and one count."""
    log = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    try:
        await _thousand_refusals(log)
    finally:
        await log.close()


async def test_thousand_refusals_by_one_peer_make_bounded_entries_on_redis(redis_server: RedisServer) -> None:
    """Item 7.5: the same bound on the Redis backend the replicas share."""
    log = open_redis_state(StoreConfig(backend="redis", redis_url=redis_server.url), m_instance_id="b.example")[1]
    try:
        await _thousand_refusals(log)
    finally:
        await log.close()


async def test_refusal_entries_stay_bounded_per_window_over_time(tmp_path: Path) -> None:
    """Item 7.5: refusals spread over ten minutes give at most per_window + 1 entries a minute,
    and every refusal is accounted for (written or counted)."""
    clock = FakeClock()
    log = CoalescingAuditLog(
        EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3")), per_window=5, window_s=60.0, clock=clock
    )
    try:
        for _ in range(1000):
            await log.append(REFUSED, peer_id="a.example", subject="", reason="SIGNATURE_INVALID")
            clock.now += 0.6  # 100 refusals a minute, ten minutes
        await log.flush()
        entries = await log.entries(peer_id="a.example", limit=10_000)
        assert len(entries) <= 10 * (5 + 1) + 1
        written = sum(1 for e in entries if e.event == REFUSED)
        counted = sum(e.details["count"] for e in entries if e.event == REFUSALS_SUPPRESSED)
        assert written + counted == 1000
        assert (await log.verify()).ok
    finally:
        await log.close()


async def test_other_entries_and_other_peers_are_not_held_back(tmp_path: Path) -> None:
    """Item 7.5: accepts, entries without a peer and a second peer's refusals pass as before;
    AGREEMENT_REJECTED counts as a refusal."""
    inner = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    log = CoalescingAuditLog(inner, per_window=2, clock=FakeClock())
    try:
        for _ in range(5):
            await log.append(AGREEMENT_REJECTED, peer_id="a.example", subject="", reason="MANIFESTO_INVALID")
            await log.append(ACCEPTED, peer_id="a.example", subject="ok")
            await log.append(REFUSED, peer_id="", subject="local", reason="X")
            await log.append(REFUSED, peer_id="c.example", subject="", reason="Y")
        events = [(e.peer_id, e.event) for e in await log.entries(limit=100)]
        assert events.count(("a.example", ACCEPTED)) == 5
        assert events.count(("", REFUSED)) == 5
        assert events.count(("a.example", AGREEMENT_REJECTED)) == 2
        assert events.count(("c.example", REFUSED)) == 2
    finally:
        await log.close()
    reopened = SqliteAuditLog(tmp_path / "audit.sqlite3")
    summaries = [e for e in reopened.entries(limit=100) if e.event == REFUSALS_SUPPRESSED]
    reopened.close()
    assert sorted((e.peer_id, e.details["count"]) for e in summaries) == [("a.example", 3), ("c.example", 3)]


async def test_suppressed_count_is_written_when_the_window_ends(tmp_path: Path) -> None:
    """Item 7.5: with no further refusal, the count is written by itself once the window ends."""
    inner = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    log = CoalescingAuditLog(inner, per_window=1, window_s=0.05)
    try:
        for _ in range(4):
            await log.append(REFUSED, peer_id="a.example", subject="", reason="SIGNATURE_INVALID")
        for _ in range(200):  # a deadline, not a timing assert
            if any(e.event == REFUSALS_SUPPRESSED for e in await inner.entries()):
                break
            await asyncio.sleep(0.02)
        events = [e.event for e in await inner.entries()]
        assert events == [REFUSED, REFUSALS_SUPPRESSED]
        assert (await inner.entries())[-1].details["count"] == 3
    finally:
        await log.close()


def test_bad_limits_are_refused(tmp_path: Path) -> None:
    """per_window must be >= 1 and window_s > 0."""
    inner = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    with pytest.raises(ValueError, match="per_window"):
        CoalescingAuditLog(inner, per_window=0)
    with pytest.raises(ValueError, match="window_s"):
        CoalescingAuditLog(inner, window_s=0)


async def test_concurrent_refusals_are_bounded_too(tmp_path: Path) -> None:
    """Item 7.5: 1,000 refusals arriving at once (their writes still in flight) are bounded the
    same way: the allowance is taken before the write is awaited."""
    inner = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    log = CoalescingAuditLog(inner, per_window=10, clock=FakeClock())
    try:
        returned = await asyncio.gather(
            *(log.append(REFUSED, peer_id="a.example", subject=f"t{i}", reason="R") for i in range(1000))
        )
        written = await inner.entries()
        assert len(written) == 10
        assert {e.seq for e in returned} <= {e.seq for e in written}
        await log.flush()
        assert (await inner.entries())[-1].details["count"] == 990
    finally:
        await log.close()


async def test_concurrent_refusals_at_a_window_end_open_one_next_window(tmp_path: Path) -> None:
    """Item 7.5: refusals arriving together just after a window ended share ONE next window
    (its allowance), while the ended window's count is being written."""
    clock = FakeClock()
    inner = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    log = CoalescingAuditLog(inner, per_window=2, window_s=60.0, clock=clock)
    try:
        for _ in range(5):
            await log.append(REFUSED, peer_id="a.example", subject="", reason="R")
        clock.now += 61
        await asyncio.gather(*(log.append(REFUSED, peer_id="a.example", subject="", reason="R") for _ in range(100)))
        await log.flush()
        events = [(e.event, e.details.get("count")) for e in await inner.entries()]
        assert events == [(REFUSED, None)] * 2 + [(REFUSALS_SUPPRESSED, 3)] + [(REFUSED, None)] * 2 + [
            (REFUSALS_SUPPRESSED, 98)
        ]
    finally:
        await log.close()
