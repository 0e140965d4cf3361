"""The Helm chart helm/mmmfed: linted and rendered by the real Helm engine (helm-python-sdk embeds
Helm v4), every rendered manifest checked against the Kubernetes schemas of one pinned version
(kubernetes-validate, strict), and the node configurations it renders loaded by mmmfed.config, so
the chart and the code agree."""

from __future__ import annotations

import asyncio
import copy
import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from bridge.node import BridgeNode
from certs import init_trust_domain
from mmmfed.config import BridgeConfig, GatewayConfig, InstanceConfig

CHART = Path(__file__).resolve().parents[2] / "helm" / "mmmfed"
# The Kubernetes version the manifests must be valid for (kubernetes-validate ships its schemas).
KUBE_VERSION = "1.33.0"
RELEASE = "fed"
NAMESPACE = "mmmfed"
PREFIX = f"{RELEASE}-mmmfed"
# A CRD of the Prometheus Operator: kubernetes-validate has schemas for built-in kinds only, so
# its schema is not checked; test_service_monitor_scrapes_the_metrics_port_of_every_node checks
# its content instead.
CRD_KINDS = {"ServiceMonitor"}

HA = {
    "gateway": {
        "replicas": 3,
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 6, "targetCPUUtilizationPercentage": 60},
        "signingKeys": {"existingSecret": "a-example-instance-keys"},
    },
    "redis": {"mode": "internal"},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
}
EXTERNAL_REDIS = {
    "gateway": {
        "replicas": 2,
        "signingKeys": {"existingSecret": "a-example-instance-keys"},
        "peers": {"b.example": {"tls_name": "gateway.b.example", "address": "gateway.b.example:443"}},
        "rules": [{"version_id": "r1", "effective_from_ms": 0, "accept_item_types": ["ITM"]}],
    },
    "redis": {"mode": "external", "url": "rediss://redis.example.org:6380/0", "urlSecret": {"name": "redis-url"}},
    "serviceMonitor": {"enabled": False},
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "3-replicas-internal-redis": HA,
    "external-redis": EXTERNAL_REDIS,
    "bridge-disabled": {"bridge": {"enabled": False}},
    "service-monitor-on": {"serviceMonitor": {"enabled": True}},
    "service-monitor-off-no-metrics": {"serviceMonitor": {"enabled": False}, "observability": {"metrics": False}},
}
NODE_MODELS = {"gateway": GatewayConfig, "instance": InstanceConfig, "bridge": BridgeConfig}


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


@cache
def _render_text(values_json: str) -> tuple[tuple[str, str], ...]:
    with helm.Chart.load(CHART) as loaded:
        out = loaded.render(json.loads(values_json), name=RELEASE, namespace=NAMESPACE)
    return tuple(sorted(out.items()))


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manifest the chart renders for ``values`` (NOTES.txt left out), parsed."""
    docs = []
    for path, text in _render_text(json.dumps(values, sort_keys=True)):
        if not path.endswith(".yaml"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} rendered"
    return matches[0]


def names(docs: list[dict[str, Any]], kind: str) -> set[str]:
    return {d["metadata"]["name"] for d in docs if d["kind"] == kind}


def node_config(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    return json.loads(find(docs, "ConfigMap", f"{PREFIX}-{component}")["data"]["node.json"])


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}]


def node_workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """component -> Deployment or StatefulSet of each mmmfed node (Redis left out)."""
    out = {}
    for workload in workloads(docs):
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in NODE_MODELS:
            out[component] = workload
    return out


def refusal(chart: helm.Chart, values: dict[str, Any]) -> helm.HelmError:
    with pytest.raises(helm.HelmError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return caught.value


# -- helm lint --------------------------------------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_helm_lint_strict_passes(value_set: str) -> None:
    """`helm lint --strict --kube-version` reports no warning and no error for each value set."""
    report = helm.lint(CHART, VALUE_SETS[value_set], strict=True, kube_version=f"v{KUBE_VERSION}")
    assert report["total_charts_linted"] == 1
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_helm_lint_reports_values_that_break_the_schema() -> None:
    """`helm lint` with replicas 0 reports the schema violation, naming the value."""
    report = helm.lint(CHART, {"gateway": {"replicas": 0}}, strict=True)
    assert any("/gateway/replicas" in error and "minimum" in error for error in report["errors"]), report


# -- rendered manifests against the Kubernetes schemas ----------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_manifest_validates_against_the_kubernetes_schemas(value_set: str) -> None:
    """Every rendered manifest, CRDs aside, validates strictly against Kubernetes 1.33's schemas."""
    docs = render(VALUE_SETS[value_set])
    checked = 0
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
        assert doc["metadata"].get("namespace") in (None, NAMESPACE)
        checked += 1
    assert checked >= 9


