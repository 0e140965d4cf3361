"""The bridge node: Conversion Services behind a gRPC server (only the gateways of the M-Instances it
serves, each from its own trust domain, and its own operators may call it)."""

from __future__ import annotations

import asyncio
from functools import partial

from bridge.conversion import GltfValidator
from bridge.service import BridgeService
from bridge.servicer import BridgeServicer
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.config import BridgeConfig
from mmmfed.keyfile import load_signing_key
from mmmfed.metrics import NodeMetrics
from mmmfed.proofs import SigningKey
from mmmfed.server import NodeServer
from mmmfed.tls import AccessPolicy, any_of, own_roles, peer_gateways, trust_domains

SERVICE = "mmmfed.api.v1.Bridge"


class BridgeNode:
    """A bridge (``start()``/``stop()``, stop idempotent)."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.metrics = NodeMetrics()  # this node's own registry, served at observability.metrics_listen
        validator = GltfValidator(node_modules_dir=config.node_modules_dir)
        key = load_signing_key(config.signing_key) if config.signing_key else SigningKey.generate()
        self.service = BridgeService(config.bridge_id, validator, key, metrics=self.metrics)
        # Its own trust domain (operators) and, per M-Instance it serves, that M-Instance's bundle
        # for its gateway only (BUNDLE_INVALID: exit 2).
        own = config.trust_domain or config.bridge_id
        self.domains = trust_domains(own, config.tls, {m: g.bundle for m, g in config.gateways.items()})
        gateways = peer_gateways({m: g.tls_name for m, g in config.gateways.items()})
        servicer = BridgeServicer(self.service, max_item_bytes=config.max_item_bytes, metrics=self.metrics)
        self.server = NodeServer(
            listen=config.listen,
            tls=config.tls,
            registrars=[partial(bridge_pb2_grpc.add_BridgeServicer_to_server, servicer)],
            service_names=[SERVICE],
            policy=AccessPolicy(self.domains, {SERVICE: any_of(gateways, own_roles("operator"))}),
            metrics=self.metrics,
            metrics_listen=config.observability.metrics_listen,
        )

    async def start(self) -> str:
        """Serve; returns the bound "host:port"."""
        return await self.server.start()

    async def stop(self) -> None:
        """Stop serving (idempotent, graceful)."""
        await self.server.stop()

    async def run_forever(self) -> None:
        """Serve until cancelled (SIGTERM in ``mmmfed serve``), then stop."""
        await self.start()
        try:
            await self.server.wait()
        except asyncio.CancelledError:
            pass
        finally:
            await self.stop()
