"""Baseline servers of bench/migrate.py, each run as its own process: a sink that counts the
bytes of a client stream, a sink that also hashes, writes and fsyncs them (what an importing
instance must do at least), or a bare pass-through relay to a sink, over mutual TLS.

Run by the benchmark:  python bench/rawsink.py --tls TLS.json --listen 127.0.0.1:PORT
                       [--relay-to 127.0.0.1:PORT --relay-name TLSNAME] [--store-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import grpc

if not __package__:  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.hop_trust import hop_trust
from mmmfed.config import PeerAddress, TlsConfig
from mmmfed.rpc_types import ServicerContext
from mmmfed.tls import CHANNEL_OPTIONS, secure_channel, server_credentials

SERVICE, COUNT = "mmmfed.bench.RawSink", "Count"


async def _count(requests: AsyncIterable[bytes], context: ServicerContext) -> bytes:
    n = 0
    async for chunk in requests:
        n += len(chunk)
    return str(n).encode()


def _durable_sink(directory: Path) -> Callable[..., Awaitable[bytes]]:
    """A sink that does what any importing instance must: hash the bytes (sha-256), write
    them to a file and fsync it (then removes the file)."""

    async def store(requests: AsyncIterable[bytes], context: ServicerContext) -> bytes:
        path = directory / f"{uuid.uuid4().hex}.part"
        digest, n = hashlib.sha256(), 0
        fh = await asyncio.to_thread(open, path, "wb")
        try:
            async for chunk in requests:
                n += len(chunk)
                await asyncio.to_thread(_hash_write, digest, fh, chunk)
            await asyncio.to_thread(fh.flush)
            await asyncio.to_thread(os.fsync, fh.fileno())
        finally:
            fh.close()
            path.unlink()
        return str(n).encode()

    return store


def _hash_write(digest: Any, fh: BinaryIO, chunk: bytes) -> None:
    digest.update(chunk)
    fh.write(chunk)


async def serve(tls: TlsConfig, listen: str, relay_to: PeerAddress | None, store_dir: Path | None) -> None:
    """Serve ``/mmmfed.bench.RawSink/Count`` (bytes in, byte count out) until SIGTERM."""
    behaviour: Callable[..., Awaitable[bytes]] = _count if store_dir is None else _durable_sink(store_dir)
    if relay_to is not None:
        upstream: grpc.aio.StreamUnaryMultiCallable[bytes, bytes] = secure_channel(tls, relay_to).stream_unary(
            f"/{SERVICE}/{COUNT}"
        )

        async def relay(requests: AsyncIterator[bytes], context: ServicerContext) -> bytes:
            return await upstream(requests)

        behaviour = relay
    server = grpc.aio.server(options=CHANNEL_OPTIONS)
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.stream_unary_rpc_method_handler(behaviour)  # identity: bytes
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {COUNT: handler}),))
    server.add_secure_port(listen, server_credentials(tls, hop_trust(tls)))
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
    parser.add_argument("--store-dir", type=Path, help="hash, write and fsync what arrives here")
    args = parser.parse_args()
    tls = TlsConfig.model_validate_json(args.tls.read_text())
    relay = PeerAddress(tls_name=args.relay_name, address=args.relay_to) if args.relay_to else None
    asyncio.run(serve(tls, args.listen, relay, args.store_dir))


if __name__ == "__main__":
    main()
