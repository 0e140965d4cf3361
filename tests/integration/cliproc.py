"""The command line as an operator runs it, for the integration tests: ``python -m mmmfed`` in a
subprocess from the repository root, and the same in a worker thread for tests whose in-process
nodes must keep serving while the CLI calls them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def mmmfed(*args: str, timeout_s: float = 120, columns: int = 160) -> subprocess.CompletedProcess[str]:
    """Run ``python -m mmmfed *args`` on a terminal ``columns`` wide (COLUMNS) and return its
    exit code, stdout and stderr (text); raises subprocess.TimeoutExpired after ``timeout_s``."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("MMMFED_DATA_DIR", None)  # the configuration's data_dir is the one under test
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, env=env
    )


async def mmmfed_in_thread(*args: str, columns: int = 160) -> subprocess.CompletedProcess[str]:
    """The CLI in a worker thread, so the in-process nodes it calls keep serving."""
    return await asyncio.to_thread(mmmfed, *args, columns=columns)
