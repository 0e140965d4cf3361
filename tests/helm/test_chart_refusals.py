"""The Helm chart helm/mmmfed refuses values that break its values schema or its rules, with a
message naming the value, and its values schema requires the fields the node configurations
require (mmmfed.config)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python as helm
import pytest
from chart_render import CHART, HA, NAMESPACE, RELEASE


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def refusal(chart: helm.Chart, values: dict[str, Any]) -> helm.HelmError:
    with pytest.raises(helm.HelmError) as caught:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    return caught.value


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
