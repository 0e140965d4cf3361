"""Shared fixtures: an in-process loopback federation (real gRPC, real mTLS, certificates generated
per test into tmp_path) and a real redis-server. The sample assets are in sample_assets.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mmmfed.cli.inprocess import Federation, start_federation
from mmmfed.testing import RedisServer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `bench` is not an installed package: test modules import it from the checkout
    sys.path.insert(0, str(REPO))


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[Federation]:
    """a.example + b.example, their gateways and a bridge, running in this process."""
    fed = await start_federation(tmp_path)
    try:
        yield fed
    finally:
        await fed.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free 127.0.0.1 port, AOF with appendfsync always, all its files in
    tmp_path (mmmfed.testing.RedisServer); stopped (SIGTERM, wait) at teardown."""
    server = RedisServer(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()
