"""Presentation nonces shared by the replicas of one destination gateway on Redis (FGMV-43 9.4
step 3, IDVF; RFC 9901 section 7.3; issue 17 item 3): :class:`RedisPresentationNonces`, the
Redis form of :class:`mmmfed.identity.nonces.PresentationNonces`. A nonce replica 1 gave a
peer (RE-4 GetNonce) is accepted once from that peer by whichever replica the presentation
reaches, and the same presentation replayed at any replica is ``PRESENTATION_REPLAYED``.

Keys, under the gateway's ``<redis_key_prefix>:{<M-Instance id>}`` (one hash slot, so each
script's keys live together):

``...:idnonce:<peer>:<nonce>``  string ``0`` (issued) or ``1`` (used), expiring ``ttl_s`` after
                               issue (Redis's clock: ``PX``), so a used nonce is kept as long
                               as it could be presented
``...:idnonces:<peer>``         sorted set of the peer's outstanding nonces, scored by their
                               expiry (the gateway's Unix ms), to bound them per peer

Both operations are Lua scripts, atomic across replicas: :data:`_ISSUE_LUA` drops the peer's
expired members, refuses when ``max_per_peer`` are outstanding (TooLarge ``NONCE_STORE_FULL``;
never evicting an unexpired one, which would reopen the replay window), then records the new
nonce; :data:`_CONSUME_LUA` turns ``0`` into ``1`` once (``NONCE_UNKNOWN`` if the key is absent:
never given to this peer, or expired; ``PRESENTATION_REPLAYED`` if ``1``). A nonce given to one
peer is unknown under another's key. Each write is acknowledged only once durable
(:meth:`mmmfed.store.redis_client.GatewayRedis.durable`): a replica restarting, or Redis
restarting from its AOF, never forgets that a nonce was used. Redis unreachable: Unavailable
``STORE_UNAVAILABLE``.
"""

from __future__ import annotations

import secrets

from mmmfed.errors import InvalidInput, TooLarge
from mmmfed.identity.nonces import DEFAULT_TTL_S, NONCE_UNKNOWN, PRESENTATION_REPLAYED
from mmmfed.store.redis_client import GatewayRedis

MAX_NONCE_CHARS = 64  # ours are 22; anything longer was not given here

# KEYS: the peer's sorted set, the nonce's key. ARGV: now ms, expiry ms, max outstanding, ttl ms.
_ISSUE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], KEYS[2])
redis.call('SET', KEYS[2], '0', 'PX', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: the nonce's key. Returns 0 unknown, 1 accepted now, 2 used before.
_CONSUME_LUA = """
local state = redis.call('GET', KEYS[1])
if not state then return 0 end
if state == '1' then return 2 end
redis.call('SET', KEYS[1], '1', 'KEEPTTL')
return 1
"""


class RedisPresentationNonces:
    """:class:`mmmfed.identity.nonces.PresentationNonces` on ``shared`` (module docstring)."""

    def __init__(self, shared: GatewayRedis, *, ttl_s: int = DEFAULT_TTL_S, max_per_peer: int = 1024) -> None:
        if ttl_s <= 0 or max_per_peer <= 0:
            raise InvalidInput("nonce ttl and store size must be positive", reason="CONFIG_INVALID")
        self._r = shared
        self.ttl_s = ttl_s
        self.max_per_peer = max_per_peer

    async def issue(self, peer: str, *, now_s: int) -> str:
        """A new nonce for ``peer`` (module docstring); TooLarge ``NONCE_STORE_FULL``."""
        nonce = secrets.token_urlsafe(16)
        ttl_ms = self.ttl_s * 1000
        keys = (self._r.key("idnonces", peer), self._r.key("idnonce", peer, nonce))
        args = (now_s * 1000, now_s * 1000 + ttl_ms, self.max_per_peer, ttl_ms)
        replies, wait = await self._r.durable(
            "identity nonce issue", lambda pipe: pipe.eval(_ISSUE_LUA, len(keys), *keys, *args)
        )
        if not int(replies[0]):
            raise TooLarge(
                f"{self.max_per_peer} presentation nonces given to {peer} are outstanding; retry in a few seconds",
                reason="NONCE_STORE_FULL",
            )
        self._r.confirm(wait)
        return nonce

    async def consume(self, peer: str, nonce: str, *, now_s: int) -> None:
        """Accept ``nonce`` from ``peer`` once (module docstring); InvalidInput ``NONCE_UNKNOWN``
        / ``PRESENTATION_REPLAYED``. ``now_s`` is unused: the key's expiry is Redis's."""
        if not nonce or len(nonce) > MAX_NONCE_CHARS:
            raise InvalidInput("the presentation's nonce was not issued by this M-Instance", reason=NONCE_UNKNOWN)
        key = self._r.key("idnonce", peer, nonce)
        replies, wait = await self._r.durable("identity nonce use", lambda pipe: pipe.eval(_CONSUME_LUA, 1, key))
        outcome = int(replies[0])
        if outcome == 0:
            raise InvalidInput(
                "the presentation's nonce was not issued by this M-Instance or has expired; ask for a new one",
                reason=NONCE_UNKNOWN,
            )
        if outcome == 2:
            raise InvalidInput("this presentation was already received (nonce used)", reason=PRESENTATION_REPLAYED)
        self._r.confirm(wait)
