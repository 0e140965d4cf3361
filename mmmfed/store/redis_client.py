"""The connection a gateway's Redis backend writes through: one client, the key space of one
M-Instance and how writes become durable before they are acknowledged (the "Durability"
paragraph of :mod:`mmmfed.store.redis`), shared by :class:`~mmmfed.store.redis.RedisState`
and :class:`~mmmfed.store.redis_audit.RedisAuditLog`, and the data-dir format stamp of its key
space (:func:`open_redis_format`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from mmmfed.data_format import STORE_FORMAT, UNSTAMPED_FORMAT, check_store_format
from mmmfed.errors import FailedPrecondition, Unavailable

log = logging.getLogger("mmmfed.store.redis")  # one logger for the whole Redis backend

WAITAOF_SINCE = (7, 2)
MODE_WAITAOF = "WAITAOF"
MODE_FSYNC_ALWAYS = "appendfsync always"


@asynccontextmanager
async def reachable(what: str) -> AsyncIterator[None]:
    """Redis connection failures and time-outs as Unavailable ``STORE_UNAVAILABLE`` (retryable)."""
    try:
        yield
    except (redis_errors.ConnectionError, redis_errors.TimeoutError) as err:
        message = f"the gateway's Redis store cannot be reached ({what}): {err}"
        raise Unavailable(message, reason="STORE_UNAVAILABLE") from err


def as_text(value: Any) -> str:
    """A Redis reply (bytes or not) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def as_bytes(value: Any) -> bytes:
    """A Redis reply as bytes (the client returns bytes; its types also allow str)."""
    return value.encode() if isinstance(value, str) else bytes(value)


class RedisDurability:
    """How one gateway makes Redis writes durable before acknowledging them (:mod:`mmmfed.store.redis`
    docstring, "Durability").

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
        async with reachable("start-up check"):
            info = await client.info("server")
            try:
                config = {as_text(k): as_text(v) for k, v in (await client.config_get("append*")).items()}
            except redis_errors.ResponseError as err:
                raise FailedPrecondition(
                    f"Redis refused CONFIG GET ({err}): the gateway cannot check that acknowledged writes are "
                    "durable, and ownership of record needs that (see the README, 'Gateway replicas on Redis')",
                    reason="STORE_NOT_DURABLE",
                ) from err
        self.server_version = as_text(info.get("redis_version", "0"))
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


class GatewayRedis:
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
        """The Redis key ``<base>:<part>:<part>...``."""
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
        async with reachable("write"), self.client.pipeline(transaction=False) as pipe:
            queued = write(pipe)
            if asyncio.iscoroutine(queued):
                await queued
            waited = self.durability.add_wait(pipe)
            self.sent(op)
            replies = await pipe.execute()
        return (replies[:-1], replies[-1]) if waited else (replies, None)

    def confirm(self, wait_reply: Any) -> None:
        """:meth:`RedisDurability.confirm` of a wait that was sent (None: none was needed)."""
        if wait_reply is not None:
            self.durability.confirm(wait_reply)


def _glob_escaped(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


async def open_redis_format(r: GatewayRedis) -> None:
    """Check the data-dir format of this M-Instance's keys (``<base>:format``,
    :mod:`mmmfed.data_format`) and stamp a new key space with :data:`STORE_FORMAT` (``SET NX``)
    before the gateway writes anything. Keys under ``<base>`` without a stamp were
    written by a release before stores carried one (format 1). Replicas starting together agree:
    each stamps before it writes, and one that finds keys but no stamp reads the stamp again.

    Raises:
        FailedPrecondition ``DATA_DIR_FORMAT``: another format (nothing is written).
        Unavailable ``STORE_UNAVAILABLE``: Redis cannot be reached.
    """
    key = r.key("format")

    async def stamp() -> int | None:  # None: no stamp; 0: a value that is not a format number
        async with reachable("format check"):
            r.sent("format check")
            value = await r.client.get(key)
        if value is None:
            return None
        text = as_text(value)
        return int(text) if text.isdigit() else 0

    found = await stamp()
    if found is None:
        async with reachable("format check"):
            r.sent("format check")
            others = [k async for k in r.client.scan_iter(match=f"{_glob_escaped(r.base)}:*", count=1000)]
        if others:
            found = await stamp()  # a replica starting beside this one may have stamped meanwhile
            if found is None:
                found = UNSTAMPED_FORMAT
    if found is None:
        # No durability wait of its own: Redis replicates and appends to its AOF in order, so every
        # write acknowledged after it as durable makes it durable too, and a stamp lost with
        # nothing after it leaves a key space that is new again.
        async with reachable("format stamp"):
            r.sent("format stamp")
            if await r.client.set(key, str(STORE_FORMAT), nx=True):
                return
        found = await stamp()  # another replica stamped first
    check_store_format(found, what="the gateway's Redis state", path=key)
