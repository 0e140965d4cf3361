"""Type names for grpc.aio's server side, which the grpc stubs type for the sync server only.

grpc.aio calls a method handler's behaviours with a ``grpc.aio.ServicerContext`` and awaits (one
response) or iterates (streamed responses) what they return; the stubs' ``RpcMethodHandler`` says
they take a sync ``grpc.ServicerContext`` and return plain values. Interceptors read a handler's
behaviour through :func:`aio_unary` and :func:`aio_stream`, which state the aio shapes once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias, cast

import grpc

#: The context of any call, for code that reads only its peer, auth context or metadata, or aborts:
#: none reads or writes messages through it, so its request and response types stay open.
ServicerContext: TypeAlias = grpc.aio.ServicerContext[Any, Any]
#: A method handler of any method: interceptors see every service's messages.
MethodHandler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"  # a string: not subscriptable at run time
#: A unary-unary or stream-unary behaviour as grpc.aio calls it (request or request stream, context).
UnaryBehaviour: TypeAlias = Callable[[Any, ServicerContext], Awaitable[Any]]
#: A unary-stream or stream-stream behaviour as grpc.aio calls it: an async iterator of responses.
StreamBehaviour: TypeAlias = Callable[[Any, ServicerContext], AsyncIterator[Any]]


def aio_unary(handler: MethodHandler) -> UnaryBehaviour:
    """The behaviour of ``handler`` (one response message: unary-unary or stream-unary), as grpc.aio calls it."""
    return cast(UnaryBehaviour, handler.unary_unary or handler.stream_unary)


def aio_stream(handler: MethodHandler) -> StreamBehaviour:
    """The behaviour of ``handler`` (streamed responses: unary-stream or stream-stream), as grpc.aio calls it."""
    return cast(StreamBehaviour, handler.unary_stream or handler.stream_stream)
