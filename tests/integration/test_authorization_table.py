"""Every RPC of every service in proto/, called by every role of the node's own trust domain, of a
peer's trust domain, of the bridge's and of a third domain no one federates with; each cell's
status is asserted (issue 12 item 2: authority scoped to the trust domain; FGMV-43 GPIR-003).

Cells:
- ``ok``: the call passes the access check and reaches the handler (whatever the handler then
  answers to an empty request, it is not PEER_NOT_ALLOWED and not a refused handshake);
- ``denied``: PERMISSION_DENIED, reason PEER_NOT_ALLOWED, before any handler runs;
- ``handshake``: UNAVAILABLE: the node holds no bundle that issued the certificate, so the TLS
  handshake fails;
- ``refused:REASON``: the guard admits the caller, but the method's handler admits fewer (only
  the own instance hands a gateway what it signs, issue 12 item 3; only the own gateway passes on
  what another M-Instance sent): PERMISSION_DENIED with that reason, nothing done.
Impersonations are rows of their own: b's CA issuing ``gateway.a.example`` or
``operator.a.example``, and c's CA issuing ``gateway.b.example``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from certs import CertificateAuthority, NodeRole, init_trust_domain
from mmmfed.api.v1 import bridge_pb2, content_pb2, gateway_pb2, identity_pb2, instance_pb2
from mmmfed.cli.inprocess import Federation, peer, start_federation
from mmmfed.cli.loopback import BRIDGE, A, B
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.rpc import error_info
from mmmfed.tls import secure_channel

C = "c.example"
CALL_TIMEOUT_S = 10.0
OK, DENIED, HANDSHAKE = "ok", "denied", "handshake"
SERVICES: dict[str, ServiceDescriptor] = {
    "Instance": instance_pb2.DESCRIPTOR.services_by_name["Instance"],
    "Content": content_pb2.DESCRIPTOR.services_by_name["Content"],
    "ContentExchange": content_pb2.DESCRIPTOR.services_by_name["ContentExchange"],
    "PlatformGateway": gateway_pb2.DESCRIPTOR.services_by_name["PlatformGateway"],
    "Federation": gateway_pb2.DESCRIPTOR.services_by_name["Federation"],
    "Bridge": bridge_pb2.DESCRIPTOR.services_by_name["Bridge"],
    "IdentityGateway": identity_pb2.DESCRIPTOR.services_by_name["IdentityGateway"],
    "IdentityFederation": identity_pb2.DESCRIPTOR.services_by_name["IdentityFederation"],
}
# Which node serves each service here (b's nodes mirror a's).
TARGET_OF = {
    "Instance": "instance_a",
    "Content": "instance_a",
    "ContentExchange": "instance_a",
    "PlatformGateway": "gateway_a",
    "Federation": "gateway_a",
    "Bridge": "bridge",
    "IdentityGateway": "gateway_a",
    "IdentityFederation": "gateway_a",
}


@dataclass(frozen=True)
class Row:
    """A caller: ``label`` (``domain/what``), the trust domain whose CA issued its certificate."""

    label: str
    domain: str
    name: str
    role: NodeRole


ROWS = [
    Row("a/instance", A, f"instance.{A}", NodeRole.INSTANCE),
    Row("a/gateway", A, f"gateway.{A}", NodeRole.GATEWAY),
    Row("a/operator", A, f"operator.{A}", NodeRole.OPERATOR),
    Row("a/bridge-role", A, f"bridge.{A}", NodeRole.BRIDGE),
    Row("b/instance", B, f"instance.{B}", NodeRole.INSTANCE),
    Row("b/gateway", B, f"gateway.{B}", NodeRole.GATEWAY),
    Row("b/operator", B, f"operator.{B}", NodeRole.OPERATOR),
    Row("b/gateway-named-a", B, f"gateway.{A}", NodeRole.GATEWAY),
    Row("b/operator-named-a", B, f"operator.{A}", NodeRole.OPERATOR),
    Row("b/instance-named-a", B, f"instance.{A}", NodeRole.INSTANCE),
    Row("bridge/bridge", BRIDGE, BRIDGE, NodeRole.BRIDGE),
    Row("bridge/operator", BRIDGE, f"operator.{BRIDGE}", NodeRole.OPERATOR),
    Row("bridge/gateway-named-a", BRIDGE, f"gateway.{A}", NodeRole.GATEWAY),
    Row("c/gateway", C, f"gateway.{C}", NodeRole.GATEWAY),
    Row("c/operator", C, f"operator.{C}", NodeRole.OPERATOR),
    Row("c/gateway-named-b", C, f"gateway.{B}", NodeRole.GATEWAY),
]

# The domains each node's handshake accepts certificates from.
TRUSTED = {"instance_a": {A}, "gateway_a": {A, B, BRIDGE}, "bridge": {BRIDGE, A, B}}
# Who passes the access check, by service.
ALLOWED = {
    "Instance": {"a/gateway", "a/operator"},
    "Content": {"a/operator"},  # FGMV-43 9.3: only the M-Instance's own operators publish and read contents
    "ContentExchange": {"a/gateway"},  # RI-3: only its own gateway reads a content to sign it, or hands one over
    "PlatformGateway": {"a/instance", "a/operator"},
    "Federation": {"b/gateway"},
    "Bridge": {"a/gateway", "b/gateway", "bridge/operator"},
    "IdentityGateway": {"a/operator"},  # RI-4: the M-Instance's operators migrate and unlink its users' identities
    "IdentityFederation": {"b/gateway"},  # RE-4: peer-only
}


# Methods whose handler admits fewer callers than their service's guard, and its reason for the rest.
NOT_OWN_INSTANCE = ({"a/instance"}, "NOT_OWN_INSTANCE")
ORIGIN_NOT_GATEWAY = ({"a/gateway"}, "ORIGIN_NOT_GATEWAY")
HANDLER_ONLY = {
    ("PlatformGateway", "SendAssetOffer"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SendAssetDecision"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "Resolve"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SendToPeer"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SendContent"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SyncContentWithPeer"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SearchPeerContents"): NOT_OWN_INSTANCE,
    ("PlatformGateway", "SyncAvatarHome"): NOT_OWN_INSTANCE,
    ("Instance", "GetTransferRecord"): ORIGIN_NOT_GATEWAY,
    ("Instance", "StageAsset"): ORIGIN_NOT_GATEWAY,
    ("Instance", "DecideAssetTransfer"): ORIGIN_NOT_GATEWAY,
    ("Instance", "CancelAssetTransfer"): ({"a/operator"}, "NOT_OPERATOR"),
    ("Instance", "RecordAvatarMigration"): ORIGIN_NOT_GATEWAY,
    ("Instance", "ReceiveRoamingChange"): ORIGIN_NOT_GATEWAY,
    ("Instance", "RecoverRoamingAvatar"): ORIGIN_NOT_GATEWAY,
    ("Instance", "ImportIdentity"): ORIGIN_NOT_GATEWAY,
    ("Instance", "RemoveIdentity"): ORIGIN_NOT_GATEWAY,
}


def expected(row: Row, service: str, method: str) -> str:
    """The cell's outcome, from the rules above."""
    if row.domain not in TRUSTED[TARGET_OF[service]]:
        return HANDSHAKE
    if row.label not in ALLOWED[service]:
        return DENIED
    only = HANDLER_ONLY.get((service, method))
    return OK if only is None or row.label in only[0] else f"refused:{only[1]}"


