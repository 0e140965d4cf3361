"""The Helm chart helm/mmmfed and the code agree: the node configurations it renders load with
mmmfed.config (GatewayConfig, InstanceConfig, BridgeConfig) for every value set, and the nodes
address each other through the chart's Services."""

from __future__ import annotations

import pytest
from chart_render import NODE_MODELS, PREFIX, VALUE_SETS, find, node_config, node_workloads, pod_spec, render

from mmmfed.config import BridgeConfig, GatewayConfig, InstanceConfig

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
