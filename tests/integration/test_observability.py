"""Observability on every node (issue 6, item 2): each node of a real loopback federation serves
/metrics over HTTP from its own registry; after a negotiation, a migration through the bridge and
refused calls, the counters moved with the right labels, and ``promtool check metrics`` accepts
what every node serves. Health goes NOT_SERVING as soon as a graceful stop begins."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from personaflow import persona, transfer, transfer_header
from prometheus_client.parser import text_string_to_metric_families
from rpcassert import refused
from sample_assets import GODETTE

from bridge.node import BridgeNode
from certs import init_trust_domain
from mmmfed.api.v1 import gateway_pb2 as gpb
from mmmfed.api.v1 import gateway_pb2_grpc
from mmmfed.cli.inprocess import Federation, peer
from mmmfed.cli.loopback import B, plan
from mmmfed.config import BridgeConfig, ObservabilityConfig, TlsConfig
from mmmfed.errors import MmmfedError, RemoteError
from mmmfed.tls import secure_channel

NODES = ("instance-a", "instance-b", "gateway-a", "gateway-b", "bridge")
PLATFORM = "/mmmfed.api.v1.PlatformGateway"
FEDERATION = "/mmmfed.api.v1.Federation"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers ---------------------------------------------------------------------------------
@pytest.fixture
async def observed(tmp_path: Path) -> AsyncIterator[Federation]:
    """The loopback federation with ``observability.metrics_listen = "127.0.0.1:0"`` on every node."""
    p = plan(tmp_path)
    metrics = ObservabilityConfig(metrics_listen="127.0.0.1:0")
    fields = ("instance_a", "instance_b", "gateway_a", "gateway_b", "bridge")
    p = dataclasses.replace(p, **{f: getattr(p, f).model_copy(update={"observability": metrics}) for f in fields})
    fed = Federation(p)
    try:
        yield await fed.start()
    finally:
        await fed.stop()


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read().decode()


async def scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    """GET ``path`` from 127.0.0.1:``port`` with a plain HTTP client: (status, content type, body)."""
    return await asyncio.to_thread(_get, f"http://127.0.0.1:{port}{path}")


def samples(text: str) -> Samples:
    """(sample name, labels) -> value of a Prometheus text exposition."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(found: Samples, name: str, **labels: str) -> float:
    """The sample ``name{labels}``; 0 when the node has not reported it."""
    return found.get((name, frozenset(labels.items())), 0.0)