def cells() -> Iterator[tuple[str, MethodDescriptor]]:
    for service, descriptor in SERVICES.items():
        for method in descriptor.methods:
            yield service, method


def test_the_table_covers_every_rpc_in_proto() -> None:
    """Every ``rpc`` line of every .proto file is a method of a service the table calls."""
    proto_dir = Path(__file__).resolve().parents[2] / "proto" / "mmmfed" / "api" / "v1"
    lines = [line.strip() for f in proto_dir.glob("*.proto") for line in f.read_text().splitlines()]
    declared = sum(line.startswith("rpc ") for line in lines)
    assert declared == sum(1 for _ in cells())


@pytest.fixture
async def domains(tmp_path: Path) -> AsyncIterator[tuple[Federation, dict[str, TlsConfig]]]:
    """The loopback federation (a, b and the bridge, three trust domains), a third domain c, and
    one client certificate per row, issued by the row's domain's CA."""
    fed = await start_federation(tmp_path / "fed")
    try:
        cas = {d: CertificateAuthority.load(fed.plan.pki[d]) for d in (A, B, BRIDGE)}
        cas[C] = init_trust_domain(tmp_path / "c-pki", C, {})
        out = tmp_path / "rows"
        tls: dict[str, TlsConfig] = {}
        for row in ROWS:
            stem = row.label.replace("/", "_")
            cas[row.domain].issue_files(row.name, row.role, out, valid_days=1, extra_uris=[], stem=stem)
            ca_pem = fed.plan.pki[row.domain] / "ca.pem" if row.domain != C else tmp_path / "c-pki" / "ca.pem"
            tls[row.label] = TlsConfig(ca_cert=ca_pem, cert=out / f"{stem}.pem", key=out / f"{stem}.key")
        yield fed, tls
    finally:
        await fed.stop()


