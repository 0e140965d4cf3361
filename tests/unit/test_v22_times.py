"""The V2.2 codec's times (MMM-TEC V2.2 Time, OSD-STM Simple Time): Unix ms <-> RFC 3339, exact."""

from __future__ import annotations

import datetime
import random

import pytest

from mmmfed.v22.parts import iso_of_ms, ms_of_iso

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def reference(ms: int) -> str:
    """Integer arithmetic on a timedelta: no float, no cache."""
    moment = EPOCH + datetime.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@pytest.mark.parametrize("ms", [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, 1_764_000_000_123, 253_402_300_799_999])
def test_iso_of_ms_edges(ms: int) -> None:
    assert iso_of_ms(ms) == reference(ms)
    assert ms_of_iso(iso_of_ms(ms)) == ms


def test_iso_of_ms_many_seconds_past_the_cache_bound() -> None:
    """More distinct seconds than the cache holds, each second asked twice with other milliseconds:
    every text is still that millisecond's."""
    rng = random.Random(18)
    for ms in [rng.randrange(-(10**12), 2 * 10**12) for _ in range(6000)]:
        for one in (ms, ms - ms % 1000 + (ms + 517) % 1000):
            assert iso_of_ms(one) == reference(one)