def promtool(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` with ``text`` on its standard input."""
    return subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)


# -- the federation's metrics ----------------------------------------------------------------
async def test_every_node_counts_a_negotiation_a_migration_and_refusals(observed: Federation) -> None:
    """After negotiation, Godette's migration through the bridge, a migration to an unknown peer
    (NOT_FOUND) and a forged transfer (PERMISSION_DENIED PROOF_MISSING), each node's /metrics shows
    requests by method and code, bytes each way, observed durations, the refusal by reason and one
    ACTIVE agreement per gateway; promtool finds nothing to say about any of them."""
    fed = observed
    assert fed.at_a is not None
    await fed.at_a.negotiate(B)
    reg = await fed.at_a.register_human("godette", GODETTE)
    result = await fed.at_a.migrate(reg.user_process_id, B)
    assert result.outcome == gpb.MIGRATION_OUTCOME_MIGRATED, result.refusal_message
    with pytest.raises(RemoteError) as unknown:
        await fed.at_a.migrate(reg.user_process_id, "nowhere.example")
    assert (unknown.value.code, unknown.value.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_PEER")
    unsigned = persona(b"glTF" * 8)
    await refused(transfer(fed, [transfer_header(unsigned)]), grpc.StatusCode.PERMISSION_DENIED, "PROOF_MISSING")

    scraped: dict[str, Samples] = {}
    for name in NODES:
        port = fed.nodes[name].server.metrics_port
        assert port > 0
        status, content_type, text = await scrape(port)
        assert status == 200 and content_type.startswith("text/plain"), (name, status, text)
        checked = promtool(text)
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), name
        scraped[name] = samples(text)

    a, b, bridge = scraped["gateway-a"], scraped["gateway-b"], scraped["bridge"]
    requests = "mmmfed_grpc_requests_total"
    assert value(a, requests, method=f"{PLATFORM}/Negotiate", code="OK") == 1
    assert value(a, requests, method=f"{PLATFORM}/MigrateAvatar", code="OK") == 1
    assert value(a, requests, method=f"{PLATFORM}/MigrateAvatar", code="NOT_FOUND") == 1
    assert value(a, "mmmfed_grpc_request_duration_seconds_count", method=f"{PLATFORM}/MigrateAvatar") == 2
    assert value(b, requests, method=f"{FEDERATION}/OfferManifestos", code="OK") == 1
    assert value(b, requests, method=f"{FEDERATION}/TransferAvatar", code="OK") == 1
    assert value(b, requests, method=f"{FEDERATION}/TransferAvatar", code="PERMISSION_DENIED") == 1
    assert value(bridge, requests, method="/mmmfed.api.v1.Bridge/Convert", code="OK") == 1
    assert value(scraped["instance-a"], requests, method="/mmmfed.api.v1.Instance/ExportAvatar", code="OK") == 1
    assert value(scraped["instance-b"], requests, method="/mmmfed.api.v1.Instance/ImportAvatar", code="OK") == 1

    assert value(b, "mmmfed_verification_refusals_total", reason="PROOF_MISSING") == 1
    assert value(a, "mmmfed_verification_refusals_total", reason="PROOF_MISSING") == 0

    bytes_total = "mmmfed_transferred_bytes_total"
    assert result.bytes_sent > 0
    assert value(a, bytes_total, direction="sent") == result.bytes_sent
    assert value(b, bytes_total, direction="received") == result.bytes_sent
    assert value(bridge, bytes_total, direction="received") == GODETTE.stat().st_size
    assert value(bridge, bytes_total, direction="sent") == result.bytes_sent  # the converted GLB

    migration = "mmmfed_migration_duration_seconds"
    assert value(a, f"{migration}_count", side="home", outcome="migrated") == 1
    assert value(a, f"{migration}_count", side="home", outcome="error") == 1
    assert value(a, f"{migration}_sum", side="home", outcome="migrated") > 0
    assert value(b, f"{migration}_count", side="visiting", outcome="migrated") == 1
    assert value(b, f"{migration}_count", side="visiting", outcome="refused") == 1
    assert value(bridge, "mmmfed_conversion_duration_seconds_count", outcome="converted") == 1
    assert value(bridge, "mmmfed_conversion_duration_seconds_sum", outcome="converted") > 0

    for gateway in (a, b):
        states = {s: value(gateway, "mmmfed_agreements", state=s) for s in ("PROPOSED", "ACTIVE", "REVOKED", "EXPIRED")}
        assert states == {"PROPOSED": 0, "ACTIVE": 1, "REVOKED": 0, "EXPIRED": 0}


async def test_agreement_states_are_read_at_scrape_time(observed: Federation) -> None:
    """Revoking the agreement moves it from ACTIVE to REVOKED on both gateways at the next scrape."""
    fed = observed
    assert fed.at_a is not None
    await fed.at_a.negotiate(B)
    await fed.at_a.gateway.RevokeAgreement(gpb.RevokePeerAgreementRequest(peer_m_instance_id=B, reason="test"))
    for name in ("gateway-a", "gateway-b"):
        _, _, text = await scrape(fed.nodes[name].server.metrics_port)
        found = samples(text)
        assert value(found, "mmmfed_agreements", state="ACTIVE") == 0, name
        assert value(found, "mmmfed_agreements", state="REVOKED") == 1, name


async def test_a_peer_the_access_policy_refuses_counts_permission_denied(observed: Federation) -> None:
    """An operator calling the gateway-only Federation service is refused by the guard; the call
    counts with its method and PERMISSION_DENIED."""
    fed = observed
    async with secure_channel(fed.plan.operator_tls, peer(fed.plan.gateway_b)) as channel:
        stub = gateway_pb2_grpc.FederationStub(channel)
        await refused(stub.GetKeys(gpb.GetKeysRequest()), grpc.StatusCode.PERMISSION_DENIED, "PEER_NOT_ALLOWED")
    _, _, text = await scrape(fed.nodes["gateway-b"].server.metrics_port)
    found = samples(text)
    assert value(found, "mmmfed_grpc_requests_total", method=f"{FEDERATION}/GetKeys", code="PERMISSION_DENIED") == 1


# -- one node's endpoint and health through its lifecycle ------------------------------------
def _bridge_config(tmp_path: Path, metrics_listen: str | None) -> BridgeConfig:
    pki = tmp_path / "pki"
    if not pki.exists():
        init_trust_domain(pki, "bridge.example", {"bridge.example": "bridge", "operator.example": "operator"})
    return BridgeConfig(
        bridge_id="bridge.example",
        tls_name="bridge.example",
        listen="127.0.0.1:0",
        data_dir=tmp_path / "bridge-data",
        tls=TlsConfig(ca_cert=pki / "ca.pem", cert=pki / "bridge.example.pem", key=pki / "bridge.example.key"),
        observability=ObservabilityConfig(metrics_listen=metrics_listen),
    )


async def test_metrics_endpoint_starts_and_stops_with_the_node(tmp_path: Path) -> None:
    """The endpoint serves /metrics (404 elsewhere) while the node runs and is gone once it stops;
    stopping twice is fine; a node without metrics_listen serves none."""
    node = BridgeNode(_bridge_config(tmp_path, "127.0.0.1:0"))
    await node.start()
    port = node.server.metrics_port
    try:
        status, _, text = await scrape(port)
        assert status == 200 and "# HELP mmmfed_grpc_requests_total" in text
        assert (await scrape(port, "/"))[0] == 404
    finally:
        await node.stop()
    await node.stop()
    with pytest.raises(urllib.error.URLError):
        await scrape(port)

    quiet = BridgeNode(_bridge_config(tmp_path, None))
    await quiet.start()
    try:
        assert quiet.server.metrics_port == 0
    finally:
        await quiet.stop()


async def test_a_metrics_address_in_use_refuses_to_start(tmp_path: Path) -> None:
    """A second node asked to serve metrics on a port already taken fails METRICS_LISTEN_FAILED
    and serves nothing."""
    first = BridgeNode(_bridge_config(tmp_path, "127.0.0.1:0"))
    await first.start()
    try:
        second = BridgeNode(_bridge_config(tmp_path, f"127.0.0.1:{first.server.metrics_port}"))
        with pytest.raises(MmmfedError) as err:
            await second.start()
        assert err.value.reason == "METRICS_LISTEN_FAILED"
        assert second.server.port == 0
        await second.stop()
    finally:
        await first.stop()


async def test_health_goes_not_serving_when_a_graceful_stop_begins(tmp_path: Path) -> None:
    """A client watching the node's health sees SERVING, then NOT_SERVING once stop() begins,
    while the server is still draining (before it closes the watch)."""
    node = BridgeNode(_bridge_config(tmp_path, None))
    address = await node.start()
    pki = tmp_path / "pki"
    operator = TlsConfig(ca_cert=pki / "ca.pem", cert=pki / "operator.example.pem", key=pki / "operator.example.key")
    stopping: asyncio.Task[None] | None = None
    try:
        async with secure_channel(operator, peer(node.config.model_copy(update={"listen": address}))) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
            stopping = asyncio.create_task(node.server.stop(grace_s=30.0))
            assert (await watch.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            assert not stopping.done()
            watch.cancel()
    finally:
        if stopping is not None:
            await stopping
        await node.stop()
