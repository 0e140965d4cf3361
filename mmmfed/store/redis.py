"""Redis backend of the gateway's shared state (issue 6 item 1): several replicas of one
M-Instance's gateway behind one address share manifestos, agreements, replay nonces, the peer key
cache and ONE audit hash chain (LAF, FGMV-43 7.5.3).

Keys, all under ``<redis_key_prefix>:{<M-Instance id>}`` (one Redis Cluster hash slot per
M-Instance, so the audit script's keys live together):

``...:doc:<namespace>``          hash, document key -> bytes
``...:nonce:<namespace>:<nonce>`` string, ``SET NX PX`` (expires when it may be forgotten)
``...:cache:<namespace>:<key>``   string with a TTL (peers' key sets)
``...:idnonce[s]:<peer>...``      identity presentation nonces (:mod:`mmmfed.store.redis_nonces`)
``...:lease:<name>``              string, the replica holding a lease, with a TTL (:meth:`RedisState.hold_lease`)
``...:audit:log``                 list; element ``seq - 1`` is entry ``seq`` (JSON array of its 9 fields)
``...:audit:head``                string ``"<seq> <hash>"`` of the newest entry
``...:audit:peer:<peer id>``      sorted set of the seqs of that peer's entries
``...:format``                    string, the data-dir format (:mod:`mmmfed.data_format`)

The chain. The entry hash (SHA-256 of JCS) is computed by the gateway, not by Redis, so an append
is a compare-and-set: take the head, build the entries after it, and run
:data:`~mmmfed.store.redis_audit._APPEND_LUA`, which
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

This module holds the documents, nonces and cache (:class:`RedisState`) and opens the backend
(:func:`open_redis_state`); the chain is :mod:`mmmfed.store.redis_audit`, the client, key space
and durability waits :mod:`mmmfed.store.redis_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from mmmfed.config import StoreConfig
from mmmfed.errors import FailedPrecondition
from mmmfed.store.changes import DEFAULT_MAX_STALENESS_S, DocumentChanges
from mmmfed.store.redis_audit import RedisAuditLog
from mmmfed.store.redis_client import (
    GatewayRedis,
    RedisDurability,
    as_bytes,
    as_text,
    log,
    open_redis_format,
    reachable,
)
from mmmfed.store.redis_nonces import RedisPresentationNonces

__all__ = ["RedisAuditLog", "RedisDurability", "RedisState", "open_redis_state"]

# KEYS: the lease. ARGV: holder, ttl ms. 1 if the holder has it now (taken or renewed), else 0.
_LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class RedisState:
    """:class:`mmmfed.store.SharedState` on Redis for gateway replicas (issue 6 item 1; module
    docstring): documents in hashes, nonces by ``SET NX PX``, cached values with ``PX`` TTLs."""

    def __init__(self, shared: GatewayRedis, *, max_staleness_s: float = DEFAULT_MAX_STALENESS_S) -> None:
        self._r = shared
        self.changes = DocumentChanges(max_staleness_s=max_staleness_s)
        self._changes_channel = shared.key("doc-changes")
        self._watch: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        """PING, check durability (FailedPrecondition ``STORE_NOT_DURABLE``) and the key space's
        data-dir format (FailedPrecondition ``DATA_DIR_FORMAT``; a new one is stamped:
        :func:`~mmmfed.store.redis_client.open_redis_format`), then follow the replicas' document
        changes (:meth:`documents_token`) until :meth:`close`."""
        async with reachable("PING"):
            self._r.sent("ping")
            await self._r.client.ping()
        await self._r.durability.check(self._r.client)
        await open_redis_format(self._r)
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
        async with reachable("read"):
            self._r.sent("document read")
            value = await self._r.client.hget(self._r.key("doc", namespace), key)
        return as_bytes(value) if value is not None else None

    async def list_documents(self, namespace: str) -> dict[str, bytes]:
        async with reachable("read"):
            self._r.sent("document read")
            raw = await self._r.client.hgetall(self._r.key("doc", namespace))
        return {as_text(k): as_bytes(raw[k]) for k in sorted(raw, key=as_text)}

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
                answered = int(as_text(message["data"]) or 0)
                if answered in unanswered:
                    self.changes.confirmed(unanswered[answered])
                unanswered = {k: t for k, t in unanswered.items() if k > answered}
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]  # unannotated before redis-py 8.2

    async def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        ttl_ms = max(1, keep_until_ms - now_ms)  # relative: Redis's clock need not be the gateway's
        key = self._r.key("nonce", namespace, nonce)
        replies, wait = await self._r.durable("nonce claim", lambda pipe: pipe.set(key, b"1", nx=True, px=ttl_ms))
        if not replies[0]:
            return False
        self._r.confirm(wait)
        return True

    async def put_record(self, namespace: str, key: str, value: bytes, *, keep_until_ms: int, now_ms: int) -> None:
        """SET with PX, durable as a document write (:meth:`put_document`); the TTL is relative,
        so Redis's clock need not be the gateway's."""
        ttl_ms = max(1, keep_until_ms - now_ms)
        name = self._r.key("record", namespace, key)
        _, wait = await self._r.durable("record write", lambda pipe: pipe.set(name, value, px=ttl_ms))
        self._r.confirm(wait)

    async def get_record(self, namespace: str, key: str, *, now_ms: int) -> bytes | None:
        async with reachable("read"):
            self._r.sent("record read")
            value = await self._r.client.get(self._r.key("record", namespace, key))
        return as_bytes(value) if value is not None else None

    async def hold_lease(self, name: str, holder: str, *, ttl_ms: int) -> bool:
        """Take lease ``name`` for ``holder`` (a replica's id) for ``ttl_ms``, or renew it if
        ``holder`` has it; False while another replica holds it (one work loop among replicas,
        e.g. the identity push worker). Not durable: a lease lost with Redis lets two replicas do
        that work at once for at most ``ttl_ms``, which must be harmless."""
        async with reachable("lease"):
            self._r.sent("lease")
            taken = await self._r.client.eval(_LEASE_LUA, 1, self._r.key("lease", name), holder, max(1, ttl_ms))
        return bool(int(taken))

    def presentation_nonces(self, *, ttl_s: int, max_per_peer: int) -> RedisPresentationNonces:
        """The identity presentation nonces every replica shares (:mod:`mmmfed.store.redis_nonces`),
        on this state's connection."""
        return RedisPresentationNonces(self._r, ttl_s=ttl_s, max_per_peer=max_per_peer)

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None:
        async with reachable("cache"):
            self._r.sent("cache write")
            await self._r.client.set(self._r.key("cache", namespace, key), value, px=max(1, ttl_ms))

    async def get_cached(self, namespace: str, key: str) -> bytes | None:
        async with reachable("cache"):
            self._r.sent("cache read")
            value = await self._r.client.get(self._r.key("cache", namespace, key))
        return as_bytes(value) if value is not None else None

    async def close(self) -> None:
        """Stop following changes and release the connections (idempotent)."""
        watch, self._watch = self._watch, None
        self._closing = True
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        await self._r.client.aclose()


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
    shared = GatewayRedis(client, base=base, durability=durability, on_round_trip=on_round_trip)
    return RedisState(shared), RedisAuditLog(shared)
