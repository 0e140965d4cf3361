"""Signed audit checkpoints (issue 12 item 7): signed by the M-Instance, verified with its keys,
and a log held to them (truncated or rewritten tails are named), plus what a peer keeps."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.audit_service import MAX_AUDIT_PAGE, AuditService, PeerCheckpoints
from gateway.keyring import Keyring
from gateway.servicer import key_set
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.audit import ACCEPTED, GENESIS_HASH, REFUSED, SqliteAuditLog, entry_hash
from mmmfed.audit.checkpoint import (
    AUDIT_REWRITTEN,
    AUDIT_TRUNCATED,
    CHECKPOINT_MALFORMED,
    CHECKPOINT_SIGNATURE_INVALID,
    AuditTailBroken,
    Checkpoint,
    CheckpointRefused,
    check_log_against,
    check_successor,
    own_key_resolver,
    parse_checkpoint,
    proof_method_and_time,
    sign_checkpoint,
    verify_checkpoint,
)
from mmmfed.cli.audit_checkpoint import verify_with_checkpoint
from mmmfed.config import StoreConfig
from mmmfed.errors import InvalidInput
from mmmfed.keys import InstanceKeyStore
from mmmfed.store import EmbeddedAuditLog, EmbeddedState, SqliteStore
from mmmfed.store.redis import open_redis_state
from mmmfed.testing import RedisServer

TRIGGERS = ("audit_log_no_update", "audit_log_no_delete", "audit_log_extends_chain")


@pytest.fixture
def keys(tmp_path: Path) -> InstanceKeyStore:
    store = InstanceKeyStore(tmp_path / "keys", "b.example")
    store.ensure_key()
    return store


@pytest.fixture
def log(tmp_path: Path) -> SqliteAuditLog:
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    for i in range(5):
        log.append(ACCEPTED, peer_id="a.example", subject=f"item-{i}", time_ms=1_700_000_000_000 + i)
    return log


def _verify_own(raw: bytes, keys: InstanceKeyStore, m_instance: str = "b.example") -> Checkpoint:
    checkpoint = parse_checkpoint(raw)
    _, at_ms = proof_method_and_time(checkpoint)
    verify_checkpoint(checkpoint, m_instance_id=m_instance, resolve_key=own_key_resolver(keys, at_ms=at_ms))
    return checkpoint


def _hold(log: SqliteAuditLog, checkpoint: Checkpoint) -> None:
    at = log.entries(since_seq=checkpoint.size - 1, limit=1) if checkpoint.size else []
    check_log_against(checkpoint, entry_at_size=at[0] if at else None, head=log.head())


def _attacker(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for trigger in TRIGGERS:
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def test_checkpoint_is_signed_with_size_head_time_and_m_instance(keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.1: the checkpoint names the M-Instance, the number of entries, the head's hash and
    the time, and verifies with the M-Instance's own published keys."""
    raw = sign_checkpoint(keys, log.head(), time_ms=1_700_000_001_000)
    checkpoint = _verify_own(raw, keys)
    head = log.head()
    assert head is not None
    assert (checkpoint.m_instance_id, checkpoint.size, checkpoint.head_hash, checkpoint.time_ms) == (
        "b.example",
        5,
        head.hash,
        1_700_000_001_000,
    )
    assert json.loads(raw)["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_checkpoint_of_an_empty_log_is_size_zero_at_genesis(keys: InstanceKeyStore) -> None:
    """Item 7.1: an empty log signs Size 0 and the genesis hash, and any log holds it."""
    checkpoint = _verify_own(sign_checkpoint(keys, None), keys)
    assert (checkpoint.size, checkpoint.head_hash) == (0, GENESIS_HASH)
    check_log_against(checkpoint, entry_at_size=None, head=None)


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: {**d, "Size": d["Size"] + 1},
        lambda d: {**d, "HeadHash": "f" * 64},
        lambda d: {**d, "TimeMs": d["TimeMs"] + 1},
        lambda d: {**d, "MInstanceID": "a.example"},
    ],
    ids=["size", "head", "time", "m_instance"],
)
def test_bad_checkpoint_signature_is_refused(keys: InstanceKeyStore, log: SqliteAuditLog, edit: object) -> None:
    """Item 7.3: any field changed after signing fails CHECKPOINT_SIGNATURE_INVALID."""
    doc = json.loads(sign_checkpoint(keys, log.head()))
    forged = json.dumps(edit(doc)).encode()  # type: ignore[operator]
    with pytest.raises(CheckpointRefused) as raised:
        _verify_own(forged, keys)
    assert raised.value.reason == CHECKPOINT_SIGNATURE_INVALID


