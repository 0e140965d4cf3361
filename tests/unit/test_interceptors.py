"""WrappingInterceptor (mmmfed/rpc.py): each method's handler is wrapped once, not once per call,
and wrapped again when the handler under it changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import grpc

from mmmfed.rpc import WrappingInterceptor


@dataclass(frozen=True)
class Details:
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


class Counting(WrappingInterceptor):
    def __init__(self) -> None:
        super().__init__()
        self.wrapped: list[str] = []
        self.unhandled_methods: list[str] = []

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        self.wrapped.append(method)
        return grpc.unary_unary_rpc_method_handler(handler.unary_unary)

    def unhandled(self, method: str) -> None:
        self.unhandled_methods.append(method)


def _handler() -> grpc.RpcMethodHandler:
    async def echo(request: Any, context: Any) -> Any:
        return request

    return grpc.unary_unary_rpc_method_handler(echo)


async def test_a_method_is_wrapped_once_while_its_handler_stays_the_same() -> None:
    interceptor = Counting()
    handlers = {"/s.S/A": _handler(), "/s.S/B": _handler()}

    async def continuation(details: Details) -> grpc.RpcMethodHandler | None:
        return handlers.get(details.method)

    first = await interceptor.intercept_service(continuation, Details("/s.S/A"))
    again = await interceptor.intercept_service(continuation, Details("/s.S/A"))
    other = await interceptor.intercept_service(continuation, Details("/s.S/B"))
    assert first is again and other is not first
    assert interceptor.wrapped == ["/s.S/A", "/s.S/B"]

    handlers["/s.S/A"] = _handler()  # a servicer registered anew: its handler is wrapped anew
    replaced = await interceptor.intercept_service(continuation, Details("/s.S/A"))
    assert replaced is not first and interceptor.wrapped == ["/s.S/A", "/s.S/B", "/s.S/A"]
    assert replaced.unary_unary is not None and await replaced.unary_unary("x", None) == "x"


async def test_unserved_methods_are_reported_and_never_kept() -> None:
    interceptor = Counting()
    interceptor.MAX_WRAPPED = 2

    async def continuation(details: Details) -> grpc.RpcMethodHandler | None:
        return None if details.method.endswith("Missing") else _handler()

    assert await interceptor.intercept_service(continuation, Details("/s.S/Missing")) is None
    assert interceptor.unhandled_methods == ["/s.S/Missing"] and interceptor.wrapped == []
    for name in ("A", "B", "C", "C"):
        await interceptor.intercept_service(continuation, Details(f"/s.S/{name}"))
    assert len(interceptor._wrapped) == 2  # the table stops growing at MAX_WRAPPED
    assert interceptor.wrapped == ["/s.S/A", "/s.S/B", "/s.S/C", "/s.S/C"]  # C, beyond it, wraps per call
