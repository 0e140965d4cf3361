"""Limits on what a peer can make a node spend (issue 12 item 6), over real gRPC and mTLS: a
texture bomb refused by the bridge before decoding, a deadline on outgoing calls to a peer that
never answers, ``maximum_concurrent_rpcs``, and a node that will not start on a port or a data
dir another node holds (``mmmfed serve`` exits 2 with the reason)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from bridge_calls import convert_requests
from rpcassert import refused

from bridge.node import BridgeNode
from mmmfed import deadlines
from mmmfed.api.v1 import bridge_pb2 as bpb
from mmmfed.api.v1 import bridge_pb2_grpc, gateway_pb2_grpc
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import manifesto_pb2 as mpb
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import samples_dir
from mmmfed.errors import RemoteError
from mmmfed.rpc import call
from mmmfed.testing import solid_png, with_texture
from mmmfed.tls import node_trust_domains, secure_channel, server_credentials

ROOT = Path(__file__).parents[2]
BOX = samples_dir() / "gltf" / "BoxTextured" / "BoxTextured.glb"
pytestmark = pytest.mark.skipif(not BOX.is_file(), reason=f"sample asset not found at {BOX}")
GUARD_S = 60.0  # a test that would hang fails after this instead


def serve(config: Path, *, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """``mmmfed serve gateway --config CONFIG`` in a subprocess (it must exit by itself)."""
    return subprocess.run(
        [sys.executable, "-m", "mmmfed", "serve", "gateway", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=os.environ.copy(),
    )


# -- texture bomb through the bridge ------------------------------------------------------------
async def test_bridge_refuses_a_texture_bomb_before_decoding(federation: Federation) -> None:
    """A GLB holding a 12000x12000 texture sent to the bridge's Convert is refused
    INVALID_ARGUMENT IMAGE_TOO_LARGE, naming the size."""
    p = federation.plan
    data = await asyncio.to_thread(lambda: with_texture(BOX.read_bytes(), solid_png(12000, 12000)))
    async with secure_channel(p.gateway_a.tls, peer(p.bridge)) as channel:
        stub = bridge_pb2_grpc.BridgeStub(channel)
        requests = await convert_requests(stub, data)

        async def first_answer() -> bpb.ConvertResponse:
            return await stub.Convert(iter(requests)).read()

        await refused(first_answer(), grpc.StatusCode.INVALID_ARGUMENT, "IMAGE_TOO_LARGE", "12000x12000")


# -- deadlines on outgoing calls ----------------------------------------------------------------
class NeverAnswers(gateway_pb2_grpc.FederationServicer):
    """A peer gateway that accepts calls and never answers them."""

    async def GetKeys(self, request: gpb.GetKeysRequest, context: grpc.aio.ServicerContext) -> mpb.KeySet:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def TransferAvatar(
        self, request_iterator: AsyncIterator[gpb.TransferAvatarRequest], context: grpc.aio.ServicerContext
    ) -> gpb.TransferAvatarResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_peer_that_never_answers_ends_deadline_exceeded(
    federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Calls made without ``timeout=`` to a peer whose handlers never return end
    DEADLINE_EXCEEDED at the default deadline (shortened here), unary and streaming alike."""
    monkeypatch.setattr(deadlines, "DEFAULT_DEADLINE_S", 0.5)
    monkeypatch.setattr(deadlines, "DEFAULT_STREAM_DEADLINE_S", 1.0)
    p = federation.plan
    server = grpc.aio.server()
    gateway_pb2_grpc.add_FederationServicer_to_server(NeverAnswers(), server)
    port = server.add_secure_port("127.0.0.1:0", server_credentials(p.gateway_b.tls, node_trust_domains(p.gateway_b)))
    await server.start()
    try:
        silent = p.gateway_a.peers["b.example"].model_copy(update={"address": f"127.0.0.1:{port}"})
        async with secure_channel(p.gateway_a.tls, silent) as channel:
            stub = gateway_pb2_grpc.FederationStub(channel)
            with pytest.raises(RemoteError) as unary:
                await asyncio.wait_for(call(lambda: stub.GetKeys(gpb.GetKeysRequest()), attempts=1), GUARD_S)
            assert unary.value.code == grpc.StatusCode.DEADLINE_EXCEEDED

            async def requests() -> AsyncIterator[gpb.TransferAvatarRequest]:
                yield gpb.TransferAvatarRequest(chunk=b"x")
                await asyncio.Event().wait()  # and never half-closes

            with pytest.raises(RemoteError) as stream:
                await asyncio.wait_for(call(lambda: stub.TransferAvatar(requests()), attempts=1), GUARD_S)
            assert stream.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        await server.stop(None)