def test_checkpoint_by_another_key_or_revoked_key_is_refused(
    tmp_path: Path, keys: InstanceKeyStore, log: SqliteAuditLog
) -> None:
    """Item 7.3: a checkpoint signed by a key that is not the M-Instance's, or by its key after
    that key was revoked, is CHECKPOINT_SIGNATURE_INVALID."""
    impostor = InstanceKeyStore(tmp_path / "impostor", "b.example")
    impostor.ensure_key()
    with pytest.raises(CheckpointRefused) as raised:
        _verify_own(sign_checkpoint(impostor, log.head()), keys)
    assert raised.value.reason == CHECKPOINT_SIGNATURE_INVALID
    raw = sign_checkpoint(keys, log.head())
    keys.revoke(keys.current()[0].key_id, at_ms=1)  # revoked since 1970: compromised
    with pytest.raises(CheckpointRefused) as raised:
        _verify_own(raw, keys)
    assert raised.value.reason == "CHECKPOINT_SIGNATURE_INVALID"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'{"Type": "x"}', b"\xff\xfe", b" " * 20_000])
def test_malformed_checkpoint_is_invalid_input(raw: bytes) -> None:
    """Item 7.3: what is not a checkpoint is InvalidInput CHECKPOINT_MALFORMED, not a crash."""
    with pytest.raises(InvalidInput) as raised:
        parse_checkpoint(raw)
    assert raised.value.reason == CHECKPOINT_MALFORMED


