"""A node's gRPC server: mutual TLS, the guard interceptor, health and reflection.

Every node (instance, gateway, bridge) runs one :class:`NodeServer`. Stopping is idempotent and
graceful: health goes NOT_SERVING, then ``server.stop(grace)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mmmfed.config import TlsConfig
from mmmfed.rpc import GuardInterceptor
from mmmfed.tls import CHANNEL_OPTIONS, AccessPolicy, authorize_roles, server_credentials

log = logging.getLogger(__name__)

ALL_ROLES = ("instance", "gateway", "bridge", "operator")
Registrar = Callable[[grpc.aio.Server], None]


class NodeServer:
    """One gRPC server on ``listen`` ("host:port"; port 0 picks a free one).

    Args:
        registrars: functions adding servicers (``add_XServicer_to_server`` partials).
        service_names: full names of those services, for health and reflection.
        policy: which peers may call which service (health and reflection: any federation peer).
    """

    def __init__(
        self,
        *,
        listen: str,
        tls: TlsConfig,
        registrars: Sequence[Registrar],
        service_names: Sequence[str],
        policy: AccessPolicy,
    ) -> None:
        self._listen = listen
        self._tls = tls
        self._registrars = registrars
        self._service_names = list(service_names)
        anyone = authorize_roles(*ALL_ROLES)
        self._policy = AccessPolicy({**policy.by_service, health.SERVICE_NAME: anyone, reflection.SERVICE_NAME: anyone})
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.port = 0

    @property
    def address(self) -> str:
        host = self._listen.rpartition(":")[0]
        return f"{host}:{self.port}"

    async def start(self) -> str:
        """Bind and start serving; returns the bound "host:port"."""
        server = grpc.aio.server(interceptors=[GuardInterceptor(self._policy)], options=CHANNEL_OPTIONS)
        for register in self._registrars:
            register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        self.port = server.add_secure_port(self._listen, server_credentials(self._tls))
        await server.start()
        self._server = server
        for name in ["", *self._service_names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"address": self.address, "services": self._service_names})
        return self.address

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop serving (idempotent): NOT_SERVING first, then a graceful stop."""
        server, self._server = self._server, None
        if server is None:
            return
        await self._health.enter_graceful_shutdown()
        await server.stop(grace_s)

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
