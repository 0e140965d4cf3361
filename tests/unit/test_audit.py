"""The LAF audit log (FGMV-43 7.5.3): hash-chained, append-only, durable, tamper-evident."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmmfed.audit import (
    ACCEPTED,
    AGREEMENT_PROPOSED,
    GENESIS_HASH,
    HASH_MISMATCH,
    LINK_BROKEN,
    REFUSED,
    SEQ_GAP,
    VERIFIED,
    AuditEntry,
    SqliteAuditLog,
    check_chain,
    entry_hash,
    verify_entry,
)
from mmmfed.errors import DataIntegrityError, InvalidInput

TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_log_extends_chain")


def _fill(log: SqliteAuditLog, n: int) -> list[AuditEntry]:
    peers = ["a.example", "b.example", ""]
    return [
        log.append(
            REFUSED if i % 2 else ACCEPTED,
            peer_id=peers[i % 3],
            subject=f"item-{i}",
            reason="SIGNATURE_INVALID" if i % 2 else "",
            details={"n": i, "route": "direct"},
            time_ms=1_700_000_000_000 + i,
        )
        for i in range(n)
    ]


def _attacker(path: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    """Edit the file as someone with write access to it would: drop the triggers, then change rows."""
    db = sqlite3.connect(path)
    for trigger in TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        db.execute(statement, params if "?" in statement else ())
    db.commit()
    db.close()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit" / "audit.sqlite3"


# --- append, read, reopen -------------------------------------------------------------------------


def test_append_then_verify(log_path: Path) -> None:
    """Appended entries number from 1, link to the previous hash (genesis: 64 zeros) and verify."""
    with SqliteAuditLog(log_path) as log:
        assert log.head() is None
        assert (log.verify().ok, log.verify().checked, log.verify().head_hash) == (True, 0, GENESIS_HASH)
        entries = _fill(log, 5)
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        result = log.verify()
        assert (result.ok, result.reason, result.broken_seq, result.checked) == (True, VERIFIED, None, 5)
        assert (result.head_seq, result.head_hash) == (5, entries[-1].hash)
        assert log.head() == entries[-1]


def test_hash_is_sha256_of_the_jcs_of_the_other_fields(log_path: Path) -> None:
    """A peer in any language can recompute an entry's hash from the documented JSON object."""
    with SqliteAuditLog(log_path) as log:
        entry = log.append(AGREEMENT_PROPOSED, peer_id="b.example", subject="agr-1", details={"b": [1, 2.5], "a": "é"})
    doc = {k: v for k, v in json.loads(json.dumps(entry.__dict__)).items() if k != "hash"}
    assert set(doc) == {"seq", "time_ms", "event", "peer_id", "subject", "reason", "details", "prev_hash"}
    assert entry.hash == hashlib.sha256(rfc8785.dumps(doc)).hexdigest() == entry_hash(entry.hashed_fields())


def test_entries_survive_reopening_the_file(log_path: Path) -> None:
    """What append returned is what a new process reads back, and the chain goes on from it."""
    with SqliteAuditLog(log_path) as log:
        before = _fill(log, 3)
    with SqliteAuditLog(log_path) as log:
        assert log.entries() == before
        nxt = log.append(ACCEPTED, peer_id="a.example", subject="item-3", details={"big": 1e20, "f": 1.0, "z": -0.0})
        assert (nxt.seq, nxt.prev_hash) == (4, before[-1].hash)
    with SqliteAuditLog(log_path) as log:
        assert log.entries()[-1] == nxt and log.verify().ok