# -- maximum_concurrent_rpcs --------------------------------------------------------------------
async def test_calls_beyond_maximum_concurrent_rpcs_are_resource_exhausted(federation: Federation) -> None:
    """A bridge with ``maximum_concurrent_rpcs = 2`` sent three calls that it holds open answers
    exactly one RESOURCE_EXHAUSTED at once, keeps the other two, and serves again once they end."""
    p = federation.plan
    node = BridgeNode(p.bridge.model_copy(update={"listen": "127.0.0.1:0", "maximum_concurrent_rpcs": 2}))
    address = p.gateway_a.bridges[p.bridge.bridge_id].model_copy(update={"address": await node.start()})
    release = asyncio.Event()

    async def nothing_until_released() -> AsyncIterator[bpb.ConvertRequest]:
        await release.wait()
        return
        yield  # an async generator that sends nothing

    try:
        async with secure_channel(p.gateway_a.tls, address) as channel:
            stub = bridge_pb2_grpc.BridgeStub(channel)
            calls = [stub.Convert(nothing_until_released(), timeout=GUARD_S) for _ in range(3)]
            answers = [asyncio.ensure_future(c.read()) for c in calls]  # a stream call starts when read
            done, pending = await asyncio.wait(answers, return_when=asyncio.FIRST_COMPLETED)
            assert (len(done), len(pending)) == (1, 2)
            (first,) = done
            assert isinstance(first.exception(), grpc.aio.AioRpcError)
            assert first.exception().code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[union-attr]
            release.set()
            for answer in pending:
                # ends: the stream closed without a header
                await refused(answer, grpc.StatusCode.INVALID_ARGUMENT, "STREAM_ORDER")
            manifesto = await stub.GetManifesto(bpb.GetBridgeManifestoRequest(), timeout=GUARD_S)
            assert manifesto.issuer_id == p.bridge.bridge_id
    finally:
        release.set()
        await node.stop()


# -- a port or data dir another node holds ------------------------------------------------------
async def test_second_gateway_on_a_used_port_or_data_dir_exits_2(federation: Federation, tmp_path: Path) -> None:
    """`mmmfed serve gateway` on the port of a running gateway exits 2 LISTEN_FAILED naming the
    address; on its data dir (another port) exits 2 DATA_DIR_LOCKED; no traceback either time."""
    running = federation.plan.gateway_a
    same_port = tmp_path / "same-port.json"
    same_port.write_text(running.model_copy(update={"data_dir": tmp_path / "other-data"}).model_dump_json())
    same_dir = tmp_path / "same-dir.json"
    same_dir.write_text(running.model_copy(update={"listen": "127.0.0.1:0"}).model_dump_json())

    port_taken = await asyncio.to_thread(serve, same_port)
    assert port_taken.returncode == 2, port_taken.stderr
    assert "LISTEN_FAILED" in port_taken.stderr and running.listen in port_taken.stderr
    dir_taken = await asyncio.to_thread(serve, same_dir)
    assert dir_taken.returncode == 2, dir_taken.stderr
    assert "DATA_DIR_LOCKED" in dir_taken.stderr
    for result in (port_taken, dir_taken):
        assert "Traceback" not in result.stderr + result.stdout
    # The running gateway still answers.
    assert federation.at_a is not None
    await federation.at_a.negotiate("b.example")