def _requests(method: MethodDescriptor) -> Any:
    request = message_factory.GetMessageClass(method.input_type)()
    if not method.client_streaming:
        return request

    async def one() -> AsyncIterator[Any]:
        yield request

    return one()


async def _outcome(channel: grpc.aio.Channel, service: str, method: MethodDescriptor) -> tuple[str, str]:
    path = f"/{SERVICES[service].full_name}/{method.name}"
    response_class = message_factory.GetMessageClass(method.output_type)
    kind = ("stream" if method.client_streaming else "unary") + "_" + ("stream" if method.server_streaming else "unary")
    multicallable = getattr(channel, kind)(
        path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response_class.FromString
    )
    try:
        call = multicallable(_requests(method), timeout=CALL_TIMEOUT_S)
        if method.server_streaming:
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        reason = info.reason if info else ""
        if err.code() == grpc.StatusCode.UNAVAILABLE and not reason:
            return HANDSHAKE, err.code().name
        if err.code() == grpc.StatusCode.PERMISSION_DENIED:
            return (DENIED if reason == "PEER_NOT_ALLOWED" else f"refused:{reason}"), err.details() or ""
        return OK, f"{err.code().name} {reason}"
    return OK, "OK"


async def test_every_rpc_admits_exactly_the_roles_of_the_right_trust_domain(
    domains: tuple[Federation, dict[str, TlsConfig]],
) -> None:
    """Issue 12 item 2: roles of a node's own trust domain only from its own CA, a peer's gateway
    only as that peer and only on RE (Federation) methods, a bridge's callers as a bridge has them;
    a third domain never completes a handshake. Every cell of the table is checked."""
    fed, tls = domains
    wrong: list[str] = []
    for row in ROWS:
        for target in sorted({TARGET_OF[s] for s in SERVICES}):
            cfg = getattr(fed.plan, target)
            to = PeerAddress(tls_name=cfg.tls_name, address=peer(cfg).address)
            # The client trusts the target's CA, so only the target's own decision is tested.
            async with secure_channel(tls[row.label], to, roots=cfg.tls.ca_cert.read_bytes()) as channel:
                for service, method in cells():
                    if TARGET_OF[service] != target:
                        continue
                    got, detail = await _outcome(channel, service, method)
                    want = expected(row, service, method.name)
                    if got != want:
                        wrong.append(f"{row.label} -> {service}/{method.name}: {got} ({detail}), expected {want}")
    assert not wrong, "\n".join(wrong)
