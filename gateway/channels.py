"""Long-lived mTLS channels from a gateway to its instance, peer gateways and bridges.

Channels are reused (a new mTLS handshake costs ~2.6 ms, PERF-FACTS); ``close()`` ends them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import grpc

from mmmfed.api.v1 import bridge_pb2_grpc, content_pb2_grpc, gateway_pb2_grpc, identity_pb2_grpc, instance_pb2_grpc
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.errors import NotFound
from mmmfed.tls import secure_channel
from mmmfed.trust import TrustDomains

T = TypeVar("T")


class Channels:
    """Stubs for the nodes a gateway calls, one channel per node.

    Each channel trusts one trust domain: the own CA for the instance, the peer's bundle as
    ``domains`` holds it now for a peer's gateway (:meth:`reset_peer` after it changes), the
    configured bundle for a bridge.

    Args:
        peers: M-Instance id -> that instance's gateway; may gain entries after start.
        bridges: bridge id -> bridge node.
        domains: the gateway's trust domains (None: each peer's configured bundle file).
    """

    def __init__(
        self,
        tls: TlsConfig,
        *,
        instance: PeerAddress,
        peers: dict[str, PeerAddress],
        bridges: dict[str, PeerAddress],
        domains: TrustDomains | None = None,
    ) -> None:
        self._tls = tls
        self._domains = domains
        self._instance = instance
        self.peers = dict(peers)
        self.bridges = dict(bridges)
        self._open: dict[tuple[str, str], grpc.aio.Channel] = {}
        self._stubs: dict[tuple[Callable[[grpc.aio.Channel], object], str, str], Any] = {}
        self._closing: set[asyncio.Future[None]] = set()

    def _stub(self, kind: Callable[[grpc.aio.Channel], T], peer: PeerAddress, roots: bytes | None = None) -> T:
        """One ``kind`` stub per node, made once: a stub builds a callable per method of its
        service (dozens for Instance), which cost more than the call itself when made per call."""
        key = (kind, peer.tls_name, peer.address)
        stub = self._stubs.get(key)
        if stub is None:
            channel_key = (peer.tls_name, peer.address)
            if channel_key not in self._open:
                self._open[channel_key] = secure_channel(self._tls, peer, roots=roots)
            stub = self._stubs[key] = kind(self._open[channel_key])
        return stub

    def reset_peer(self, m_instance_id: str) -> None:
        """Forget the channel to a peer's gateway (its bundle changed); the next call opens a new
        one with the bundle held then. The old channel closes in the background."""
        peer = self.peers.get(m_instance_id)
        if peer is None:
            return
        self._stubs = {k: v for k, v in self._stubs.items() if (k[1], k[2]) != (peer.tls_name, peer.address)}
        channel = self._open.pop((peer.tls_name, peer.address), None)
        if channel is not None:
            self._closing.add(asyncio.ensure_future(channel.close(grace=1.0)))
            self._closing = {t for t in self._closing if not t.done()}

    @property
    def instance_name(self) -> str:
        """The TLS name of this gateway's own M-Instance (the only caller of RI-1 asset methods)."""
        return self._instance.tls_name

    def instance(self) -> instance_pb2_grpc.InstanceAsyncStub:
        """The Instance stub of this gateway's own M-Instance (RI-1)."""
        return self._stub(instance_pb2_grpc.InstanceStub, self._instance)

    def content_exchange(self) -> content_pb2_grpc.ContentExchangeAsyncStub:
        """The ContentExchange stub of this gateway's own M-Instance (RI-3, FGMV-43 9.3)."""
        return self._stub(content_pb2_grpc.ContentExchangeStub, self._instance)

    def peer(self, m_instance_id: str) -> gateway_pb2_grpc.FederationAsyncStub:
        """The Federation stub of a peer's gateway; NotFound ``UNKNOWN_PEER`` if not configured."""
        if m_instance_id not in self.peers:
            raise NotFound(
                f"no gateway configured for M-Instance {m_instance_id}; add it under 'peers'",
                reason="UNKNOWN_PEER",
            )
        bundle = self._domains.peer_bundle(m_instance_id) if self._domains is not None else None
        return self._stub(
            gateway_pb2_grpc.FederationStub, self.peers[m_instance_id], roots=bundle.pem if bundle else None
        )

    def identity_peer(self, m_instance_id: str) -> identity_pb2_grpc.IdentityFederationAsyncStub:
        """The IdentityFederation stub (RE-4, FGMV-43 9.4) of a peer's gateway, on the same channel
        as :meth:`peer`; NotFound ``UNKNOWN_PEER`` if not configured."""
        self.peer(m_instance_id)  # UNKNOWN_PEER, and the channel opened with the bundle held now
        bundle = self._domains.peer_bundle(m_instance_id) if self._domains is not None else None
        return self._stub(
            identity_pb2_grpc.IdentityFederationStub, self.peers[m_instance_id], roots=bundle.pem if bundle else None
        )

    def bridge(self, bridge_id: str) -> bridge_pb2_grpc.BridgeAsyncStub:
        """The Bridge stub of a configured bridge; NotFound ``UNKNOWN_BRIDGE`` otherwise."""
        if bridge_id not in self.bridges:
            raise NotFound(f"no bridge {bridge_id} configured", reason="UNKNOWN_BRIDGE")
        return self._stub(bridge_pb2_grpc.BridgeStub, self.bridges[bridge_id])

    async def close(self) -> None:
        """Close every open channel (idempotent)."""
        channels, self._open, self._stubs = list(self._open.values()), {}, {}
        for channel in channels:
            await channel.close()
        closing, self._closing = self._closing, set()
        for task in closing:
            await task
