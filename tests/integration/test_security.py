"""Mutual TLS and authorizers on every node of the loopback federation (FGMV-43 GPIR-003:
transfers between platforms are authenticated and integrity-protected).

Clients here are real grpc.aio channels to the running nodes; the failure certificates are named
for what is wrong with them (no certificate, ``wrong_ca``, ``expired_leaf``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rpcassert import refused

from certs import CertificateAuthority, NodeRole, issue_node, make_ca
from certs.authority import Issued
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc, instance_pb2_grpc
from mmmfed.api.v1 import instance_pb2 as ipb
from mmmfed.api.v1 import item_pb2 as itpb
from mmmfed.cli.inprocess import Federation, peer, start_federation
from mmmfed.cli.loopback import OPERATOR, A, B
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.items import FORMAT_GLB, DataBinding, Item, build_item, sha256_hex
from mmmfed.rpc import error_info
from mmmfed.tls import CHANNEL_OPTIONS, secure_channel

CALL_TIMEOUT_S = 10.0
PLATFORM = "/mmmfed.api.v1.PlatformGateway"
FEDERATION = "/mmmfed.api.v1.Federation"
INSTANCE = "/mmmfed.api.v1.Instance"


# -- fixtures and helpers ------------------------------------------------------------------------
@dataclass
class Pki:
    """The running federation and a.example's CA, to issue more certificates for tests."""

    fed: Federation
    ca_cert: x509.Certificate
    ca_key: ec.EllipticCurvePrivateKey
    workdir: Path

    def client_tls(self, label: str, issued: Issued) -> TlsConfig:
        """TlsConfig presenting ``issued`` (servers are verified with the bundle of the node called)."""
        directory = self.workdir / "test-clients"
        directory.mkdir(exist_ok=True)
        cert, key = directory / f"{label}.pem", directory / f"{label}.key"
        cert.write_bytes(issued.cert_pem)
        key.write_bytes(issued.key_pem)
        return TlsConfig(ca_cert=self.fed.plan.operator_tls.ca_cert, cert=cert, key=key)

    def issue(self, label: str, name: str, role: NodeRole, **validity: Any) -> TlsConfig:
        """A certificate from a.example's CA (``validity``: ``not_before``, ``valid_days``)."""
        return self.client_tls(label, issue_node(self.ca_cert, self.ca_key, name, role, **validity))


@pytest.fixture
async def pki(tmp_path: Path) -> AsyncIterator[Pki]:
    """The loopback federation and a.example's CA (its key, which `certs init` keeps)."""
    fed = await start_federation(tmp_path)
    try:
        ca = CertificateAuthority.load(fed.plan.pki[A])
        yield Pki(fed, ca.cert, ca.key, tmp_path)
    finally:
        await fed.stop()


def channel_without_certificate(ca_cert: Path, to: PeerAddress) -> grpc.aio.Channel:
    """A channel that verifies the server but presents no client certificate."""
    creds = grpc.ssl_channel_credentials(root_certificates=ca_cert.read_bytes())
    options = (*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", to.tls_name))
    return grpc.aio.secure_channel(to.address, creds, options=options)


async def stream_then_wait(messages: Iterable[Any], release: asyncio.Event) -> AsyncIterator[Any]:
    """Send ``messages``, then keep the stream open until ``release``: a refusal must not wait
    for more, and the client writes nothing while the server refuses (grpc/grpc#36066)."""
    for message in messages:
        yield message
    await release.wait()


def one_triangle_glb() -> bytes:
    """A valid glTF 2.0 binary of one untextured triangle (fits b.example's constraints)."""
    positions = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)
    doc = {
        "asset": {"version": "2.0"},
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(positions)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}
        ],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "nodes": [{"mesh": 0}],
        "scenes": [{"nodes": [0]}],
        "scene": 0,
    }
    js = json.dumps(doc).encode()
    js += b" " * (-len(js) % 4)
    chunks = struct.pack("<II", len(js), 0x4E4F534A) + js + struct.pack("<II", len(positions), 0x004E4942) + positions
    return struct.pack("<4sII", b"glTF", 2, 12 + len(chunks)) + chunks


