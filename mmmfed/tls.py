"""Mutual TLS for every node: server and channel credentials, and authorizers scoped to trust domains.

A client without a certificate from a CA the node holds never completes the TLS handshake, so it
is refused before any handler runs. Then, per call, :class:`AccessPolicy` asks
:meth:`mmmfed.trust.TrustDomains.identify` who the client is (which trust domain issued its
certificate, and its ``mmmfed://<role>/<name>`` identities) and lets the service's or method's
authorizer decide (py-spiffe's ``authorize_id`` / ``authorize_member_of`` style: small and
composable). Roles of the node's own trust domain are admitted only from its own CA; a peer's
gateway only from that peer's bundle and under the TLS name configured for it.

Outgoing channels trust exactly one trust domain: the peer's bundle when the peer is another
M-Instance or a bridge (``PeerAddress.bundle``), this node's own CA otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from mmmfed.config import BridgeConfig, GatewayConfig, InstanceConfig, PeerAddress, TlsConfig
from mmmfed.deadlines import default_deadlines
from mmmfed.errors import PermissionDenied
from mmmfed.rpc_types import ServicerContext
from mmmfed.trust import Caller, PeerIdentity, TrustBundle, TrustDomains, bundles_from

__all__ = [
    "CHANNEL_OPTIONS",
    "AccessPolicy",
    "Authorizer",
    "Caller",
    "PeerIdentity",
    "any_of",
    "node_trust_domains",
    "own_names",
    "own_roles",
    "peer_gateways",
    "secure_channel",
    "server_credentials",
    "trust_domains",
]

# Messages up to this size; Item data is streamed in chunks far below it.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    # Reconnect soon after a peer restarts (gRPC's default waits 1 s, then 1.6 s...): a transfer
    # in flight resumes as soon as the restarted node serves.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


def trust_domains(own_domain: str, tls: TlsConfig, others: Mapping[str, Path] | None = None) -> TrustDomains:
    """The trust domains of a node: its own (``tls.ca_cert``) and one per entry of ``others``
    (trust domain id -> CA bundle path). InvalidInput ``BUNDLE_INVALID`` names the file at fault."""
    own = TrustBundle.load(tls.ca_cert, trust_domain=own_domain)
    return TrustDomains.of(own, bundles_from(others or {}))


def node_trust_domains(config: InstanceConfig | GatewayConfig | BridgeConfig) -> TrustDomains:
    """The trust domains a node's configuration names (validated at start-up and by ``mmmfed
    config check``): an instance, only its own; a gateway, its own, each peer's (``peers``) and
    each bridge's (``bridges``: the bridge's own domain, or this M-Instance's for a bridge its
    operator runs); a bridge, its own (``trust_domain``, default its id) and each gateway's
    M-Instance (``gateways``). InvalidInput ``BUNDLE_INVALID`` names the file at fault."""
    if isinstance(config, BridgeConfig):
        others = {m: g.bundle for m, g in config.gateways.items()}
        return trust_domains(config.trust_domain or config.bridge_id, config.tls, others)
    if isinstance(config, InstanceConfig):
        return trust_domains(config.m_instance_id, config.tls)
    bridges = {TrustBundle.named_domain(b.bundle) or n: b.bundle for n, b in config.bridges.items() if b.bundle}
    peers = {n: p.bundle for n, p in config.peers.items() if p.bundle}
    return trust_domains(config.m_instance_id, config.tls, {**bridges, **peers})


def server_credentials(tls: TlsConfig, domains: TrustDomains) -> grpc.ServerCredentials:
    """Server credentials requiring a client certificate from a CA of ``domains``.

    Dynamic: each new handshake asks for the current roots, so a peer bundle replaced at run time
    (:meth:`TrustDomains.set_peer`) takes effect without a restart."""
    key, cert = tls.key.read_bytes(), tls.cert.read_bytes()
    seen = {"version": -1}

    def configuration() -> grpc.ServerCertificateConfiguration:
        seen["version"] = domains.version
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=domains.server_roots())

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        return configuration() if domains.version != seen["version"] else None  # None: keep the current one

    return grpc.dynamic_ssl_server_credentials(
        configuration(),
        fetch,  # type: ignore[arg-type]  # grpc documents None as "keep the current one"; the stubs omit it
        require_client_authentication=True,
    )


def secure_channel(tls: TlsConfig, peer: PeerAddress, *, roots: bytes | None = None) -> grpc.aio.Channel:
    """An aio channel to ``peer`` presenting this node's certificate.

    The server must present a certificate for ``peer.tls_name`` issued by a CA of ``roots`` (PEM),
    else of ``peer.bundle`` (the peer's trust domain) when set, else of this node's own CA."""
    if roots is None:
        roots = peer.bundle.read_bytes() if peer.bundle is not None else tls.ca_cert.read_bytes()
    creds = grpc.ssl_channel_credentials(
        root_certificates=roots,
        private_key=tls.key.read_bytes(),
        certificate_chain=tls.cert.read_bytes(),
    )
    options = (*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", peer.tls_name))
    return grpc.aio.secure_channel(peer.address, creds, options=options, interceptors=default_deadlines())


Authorizer = Callable[[Caller], bool]


def own_roles(*roles: str) -> Authorizer:
    """Allow a certificate of this node's own trust domain carrying one of ``roles``."""
    allowed = frozenset(roles)
    return lambda caller: caller.own and any(i.role in allowed for i in caller.identities)


def own_names(names: Iterable[str]) -> Authorizer:
    """Allow a certificate of this node's own trust domain naming one of ``names`` (TLS names)."""
    allowed = frozenset(names)
    return lambda caller: caller.own and any(i.name in allowed for i in caller.identities)


def peer_gateways(tls_names: Mapping[str, str], *, role: str = "gateway") -> Authorizer:
    """Allow a peer's node: a certificate issued by the bundle of trust domain ``d`` (a key of
    ``tls_names``), with role ``role`` and the TLS name ``tls_names[d]`` configured for it."""
    expected = dict(tls_names)

    def check(caller: Caller) -> bool:
        names = {expected[d] for d in caller.trust_domains if d in expected}
        return any(i.role == role and i.name in names for i in caller.identities)

    return check


def any_of(*authorizers: Authorizer) -> Authorizer:
    """Allow a caller that any of ``authorizers`` allows."""
    return lambda caller: any(a(caller) for a in authorizers)


def anyone_known(caller: Caller) -> bool:
    """Allow any certificate issued by a bundle the node holds (health checks, reflection)."""
    return caller.trust_domain is not None


@dataclass(frozen=True)
class AccessPolicy:
    """Which authorizer guards each gRPC service (full name, e.g. ``mmmfed.api.v1.Bridge``) and,
    where a method differs from its service, each method (``/mmmfed.api.v1.Service/Method``).

    A method whose service has no entry and that has none of its own is denied.
    """

    domains: TrustDomains
    by_service: dict[str, Authorizer]
    by_method: dict[str, Authorizer] = field(default_factory=dict)

    def check(self, method: str, context: ServicerContext) -> Caller:
        """The caller, or PermissionDenied (reason ``PEER_NOT_ALLOWED``) unless it may call
        ``method`` (``/package.Service/Method``)."""
        authorizer = self.by_method.get(method)
        if authorizer is None:
            authorizer = self.by_service.get(method.lstrip("/").partition("/")[0])
        caller = self.domains.identify(context)
        if authorizer is None or not authorizer(caller):
            who = ", ".join(f"{i.role}/{i.name}" for i in caller.identities) or "no mmmfed identity"
            raise PermissionDenied(
                f"peer ({caller.describe()}) may not call {method}; this node admits only its own trust domain's "
                "roles and each peer's gateway",
                metadata={"method": method, "peer": who, "trust_domain": caller.trust_domain or ""},
            )
        return caller
