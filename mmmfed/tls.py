"""Mutual TLS for every node: server and channel credentials, and peer authorizers.

A peer without a client certificate from the federation CA never completes the TLS handshake,
so it is refused before any handler runs. Authorizers then decide, from the URI subjectAltName
``mmmfed://<role>/<name>`` of the verified peer certificate, what the peer may call
(py-spiffe's ``authorize_id`` / ``authorize_member_of`` style: small and composable).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import grpc

from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.deadlines import default_deadlines
from mmmfed.errors import PermissionDenied

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


@dataclass(frozen=True)
class PeerIdentity:
    """The verified identity of a TLS peer: its role and name from ``mmmfed://role/name``."""

    role: str
    name: str


def server_credentials(tls: TlsConfig) -> grpc.ServerCredentials:
    """Server credentials that require and verify a client certificate from the CA."""
    return grpc.ssl_server_credentials(
        [(tls.key.read_bytes(), tls.cert.read_bytes())],
        root_certificates=tls.ca_cert.read_bytes(),
        require_client_auth=True,
    )


def secure_channel(tls: TlsConfig, peer: PeerAddress) -> grpc.aio.Channel:
    """An aio channel to ``peer`` presenting this node's certificate; the server must present
    a certificate for ``peer.tls_name`` issued by the federation CA. Every call on it has a
    deadline (:mod:`mmmfed.deadlines`; issue 12 item 6)."""
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_cert.read_bytes(),
        private_key=tls.key.read_bytes(),
        certificate_chain=tls.cert.read_bytes(),
    )
    options = (*CHANNEL_OPTIONS, ("grpc.ssl_target_name_override", peer.tls_name))
    return grpc.aio.secure_channel(peer.address, creds, options=options, interceptors=default_deadlines())


def peer_identities(context: grpc.aio.ServicerContext) -> list[PeerIdentity]:
    """The ``mmmfed://role/name`` identities of the verified client certificate (may be empty)."""
    auth = context.auth_context()
    out = []
    for raw in auth.get("x509_subject_alternative_name", []):
        value = raw.decode() if isinstance(raw, bytes) else str(raw)
        if value.startswith("mmmfed://"):
            role, _, name = value.removeprefix("mmmfed://").partition("/")
            out.append(PeerIdentity(role=role, name=name))
    return out


Authorizer = Callable[[Sequence[PeerIdentity]], bool]


def authorize_roles(*roles: str) -> Authorizer:
    """Allow a peer whose certificate carries one of ``roles``."""
    allowed = frozenset(roles)
    return lambda ids: any(i.role in allowed for i in ids)


def authorize_names(names: Iterable[str]) -> Authorizer:
    """Allow a peer whose certificate names one of ``names`` (TLS names)."""
    allowed = frozenset(names)
    return lambda ids: any(i.name in allowed for i in ids)


def any_of(*authorizers: Authorizer) -> Authorizer:
    """Allow a peer that any of ``authorizers`` allows."""
    return lambda ids: any(a(ids) for a in authorizers)


@dataclass(frozen=True)
class AccessPolicy:
    """Which authorizer guards each gRPC service (full name, e.g. ``mmmfed.api.v1.Bridge``).

    A method of a service without an entry is denied.
    """

    by_service: dict[str, Authorizer]

    def check(self, method: str, context: grpc.aio.ServicerContext) -> None:
        """Raise PermissionDenied (reason ``PEER_NOT_ALLOWED``) unless the peer may call
        ``method`` (``/package.Service/Method``)."""
        service = method.lstrip("/").partition("/")[0]
        authorizer = self.by_service.get(service)
        ids = peer_identities(context)
        if authorizer is None or not authorizer(ids):
            who = ", ".join(f"{i.role}/{i.name}" for i in ids) or "no mmmfed identity"
            raise PermissionDenied(
                f"peer ({who}) may not call {method}",
                metadata={"method": method, "peer": who},
            )
