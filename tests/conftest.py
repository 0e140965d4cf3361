"""Shared fixtures: sample files and an in-process loopback federation (real gRPC, real mTLS,
certificates generated per test into tmp_path)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from mmmfed.cli.inprocess import Federation, start_federation
from mmmfed.cli.loopback import samples_dir
from mmmfed.testing import RedisServer

SAMPLES = samples_dir()
GODETTE = SAMPLES / "vrm" / "godot-vrm_Godette" / "Godette_vrm_v4.vrm"
VRM1 = (
    SAMPLES
    / "vrm"
    / "vrm-specification_VRMC_materials_mtoon_UV_Animation_Test"
    / "VRMC_materials_mtoon_UV_Animation_Test.vrm"
)
SPHERE = SAMPLES / "vrm" / "VRM-Addon-for-Blender_tests" / "sphere.vrm"
BOX = SAMPLES / "gltf" / "BoxTextured" / "BoxTextured.glb"
FOX = SAMPLES / "gltf" / "Fox" / "Fox.glb"

needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason=f"real sample assets not found at {SAMPLES} (../shared/samples)"
)


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
