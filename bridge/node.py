"""The bridge node: Conversion Services behind a gRPC server (only gateways may call it)."""

from __future__ import annotations

import asyncio
from functools import partial

from bridge.conversion import ConversionLimits, GltfValidator
from bridge.service import BridgeService
from bridge.servicer import BridgeServicer
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.config import BridgeConfig
from mmmfed.keyfile import load_signing_key
from mmmfed.metrics import NodeMetrics
from mmmfed.proofs import SigningKey
from mmmfed.server import NodeServer
from mmmfed.tls import AccessPolicy, authorize_roles

SERVICE = "mmmfed.api.v1.Bridge"


class BridgeNode:
    """A bridge (``start()``/``stop()``, stop idempotent)."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.metrics = NodeMetrics()  # this node's own registry, served at observability.metrics_listen
        validator = GltfValidator(node_modules_dir=config.node_modules_dir, timeout_s=config.validator_timeout_s)
        limits = ConversionLimits(
            max_image_side_px=config.max_image_side_px,
            max_image_pixels=config.max_image_pixels,
            conversion_timeout_s=config.conversion_timeout_s,
        )
        key = load_signing_key(config.signing_key) if config.signing_key else SigningKey.generate()
        self.service = BridgeService(config.bridge_id, validator, key, metrics=self.metrics, limits=limits)
        servicer = BridgeServicer(self.service, max_item_bytes=config.max_item_bytes, metrics=self.metrics)
        self._servicer = servicer
        self.server = NodeServer(
            listen=config.listen,
            tls=config.tls,
            registrars=[partial(bridge_pb2_grpc.add_BridgeServicer_to_server, servicer)],
            service_names=[SERVICE],
            policy=AccessPolicy({SERVICE: authorize_roles("gateway", "operator")}),
            metrics=self.metrics,
            metrics_listen=config.observability.metrics_listen,
            maximum_concurrent_rpcs=config.maximum_concurrent_rpcs,
        )

    async def start(self) -> str:
        """Serve; returns the bound "host:port"."""
        return await self.server.start()

    async def stop(self) -> None:
        """Stop serving (idempotent, graceful)."""
        await self.server.stop()
        self._servicer.close()

    async def run_forever(self) -> None:
        """Serve until cancelled (SIGTERM in ``mmmfed serve``), then stop."""
        await self.start()
        try:
            await self.server.wait()
        except asyncio.CancelledError:
            pass
        finally:
            await self.stop()
