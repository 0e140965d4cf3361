"""The gateway's shared state (issue 6 item 1) on both backends, embedded SQLite and a real
redis-server: what several replicas of one gateway rely on (documents, exactly-once nonce claims,
ONE audit hash chain (LAF, FGMV-43 7.5.3), the shared key cache), and the durability the Redis
backend checks before it serves."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.agreements import ACTIVE, NS, AgreementBook
from gateway.keyring import Keyring
from gateway.servicer import key_set
from gateway.verification import ForeignItemVerifier
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.audit import HASH_MISMATCH
from mmmfed.config import GatewayConfig, StoreConfig, load_config
from mmmfed.errors import FailedPrecondition, InvalidInput, Unavailable
from mmmfed.keys import InstanceKeyStore
from mmmfed.store import SharedAuditLog, SharedState, embedded_state
from mmmfed.store.changes import DocumentChanges
from mmmfed.store.redis import open_redis_state
from mmmfed.testing import RedisServer

PEER = "a.example"
Replica = tuple[SharedState, SharedAuditLog]


@dataclass
class Backend:
    """Opens "replicas": each its own connection(s) to the same backing state."""

    name: str
    make: Callable[[], Replica]
    opened: list[Replica] = field(default_factory=list)

    def replica(self) -> Replica:
        opened = self.make()
        self.opened.append(opened)
        return opened


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """The embedded backend in tmp_path, or Redis on a real redis-server (``redis_server``)."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        config = StoreConfig(backend="redis", redis_url=server.url)
        chosen = Backend("redis", lambda: open_redis_state(config, m_instance_id="b.example"))
    else:
        chosen = Backend("sqlite", lambda: embedded_state(tmp_path / "gateway-b"))
    try:
        yield chosen
    finally:
        for state, audit in chosen.opened:
            await state.close()
            await audit.close()


async def _started(backend: Backend, n: int) -> list[Replica]:
    replicas = [backend.replica() for _ in range(n)]
    for state, _ in replicas:
        await state.start()
    return replicas


# -- documents -----------------------------------------------------------------------------
async def test_documents_round_trip_between_replicas(backend: Backend) -> None:
    """A document written through one replica is read, replaced and listed through another,
    byte for byte; namespaces are separate and a missing document is None."""
    (one, _), (two, _) = await _started(backend, 2)
    value = b"\x00\xffbinary \xe2\x82\xac"
    await one.put_document("agreement", PEER, value)
    assert await two.get_document("agreement", PEER) == value
    await two.put_document("agreement", PEER, b"replaced")
    await two.put_document("agreement", "c.example", b"c")
    assert await one.get_document("agreement", PEER) == b"replaced"
    assert await one.list_documents("agreement") == {PEER: b"replaced", "c.example": b"c"}
    assert list(await one.list_documents("agreement")) == sorted([PEER, "c.example"])
    assert await one.get_document("agreement/consent", PEER) is None
    assert await one.list_documents("manifesto/answer") == {}


# -- documents read on every request: the agreement in force ---------------------------------
def _book(state: SharedState, tmp_path: Path) -> AgreementBook:
    """An AgreementBook of b.example on ``state`` (its keys and verifier are never used here)."""
    keys = InstanceKeyStore(tmp_path / "keys", "b.example")
    return AgreementBook("b.example", state, keys, ForeignItemVerifier(Keyring(_no_fetch)))


async def _no_fetch(m_instance: str) -> mpb.KeySet:
    raise AssertionError("no key is fetched here")


def _active() -> bytes:
    doc = {
        "AgreementID": "urn:uuid:agreement-1",
        "ValidUntilMs": int(time.time() * 1000) + 3_600_000,
        "Scope": {"ItemTypes": ["PAC"], "Actions": ["Resolve"]},
    }
    return json.dumps({"Status": ACTIVE, "Document": doc}).encode()


def _count_reads(state: SharedState) -> list[str]:
    """Record every document read of ``state`` (one entry per read)."""
    reads: list[str] = []
    read = state.get_document

    async def counted(namespace: str, key: str) -> bytes | None:
        reads.append(f"{namespace} {key}")
        return await read(namespace, key)

    state.get_document = counted  # type: ignore[method-assign]
    return reads


