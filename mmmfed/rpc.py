"""The one place where domain errors meet gRPC.

Server side: :class:`GuardInterceptor` checks the peer's access (mTLS identity) before any
handler runs, and maps :class:`~mmmfed.errors.MmmfedError` to a gRPC status with a
``google.rpc.ErrorInfo`` detail. Client side: :func:`decode_rpc_error` turns an ``AioRpcError``
back into a :class:`~mmmfed.errors.RemoteError` keeping the peer's code and reason.

Retries: clients retry only ``UNAVAILABLE`` (see :data:`RETRYABLE_CODES`) with exponential
backoff; every other code is final, because the request itself was refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from mmmfed.errors import ERROR_DOMAIN, MmmfedError, RemoteError
from mmmfed.rpc_types import MethodHandler, ServicerContext, aio_stream, aio_unary
from mmmfed.tls import AccessPolicy

log = logging.getLogger(__name__)

# How long a refused client stream is read on before the refusal is sent (see drain()).
DRAIN_TIMEOUT_S = 0.5
RETRYABLE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})
_STATUS_KEY = "grpc-status-details-bin"
T = TypeVar("T")


def _status_metadata(err: MmmfedError) -> tuple[tuple[str, bytes], ...]:
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=ERROR_DOMAIN, metadata=err.metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=err.code.value[0], message=err.message, details=[detail])
    return ((_STATUS_KEY, status.SerializeToString()),)


async def abort_with(context: ServicerContext, err: MmmfedError) -> None:
    """Abort the RPC with ``err``'s status code, message and ErrorInfo (never returns)."""
    await context.abort(err.code, f"{err.reason}: {err.message}", trailing_metadata=_status_metadata(err))


class TrackedRequests:
    """A request stream that knows whether a reader is waiting on it (one reader at a time)."""

    def __init__(self, requests: AsyncIterator[Any]) -> None:
        self._requests = requests
        self.reading = False

    def __aiter__(self) -> TrackedRequests:
        return self

    async def __anext__(self) -> Any:
        self.reading = True
        try:
            return await anext(self._requests)
        finally:
            self.reading = False


