"""Redis backend of the gateway's shared state (issue 6 item 1): several replicas of one
M-Instance's gateway behind one address share manifestos, agreements, replay nonces, the peer key
cache and ONE audit hash chain (LAF, FGMV-43 7.5.3).

Keys, all under ``<redis_key_prefix>:{<M-Instance id>}`` (one Redis Cluster hash slot per
M-Instance, so the audit script's keys live together):

``...:doc:<namespace>``          hash, document key -> bytes
``...:nonce:<namespace>:<nonce>`` string, ``SET NX PX`` (expires when it may be forgotten)
``...:cache:<namespace>:<key>``   string with a TTL (peers' key sets)
``...:audit:log``                 list; element ``seq - 1`` is entry ``seq`` (JSON array of its 9 fields)
``...:audit:head``                string ``"<seq> <hash>"`` of the newest entry
``...:audit:peer:<peer id>``      sorted set of the seqs of that peer's entries

The chain. The entry hash (SHA-256 of JCS) is computed by the gateway, not by Redis, so an append
is a compare-and-set: take the head, build the entries after it, and run :data:`_APPEND_LUA`, which
appends them only if the head is still the one taken (else the replica reads the new head and
tries again). A replica writes one batch at a time (a group commit: what is queued meanwhile goes
in the next batch, one script call and one durability wait for all), first trusting the head it
last wrote, so an uncontended append costs one round trip; retries only happen between replicas
and each failed attempt means another replica's entries went in: the chain never forks.

Durability. Writes that ownership of record depends on (documents: agreements and consents;
nonce claims; audit appends) are acknowledged only once durable: with Redis >= 7.2 each is
followed, on the same connection, by ``WAITAOF 1 <replicas> <timeout>`` (needs ``appendonly
yes``); before 7.2 (Debian 12 ships 7.0) the server must run ``appendfsync always`` (it fsyncs
the AOF before it replies) and each write is followed by ``WAIT <replicas> <timeout>`` when
``redis_wait_replicas`` > 0. :meth:`RedisState.start` reads the server's version and ``CONFIG
GET append*`` and refuses to start (FailedPrecondition ``STORE_NOT_DURABLE``) otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from mmmfed.audit import (
    GENESIS_HASH,
    SEQ_GAP,
    VERIFIED,
    AuditDraft,
    AuditEntry,
    VerifyResult,
    check_entries_query,
    check_rows,
    check_verify_from,
    entry_from_row,
    entry_row,
)
from mmmfed.config import StoreConfig
from mmmfed.errors import DataIntegrityError, FailedPrecondition, Unavailable
from mmmfed.store.changes import DEFAULT_MAX_STALENESS_S, DocumentChanges
from mmmfed.store.shared import GroupCommit

log = logging.getLogger(__name__)

WAITAOF_SINCE = (7, 2)
MODE_WAITAOF = "WAITAOF"
MODE_FSYNC_ALWAYS = "appendfsync always"
MAX_APPEND_ATTEMPTS = 100
VERIFY_PAGE = 1000

_APPEND_LUA = """
local head = redis.call('GET', KEYS[1]) or ''
if head ~= ARGV[1] then return {0, head} end
local seq = tonumber(ARGV[2])
if redis.call('LLEN', KEYS[2]) ~= seq - 1 then return -1 end
local n = tonumber(ARGV[4])
for i = 1, n do
  local once = ARGV[4 + n + i]
  if once ~= '' and redis.call('HEXISTS', KEYS[3], once) == 1 then return {0, head} end
end
for i = 1, n do
  redis.call('RPUSH', KEYS[2], ARGV[4 + i])
  redis.call('ZADD', KEYS[3 + i], seq + i - 1, tostring(seq + i - 1))
  local once = ARGV[4 + n + i]
  if once ~= '' then redis.call('HSET', KEYS[3], once, seq + i - 1) end
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""
"""A batch of entries appended after the head, atomically. KEYS: head, log, the once-key hash,
then the peer index of each entry. ARGV: the head expected ("" when empty), the first new seq,
the new head, the number n of entries, the n rows in order, then their n once keys ("" for
none). Returns 1 (appended), {0, the head now} (the head moved, or a once key was written
meanwhile: build the batch again after that head, without reading it) or -1 (the list and its
head disagree)."""


