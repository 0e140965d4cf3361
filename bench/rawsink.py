"""Baseline servers of bench/migrate.py, each run as its own process: a sink that counts the
bytes of a client stream, or a bare pass-through relay to such a sink, over mutual TLS.

Run by the benchmark:  python bench/rawsink.py --tls TLS.json --listen 127.0.0.1:PORT
                       [--relay-to 127.0.0.1:PORT --relay-name TLSNAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import AsyncIterable
from pathlib import Path

import grpc

from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.tls import CHANNEL_OPTIONS, secure_channel, server_credentials

SERVICE, COUNT = "mmmfed.bench.RawSink", "Count"


async def _count(requests: AsyncIterable[bytes], context: grpc.aio.ServicerContext) -> bytes:
    n = 0
    async for chunk in requests:
        n += len(chunk)
    return str(n).encode()


async def serve(tls: TlsConfig, listen: str, relay_to: PeerAddress | None) -> None:
    """Serve ``/mmmfed.bench.RawSink/Count`` (bytes in, byte count out) until SIGTERM."""
    behaviour = _count
    if relay_to is not None:
        upstream = secure_channel(tls, relay_to).stream_unary(f"/{SERVICE}/{COUNT}")

        async def relay(requests: AsyncIterable[bytes], context: grpc.aio.ServicerContext) -> bytes:
            return await upstream(requests)

        behaviour = relay
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    handler = grpc.stream_unary_rpc_method_handler(behaviour)  # identity (de)serializers: bytes
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {COUNT: handler}),))
    server.add_secure_port(listen, server_credentials(tls))
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await stop.wait()
    await server.stop(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", type=Path, required=True, help="TlsConfig as JSON")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--relay-to")
    parser.add_argument("--relay-name")
    args = parser.parse_args()
    tls = TlsConfig.model_validate_json(args.tls.read_text())
    relay = PeerAddress(tls_name=args.relay_name, address=args.relay_to) if args.relay_to else None
    asyncio.run(serve(tls, args.listen, relay))


if __name__ == "__main__":
    main()