def persona(m_instance_id: str = A) -> tuple[Item, bytes]:
    """A Persona Item of ``m_instance_id`` and the one-triangle GLB it binds."""
    data = one_triangle_glb()
    item = build_item(
        m_instance_id=m_instance_id,
        item_type="ITM",
        qualifier={"SubType": "Persona", "Format": FORMAT_GLB, "Attributes": {"Triangles": "1"}},
        data=DataBinding(len(data), sha256_hex(data), "model/gltf-binary"),
        producer_process_id=f"mmm://{m_instance_id}/processes/service/avatar-service",
    )
    return item, data


async def transfer_to_b(tls: TlsConfig, fed: Federation, home_user: str, item: Item) -> Any:
    """Federation.TransferAvatar at gateway B presenting ``tls``: the header, then wait (no data)."""
    header = gpb.TransferAvatarHeader(
        transfer_id=f"urn:uuid:{uuid.uuid4()}",
        home_user_process_id=home_user,
        persona=itpb.ItemEnvelope(item_json=item.raw),
        home_item_id=item.item_id,
    )
    messages = [gpb.TransferAvatarRequest(header=header)]
    release = asyncio.Event()
    async with secure_channel(tls, peer(fed.plan.gateway_b)) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        try:
            return await stub.TransferAvatar(stream_then_wait(messages, release), timeout=CALL_TIMEOUT_S)
        finally:
            release.set()


def items_at_b(fed: Federation) -> set[str]:
    return {i.item_id for i in fed.nodes["instance-b"].store.find_items()}


# -- the TLS handshake: no certificate, another CA, an expired leaf, the wrong server -----------
def _no_certificate(pki: Pki, to: PeerAddress) -> grpc.aio.Channel:
    return channel_without_certificate(pki.fed.plan.operator_tls.ca_cert, to)


def _wrong_ca(pki: Pki, to: PeerAddress) -> grpc.aio.Channel:
    _, other_ca, other_key = make_ca("not-a-trusted-domain.example")
    wrong_ca = pki.client_tls("wrong_ca", issue_node(other_ca, other_key, OPERATOR, NodeRole.OPERATOR))
    return secure_channel(wrong_ca, to)


def _expired_leaf(pki: Pki, to: PeerAddress) -> grpc.aio.Channel:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    expired_leaf = pki.issue("expired_leaf", OPERATOR, NodeRole.OPERATOR, not_before=long_ago, valid_days=90)
    return secure_channel(expired_leaf, to)


BAD_CLIENTS = [
    pytest.param(_no_certificate, id="no-certificate"),
    pytest.param(_wrong_ca, id="wrong_ca"),
    pytest.param(_expired_leaf, id="expired_leaf"),
]


@pytest.mark.parametrize("client", BAD_CLIENTS)
async def test_gateway_refuses_client_without_valid_certificate(
    pki: Pki, client: Callable[[Pki, PeerAddress], grpc.aio.Channel]
) -> None:
    """A client without a valid federation certificate never completes the handshake with a
    gateway: Negotiate fails UNAVAILABLE and nothing runs (FGMV-43 GPIR-003)."""
    fed = pki.fed
    async with client(pki, peer(fed.plan.gateway_a)) as channel:
        stub = gateway_pb2_grpc.PlatformGatewayStub(channel)
        call = stub.Negotiate(gpb.NegotiateRequest(peer_m_instance_id=B), timeout=CALL_TIMEOUT_S)
        await refused(call, grpc.StatusCode.UNAVAILABLE, None)
    assert await fed.nodes["gateway-a"].store.get_document("manifesto/answer", B) is None
    assert await fed.nodes["gateway-b"].store.get_document("manifesto/answered", A) is None


@pytest.mark.parametrize("client", BAD_CLIENTS)
async def test_instance_refuses_client_without_valid_certificate(
    pki: Pki, client: Callable[[Pki, PeerAddress], grpc.aio.Channel]
) -> None:
    """A client without a valid federation certificate cannot read an instance's manifesto
    (UNAVAILABLE: the handshake fails; FGMV-43 GPIR-003)."""
    async with client(pki, peer(pki.fed.plan.instance_a)) as channel:
        call = instance_pb2_grpc.InstanceStub(channel).GetManifesto(ipb.GetManifestoRequest(), timeout=CALL_TIMEOUT_S)
        await refused(call, grpc.StatusCode.UNAVAILABLE, None)