@asynccontextmanager
async def _reachable(what: str) -> AsyncIterator[None]:
    """Redis connection failures and time-outs as Unavailable ``STORE_UNAVAILABLE`` (retryable)."""
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as err:
        message = f"the gateway's Redis store cannot be reached ({what}): {err}"
        raise Unavailable(message, reason="STORE_UNAVAILABLE") from err


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisDurability:
    """How one gateway makes Redis writes durable before acknowledging them (module docstring).

    Args:
        wait_replicas: Redis replicas that must have each such write (``redis_wait_replicas``).
        wait_timeout_ms: how long WAIT / WAITAOF may block (milliseconds).
    """

    def __init__(self, *, wait_replicas: int, wait_timeout_ms: int) -> None:
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.mode: str | None = None
        self.server_version = ""

    async def check(self, client: aioredis.Redis) -> str:
        """Decide the mode from the server; FailedPrecondition ``STORE_NOT_DURABLE`` when the
        server does not keep acknowledged writes (no AOF; before 7.2, AOF without
        ``appendfsync always``) or will not say (CONFIG GET refused)."""
        async with _reachable("start-up check"):
            info = await client.info("server")
            try:
                config = {_text(k): _text(v) for k, v in (await client.config_get("append*")).items()}
            except redis_errors.ResponseError as err:
                raise FailedPrecondition(
                    f"Redis refused CONFIG GET ({err}): the gateway cannot check that acknowledged writes are "
                    "durable, and ownership of record needs that (see the README, 'Gateway replicas on Redis')",
                    reason="STORE_NOT_DURABLE",
                ) from err
        self.server_version = _text(info.get("redis_version", "0"))
        version = tuple(int(p) for p in self.server_version.split(".")[:2] if p.isdigit())
        if config.get("appendonly") != "yes":
            raise FailedPrecondition(
                f"Redis {self.server_version} runs without its append-only file (appendonly "
                f"{config.get('appendonly')!r}): start it with --appendonly yes --appendfsync always",
                reason="STORE_NOT_DURABLE",
            )
        if version >= WAITAOF_SINCE:
            self.mode = MODE_WAITAOF
        elif config.get("appendfsync") == "always":
            self.mode = MODE_FSYNC_ALWAYS
        else:
            raise FailedPrecondition(
                f"Redis {self.server_version} has no WAITAOF (7.2+), so it must fsync every write: it runs "
                f"appendfsync {config.get('appendfsync')!r}; start it with --appendfsync always",
                reason="STORE_NOT_DURABLE",
            )
        log.info(
            "redis store durable",
            extra={"redis_version": self.server_version, "mode": self.mode, "wait_replicas": self.wait_replicas},
        )
        return self.mode

    def add_wait(self, pipe: Any) -> bool:
        """Queue the wait a durable write needs on ``pipe`` (after the write, same connection);
        False when nothing needs queuing (fsync-always mode, no replicas)."""
        if self.mode == MODE_WAITAOF:
            pipe.execute_command("WAITAOF", 1, self.wait_replicas, self.wait_timeout_ms)
            return True
        if self.wait_replicas > 0:
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
            return True
        return False

    def confirm(self, reply: Any) -> None:
        """Raise Unavailable ``STORE_WRITE_NOT_DURABLE`` unless the wait's ``reply`` shows the write
        on the local AOF and on ``wait_replicas`` replicas."""
        local, replicas = (reply[0], reply[1]) if isinstance(reply, list) else (1, reply)
        if int(local) < 1 or int(replicas) < self.wait_replicas:
            raise Unavailable(
                f"the write reached the local AOF {local} time(s) and {replicas} of {self.wait_replicas} Redis "
                f"replicas within {self.wait_timeout_ms} ms: not acknowledged",
                reason="STORE_WRITE_NOT_DURABLE",
            )