def test_verify_from_seq_trusts_the_entries_before_it(log_path: Path) -> None:
    """An incremental check starts at a checkpoint; a checkpoint beyond the head means entries were lost."""
    with SqliteAuditLog(log_path) as log:
        entries = _fill(log, 6)
        result = log.verify(from_seq=4)
        assert (result.ok, result.checked, result.head_hash) == (True, 3, entries[-1].hash)
        assert log.verify(from_seq=7).ok and log.verify(from_seq=7).checked == 0
        beyond = log.verify(from_seq=9)
        assert (beyond.ok, beyond.reason, beyond.broken_seq) == (False, SEQ_GAP, 8)
        with pytest.raises(InvalidInput) as err:
            log.verify(from_seq=0)
        assert err.value.reason == "AUDIT_QUERY_MALFORMED"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"event": "accepted"}, "AUDIT_ENTRY_MALFORMED"),
        ({"event": ""}, "AUDIT_ENTRY_MALFORMED"),
        ({"peer_id": None}, "AUDIT_ENTRY_MALFORMED"),
        ({"details": ["not", "an", "object"]}, "AUDIT_ENTRY_MALFORMED"),
        ({"time_ms": -1}, "AUDIT_ENTRY_MALFORMED"),
        ({"time_ms": True}, "AUDIT_ENTRY_MALFORMED"),
        ({"time_ms": 2**53}, "AUDIT_ENTRY_MALFORMED"),
        ({"details": {"n": 2**53}}, "NOT_CANONICALIZABLE"),
        ({"details": {"x": float("nan")}}, "NOT_CANONICALIZABLE"),
        ({"details": {"s": "\ud800"}}, "NOT_CANONICALIZABLE"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(log_path: Path, kwargs: dict[str, Any], reason: str) -> None:
    """A malformed entry raises InvalidInput with a stable reason and leaves the log unchanged."""
    args: dict[str, Any] = {"event": ACCEPTED, "peer_id": "a.example", "subject": "i", "details": {}} | kwargs
    with SqliteAuditLog(log_path) as log:
        with pytest.raises(InvalidInput) as err:
            log.append(args.pop("event"), **args)
        assert err.value.reason == reason
        assert log.head() is None
        assert log.append(ACCEPTED, peer_id="a.example", subject="i").seq == 1


# --- the peer's part --------------------------------------------------------------------------------


def test_a_peer_gets_only_its_entries_page_by_page(log_path: Path) -> None:
    """entries(peer_id=...) selects that peer's entries, oldest first; since_seq/limit page through them."""
    with SqliteAuditLog(log_path) as log:
        entries = _fill(log, 10)
        mine = log.entries(peer_id="b.example")
        assert mine == [e for e in entries if e.peer_id == "b.example"] and [e.seq for e in mine] == [2, 5, 8]
        assert log.entries(peer_id="b.example", since_seq=2, limit=1) == [entries[4]]
        assert [e.seq for e in log.entries(peer_id="")] == [3, 6, 9]
        assert log.entries(peer_id="c.example") == []
        assert [e.seq for e in log.entries(since_seq=7)] == [8, 9, 10]
        for bad in ({"limit": 0}, {"since_seq": "1"}, {"peer_id": 3}):
            with pytest.raises(InvalidInput) as err:
                log.entries(**bad)
            assert err.value.reason == "AUDIT_QUERY_MALFORMED"


def test_a_peer_checks_each_entry_it_is_served(log_path: Path) -> None:
    """Each served entry's own hash recomputes; a contiguous run also checks as a chain."""
    with SqliteAuditLog(log_path) as log:
        _fill(log, 6)
        served = log.entries(peer_id="a.example")
        assert served and all(verify_entry(e) for e in served)
        assert not verify_entry(replace(served[0], reason="NOTHING_HAPPENED"))
        assert not verify_entry(replace(served[0], details={"n": float("inf")}))
        run = log.entries(since_seq=2)
        assert check_chain(run, first_seq=3, prev_hash=log.entries(since_seq=1, limit=1)[0].hash).ok
        assert check_chain(run[1:], first_seq=3, prev_hash=run[0].prev_hash).reason == SEQ_GAP


# --- append-only and tamper evidence ----------------------------------------------------------------


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET reason = 'X' WHERE seq = 2", "DELETE FROM audit_log"])
def test_update_and_delete_are_refused_on_any_connection(log_path: Path, statement: str) -> None:
    """Triggers in the file refuse UPDATE and DELETE, through the log's own connection and any other."""
    with SqliteAuditLog(log_path) as log:
        _fill(log, 3)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            log._db.execute(statement)
        other = sqlite3.connect(log_path)
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            other.execute(statement)
        other.close()
        assert log.verify().ok and log.verify().checked == 3


def test_an_insert_that_does_not_extend_the_chain_is_refused(log_path: Path) -> None:
    """A row with the wrong seq or prev_hash cannot be inserted: the chain cannot fork."""
    with SqliteAuditLog(log_path) as log:
        head = _fill(log, 2)[-1]
        for seq, prev in ((2, head.prev_hash), (4, head.hash), (3, GENESIS_HASH)):
            with pytest.raises(sqlite3.IntegrityError, match="extend the chain"):
                log._db.execute("INSERT INTO audit_log VALUES (?, 0, 'X', '', '', '', '{}', ?, ?)", (seq, prev, "0"))
        assert log.append(ACCEPTED, peer_id="", subject="s").seq == 3


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE audit_log SET reason = 'NONE' WHERE seq = 3",
        """UPDATE audit_log SET details = '{"n":2,"route":"bridge"}' WHERE seq = 3""",
        "UPDATE audit_log SET peer_id = 'c.example' WHERE seq = 3",
        "UPDATE audit_log SET hash = prev_hash WHERE seq = 3",
    ],
)
def test_an_edited_row_is_a_hash_mismatch_at_its_seq(log_path: Path, edit: str) -> None:
    """Editing a field in the file (triggers dropped) is found: HASH_MISMATCH at that seq."""
    with SqliteAuditLog(log_path) as log:
        entries = _fill(log, 5)
        _attacker(log_path, edit)
        result = log.verify()
        assert (result.ok, result.reason, result.broken_seq, result.checked) == (False, HASH_MISMATCH, 3, 2)
        assert result.head_hash == entries[1].hash


