"""A node's gRPC server: mutual TLS, the metrics and guard interceptors, health, reflection, and
the node's /metrics endpoint.

Every node (instance, gateway, bridge) runs one :class:`NodeServer`. Stopping is idempotent and
graceful: health goes NOT_SERVING, then ``server.stop(grace)``, then the metrics endpoint closes.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import grpc
from google.protobuf import descriptor, descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mmmfed.config import DEFAULT_MAXIMUM_CONCURRENT_RPCS, TlsConfig
from mmmfed.errors import MmmfedError
from mmmfed.metrics import MetricsEndpoint, NodeMetrics
from mmmfed.rpc import GuardInterceptor, WrappingInterceptor
from mmmfed.rpc_types import MethodHandler, ServicerContext, aio_stream, aio_unary
from mmmfed.tls import CHANNEL_OPTIONS, AccessPolicy, anyone_known, server_credentials

log = logging.getLogger(__name__)

Registrar = Callable[[grpc.aio.Server], None]
UNKNOWN_METHOD = "unknown"
# No SO_REUSEPORT on serving sockets: a second node on a port in use fails to bind (LISTEN_FAILED)
# instead of silently sharing the port's traffic (issue 12 item 6).
SERVER_OPTIONS = (*CHANNEL_OPTIONS, ("grpc.so_reuseport", 0))


def _final_code(err: BaseException | None, context: ServicerContext) -> grpc.StatusCode:
    """The status a call ends with: the context's (abort, set_code) or OK when it returned;
    CANCELLED when it was cancelled or closed; UNKNOWN (what grpc answers) for another exception."""
    if err is None or isinstance(err, grpc.aio.AbortError):
        code = context.code()
        if isinstance(code, grpc.StatusCode):
            return code
        return grpc.StatusCode.OK if err is None else grpc.StatusCode.UNKNOWN
    if isinstance(err, asyncio.CancelledError | GeneratorExit):
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class MethodAwarePool:
    """The default descriptor pool for server reflection, that also finds the file declaring a
    method: ``grpcurl describe pkg.Service.Method`` asks reflection for the file containing that
    symbol, and protobuf's pool knows messages, enums, fields and services but not methods. Any
    other attribute is the pool's own."""

    def __init__(self, pool: descriptor_pool.DescriptorPool) -> None:
        self._pool = pool

    def FindFileContainingSymbol(self, symbol: str) -> descriptor.FileDescriptor:
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            service_name, _, method = symbol.rpartition(".")
            service = self._pool.FindServiceByName(service_name)  # KeyError: reflection answers NOT_FOUND
            if method not in service.methods_by_name:
                raise
            return service.file

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


