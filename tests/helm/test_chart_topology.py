"""The Helm chart helm/mmmfed, rendered by the real Helm engine: what each value set deploys, the
defaults (one gateway on sqlite with its own volume), three gateway replicas sharing the in-chart
Redis, an external Redis URL and its Secret, the bridge disabled, and the ServiceMonitor scraping
the metrics port of every node (or none)."""

from __future__ import annotations

import pytest
from chart_render import (
    EXTERNAL_REDIS,
    HA,
    NAMESPACE,
    NODE_MODELS,
    PREFIX,
    VALUE_SETS,
    find,
    names,
    node_config,
    pod_spec,
    render,
)

from mmmfed.config import GatewayConfig


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
    redis_url = [e for e in env if e["name"] == "MMMFED_REDIS_URL"]
    assert redis_url == [
        {"name": "MMMFED_REDIS_URL", "valueFrom": {"secretKeyRef": {"name": "redis-url", "key": "url"}}}
    ]


def test_every_node_gets_the_allocator_settings() -> None:
    """Every node container runs with glibc limited to 2 malloc arenas and trimming every 30 s
    (mmmfed/allocator.py), as ``mmmfed serve`` would choose itself; values ``malloc`` change them."""
    for values, arenas, trim in (
        (EXTERNAL_REDIS, "2", "30"),
        ({**EXTERNAL_REDIS, "malloc": {"arenaMax": 4, "trimSeconds": 0}}, "4", "0"),
    ):
        docs = render(values)
        for kind, name in (("Deployment", "gateway"), ("Deployment", "bridge"), ("StatefulSet", "instance")):
            env = {
                e["name"]: e.get("value")
                for e in pod_spec(find(docs, kind, f"{PREFIX}-{name}"))["containers"][0]["env"]
            }
            assert (env["MALLOC_ARENA_MAX"], env["MMMFED_MALLOC_TRIM_S"]) == (arenas, trim), name


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
