"""Fixtures shared by the integration tests (the loopback ``federation`` and ``redis_server`` are
in tests/conftest.py; helpers that are not fixtures are in the support modules next to this file)."""

from __future__ import annotations

import asyncio

import pytest
from sample_assets import BOX

from bridge.conversion import ConversionTarget, GltfValidator, convert
from mmmfed.cli.inprocess import Federation
from mmmfed.cli.loopback import B


@pytest.fixture(scope="module")
def good_glb() -> bytes:
    """BoxTextured.glb converted by the bridge's Conversion Service to fit b.example."""
    target = ConversionTarget(max_triangles=1500, texture_format="jpeg", max_texture_px=512)
    out, _ = asyncio.run(convert(BOX.read_bytes(), target, validator=GltfValidator()))
    return out


@pytest.fixture
async def negotiated(federation: Federation) -> Federation:
    """The loopback federation after a.example negotiated with b.example."""
    assert federation.at_a is not None
    await federation.at_a.negotiate(B)
    return federation
