"""Identity presentation nonces (FGMV-43 9.4 step 3, RFC 9901 section 7.3) on both forms: in one
gateway process (mmmfed.identity.nonces.LocalPresentationNonces) and shared by replicas on a real
redis-server (mmmfed.store.redis_nonces.RedisPresentationNonces): bound to the peer they were
given to, accepted once whichever replica sees them, bounded per peer without evicting one; and
the lease that lets one home replica at a time run the identity push worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mmmfed.config import StoreConfig
from mmmfed.errors import InvalidInput, TooLarge
from mmmfed.identity.nonces import LocalPresentationNonces, PresentationNonces
from mmmfed.store.redis import RedisState, open_redis_state
from mmmfed.testing import RedisServer

A, C = "a.example", "c.example"
NOW = 1_767_225_600


@pytest.fixture(params=["local", "redis"])
async def replicas(request: pytest.FixtureRequest) -> AsyncIterator[list[PresentationNonces]]:
    """Two "replicas": the same local store twice (one process), or two Redis connections."""
    if request.param == "local":
        local = LocalPresentationNonces(ttl_s=300, max_per_peer=2)
        yield [local, local]
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    states: list[RedisState] = []
    for _ in range(2):
        state, audit = open_redis_state(StoreConfig(backend="redis", redis_url=server.url), m_instance_id="b.example")
        await audit.close()
        await state.start()
        states.append(state)
    try:
        yield [s.presentation_nonces(ttl_s=300, max_per_peer=2) for s in states]
    finally:
        for state in states:
            await state.close()


async def _reason(work: Any) -> str:
    with pytest.raises((InvalidInput, TooLarge)) as caught:
        await work
    return str(caught.value.reason)


async def test_a_nonce_is_accepted_once_at_any_replica_and_only_from_its_peer(
    replicas: list[PresentationNonces],
) -> None:
    first, second = replicas
    nonce = await first.issue(A, now_s=NOW)
    assert await _reason(second.consume(C, nonce, now_s=NOW + 1)) == "NONCE_UNKNOWN"
    await second.consume(A, nonce, now_s=NOW + 1)
    assert await _reason(first.consume(A, nonce, now_s=NOW + 2)) == "PRESENTATION_REPLAYED"
    assert await _reason(second.consume(A, nonce, now_s=NOW + 2)) == "PRESENTATION_REPLAYED"
    assert await _reason(first.consume(A, "made-up-nonce-000000", now_s=NOW + 2)) == "NONCE_UNKNOWN"


async def test_a_peer_has_at_most_its_bound_outstanding_and_none_is_evicted(
    replicas: list[PresentationNonces],
) -> None:
    first, second = replicas
    kept = [await first.issue(A, now_s=NOW), await second.issue(A, now_s=NOW)]
    assert await _reason(first.issue(A, now_s=NOW + 1)) == "NONCE_STORE_FULL"
    await first.consume(A, kept[0], now_s=NOW + 1)  # used ones stay until they expire: still full
    assert await _reason(second.issue(A, now_s=NOW + 1)) == "NONCE_STORE_FULL"
    await second.consume(A, kept[1], now_s=NOW + 1)  # both kept, neither evicted
    assert await first.issue(C, now_s=NOW + 1)  # another peer's bound is its own
    assert await first.issue(A, now_s=NOW + 301)  # expired ones make room again


async def test_a_lease_is_held_by_one_replica_and_taken_over_once_it_lapses(redis_server: RedisServer) -> None:
    """RedisState.hold_lease (the identity push worker's, gateway/identity_push.py): the first
    replica takes it and renews it, the second is refused while it is held and takes it once
    the first stops renewing it and it lapses."""
    import asyncio

    states = [open_redis_state(StoreConfig(backend="redis", redis_url=redis_server.url), m_instance_id="a.example")]
    states.append(open_redis_state(StoreConfig(backend="redis", redis_url=redis_server.url), m_instance_id="a.example"))
    try:
        (one, _), (two, _) = states
        assert await one.hold_lease("identity-push", "r1", ttl_ms=300)
        assert not await two.hold_lease("identity-push", "r2", ttl_ms=300)
        assert await one.hold_lease("identity-push", "r1", ttl_ms=300)  # renewed
        for _ in range(100):
            if await two.hold_lease("identity-push", "r2", ttl_ms=60_000):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the lapsed lease was never taken over")
        assert not await one.hold_lease("identity-push", "r1", ttl_ms=300)
    finally:
        for state, audit in states:
            await state.close()
            await audit.close()
