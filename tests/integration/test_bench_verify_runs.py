"""bench/verify.py runs to its RESULT line on a tiny corpus (issue 18: each benchmark ends with one
``RESULT name=value ...`` line): a benchmark whose baseline no longer matches what the pipeline
verifies fails here, not first in someone's ``make bench``. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_bench_verify_ends_with_its_result_line() -> None:
    done = subprocess.run(
        [sys.executable, "bench/verify.py", "--items", "4", "--seconds", "0.2", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT "), last
    figures = dict(pair.split("=", 1) for pair in last.removeprefix("RESULT ").split())
    assert float(figures["pipeline_vs_libsodium"]) > 0
    assert int(figures["pipeline_items_per_s"]) > 0
