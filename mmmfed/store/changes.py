"""Whether a node's copy of shared documents may still be used: the change feed behind the
gateway's in-process caches of documents it reads on every request (trust agreements).

A cache of a document read from the shared state keeps the *token* it read under (see
:meth:`SharedState.documents_token <mmmfed.store.SharedState.documents_token>`) and answers from
memory only while the state hands out the same token; any change, or any doubt, gives another
token (or None), and the next read goes to the state. The backend decides what a token is:

- embedded (SQLite, one node): a count of this process's document writes and SQLite's
  ``PRAGMA data_version`` (which moves when another connection commits), so a cached copy is
  never older than the file;
- Redis (replicas): :class:`DocumentChanges`, fed by a subscription on which every replica
  publishes its document writes, and vouched for by PINGs on that subscription (module
  :mod:`mmmfed.store.redis`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

DEFAULT_MAX_STALENESS_S = 1.0
"""How long a Redis replica trusts its subscription without hearing from it (seconds)."""


class DocumentChanges:
    """The change feed of one replica (Redis backend).

    ``generation`` moves on every change a replica published and whenever the feed may have
    missed one (a new subscription, a lost connection). :meth:`token` is the generation while the
    feed is *fresh*: Redis answered a PING on the subscription that was sent at most
    ``max_staleness_s`` ago. Redis delivers a subscription's messages in order, so every change
    published before that PING reached Redis had arrived before its answer; a replica whose
    subscription breaks stops answering from its caches within ``max_staleness_s`` and reads
    every document again until the subscription is back.

    Args:
        max_staleness_s: how old the newest answered PING may be (seconds, > 0).
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(
        self, *, max_staleness_s: float = DEFAULT_MAX_STALENESS_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not max_staleness_s > 0:
            raise ValueError("max_staleness_s must be > 0")
        self.max_staleness_s = max_staleness_s
        self._clock = clock
        self.generation = 0
        self._fresh_as_of = -math.inf

    def token(self) -> int | None:
        """The generation while the feed is fresh, else None (read the state)."""
        if self._clock() - self._fresh_as_of > self.max_staleness_s:
            return None
        return self.generation

    def changed(self) -> None:
        """A document changed, or may have: every token handed out so far is void."""
        self.generation += 1

    def confirmed(self, sent_at: float) -> None:
        """Redis answered a PING sent at ``sent_at`` (this feed's clock): every change published
        before then has been seen."""
        self._fresh_as_of = max(self._fresh_as_of, sent_at)

    def lost(self) -> None:
        """The subscription broke: changes may be missed from now on until it is back."""
        self.generation += 1
        self._fresh_as_of = -math.inf