async def _until(condition: Callable[[], bool], *, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_the_agreement_in_force_is_read_once_and_a_revocation_anywhere_stops_it(
    backend: Backend, tmp_path: Path
) -> None:
    """Replica one reads the agreement once and then answers from memory (no read, so no Redis
    round trip, per request); when replica two revokes it, replica one refuses the next request:
    on SQLite at once (the file says it changed), on Redis as soon as the published change
    arrives (here: within 1 s, in practice milliseconds)."""
    (one, _), (two, _) = await _started(backend, 2)
    await _until(lambda: one.documents_token() is not None)  # Redis: the change feed is followed
    await two.put_document(NS, PEER, _active())
    book_one, book_two = _book(one, tmp_path), _book(two, tmp_path)
    reads = _count_reads(one)
    for _ in range(20):
        assert await book_one.require_active(PEER, item_type="PAC", action="Resolve") == "urn:uuid:agreement-1"
    assert reads == [f"{NS} {PEER}"]

    token = one.documents_token()
    await book_two.revoke(PEER, reason="operator revoked it")
    if backend.name == "redis":
        await _until(lambda: one.documents_token() != token, within_s=1.0)
    else:
        assert one.documents_token() != token  # nothing to wait for
    with pytest.raises(FailedPrecondition) as refused:
        await book_one.require_active(PEER, item_type="PAC", action="Resolve")
    assert refused.value.reason == "AGREEMENT_REVOKED"
    assert reads == [f"{NS} {PEER}"] * 2


async def test_a_replica_whose_change_feed_breaks_reads_again_until_it_is_back(redis_server: RedisServer) -> None:
    """Redis drops replica one's subscription (CLIENT KILL): it may have missed changes, so the
    token it answered under is void at once or within the staleness bound; it subscribes again
    and vouches again, under a new token."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url)
    state, audit = open_redis_state(config, m_instance_id="b.example")
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        await state.start()
        await _until(lambda: state.documents_token() is not None)
        before = state.documents_token()
        assert await admin.client_kill_filter(_type="pubsub") >= 1
        await _until(lambda: state.documents_token() != before, within_s=2 * state.changes.max_staleness_s)
        await _until(lambda: state.documents_token() is not None)
        assert state.documents_token() != before
    finally:
        await admin.aclose()
        await state.close()
        await audit.close()


def test_the_change_feed_vouches_only_for_what_a_recent_ping_covers() -> None:
    """DocumentChanges: no token until a PING is answered; a token while the newest answered
    PING is at most max_staleness_s old; a change or a lost subscription voids every token."""
    now = [100.0]
    changes = DocumentChanges(max_staleness_s=1.0, clock=lambda: now[0])
    assert changes.token() is None
    changes.confirmed(sent_at=99.5)
    first = changes.token()
    assert first is not None
    now[0] = 100.49
    assert changes.token() == first
    now[0] = 100.51  # the ping answered was sent 1.01 s ago
    assert changes.token() is None
    changes.confirmed(sent_at=100.5)
    assert changes.token() == first  # nothing changed meanwhile: the same token
    changes.changed()
    assert changes.token() not in (None, first)
    second = changes.token()
    changes.lost()
    assert changes.token() is None
    changes.confirmed(sent_at=100.51)
    assert changes.token() not in (None, first, second)
    with pytest.raises(ValueError):
        DocumentChanges(max_staleness_s=0)


# -- replay nonces -------------------------------------------------------------------------
async def test_each_nonce_is_claimed_exactly_once_by_concurrent_replicas(backend: Backend) -> None:
    """Thirty concurrent claims of one transfer id, spread over three replicas (separate
    connections), give exactly one True; so for each of five ids claimed at the same time."""
    replicas = await _started(backend, 3)
    now = int(time.time() * 1000)
    nonces = [f"{PEER} urn:uuid:{i}" for i in range(5)]
    claims = [
        replicas[i % 3][0].claim_nonce("transfer", nonce, keep_until_ms=now + 60_000, now_ms=now)
        for nonce in nonces
        for i in range(30)
    ]
    results = await asyncio.gather(*claims)
    for k in range(len(nonces)):
        assert sum(results[k * 30 : (k + 1) * 30]) == 1


async def test_a_nonce_is_forgotten_only_after_it_may_be(backend: Backend) -> None:
    """A claimed nonce is a replay for every replica until ``keep_until_ms``, then may be claimed
    again; the same nonce in another namespace is another nonce."""
    (one, _), (two, _) = await _started(backend, 2)
    now = int(time.time() * 1000)
    assert await one.claim_nonce("transfer", "n-1", keep_until_ms=now + 300, now_ms=now)
    assert not await two.claim_nonce("transfer", "n-1", keep_until_ms=now + 300, now_ms=now)
    assert await two.claim_nonce("other", "n-1", keep_until_ms=now + 300, now_ms=now)
    await asyncio.sleep(0.6)
    later = int(time.time() * 1000)
    assert await two.claim_nonce("transfer", "n-1", keep_until_ms=later + 300, now_ms=later)


# -- the audit chain -----------------------------------------------------------------------
async def test_concurrent_replicas_append_one_valid_chain(backend: Backend) -> None:
    """Four replicas appending fifteen entries each, all at once, leave ONE chain: seq 1..60
    contiguous, every entry once, verify() ok from every replica, the same head everywhere, and
    a peer's part filtered and paged alike."""
    replicas = await _started(backend, 4)

    async def append(r: int, i: int) -> None:
        peer = PEER if i % 2 else "c.example"
        await replicas[r][1].append("ACCEPTED", peer_id=peer, subject=f"replica-{r}/{i}", details={"i": i})

    await asyncio.gather(*(append(r, i) for r in range(4) for i in range(15)))
    for _, audit in replicas:
        result = await audit.verify()
        assert result.ok and result.checked == 60 and result.head_seq == 60, result
        entries = await audit.entries()
        assert [e.seq for e in entries] == list(range(1, 61))
        assert sorted(e.subject for e in entries) == sorted(f"replica-{r}/{i}" for r in range(4) for i in range(15))
        assert await audit.head() == entries[-1] and result.head_hash == entries[-1].hash
    audit = replicas[0][1]
    mine = await audit.entries(peer_id=PEER)
    assert len(mine) == 28 and all(e.peer_id == PEER for e in mine)
    assert [e.seq for e in mine] == sorted(e.seq for e in mine)
    page = await audit.entries(peer_id=PEER, since_seq=mine[9].seq, limit=5)
    assert page == mine[10:15]
    assert await audit.entries(since_seq=55, limit=3) == (await audit.entries())[55:58]
    assert (await audit.verify(from_seq=31)).checked == 30


async def test_an_entry_with_a_once_key_is_written_once_across_replicas_and_retries(backend: Backend) -> None:
    """Issue 5: "the audit log shows each commit once". Three replicas each append the same commit
    twice, all at once, beside plain entries: one entry carries the key, every repeat returns
    that entry, and the chain stays valid; a later repeat (a retry after a crash) writes nothing."""
    replicas = await _started(backend, 3)

    async def commit(r: int) -> object:
        return await replicas[r][1].append(
            "ASSET_COMMITTED", peer_id=PEER, subject="urn:t:1", details={"r": r}, once="ASSET_COMMITTED urn:t:1"
        )

    async def plain(r: int, i: int) -> object:
        return await replicas[r][1].append("ACCEPTED", peer_id=PEER, subject=f"plain-{r}-{i}")

    results = await asyncio.gather(
        *(commit(r) for r in range(3) for _ in range(2)), *(plain(r, i) for r in range(3) for i in range(3))
    )
    commits = results[:6]
    audit = replicas[0][1]
    entries = await audit.entries()
    assert [e.subject for e in entries].count("urn:t:1") == 1 and len(entries) == 10
    assert all(c == commits[0] for c in commits)
    assert (await audit.verify()).ok
    again = await replicas[2][1].append(
        "ASSET_COMMITTED", peer_id=PEER, subject="urn:t:1", once="ASSET_COMMITTED urn:t:1"
    )
    assert again == commits[0] and len(await audit.entries()) == 10


async def test_malformed_entries_and_queries_are_refused_and_change_nothing(backend: Backend) -> None:
    """A malformed entry or query is refused with its reason on both backends alike, and the
    chain is unchanged."""
    ((_, audit),) = await _started(backend, 1)
    first = await audit.append("AGREEMENT_ACCEPTED", peer_id=PEER, subject="urn:uuid:1")
    with pytest.raises(InvalidInput) as bad:
        await audit.append("not upper snake", peer_id=PEER, subject="x")
    assert bad.value.reason == "AUDIT_ENTRY_MALFORMED"
    with pytest.raises(InvalidInput) as bad:
        await audit.append("ACCEPTED", peer_id=PEER, subject="x", details={"n": 2**53})
    assert bad.value.reason == "NOT_CANONICALIZABLE"
    with pytest.raises(InvalidInput) as bad:
        await audit.entries(limit=0)
    assert bad.value.reason == "AUDIT_QUERY_MALFORMED"
    assert await audit.entries() == [first] and (await audit.verify()).ok


# -- records (federation transactions' results) -------------------------------------------
async def test_records_are_shared_durable_and_dropped_after_their_time(backend: Backend, tmp_path: Path) -> None:
    """A record one replica writes is read by another while it is kept; once kept past its time
    it is read by none, and (SQLite) the next write deletes it from the file: a peer's
    transactions cost this node bounded storage (issue 18 item 2)."""
    (one, _), (two, _) = await _started(backend, 2)
    now = int(time.time() * 1000)
    await one.put_record("federation/transactions", "a t-1", b"result-1", keep_until_ms=now + 400, now_ms=now)
    await one.put_record("federation/transactions", "a t-1", b"result-1b", keep_until_ms=now + 400, now_ms=now)
    assert await two.get_record("federation/transactions", "a t-1", now_ms=now) == b"result-1b"
    assert await two.get_record("federation/transactions", "a t-2", now_ms=now) is None
    assert await two.get_record("other", "a t-1", now_ms=now) is None
    await asyncio.sleep(0.6)
    later = int(time.time() * 1000)
    assert await one.get_record("federation/transactions", "a t-1", now_ms=later) is None
    await two.put_record("federation/transactions", "a t-2", b"result-2", keep_until_ms=later + 60_000, now_ms=later)
    assert await one.get_record("federation/transactions", "a t-2", now_ms=later) == b"result-2"
    if backend.name == "sqlite":
        db = sqlite3.connect(tmp_path / "gateway-b" / "store.sqlite3")
        keys = [row[0] for row in db.execute("SELECT key FROM records")]
        db.close()
        assert keys == ["a t-2"]


# -- the key cache -------------------------------------------------------------------------
async def test_cached_values_are_shared_and_expire(backend: Backend) -> None:
    """A value cached by one replica is read by another until its TTL passes, then by none."""
    (one, _), (two, _) = await _started(backend, 2)
    await one.put_cached("keyring", PEER, b"keys", ttl_ms=300)
    assert await two.get_cached("keyring", PEER) == b"keys"
    assert await two.get_cached("keyring", "c.example") is None
    await asyncio.sleep(0.6)
    assert await one.get_cached("keyring", PEER) is None and await two.get_cached("keyring", PEER) is None


async def test_replicas_keyrings_share_what_one_fetched(backend: Backend, tmp_path: Path) -> None:
    """The keyring of a second replica resolves a peer's key from the key set the first one
    fetched and verified: the peer's key service is asked once."""
    (one, _), (two, _) = await _started(backend, 2)
    keys = InstanceKeyStore(tmp_path / "a-keys", PEER)
    record = keys.ensure_key()
    asked: list[str] = []

    async def fetch(m_instance: str) -> mpb.KeySet:
        asked.append(m_instance)
        return key_set(keys)

    rings = [Keyring(fetch, cache=one), Keyring(fetch, cache=two)]
    now = int(time.time() * 1000)
    resolved = [await ring.resolve(keys.method(record), at_ms=now, expected_instance=PEER) for ring in rings]
    assert resolved == [record.public_key, record.public_key]
    assert asked == [PEER] and [ring.fetches for ring in rings] == [1, 0]


# -- Redis durability ----------------------------------------------------------------------
async def test_redis_refuses_to_start_without_durable_acknowledged_writes(redis_server: RedisServer) -> None:
    """Without its AOF, or (before Redis 7.2, which has no WAITAOF) with an AOF fsynced only
    every second, the gateway's Redis store refuses to start: STORE_NOT_DURABLE."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url)
    admin = aioredis.Redis.from_url(redis_server.url)
    state, audit = open_redis_state(config, m_instance_id="b.example")
    try:
        version = tuple(int(p) for p in (await admin.info("server"))["redis_version"].split(".")[:2])
        await state.start()  # the fixture's appendfsync always
        await admin.config_set("appendfsync", "everysec")
        if version < (7, 2):
            with pytest.raises(FailedPrecondition) as refused:
                await state.start()
            assert refused.value.reason == "STORE_NOT_DURABLE" and "appendfsync always" in refused.value.message
        else:
            await state.start()  # WAITAOF makes everysec durable per write
        await admin.config_set("appendonly", "no")
        with pytest.raises(FailedPrecondition) as refused:
            await state.start()
        assert refused.value.reason == "STORE_NOT_DURABLE" and "appendonly" in refused.value.message
    finally:
        await admin.aclose()
        await state.close()
        await audit.close()


async def test_redis_writes_wait_for_the_configured_replicas(redis_server: RedisServer) -> None:
    """With ``redis_wait_replicas`` 1 and no Redis replica, a nonce claim, a document and an
    audit append are not acknowledged: Unavailable STORE_WRITE_NOT_DURABLE after the wait."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url, redis_wait_replicas=1, redis_wait_timeout_ms=100)
    state, audit = open_redis_state(config, m_instance_id="b.example")
    try:
        await state.start()
        now = int(time.time() * 1000)
        writes = [
            state.claim_nonce("transfer", "n", keep_until_ms=now + 60_000, now_ms=now),
            state.put_document("agreement", PEER, b"{}"),
            audit.append("ACCEPTED", peer_id=PEER, subject="x"),
        ]
        for write in writes:
            with pytest.raises(Unavailable) as err:
                await write
            assert err.value.reason == "STORE_WRITE_NOT_DURABLE"
    finally:
        await state.close()


async def test_acknowledged_writes_survive_a_redis_crash(redis_server: RedisServer) -> None:
    """What Redis acknowledged (appendfsync always) is there after SIGKILL and a restart on the
    same AOF: the claimed nonce is still a replay, the agreement and the audit chain are whole."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url)
    now = int(time.time() * 1000)
    state, audit = open_redis_state(config, m_instance_id="b.example")
    await state.start()
    assert await state.claim_nonce("transfer", "n", keep_until_ms=now + 600_000, now_ms=now)
    await state.put_document("agreement", PEER, b'{"Status": "ACTIVE"}')
    for i in range(3):
        await audit.append("ACCEPTED", peer_id=PEER, subject=f"item-{i}")
    await state.close()
    redis_server.kill()
    redis_server.start()
    state, audit = open_redis_state(config, m_instance_id="b.example")
    try:
        await state.start()
        assert not await state.claim_nonce("transfer", "n", keep_until_ms=now + 600_000, now_ms=now)
        assert await state.get_document("agreement", PEER) == b'{"Status": "ACTIVE"}'
        result = await audit.verify()
        assert result.ok and result.checked == 3
    finally:
        await state.close()


async def test_an_edited_redis_audit_entry_is_detected(redis_server: RedisServer) -> None:
    """Someone who edits an entry in Redis (not through the log) is caught by verify():
    HASH_MISMATCH at that entry."""
    config = StoreConfig(backend="redis", redis_url=redis_server.url, redis_key_prefix="fed")
    state, audit = open_redis_state(config, m_instance_id="b.example")
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        await state.start()
        for i in range(3):
            await audit.append("ACCEPTED", peer_id=PEER, subject=f"item-{i}")
        key = "fed:{b.example}:audit:log"
        row = json.loads(await admin.lindex(key, 1))
        row[5] = "EDITED"
        await admin.lset(key, 1, json.dumps(row))
        result = await audit.verify()
        assert (result.ok, result.reason, result.broken_seq, result.checked) == (False, HASH_MISMATCH, 2, 1)
    finally:
        await admin.aclose()
        await state.close()


def test_backend_redis_needs_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gateway configured for Redis without a URL is refused at load (CONFIG_INVALID);
    MMMFED_REDIS_URL supplies it."""
    tls = {"ca_cert": "ca.pem", "cert": "g.pem", "key": "g.key"}
    raw = {
        "m_instance_id": "b.example",
        "tls_name": "gateway.b.example",
        "data_dir": str(tmp_path),
        "tls": tls,
        "instance": {"tls_name": "instance.b.example", "address": "127.0.0.1:1"},
        "store": {"backend": "redis"},
    }
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(raw))
    monkeypatch.delenv("MMMFED_REDIS_URL", raising=False)
    with pytest.raises(InvalidInput) as err:
        load_config(path, GatewayConfig)
    assert err.value.reason == "CONFIG_INVALID" and "redis_url" in err.value.message
    monkeypatch.setenv("MMMFED_REDIS_URL", "redis://127.0.0.1:6379/0")
    assert load_config(path, GatewayConfig).store.redis_url == "redis://127.0.0.1:6379/0"
