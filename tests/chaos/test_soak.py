"""The soak of bench/soak.py (issue 18 item 4): the RSS readers, and a short run against real node
processes (9 s of mixed load at 10 operations/s)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

from sample_assets import needs_samples

from bench.soak_load import rss_bytes, sample_times, session_rss_bytes, warmup_s
from bench.soak_ops import WEIGHTS

REPO = Path(__file__).resolve().parents[2]
RESULT = re.compile(
    r"RESULT minutes=(?P<minutes>[0-9.]+) ops=(?P<ops>\d+) ops_per_s=(?P<per_s>[0-9.]+) "
    r"rate_ratio=(?P<ratio>[0-9.]+) unexpected_errors=(?P<errors>\d+) max_rss_growth=(?P<growth>[0-9.]+) "
    r"errors=(?P=errors) rss_growth_max=(?P=growth) second_half_growth_max=(?P<second_half>[0-9.]+)"
)
PROVOKED = {"overdraw", "transfer_denied", "migrate_refused"}
"""The kinds whose every operation is a refusal the soak provokes; the others succeed."""


def test_rss_of_this_process_and_its_session() -> None:
    mine = rss_bytes(os.getpid())
    assert 1_000_000 < mine < 10**11
    assert session_rss_bytes(os.getsid(0)) >= mine
    assert rss_bytes(2**22 + 1) == 0  # above the kernel's pid_max: no such process


def test_the_warm_up_is_a_tenth_of_the_load_within_10_s_and_3_minutes_and_at_most_half() -> None:
    assert warmup_s(1800.0) == 180.0 and warmup_s(3600.0) == 180.0
    assert warmup_s(300.0) == 30.0 and warmup_s(60.0) == 10.0 and warmup_s(9.0) == 4.5


def test_rss_is_sampled_every_tenth_of_the_load_at_most_a_minute_apart_and_half_way() -> None:
    assert sample_times(30.0, 3.0) == [3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0, 24.0, 27.0]
    long = sample_times(1800.0, 10.0)
    assert long[0] == 10.0 and 900.0 in long and long[-1] == 1740.0
    assert all(b - a <= 60.0 for a, b in itertools.pairwise(long))
    assert sample_times(25.0, 2.5)[:2] == [2.5, 5.0] and 12.5 in sample_times(25.0, 2.5)


@needs_samples
def test_a_short_soak_has_no_unexpected_error() -> None:
    """Every kind of operation runs (seed 0 draws each within the first 30 operations), the
    refusals come as provoked, and the last line is the RESULT line with its ratios."""
    run = subprocess.run(
        [sys.executable, "bench/soak.py", "--minutes", "0.15", "--rate", "10", "--seed", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = run.stdout.strip().splitlines()
    assert lines, run.stderr
    found = RESULT.fullmatch(lines[-1])
    assert found, f"{lines[-1]!r}\n{run.stderr}"
    assert found["errors"] == "0" and run.returncode == 0, run.stdout
    assert float(found["minutes"]) == 0.15 and int(found["ops"]) > 0
    assert 0.5 < float(found["ratio"]) <= 1.05 and float(found["growth"]) > 0
    assert float(found["second_half"]) > 0
    table = {}
    for line in lines:
        kind, *counts = line.split()[:4] or [""]
        if kind in WEIGHTS:
            table[kind] = [int(n) for n in counts]
    assert set(table) == set(WEIGHTS), run.stdout
    for kind, (ok, refused, errors) in table.items():
        assert errors == 0 and (refused if kind in PROVOKED else ok) > 0, f"{kind}: {run.stdout}"
        assert (ok if kind in PROVOKED else refused) == 0, f"{kind}: {run.stdout}"