class _Redis:
    """A client, its key space and its durability, shared by :class:`RedisState` and
    :class:`RedisAuditLog` of one gateway."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        base: str,
        durability: RedisDurability,
        on_round_trip: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.base = base
        self.durability = durability
        self._on_round_trip = on_round_trip

    def key(self, *parts: str) -> str:
        return ":".join((self.base, *parts))

    def sent(self, op: str) -> None:
        """Count one round trip to Redis (a command or a pipeline), by what it was for; the
        gateway exports the counts as ``mmmfed_store_round_trips_total{op}``."""
        if self._on_round_trip is not None:
            self._on_round_trip(op)

    async def durable(self, op: str, write: Callable[[Any], Awaitable[Any] | Any]) -> tuple[list[Any], Any]:
        """Run ``write(pipeline)`` and then the durability wait on one connection, one round trip
        counted as ``op``; returns the write's replies and the wait's reply (None if none was
        needed). The caller confirms the wait (:meth:`RedisDurability.confirm`) when its write
        changed something."""
        if self.durability.mode is None:
            await self.durability.check(self.client)
        async with _reachable("write"), self.client.pipeline(transaction=False) as pipe:
            queued = write(pipe)
            if asyncio.iscoroutine(queued):
                await queued
            waited = self.durability.add_wait(pipe)
            self.sent(op)
            replies = await pipe.execute()
        return (replies[:-1], replies[-1]) if waited else (replies, None)

    def confirm(self, wait_reply: Any) -> None:
        if wait_reply is not None:
            self.durability.confirm(wait_reply)


class RedisState:
    """:class:`mmmfed.store.SharedState` on Redis for gateway replicas (issue 6 item 1; module
    docstring): documents in hashes, nonces by ``SET NX PX``, cached values with ``PX`` TTLs."""

    def __init__(self, shared: _Redis, *, max_staleness_s: float = DEFAULT_MAX_STALENESS_S) -> None:
        self._r = shared
        self.changes = DocumentChanges(max_staleness_s=max_staleness_s)
        self._changes_channel = shared.key("doc-changes")
        self._watch: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        """PING, check durability (FailedPrecondition ``STORE_NOT_DURABLE``), then follow the
        replicas' document changes (:meth:`documents_token`) until :meth:`close`."""
        async with _reachable("PING"):
            self._r.sent("ping")
            await self._r.client.ping()
        await self._r.durability.check(self._r.client)
        if self._watch is None:
            self._watch = asyncio.create_task(self._follow_changes(), name="redis document changes")

    async def put_document(self, namespace: str, key: str, value: bytes) -> None:
        """HSET and PUBLISH on the changes channel in one round trip: every replica following it
        drops what it cached before answering from memory again."""

        def write(pipe: Any) -> None:
            pipe.hset(self._r.key("doc", namespace), key, value)
            pipe.publish(self._changes_channel, f"{namespace} {key}")

        _, wait = await self._r.durable("document write", write)
        self._r.confirm(wait)

    async def get_document(self, namespace: str, key: str) -> bytes | None:
        async with _reachable("read"):
            self._r.sent("document read")
            value = await self._r.client.hget(self._r.key("doc", namespace), key)
        return bytes(value) if value is not None else None

    async def list_documents(self, namespace: str) -> dict[str, bytes]:
        async with _reachable("read"):
            self._r.sent("document read")
            raw = await self._r.client.hgetall(self._r.key("doc", namespace))
        return {_text(k): bytes(raw[k]) for k in sorted(raw, key=_text)}

    def documents_token(self) -> int | None:
        """The change feed's generation while the subscription is fresh, else None
        (:class:`~mmmfed.store.changes.DocumentChanges`); None before :meth:`start`."""
        return self.changes.token()

    async def _follow_changes(self) -> None:
        """Follow the changes channel until cancelled; after a failure (connection lost, Redis
        restarting) follow it again after a pause. The feed is not fresh meanwhile, so caches
        read Redis every time."""
        interval = self.changes.max_staleness_s / 4
        while not self._closing:
            try:
                await self._follow_subscription(interval)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # anything: the feed must never stop without saying so
                log.warning("redis change feed lost", extra={"cause": f"{type(err).__name__}: {err}"})
            finally:
                self.changes.lost()
            await asyncio.sleep(interval)

    async def _follow_subscription(self, interval: float) -> None:
        """One subscription: every published change and every (re)subscription, which may have
        missed some, voids the tokens handed out; a PING every ``interval`` seconds keeps the
        feed fresh while Redis answers. Pings unanswered for 4 staleness periods end it
        (RedisConnectionError)."""
        pubsub = self._r.client.pubsub()
        try:
            await pubsub.subscribe(self._changes_channel)
            unanswered: dict[int, float] = {}  # serial -> when sent; Redis answers in order
            serial, pinged = 0, -math.inf
            # Cancelling alone is not enough to stop this loop: redis-py's read with a timeout can
            # take a cancellation that arrives as its timeout expires for the timeout (seen here).
            while not self._closing:
                now = time.monotonic()
                if unanswered and now - min(unanswered.values()) > 4 * self.changes.max_staleness_s:
                    raise redis_errors.ConnectionError("the change feed's pings went unanswered")
                if now - pinged >= interval:
                    serial, pinged = serial + 1, now
                    unanswered[serial] = now
                    self._r.sent("change feed ping")
                    await pubsub.ping(str(serial))
                message = await pubsub.get_message(timeout=interval)
                if message is None:
                    continue
                if message["type"] != "pong":  # a change, or the subscription (re)made
                    self.changes.changed()
                    continue
                answered = int(_text(message["data"]) or 0)
                if answered in unanswered:
                    self.changes.confirmed(unanswered[answered])
                unanswered = {k: t for k, t in unanswered.items() if k > answered}
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        ttl_ms = max(1, keep_until_ms - now_ms)  # relative: Redis's clock need not be the gateway's
        key = self._r.key("nonce", namespace, nonce)
        replies, wait = await self._r.durable("nonce claim", lambda pipe: pipe.set(key, b"1", nx=True, px=ttl_ms))
        if not replies[0]:
            return False
        self._r.confirm(wait)
        return True

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None:
        async with _reachable("cache"):
            self._r.sent("cache write")
            await self._r.client.set(self._r.key("cache", namespace, key), value, px=max(1, ttl_ms))

    async def get_cached(self, namespace: str, key: str) -> bytes | None:
        async with _reachable("cache"):
            self._r.sent("cache read")
            value = await self._r.client.get(self._r.key("cache", namespace, key))
        return bytes(value) if value is not None else None

    async def close(self) -> None:
        """Stop following changes and release the connections (idempotent)."""
        watch, self._watch = self._watch, None
        self._closing = True
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await self._r.client.aclose()


