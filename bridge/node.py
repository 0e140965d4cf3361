"""The bridge node: Conversion Services behind a gRPC server (only the gateways of the M-Instances it
serves, each from its own trust domain, and its own operators may call it).

Its identity is stable (issue 12 item 5): the signing key is ``config.signing_key`` or the one
kept in ``config.data_dir`` (bridge/identity.py), and so are its virtual bridges. A certificate
that does not bind the key's did:key is logged at start (WARNING); gateways refuse that bridge
(``BRIDGE_IDENTITY_MISMATCH``, mmmfed/bridge_identity.py).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from cryptography import x509

from bridge.conversion import ConversionLimits, GltfValidator
from bridge.identity import VIRTUAL_BRIDGES_FILE, VirtualBridgeStore, configured_key
from bridge.service import CONVERSION_PAIRS, BridgeService, check_conversion_pairs
from bridge.servicer import BridgeServicer
from mmmfed.api.v1 import bridge_pb2_grpc
from mmmfed.bridge_identity import certificate_did_keys
from mmmfed.config import BridgeConfig
from mmmfed.errors import InvalidInput
from mmmfed.metrics import NodeMetrics
from mmmfed.proofs import SigningKey
from mmmfed.server import NodeServer
from mmmfed.tls import AccessPolicy, any_of, node_trust_domains, own_roles, peer_gateways

SERVICE = "mmmfed.api.v1.Bridge"
log = logging.getLogger(__name__)


def _identity(config: BridgeConfig) -> tuple[SigningKey, str]:
    """The bridge's signing key and its certificate PEM; InvalidInput ``DATA_DIR_INVALID`` /
    ``CONFIG_INVALID`` for a data_dir or certificate it cannot use."""
    key = configured_key(config)
    try:
        pem = config.tls.cert.read_text()
        leaf = x509.load_pem_x509_certificate(pem.encode())
    except (OSError, ValueError) as err:
        raise InvalidInput(f"cannot read certificate {config.tls.cert}: {err}", reason="CONFIG_INVALID") from err
    if certificate_did_keys(leaf) != [key.did]:
        log.warning(
            "bridge certificate does not bind the signing key; gateways will refuse this bridge",
            extra={"certificate": str(config.tls.cert), "did": key.did, "bound": certificate_did_keys(leaf)},
        )
    return key, pem


class BridgeNode:
    """A bridge (``start()``/``stop()``, stop idempotent)."""

    def __init__(self, config: BridgeConfig) -> None:
        # Before anything is opened: its manifesto V announces only formats mmmfed knows.
        check_conversion_pairs(CONVERSION_PAIRS)
        self.config = config
        self.metrics = NodeMetrics()  # this node's own registry, served at observability.metrics_listen
        validator = GltfValidator(
            node_modules_dir=config.node_modules_dir,
            timeout_s=config.validator_timeout_s,
            max_input_bytes=min(config.max_item_bytes, 2**32 - 1),
        )
        self._validator = validator
        limits = ConversionLimits(
            max_image_side_px=config.max_image_side_px,
            max_image_pixels=config.max_image_pixels,
            conversion_timeout_s=config.conversion_timeout_s,
        )
        key, certificate_pem = _identity(config)
        self.virtual_bridges = VirtualBridgeStore(config.data_dir / VIRTUAL_BRIDGES_FILE)
        self.service = BridgeService(
            config.bridge_id,
            validator,
            key,
            certificate_pem=certificate_pem,
            virtual_bridges=self.virtual_bridges,
            metrics=self.metrics,
            limits=limits,
        )
        # Its own trust domain (operators) and, per M-Instance it serves, that M-Instance's bundle
        # for its gateway only (BUNDLE_INVALID: exit 2).
        self.domains = node_trust_domains(config)
        gateways = peer_gateways({m: g.tls_name for m, g in config.gateways.items()})
        servicer = BridgeServicer(self.service, max_item_bytes=config.max_item_bytes, metrics=self.metrics)
        self._servicer = servicer
        self.server = NodeServer(
            listen=config.listen,
            tls=config.tls,
            registrars=[partial(bridge_pb2_grpc.add_BridgeServicer_to_server, servicer)],
            service_names=[SERVICE],
            policy=AccessPolicy(self.domains, {SERVICE: any_of(gateways, own_roles("operator"))}),
            metrics=self.metrics,
            metrics_listen=config.observability.metrics_listen,
            maximum_concurrent_rpcs=config.maximum_concurrent_rpcs,
        )

    @property
    def validator(self) -> GltfValidator:
        """The node's glTF validator (its warm worker; ended by :meth:`stop`)."""
        return self._validator

    async def start(self) -> str:
        """Serve; returns the bound "host:port"."""
        return await self.server.start()

    async def stop(self) -> None:
        """Stop serving (idempotent, graceful), then end the validator worker and close the virtual
        bridge store."""
        await self.server.stop()
        await self._validator.close()
        self.virtual_bridges.close()
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