async def test_client_refuses_server_with_another_name(federation: Federation) -> None:
    """A client expecting gateway.b.example refuses gateway A's certificate at B's name: a
    misrouted address cannot impersonate a peer (UNAVAILABLE; FGMV-43 GPIR-003)."""
    p = federation.plan
    impostor = PeerAddress(tls_name=p.gateway_b.tls_name, address=p.gateway_a.listen)
    async with secure_channel(p.operator_tls, impostor) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        await refused(
            stub.GetManifesto(gpb.GetPeerManifestoRequest(), timeout=CALL_TIMEOUT_S), grpc.StatusCode.UNAVAILABLE, None
        )


# -- authorizers: a valid certificate, but a role or name the service is not open to ------------
@dataclass(frozen=True)
class Denied:
    """A caller (``plan`` attribute of its TLS config) calling ``method`` on node ``target``."""

    caller: str
    target: str
    method: str
    call: Callable[[grpc.aio.Channel], Awaitable[Any]]


def _migrate(channel: grpc.aio.Channel) -> Awaitable[Any]:
    request = gpb.MigrateAvatarRequest(user_process_id=f"mmm://{A}/processes/user/alice", peer_m_instance_id=B)
    return gateway_pb2_grpc.PlatformGatewayStub(channel).MigrateAvatar(request, timeout=CALL_TIMEOUT_S)


def _negotiate(channel: grpc.aio.Channel) -> Awaitable[Any]:
    request = gpb.NegotiateRequest(peer_m_instance_id=B)
    return gateway_pb2_grpc.PlatformGatewayStub(channel).Negotiate(request, timeout=CALL_TIMEOUT_S)


def _peer_manifesto(channel: grpc.aio.Channel) -> Awaitable[Any]:
    return gateway_pb2_grpc.FederationStub(channel).GetManifesto(gpb.GetPeerManifestoRequest(), timeout=CALL_TIMEOUT_S)


def _instance_manifesto(channel: grpc.aio.Channel) -> Awaitable[Any]:
    return instance_pb2_grpc.InstanceStub(channel).GetManifesto(ipb.GetManifestoRequest(), timeout=CALL_TIMEOUT_S)


DENIED = [
    Denied("bridge", "gateway_a", f"{PLATFORM}/MigrateAvatar", _migrate),
    Denied("instance_b", "gateway_a", f"{PLATFORM}/Negotiate", _negotiate),
    Denied("operator_tls", "gateway_b", f"{FEDERATION}/GetManifesto", _peer_manifesto),
    Denied("instance_a", "gateway_b", f"{FEDERATION}/GetManifesto", _peer_manifesto),
    Denied("instance_a", "instance_a", f"{INSTANCE}/GetManifesto", _instance_manifesto),
]


def _tls_of(fed: Federation, caller: str) -> TlsConfig:
    attr = getattr(fed.plan, caller)
    return attr if isinstance(attr, TlsConfig) else attr.tls