class RedisAuditLog:
    """:class:`mmmfed.store.SharedAuditLog` (LAF, FGMV-43 7.5.3) on Redis: one hash chain for every replica
    (compare-and-set appends, module docstring). Raises as the sync protocol does, plus
    Unavailable ``STORE_UNAVAILABLE`` / ``STORE_WRITE_NOT_DURABLE`` / ``AUDIT_APPEND_CONTENDED``
    (after :data:`MAX_APPEND_ATTEMPTS` lost races) and DataIntegrityError ``AUDIT_LOG_CORRUPT``."""

    def __init__(self, shared: _Redis) -> None:
        self._r = shared
        self._append_script = shared.client.register_script(_APPEND_LUA)
        self._last_head: bytes | None = None  # the head this replica last wrote or read
        self._group = GroupCommit(self._append_batch)  # one batch, one script call, one wait
        self.append = self._group.append
        self._head, self._log = shared.key("audit", "head"), shared.key("audit", "log")
        self._once = shared.key("audit", "once")

    async def _written_once(self, drafts: list[AuditDraft]) -> dict[str, AuditEntry]:
        """The entries already written under the ``once`` keys of ``drafts``."""
        keys = sorted({d.once for d in drafts if d.once})
        if not keys:
            return {}
        async with _reachable("audit once keys"):
            self._r.sent("audit read")
            seqs = await self._r.client.hmget(self._once, keys)
            found = {k: int(v) for k, v in zip(keys, seqs, strict=True) if v is not None}
            rows = {}
            for k, seq in found.items():
                self._r.sent("audit read")
                rows[k] = await self._r.client.lindex(self._log, seq - 1)
        return {k: _entry(raw) for k, raw in rows.items()}

    async def _append_batch(self, drafts: list[AuditDraft]) -> list[AuditEntry]:
        """Compare-and-set ``drafts`` after the head. The first attempt trusts the head this
        replica last saw (no read while it is the only writer); a moved head is read again.
        A draft whose ``once`` key is already written is not written again (see the script)."""
        head = self._last_head
        for attempt in range(MAX_APPEND_ATTEMPTS):
            if head is None:
                async with _reachable("audit head"):
                    self._r.sent("audit read")
                    head = await self._r.client.get(self._head)
            written = await self._written_once(drafts) if attempt else {}
            seq, prev_hash = _parse_head(head)
            result: list[AuditEntry | None] = []
            entries, fresh = [], []
            for draft in drafts:
                if draft.once in written:
                    result.append(written[draft.once])
                    continue
                if draft.once and any(d.once == draft.once for d in fresh):
                    result.append(None)  # a repeat within the batch: the first one's entry
                    continue
                seq += 1
                entries.append(draft.place(seq, prev_hash))
                fresh.append(draft)
                result.append(entries[-1])
                prev_hash = entries[-1].hash
            if not entries:
                return self._fill_repeats(drafts, result)
            keys = [self._head, self._log, self._once, *(self._r.key("audit", "peer", d.peer_id) for d in fresh)]
            rows = [json.dumps(entry_row(e), separators=(",", ":")) for e in entries]
            new_head = f"{entries[-1].seq} {entries[-1].hash}"
            args = [
                _text(head) if head is not None else "",
                entries[0].seq,
                new_head,
                len(entries),
                *rows,
                *(d.once for d in fresh),
            ]
            replies, wait = await self._r.durable(
                "audit append",
                lambda pipe, args=args, keys=keys: self._append_script(keys=keys, args=args, client=pipe),
            )
            if replies[0] == 1:
                self._r.confirm(wait)
                self._last_head = new_head.encode()
                return self._fill_repeats(drafts, result)
            if replies[0] == -1:
                self._last_head = None
                raise DataIntegrityError(
                    f"audit log {self._log} does not end at its head {_text(head)!r}", reason="AUDIT_LOG_CORRUPT"
                )
            # another replica appended first: its reply carries the head to build on (b"": none yet)
            lost = replies[0]
            head = (bytes(lost[1]) or None) if isinstance(lost, list) and len(lost) == 2 else None
        self._last_head = None
        raise Unavailable(
            f"{MAX_APPEND_ATTEMPTS} appends in a row lost the race to other replicas", reason="AUDIT_APPEND_CONTENDED"
        )

    @staticmethod
    def _fill_repeats(drafts: list[AuditDraft], result: list[AuditEntry | None]) -> list[AuditEntry]:
        first: dict[str, AuditEntry] = {}
        out = []
        for draft, entry in zip(drafts, result, strict=True):
            entry = entry if entry is not None else first[draft.once]
            if draft.once:
                first.setdefault(draft.once, entry)
            out.append(entry)
        return out

    async def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        check_entries_query(peer_id=peer_id, since_seq=since_seq, limit=limit)
        start = max(0, since_seq)
        async with _reachable("audit read"):
            self._r.sent("audit read")
            if peer_id is None:
                rows = await self._r.client.lrange(self._log, start, start + limit - 1)
            else:
                index = self._r.key("audit", "peer", peer_id)
                seqs = await self._r.client.zrangebyscore(index, f"({start}", "+inf", start=0, num=limit)
                async with self._r.client.pipeline(transaction=False) as pipe:
                    for seq in seqs:
                        pipe.lindex(self._log, int(seq) - 1)
                    self._r.sent("audit read")
                    rows = await pipe.execute()
        return [_entry(raw) for raw in rows]

    async def head(self) -> AuditEntry | None:
        async with _reachable("audit read"):
            self._r.sent("audit read")
            raw = await self._r.client.lindex(self._log, -1)
        return _entry(raw) if raw is not None else None

    async def verify(self, *, from_seq: int = 1) -> VerifyResult:
        check_verify_from(from_seq)
        prev_hash = GENESIS_HASH
        async with _reachable("audit read"):
            if from_seq > 1:
                self._r.sent("audit read")
                before = _row(await self._r.client.lindex(self._log, from_seq - 2))
                if before is None:
                    message = f"entry {from_seq - 1}, before from_seq, is missing or unreadable"
                    return VerifyResult(False, SEQ_GAP, from_seq - 1, 0, from_seq - 2, "", message)
                prev_hash = _text(before[-1])
            checked, first = 0, from_seq
            while True:  # page by page: the list only grows, so pages never disagree
                self._r.sent("audit read")
                page = await self._r.client.lrange(self._log, first - 1, first - 1 + VERIFY_PAGE - 1)
                if not page:
                    return VerifyResult(True, VERIFIED, None, checked, first - 1, prev_hash)
                result = check_rows([_row(raw) for raw in page], first_seq=first, prev_hash=prev_hash)
                if not result.ok:
                    return replace(result, checked=checked + result.checked)
                checked, first, prev_hash = checked + result.checked, result.head_seq + 1, result.head_hash

    async def close(self) -> None:
        await self._group.drain()  # what was queued is written before the connection closes
        await self._r.client.aclose()