async def drain(requests: TrackedRequests, *, timeout_s: float = DRAIN_TIMEOUT_S) -> None:
    """Read and drop what a client still sends before the server answers with an error.

    A grpc.aio client whose stream is ended by the server while it is still sending may see
    INTERNAL ("Internal error from Core") instead of the real status (grpc/grpc#36066). Reading
    the rest of the stream, for at most ``timeout_s``, lets the refusal and its reason through.
    Nothing is read while another reader (e.g. a relay forwarding the stream) is waiting on it.
    """
    if requests.reading:
        return

    async def consume() -> None:
        async for _ in requests:
            pass

    try:
        await asyncio.wait_for(consume(), timeout_s)
    except (TimeoutError, grpc.RpcError) as err:
        log.debug("stopped draining a refused stream", extra={"cause": type(err).__name__})


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that wraps each method's handler in behaviour of its own
    (:meth:`wrap`), once per method rather than once per call: grpc.aio asks the interceptors for
    a handler on every call, and building closures and a handler each time cost a few
    microseconds per interceptor per call. A wrapped handler is reused while the inner handler
    is the same object (registered servicers' handlers are); at most :data:`MAX_WRAPPED` methods
    are kept, so arbitrary method names cannot grow the table."""

    MAX_WRAPPED = 1024

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[MethodHandler, MethodHandler]] = {}

    def wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        """The handler serving ``method`` (``/package.Service/Method``) around ``handler``."""
        raise NotImplementedError

    def unhandled(self, method: str) -> None:
        """Called for a call no handler serves (the server answers UNIMPLEMENTED)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[MethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> MethodHandler | None:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None:
            self.unhandled(method)
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self.wrap(method, handler)
        if len(self._wrapped) < self.MAX_WRAPPED or method in self._wrapped:
            self._wrapped[method] = (handler, wrapped)
        return wrapped


class GuardInterceptor(WrappingInterceptor):
    """Authorize every call by its peer's certificate, then map domain errors to statuses."""

    def __init__(self, policy: AccessPolicy) -> None:
        super().__init__()
        self._policy = policy

    def wrap(self, method: str, handler: MethodHandler) -> MethodHandler:
        policy = self._policy

        if handler.response_streaming:
            inner_stream = aio_stream(handler)

            async def stream_behaviour(request: Any, context: ServicerContext) -> AsyncIterator[Any]:
                if handler.request_streaming:
                    request = TrackedRequests(request)
                try:
                    policy.check(method, context)
                    async for response in inner_stream(request, context):
                        yield response
                except MmmfedError as err:
                    log.info("refused", extra={"method": method, "reason": err.reason})
                    if handler.request_streaming:
                        await drain(request)
                    await abort_with(context, err)

            factory = (
                grpc.unary_stream_rpc_method_handler if handler.unary_stream else grpc.stream_stream_rpc_method_handler
            )
            return factory(
                stream_behaviour,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )

        inner_unary = aio_unary(handler)

        async def unary_behaviour(request: Any, context: ServicerContext) -> Any:
            if handler.request_streaming:
                request = TrackedRequests(request)
            try:
                policy.check(method, context)
                return await inner_unary(request, context)
            except MmmfedError as err:
                log.info("refused", extra={"method": method, "reason": err.reason})
                if handler.request_streaming:
                    await drain(request)
                await abort_with(context, err)

        factory = grpc.unary_unary_rpc_method_handler if handler.unary_unary else grpc.stream_unary_rpc_method_handler
        return factory(
            unary_behaviour,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


def error_info(err: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` detail of a failed call, if the server sent one."""
    for key, value in err.trailing_metadata() or ():
        if key == _STATUS_KEY:
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info
    return None


# What grpc's C core says when a TLS handshake fails, and what it means for the client.
_TLS_FAILURES: tuple[tuple[str, str, str], ...] = (
    (
        "certificate has expired",
        "TLS_SERVER_CERT_EXPIRED",
        "this client refused the server's certificate: it has expired; the server's operator renews it "
        "(`mmmfed certs renew`)",
    ),
    (
        "Hostname Verification Check failed",
        "TLS_SERVER_NAME_MISMATCH",
        "this client refused the server's certificate: it is not for the TLS name this client expects; check the "
        "address and tls_name in the configuration",
    ),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "TLS_SERVER_CERT_UNTRUSTED",
        "this client refused the server's certificate: no CA of the bundle this client trusts for that node issued "
        "it; check the node's bundle (`peers.<id>.bundle`, or the own ca.pem) with `mmmfed certs show`",
    ),
    (
        "Socket closed",
        "TLS_CLIENT_CERT_REFUSED",
        "the server closed the connection during the TLS handshake: it refused this client's certificate (issued "
        "by a CA it holds no bundle of, expired, or missing); use a certificate of the server's own trust domain, "
        "or of a peer it was configured with",
    ),
)


def explain_unavailable(details: str) -> tuple[str, str] | None:
    """(reason, message) for an UNAVAILABLE call whose ``details`` show a failed TLS handshake,
    saying which side refused whose certificate and why; None for anything else."""
    if "failed to connect" not in details:  # a call cut off later is not a refused handshake
        return None
    for needle, reason, message in _TLS_FAILURES:
        if needle in details:
            return reason, f"{message} ({details[-160:]})"
    return None


def decode_rpc_error(err: grpc.aio.AioRpcError) -> RemoteError:
    """Map a failed call back to a domain error, keeping the peer's code, reason and message. A
    failed TLS handshake (UNAVAILABLE with no ErrorInfo) gets a ``TLS_*`` reason that says which
    side refused whose certificate (:func:`explain_unavailable`)."""
    info = error_info(err)
    reason = info.reason if info else err.code().name
    details = err.details() or ""
    message = details.removeprefix(f"{reason}: ")
    if info is None and err.code() == grpc.StatusCode.UNAVAILABLE:
        explained = explain_unavailable(details)
        if explained is not None:
            reason, message = explained
    return RemoteError(message, code=err.code(), reason=reason, metadata=dict(info.metadata) if info else None)


async def call(coro_factory: Callable[[], Awaitable[T]], *, attempts: int = 4, base_delay_s: float = 0.1) -> T:
    """Await ``coro_factory()``; on ``AioRpcError`` raise :class:`RemoteError` (``from`` it).

    Retries only :data:`RETRYABLE_CODES`, with exponential backoff from ``base_delay_s``;
    pass ``attempts=1`` for calls that must not be repeated (streams already consumed).
    """
    for attempt in range(attempts):
        try:
            return await coro_factory()
        except grpc.aio.AioRpcError as err:
            if err.code() in RETRYABLE_CODES and attempt + 1 < attempts:
                await asyncio.sleep(base_delay_s * 2**attempt)
                continue
            raise decode_rpc_error(err) from err
    raise AssertionError("unreachable")