class WriteStyleStreams(WrappingInterceptor):
    """Innermost interceptor: a streaming handler written as a coroutine that sends with
    ``context.write`` (grpc_health's ``Health/Watch``) becomes an async generator yielding nothing,
    so the interceptors around it, which iterate a handler's responses, can run it. Without it
    ``Watch`` failed UNKNOWN ("'async for' requires an object with __aiter__ method")."""

    def wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        if not handler.response_streaming:
            return handler
        # A write-style behaviour is a coroutine, not the async iterator aio_stream() would say.
        inner = cast(
            Callable[[Any, ServicerContext], AsyncIterator[Any] | Awaitable[None]],
            handler.unary_stream or handler.stream_stream,
        )

        async def behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
            responses = inner(request, context)
            if inspect.isawaitable(responses):
                await responses  # it writes its responses itself
                return
            async for response in responses:
                yield response

        factory = (
            grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
        )
        return factory(
            behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class MetricsInterceptor(WrappingInterceptor):
    """Counts every served call by full method name (``/mmmfed.api.v1.Federation/TransferAvatar``)
    and final status code (``mmmfed_grpc_requests_total``) and observes its duration in seconds
    (``mmmfed_grpc_request_duration_seconds``); unary and streaming alike (issue 6, item 2).

    It runs outside :class:`~mmmfed.rpc.GuardInterceptor`, so a refused call counts with the status
    the guard gave it: PERMISSION_DENIED for a peer the access policy refuses, the code of the
    raised :class:`~mmmfed.errors.MmmfedError` otherwise. A cancelled call (client gone, deadline
    passed) counts CANCELLED; a bug counts UNKNOWN. A method the server does not serve counts as
    method ``unknown``, code UNIMPLEMENTED, so label values stay bounded whatever clients send.
    """

    def __init__(self, metrics: NodeMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    def wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        # The method's labelled children, looked up once (prometheus_client's labels() takes a
        # lock and builds a key per call): one duration child, one counter child per status code
        # seen (grpc.StatusCode has 17), for at most MAX_WRAPPED methods.
        duration = self._metrics.grpc_request_duration.labels(method=method)
        counters: dict[grpc.StatusCode, Any] = {}
        requests = self._metrics.grpc_requests

        def record(code: grpc.StatusCode, started: float) -> None:
            counter = counters.get(code)
            if counter is None:
                counter = counters[code] = requests.labels(method=method, code=code.name)
            counter.inc()
            duration.observe(time.perf_counter() - started)

        return self._wrap(method, handler, record)

    def unhandled(self, method: str) -> None:
        self._metrics.grpc_requests.labels(method=UNKNOWN_METHOD, code=grpc.StatusCode.UNIMPLEMENTED.name).inc()

    def _wrap(
        self, method: str, handler: MethodHandler, record: Callable[[grpc.StatusCode, float], None]
    ) -> MethodHandler:
        kwargs = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }

        if handler.response_streaming:
            inner_stream = aio_stream(handler)

            async def stream_behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
                started, failure = time.perf_counter(), None
                try:
                    async for response in inner_stream(request, context):
                        yield response
                except BaseException as err:  # counted, then re-raised: grpc decides the answer
                    failure = err
                    raise
                finally:
                    record(_final_code(failure, context), started)

            if handler.unary_stream:
                return grpc.unary_stream_rpc_method_handler(stream_behaviour, **kwargs)
            return grpc.stream_stream_rpc_method_handler(stream_behaviour, **kwargs)

        inner_unary = aio_unary(handler)

        async def unary_behaviour(request: Any, context: ServicerContext) -> Any:
            started, failure = time.perf_counter(), None
            try:
                return await inner_unary(request, context)
            except BaseException as err:  # counted, then re-raised: grpc decides the answer
                failure = err
                raise
            finally:
                record(_final_code(failure, context), started)

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(unary_behaviour, **kwargs)
        return grpc.stream_unary_rpc_method_handler(unary_behaviour, **kwargs)


class ChainedInterceptors(WrappingInterceptor):
    """Several :class:`~mmmfed.rpc.WrappingInterceptor` as ONE server interceptor, the first
    outermost: grpc.aio awaits every interceptor of a server on every call, so three of them cost
    three coroutine hops and cache look-ups per call where this costs one; the handler each
    method gets is the same."""

    def __init__(self, interceptors: Sequence[WrappingInterceptor]) -> None:
        super().__init__()
        self._chain = list(interceptors)

    def wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        for interceptor in reversed(self._chain):
            handler = interceptor.wrap(method, handler)
        return handler

    def unhandled(self, method: str) -> None:
        for interceptor in self._chain:
            interceptor.unhandled(method)


class NodeServer:
    """One gRPC server on ``listen`` ("host:port"; port 0 picks a free one).

    Args:
        registrars: functions adding servicers (``add_XServicer_to_server`` partials).
        service_names: full names of those services, for health and reflection.
        policy: which peers may call which service (health and reflection: any certificate of a
            trust domain the node holds); its trust domains give the server's TLS roots.
        metrics: the node's metrics (its own registry); a new one if None.
        metrics_listen: "host:port" of the node's /metrics endpoint (``observability.metrics_listen``;
            port 0 picks a free one, then read :attr:`metrics_port`); None: no endpoint.
        maximum_concurrent_rpcs: calls served at once; gRPC answers RESOURCE_EXHAUSTED beyond it
            (issue 12 item 6; the node config's ``maximum_concurrent_rpcs``).
    """

    def __init__(
        self,
        *,
        listen: str,
        tls: TlsConfig,
        registrars: Sequence[Registrar],
        service_names: Sequence[str],
        policy: AccessPolicy,
        metrics: NodeMetrics | None = None,
        metrics_listen: str | None = None,
        maximum_concurrent_rpcs: int = DEFAULT_MAXIMUM_CONCURRENT_RPCS,
    ) -> None:
        self._listen = listen
        self._maximum_concurrent_rpcs = maximum_concurrent_rpcs
        self._tls = tls
        self._registrars = registrars
        self._service_names = list(service_names)
        self._policy = AccessPolicy(
            policy.domains,
            {**policy.by_service, health.SERVICE_NAME: anyone_known, reflection.SERVICE_NAME: anyone_known},
            policy.by_method,
        )
        self._server: grpc.aio.Server | None = None
        self._health = health.aio.HealthServicer()
        self.metrics = metrics if metrics is not None else NodeMetrics()
        self._metrics_listen = metrics_listen
        self._endpoint: MetricsEndpoint | None = None
        self.port = 0
        self.metrics_port = 0

    @property
    def address(self) -> str:
        host = self._listen.rpartition(":")[0]
        return f"{host}:{self.port}"

    async def start(self) -> str:
        """Serve /metrics (when configured), then bind and start serving gRPC; returns the bound
        gRPC "host:port". MmmfedError ``METRICS_LISTEN_FAILED`` if the metrics address cannot be
        bound, ``LISTEN_FAILED`` if the gRPC address cannot (in use: no SO_REUSEPORT, so another
        node never shares it); then nothing is left serving."""
        endpoint = None
        if self._metrics_listen is not None:
            endpoint = MetricsEndpoint(self.metrics, self._metrics_listen)
            try:
                self.metrics_port = await endpoint.start()
            except (OSError, ValueError) as err:
                raise MmmfedError(
                    f"cannot serve metrics on {self._metrics_listen}: {err}", reason="METRICS_LISTEN_FAILED"
                ) from err
        try:
            await self._start_grpc()
        except BaseException:
            if endpoint is not None:
                await endpoint.stop()
            raise
        self._endpoint = endpoint
        log.info("serving", extra={"address": self.address, "services": self._service_names})
        return self.address

    async def _start_grpc(self) -> None:
        # Outermost first: metrics see the status the guard gives; the guard sees write-style streams as generators.
        chain = [MetricsInterceptor(self.metrics), GuardInterceptor(self._policy), WriteStyleStreams()]
        server = grpc.aio.server(
            interceptors=[ChainedInterceptors(chain)],
            options=SERVER_OPTIONS,
            maximum_concurrent_rpcs=self._maximum_concurrent_rpcs,
        )
        for register in self._registrars:
            register(server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            [*self._service_names, health.SERVICE_NAME, reflection.SERVICE_NAME],
            server,
            pool=MethodAwarePool(descriptor_pool.Default()),  # type: ignore[arg-type]
        )
        try:
            self.port = server.add_secure_port(self._listen, server_credentials(self._tls, self._policy.domains))
        except RuntimeError as err:  # grpc: "Failed to bind to address ..."
            await server.stop(None)
            raise MmmfedError(
                f"cannot listen on {self._listen}: the address is in use (another node?) or not this host's; "
                "stop the other process or set another `listen` address",
                reason="LISTEN_FAILED",
                metadata={"listen": self._listen},
            ) from err
        await server.start()
        self._server = server
        for name in ["", *self._service_names]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace_s: float = 2.0) -> None:
        """Stop serving (idempotent): NOT_SERVING first, then a graceful stop (calls in flight get
        ``grace_s`` seconds), then the metrics endpoint, which answers scrapes until then."""
        server, self._server = self._server, None
        endpoint, self._endpoint = self._endpoint, None
        if server is not None:
            await self._health.enter_graceful_shutdown()
            await server.stop(grace_s)
        if endpoint is not None:
            await endpoint.stop()

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
