"""The destination's nonces for presentations (RFC 9901 section 7.3 step 5, "nonce ... ensures
the freshness"; FGMV-43 9.4 step 3): each is issued here, accepted once, and forgotten only after
it expires.

Bounds: at most ``max_entries`` nonces are remembered, each for ``ttl_s`` seconds from issue.
Consumed nonces stay until they expire, so a replay within ``ttl_s`` is refused; the verifier
refuses any KB-JWT whose ``iat`` is older than ``ttl_s`` (``PRESENTATION_STALE``), so a replay
after that is refused too. A full store refuses to issue (``NONCE_STORE_FULL``) rather than evict
an unexpired nonce, which would reopen the replay window. Times are Unix seconds, passed in.

Errors: InvalidInput ``NONCE_UNKNOWN`` (not issued here, or expired), ``PRESENTATION_REPLAYED``
(consumed before); TooLarge ``NONCE_STORE_FULL``.

A destination gateway hands out nonces per calling peer (the home whose user presents) through
:class:`PresentationNonces`: :class:`LocalPresentationNonces` keeps one :class:`NonceStore` per
peer in the gateway process (store ``sqlite``, one gateway process); gateway replicas on Redis
share :class:`mmmfed.store.redis_nonces.RedisPresentationNonces`, so a nonce one replica gave is
accepted once by whichever replica the presentation reaches, and refused as a replay at every
other.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Protocol

from mmmfed.errors import InvalidInput, TooLarge

DEFAULT_TTL_S = 300
DEFAULT_MAX_ENTRIES = 100_000
PRESENTATION_REPLAYED = "PRESENTATION_REPLAYED"
NONCE_UNKNOWN = "NONCE_UNKNOWN"


class NonceStore:
    """Issued nonces and whether each was used (module docstring). Thread-safe."""

    def __init__(self, *, ttl_s: int = DEFAULT_TTL_S, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise InvalidInput("nonce ttl and store size must be positive", reason="CONFIG_INVALID")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        # nonce -> [expires_s, consumed]; insertion order is expiry order (one ttl for all)
        self._entries: OrderedDict[str, tuple[int, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now_s: int) -> None:
        while self._entries:
            nonce, (expires_s, _) = next(iter(self._entries.items()))
            if expires_s > now_s:
                return
            del self._entries[nonce]

    def issue(self, *, now_s: int) -> str:
        """A new nonce (128 random bits, base64url) valid for ``ttl_s`` from ``now_s``."""
        with self._lock:
            self._purge(now_s)
            if len(self._entries) >= self.max_entries:
                raise TooLarge(
                    f"{self.max_entries} presentation nonces are outstanding; retry in a few seconds",
                    reason="NONCE_STORE_FULL",
                )
            nonce = secrets.token_urlsafe(16)
            self._entries[nonce] = (now_s + self.ttl_s, False)
            return nonce

    def remember(self, nonce: str, *, issued_s: int) -> None:
        """Hold ``nonce``, issued elsewhere at ``issued_s`` (e.g. by the destination's gateway, and
        given to ``mmmfed identity verify --nonce``), as if this store had issued it."""
        with self._lock:
            self._purge(issued_s)
            if nonce not in self._entries:
                if len(self._entries) >= self.max_entries:
                    raise TooLarge(f"{self.max_entries} presentation nonces are outstanding", reason="NONCE_STORE_FULL")
                self._entries[nonce] = (issued_s + self.ttl_s, False)

    def consume(self, nonce: str, *, now_s: int) -> None:
        """Accept ``nonce`` once; raises InvalidInput ``PRESENTATION_REPLAYED`` or ``NONCE_UNKNOWN``."""
        with self._lock:
            self._purge(now_s)
            entry = self._entries.get(nonce)
            if entry is None or entry[0] <= now_s:  # remember() may put a nonce out of expiry order
                raise InvalidInput(
                    "the presentation's nonce was not issued by this M-Instance or has expired; ask for a new one",
                    reason=NONCE_UNKNOWN,
                )
            if entry[1]:
                raise InvalidInput("this presentation was already received (nonce used)", reason=PRESENTATION_REPLAYED)
            self._entries[nonce] = (entry[0], True)


class PresentationNonces(Protocol):
    """Nonces a destination gives each calling peer for one presentation (FGMV-43 9.4 step 3;
    RFC 9901 section 7.3): issued bound to ``peer``, accepted once and only from ``peer``, kept
    until ``ttl_s`` after issue, at most a bounded number outstanding per peer."""

    ttl_s: int

    async def issue(self, peer: str, *, now_s: int) -> str:
        """A new nonce for ``peer`` valid ``ttl_s`` from ``now_s`` (Unix s); TooLarge
        ``NONCE_STORE_FULL`` when ``peer`` has its bound outstanding."""
        ...

    async def consume(self, peer: str, nonce: str, *, now_s: int) -> None:
        """Accept ``nonce`` from ``peer`` once; InvalidInput ``NONCE_UNKNOWN`` (not given to
        ``peer``, or expired) or ``PRESENTATION_REPLAYED`` (accepted before)."""
        ...


class LocalPresentationNonces:
    """:class:`PresentationNonces` in this process: one :class:`NonceStore` of at most
    ``max_per_peer`` nonces per peer (made on the peer's first nonce; peers are configured, so
    their number is bounded)."""

    def __init__(self, *, ttl_s: int = DEFAULT_TTL_S, max_per_peer: int = 1024) -> None:
        self.ttl_s = ttl_s
        self.max_per_peer = max_per_peer
        self._stores: dict[str, NonceStore] = {}

    def of(self, peer: str) -> NonceStore:
        """The nonces given to ``peer``."""
        store = self._stores.get(peer)
        if store is None:
            store = self._stores[peer] = NonceStore(ttl_s=self.ttl_s, max_entries=self.max_per_peer)
        return store

    async def issue(self, peer: str, *, now_s: int) -> str:
        return self.of(peer).issue(now_s=now_s)

    async def consume(self, peer: str, nonce: str, *, now_s: int) -> None:
        self.of(peer).consume(nonce, now_s=now_s)
