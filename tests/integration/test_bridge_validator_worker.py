"""The bridge's warm glTF validator worker seen through its Convert RPC, over real gRPC and mTLS
(issue 18 item 3): a stalled worker is killed at the time limit and that conversion is refused
DEADLINE_EXCEEDED ``VALIDATOR_TIMEOUT``, a worker killed from outside is replaced, and no Node.js
process is left once the bridge stops."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import grpc
import pytest
from bridge_calls import convert_requests
from rpcassert import refused

from bridge.conversion import GltfValidator
from bridge.node import BridgeNode
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import samples_dir
from mmmfed.tls import secure_channel

BOX = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
pytestmark = pytest.mark.skipif(not BOX.is_file(), reason=f"sample asset not found at {BOX}")
GUARD_S = 60.0  # a test that would hang fails after this instead


async def convert_box(federation: Federation) -> list[bpb.ConvertResponse]:
    """BoxTextured.glb through the bridge's Convert (as gateway A): every response part."""
    async with secure_channel(federation.plan.gateway_a.tls, peer(federation.plan.bridge)) as channel:
        stub = bridge_pb2_grpc.BridgeStub(channel)
        requests = await convert_requests(stub, BOX.read_bytes())
        return [r async for r in stub.Convert(iter(requests), timeout=GUARD_S)]


def node_children() -> set[int]:
    """Pids of this process's running child processes that are Node.js (from /proc). Tests
    compare against the set from before they start: other tests' validators may still run."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue  # ended while we looked
        if int(fields[1]) == os.getpid() and comm == "node" and fields[0] != "Z":
            pids.add(int(entry.name))
    return pids


def validator_of(federation: Federation) -> GltfValidator:
    node = federation.nodes["bridge"]
    assert isinstance(node, BridgeNode)
    return node.validator


async def test_a_stalled_validator_refuses_that_conversion_deadline_exceeded_and_the_next_converts(
    federation: Federation,
) -> None:
    """With a time limit the worker cannot meet (1 ms), the worker is killed and Convert fails
    DEADLINE_EXCEEDED VALIDATOR_TIMEOUT naming the limit; with the limit back, the next Convert
    succeeds on a new worker."""
    validator = validator_of(federation)
    limit = validator.timeout_s
    validator.timeout_s = 0.001
    try:
        await refused(convert_box(federation), grpc.StatusCode.DEADLINE_EXCEEDED, "VALIDATOR_TIMEOUT", "0.001 s")
    finally:
        validator.timeout_s = limit
    started = validator.workers_started
    parts = await convert_box(federation)
    assert parts[0].HasField("item") and any(p.HasField("chunk") for p in parts)
    assert validator.workers_started == started + 1


async def test_a_worker_killed_from_outside_is_replaced_and_the_next_conversion_succeeds(
    federation: Federation,
) -> None:
    """SIGKILL to the bridge's Node.js worker between conversions: the next Convert starts a new
    worker and converts."""
    validator, before = validator_of(federation), node_children()
    assert (await convert_box(federation))[0].HasField("item")
    [pid] = node_children() - before
    os.kill(pid, signal.SIGKILL)
    assert (await convert_box(federation))[0].HasField("item")
    assert validator.workers_started == 2
    [replacement] = node_children() - before
    assert replacement != pid


async def test_no_node_process_is_left_once_the_bridge_stops(federation: Federation) -> None:
    """After a conversion one Node.js worker runs under this process; stopping the bridge ends it
    (and stopping again is fine)."""
    before = node_children()
    assert (await convert_box(federation))[0].HasField("item")
    assert len(node_children() - before) == 1
    node = federation.nodes["bridge"]
    await node.stop()
    await node.stop()
    for _ in range(100):  # reaped at once by close(); allow /proc a moment
        if not node_children() - before:
            break
        await asyncio.sleep(0.05)
    assert node_children() - before == set()
