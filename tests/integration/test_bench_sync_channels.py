"""bench/sync_channels.py end to end on a small run (issue 18 item 2): each channel's pass, in
federation transactions and by single calls, brings every update to b.example (the bench
exits when one does not arrive), and each round is measured."""

from __future__ import annotations

from bench.sync_channels import MODES, measure


async def test_each_channel_and_mode_delivers_every_update_and_is_measured() -> None:
    results = await measure(users=3, contents=2, rounds=2)
    assert set(results) == {"identity", "content"}
    for per_mode in results.values():
        assert set(per_mode) == set(MODES)
        for rounds in per_mode.values():
            assert len(rounds) == 2 and all(cpu > 0 and wall > 0 for cpu, wall in rounds)