def _parse_head(raw: bytes | None) -> tuple[int, str]:
    if raw is None:
        return 0, GENESIS_HASH
    seq, _, hash_hex = _text(raw).partition(" ")
    if not seq.isdigit() or len(hash_hex) != 64:
        raise DataIntegrityError(f"the audit chain head {_text(raw)!r} is malformed", reason="AUDIT_LOG_CORRUPT")
    return int(seq), hash_hex


def _row(raw: bytes | None) -> list[Any] | None:
    """A stored entry as its row, None if it is missing or not a JSON array."""
    if raw is None:
        return None
    try:
        row = json.loads(raw)
    except ValueError:
        return None
    return row if isinstance(row, list) else None


def _entry(raw: bytes | None) -> AuditEntry:
    row = _row(raw)
    if row is None or len(row) != 9:
        raise DataIntegrityError("an audit log entry in Redis cannot be read", reason="AUDIT_LOG_CORRUPT")
    return entry_from_row(row)


def open_redis_state(
    config: StoreConfig, *, m_instance_id: str, on_round_trip: Callable[[str], None] | None = None
) -> tuple[RedisState, RedisAuditLog]:
    """State and audit log of ``m_instance_id``'s gateway on the Redis at ``config.redis_url``,
    sharing one client (connections are opened on first use; ``RedisState.start`` checks
    durability). ``on_round_trip(op)`` is called for every round trip to Redis. FailedPrecondition
    ``STORE_NOT_CONFIGURED`` without a URL."""
    if not config.redis_url:
        raise FailedPrecondition("store.backend is redis but store.redis_url is empty", reason="STORE_NOT_CONFIGURED")
    timeout_s = config.redis_wait_timeout_ms / 1000 + 5.0  # a WAIT may block that long before answering
    client = aioredis.Redis.from_url(config.redis_url, socket_timeout=timeout_s, socket_connect_timeout=5.0)
    durability = RedisDurability(wait_replicas=config.redis_wait_replicas, wait_timeout_ms=config.redis_wait_timeout_ms)
    base = f"{config.redis_key_prefix}:{{{m_instance_id}}}"
    shared = _Redis(client, base=base, durability=durability, on_round_trip=on_round_trip)
    return RedisState(shared), RedisAuditLog(shared)
