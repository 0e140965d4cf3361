"""The Helm chart helm/mmmfed, security: every container runs locked down with resources, the
certificates come read-only from existing Secrets, and the probes run the mTLS health check
script, which is checked against a real node over mTLS."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from chart_render import CHART, PREFIX, VALUE_SETS, find, node_config, node_workloads, pod_spec, render, workloads

from bridge.node import BridgeNode
from certs import init_trust_domain
from mmmfed.config import BridgeConfig

# -- security ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", ["defaults", "3-replicas-internal-redis"])
def test_every_container_runs_locked_down_with_resources(value_set: str) -> None:
    """Every container, Redis included: non-root, read-only root filesystem, no privilege
    escalation, ALL capabilities dropped, resource requests and limits, no service account token."""
    docs = render(VALUE_SETS[value_set])
    for workload in workloads(docs):
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"] and container["resources"]["limits"]
            assert container["readinessProbe"] and container["livenessProbe"]


@pytest.mark.parametrize("value_set", ["defaults", "3-replicas-internal-redis"])
def test_certificates_come_read_only_from_existing_secrets(value_set: str) -> None:
    """No Secret is rendered; each node mounts the CA Secret and its own kubernetes.io/tls Secret,
    read-only, where its configuration looks for them."""
    docs = render(VALUE_SETS[value_set])
    assert "Secret" not in {d["kind"] for d in docs}
    own = {"gateway": "mmmfed-gateway-tls", "instance": "mmmfed-instance-tls", "bridge": "mmmfed-bridge-tls"}
    for component, workload in node_workloads(docs).items():
        spec = pod_spec(workload)
        (tls,) = (v for v in spec["volumes"] if v["name"] == "tls")
        sources = [s["secret"] for s in tls["projected"]["sources"]]
        assert sources == [
            {"name": "mmmfed-ca", "items": [{"key": "ca.pem", "path": "ca.pem"}]},
            {
                "name": own[component],
                "items": [{"key": "tls.crt", "path": "tls.crt"}, {"key": "tls.key", "path": "tls.key"}],
            },
        ]
        assert tls["projected"]["defaultMode"] == 0o440
        (mount,) = (m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "tls")
        assert mount == {"name": "tls", "mountPath": "/etc/mmmfed/tls", "readOnly": True}


def test_probes_run_the_mtls_health_check_script() -> None:
    """Each node's readiness and liveness probes exec the chart's gRPC health script over mTLS
    (no grpc: probe, which cannot present a client certificate)."""
    docs = render({})
    for component, workload in node_workloads(docs).items():
        (container,) = pod_spec(workload)["containers"]
        for probe, mode in (("readinessProbe", "ready"), ("livenessProbe", "live")):
            assert "grpc" not in container[probe], component
            assert container[probe]["exec"]["command"] == [
                "python3",
                "/etc/mmmfed/probe/health_probe.py",
                "/etc/mmmfed/config/node.json",
                mode,
            ]
        mounts = {m["name"]: m for m in container["volumeMounts"]}
        assert mounts["probe"] == {"name": "probe", "mountPath": "/etc/mmmfed/probe", "readOnly": True}
    script = find(docs, "ConfigMap", f"{PREFIX}-probe")["data"]["health_probe.py"]
    assert script == (CHART / "files" / "health_probe.py").read_text()


async def _probe(script: Path, config: Path, mode: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(config), mode, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_probe_script_checks_health_of_a_real_node_over_mtls(tmp_path: Path) -> None:
    """The rendered probe script passes against a real bridge node serving with the rendered
    bridge config (certificates from `mmmfed certs init`), fails with another federation's CA,
    and fails once the node has stopped."""
    docs = render({})
    script = tmp_path / "health_probe.py"
    script.write_text(find(docs, "ConfigMap", f"{PREFIX}-probe")["data"]["health_probe.py"])
    # The in-chart bridge belongs to the release's M-Instance's trust domain (a.example).
    init_trust_domain(tmp_path / "pki", "a.example", {"bridge.example": "bridge"})
    init_trust_domain(tmp_path / "other", "a.example", {"bridge.example": "bridge"})
    raw = node_config(docs, "bridge")
    tls = {"ca_cert": "ca.pem", "cert": "bridge.example.pem", "key": "bridge.example.key"}
    raw["tls"] = {k: str(tmp_path / "pki" / v) for k, v in tls.items()}
    raw["gateways"] = {m: {**g, "bundle": str(tmp_path / "pki" / "ca.pem")} for m, g in raw["gateways"].items()}
    raw["listen"] = "127.0.0.1:0"
    raw["data_dir"] = str(tmp_path / "bridge-data")  # the chart's /var/lib/mmmfed is the pod's volume
    raw["observability"] = {**raw.get("observability", {}), "metrics_listen": "127.0.0.1:0"}  # 9464 may be taken
    node = BridgeNode(BridgeConfig.model_validate(raw))
    bound = await node.start()
    try:
        raw["listen"] = bound
        config = tmp_path / "node.json"
        config.write_text(json.dumps(raw))
        foreign = tmp_path / "foreign.json"
        foreign.write_text(json.dumps({**raw, "tls": {k: str(tmp_path / "other" / v) for k, v in tls.items()}}))
        assert await _probe(script, config, "ready") == (0, "bridge.example: SERVING\n")
        assert await _probe(script, config, "live") == (0, "bridge.example: SERVING\n")
        code, out = await _probe(script, foreign, "ready")
        assert code == 1 and "UNAVAILABLE" in out
    finally:
        await node.stop()
    code, out = await _probe(script, config, "live")
    assert code == 1 and "health check failed" in out
