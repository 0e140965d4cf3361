"""mmmfed/allocator.py: a node's glibc arena limit, trims and the trim interval's variable."""

from __future__ import annotations

import asyncio

import pytest

from mmmfed import allocator
from mmmfed.errors import InvalidInput

glibc = pytest.mark.skipif(allocator._glibc() is None, reason="the C library is not glibc")


@glibc
def test_the_arena_limit_is_two_unless_the_environment_sets_one() -> None:
    assert allocator.limit_arenas({}) == allocator.DEFAULT_ARENA_MAX == 2
    assert allocator.limit_arenas({"MALLOC_ARENA_MAX": "4"}) == 4  # glibc applied it itself
    assert allocator.limit_arenas({"MALLOC_ARENA_MAX": "many"}) is None  # glibc ignores it too


@glibc
def test_a_trim_gives_freed_memory_back() -> None:
    blocks = [bytearray(4096) for _ in range(20_000)]  # ~80 MB in the heap, then freed
    del blocks
    assert allocator.trim() is True


def test_the_trim_interval_comes_from_its_variable() -> None:
    assert allocator.trim_interval_s({}) == allocator.DEFAULT_TRIM_INTERVAL_S
    assert allocator.trim_interval_s({"MMMFED_MALLOC_TRIM_S": "0"}) == 0.0
    with pytest.raises(InvalidInput) as refused:
        allocator.trim_interval_s({"MMMFED_MALLOC_TRIM_S": "often"})
    assert refused.value.reason == "MALLOC_TRIM_INVALID"
    assert "MMMFED_MALLOC_TRIM_S='often'" in refused.value.message


def test_trimming_turned_off_returns_at_once() -> None:
    asyncio.run(asyncio.wait_for(allocator.trim_periodically(0), timeout=5))
