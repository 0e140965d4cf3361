"""Shared helpers for the tests of the Helm chart helm/mmmfed: the chart, the pinned Kubernetes
version, the release and the value sets tested, rendering the chart with the real Helm engine
(helm-python-sdk embeds Helm v4, renders cached per values) and finding what it rendered."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

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