def test_an_edited_and_rehashed_row_breaks_the_next_link(log_path: Path) -> None:
    """Rehashing the edited entry alone moves the break to the next entry: LINK_BROKEN there."""
    with SqliteAuditLog(log_path) as log:
        entries = _fill(log, 5)
        forged = replace(entries[2], reason="NONE")
        _attacker(
            log_path,
            "UPDATE audit_log SET reason = 'NONE', hash = ? WHERE seq = 3",
            params=(entry_hash(forged.hashed_fields()),),
        )
        result = log.verify()
        assert (result.reason, result.broken_seq) == (LINK_BROKEN, 4)


def test_a_deleted_middle_row_is_a_seq_gap(log_path: Path) -> None:
    """Deleting an entry leaves a gap; renumbering the rest to close it breaks their hashes."""
    with SqliteAuditLog(log_path) as log:
        _fill(log, 5)
        _attacker(log_path, "DELETE FROM audit_log WHERE seq = 3")
        result = log.verify()
        assert (result.ok, result.reason, result.broken_seq, result.checked) == (False, SEQ_GAP, 3, 2)
        _attacker(log_path, "UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
        assert (log.verify().reason, log.verify().broken_seq) == (HASH_MISMATCH, 3)


def test_a_dropped_tail_is_seen_only_against_a_recorded_head(log_path: Path) -> None:
    """Truncation keeps the chain valid; the recorded head (checkpoint) is what shows it."""
    with SqliteAuditLog(log_path) as log:
        recorded = _fill(log, 4)[-1]
        _attacker(log_path, "DELETE FROM audit_log WHERE seq = 4")
        assert log.verify().ok and log.verify().head_hash != recorded.hash
        assert log.verify(from_seq=recorded.seq + 1).reason == SEQ_GAP


def test_an_unreadable_row_is_reported_not_raised_by_verify(log_path: Path) -> None:
    """details that are not JSON: verify says HASH_MISMATCH; entries raises AUDIT_LOG_CORRUPT."""
    with SqliteAuditLog(log_path) as log:
        _fill(log, 3)
        _attacker(log_path, "UPDATE audit_log SET details = '{not json' WHERE seq = 2")
        assert (log.verify().reason, log.verify().broken_seq) == (HASH_MISMATCH, 2)
        with pytest.raises(DataIntegrityError) as err:
            log.entries()
        assert err.value.reason == "AUDIT_LOG_CORRUPT"
        assert [e.seq for e in log.entries(since_seq=2)] == [3]


# --- concurrency ------------------------------------------------------------------------------------


def test_concurrent_appends_from_two_connections_keep_one_chain(log_path: Path) -> None:
    """Two logs (two connections) on one file, each shared by two threads: one linear chain."""
    logs = [SqliteAuditLog(log_path), SqliteAuditLog(log_path)]
    start = threading.Barrier(4)

    def writer(log: SqliteAuditLog, name: str) -> None:
        start.wait()
        for i in range(40):
            log.append(ACCEPTED, peer_id=name, subject=f"{name}-{i}")

    threads = [threading.Thread(target=writer, args=(logs[i % 2], f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = logs[0].verify()
    assert (result.ok, result.checked) == (True, 160)
    entries = logs[1].entries(limit=1000)
    assert [e.seq for e in entries] == list(range(1, 161))
    for name in ("w0", "w1", "w2", "w3"):  # each writer's entries in its own order
        assert [e.subject for e in entries if e.peer_id == name] == [f"{name}-{i}" for i in range(40)]
    for log in logs:
        log.close()


# --- properties ---------------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53 - 1), 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
_appends = st.lists(
    st.fixed_dictionaries(
        {
            "event": st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True),
            "peer_id": st.text(max_size=10),
            "subject": st.text(max_size=10),
            "reason": st.text(max_size=10),
            "details": st.dictionaries(st.text(max_size=5), _json, max_size=3),
            "time_ms": st.integers(0, 2**53 - 1),
        }
    ),
    min_size=1,
    max_size=6,
)
_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(_appends)
def test_any_sequence_of_appends_verifies(appends: list[dict[str, Any]]) -> None:
    """Whatever is appended reads back equal after reopening, and the chain verifies."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.sqlite3"
        with SqliteAuditLog(path) as log:
            written = [log.append(a["event"], **{k: v for k, v in a.items() if k != "event"}) for a in appends]
        with SqliteAuditLog(path) as log:
            assert log.entries() == written
            result = log.verify()
            assert (result.ok, result.checked, result.head_hash) == (True, len(appends), written[-1].hash)


def _mutated(entry: AuditEntry, name: str, max_seq: int) -> object:
    value = getattr(entry, name)
    if name == "seq":
        return max_seq + 10
    if name == "time_ms":
        return value ^ 1
    if name == "details":
        return rfc8785.dumps({"x": value}).decode()
    if name in ("hash", "prev_hash"):
        return value[:-1] + ("1" if value[-1] == "0" else "0")
    return value + "x"


@_PROPERTY
@given(_appends, st.data())
def test_changing_any_field_of_any_entry_fails_verify(appends: list[dict[str, Any]], data: st.DataObject) -> None:
    """One changed field anywhere is found at that entry: SEQ_GAP for seq, HASH_MISMATCH otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.sqlite3"
        with SqliteAuditLog(path) as log:
            written = [log.append(a["event"], **{k: v for k, v in a.items() if k != "event"}) for a in appends]
            target = data.draw(st.sampled_from(written))
            name = data.draw(st.sampled_from(list(AuditEntry.__dataclass_fields__)))
            new = _mutated(target, name, len(written))
            _attacker(path, f"UPDATE audit_log SET {name} = ? WHERE seq = ?", params=(new, target.seq))
            result = log.verify()
            assert not result.ok
            assert (result.reason, result.broken_seq) == (SEQ_GAP if name == "seq" else HASH_MISMATCH, target.seq)


async def test_concurrent_appends_are_group_committed_into_one_chain(tmp_path: Path) -> None:
    """The gateway's embedded audit log writes concurrent appends in one transaction (one
    fsync for the batch, in a worker thread): 50 appends at once give seq 1..50 in one valid
    chain, each caller gets its own entry back, and far fewer transactions than appends ran."""
    import asyncio

    from mmmfed.store.shared import EmbeddedAuditLog

    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    transactions = []
    original = log.append_drafts

    def counting(drafts: Any) -> list[AuditEntry]:
        transactions.append(len(drafts))
        return original(drafts)

    log.append_drafts = counting  # type: ignore[method-assign]
    shared = EmbeddedAuditLog(log)
    entries = await asyncio.gather(
        *(shared.append(ACCEPTED, peer_id="b.example", subject=f"item-{i}") for i in range(50))
    )
    assert [e.subject for e in entries] == [f"item-{i}" for i in range(50)]
    assert sorted(e.seq for e in entries) == list(range(1, 51))
    assert sum(transactions) == 50 and len(transactions) < 50
    assert (await shared.verify()).ok
    with pytest.raises(InvalidInput) as err:
        await shared.append("", peer_id="b.example", subject="x")  # refused before anything is queued
    assert err.value.reason == "AUDIT_ENTRY_MALFORMED"
    assert (await shared.head()).seq == 50  # type: ignore[union-attr]
    await shared.close()


async def test_a_cancelled_append_is_written_all_the_same(tmp_path: Path) -> None:
    """An append whose caller is cancelled while its batch is being written (a client gone) is
    still written, in its place in the chain, and the appends beside it get their entries."""
    import asyncio

    from mmmfed.store.shared import EmbeddedAuditLog

    shared = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "audit.sqlite3"))
    first = asyncio.ensure_future(shared.append(ACCEPTED, peer_id="b.example", subject="kept"))
    gone = asyncio.ensure_future(shared.append(ACCEPTED, peer_id="b.example", subject="caller-gone"))
    await asyncio.sleep(0)  # both queued, the writer started
    gone.cancel()
    assert (await first).subject == "kept"
    with pytest.raises(asyncio.CancelledError):
        await gone
    await shared.close()  # drains the writer
    reopened = SqliteAuditLog(tmp_path / "audit.sqlite3")
    assert [e.subject for e in reopened.entries()] == ["kept", "caller-gone"]
    assert reopened.verify().ok
    reopened.close()