def test_truncated_tail_fails_checkpoint_check(tmp_path: Path, keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.3: a log cut below the checkpoint's size is AUDIT_TRUNCATED, though its chain
    still verifies on its own."""
    checkpoint = _verify_own(sign_checkpoint(keys, log.head()), keys)
    _attacker(tmp_path / "audit.sqlite3", "DELETE FROM audit_log WHERE seq >= 4")
    assert log.verify().ok
    with pytest.raises(AuditTailBroken) as raised:
        _hold(log, checkpoint)
    assert raised.value.reason == AUDIT_TRUNCATED


def test_rewritten_tail_fails_checkpoint_check(tmp_path: Path, keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.3: a tail cut and written again (same size, other entries, a valid chain) is
    AUDIT_REWRITTEN."""
    checkpoint = _verify_own(sign_checkpoint(keys, log.head()), keys)
    _attacker(tmp_path / "audit.sqlite3", "DELETE FROM audit_log WHERE seq >= 4")
    log.append(REFUSED, peer_id="a.example", subject="item-3", reason="EDITED", time_ms=1_700_000_000_003)
    log.append(REFUSED, peer_id="a.example", subject="item-4", reason="EDITED", time_ms=1_700_000_000_004)
    assert log.verify().ok
    with pytest.raises(AuditTailBroken) as raised:
        _hold(log, checkpoint)
    assert raised.value.reason == AUDIT_REWRITTEN


def test_growth_after_the_checkpoint_still_holds(keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.3: entries appended after the checkpoint do not fail it."""
    checkpoint = _verify_own(sign_checkpoint(keys, log.head()), keys)
    for i in range(3):
        log.append(ACCEPTED, peer_id="c.example", subject=f"later-{i}")
    _hold(log, checkpoint)
    assert log.verify().ok


def test_rewritten_entry_hash_is_what_is_compared(keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.3: the entry at the checkpoint's size must hash to its HeadHash."""
    checkpoint = _verify_own(sign_checkpoint(keys, log.head()), keys)
    entry = log.entries(since_seq=4, limit=1)[0]
    fields = {**entry.hashed_fields(), "reason": "EDITED"}
    forged = type(entry)(**fields, hash=entry_hash(fields))
    with pytest.raises(AuditTailBroken) as raised:
        check_log_against(checkpoint, entry_at_size=forged, head=forged)
    assert raised.value.reason == AUDIT_REWRITTEN


def test_successor_checkpoints_never_shrink_nor_fork(keys: InstanceKeyStore, log: SqliteAuditLog) -> None:
    """Item 7.2: between two checkpoints a peer sees that the size never shrinks and that one
    size has one head."""
    first = _verify_own(sign_checkpoint(keys, log.head()), keys)
    log.append(ACCEPTED, peer_id="a.example", subject="more")
    second = _verify_own(sign_checkpoint(keys, log.head()), keys)
    check_successor(first, second)
    with pytest.raises(AuditTailBroken) as raised:
        check_successor(second, first)
    assert raised.value.reason == AUDIT_TRUNCATED
    fork = _verify_own(sign_checkpoint(keys, log.entries(since_seq=4, limit=1)[0]), keys)
    assert fork.size == first.size
    with pytest.raises(AuditTailBroken) as forked:
        check_successor(first, Checkpoint(fork.m_instance_id, fork.size, "e" * 64, fork.time_ms, b"", {}))
    assert forked.value.reason == AUDIT_REWRITTEN


async def test_page_size_is_capped_and_only_the_callers_entries_are_served(
    tmp_path: Path, keys: InstanceKeyStore
) -> None:
    """Item 7.4: whatever limit a peer asks (0, 10**6), a page holds at most 500 entries, only
    of that peer, with a cursor to the next page and a signed checkpoint of the head."""
    log = EmbeddedAuditLog(SqliteAuditLog(tmp_path / "paged.sqlite3"))
    try:
        for i in range(1200):
            await log.append(ACCEPTED, peer_id="a.example" if i % 2 else "c.example", subject=f"s{i}")
        service = AuditService(log, keys)
        seen: list[int] = []
        since = 0
        for limit in (10**6, 0, 4_000_000_000):
            page = await service.page("a.example", since_seq=since, limit=limit)
            assert len(page.entries) <= MAX_AUDIT_PAGE
            assert {e.peer_id for e in page.entries} <= {"a.example"}
            seen += [e.seq for e in page.entries]
            checkpoint = _verify_own(page.checkpoint_json, keys)
            assert (checkpoint.size, checkpoint.head_hash) == (page.head_seq, page.head_hash) == (1200, page.head_hash)
            since = page.next_since_seq
            if not since:
                break
        assert seen == list(range(2, 1201, 2))
        assert since == 0
        huge = await service.page("a.example", since_seq=2**64 - 1, limit=5)
        assert list(huge.entries) == [] and huge.next_since_seq == 0
    finally:
        await log.close()


def _peer_checkpoints(tmp_path: Path, origin: InstanceKeyStore) -> PeerCheckpoints:
    async def fetch(m_instance: str) -> mpb.KeySet:
        assert m_instance == origin.m_instance_id
        return key_set(origin)

    async def no_fetch(peer: str) -> bytes:
        raise AssertionError(f"no checkpoint is fetched from {peer} in this test")

    return PeerCheckpoints(no_fetch, Keyring(fetch), EmbeddedState(SqliteStore(tmp_path / "peer-state")))


async def test_peer_keeps_the_last_checkpoint_and_refuses_a_contradicting_one(
    tmp_path: Path, keys: InstanceKeyStore, log: SqliteAuditLog
) -> None:
    """Item 7.2: a peer verifies the origin's checkpoint with the origin's published keys, keeps
    the newest, and refuses (keeping the old one as evidence) one that signs fewer entries."""
    peer = _peer_checkpoints(tmp_path, keys)
    big = sign_checkpoint(keys, log.head(), time_ms=2_000)
    kept = await peer.keep(big, "b.example")
    assert kept.size == 5 and (await peer.last("b.example")) == kept
    smaller = sign_checkpoint(keys, log.entries(since_seq=2, limit=1)[0], time_ms=3_000)
    with pytest.raises(AuditTailBroken) as raised:
        await peer.keep(smaller, "b.example")
    assert raised.value.reason == AUDIT_TRUNCATED
    assert (await peer.last("b.example")) == kept
    older = sign_checkpoint(keys, log.entries(since_seq=2, limit=1)[0], time_ms=1_000)
    assert (await peer.keep(older, "b.example")) == kept  # signed before the kept one: checked, not kept
    with pytest.raises(CheckpointRefused) as refused:
        await peer.keep(big, "c.example")
    assert refused.value.reason == CHECKPOINT_SIGNATURE_INVALID


async def test_truncated_and_rewritten_redis_tail_fails_checkpoint_verify(
    keys: InstanceKeyStore, redis_server: RedisServer
) -> None:
    """Items 7.1/7.3 on the Redis backend: the chain its replicas share is held to a checkpoint
    the same way (what `audit verify --checkpoint` runs): growth holds, a cut tail is
    AUDIT_TRUNCATED, a tail cut and appended again is AUDIT_REWRITTEN."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url)
    log = open_redis_state(config, m_instance_id="b.example")[1]
    admin = aioredis.Redis.from_url(redis_server.url)
    base = "mmmfed:{b.example}:audit"
    try:
        for i in range(5):
            await log.append(ACCEPTED, peer_id="a.example", subject=f"item-{i}")
        held = _verify_own(sign_checkpoint(keys, await log.head()), keys)
        await log.append(ACCEPTED, peer_id="a.example", subject="later")
        assert (await verify_with_checkpoint(log, keys, held))["ok"]

        await admin.ltrim(f"{base}:log", 0, 2)  # keep entries 1-3: the tail is cut
        third = (await log.entries(since_seq=2, limit=1))[0]
        await admin.set(f"{base}:head", f"3 {third.hash}")
        fresh = open_redis_state(config, m_instance_id="b.example")[1]  # a replica that never saw the cut head
        try:
            cut = await verify_with_checkpoint(fresh, keys, held)
            assert (cut["ok"], cut["reason"]) == (False, AUDIT_TRUNCATED), cut
            await fresh.append(REFUSED, peer_id="a.example", subject="forged-4", reason="EDITED")
            await fresh.append(REFUSED, peer_id="a.example", subject="forged-5", reason="EDITED")
            assert (await fresh.verify()).ok
            rewritten = await verify_with_checkpoint(fresh, keys, held)
            assert (rewritten["ok"], rewritten["reason"]) == (False, AUDIT_REWRITTEN), rewritten
        finally:
            await fresh.close()
    finally:
        await admin.aclose()
        await log.close()
