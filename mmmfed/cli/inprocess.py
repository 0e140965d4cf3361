"""An in-process loopback federation with real gRPC servers over mTLS, for tests and benchmarks:
every node of a :class:`~mmmfed.cli.loopback.LoopbackPlan` started in this process, and the
addresses operators reach them at.

Part of the composition root: it imports the node packages (instance, gateway, bridge), as
``mmmfed serve`` does; the kernel never imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmmfed.cli.loopback import A, B, LoopbackPlan, plan
from mmmfed.client import OperatorClient
from mmmfed.config import PeerAddress


def peer(cfg: Any) -> PeerAddress:
    """The address of a node config (instance, gateway or bridge), trusting the CA of the node's
    own trust domain (``cfg.tls.ca_cert``) for its server certificate."""
    return PeerAddress(tls_name=cfg.tls_name, address=cfg.listen, bundle=cfg.tls.ca_cert)


@dataclass
class Federation:
    """Nodes of a :class:`LoopbackPlan` running in this process, and operator clients."""

    plan: LoopbackPlan
    nodes: dict[str, Any] = field(default_factory=dict)
    at_a: OperatorClient | None = None
    at_b: OperatorClient | None = None

    async def start(self) -> Federation:
        """Start every node of the plan in this process and register both manifestos."""
        from bridge.node import BridgeNode
        from gateway.node import GatewayNode
        from instance.node import InstanceNode

        p = self.plan
        self.nodes = {
            "bridge": BridgeNode(p.bridge),
            "gateway-a": GatewayNode(p.gateway_a),
            "gateway-b": GatewayNode(p.gateway_b),
            "instance-a": InstanceNode(p.instance_a),
            "instance-b": InstanceNode(p.instance_b),
        }
        p.ports.release()  # just before binding: serving sockets have no SO_REUSEPORT to bind beside it
        for node in self.nodes.values():
            await node.start()
        await self.nodes["instance-a"].register_manifesto()
        await self.nodes["instance-b"].register_manifesto()
        self.at_a = OperatorClient(p.operators[A], instance=peer(p.instance_a), gateway=peer(p.gateway_a))
        self.at_b = OperatorClient(p.operators[B], instance=peer(p.instance_b), gateway=peer(p.gateway_b))
        return self

    async def stop(self) -> None:
        """Close the clients and stop every node (idempotent)."""
        self.plan.ports.release()
        for client in (self.at_a, self.at_b):
            if client is not None:
                await client.close()
        for node in reversed(list(self.nodes.values())):
            await node.stop()


async def start_federation(workdir: Path, **plan_options: Any) -> Federation:
    """Make certificates and configs under ``workdir`` and start every node in-process."""
    return await Federation(plan(workdir, **plan_options)).start()
