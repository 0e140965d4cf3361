"""What the replicas of one M-Instance's gateway share (issue 6 item 1), behind one async interface.

A gateway keeps four kinds of shared state: small documents (manifestos, agreements, consents),
replay nonces, the hash-chained audit log (LAF, FGMV-43 7.5.3) and the cache of peers' keys.
:class:`SharedState` and :class:`SharedAuditLog` say what each backend must guarantee:

- ``embedded`` (config ``store.backend = "sqlite"``, the default): :class:`EmbeddedState` and
  :class:`EmbeddedAuditLog` wrap :class:`~mmmfed.store.SqliteStore` and
  :class:`~mmmfed.audit.SqliteAuditLog` in ``data_dir`` (one node; SQLite calls are short, so
  they run on the event loop).
- ``redis``: :mod:`mmmfed.store.redis`, for several replicas behind one address.

:func:`open_gateway_state` picks the backend from a gateway's configuration.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mmmfed.audit import AuditDraft, AuditEntry, SqliteAuditLog, VerifyResult
from mmmfed.store.group_commit import GroupCommit
from mmmfed.store.sqlite import SqliteStore
from mmmfed.store.writer_thread import WriterThread

if TYPE_CHECKING:
    from mmmfed.config import GatewayConfig

_EXPIRY = struct.Struct(">q")  # embedded cache entries: Unix ms of expiry, then the value


class SharedState(Protocol):
    """Documents, replay nonces and a TTL cache shared by every replica of one gateway (issue 6 item 1).

    Writes that ownership of record depends on (documents, nonce claims) are durable when they
    return: a backend that cannot make them so raises Unavailable ``STORE_WRITE_NOT_DURABLE``
    rather than acknowledge them; a backend that cannot be reached raises Unavailable
    ``STORE_UNAVAILABLE``.
    """

    async def start(self) -> None:
        """Connect and check the backend keeps acknowledged writes (FailedPrecondition
        ``STORE_NOT_DURABLE`` if it does not). Gateways call it before serving."""
        ...

    async def put_document(self, namespace: str, key: str, value: bytes) -> None:
        """Insert or replace a small document (manifestos, agreements), durably."""
        ...

    async def get_document(self, namespace: str, key: str) -> bytes | None:
        """The document, or None."""
        ...

    async def list_documents(self, namespace: str) -> dict[str, bytes]:
        """Every document in ``namespace``, by key, in key order."""
        ...

    def documents_token(self) -> Hashable | None:
        """A value that stays the same only while no document has changed (in any namespace,
        by any replica), or None when this node cannot vouch for that now. A cache of documents
        answers from memory only under the token it read them with (:mod:`mmmfed.store.changes`)."""
        ...

    async def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        """Record ``nonce`` until ``keep_until_ms`` (Unix ms; ``now_ms`` is the caller's clock);
        False if it is already recorded (a replay). Atomic across replicas: of concurrent claims
        of one nonce exactly one returns True, and only once the claim is durable."""
        ...

    async def put_record(self, namespace: str, key: str, value: bytes, *, keep_until_ms: int, now_ms: int) -> None:
        """Keep ``value`` durably until ``keep_until_ms`` (Unix ms; ``now_ms`` is the caller's
        clock), then forget it: what a peer can make this node record is bounded in time (e.g.
        the results of federation transactions, for the retries of their senders)."""
        ...

    async def get_record(self, namespace: str, key: str, *, now_ms: int) -> bytes | None:
        """The record, or None once it was kept past its time or if it was never written."""
        ...

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None:
        """Cache ``value`` for ``ttl_ms`` milliseconds (> 0); not durable (peers' keys)."""
        ...

    async def get_cached(self, namespace: str, key: str) -> bytes | None:
        """The cached value, or None once its TTL has passed or if it was never cached."""
        ...

    async def close(self) -> None:
        """Release connections (idempotent)."""
        ...


class SharedAuditLog(Protocol):
    """The async form of :class:`mmmfed.audit.AuditLog` (LAF, FGMV-43 7.5.3): ONE hash chain,
    whatever the number of replicas appending to it; arguments, results and errors are those of
    the sync protocol. ``append`` returns once the entry is durable."""

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
        """Add one entry after the head, atomically across replicas; returns it as stored. With
        ``once`` (an idempotency key, e.g. "ASSET_COMMITTED <transfer id>") the entry is written
        at most once whatever the retries and replicas: a repeat returns the entry written first."""
        ...

    async def append_all(self, drafts: Sequence[AuditDraft]) -> list[AuditEntry]:
        """Add ``drafts`` (:func:`mmmfed.audit.draft_entry`) after the head in ONE write (a group
        commit: all or none), in order, ``once`` keys honoured as by ``append``; returns them as
        stored."""
        ...

    async def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries with ``seq > since_seq``, oldest first, at most ``limit`` (of ``peer_id`` only if given)."""
        ...

    async def head(self) -> AuditEntry | None:
        """The newest entry, None if the log is empty."""
        ...

    async def verify(self, *, from_seq: int = 1) -> VerifyResult:
        """Walk the whole chain from ``from_seq`` (see :class:`mmmfed.audit.VerifyResult`)."""
        ...

    async def close(self) -> None:
        """Release connections (idempotent)."""
        ...


class EmbeddedState:
    """:class:`SharedState` over :class:`SqliteStore` (one node: SQLite in ``data_dir``).

    Documents and nonces are the store's own; cached values are documents in namespace
    ``cache/<namespace>`` prefixed with their expiry (wall-clock Unix ms from ``clock_s``, seconds),
    so every connection to the same directory sees them. The store's sync methods stay for the
    instance.
    """

    def __init__(self, store: SqliteStore, *, clock_s: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock_s = clock_s
        self._writes = 0  # documents this process wrote (SQLite's data_version counts the others')

    async def start(self) -> None:
        """Nothing to check: SQLite runs with ``synchronous=FULL``."""

    async def put_document(self, namespace: str, key: str, value: bytes) -> None:
        self._writes += 1
        self._store.put_document(namespace, key, value)

    async def get_document(self, namespace: str, key: str) -> bytes | None:
        return self._store.get_document(namespace, key)

    async def list_documents(self, namespace: str) -> dict[str, bytes]:
        return self._store.list_documents(namespace)

    def documents_token(self) -> tuple[int, int]:
        """This process's document writes and SQLite's data_version (others' commits to the file)."""
        return self._writes, self._store.data_version()

    async def claim_nonce(self, namespace: str, nonce: str, *, keep_until_ms: int, now_ms: int) -> bool:
        return self._store.claim_nonce(namespace, nonce, keep_until_ms=keep_until_ms, now_ms=now_ms)

    async def put_record(self, namespace: str, key: str, value: bytes, *, keep_until_ms: int, now_ms: int) -> None:
        self._store.put_record(namespace, key, value, keep_until_ms=keep_until_ms, now_ms=now_ms)

    async def get_record(self, namespace: str, key: str, *, now_ms: int) -> bytes | None:
        return self._store.get_record(namespace, key, now_ms=now_ms)

    async def put_cached(self, namespace: str, key: str, value: bytes, *, ttl_ms: int) -> None:
        expires_ms = int(self._clock_s() * 1000) + ttl_ms
        self._store.put_document(f"cache/{namespace}", key, _EXPIRY.pack(expires_ms) + value)

    async def get_cached(self, namespace: str, key: str) -> bytes | None:
        raw = self._store.get_document(f"cache/{namespace}", key)
        if raw is None or len(raw) < _EXPIRY.size:
            return None
        (expires_ms,) = _EXPIRY.unpack_from(raw)
        return raw[_EXPIRY.size :] if int(self._clock_s() * 1000) < expires_ms else None

    async def close(self) -> None:
        self._store.close()


class EmbeddedAuditLog:
    """:class:`SharedAuditLog` over :class:`SqliteAuditLog` (``data_dir/audit.sqlite3``).

    Appends are group-committed (:class:`GroupCommit`): each waits for its entry to be written and
    fsynced, but the writing runs on the log's own writer thread (:class:`WriterThread`: the event
    loop goes on serving) and takes every entry queued meanwhile in one transaction, so N
    concurrent appends cost one fsync.
    """

    def __init__(self, log: SqliteAuditLog) -> None:
        self._log = log
        self._writer = WriterThread("audit-writer")
        self._group = GroupCommit(lambda drafts: self._writer.run(log.append_drafts, drafts))
        self.append = self._group.append
        self.append_all = self._group.append_all

    async def entries(self, *, peer_id: str | None = None, since_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        return self._log.entries(peer_id=peer_id, since_seq=since_seq, limit=limit)

    async def head(self) -> AuditEntry | None:
        return self._log.head()

    async def verify(self, *, from_seq: int = 1) -> VerifyResult:
        return self._log.verify(from_seq=from_seq)

    async def close(self) -> None:
        await self._group.drain()  # what was queued is written before the file closes
        await asyncio.to_thread(self._writer.stop)
        self._log.close()


def open_gateway_state(
    config: GatewayConfig, *, on_round_trip: Callable[[str], None] | None = None
) -> tuple[SharedState, SharedAuditLog]:
    """The shared state and audit log of the gateway configured by ``config`` (``config.store``):
    SQLite files in ``config.data_dir``, or Redis keys under ``<redis_key_prefix>:{<M-Instance>}``
    (``on_round_trip(op)`` is called for each round trip to Redis). Nothing is contacted yet: call
    ``start()`` on the state before serving."""
    if config.store.backend == "redis":
        from mmmfed.store.redis import open_redis_state

        return open_redis_state(config.store, m_instance_id=config.m_instance_id, on_round_trip=on_round_trip)
    return embedded_state(config.data_dir)


def embedded_state(data_dir: Path) -> tuple[EmbeddedState, EmbeddedAuditLog]:
    """The embedded backend in ``data_dir`` (``store.sqlite3``, ``audit.sqlite3``), created if absent.
    FailedPrecondition ``DATA_DIR_FORMAT`` when either holds another data-dir format
    (:mod:`mmmfed.data_format`; nothing is left open)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir)
    try:
        audit = SqliteAuditLog(data_dir / "audit.sqlite3")
    except BaseException:
        store.close()
        raise
    return EmbeddedState(store), EmbeddedAuditLog(audit)