def test_the_schema_check_is_strict_about_unknown_fields() -> None:
    """A rendered Deployment with a misspelt field fails validation (the check above is not vacuous)."""
    gateway = copy.deepcopy(find(render({}), "Deployment", f"{PREFIX}-gateway"))
    pod_spec(gateway)["containers"][0]["readinesProbe"] = {"periodSeconds": 5}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBE_VERSION, strict=True)


def test_defaults_render_one_gateway_on_sqlite_with_its_own_volume() -> None:
    """Defaults: a single gateway on the sqlite store with a kept PVC, the instance StatefulSet,
    the bridge, a PDB; no HPA, no Redis, no ServiceMonitor."""
    docs = render({})
    kinds = {d["kind"] for d in docs}
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "StatefulSet",
        "Service",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
    }
    assert names(docs, "Deployment") == {f"{PREFIX}-gateway", f"{PREFIX}-bridge"}
    assert names(docs, "StatefulSet") == {f"{PREFIX}-instance"}
    gateway = find(docs, "Deployment", f"{PREFIX}-gateway")
    assert gateway["spec"]["replicas"] == 1
    assert gateway["spec"]["strategy"] == {"type": "Recreate"}
    data = next(v for v in pod_spec(gateway)["volumes"] if v["name"] == "data")
    assert data["persistentVolumeClaim"]["claimName"] == f"{PREFIX}-gateway-data"
    pvc = find(docs, "PersistentVolumeClaim", f"{PREFIX}-gateway-data")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert node_config(docs, "gateway")["store"] == {"backend": "sqlite"}
    pdb = find(docs, "PodDisruptionBudget", f"{PREFIX}-gateway")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == gateway["spec"]["selector"]["matchLabels"]


