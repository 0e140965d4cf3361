"""A bare pass-through gRPC proxy for bench/resolve.py: every unary call, whatever its method, is
forwarded as bytes to one upstream over mutual TLS and its answer (or status) returned. No
decoding, no checks: the least a Python hop can do, the baseline a verifying gateway is held to.

Run by the benchmark:  python bench/relay.py --tls TLS.json --listen 127.0.0.1:PORT
                       --relay-to 127.0.0.1:PORT --relay-name TLSNAME
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

import grpc

if not __package__:  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.hop_trust import hop_trust
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.event_loop import run_event_loop
from mmmfed.rpc_types import MethodHandler, ServicerContext
from mmmfed.tls import CHANNEL_OPTIONS, secure_channel, server_credentials


class _Forward(grpc.GenericRpcHandler):
    """Answers any unary method by calling the same method upstream with the same bytes."""

    def __init__(self, upstream: grpc.aio.Channel) -> None:
        self._upstream = upstream
        self._handlers: dict[str, MethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> MethodHandler:
        """The forwarding handler of the method, made once per method (as the gateway makes its
        stubs and wrapped handlers once), so the baseline pays nothing a proxy need not."""
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is None:
            handler = self._handlers[method] = self._forwarding(method)
        return handler

    def _forwarding(self, method: str) -> MethodHandler:
        # identity (de)serializers: bytes
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self._upstream.unary_unary(method)

        async def forward(request: bytes, context: ServicerContext) -> bytes:
            try:
                return await call(request)
            except grpc.aio.AioRpcError as err:
                await context.abort(err.code(), err.details() or "")
                raise  # unreachable: abort raises

        return grpc.unary_unary_rpc_method_handler(forward)


async def serve(tls: TlsConfig, listen: str, upstream: PeerAddress) -> None:
    """Forward every unary call to ``upstream`` until SIGTERM."""
    channel = secure_channel(tls, upstream)
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    server.add_generic_rpc_handlers((_Forward(channel),))
    server.add_secure_port(listen, server_credentials(tls, hop_trust(tls)))
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await stop.wait()
    await server.stop(1.0)
    await channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", type=Path, required=True, help="TlsConfig as JSON")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--relay-to", required=True)
    parser.add_argument("--relay-name", required=True)
    args = parser.parse_args()
    tls = TlsConfig.model_validate_json(args.tls.read_text())
    run_event_loop(serve(tls, args.listen, PeerAddress(tls_name=args.relay_name, address=args.relay_to)))


if __name__ == "__main__":
    main()