@pytest.mark.parametrize("case", DENIED, ids=lambda c: f"{c.caller}->{c.target}{c.method.rpartition('/')[2]}")
async def test_service_refuses_a_role_it_is_not_open_to(federation: Federation, case: Denied) -> None:
    """A federation certificate whose role or name a service is not open to is refused
    PERMISSION_DENIED PEER_NOT_ALLOWED, naming the peer and the method, and nothing runs."""
    fed = federation
    async with secure_channel(_tls_of(fed, case.caller), peer(getattr(fed.plan, case.target))) as channel:
        err = await refused(case.call(channel), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED", case.method)
    info = error_info(err)
    assert info is not None and info.metadata["method"] == case.method
    cert = x509.load_pem_x509_certificate(_tls_of(fed, case.caller).cert.read_bytes())
    name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert info.metadata["peer"].partition("/")[2] == name
    assert await fed.nodes["gateway-a"].store.get_document("manifesto/answer", B) is None


async def test_gateway_refuses_gateway_that_is_not_a_configured_peer(pki: Pki) -> None:
    """A gateway certificate that a peer's CA (a.example's) issued under a name other than the one
    gateway B has configured for that peer is refused PERMISSION_DENIED PEER_NOT_ALLOWED on the
    Federation service: a peer's CA vouches for that peer's gateway only."""
    stranger = pki.issue("gateway.c.example", "gateway.c.example", NodeRole.GATEWAY)
    async with secure_channel(stranger, peer(pki.fed.plan.gateway_b)) as channel:
        await refused(_peer_manifesto(channel), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED", "peer")


async def test_instance_refuses_import_from_a_gateway_not_its_own(federation: Federation) -> None:
    """Instance B refuses ImportAvatar from gateway A: only its own gateway and operators may call
    it, and a's certificate is of another trust domain, so the handshake fails (UNAVAILABLE) and
    gateway B's origin checks cannot be bypassed (FGMV-43 GPIR-003)."""
    p, before = federation.plan, items_at_b(federation)
    mallory = "mmm://c.example/processes/user/mallory"
    item, data = persona("c.example")
    header = ipb.ImportAvatarHeader(
        home_user_process_id=mallory,
        home_m_instance_id="c.example",
        persona=itpb.ItemEnvelope(item_json=item.raw),
        home_item_id=item.item_id,
    )
    answered = asyncio.Event()

    async def requests() -> AsyncIterator[ipb.ImportAvatarRequest]:
        yield ipb.ImportAvatarRequest(header=header)
        with contextlib.suppress(TimeoutError):  # refused on the header: send no data
            await asyncio.wait_for(answered.wait(), timeout=1.0)
        if not answered.is_set():
            yield ipb.ImportAvatarRequest(chunk=data)

    async def import_at_b() -> Any:
        async with secure_channel(p.gateway_a.tls, peer(p.instance_b)) as channel:
            call = instance_pb2_grpc.InstanceStub(channel).ImportAvatar(requests(), timeout=CALL_TIMEOUT_S)
            call.add_done_callback(lambda _: answered.set())
            return await call

    await refused(import_at_b(), grpc.StatusCode.UNAVAILABLE, None)
    assert items_at_b(federation) == before


# -- origin: the authenticated gateway may only send its own M-Instance's Users ----------------
@pytest.mark.parametrize(
    ("home_user", "persona_of", "mentions"),
    [
        pytest.param("mmm://c.example/processes/user/x", "c.example", "c.example", id="user-of-another-instance"),
        pytest.param(f"mmm://{B}/processes/user/bob", B, B, id="user-of-the-receiver"),
        pytest.param(f"mmm://{A}/processes/user/alice", "c.example", "c.example", id="persona-of-another-instance"),
    ],
)
async def test_transfer_refuses_spoofed_origin(
    negotiated: Federation, home_user: str, persona_of: str, mentions: str
) -> None:
    """Gateway A (authenticated by its certificate) transferring a User or Persona that is not
    a.example's is refused PERMISSION_DENIED ORIGIN_MISMATCH, and instance B stores nothing."""
    fed, before = negotiated, items_at_b(negotiated)
    item, _ = persona(persona_of)
    await refused(
        transfer_to_b(fed.plan.gateway_a.tls, fed, home_user, item),
        grpc.StatusCode.PERMISSION_DENIED,
        "ORIGIN_MISMATCH",
        A,
        mentions,
    )
    assert items_at_b(fed) == before


async def test_transfer_before_negotiation_is_refused(federation: Federation) -> None:
    """A transfer from a configured peer gateway without a negotiated answer manifesto is
    refused FAILED_PRECONDITION NOT_NEGOTIATED, and instance B stores nothing."""
    before = items_at_b(federation)
    item, _ = persona(A)
    await refused(
        transfer_to_b(federation.plan.gateway_a.tls, federation, f"mmm://{A}/processes/user/alice", item),
        grpc.StatusCode.FAILED_PRECONDITION,
        "NOT_NEGOTIATED",
        A,
    )
    assert items_at_b(federation) == before


# -- health --------------------------------------------------------------------------------------
@pytest.mark.parametrize("node", ["instance_a", "instance_b", "gateway_a", "gateway_b", "bridge"])
async def test_health_answers_serving_to_an_operator(federation: Federation, node: str) -> None:
    """Every node's grpc.health.v1 service answers SERVING to an operator certificate of its
    trust domain."""
    p = federation.plan
    cfg = getattr(p, node)
    async with secure_channel(p.operator_for(cfg), peer(cfg)) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