def test_three_gateway_replicas_share_the_in_chart_redis() -> None:
    """3 replicas: an autoscaling/v2 HPA on CPU, store.backend redis at the in-chart Redis (AOF,
    appendfsync always, a PVC, reachable only from the gateway), shared signing keys, no
    gateway PVC."""
    docs = render(HA)
    gateway = find(docs, "Deployment", f"{PREFIX}-gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns the replica count"
    hpa = find(docs, "HorizontalPodAutoscaler", f"{PREFIX}-gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": gateway["metadata"]["name"],
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6)
    assert hpa["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}
    ]
    store = GatewayConfig.model_validate(node_config(docs, "gateway")).store
    assert store.backend == "redis"
    assert store.redis_url == f"redis://{PREFIX}-redis:6379/0"

    redis = find(docs, "StatefulSet", f"{PREFIX}-redis")
    assert redis["spec"]["replicas"] == 1
    assert redis["spec"]["serviceName"] == f"{PREFIX}-redis"
    assert [c["metadata"]["name"] for c in redis["spec"]["volumeClaimTemplates"]] == ["data"]
    conf = find(docs, "ConfigMap", f"{PREFIX}-redis")["data"]["redis.conf"].splitlines()
    assert {"appendonly yes", "appendfsync always", "dir /data"} <= set(conf)
    service = find(docs, "Service", f"{PREFIX}-redis")
    assert service["spec"]["ports"][0]["port"] == 6379
    policy = find(docs, "NetworkPolicy", f"{PREFIX}-redis")
    assert (
        policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
        == gateway["spec"]["selector"]["matchLabels"]
    )

    assert f"{PREFIX}-gateway-data" not in names(docs, "PersistentVolumeClaim")
    volumes = {v["name"]: v for v in pod_spec(gateway)["volumes"]}
    assert volumes["data"] == {"name": "data", "emptyDir": {}}
    assert volumes["signing-keys"]["secret"]["secretName"] == "a-example-instance-keys"
    mounts = {m["name"]: m for m in pod_spec(gateway)["containers"][0]["volumeMounts"]}
    assert mounts["signing-keys"] == {"name": "signing-keys", "mountPath": "/var/lib/mmmfed/keys", "readOnly": True}


def test_external_redis_url_and_its_secret() -> None:
    """External Redis: the URL goes into store.redis_url, the Secret's URL into MMMFED_REDIS_URL,
    and no Redis is deployed."""
    docs = render(EXTERNAL_REDIS)
    assert f"{PREFIX}-redis" not in names(docs, "StatefulSet") | names(docs, "Service") | names(docs, "ConfigMap")
    assert "NetworkPolicy" not in {d["kind"] for d in docs}
    gateway = find(docs, "Deployment", f"{PREFIX}-gateway")
    assert gateway["spec"]["replicas"] == 2
    assert "HorizontalPodAutoscaler" not in {d["kind"] for d in docs}
    config = GatewayConfig.model_validate(node_config(docs, "gateway"))
    assert config.store.backend == "redis"
    assert config.store.redis_url == "rediss://redis.example.org:6380/0"
    assert config.peers["b.example"].address == "gateway.b.example:443"
    assert config.rules[0].version_id == "r1"
    env = pod_spec(gateway)["containers"][0]["env"]
    assert env == [{"name": "MMMFED_REDIS_URL", "valueFrom": {"secretKeyRef": {"name": "redis-url", "key": "url"}}}]


def test_bridge_disabled_renders_no_bridge() -> None:
    """bridge.enabled false: no bridge Deployment, Service or ConfigMap, and the gateway names no bridge."""
    docs = render({"bridge": {"enabled": False}})
    every_name = {d["metadata"]["name"] for d in docs}
    assert f"{PREFIX}-bridge" not in every_name
    assert GatewayConfig.model_validate(node_config(docs, "gateway")).bridges == {}
    with_bridge = GatewayConfig.model_validate(node_config(render({}), "gateway")).bridges
    assert with_bridge["bridge.example"].address == f"{PREFIX}-bridge:8443"


def test_service_monitor_scrapes_the_metrics_port_of_every_node() -> None:
    """serviceMonitor.enabled: a monitoring.coreos.com/v1 ServiceMonitor whose selector picks the
    gateway, instance and bridge Services by labels and scrapes their port named metrics."""
    docs = render(HA)
    monitor = find(docs, "ServiceMonitor", PREFIX)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    spec = monitor["spec"]
    assert spec["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert spec["endpoints"] == [{"port": "metrics", "path": "/metrics", "scheme": "http", "interval": "30s"}]
    (expression,) = spec["selector"]["matchExpressions"]
    assert expression["key"] == "app.kubernetes.io/component" and expression["operator"] == "In"

    selected = []
    for service in (d for d in docs if d["kind"] == "Service"):
        labels = service["metadata"]["labels"]
        matches_labels = all(labels.get(k) == v for k, v in spec["selector"]["matchLabels"].items())
        if matches_labels and labels.get(expression["key"]) in expression["values"]:
            selected.append(labels["app.kubernetes.io/component"])
            ports = {p["name"]: p for p in service["spec"]["ports"]}
            assert ports["metrics"]["port"] == 9464
    assert sorted(selected) == ["bridge", "gateway", "instance"]


@pytest.mark.parametrize("value_set", ["defaults", "service-monitor-off-no-metrics"])
def test_service_monitor_off_renders_none(value_set: str) -> None:
    """serviceMonitor.enabled false renders no ServiceMonitor; without metrics no Service has a metrics port."""
    docs = render(VALUE_SETS[value_set])
    assert "ServiceMonitor" not in {d["kind"] for d in docs}
    if value_set == "service-monitor-off-no-metrics":
        for service in (d for d in docs if d["kind"] == "Service"):
            assert "metrics" not in {p["name"] for p in service["spec"]["ports"]}
        assert all("metrics_listen" not in node_config(docs, c)["observability"] for c in NODE_MODELS)


# -- node configurations: chart and code agree ------------------------------------------------


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_rendered_node_configs_load_with_mmmfed_config(value_set: str) -> None:
    """Each node's ConfigMap JSON validates with its mmmfed.config model, and the paths and ports it
    names are those its pod mounts and exposes."""
    docs = render(VALUE_SETS[value_set])
    nodes = node_workloads(docs)
    expected = {"gateway", "instance"} | ({"bridge"} if value_set != "bridge-disabled" else set())
    assert set(nodes) == expected
    for component, workload in nodes.items():
        config = NODE_MODELS[component].model_validate(node_config(docs, component))
        assert config.kind == component
        spec = pod_spec(workload)
        (container,) = spec["containers"]
        assert container["command"] == ["mmmfed", "serve", component, "--config", "/etc/mmmfed/config/node.json"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        config_volume = next(v for v in spec["volumes"] if v["name"] == mounts["/etc/mmmfed/config"])
        assert config_volume["configMap"]["name"] == f"{PREFIX}-{component}"
        for path in (config.tls.ca_cert, config.tls.cert, config.tls.key):
            assert mounts[str(path.parent)] == "tls"
        if not isinstance(config, BridgeConfig):
            assert mounts[str(config.data_dir)] == "data"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert config.listen == f"0.0.0.0:{ports['grpc']}"
        metrics = config.observability.metrics_listen
        assert metrics == (f"0.0.0.0:{ports['metrics']}" if "metrics" in ports else None)


def test_nodes_address_each_other_through_the_chart_services() -> None:
    """The gateway reaches the instance and the instance the gateway at their Services' gRPC ports,
    under the TLS names of their certificates."""
    docs = render({})
    gateway = GatewayConfig.model_validate(node_config(docs, "gateway"))
    instance = InstanceConfig.model_validate(node_config(docs, "instance"))
    assert gateway.m_instance_id == instance.m_instance_id == "a.example"
    assert (gateway.instance.tls_name, instance.tls_name) == ("instance.a.example", "instance.a.example")
    assert instance.gateway is not None
    assert instance.gateway.tls_name == gateway.tls_name == "gateway.a.example"
    for address, component in ((gateway.instance.address, "instance"), (instance.gateway.address, "gateway")):
        host, _, port = address.rpartition(":")
        service = find(docs, "Service", host)
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == component
        assert int(port) in {p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc"}


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


# -- values the chart refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "error", "message"),
    [
        pytest.param(
            {"gateway": {"replicas": 0}},
            helm.HelmValuesError,
            "at '/gateway/replicas': minimum: got 0, want 1",
            id="replicas-0",
        ),
        pytest.param(
            {"bridge": {"replicas": 0}}, helm.HelmValuesError, "at '/bridge/replicas': minimum", id="bridge-replicas-0"
        ),
        pytest.param(
            {"gateway": {"replicas": 3, "signingKeys": {"existingSecret": "keys"}}},
            helm.HelmRenderError,
            'allow 3 gateway replicas, but redis.mode is "none" (store.backend "sqlite" is one node\'s store)',
            id="3-replicas-sqlite",
        ),
        pytest.param(
            {"gateway": {"autoscaling": {"enabled": True}, "signingKeys": {"existingSecret": "keys"}}},
            helm.HelmRenderError,
            'allow 6 gateway replicas, but redis.mode is "none"',
            id="autoscaling-sqlite",
        ),
        pytest.param(
            {"gateway": {"replicas": 3}, "redis": {"mode": "internal"}},
            helm.HelmRenderError,
            "3 gateway replicas need gateway.signingKeys.existingSecret",
            id="3-replicas-own-keys",
        ),
        pytest.param(
            {"image": {"repository": None}},
            helm.HelmValuesError,
            "at '/image': missing property 'repository'",
            id="image-missing",
        ),
        pytest.param(
            {"image": {"repository": ""}}, helm.HelmValuesError, "at '/image/repository': minLength", id="image-empty"
        ),
        pytest.param(
            {"redis": {"mode": "cluster"}},
            helm.HelmValuesError,
            "at '/redis/mode': value must be one of 'none', 'external', 'internal'",
            id="redis-mode",
        ),
        pytest.param(
            {"redis": {"mode": "external"}},
            helm.HelmValuesError,
            "at '/redis': 'anyOf' failed",
            id="external-without-url",
        ),
        pytest.param(
            {"redis": {"mode": "external", "url": "http://x:6379"}},
            helm.HelmValuesError,
            "at '/redis/url'",
            id="redis-url-scheme",
        ),
        pytest.param(
            {"gateway": {"existingSecret": ""}},
            helm.HelmValuesError,
            "at '/gateway/existingSecret'",
            id="no-gateway-secret",
        ),
        pytest.param(
            {"mInstanceId": "A.Example"}, helm.HelmValuesError, "at '/mInstanceId'", id="instance-id-not-fqdn"
        ),
        pytest.param(
            {"gateway": {"replica": 2}}, helm.HelmValuesError, "additional properties 'replica' not allowed", id="typo"
        ),
        pytest.param(
            {"instance": {"manifesto": {"produces": [{"item_type": "ITM"}], "accepts": []}}},
            helm.HelmValuesError,
            "missing property 'format'",
            id="feature-format",
        ),
        pytest.param(
            {"serviceMonitor": {"enabled": True}, "observability": {"metrics": False}},
            helm.HelmRenderError,
            "serviceMonitor.enabled needs observability.metrics",
            id="monitor-no-metrics",
        ),
    ],
)
def test_values_that_break_the_rules_are_refused(
    chart: helm.Chart, values: dict[str, Any], error: type[helm.HelmError], message: str
) -> None:
    """Helm refuses values that break the schema or the chart's rules, with a message naming the value."""
    refused = refusal(chart, values)
    assert isinstance(refused, error), refused
    assert message in str(refused)


def test_values_schema_requires_the_fields_the_node_configs_require(chart: helm.Chart) -> None:
    """values.schema.json requires every value the node configurations cannot do without."""
    schema = chart.schema
    assert schema is not None
    assert set(schema["required"]) >= {"image", "mInstanceId", "tls", "gateway", "instance", "redis"}
    properties = schema["properties"]
    assert {"tlsName", "existingSecret", "replicas"} <= set(properties["gateway"]["required"])
    assert properties["gateway"]["properties"]["replicas"] == {"type": "integer", "minimum": 1}
    assert properties["redis"]["properties"]["mode"]["enum"] == ["none", "external", "internal"]
    chart.validate_schema(chart.merge_values(HA))
