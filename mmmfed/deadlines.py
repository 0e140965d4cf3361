"""A deadline on every outgoing call (issue 12 item 6): a peer that never answers cannot hold a
call, and what it holds on our side, for ever.

Every channel :func:`mmmfed.tls.secure_channel` makes carries :func:`default_deadlines`: client
interceptors that give a call made without ``timeout=`` a deadline of :data:`DEFAULT_DEADLINE_S`
(unary calls) or :data:`DEFAULT_STREAM_DEADLINE_S` (calls that stream Item data, conversions, and
the unary calls in :data:`LONG_UNARY` that wait on a migration). A caller's own ``timeout=``
is kept, shorter or longer. A call past its deadline ends ``DEADLINE_EXCEEDED`` (never retried:
see :data:`mmmfed.rpc.RETRYABLE_CODES`).

Interceptors rather than a ``grpc.service_config`` methodConfig: grpc.aio 1.85 ends calls under a
service-config timeout about two seconds early (a 3 s timeout ended after 1.05 s), while an
explicit per-call timeout is exact.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any

import grpc

DEFAULT_DEADLINE_S = 30.0
DEFAULT_STREAM_DEADLINE_S = 600.0
# Unary calls whose answer waits on an export, a conversion and a transfer.
LONG_UNARY = frozenset({"/mmmfed.api.v1.PlatformGateway/MigrateAvatar"})


def _method_name(method: str | bytes) -> str:
    return method.decode() if isinstance(method, bytes) else method


class _DefaultDeadline:
    def __init__(self, deadline_s: float, stream_deadline_s: float, *, streaming: bool) -> None:
        self._deadline_s = deadline_s
        self._stream_deadline_s = stream_deadline_s
        self._streaming = streaming

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        if details.timeout is not None:
            return details
        long = self._streaming or _method_name(details.method) in LONG_UNARY
        timeout = self._stream_deadline_s if long else self._deadline_s
        return grpc.aio.ClientCallDetails(
            details.method, timeout, details.metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(_DefaultDeadline, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _UnaryStream(_DefaultDeadline, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self._details(client_call_details), request)


class _StreamUnary(_DefaultDeadline, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _StreamStream(_DefaultDeadline, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request_iterator: AsyncIterable[Any] | Iterable[Any],
    ) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def default_deadlines(
    *, deadline_s: float | None = None, stream_deadline_s: float | None = None
) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors giving every call made without ``timeout=`` a deadline (seconds):
    ``deadline_s`` for unary calls, ``stream_deadline_s`` for streaming calls and LONG_UNARY
    (None: :data:`DEFAULT_DEADLINE_S` / :data:`DEFAULT_STREAM_DEADLINE_S` as they are now)."""
    if deadline_s is None:
        deadline_s = DEFAULT_DEADLINE_S
    if stream_deadline_s is None:
        stream_deadline_s = DEFAULT_STREAM_DEADLINE_S
    return [
        _UnaryUnary(deadline_s, stream_deadline_s, streaming=False),
        _UnaryStream(deadline_s, stream_deadline_s, streaming=True),
        _StreamUnary(deadline_s, stream_deadline_s, streaming=True),
        _StreamStream(deadline_s, stream_deadline_s, streaming=True),
    ]
